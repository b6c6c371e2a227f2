-- drain.lua target N [PREFIX] | send ADDR TAG | idle | home ADDR |
-- reach ID | spawn | ballast | names PREFIX ADDR: the sides of cluster.drain,
-- cluster.drain_fault, cluster.orphan and cluster.orphan_drained (idle: a
-- node of the same program, with nothing to do but take actors).
--   target: spawn N Counters (mobile), name a pinned Registry that lists
--           them, print "ready"; the test then drains this node (SIGTERM).
--   send:   take the Counters' references from the Registry, then send
--           numbered messages round after round (every tenth a call),
--           through those first references, until the node at ADDR has
--           left and at least 5000 went; then ask each Counter whether it
--           got this sender's numbers once each, in order; print "ok TAG
--           SENT", or exit 1 saying which did not. The first ten are
--           also asked through their names, which followed them.
local stage = require "stage"

local Counter = stage.actor "Counter"
function Counter:birth() self.seen = {} end
function Counter:put(tag, n)
  local last = self.seen[tag] or 0
  if n ~= last + 1 then
    self.bad = string.format("%s: %d after %d", tag, n, last)
  end
  self.seen[tag] = n
  return n
end
function Counter:check(tag, n)
  if self.bad then return self.bad end
  if (self.seen[tag] or 0) ~= n then
    return string.format("%s: last %d of %d", tag, self.seen[tag] or 0, n)
  end
  return true
end
function Counter:here() return stage.self() end

-- A Keeper holds a function: it cannot travel, and stays when its node
-- drains, which says why.
local Keeper = stage.actor "Keeper"
function Keeper:birth() self.f = function() end end

local Registry = stage.actor("Registry", {kind = "pinned"})
function Registry:birth(list) self.list = list end
function Registry:list() return self.list end

-- Whether the node at addr is still listed among the hosts.
local function present(addr)
  for _, h in ipairs(stage.hosts():await()) do
    if h.address == addr then return true end
  end
  return false
end

