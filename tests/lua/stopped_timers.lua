-- The timers of an actor that stops die with it: the node still stops at
-- quiescence (this test is killed, and fails, if it does not), and their
-- callbacks never run after death.
local stage = require "stage"

local Ticker = stage.actor "Ticker"
function Ticker:start(sink)
  stage.every(0.01, function() sink:tick() end)
  stage.after(0.05, function() sink:tick() end)
  stage.stop()
end

local Sink = stage.actor "Sink"
function Sink:birth() self.n = 0 end
function Sink:tick() self.n = self.n + 1 end
function Sink:count() return self.n end

function main(args)
  local sink = Sink()
  Ticker():start(sink):await()
  -- main's own timer checks later that no tick came after the stop
  stage.after(0.1, function()
    local n = sink:count():await()
    assert(n == 0, "the stopped actor's timers ran " .. n .. " times")
    print("ok")
  end)
end
