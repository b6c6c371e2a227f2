-- bench/reliability/sink.lua: the receiving end of bench/reliability. A
-- named actor that checks each sender's one-way messages arrive once and
-- in order, and answers calls.
local stage = require "stage"

local Sink = stage.actor "Sink"

function Sink:birth()
  self.last = {} -- sender -> highest i seen
  self.seen = {} -- sender -> {i = true}
  self.got, self.dup, self.late = 0, 0, 0
end

-- One-way: message i of sender. A repeat is a duplicate; one below the
-- highest seen that is new arrived out of order.
function Sink:put(sender, i)
  local seen = self.seen[sender] or {}
  self.seen[sender] = seen
  if seen[i] then
    self.dup = self.dup + 1
    return
  end
  seen[i] = true
  self.got = self.got + 1
  local last = self.last[sender] or 0
  if i < last then self.late = self.late + 1 end
  if i > last then self.last[sender] = i end
end

function Sink:ping(i) return i end

-- What sender's messages 1..n gave: received, lost, duplicated, late.
function Sink:report(sender, n)
  local seen = self.seen[sender] or {}
  local lost = 0
  for i = 1, n do
    if not seen[i] then lost = lost + 1 end
  end
  return { got = self.got, lost = lost, dup = self.dup, late = self.late }
end

function main()
  stage.name("sink", Sink()):await()
  print("ready")
end
