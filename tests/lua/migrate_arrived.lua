-- stage.migrate(where) in arrived, at every arrival: the move is asked
-- once the messages the actor arrived with have been handled, so an actor
-- that keeps moving on still answers every call, in order (before, each
-- arrival's move overtook its mailbox, for ever). Run with --theatres 3.
local stage = require "stage"

local Rover = stage.actor "Rover"
function Rover:birth() self.n, self.arrivals = 0, 0 end
function Rover:arrived()
  self.arrivals = self.arrivals + 1
  if not self.parked then
    stage.migrate((stage.theatre() + 1) % stage.theatres())
  end
end
function Rover:add(k) self.n = self.n + k; return self.n end
function Rover:park() self.parked = true; return self.arrivals end
function Rover:where() return stage.theatre() end

function main()
  local r = Rover:spawn_at(0)
  assert(r:add(0):await() == 0) -- born: its hooks run from now
  local moved = stage.migrate(r, 1)
  local calls = {}
  for i = 1, 300 do calls[i] = r:add(1) end
  assert(moved:await() == r)
  for i = 1, 300 do
    assert(calls[i]:await() == i, "call " .. i .. " answered out of order")
  end
  local arrivals = r:park():await()
  assert(arrivals >= 1, "it never arrived")
  print("ok")
end
