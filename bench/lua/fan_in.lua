-- bench/lua/fan_in.lua: 4 sender actors each send N messages (default
-- 1,000,000) into one receiver's mailbox, as fast as they can; the time
-- runs until the receiver has taken all 4 N. The senders are spread over
-- the theatres (sender i on theatre i mod T), the receiver is on theatre 0.
-- Messages go one way (stage.send, like Erlang's !): nobody needs a reply.
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
    report("fan_in", self.total / (stage.now() - self.t0), "msgs/s", "higher")
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
  for i = 0, SENDERS - 1 do
    Sender:spawn_at(i % stage.theatres()):flood(receiver, n)
  end
end
