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

-- A burst that saturates theatre 0, then pairs and a chain; the pairs'
-- calls start at once, while stealing goes on. Checks that no pair was
-- split and the chain was not cut; true if the pairs were placed on both
-- theatres.
local function pairs_and_chain()
  local fs, runs, on = {}, {}, {}
  for i = 1, BURST do fs[i] = Child():where() end
  for i = 1, BURST // 5 do
    local b = Child()
    local a = Caller(b)
    runs[i] = a:run(5)
    on[born_on(a)] = true
  end
  local prev, cuts = Link(), 0
  for _ = 1, BURST // 5 do
    local l = Link(prev)
    if born_on(l) ~= born_on(prev) then cuts = cuts + 1 end
    prev = l
  end
  stage.join(fs):await()
  for i, ok in ipairs(stage.join(runs):await()) do
    assert(ok, "pair " .. i .. " was split")
  end
  assert(cuts == 0, "a chain was cut in " .. cuts .. " places")
  return on[0] and on[1] or false
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

  -- pairs and a chain, spawned while theatre 0 is saturated: never split
  -- or cut, and, in one of three runs at least, the pairs are placed on
  -- both theatres (whether the blocks move on before the loop ends
  -- depends on the loads of the moment)
  local spread = false
  for _ = 1, 3 do
    spread = pairs_and_chain()
    if spread then break end
  end
  assert(spread, "the pairs were all placed on one theatre, in three runs")
  print("ok")
end
