-- A Sink named args[1]: put(i) (sent one way) must come as 1, 2, 3, ...;
-- each put out of that order (a hole, a duplicate) is printed at once.
local stage = require "stage"

local Sink = stage.actor "Sink"
function Sink:birth() self.last = 0; self.wrong = 0 end
function Sink:put(i)
  if i ~= self.last + 1 then
    print("put " .. i .. " after " .. self.last)
    self.wrong = self.wrong + 1
  end
  self.last = i
end
function Sink:echo(i) return i end
function Sink:whoami() return stage.self() end
function Sink:report() return {self.last, self.wrong} end

function main(args)
  assert(stage.name(args[1], Sink()):await())
  print("ready " .. args[1])
end
