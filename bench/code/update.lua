-- bench/code/update.lua: the time from stage.update_type to every live
-- actor of the type on N nodes running the new code (issue 12,
-- "Measured"). update_type returns once every node has the new code in
-- every theatre; each run then checks that every actor answers with it.
--   ADDR... [-- K R]   spawn K actors (default 100) of Probe on each node
--                      ADDR (and K here), then update Probe's `version` R
--                      times (default 20). Prints one JSON result line.
local stage = require "stage"

local Probe = stage.actor "Probe"
function Probe:version() return 0 end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

function main(args)
  local nodes, k, runs = {}, 100, 20
  for i, a in ipairs(args) do
    if a == "--" then k, runs = tonumber(args[i + 1]), tonumber(args[i + 2]); break end
    nodes[#nodes + 1] = a
  end
  local probes = {}
  for _ = 1, k do probes[#probes + 1] = Probe() end
  for _, addr in ipairs(nodes) do
    for _ = 1, k do probes[#probes + 1] = Probe:spawn_at(addr) end
  end
  for _, p in ipairs(probes) do assert(p:version():await() == 0) end
  local ms = {}
  for r = 1, runs do
    local t0 = stage.now()
    assert(stage.update_type(Probe, {
      version = ("function() return %d end"):format(r),
    }):await())
    ms[r] = (stage.now() - t0) * 1e3
    for _, p in ipairs(probes) do
      local v = p:version():await()
      assert(v == r, ("an actor answered version %d after update %d"):format(v, r))
    end
  end
  print(string.format('{"bench":"update_type","impl":"lua","value":%.2f,'
    .. '"unit":"ms","better":"lower","nodes":%d,"actors":%d,"runs":%d,'
    .. '"max_ms":%.2f}', median(ms), #nodes + 1, #probes, runs,
    math.max(table.unpack(ms))))
  stage.exit(0)
end
