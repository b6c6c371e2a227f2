-- await suspends only the awaiting actor: its theatre keeps running the
-- others, when main awaits and when a handler awaits. Run with
-- --theatres 1, so that everything shares one thread.
local stage = require "stage"

local Worker = stage.actor "Worker"
function Worker:spin(secs)          -- busy for secs (preempted meanwhile)
  local t0 = stage.now()
  while stage.now() - t0 < secs do end
  return "spun"
end
function Worker:ping(i) return i end

local Relay = stage.actor "Relay"
-- Awaits another actor of the same theatre inside a handler.
function Relay:relay(worker, secs) return "relayed " .. worker:spin(secs):await() end
function Relay:ping(i) return i end

function main(args)
  assert(stage.theatres() == 1, "run with --theatres 1")
  -- main awaits a chain of two actors on its own theatre
  local relay, worker = Relay(), Worker()
  assert(relay:relay(worker, 0):await() == "relayed spun")

  -- while relay awaits the worker, a third actor answers main
  local other = Worker()
  local t0 = stage.now()
  local pending = relay:relay(worker, 0.6)
  for i = 1, 5 do assert(other:ping(i):await() == i) end
  assert(not pending:done(), "the relay finished too soon")
  assert(stage.now() - t0 < 0.6, "pings waited for the relay")
  assert(pending:await() == "relayed spun")
  print("ok")
end
