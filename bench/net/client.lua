-- bench/net/client.lua MODE ...: the measuring node of the benchmarks
-- between nodes (bench/net/run.sh). Prints one JSON line per figure.
--   rtt N         round trips to echo_1 (an Echo on another node), each
--                 awaited before the next: p50 and p99 in microseconds
--   flood M       M one-way messages to echo_1 (stage.send, Erlang's !),
--                 then one awaited count: messages per second
--   find PREFIXES COUNT   find_name of every PREFIX_i (i = 1..COUNT) for
--                 each prefix, each with one awaited ping: the latency of
--                 a lookup plus its first message, p50 and p99, and the
--                 number of lookups that failed (should be 0)
local stage = require "stage"

local function report(bench, value, unit, better)
  print(string.format('{"bench":"%s","impl":"stage","value":%.2f,'
    .. '"unit":"%s","better":"%s"}', bench, value, unit, better))
end

local function pct(sorted, p)
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

-- Waits (at most 10 s) until name answers: the node that names it may
-- still be starting.
local function settled(name)
  local deadline = stage.now() + 10
  while not pcall(function() return stage.find_name(name):ping(0):await(2) end) do
    assert(stage.now() < deadline, "'" .. name .. "' not found")
    stage.sleep(0.1):await()
  end
  return stage.find_name(name)
end

local function rtt(n)
  local echo = settled("echo_1")
  for i = 1, 2000 do echo:ping(i):await() end -- warm up
  local d = {}
  for i = 1, n do
    local t0 = stage.now()
    echo:ping(i):await()
    d[i] = stage.now() - t0
  end
  table.sort(d)
  report("remote_rtt_p50", pct(d, 0.5) * 1e6, "us", "lower")
  report("remote_rtt_p99", pct(d, 0.99) * 1e6, "us", "lower")
end

local function flood(m)
  local echo = settled("echo_1")
  local before = echo:count():await()
  local t0 = stage.now()
  for _ = 1, m do stage.send(echo, "one") end
  local got = echo:count():await() - before
  local secs = stage.now() - t0
  assert(got == m, "the receiver counted " .. got .. " of " .. m)
  report("remote_oneway", m / secs, "msgs/s", "higher")
end

local function find(prefixes, count)
  local names = {}
  for p in prefixes:gmatch("[^,]+") do
    for i = 1, count do names[#names + 1] = p .. "_" .. i end
  end
  settled(names[#names])
  local d, failed = {}, 0
  for i, name in ipairs(names) do
    local t0 = stage.now()
    if pcall(function() return stage.find_name(name):ping(i):await(5) end) then
      d[#d + 1] = stage.now() - t0
    else -- a failed lookup: counted, not timed
      failed = failed + 1
      print("# find_name: '" .. name .. "' not found")
    end
  end
  table.sort(d)
  report("find_name_p50", pct(d, 0.5) * 1e6, "us", "lower")
  report("find_name_p99", pct(d, 0.99) * 1e6, "us", "lower")
  report("find_name_failed", failed, "lookups", "lower")
end

function main(args)
  if args[1] == "rtt" then
    rtt(tonumber(args[2] or 20000))
  elseif args[1] == "flood" then
    flood(tonumber(args[2] or 1000000))
  elseif args[1] == "find" then
    find(args[2], tonumber(args[3] or 25))
  else
    error("usage: client.lua rtt N | flood M | find PREFIXES COUNT")
  end
  stage.exit(0)
end
