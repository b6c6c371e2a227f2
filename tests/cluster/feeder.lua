-- Feeds the Sink named args[1] for args[2] rounds, one every 50 ms: a
-- one-way put(i) and a call echo(i) whose future is kept. Prints "sent i"
-- every ten rounds (the test's clock), then awaits every call (each must
-- have succeeded with its own i), asks the sink what it got and prints
-- "report LAST WRONG".
local stage = require "stage"

function main(args)
  local n = tonumber(args[2])
  local sink = stage.find_name(args[1]):whoami():await() -- the actor itself
  local calls = {}
  for i = 1, n do
    stage.send(sink, "put", i)
    calls[i] = sink:echo(i)
    if i % 10 == 0 then print("sent " .. i) end
    stage.sleep(0.05):await()
  end
  for i = 1, n do
    local ok, v = pcall(function() return calls[i]:await() end)
    if not ok or v ~= i then
      print("call " .. i .. " failed: " .. tostring(v))
      stage.exit(1)
      return
    end
  end
  local r = sink:report():await()
  print("report " .. r[1] .. " " .. r[2])
  stage.exit(0)
end
