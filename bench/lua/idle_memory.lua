-- bench/lua/idle_memory.lua: memory per idle actor. main spawns N actors
-- (default 1,000,000) that do nothing, waits until the last has been
-- born, and divides the growth of the process's resident set (RSS, from
-- /proc/self/statm, 4 KiB pages) by N. References are not kept. A full
-- Lua collection runs before each reading.
-- Prints bytes per idle actor (lower is better).
local stage = require "stage"

local PAGE = 4096

local function report(bench, value, unit, better)
  print(string.format('{"bench":"%s","impl":"lua","value":%.1f,'
    .. '"unit":"%s","better":"%s"}', bench, value, unit, better))
end

local function rss()
  local f = assert(io.open("/proc/self/statm"))
  local line = f:read("l")
  f:close()
  local resident = line:match("^%d+%s+(%d+)")
  return math.tointeger(tonumber(resident)) * PAGE
end

local Idle = stage.actor "Idle"

function Idle:ping()
  return true
end

function main(args)
  local n = math.tointeger(tonumber(args[1])) or 1000000
  collectgarbage("collect")
  local before = rss()
  local last
  for _ = 1, n do
    last = Idle()
  end
  last:ping():await()
  last = nil
  collectgarbage("collect")
  report("idle_memory", (rss() - before) / n, "bytes/actor", "lower")
end
