-- A message to an actor that never existed on this node fails with
-- ActorNotFound, naming the id it was sent to and the method.
local stage = require "stage"

local T = stage.actor "T"
function T:echo(x) return x end

function main(args)
  local real = T:spawn_at(stage.theatres() - 1)
  local ghost = tostring(real):gsub("%d+$", "99999")
  local ok, err = pcall(function() return stage.ref(ghost):echo(1):await() end)
  assert(not ok and err.type == "ActorNotFound", tostring(err))
  assert(tostring(err):find(ghost, 1, true),
         "'" .. tostring(err) .. "' does not name " .. ghost)
  assert(tostring(err):find("echo", 1, true))
  assert(real:echo(2):await() == 2)
  print("ok")
end
