-- A program of cluster.code whose top level raises where it is loaded from
-- the sources store (there _ENV is the loaded code's own, not the node's
-- globals): the spawn_at fails with ScriptError, naming the line.
--   ADDR   spawn_at a Raiser there: prints "raise: false <error>"; then
--          move a Raiser of this node there: the move fails, and the
--          actor serves on here: prints "move: false <error>" and
--          "stays: hi at <this node>"
local stage = require "stage"

local Raiser = stage.actor "Raiser"
function Raiser:hi() return "hi" end
function Raiser:where() return (tostring(stage.self()):match("^(.-)~")) end
if _ENV ~= _G then error("Raiser refuses to be loaded from the store") end

function main(args)
  local ok, err = pcall(function() return Raiser:spawn_at(args[1]):hi():await() end)
  print("raise: " .. tostring(ok) .. " " .. tostring(err))
  local r = Raiser()
  r:hi():await()
  ok, err = pcall(function() return stage.migrate(r, args[1]):await() end)
  print("move: " .. tostring(ok) .. " " .. tostring(err))
  print("stays: " .. r:hi():await() .. " at " .. r:where():await())
  stage.exit(0)
end
