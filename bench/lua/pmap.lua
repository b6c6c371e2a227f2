-- bench/lua/pmap.lua: a parallel map as a user writes it, without placing
-- anything: main spawns N workers (default 1,000) with Worker(), sends each
-- a chunk of CPU work (the Collatz step counts of 500 consecutive numbers,
-- summed) and gathers the N results by awaiting their futures. The
-- runtime's spawn placement (docs/architecture.md, "Placement") decides
-- where each worker runs. The total is checked against the same sum done
-- in one loop after the clock stops.
-- Prints the time in milliseconds (lower is better).
local stage = require "stage"

local CHUNK = 500

local function report(bench, value, unit, better)
  print(string.format('{"bench":"%s","impl":"lua","value":%.1f,'
    .. '"unit":"%s","better":"%s"}', bench, value, unit, better))
end

-- The sum of the Collatz step counts of from .. to.
local function steps(from, to)
  local s = 0
  for i = from, to do
    local n, c = i, 0
    while n ~= 1 do
      if n % 2 == 0 then n = n // 2 else n = 3 * n + 1 end
      c = c + 1
    end
    s = s + c
  end
  return s
end

local Worker = stage.actor "Worker"

function Worker:work(from, to)
  stage.stop()
  return steps(from, to)
end

function main(args)
  local n = math.tointeger(tonumber(args[1])) or 1000
  local t0 = stage.now()
  local results = {}
  for i = 1, n do
    results[i] = Worker():work((i - 1) * CHUNK + 1, i * CHUNK)
  end
  local total = 0
  for i = 1, n do
    total = total + results[i]:await()
  end
  local ms = (stage.now() - t0) * 1e3
  local want = steps(1, n * CHUNK)
  if total ~= want then
    print(string.format("pmap: sum %d, want %d", total, want))
    stage.exit(1)
    return
  end
  report("pmap", ms, "ms", "lower")
end