-- ballast (cluster.orphan_drained): 50 Counters, so that a drain sends its
-- actors to the other nodes (the fewest actors per theatre); then, told by
-- the file "go" (--files), "hop ID X Y": find actor ID (through its first
-- id, of a node that left) at node X, move it on to node Y, print "hopped
-- ..."; or "reach ID X": once node X is no longer listed (it died: its
-- entries in the stores are gone), reach actor ID as "reach" does.
local function ballast()
  local keep = {}
  for i = 1, 50 do keep[i] = Counter() end
  print("ballast")
  local deadline = stage.now() + 60
  while not stage.files:exists("go"):await() do
    assert(stage.now() < deadline, "never told what to do")
    stage.sleep(0.1):await()
  end
  local w = {}
  for word in stage.files:read("go"):await():gmatch("%S+") do
    w[#w + 1] = word
  end
  if w[1] == "hop" then
    local cur = stage.ref(w[2]):here():await(5)
    assert(tostring(cur):find(w[3], 1, true), "not at x: " .. tostring(cur))
    local moved = stage.migrate(cur, w[4]):await(5)
    assert(tostring(moved):find(w[4], 1, true), tostring(moved))
    print("hopped from " .. tostring(cur) .. " to " .. tostring(moved))
    return
  end
  deadline = stage.now() + 30
  while present(w[3]) do
    assert(stage.now() < deadline, "the dead node stays listed")
    stage.sleep(0.1):await()
  end
  return w[2]
end

-- orphan: "home" gives a Counter 1, 2, 3 from "s", names it
-- "orphan-counter", moves it to the node at args[2] and prints its first
-- id ("moved ID"), before the test kills this node; "spawn" gives it 1, 2,
-- 3 and prints its first id ("spawned ID") once it sees two nodes with
-- ballast (the test drains this node then); "reach" sends 4 through that
-- first id (again while the death spreads: each failure is NodeDown,
-- NodeUnreachable or a Timeout) and checks the Counter saw 1..4, then,
-- given "named", that its name still names it (the name died with its
-- home, and the node it lives on claims it again: NameNotFound meanwhile).
local function orphan(args)
  if args[1] == "home" or args[1] == "spawn" then
    local c = Counter()
    for i = 1, 3 do c:put("s", i):await() end
    if args[1] == "home" then
      stage.name("orphan-counter", c):await()
      stage.migrate(c, args[2]):await()
      print("moved " .. tostring(c))
      return
    end
    local deadline = stage.now() + 20
    if args[2] == "one" then -- one other node to drain to: once it is listed
      while #stage.hosts():await() < 2 do
        assert(stage.now() < deadline, "the other node is not listed")
        stage.sleep(0.1):await()
      end
      print("spawned " .. tostring(c))
      return
    end
    repeat
      local heavy = 0
      for _, h in ipairs(stage.hosts():await()) do
        if h.actors >= 50 then heavy = heavy + 1 end
      end
      assert(stage.now() < deadline, "the ballast is not listed")
      if heavy < 2 then stage.sleep(0.1):await() end
    until heavy >= 2
    print("spawned " .. tostring(c))
    return
  end
  if args[1] == "rejoined" then
    -- a node that joined after the actor's home died and was restarted
    -- at its address: its first id names that dead run, and reaches the
    -- actor where it lives now (the restarted node sends the message back
    -- to be sent where the migrations store says)
    local ref = stage.ref(args[2])
    assert(ref:put("t", 1):await(10) == 1)
    stage.send(ref, "put", "t", 2)
    local r = ref:check("t", 2):await(10)
    assert(r == true, tostring(r))
    print("ok rejoined")
    stage.exit(0)
  end
  if args[1] == "later" then -- a node that never knew the drained one
    local ref = stage.ref(args[2])
    ref:put("s", 4):await(10) -- at once: no failure is allowed
    local r = ref:check("s", 4):await()
    assert(r == true, tostring(r))
    print("ok at once")
    stage.exit(0)
  end
  local late = args[1] == "ballast"
  if late then
    args[2] = ballast()
    if not args[2] then return end
  end
  local ref, deadline, fails = stage.ref(args[2]), stage.now() + 20, 0
  while true do
    local ok, e = pcall(function() return ref:put("s", 4):await(5) end)
    if ok then break end
    -- NodeUnreachable, Timeout: tried before this node heard of the
    -- death, the call waits for the dead node's connection attempts (it
    -- never reached it: nothing to count twice)
    -- ballast's reach: ActorNotFound too, until the node that took the
    -- orphan over has put its ids into the store (a moment after the
    -- death is known; never, if it did not: the deadline fails)
    assert(e.type == "NodeDown" or e.type == "NodeUnreachable" or
           e.type == "Timeout" or (late and e.type == "ActorNotFound"),
           tostring(e))
    fails = fails + 1
    assert(stage.now() < deadline, "never reached: " .. tostring(e))
    stage.sleep(0.2):await()
  end
  local r = ref:check("s", 4):await()
  assert(r == true, tostring(r))
  if args[3] == "named" then
    deadline = stage.now() + 20
    while true do
      local ok, e = pcall(function()
        return stage.find_name("orphan-counter"):check("s", 4):await(5)
      end)
      if ok then assert(e == true, tostring(e)) break end
      assert(e.type == "NameNotFound" or e.type == "Timeout", tostring(e))
      assert(stage.now() < deadline, "the name never came back: " ..
        tostring(e))
      stage.sleep(0.2):await()
    end
    print("named again")
  end
  print("ok after " .. fails .. " failures")
  stage.exit(0)
end

