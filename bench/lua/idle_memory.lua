-- bench/lua/idle_memory.lua: memory per idle actor. main spawns N actors
-- (default 1,000,000) that do nothing, waits until the last has been
-- born, and divides the growth of the process's resident set (RSS, from
-- /proc/self/statm, 4 KiB pages, read with --files /proc/self) by N.
-- References are not kept. A whole Lua collection cycle runs before each
-- reading.
-- Prints bytes per idle actor (lower is better).
local stage = require "stage"

local PAGE = 4096

local function report(bench, value, unit, better)
  print(string.format('{"bench":"%s","impl":"lua","value":%.1f,'
    .. '"unit":"%s","better":"%s"}', bench, value, unit, better))
end

-- The process's resident set, read through the file actor: the node runs
-- with --files /proc/self (actor code has no io).
local function rss()
  local statm = stage.files:read("statm"):await()
  local resident = statm:match("^%d+%s+(%d+)")
  return math.tointeger(tonumber(resident)) * PAGE
end

-- A whole cycle of the collector, in steps (no full collection for actor
-- code): what was garbage before is gone after (two: the first may only
-- end a cycle begun earlier).
local function collect()
  repeat until collectgarbage("step", 1024)
  repeat until collectgarbage("step", 1024)
end

local Idle = stage.actor "Idle"

function Idle:ping()
  return true
end

function main(args)
  local n = math.tointeger(tonumber(args[1])) or 1000000
  collect()
  local before = rss()
  local last
  for _ = 1, n do
    last = Idle()
  end
  last:ping():await()
  last = nil
  collect()
  report("idle_memory", (rss() - before) / n, "bytes/actor", "lower")
end
