-- bench/lua/calls_auto.lua: pairs that talk, as a user writes them,
-- without placing anything: main spawns 8 callers and 8 callees with
-- Caller() and Callee(), and each caller calls its own callee N times
-- (default 5,000), awaiting every answer; the callee works 20 us of wall
-- time on each call (a busy wait, so that the work is the same in any
-- language and the benchmark measures where the work runs). A caller,
-- suspended in its await, cannot move; the runtime must move callees for
-- the work to use more than one core. The time runs until every caller
-- has its N answers. Prints calls per second (higher is better): 8 pairs
-- at 20 us a call make 50,000 a second on one core, twice that on two.
local stage = require "stage"

local PAIRS, WORK = 8, 20e-6

local function report(bench, value, unit, better)
  print(string.format('{"bench":"%s","impl":"lua","value":%.1f,'
    .. '"unit":"%s","better":"%s"}', bench, value, unit, better))
end

local Callee = stage.actor "Callee"

function Callee:call(i)
  local t = stage.now()
  while stage.now() - t < WORK do end
  return i
end

local Caller = stage.actor "Caller"

function Caller:run(callee, n)
  for i = 1, n do
    assert(callee:call(i):await() == i)
  end
  return n
end

function main(args)
  local n = math.tointeger(tonumber(args[1])) or 5000
  local t0 = stage.now()
  local runs = {}
  for i = 1, PAIRS do runs[i] = Caller():run(Callee(), n) end
  local calls = 0
  for _, k in ipairs(stage.join(runs):await()) do calls = calls + k end
  report("calls_auto", calls / (stage.now() - t0), "calls/s", "higher")
end
