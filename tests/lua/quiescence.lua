-- The node stops only when nothing is left to do: main may return while
-- a slow message, its next() continuation and a timer are pending; all of
-- them still run, then the node exits 0. Checked by the "ok" printed last
-- by the continuation (the test is killed if the node never stops).
local stage = require "stage"

local Slow = stage.actor "Slow"
function Slow:work(secs)
  local t0 = stage.now()
  while stage.now() - t0 < secs do end
  return "worked"
end

local state = {timer = false}

function main(args)
  local slow = Slow:spawn_at(stage.theatres() - 1)
  stage.after(0.05, function() state.timer = true end)
  slow:work(0.2):next(function(v)
    assert(v == "worked")
    return slow:work(0.05)              -- and one more hop after that
  end):next(function(v)
    assert(state.timer, "the timer did not run first")
    print("ok")
  end)
  -- main returns here, with all of that pending
end
