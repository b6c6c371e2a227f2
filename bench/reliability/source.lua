-- bench/reliability/source.lua N PERIOD [TAG]: sends one one-way put(i) and one
-- call ping(i) every PERIOD seconds, N of each, to the actor named "sink",
-- then prints one JSON line: how many calls succeeded and how they failed,
-- and what the sink received (lost, duplicated, out of order).
local stage = require "stage"

function main(args)
  local n, period = tonumber(args[1]), tonumber(args[2])
  local sink = stage.find_name("sink")
  sink:ping(0):await(30) -- resolved, and the link is up
  local me = args[3] or "source"
  print("sending")
  local calls = {}
  for i = 1, n do
    stage.send(sink, "put", me, i)
    calls[i] = sink:ping(i)
    stage.sleep(period):await()
  end
  local ok, failed = 0, {}
  for i = 1, n do
    local good, err = pcall(calls[i].await, calls[i], 120)
    if good and err == i then
      ok = ok + 1
    else
      local kind = type(err) == "table" and err.type or tostring(err)
      failed[kind] = (failed[kind] or 0) + 1
    end
  end
  local r = sink:report(me, n):await(60)
  local kinds = {}
  for k, v in pairs(failed) do kinds[#kinds + 1] = string.format('"%s":%d', k, v) end
  print(string.format('{"sent":%d,"calls_ok":%d,"calls_failed":{%s},' ..
                      '"received":%d,"lost":%d,"dup":%d,"late":%d}',
                      n, ok, table.concat(kinds, ","), r.got, r.lost, r.dup,
                      r.late))
  stage.exit(0)
end
