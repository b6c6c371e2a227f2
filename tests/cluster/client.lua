-- Finds actors on other nodes by name and type and checks what comes back.
local stage = require "stage"
local Recorder = stage.actor "Recorder" -- known here too, for spawn_at
local Temp = stage.actor "Temp" -- a local actor to name, then stop
function Temp:hello() return "hi" end
local Probe = stage.actor "Probe" -- awaits an actor of another node
function Probe:square_of(name, x)
  local r = stage.find_name(name)
  r:square(0):await() -- r is resolved from here on
  return r:square(x):await()
end

local function fails_with(kind, f)
  local ok, err = pcall(f)
  assert(not ok, "expected " .. kind)
  assert(type(err) == "table" and err.type == kind, tostring(err))
  return err
end

-- How many actors of type T the directory lists, once it lists n (or 10 s
-- passed): a node's registration for a type is not awaited by its spawn,
-- so it lands a moment after the node says it is ready.
local function count_of(T, n)
  local deadline, got = stage.now() + 10
  repeat
    got = #stage.find_all_types(T):await()
    if got < n then stage.sleep(0.05):await() end
  until got >= n or stage.now() > deadline
  return got
end

-- settled(name): waits (at most 10 s) until name is found and answers
-- square(1): the node that names it may still be starting. (Each script
-- has its own copy: actor code runs in a sandbox, without dofile.)
local function settled(name)
  local deadline = stage.now() + 10
  repeat
    local ok = pcall(function()
      return stage.find_name(name):square(1):await()
    end)
    if ok then return end
    stage.sleep(0.1):await()
  until stage.now() > deadline
  error("name '" .. name .. "' never became visible")
end

