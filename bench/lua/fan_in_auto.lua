-- bench/lua/fan_in_auto.lua: fan-in as a user writes it, without placing
-- anything: main spawns one receiver and 4 senders with Receiver(...) and
-- Sender(), and each sender sends N messages (default 1,000,000) into the
-- receiver's mailbox as fast as it can; the time runs until the receiver
-- has taken all 4 N. Unlike fan_in.lua, which puts sender i on theatre
-- i mod T by hand, the runtime's spawn placement decides where each actor
-- runs. Messages go one way (stage.send, like Erlang's !).
-- Prints messages per second (higher is better).
local stage = require "stage"

local SENDERS = 4

local function report(bench, value, unit, better)
  print(string.format('{"bench":"%s","impl":"lua","value":%.1f,'
    .. '"unit":"%s","better":"%s"}', bench, value, unit, better))
end

local Receiver = stage.actor "Receiver"

function Receiver:birth(total, t0)
  self.total, self.left, self.t0 = total, total, t0
end

function Receiver:msg()
  self.left = self.left - 1
  if self.left == 0 then
    report("fan_in_auto", self.total / (stage.now() - self.t0), "msgs/s",
      "higher")
  end
end

local Sender = stage.actor "Sender"

function Sender:flood(receiver, n)
  for _ = 1, n do
    stage.send(receiver, "msg")
  end
end

function main(args)
  local n = math.tointeger(tonumber(args[1])) or 1000000
  local t0 = stage.now()
  local receiver = Receiver(SENDERS * n, t0)
  for _ = 1, SENDERS do
    Sender():flood(receiver, n)
  end
end
