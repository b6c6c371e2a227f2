-- A cancel stops a timer's turn that is already queued: the timers fire
-- while their actor is preempted in a long handler (the theatre runs its
-- timers meanwhile), the handler then cancels them, and their turns,
-- queued behind it, never run. Run with --theatres 1: the actors share
-- one Lua state, whose global PASSED tells the handler that a pass over
-- the timers has happened since it armed its own.
local stage = require "stage"

local Marker = stage.actor "Marker"
function Marker:arm()
  stage.after(0, function() PASSED = true end)
end

local Busy = stage.actor "Busy"
function Busy:birth() self.ran = {} end
function Busy:run(marker)
  PASSED = false
  local once = stage.after(0, function() self.ran[#self.ran + 1] = "after" end)
  local every = stage.every(0.001, function()
    self.ran[#self.ran + 1] = "every"
  end)
  local t0 = stage.now()
  while stage.now() - t0 < 0.002 do end -- every is due too
  marker:arm()
  -- preempted until the marker's timer has fired: ours fired in that pass
  -- or before, so their turns wait in our mailbox now
  while not PASSED do end
  once:cancel()
  every:cancel()
end
function Busy:ran_turns() return self.ran end

function main()
  local b, m = Busy(), Marker()
  b:run(m):await()
  -- sent after run returned: behind the turns the timers queued
  local ran = b:ran_turns():await()
  assert(#ran == 0, "a cancelled timer's queued turn ran: " ..
         table.concat(ran, ", "))
  print("ok")
end
