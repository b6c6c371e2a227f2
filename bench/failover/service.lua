-- bench/failover/service.lua NAME [SWITCHES WARMUP GAP]: the service of
-- the failover benchmark (bench/failover/run.sh). Names an Svc NAME and
-- prints "ready TAG T" (T: stage.now(), the machine's monotonic clock,
-- which every process on it shares). With SWITCHES, after WARMUP seconds
-- it stops the named actor and names a new one (the same name, on this
-- node) SWITCHES times, GAP seconds apart, printing "switch OLD NEW T"
-- with the time of the stop.
local stage = require "stage"

local Svc = stage.actor "Svc"
function Svc:birth(tag) self.tag = tag end
function Svc:who() return self.tag end

-- A tag no other run of this script shares: a restarted node's actors
-- differ from its earlier run's.
local run = string.format("%x", math.floor(stage.now() * 1e6) % 0x7fffffff)

local function serve(name, gen)
  local tag = run .. "-" .. gen
  local svc = Svc(tag)
  assert(stage.name(name, svc):await())
  return svc, tag
end

function main(args)
  local name = args[1]
  local switches = tonumber(args[2] or "0")
  local warmup, gap = tonumber(args[3] or "3"), tonumber(args[4] or "2")
  local svc, tag = serve(name, 0)
  print(string.format("ready %s %.6f", tag, stage.now()))
  if switches == 0 then return end
  stage.sleep(warmup):await()
  for i = 1, switches do
    local t = stage.now()
    stage.stop(svc):await()
    -- the name goes with the actor: a message after the stop comes back
    -- once it has, and then the name is free to take
    assert(not pcall(function() return svc:who():await(5) end))
    local old = tag
    svc, tag = serve(name, i)
    print(string.format("switch %s %s %.6f", old, tag, t))
    stage.sleep(gap):await()
  end
  print("switches done")
end
