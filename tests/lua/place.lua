-- tests/lua/place.lua: where T(...) puts an actor (docs/lua-api.md,
-- "Where a spawned actor runs"). Run with --theatres 2. main's theatre
-- keeps a pair of actors it spawns, though theatre 1 is idle; a burst of
-- spawns that saturates theatre 0 goes on to the idle theatre 1; pinned and
-- creatable types, spawned while theatre 0 is saturated, stay with their
-- spawner, and spawn_at keeps the theatre it names. Spawned while theatre 0
-- is saturated, a pair (`local b = Child(); Caller(b)`) is never split,
-- by placement or by work stealing, and a chain (`prev = Link(prev)`) is
-- placed whole.
local stage = require "stage"

local BURST = 5000 -- spawns in one handler: well past the 2 ms that saturate

local Child = stage.actor "Child"
function Child:where() return stage.theatre() end

local Pin = stage.actor("Pin", {kind = "pinned"})
function Pin:where() return stage.theatre() end

local Maker = stage.actor("Maker", {kind = "creatable"})
function Maker:where() return stage.theatre() end

-- a caller asks its callee (a spawn argument) where it runs, each time
-- from where it runs itself: true if always the same theatre
local Caller = stage.actor "Caller"
function Caller:birth(callee) self.callee = callee end
function Caller:run(n)
  for _ = 1, n do
    if self.callee:where():await() ~= stage.theatre() then return false end
  end
  return true
end

local Link = stage.actor "Link"
function Link:birth(prev) self.prev = prev end

-- the theatre an actor was born on, from its id (local~inc/THEATRE/T/n)
local function born_on(ref)
  return tonumber(tostring(ref):match("/(%d+)/[^/]+/%d+$"))
end

-- the theatres the futures fs answer, counted
local function count(fs)
  local on = {}
  for _, t in ipairs(stage.join(fs):await()) do on[t] = (on[t] or 0) + 1 end
  return on
end

function main()
  assert(stage.theatres() == 2, "run with --theatres 2")
  -- a pair: both with their spawner
  local a, b = Child(), Child()
  local pair = count{a:where(), b:where()}
  assert(pair[0] == 2, "a pair was split: " .. tostring(pair[1]) .. " on 1")

  local fs = {}
  for i = 1, BURST do fs[i] = Child():where() end
  -- theatre 0 is saturated now: these keep their place all the same
  local pinned, made = Pin():where(), Maker():where()
  local at0, at1 = Child:spawn_at(0):where(), Child:spawn_at(1):where()
  local on = count(fs)
  assert((on[0] or 0) + (on[1] or 0) == BURST)
  assert((on[1] or 0) > 0, "the burst stayed on theatre 0")
  assert((on[0] or 0) > 0, "the burst left its spawner's theatre at once")
  assert(pinned:await() == 0, "a pinned actor was placed elsewhere")
  assert(made:await() == 0, "a creatable actor was placed elsewhere")
  assert(at0:await() == 0 and at1:await() == 1, "spawn_at was not obeyed")

  -- pairs and a chain, spawned while theatre 0 is saturated (a burst
  -- first); the pairs' calls start at once, while stealing goes on
  for i = 1, BURST do fs[i] = Child():where() end
  local runs, spread = {}, {}
  for i = 1, BURST // 5 do
    local b = Child()
    local a = Caller(b)
    runs[i] = a:run(20)
    spread[born_on(a)] = true
  end
  local prev = Link()
  local cuts = 0
  for _ = 1, BURST // 5 do
    local l = Link(prev)
    if born_on(l) ~= born_on(prev) then cuts = cuts + 1 end
    prev = l
  end
  count(fs)
  for i, ok in ipairs(stage.join(runs):await()) do
    assert(ok, "pair " .. i .. " was split")
  end
  assert(spread[0] and spread[1], "the pairs were all placed on one theatre")
  assert(cuts == 0, "a chain was cut in " .. cuts .. " places")
  print("ok")
end
