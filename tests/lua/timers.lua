-- stage.after runs fn once after secs, stage.every repeats until cancel;
-- both run as turns of the actor that set them (so they may use its
-- state); a cancelled timer never fires again; the node waits for timers.
local stage = require "stage"

local Ticker = stage.actor "Ticker"
function Ticker:birth() self.ticks = 0; self.log = {} end
-- Ticks every 'secs' until n ticks, then cancels; answers when done via
-- the returned future of a message it sends itself.
function Ticker:start(secs, n)
  local me = stage.self()
  local t0 = stage.now()
  self.timer = stage.every(secs, function()
    assert(stage.self() == me, "timer ran in another actor")
    self.ticks = self.ticks + 1
    self.log[#self.log + 1] = stage.now() - t0
    if self.ticks == n then self.timer:cancel() end
  end)
end
function Ticker:ticks_so_far() return self.ticks, self.log end
function Ticker:once(secs)
  local t0 = stage.now()
  stage.after(secs, function() self.after_at = stage.now() - t0 end)
end
function Ticker:after_at_value() return self.after_at end

function Ticker:report() return {ticks = self.ticks, log = self.log,
                                  after_at = self.after_at} end

function main(args)
  local t = Ticker()
  t:start(0.02, 3)
  t:once(0.1)

  -- after, in main: fires once, not before its time, as a turn of main
  -- (so only once main has returned: an actor runs one turn at a time)
  local t0 = stage.now()
  local fired = {}
  stage.after(0.05, function() fired[#fired + 1] = stage.now() - t0 end)
  -- a cancelled one never fires
  local never = stage.after(0.01, function() error("cancelled timer fired") end)
  never:cancel()
  local cancelled_every = stage.every(0.01, function()
    error("cancelled every fired")
  end)
  cancelled_every:cancel()

  -- the checks run in a later timer; the node stays up for it
  stage.after(0.3, function()
    assert(#fired == 1, "after fired " .. #fired .. " times")
    assert(fired[1] >= 0.05 and fired[1] < 1, "after at " .. fired[1])
    local r = t:report():await()     -- a timer turn may await
    assert(r.ticks == 3, "every fired " .. r.ticks .. " times")
    for i = 1, 3 do
      assert(r.log[i] >= 0.02 * i - 0.001, "tick " .. i .. " at " .. r.log[i])
    end
    assert(r.after_at and r.after_at >= 0.1 and r.after_at < 1,
           "actor's after at " .. tostring(r.after_at))
    print("ok")
  end)
end
