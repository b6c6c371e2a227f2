-- A receiver flooded by a sender on its own theatre keeps up: the sender's
-- one long handler is preempted every slice, and while it is, the receiver
-- gets a slice of its messages too, not the 100 a turn takes otherwise.
-- Erlang's scheduler is as fair (by reductions). Before, the receiver took
-- 100 messages per slice of the sender's, about 1% of the flood while it
-- lasted, and its mailbox grew by the whole flood. Run with --theatres 1.
local stage = require "stage"

local N = 300000

local Receiver = stage.actor "Receiver"

function Receiver:birth()
  self.n, self.marks = 0, {}
end

-- every 1,000th message notes the count and the time
function Receiver:msg()
  self.n = self.n + 1
  if self.n % 1000 == 0 then
    self.marks[#self.marks + 1] = { self.n, stage.now() }
  end
end

-- how many messages had been taken when the flood was sent (ended)
function Receiver:taken_by(ended)
  local taken = 0
  for _, m in ipairs(self.marks) do
    if m[2] <= ended then taken = m[1] end
  end
  return { taken = taken, all = self.n }
end

local Sender = stage.actor "Sender"

function Sender:flood(receiver, n)
  for _ = 1, n do
    stage.send(receiver, "msg")
  end
  return stage.now()
end

function main()
  assert(stage.theatres() == 1, "run with --theatres 1")
  local receiver, sender = Receiver(), Sender()
  local ended = sender:flood(receiver, N):await()
  local r = receiver:taken_by(ended):await()
  local taken, all = r.taken, r.all
  assert(all == N, "the receiver had " .. all .. " of " .. N)
  assert(taken >= N // 10, string.format(
    "the receiver had taken %d of %d messages when the flood ended",
    taken, N))
  print("ok")
end
