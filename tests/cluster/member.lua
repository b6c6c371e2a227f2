-- One of the eight nodes of cluster.eight: names a Member args[1] and
-- spawns a Worker; one node (args[2] == "special") also has a Special.
local stage = require "stage"

local Member = stage.actor "Member"
function Member:birth(name) self.name = name end
function Member:who() return self.name end

local Worker = stage.actor "Worker"
function Worker:node() return stage.theatre() >= 0 end

local Special = stage.actor("Special", {is = Worker})

function main(args)
  assert(stage.name(args[1], Member(args[1])):await())
  Worker()
  if args[2] == "special" then Special() end
  print("ready " .. args[1])
end
