-- Calls echo on the Sink named args[1] every 50 ms until a call fails;
-- prints "calling" once the calls go through, then "failed TYPE" with the
-- typed error of the first failure. A call made after that must fail at
-- once with NodeDown too: prints "then NodeDown in N ms". Then it exits,
-- unless args[2] is "stay" (the node runs on until stopped).
local stage = require "stage"

function main(args)
  local sink = stage.find_name(args[1]):whoami():await()
  assert(sink:echo(0):await() == 0)
  print("calling")
  local i, ok, err = 0, true, nil
  while ok do
    i = i + 1
    ok, err = pcall(function() return sink:echo(i):await() end)
    if ok then stage.sleep(0.05):await() end
  end
  print("failed " .. tostring(err.type) .. ": " .. tostring(err))
  local t0 = stage.now()
  local ok2, err2 = pcall(function() return sink:echo(-1):await() end)
  assert(not ok2, "a call to the dead node succeeded")
  print(string.format("then %s in %d ms", tostring(err2.type),
                      math.floor((stage.now() - t0) * 1000)))
  if args[2] ~= "stay" then stage.exit(0) end
end
