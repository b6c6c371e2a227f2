-- Awaiting a message the awaiting actor sent to itself raises Deadlock at
-- once instead of hanging, in main and in a handler; the message itself is
-- still handled later, and the actor keeps working.
local stage = require "stage"

local Self = stage.actor "Self"
function Self:birth() self.n = 0 end
function Self:bump() self.n = self.n + 1; return self.n end
function Self:count() return self.n end
-- Sends bump to itself and awaits it: must fail at once.
function Self:self_await()
  local ok, err = pcall(function() return stage.self():bump():await() end)
  assert(not ok)
  return {type = err.type, text = tostring(err)}
end

local function is_deadlock(err, t0)
  assert(type(err) == "table" and err.type == "Deadlock", tostring(err))
  local text = err.text or tostring(err)
  assert(text:find("^Deadlock: "), text)
  assert(stage.now() - t0 < 0.5, "Deadlock took " .. stage.now() - t0 .. " s")
end


function main(args)
  local s = Self()
  local t0 = stage.now()
  local err = s:self_await():await()
  is_deadlock(err, t0)
  -- the bump it sent to itself ran after that handler
  assert(s:count():await() == 1)

  -- with a timeout too: no waiting for the timeout
  t0 = stage.now()
  local ok
  ok, err = pcall(function()
    return stage.self():anything():await(10)
  end)
  assert(not ok)
  is_deadlock(err, t0)
  -- next/catch on a self-sent message are fine: they do not block
  local f = s:bump():next(function(v) return v * 10 end)
  assert(f:await() == 20)
  print("ok")
end
