-- stage.join{f1, f2, ...} is a future of {v1, v2, ...} in the order of the
-- futures, not of completion; the first failure fails the join.
local stage = require "stage"

local Worker = stage.actor "Worker"
function Worker:after(x, secs)
  local t0 = stage.now()
  while stage.now() - t0 < secs do end
  return x
end
function Worker:fail(msg) error(msg) end

function main(args)
  local n = stage.theatres()
  local ws = {}
  for i = 1, 4 do ws[i] = Worker:spawn_at(i % n) end
  -- the first finishes last
  local j = stage.join{ws[1]:after("a", 0.15), ws[2]:after("b", 0.05),
                       ws[3]:after("c", 0), ws[4]:after("d", 0.1)}
  local r = j:await()
  assert(#r == 4, #r)
  assert(r[1] == "a" and r[2] == "b" and r[3] == "c" and r[4] == "d",
         table.concat(r, ","))

  -- values of every kind, tables included
  r = stage.join{ws[1]:after({k = 1}, 0), ws[2]:after(2.5, 0)}:await()
  assert(r[1].k == 1 and r[2] == 2.5)

  -- a join is a future like others: next, catch, due
  local sum = stage.join{ws[1]:after(1, 0), ws[2]:after(2, 0)}
      :next(function(t) return t[1] + t[2] end)
  assert(sum:await() == 3)

  -- a failure fails the join, with the failing handler's message
  local bad = stage.join{ws[1]:after(1, 0.05), ws[2]:fail("one failed"),
                         ws[3]:after(3, 0)}
  local ok, err = pcall(bad.await, bad)
  assert(not ok and err.type == "HandlerError", tostring(err))
  assert(err.message:find("one failed", 1, true), err.message)
  local caught = stage.join{ws[3]:fail("x")}:catch(function(e)
    return "caught " .. e.type
  end)
  assert(caught:await() == "caught HandlerError")
  print("ok")
end
