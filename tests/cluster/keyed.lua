-- cluster.cluster_key's client (args[1]: the address of area-a's node):
-- works across three nodes that share a cluster key — names on two other
-- nodes, a type found anywhere, an actor spawned on another node that
-- gets 2,000 messages in order, a message of 100 KB and a reply of 8 MiB
-- (many encrypted records each), a failure that reaches the sender.
local stage = require "stage"
local Recorder = stage.actor "Recorder" -- known here too, for spawn_at

-- Waits (at most 10 s) until name answers: its node may still be starting.
local function settled(name)
  local deadline = stage.now() + 10
  while not pcall(function() return stage.find_name(name):square(0):await(2) end) do
    assert(stage.now() < deadline, "'" .. name .. "' not found")
    stage.sleep(0.1):await()
  end
end

function main(args)
  settled("area-a")
  settled("area-b")
  assert(stage.find_name("area-a"):square(10):await() == 100)
  assert(stage.find_name("area-b"):square(3):await() == 9)
  assert(stage.find_type("Logger"):log("x"):await() == "logged x")
  local rec = Recorder:spawn_at(args[1])
  for i = 1, 2000 do rec:put(i) end
  assert(rec:seen_in_order(2000):await() == true, "order across nodes")
  local s0 = stage.net_stats()
  rec:put(string.rep("x", 100000)):await()
  assert(stage.net_stats().bytes_out - s0.bytes_out >= 100000)
  local big = 8 * 1024 * 1024 - 1024 - 5 -- the largest reply that goes
  assert(#rec:blob(big):await() == big)
  local ok, err = pcall(function() return stage.find_name("nope"):x():await() end)
  assert(not ok and err.type == "NameNotFound", tostring(err))
  print("ok")
  stage.exit(0)
end
