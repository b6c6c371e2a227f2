-- The race of the thesis's section 5.3.1: an actor that moves between two
-- theatres faster than a sender can retry. In the thesis (Stage# on
-- CPython) a sender whose message missed the actor asked the migrations
-- store and sent again, and could chase the actor for ever:
--
--   1. A migrates from T1 to T2     5. B sends T2 a message for A
--   2. B sends T1 a message for A   6. A migrates from T2 to T1
--   3. T1 replies ActorNotFound     7. T2 replies ActorNotFound
--   4. B queries migration store    8. ... GOTO 2
--
-- Here a Runner hops between theatres 0 and 1 after every message it
-- handles, while a Sender on another theatre sends it numbered messages as
-- fast as it can. Nothing is bounced: the Runner's birth theatre holds
-- and forwards what arrives while it moves (docs/migration.md), so every
-- message arrives once, in the order sent, however fast it moves.
-- Run: stage run examples/migration_race.lua [messages]
local stage = require "stage"

local Runner = stage.actor "Runner"

function Runner:birth()
  self.next, self.moves, self.theatres = 1, 0, {}
end

-- Each message: check its number, then move to the other theatre.
function Runner:put(i)
  if i ~= self.next then
    error(string.format("message %d arrived when %d was due", i, self.next))
  end
  self.next = i + 1
  self.theatres[stage.theatre()] = true
  stage.migrate(1 - stage.theatre())
end

function Runner:arrived() self.moves = self.moves + 1 end

function Runner:report()
  return {got = self.next - 1, moves = self.moves,
          both = self.theatres[0] and self.theatres[1]}
end

local Sender = stage.actor "Sender"

function Sender:run(runner, n)
  for i = 1, n do runner:put(i) end
  return runner:report():await()
end

function main(args)
  local n = math.tointeger(tonumber(args[1])) or 1000
  local runner = Runner:spawn_at(0)
  local r = Sender:spawn_at(2 % stage.theatres()):run(runner, n):await()
  print(string.format("%d messages sent while the runner moved", n))
  print(string.format("%d arrived, in order", r.got))
  print("it ran on both theatres: " .. tostring(r.both))
  print("it moved more than 100 times: " .. tostring(r.moves > 100))
end
