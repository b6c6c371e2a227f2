-- Timers set in death() die with the actor too: an every() there never
-- runs, and the node still stops at quiescence (this test is killed, and
-- fails, if it does not).
local stage = require "stage"

local Sink = stage.actor "Sink"
function Sink:birth() self.n = 0 end
function Sink:tick() self.n = self.n + 1 end
function Sink:count() return self.n end

local Ticker = stage.actor "Ticker"
function Ticker:birth(sink) self.sink = sink end
function Ticker:quit() stage.stop() end
function Ticker:death()
  local sink = self.sink
  stage.every(0.01, function() sink:tick() end)
end

function main(args)
  local sink = Sink()
  Ticker(sink):quit():await()
  stage.after(0.1, function()
    local n = sink:count():await()
    assert(n == 0, "a timer set in death ran " .. n .. " times")
    print("ok")
  end)
end
