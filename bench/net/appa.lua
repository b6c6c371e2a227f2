-- bench/net/appa.lua I N GOFILE [STARTFILE]: (run with --files DIR, the
-- two files named relative to DIR) one node of the thesis's
-- Appendix A experiment (A.2.3, A.2.4). With STARTFILE, prints "up" and
-- waits for that file first (run.sh's second pass: the ring has formed
-- before the capture starts). Names 10 Workers aI_0 .. aI_9, prints
-- "registered"; once GOFILE exists (bench/net/run.sh creates it when every
-- node has registered) finds the names an_(n mod N) for n = 1..N and pings
-- each found Worker once, then prints "done". A Worker prints "pinged".
-- Then, once GOFILE.count exists, prints "counted BYTES": what this node's
-- connections wrote (stage.net_stats: frames with their headers, the TCP
-- payload a capture sees), for run.sh to check the capture against.
local stage = require "stage"

local Worker = stage.actor "Worker"

function Worker:ping() print("pinged") end

-- Waits until the file name exists in the directory the node was given
-- (--files), looking every 50 ms (no network traffic).
local function wait_for(name)
  while not stage.files:exists(name):await() do
    stage.sleep(0.05):await()
  end
end

function main(args)
  local me, n, go = args[1], tonumber(args[2]), args[3]
  if args[4] then
    print("up")
    wait_for(args[4])
  end
  local named = {}
  for l = 0, 9 do
    named[#named + 1] = stage.name(("a%s_%d"):format(me, l), Worker())
  end
  stage.join(named):await()
  print("registered")
  wait_for(go)
  local pings = {}
  for k = 1, n do
    pings[k] = stage.find_name(("a%d_%d"):format(k, k % n)):ping()
  end
  stage.join(pings):await()
  print("done")
  wait_for(go .. ".count")
  print("counted " .. stage.net_stats().bytes_out)
end
