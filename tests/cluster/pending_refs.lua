-- tests/cluster/pending_refs.lua (cluster.pending_refs): calls that take a
-- reference wait for a far reference's lookup (find_name) instead of
-- raising while it runs: stage.name(name, ref), stage.migrate(ref, where)
-- with either a far reference, and an actor's own stage.migrate(where).
-- A lookup that fails fails the call's future. On one `stage node`: its
-- lookups go through the DHT, so each reference is still looking when
-- used. Prints "ok".
local stage = require "stage"

local Spot = stage.actor "Spot"
function Spot:where() return stage.theatre() end
function Spot:follow(name)
  stage.migrate(stage.find_name(name)) -- after this handler
  return stage.theatre()
end

function main()
  assert(stage.theatres() == 2, "run with --theatres 2")
  local a = Spot:spawn_at(1)
  stage.name("a", a):await()
  -- naming through a reference still looking
  local r = stage.find_name("a")
  assert(stage.name("also-a", r):await() == true)
  assert(stage.find_name("also-a"):where():await() == 1)
  -- moving next to one, and moving one
  local b = Spot:spawn_at(0)
  assert(b:where():await() == 0)
  stage.migrate(b, stage.find_name("a")):await()
  assert(b:where():await() == 1, "b did not move next to a")
  stage.migrate(stage.find_name("a"), 0):await()
  assert(a:where():await() == 0, "a did not move")
  -- an actor's own move next to one
  assert(b:follow("a"):await() == 1) -- it moves once this handler is over
  assert(b:where():await() == 0, "b did not follow a")
  -- a lookup that fails fails the call's future, and nothing raises
  local ok, e = pcall(function()
    return stage.name("x", stage.find_name("nobody")):await()
  end)
  assert(not ok and e.type == "NameNotFound", tostring(e))
  ok, e = pcall(function()
    return stage.migrate(b, stage.find_name("nobody")):await()
  end)
  assert(not ok and e.type == "NameNotFound", tostring(e))
  assert(b:where():await() == 0)
  print("ok")
  stage.exit(0)
end
