-- An endless loop is preempted: the other actors of its theatre keep
-- answering meanwhile, and the looping message fails with BudgetExceeded
-- once it runs past the budget. Run with --theatres 1 --budget 1.
local stage = require "stage"

local Looper = stage.actor "Looper"
function Looper:loop() local i = 0; while true do i = i + 1 end end
function Looper:ping(i) return i end

local Pinger = stage.actor "Pinger"
function Pinger:ping(i) return i end

function main(args)
  assert(stage.theatres() == 1, "run with --theatres 1")
  local looper, other = Looper(), Pinger()
  local t0 = stage.now()
  local looping = looper:loop()
  -- while it loops, another actor of the same theatre answers
  for i = 1, 5 do assert(other:ping(i):await() == i) end
  assert(not looping:done(), "the loop ended early")
  assert(stage.now() - t0 < 1, "answers waited for the loop")

  local ok, err = pcall(looping.await, looping)
  local took = stage.now() - t0
  assert(not ok and type(err) == "table", tostring(err))
  assert(err.type == "BudgetExceeded", tostring(err))
  assert(err.actor == tostring(looper), tostring(err.actor))
  assert(took >= 1 and took < 3, "failed after " .. took .. " s")

  -- the looper itself is fine afterwards
  assert(looper:ping(7):await() == 7)
  print("ok")
end