function main(args)
  local seed = args[1]
  settled("area-a")
  settled("area-b")
  -- this node's first actor has the serial of area-a (its node's first
  -- actor too): awaiting it is no Deadlock
  local probe = Probe()
  assert(probe:square_of("area-a", 6):await() == 36)
  -- by name, on two other nodes
  assert(stage.find_name("area-a"):square(10):await() == 100)
  assert(stage.find_name("area-b"):square(3):await() == 9)
  -- by type: a random one, and all of them
  assert(count_of("Logger", 2) == 2)
  assert(count_of("Area", 2) == 2)
  assert(stage.find_type("Logger"):log("x"):await() == "logged x")
  -- references travel in messages and replies
  local area = stage.find_name("area-a")
  assert(area:square(2):await() == 4)
  -- messages to a remote actor keep their order
  local rec = Recorder:spawn_at(seed)
  for i = 1, 2000 do rec:put(i) end
  assert(rec:seen_in_order(2000):await() == true, "order across nodes")
  -- the node counts what its connections carry
  local s0 = stage.net_stats()
  rec:put(string.rep("x", 100000)):await()
  local s1 = stage.net_stats()
  assert(s1.bytes_out - s0.bytes_out >= 100000, "bytes out not counted")
  assert(s1.frames_out > s0.frames_out and s1.frames_in > s0.frames_in)
  assert(s1.bytes_in > s0.bytes_in and s1.writes > s0.writes)
  -- a message or a reply past the limit (8 MiB less 1 KiB by default)
  -- fails with TooLarge at once (the reply used to be lost: a 60 s
  -- Timeout); cluster.limits checks each kind
  local nine = 9 * 1024 * 1024
  fails_with("TooLarge", function() return rec:blob(nine):await(10) end)
  local under = 8 * 1024 * 1024 - 1024 - 5 -- a str takes 5 bytes more
  assert(#rec:blob(under):await() == under) -- at the limit: it goes
  -- failures reach the sender
  fails_with("NameNotFound", function() return stage.find_name("nope"):x():await() end)
  fails_with("TypeNotFound", function() return stage.find_type("Nope"):x():await() end)
  -- no actor of a type anywhere: all of them is an empty list
  assert(#stage.find_all_types("Nope"):await() == 0)
  assert(#stage.find_all_types("Temp"):await() == 0) -- known, none alive
  fails_with("NoSuchMethod", function() return area:nosuch():await() end)
  fails_with("HandlerError", function() return area:square("x"):await() end)
  -- an id of an earlier run of this node (its address, another
  -- incarnation): that actor is gone
  local old = stage.ref((tostring(Temp()):gsub("~(%x+)/", function(h)
    return "~" .. (h == "1" and "2" or "1") .. "/"
  end)))
  fails_with("ActorNotFound", function() return old:hello():await() end)
  -- a node that is not there: NodeUnreachable once the retries give up,
  -- named as "localhost" too
  for _, nowhere in ipairs({ "127.0.0.1:1", "localhost:1" }) do
    local ok, err = pcall(function()
      return Recorder:spawn_at(nowhere):put(1):await(10)
    end)
    assert(not ok and err.type == "NodeUnreachable", tostring(err))
  end
  -- the seed named as "localhost:PORT" is the node at 127.0.0.1:PORT
  local seed_local = seed:gsub("^127%.0%.0%.1:", "localhost:")
  assert(seed_local ~= seed)
  local near = Recorder:spawn_at(seed_local)
  assert(near:seen_in_order(0):await(10) == true)
  assert(tostring(near):find(seed .. "~", 1, true) == 1, tostring(near))
  -- a name goes with its actor: released in the DHT when it stops
  local temp = Temp()
  assert(stage.name("temp-name", temp):await() == true)
  assert(stage.find_name("temp-name"):hello():await() == "hi")
  stage.stop(temp)
  local gone, deadline = false, stage.now() + 10
  while not gone and stage.now() < deadline do
    local ok, e = pcall(function()
      return stage.find_name("temp-name"):hello():await(2)
    end)
    gone = not ok and e.type == "NameNotFound"
    if not gone then stage.sleep(0.1):await() end
  end
  assert(gone, "the name outlived its actor")
  -- a name for an actor of another node is held by that node, and goes
  -- when the actor stops there
  local far = Recorder:spawn_at(seed)
  assert(far:seen_in_order(0):await() == true) -- spawned
  assert(stage.name("far-name", far):await() == true)
  assert(stage.find_name("far-name"):seen_in_order(0):await() == true)
  far:quit():await()
  gone, deadline = false, stage.now() + 10
  while not gone and stage.now() < deadline do
    local ok, e = pcall(function()
      return stage.find_name("far-name"):seen_in_order(0):await(2)
    end)
    gone = not ok and e.type == "NameNotFound"
    if not gone then stage.sleep(0.1):await() end
  end
  assert(gone, "the name of a remote actor outlived it")
  fails_with("ActorNotFound", function()
    return stage.name("late-name", far):await()
  end)
  -- stage.stop reaches an actor of another node, behind the messages sent
  -- to it before; the same through a name whose lookup is still running
  local victim = Recorder:spawn_at(seed)
  local last
  for i = 1, 100 do last = victim:put(i) end
  assert(stage.stop(victim):await() == true)
  assert(last:await() == nil) -- handled before the stop, not refused
  fails_with("ActorNotFound", function() return victim:seen_in_order(100):await() end)
  fails_with("ActorNotFound", function() return stage.stop(victim):await() end)
  local named = Recorder:spawn_at(seed)
  assert(named:seen_in_order(0):await() == true) -- spawned
  assert(stage.name("stop-me", named):await() == true)
  assert(stage.stop(stage.find_name("stop-me")):await() == true)
  fails_with("ActorNotFound", function() return named:seen_in_order(0):await() end)
  fails_with("NameNotFound", function()
    return stage.stop(stage.find_name("nobody-here")):await()
  end)
  -- a name found is kept a second: fifty lookups in a row ask the DHT once
  local first = Recorder:spawn_at(seed)
  assert(first:seen_in_order(0):await() == true) -- spawned
  assert(stage.name("moving", first):await() == true)
  local found = stage.find_name("moving")
  assert(found:seen_in_order(0):await() == true and found == first)
  -- (against fifty calls through the reference held: the frames both
  -- send besides the calls, acknowledgements and the ring's upkeep, grow
  -- with the machine's load, a lookup per call would add fifty more)
  local s2 = stage.net_stats()
  for _ = 1, 50 do assert(found:seen_in_order(0):await() == true) end
  local held = stage.net_stats().frames_out - s2.frames_out
  local s3 = stage.net_stats()
  for _ = 1, 50 do
    assert(stage.find_name("moving"):seen_in_order(0):await() == true)
  end
  local sent = stage.net_stats().frames_out - s3.frames_out
  assert(sent < held + 25, sent .. " frames for 50 messages through a name, "
    .. held .. " through the reference held: lookups not cached")
  -- ... and a name that moves to another actor is found there soon after
  assert(stage.stop(first):await() == true)
  local second = Temp() -- on this node
  local function within(secs, f)
    local deadline = stage.now() + secs
    repeat
      local ok, done = pcall(f)
      if ok and done then return true end
      stage.sleep(0.1):await()
    until stage.now() > deadline
  end
  assert(within(5, function() return stage.name("moving", second):await(2) end),
         "the name was not free after its actor stopped")
  assert(within(5, function()
    local r = stage.find_name("moving")
    return r:hello():await(2) == "hi" and r == second
  end), "the cached name outlived its rebinding")
  print("ok")
  stage.exit(0)
end
