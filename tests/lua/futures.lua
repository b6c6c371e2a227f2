-- Futures keep their outcome: awaiting twice gives the same value or
-- raises the same failure; done() turns true; many futures joined at once
-- (20,000 actors over the theatres) all arrive in order.
local stage = require "stage"

local T = stage.actor "T"
function T:echo(x) return x end
function T:fail() error("always fails") end

function main(args)
  local a = T()
  local f = a:echo({3})
  assert(f:await()[1] == 3 and f:await()[1] == 3)
  assert(f:done())
  local g = a:fail()
  for _ = 1, 2 do
    local ok, err = pcall(g.await, g)
    assert(not ok and err.message:find("always fails", 1, true))
  end
  assert(g:done())
  assert(tostring(a:echo(1)) == "1") -- its value, waited for (lazy.lua)

  local n = 20000
  local fs = {}
  for i = 1, n do fs[i] = T:spawn_at(i % stage.theatres()):echo(i) end
  local r = stage.join(fs):await()
  assert(#r == n)
  for i = 1, n do assert(r[i] == i, "result " .. i .. " is " .. tostring(r[i])) end
  print("ok")
end
