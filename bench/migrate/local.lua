-- bench/migrate/local.lua: moves between the theatres of one node.
--   move_theatre       µs per move of a small actor, awaited from another
--                      theatre (stage.migrate(ref, where):await(), the
--                      round trip included), back and forth between
--                      theatres 0 and 1
--   move_theatre_100k  the same with 100 KB of state (1,000 strings of
--                      100 bytes in a table)
--   msgs_staying       messages/s from a sender to an actor that stays
--   msgs_moving        the same to an actor that moves to the other
--                      theatre every 10 ms (issue 11: at least 50% of
--                      msgs_staying); `moves` says how many times it did
-- The sender sends in windows of 1,000 one-way messages closed by a call,
-- as a program with flow control would. Prints one JSON line per result.
-- Run: stage run bench/migrate/local.lua [moves] [messages]
local stage = require "stage"

local function report(bench, value, unit, better, extra)
  print(string.format('{"bench":"%s","impl":"lua","value":%.2f,'
    .. '"unit":"%s","better":"%s"%s}', bench, value, unit, better,
    extra or ""))
end

local Box = stage.actor "Box"

function Box:birth(kb)
  self.data = {}
  for i = 1, kb * 10 do self.data[i] = string.rep("x", 100) end
end

function Box:ping() return true end

-- µs per move of a Box with kb KB of state, moves times.
local function moves(kb, n)
  local box = Box:spawn_at(0, kb)
  box:ping():await()
  local t0 = stage.now()
  for i = 1, n do stage.migrate(box, i % 2):await() end
  local us = (stage.now() - t0) * 1e6 / n
  stage.stop(box)
  return us
end

local Sink = stage.actor "Sink"

function Sink:birth(every)
  self.n, self.every, self.moves = 0, every, 0
  self.last = stage.now()
end

function Sink:put(i)
  if i ~= self.n + 1 then error("message " .. i .. " out of order") end
  self.n = i
  if self.every and stage.now() - self.last >= self.every then
    self.last = stage.now()
    stage.migrate(1 - stage.theatre())
  end
end

function Sink:arrived() self.moves = self.moves + 1 end

function Sink:sync() return {n = self.n, moves = self.moves} end

local Sender = stage.actor "Sender"

-- Send n numbered messages to sink in windows of 1,000; messages/s.
function Sender:flood(sink, n)
  local t0 = stage.now()
  local r
  for w = 0, n - 1, 1000 do
    for i = w + 1, math.min(w + 1000, n) do stage.send(sink, "put", i) end
    r = sink:sync():await()
  end
  if r.n ~= n then error("the sink got " .. r.n .. " of " .. n) end
  return {rate = n / (stage.now() - t0), moves = r.moves}
end

local function flood(every, n)
  local sink = Sink:spawn_at(1 % stage.theatres(), every)
  local r = Sender:spawn_at(0):flood(sink, n):await()
  stage.stop(sink)
  return r
end

function main(args)
  local nmoves = math.tointeger(tonumber(args[1])) or 20000
  local nmsgs = math.tointeger(tonumber(args[2])) or 1000000
  report("move_theatre", moves(0, nmoves), "us", "lower")
  report("move_theatre_100k", moves(100, nmoves // 10), "us", "lower")
  local stay = flood(nil, nmsgs)
  report("msgs_staying", stay.rate, "msgs/s", "higher")
  local move = flood(0.01, nmsgs)
  report("msgs_moving", move.rate, "msgs/s", "higher",
    string.format(',"moves":%d,"of_staying":%.3f', move.moves,
      move.rate / stay.rate))
end
