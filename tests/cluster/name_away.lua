-- tests/cluster/name_away.lua (cluster.name_away): a name given to an
-- actor at its birth node, which it keeps when it moves to another node,
-- goes when the actor stops there, as for an actor that never moved.
--   home ADDR: spawn a Counter, name it "away-counter", move it to the
--   node at ADDR, check the name reaches it there, stop it there; the
--   name must go (NameNotFound: its home let it go), and another actor
--   can take it (no AlreadyExists). Prints "ok".
local stage = require "stage"

local Counter = stage.actor "Counter"
function Counter:birth() self.n = 0 end
function Counter:bump() self.n = self.n + 1; return self.n end
function Counter:where() return tostring(stage.self()) end
function Counter:quit() stage.stop() end

function main(args)
  if args[1] == "idle" then return end
  local there = args[2]
  local c = Counter()
  assert(c:bump():await() == 1)
  stage.name("away-counter", c):await()
  stage.migrate(c, there):await()
  local at = stage.find_name("away-counter"):where():await()
  assert(at:find(there, 1, true), "the name reaches it at " .. at)
  assert(stage.find_name("away-counter"):bump():await() == 2)
  c:quit():await()
  -- the home hears GONE from the node it stopped at, then drops the name;
  -- until then, a lookup finds the stopped actor (ActorNotFound)
  local deadline = stage.now() + 10
  while true do
    local ok, e = pcall(function()
      return stage.find_name("away-counter"):bump():await(5)
    end)
    assert(not ok, "a stopped actor answered")
    if e.type == "NameNotFound" then break end
    assert(e.type == "ActorNotFound", tostring(e))
    assert(stage.now() < deadline, "the name stays: " .. tostring(e))
    stage.sleep(0.1):await()
  end
  local other = Counter()
  stage.name("away-counter", other):await() -- free again
  assert(stage.find_name("away-counter"):bump():await() == 1)
  print("ok")
  stage.exit(0)
end
