-- await(secs) and due(secs) raise Timeout when no result comes in time; a
-- result in time passes through. The slow futures here cannot finish
-- early: a Stuck actor awaits a Partner that needs the Stuck actor to
-- answer first (a cycle), until the Stuck actor gives up after 'patience'.
local stage = require "stage"

local Stuck = stage.actor "Stuck"
function Stuck:ask(partner, patience)
  local ok = pcall(function()
    return partner:call_back(stage.self()):await(patience)
  end)
  return ok and "answered" or "gave up"
end
function Stuck:pong() return "pong" end
function Stuck:quick(x) return x end

local Partner = stage.actor "Partner"
function Partner:call_back(who) return who:pong():await() end

-- A future that stays pending for about 'secs' seconds.
local function slow(secs) return Stuck():ask(Partner(), secs) end

-- Runs fn, which must raise Timeout; returns the seconds it took.
local function times_out(fn)
  local t0 = stage.now()
  local ok, err = pcall(fn)
  local took = stage.now() - t0
  assert(not ok, "no timeout")
  assert(type(err) == "table" and err.type == "Timeout", tostring(err))
  assert(tostring(err):find("^Timeout: "), tostring(err))
  return took
end

function main(args)
  local took = times_out(function() return slow(0.6):await(0.1) end)
  assert(took >= 0.1 and took < 0.6, "await(0.1) took " .. took)

  took = times_out(function() return slow(0.6):due(0.1):await() end)
  assert(took >= 0.1 and took < 0.6, "due(0.1) took " .. took)

  -- the slow future does finish, and then the value arrives
  assert(slow(0.05):await() == "gave up")

  -- due returns the future itself; in time, the value passes through
  local quick = Stuck()
  local f = quick:quick(5)
  assert(f:due(1) == f and f:await() == 5)
  assert(quick:quick(7):await(5) == 7)
  assert(quick:quick(8):due(5):await() == 8)
  assert(quick:quick(9):due(5):next(function(v) return v + 1 end):await()
         == 10)
  -- a timed-out future can be caught like any failure
  local v = slow(0.6):due(0.05):catch(function(e) return e.type end)
  assert(v:await() == "Timeout")
  print("ok")
end
