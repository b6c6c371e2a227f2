-- A program of cluster.code whose top level raises where it is loaded from
-- the sources store (there _ENV is the loaded code's own, not the node's
-- globals): the spawn_at fails with ScriptError, naming the line.
--   ADDR   spawn_at a Raiser there: prints "raise: false <error>"
local stage = require "stage"

local Raiser = stage.actor "Raiser"
function Raiser:hi() return "hi" end
if _ENV ~= _G then error("Raiser refuses to be loaded from the store") end

function main(args)
  local ok, err = pcall(function() return Raiser:spawn_at(args[1]):hi():await() end)
  print("raise: " .. tostring(ok) .. " " .. tostring(err))
  stage.exit(0)
end
