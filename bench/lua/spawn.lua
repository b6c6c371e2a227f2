-- bench/lua/spawn.lua: spawn cost. main spawns N actors (default
-- 1,000,000) in its theatre; each one's birth sends done() to a collector
-- and stops the actor. The time runs until the collector has every done(),
-- so a spawn here is: create, run birth, send one message (one way,
-- stage.send, like Erlang's !), stop.
-- Prints ns per spawned actor (lower is better).
local stage = require "stage"

local function report(bench, value, unit, better)
  print(string.format('{"bench":"%s","impl":"lua","value":%.1f,'
    .. '"unit":"%s","better":"%s"}', bench, value, unit, better))
end

local Worker = stage.actor "Worker"
local Collector = stage.actor "Collector"

function Collector:birth(n, t0)
  self.n, self.left, self.t0 = n, n, t0
end

function Collector:done()
  self.left = self.left - 1
  if self.left == 0 then
    local secs = stage.now() - self.t0
    report("spawn", secs * 1e9 / self.n, "ns/actor", "lower")
  end
end

function Worker:birth(collector)
  stage.send(collector, "done")
  stage.stop()
end

function main(args)
  local n = math.tointeger(tonumber(args[1])) or 1000000
  local t0 = stage.now()
  local collector = Collector(n, t0)
  for _ = 1, n do
    Worker(collector)
  end
end
