-- stage.sleep(secs) is a future that resolves to nil after secs: awaiting
-- it suspends only the awaiting actor. Run with --theatres 1.
local stage = require "stage"

local Napper = stage.actor "Napper"
function Napper:nap(secs)
  local t0 = stage.now()
  stage.sleep(secs):await()
  return stage.now() - t0
end
function Napper:ping(i) return i end

function main(args)
  local t0 = stage.now()
  assert(stage.sleep(0.05):await() == nil)
  assert(stage.now() - t0 >= 0.05)

  -- a napping actor does not hold up the others of its theatre
  local napper, other = Napper(), Napper()
  t0 = stage.now()
  local nap = napper:nap(0.3)
  for i = 1, 5 do assert(other:ping(i):await() == i) end
  assert(not nap:done() and stage.now() - t0 < 0.3)
  assert(nap:await() >= 0.3)
  -- it chains like any future
  assert(stage.sleep(0):next(function() return "woke" end):await() == "woke")
  print("ok")
end
