-- count_types.lua TYPE N: waits (at most 20 s) until the directory lists
-- N actors of TYPE, then exits 0 (1 if it never does). A type's actor is
-- registered in the DHT a little after its node says it is ready: a test
-- that needs every one of them found waits for this first.
local stage = require "stage"

function main(args)
  local want, deadline = tonumber(args[2]), stage.now() + 20
  repeat
    if #stage.find_all_types(args[1]):await(5) >= want then
      print("counted " .. want .. " " .. args[1])
      stage.exit(0)
      return
    end
    stage.sleep(0.05):await()
  until stage.now() > deadline
  print("never " .. want .. " " .. args[1])
  stage.exit(1)
end
