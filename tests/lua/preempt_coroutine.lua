-- An endless loop inside a coroutine that a handler created is preempted
-- and failed like one in the handler itself. Run with --theatres 1
-- --budget 0.3.
local stage = require "stage"

local T = stage.actor "T"
function T:loop_in_coroutine()
  coroutine.wrap(function() while true do end end)()
end
function T:ping(i) return i end

function main(args)
  assert(stage.theatres() == 1, "run with --theatres 1")
  local looper, other = T(), T()
  local f = looper:loop_in_coroutine()
  for i = 1, 3 do assert(other:ping(i):await(2) == i) end
  local v = f:catch(function(e) return e.type end):await(5)
  assert(v == "BudgetExceeded", tostring(v))
  print("ok")
end
