-- tests/cluster/name_away.lua (cluster.name_away): the names of an actor
-- that moved to another node. Its birth node holds them, for its first
-- id: given before the move, or after it through that id, from the birth
-- node or from another one. They reach the actor where it lives, and go
-- when it stops there, as for an actor that never moved.
--   home ADDR (with --files DIR): spawn a Counter, name it
--   "away-counter", move it to the node at ADDR, name it "later-counter"
--   through its first id, print "moved ID" (its first id), wait for the
--   file "named" (the test's "namer" gave it "remote-counter" meanwhile),
--   check the three names reach it there, stop it; each name must go
--   (NameNotFound: its home let them go), and another actor can take
--   them (no AlreadyExists). Prints "ok".
--   namer ID: name the actor ID "remote-counter" (a NAME to its birth
--   node). Prints "named".
local stage = require "stage"

local Counter = stage.actor "Counter"
function Counter:birth() self.n = 0 end
function Counter:bump() self.n = self.n + 1; return self.n end
function Counter:where() return tostring(stage.self()) end
function Counter:quit() stage.stop() end

local NAMES = { "away-counter", "later-counter", "remote-counter" }

-- until name is gone (NameNotFound), or fail past the deadline
local function gone(name)
  local deadline = stage.now() + 10
  while true do
    local ok, e = pcall(function()
      return stage.find_name(name):bump():await(5)
    end)
    assert(not ok, "a stopped actor answered")
    if e.type == "NameNotFound" then return end
    -- until its home heard that it stopped: the name finds the actor gone
    assert(e.type == "ActorNotFound", tostring(e))
    assert(stage.now() < deadline, name .. " stays: " .. tostring(e))
    stage.sleep(0.1):await()
  end
end

local function home(there)
  local c = Counter()
  assert(c:bump():await() == 1)
  stage.name("away-counter", c):await()
  stage.migrate(c, there):await()
  stage.name("later-counter", c):await() -- through its first id, away
  print("moved " .. tostring(c))
  local deadline = stage.now() + 20
  while not stage.files:exists("named"):await() do
    assert(stage.now() < deadline, "never named from another node")
    stage.sleep(0.05):await()
  end
  for i, name in ipairs(NAMES) do
    local at = stage.find_name(name):where():await()
    assert(at:find(there, 1, true), name .. " reaches it at " .. at)
    assert(stage.find_name(name):bump():await() == i + 1)
  end
  c:quit():await()
  for _, name in ipairs(NAMES) do gone(name) end
  local other = Counter()
  for _, name in ipairs(NAMES) do
    stage.name(name, other):await() -- free again
  end
  assert(stage.find_name("remote-counter"):bump():await() == 1)
  print("ok")
  stage.exit(0)
end

function main(args)
  if args[1] == "idle" then return end
  if args[1] == "namer" then
    stage.name("remote-counter", stage.ref(args[2])):await()
    print("named")
    stage.exit(0)
  end
  return home(args[2])
end
