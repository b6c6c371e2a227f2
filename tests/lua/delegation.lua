-- A handler that returns a future delegates its reply to it (SALSA's
-- first-class continuation): the caller gets the delegate's value, or its
-- failure; the delegating actor is free meanwhile.
local stage = require "stage"

local Worker = stage.actor "Worker"
function Worker:square(x) return x * x end
function Worker:fail(msg) error(msg) end
function Worker:slow(x, secs)
  local t0 = stage.now()
  while stage.now() - t0 < secs do end
  return x
end

local Front = stage.actor "Front"
function Front:birth(worker) self.worker = worker; self.handled = 0 end
function Front:square(x)
  self.handled = self.handled + 1
  return self.worker:square(x)          -- delegate
end
function Front:fail(msg) return self.worker:fail(msg) end
function Front:slow(x) return self.worker:slow(x, 0.5) end
function Front:handled_count() return self.handled end
-- delegate to another delegating actor
function Front:via(other, x) return other:square(x) end

function main(args)
  local worker = Worker:spawn_at(stage.theatres() - 1)
  local front = Front(worker)
  assert(front:square(7):await() == 49)

  local err = front:fail("delegate broke"):catch(function(e) return e end)
  err = err:await()
  assert(err.type == "HandlerError", tostring(err))
  assert(err.message:find("delegate broke", 1, true), err.message)

  -- while a delegated reply is pending, the front answers other messages
  local t0 = stage.now()
  local slow = front:slow("late")
  assert(front:handled_count():await() == 1)
  assert(not slow:done() and stage.now() - t0 < 0.5)
  assert(slow:await() == "late")

  -- two levels of delegation
  local front2 = Front(worker)
  assert(front2:via(front, 5):await() == 25)
  print("ok")
end
