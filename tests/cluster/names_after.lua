-- tests/cluster/names_after.lua (cluster.names_after): the names and
-- types of actors that live away from their birth node outlive it, also
-- the names given to them through their first ids after they moved.
--   idle: nothing. local: spawn a Wanderer here (a type `is` Walker) and
--   print "ready" (this node has the type before the moved ones come).
--   home G K: spawn three Wanderers, each given 1, 2, 3; the last
--   announce of the type, and so of its link to Walker, is this node's
--   (the nodes at G and K announced theirs before; the test's lease
--   keeps renewals out of the way). Move "stay" to the node at G, then
--   name it "after-stay" through its first id; move "hop" to G, name it
--   "after-hop", then move it on from G to the node at K (asked at its
--   birth node, which sequences it); name "race" while its move to G is
--   under way (the claim may end before, during or after the IMPORT
--   leaves). Prints "ready STAY" (its first id); the test then names it
--   once more from another node ("remote-stay": a NAME frame to the birth
--   node) and kills this node (SIGKILL).
--   namer ID NAME: name actor ID NAME; prints "named".
--   check DEAD G K: once the dead node is no longer listed: by type, the
--   five Wanderers where they live (three at G, two at K), and by their
--   supertype, at once (the link the dead node wrote went with it); each
--   name reaches its actor where it lives, state intact (NameNotFound
--   while the node it lives on claims it again); then "hop" and "stay"
--   are stopped where they live, and their names go (the nodes that took
--   them over release them). Prints what fails, and "ok" if nothing did.
local stage = require "stage"

local Walker = stage.actor "Walker"
function Walker:birth() self.seen = 0 end
function Walker:put(n)
  assert(n == self.seen + 1, "got " .. n .. " after " .. self.seen)
  self.seen = n
  return n
end
function Walker:where() return tostring(stage.self()) end

local Wanderer = stage.actor("Wanderer", {is = Walker})
function Wanderer:seen_() return self.seen end

local function spawn3()
  local w = Wanderer()
  for i = 1, 3 do w:put(i):await() end
  return w
end

local function home(g, k)
  local stay, hop, race = spawn3(), spawn3(), spawn3()
  stage.migrate(stay, g):await()
  stage.name("after-stay", stay):await() -- its first id: it lives at g
  stage.migrate(hop, g):await()
  stage.name("after-hop", hop):await()
  stage.migrate(hop, k):await() -- its birth node asks g for it
  local moving = stage.migrate(race, g) -- not awaited: the name races it
  stage.name("race", race):await()
  moving:await()
  print("ready " .. tostring(stay))
end

-- Whether the node at addr is still listed among the hosts.
local function present(addr)
  for _, h in ipairs(stage.hosts():await()) do
    if h.address == addr then return true end
  end
  return false
end

local failed = false
local function bad(what)
  print(what)
  failed = true
end

-- f() until it succeeds (its result), a failure not in `allowed` (nil,
-- after saying so), or `secs` passed (nil, the same).
local function poll(what, secs, allowed, f)
  local deadline = stage.now() + secs
  while true do
    local ok, r = pcall(f)
    if ok then return r end
    if not allowed[r.type] or stage.now() > deadline then
      bad(what .. ": " .. tostring(r))
      return nil
    end
    stage.sleep(0.1):await()
  end
end

local function by_type(g, k)
  local all = poll("find_all_types finds fewer than 5", 10, { few = true },
                   function()
    local l = stage.find_all_types("Wanderer"):await(5)
    if #l < 5 then error({type = "few"}) end
    return l
  end)
  if all then
    local at = { [g] = 0, [k] = 0 }
    for _, w in ipairs(all) do
      local where = w:where():await(5)
      for addr in pairs(at) do
        if where:find(addr, 1, true) then at[addr] = at[addr] + 1 end
      end
      if w:seen_():await(5) ~= 3 then bad("a Wanderer's state is lost") end
    end
    if at[g] ~= 3 or at[k] ~= 2 then
      bad("by type: " .. at[g] .. " at g, " .. at[k] .. " at k")
    end
  end
  poll("find_type", 5, {}, function()
    return stage.find_type("Wanderer"):seen_():await(5)
  end)
  -- the link Walker -> Wanderer: written last by the dead node, and put
  -- again by the live ones as they hear of the death (before, it came
  -- back at their next renewal, a third of the lease later)
  poll("find_subtype", 5, { TypeNotFound = true }, function()
    return stage.find_subtype("Walker"):seen_():await(5)
  end)
end

local function by_name(g, k)
  local want = { ["after-stay"] = g, ["remote-stay"] = g,
                 ["after-hop"] = k, ["race"] = g }
  for _, name in ipairs({ "after-stay", "remote-stay", "after-hop", "race" }) do
    -- NameNotFound until the node it lives on has claimed it again
    local at = poll(name, 20, { NameNotFound = true }, function()
      return stage.find_name(name):where():await(5)
    end)
    if at and not at:find(want[name], 1, true) then
      bad(name .. " names an actor at " .. at .. ", not at " .. want[name])
    elseif at and stage.find_name(name):seen_():await(5) ~= 3 then
      bad(name .. ": its actor's state is lost")
    end
  end
end

-- The names a node took over are its own: they go when their actor stops
-- there (that node holds no other name).
local function stopped()
  for _, set in ipairs({ { "after-hop" }, { "after-stay", "remote-stay" } }) do
    local ok, at = pcall(function()
      return stage.find_name(set[1]):where():await(5)
    end)
    if ok then
      stage.stop(stage.ref(at)):await(5)
      for _, name in ipairs(set) do
        -- ActorNotFound until the node it stopped at has let the name go
        local r = poll(name .. " after its actor stopped", 10,
                       { ActorNotFound = true }, function()
          local ok2, e = pcall(function()
            return stage.find_name(name):where():await(5)
          end)
          if ok2 then return "names a stopped actor" end
          if e.type == "NameNotFound" then return true end
          error(e)
        end)
        if r and r ~= true then bad(name .. " " .. r) end
      end
    end
  end
end

local function check(dead, g, k)
  local deadline = stage.now() + 30
  while present(dead) do
    assert(stage.now() < deadline, "the dead node stays listed")
    stage.sleep(0.1):await()
  end
  by_type(g, k)
  by_name(g, k)
  stopped()
  if failed then
    stage.exit(1)
  else
    print("ok")
    stage.exit(0)
  end
end

function main(args)
  if args[1] == "idle" then return end
  if args[1] == "local" then
    spawn3()
    print("ready")
    return
  end
  if args[1] == "home" then return home(args[2], args[3]) end
  if args[1] == "namer" then
    stage.name(args[3], stage.ref(args[2])):await()
    print("named")
    stage.exit(0)
  end
  if args[1] == "check" then return check(args[2], args[3], args[4]) end
end
