-- Every endless loop is stopped, not only the first: a second looping
-- message on the same theatre (same actor, then another actor) also fails
-- with BudgetExceeded, and can be caught. Run with --theatres 1 --budget 0.3.
local stage = require "stage"

local Looper = stage.actor "Looper"
function Looper:loop() local i = 0; while true do i = i + 1 end end
function Looper:ping(i) return i end

local function budget_fails(f)
  local v = f:catch(function(e) return e.type end):await(5)
  assert(v == "BudgetExceeded", tostring(v))
end

function main(args)
  assert(stage.theatres() == 1, "run with --theatres 1")
  local a = Looper()
  budget_fails(a:loop())
  assert(a:ping(1):await() == 1)
  budget_fails(a:loop())      -- the same actor loops again
  budget_fails(Looper():loop()) -- another actor of the same theatre
  print("ok")
end
