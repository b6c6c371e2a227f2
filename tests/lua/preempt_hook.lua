-- A handler preempted at the end of its slices leaves nothing behind on
-- the coroutine it ran in: a short handler run there next (a few hundred
-- thousand Lua instructions, far under a slice) runs whole, and another
-- actor's message queued behind it waits for it to end. Before, the
-- preemption left a count hook on the coroutine, which went back to the
-- pool with it and yielded every later handler it ran each 100,000
-- instructions, asked or not: the other actor ran in the middle. Coroutines
-- are pooled last in, first out, so the short handler runs in the one the
-- long handler was preempted in. Run with --theatres 1 --slice 0.05.
local stage = require "stage"

local Log = stage.actor "Log"
function Log:birth() self.events = {} end
function Log:note(what) self.events[#self.events + 1] = what end
function Log:all() return self.events end

local Worker = stage.actor "Worker"

-- preempted several times: it runs a few slices
function Worker:long(secs)
  local t0 = stage.now()
  while stage.now() - t0 < secs do end
  return true
end

-- about 600,000 Lua instructions, then a note
function Worker:short(log)
  local s = 0
  for i = 1, 150000 do s = s + i end
  stage.send(log, "note", "short ended")
  return s
end

function Worker:other(log)
  stage.send(log, "note", "other ran")
end

function main()
  assert(stage.theatres() == 1, "run with --theatres 1")
  local log, a, b = Log(), Worker(), Worker()
  for round = 1, 3 do
    assert(a:long(0.2):await())
    local short = a:short(log) -- queued before b's message: runs first
    b:other(log)
    assert(short:await() == 150000 * 150001 // 2)
    local events = log:all():await()
    local n = #events
    assert(events[n - 1] == "short ended" and events[n] == "other ran",
      string.format("round %d: the short handler was preempted: %s, %s",
        round, tostring(events[n - 1]), tostring(events[n])))
  end
  print("ok")
end