-- names: the ten names of a target with PREFIX, drained from the node at
-- ADDR, each name an actor that answers, and not at ADDR (cluster.drain_fault
-- part 2: the node that held most of the ring was killed as they moved)
local function names(prefix, addr)
  for i = 1, 10 do
    local name = prefix .. "counter-" .. i
    local ref = stage.find_name(name)
    local ok, e = pcall(function() return ref:here():await(10) end)
    if not ok then
      print(name .. " does not name an actor that answers: " .. tostring(e))
      stage.exit(1)
    end
    if tostring(ref):find(addr, 1, true) then
      print(name .. " is still named at the drained node")
      stage.exit(1)
    end
  end
  print("names ok")
  stage.exit(0)
end

function main(args)
  if args[1] == "idle" then return end
  if args[1] == "names" then return names(args[2], args[3]) end
  if args[1] == "home" or args[1] == "reach" or args[1] == "spawn" or
     args[1] == "ballast" or args[1] == "later" or
     args[1] == "rejoined" then
    return orphan(args)
  end
  if args[1] == "target" then
    local list = {}
    for i = 1, math.tointeger(tonumber(args[2])) do list[i] = Counter() end
    local names = args[3] or "" -- a prefix: another target's names
    for i = 1, 10 do stage.name(names .. "counter-" .. i, list[i]):await() end
    stage.name(names .. "drain-registry", Registry(list)):await()
    if args[4] == "keeper" then Keeper() end
    print("ready")
    return
  end
  local addr, tag = args[2], args[3]
  local list
  local deadline = stage.now() + 20
  repeat
    local ok, l = pcall(function()
      return stage.find_name("drain-registry"):list():await()
    end)
    if ok then list = l else stage.sleep(0.1):await() end
  until list or stage.now() > deadline
  assert(list, "no registry")
  -- host entries come a moment after a node joins: see the target's first
  deadline = stage.now() + 20
  while not present(addr) do
    assert(stage.now() < deadline, "the target's host entry never came")
    stage.sleep(0.1):await()
  end
  print("sending " .. tag)
  local sent, rounds = 0, 0
  deadline = stage.now() + 60
  while sent < 5000 or present(addr) do
    assert(stage.now() < deadline, "the node never left")
    rounds = rounds + 1
    local calls = {}
    for _, c in ipairs(list) do
      if (rounds + sent) % 10 == 0 then
        calls[#calls + 1] = c:put(tag, rounds)
      else
        stage.send(c, "put", tag, rounds)
      end
      sent = sent + 1
    end
    for _, f in ipairs(calls) do f:await() end
    if rounds == 2 then print("flooding " .. tag) end
  end
  for i, c in ipairs(list) do
    local r = c:check(tag, rounds):await()
    if r ~= true then
      print("counter " .. i .. " " .. tostring(r))
      stage.exit(1)
    end
  end
  -- names follow their actors: the first ten are named (looked up past
  -- the name cache's second, they name where the actor is now)
  local function by_name()
    stage.sleep(1.1):await()
    for i = 1, 10 do
      local ref = stage.find_name("counter-" .. i)
      local r = ref:check(tag, rounds):await()
      if tostring(ref):find(addr, 1, true) then
        print("counter-" .. i .. " is still named at the drained node")
        stage.exit(1)
      end
      if r ~= true then
        print("counter-" .. i .. " by name " .. tostring(r))
        stage.exit(1)
      end
    end
  end
  by_name()
  -- it stays up (the other sender's Counters may live here now); with
  -- --files, once the test has drained another node (a second hop for
  -- the Counters that node had taken over), it checks them all again,
  -- through the same first references and the names
  print("ok " .. tag .. " " .. sent)
  if not stage.files then return end
  deadline = stage.now() + 60
  while not stage.files:exists("again"):await() do
    assert(stage.now() < deadline, "never asked to check again")
    stage.sleep(0.1):await()
  end
  for i, c in ipairs(list) do
    local r = c:check(tag, rounds):await()
    if r ~= true then
      print("again: counter " .. i .. " " .. tostring(r))
      stage.exit(1)
    end
  end
  by_name()
  print("again ok " .. tag)
end
