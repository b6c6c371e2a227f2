-- A node with nothing to run: prints "joined" once it is a member of the
-- ring, so a test can start the next node on a ring that has settled.
function main() print("joined") end
