-- Joins, names an actor, finds it by name through the ring and leaves
-- (SIGTERM-like stage.exit): run one after another against one seed.
local stage = require "stage"
local Echo = stage.actor "Echo"
function Echo:ping(x) return x end
function main(args)
  assert(stage.name(args[1], Echo()):await() == true)
  assert(stage.find_name(args[1]):ping(7):await() == 7)
  print("ok " .. args[1])
  stage.exit(0)
end
