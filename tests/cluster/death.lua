-- cluster.death's node script. "sink": names a Sink that prints the lines
-- it is sent. "dying": actors on both theatres whose deaths print and
-- tell the sink (another node) as the node stops on SIGTERM.
local stage = require "stage"

local Sink = stage.actor "Sink"
function Sink:line(s) print("sink got: " .. s) end
function Sink:death() print("sink death") end

local Mortal = stage.actor "Mortal"
function Mortal:birth(name, sink) self.name, self.sink = name, sink end
function Mortal:wait() stage.sleep(600):await() end -- suspended at the stop
function Mortal:death()
  print("death " .. self.name)
  stage.send(self.sink, "line", "death of " .. self.name)
end

function main(args)
  if args[1] == "sink" then
    assert(stage.name("sink", Sink()):await())
    print("ready sink")
    return
  end
  local sink, deadline = nil, stage.now() + 10
  repeat -- the sink's node may still be settling in the ring
    sink = stage.find_name("sink")
    local ok = pcall(function() return sink:line("hello"):await() end)
    if not ok then stage.sleep(0.1):await() end
  until ok or stage.now() > deadline
  Mortal("m0", sink)
  Mortal:spawn_at(1, "m1", sink):wait()
  print("ready dying")
end
