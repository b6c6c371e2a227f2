-- Messages from one actor to another arrive in send order: many messages,
-- on one theatre and across theatres (spawn_at), from main and from an
-- actor. Run with --theatres 3.
local stage = require "stage"

local Log = stage.actor "Log"
function Log:birth() self.seen = {} end
function Log:add(i) self.seen[#self.seen + 1] = i end
function Log:all() return self.seen end

local Sender = stage.actor "Sender"
-- Sends 1..n to the log at 'to' without waiting, then asks for the list.
function Sender:flood(to, n)
  for i = 1, n do to:add(i) end
  return to:all()
end

-- Sends (tag, 1..n) to 'to' without waiting; answers when all are sent.
function Sender:tagged(to, tag, n)
  for i = 1, n do to:put(tag, i) end
  return true
end

-- Keeps, per sender tag, the numbers in arrival order. Now and then it
-- runs past its slice, so it is preempted while messages keep arriving.
local Sink = stage.actor "Sink"
function Sink:birth() self.by = {} end
function Sink:put(tag, i)
  if i % 500 == 0 then
    local t0 = stage.now()
    while stage.now() - t0 < 0.015 do end
  end
  local list = self.by[tag] or {}
  self.by[tag] = list
  list[#list + 1] = i
end
function Sink:all() return self.by end

local N = 2000

local function check(list, n, what)
  assert(#list == n, what .. ": got " .. #list .. " messages, wanted " .. n)
  for i = 1, n do
    assert(list[i] == i, what .. ": message " .. i .. " arrived as " ..
           tostring(list[i]))
  end
end

function main(args)
  assert(stage.theatres() == 3, "run with --theatres 3")
  local here = Log()
  for i = 1, N do here:add(i) end
  check(here:all():await(), N, "same theatre")

  local there = Log:spawn_at(2)
  for i = 1, N do there:add(i) end
  check(there:all():await(), N, "main to theatre 2")

  -- actor to actor, across theatres, several pairs at once
  local futures = {}
  for k = 1, 4 do
    local s = Sender:spawn_at(k % 3)
    local log = Log:spawn_at((k + 1) % 3)
    futures[k] = s:flood(log, N)
  end
  for k, f in ipairs(futures) do check(f:await(), N, "pair " .. k) end

  -- fan-in: six senders on every theatre into one sink; each sender's
  -- messages keep their order, whatever the interleaving
  local sink = Sink:spawn_at(1)
  local sent = {}
  for k = 1, 6 do
    sent[k] = Sender:spawn_at(k % 3):tagged(sink, "s" .. k, N)
  end
  stage.join(sent):await()
  -- each sender's last message was sent before its reply: but messages of
  -- different senders have no order, so ask until all have arrived
  local by
  local t0 = stage.now()
  repeat
    by = sink:all():await()
    local total = 0
    for _, list in pairs(by) do total = total + #list end
  until total == 6 * N or stage.now() - t0 > 5
  for k = 1, 6 do check(by["s" .. k] or {}, N, "sender " .. k) end
  print("ok")
end
