-- The service of cluster.failover: an Svc named NAME (args[1]), answering
-- who() with a tag of its own (this run, the generation), and a Control
-- named NAME_control. Once CALLERS (args[2]) callers have said ready() to
-- the Control, it stops the named Svc and names a new one (on this node)
-- SWITCHES (args[3]) times, 0.5 s apart. Prints "ready TAG" and "switched
-- to TAG".
local stage = require "stage"

local Svc = stage.actor "Svc"
function Svc:birth(tag) self.tag = tag end
function Svc:who() return self.tag end

local run = string.format("%x", math.floor(stage.now() * 1e6) % 0x7fffffff)

local Control = stage.actor "Control"
function Control:birth(name, want, switches)
  self.name, self.want, self.switches, self.n = name, want, switches, 0
end

-- A new Svc of generation gen under the name.
function Control:serve(gen)
  self.tag = run .. "-" .. gen
  self.svc = Svc(self.tag)
  assert(stage.name(self.name, self.svc):await())
  return self.tag
end

function Control:ready()
  self.n = self.n + 1
  if self.n == self.want then stage.send(stage.self(), "switch_all") end
end

function Control:switch_all()
  for i = 1, self.switches do
    stage.sleep(0.5):await()
    -- the old actor goes, and its name with it, before the new one takes
    -- the name: a message after the stop comes back once it has
    assert(stage.stop(self.svc):await())
    assert(not pcall(function() return self.svc:who():await(5) end))
    print("switched to " .. self:serve(i))
  end
end

function main(args)
  local control = Control(args[1], tonumber(args[2]), tonumber(args[3]))
  local tag = control:serve(0):await()
  assert(stage.name(args[1] .. "_control", control):await())
  print("ready " .. tag)
end
