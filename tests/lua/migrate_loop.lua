-- An actor whose departing asks for another move of itself and keeps its
-- future in self: every move is refused (a future cannot travel) and asks
-- the next, on its own theatre, without end. The other actors of that
-- theatre must still run: main, on the same theatre, gets its answers and
-- stops the node. Run with --theatres 2.
local stage = require "stage"

local Looper = stage.actor "Looper"
function Looper:departing() self.f = stage.migrate(stage.self(), 1) end
function Looper:ping() return stage.theatre() end

local Echo = stage.actor "Echo"
function Echo:ping() return stage.theatre() end

function main()
  assert(stage.theatre() == 0)
  local looper = Looper:spawn_at(0)
  assert(looper:ping():await() == 0) -- born: its hooks run from now
  local near, far = Echo:spawn_at(0), Echo:spawn_at(1)
  local first = stage.migrate(looper, 1)
  local ok, err = pcall(function() return first:await() end)
  assert(not ok and tostring(err):find("self.f is a future", 1, true),
         tostring(err))
  for _ = 1, 5 do -- answers keep coming while the moves go on
    assert(far:ping():await() == 1)
    assert(near:ping():await() == 0)
    stage.sleep(0.001):await()
  end
  print("ok")
  stage.exit(0)
end
