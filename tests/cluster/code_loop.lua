-- A program of cluster.code whose top level never ends where it is loaded
-- from the sources store: the load fails past the handler budget, and the
-- node serves on.
--   ADDR   spawn_at a Looper: prints "loop: false <error>"
local stage = require "stage"

local Looper = stage.actor "Looper"
function Looper:hi() return "hi" end
if _ENV ~= _G then while true do end end

function main(args)
  local ok, err = pcall(function()
    return Looper:spawn_at(args[1]):hi():await()
  end)
  print("loop: " .. tostring(ok) .. " " .. tostring(err))
  stage.exit(0)
end
