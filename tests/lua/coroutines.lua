-- Handlers may use coroutines of their own: a generator runs to the end
-- (preemption does not disturb it), and await inside such a coroutine
-- gives the value (or a clear error), never a silent nil.
local stage = require "stage"

local T = stage.actor "T"
function T:echo(x) return x end
function T:generate(n)
  local out = {}
  local gen = coroutine.wrap(function()
    for i = 1, n do coroutine.yield(i) end
  end)
  for v in gen do out[#out + 1] = v end
  return #out, out[n]
end
function T:await_in_coroutine(other)
  local ok, v = pcall(coroutine.wrap(function()
    return other:echo(5):await()
  end))
  if ok then return v end
  return "error: " .. tostring(v)
end

function main(args)
  local a, b = T(), T()
  -- long enough to be preempted several times
  assert(a:generate(300000):await() == 300000)
  local v = a:await_in_coroutine(b):await()
  assert(v == 5 or (type(v) == "string" and v:find("coroutine")),
         "await in a coroutine gave " .. tostring(v))
  print("ok")
end
