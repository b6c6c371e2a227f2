-- A one-shot timer (stage.after) that has fired cannot fire again: it does
-- not keep its actor from moving, though its handle has not been
-- collected yet; one that has not fired, or an every, does (NotSendable).
-- Run with --theatres 2.
local stage = require "stage"

local M = stage.actor "M"
function M:birth() self.fired = 0 end
-- the handle is kept in a local of the test, out of the collector's reach
-- until main ends: the runtime still finds the timer by it
local handles = {}
function M:once(secs)
  handles[#handles + 1] = stage.after(secs, function() self.fired = self.fired + 1 end)
end
function M:fired_count() return self.fired end
function M:where() return stage.theatre() end
function M:cancel_all() for _, h in ipairs(handles) do h:cancel() end end

function main()
  local m = M:spawn_at(0)
  m:once(0.01):await()
  local deadline = stage.now() + 10
  while m:fired_count():await() < 1 do -- wait for the firing, loudly
    assert(stage.now() < deadline, "the timer never fired")
    stage.sleep(0.01):await()
  end
  assert(stage.migrate(m, 1):await() == m, "a fired one-shot refused the move")
  assert(m:where():await() == 1)
  m:once(30):await() -- armed: refused, named
  local ok, err = pcall(function() return stage.migrate(m, 0):await() end)
  assert(not ok and tostring(err):find("has 1 timer that may still fire", 1, true),
         tostring(err))
  assert(m:where():await() == 1)
  m:cancel_all():await()
  assert(stage.migrate(m, 0):await() == m)
  print("ok")
end
