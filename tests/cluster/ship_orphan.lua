-- ship_orphan.lua idle | home ADDR_D ADDR_A | reach ID N: the sides of
-- cluster.ship_orphan (ship_orphan.sh says the story).
--   idle:  nothing to do but take actors (node d runs with --files: its
--          file "go" lets a held Counter's handler end).
--   home:  two Counters c and g (1, 2, 3 each from "s") move to node D
--          and live in its theatre 1; c then stays in a handler (hold)
--          at D, a move of c to node A is asked, which D's export makes
--          wait for that handler, and g answers a message sent behind the
--          move's order: print "shipping C G" (their first ids).
--   reach: put N from "s" through first id ID until it arrives (while the
--          home's death spreads: NodeDown, NodeUnreachable or
--          ActorNotFound, each a put that did not arrive; a put that
--          waits is not sent again: the dead node's session may give it
--          back, to follow the actor), then check the Counter saw 1..N:
--          "ok after K failures", or exit 1 saying why.
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
-- Tell g this handler runs, then stay in it until this node's file "go"
-- exists: a move asked meanwhile waits for the handler's end.
function Counter:hold(g)
  g:put("held", 1)
  local deadline = stage.now() + 60
  while not stage.files:exists("go"):await() do
    assert(stage.now() < deadline, "never told to go on")
    stage.sleep(0.05):await() -- polling a file, with a deadline
  end
end

local function theatre_of(ref)
  return tonumber(tostring(ref):match("/(%d+)/[^/]+/%d+$"))
end

local function home(d, a)
  -- born in theatre 1 (of 2): their serials are odd, and a node of two
  -- theatres takes them in on theatre 1 (the serial modulo the theatres),
  -- not on theatre 0, which runs the network's loop: the frames for them
  -- there pass through that theatre's inbox, in the order they came; and
  -- what main (theatre 0) sends them goes through their home theatre's
  -- inbox, in the order sent, as does the move's order
  local c, g = Counter:spawn_at(1), Counter:spawn_at(1)
  for i = 1, 3 do
    c:put("s", i):await()
    g:put("s", i):await()
  end
  local cd = stage.migrate(c, d):await(10)
  local gd = stage.migrate(g, d):await(10)
  assert(theatre_of(cd) == 1 and theatre_of(gd) == 1,
         "not in theatre 1 of d: " .. tostring(cd) .. " " .. tostring(gd))
  c:hold(g)
  local deadline = stage.now() + 20
  while g:check("held", 1):await() ~= true do
    assert(stage.now() < deadline, "c never began to hold")
    stage.sleep(0.05):await() -- polling g, with a deadline
  end
  -- not awaited: its order (OUT) goes to d, whose export of c waits for
  -- the handler; g's message goes behind it (h's theatre 1 -> d's
  -- theatre 1): once g has answered, d's machine has c shipping home
  stage.migrate(c, a)
  assert(g:put("s", 4):await(10) == 4)
  print("shipping " .. tostring(c) .. " " .. tostring(g))
end

local function reach(id, n)
  local ref, deadline, fails = stage.ref(id), stage.now() + 60, 0
  while true do
    local ok, e = pcall(function() return ref:put("s", n):await(60) end)
    if ok then break end
    assert(e.type == "NodeDown" or e.type == "NodeUnreachable" or
           e.type == "ActorNotFound", tostring(e))
    fails = fails + 1
    assert(stage.now() < deadline, "never reached: " .. tostring(e))
    stage.sleep(0.2):await()
  end
  local r = ref:check("s", n):await()
  assert(r == true, tostring(r))
  print("ok after " .. fails .. " failures")
  stage.exit(0)
end

function main(args)
  if args[1] == "home" then return home(args[2], args[3]) end
  if args[1] == "reach" then
    return reach(args[2], math.tointeger(tonumber(args[3])))
  end
end
