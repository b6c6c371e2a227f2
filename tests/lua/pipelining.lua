-- A future passed as an argument is resolved before delivery without
-- blocking the sender; messages sent later to the same target still
-- arrive after it; if the future fails, the message is not delivered and
-- its own future fails.
local stage = require "stage"

local Log = stage.actor "Log"
function Log:birth() self.items = {} end
function Log:add(...) self.items[#self.items + 1] = table.concat({...}, "+") end
function Log:all() return self.items end

local Slow = stage.actor "Slow"
-- Answers after 'secs' seconds of work (preempted, so others run).
function Slow:value(x, secs)
  local t0 = stage.now()
  while stage.now() - t0 < secs do end
  return x
end
function Slow:fail(msg) error(msg) end

function main(args)
  local last = stage.theatres() - 1
  local log = Log:spawn_at(last)
  local slow = Slow:spawn_at(0)

  local t0 = stage.now()
  local pending = slow:value("first", 0.3)
  log:add(pending)               -- a future as the argument
  log:add("second")              -- sent later: must arrive after it
  log:add(pending, "third")      -- the same future again, with a value
  assert(stage.now() - t0 < 0.2, "sending with a future argument blocked")
  assert(not pending:done())
  local items = log:all():await()
  assert(#items == 3, #items)
  assert(items[1] == "first" and items[2] == "second", items[1])
  assert(items[3] == "first+third", items[3])

  -- a resolved future and one that resolves sooner still wait their turn
  local fast = Slow:spawn_at(last)
  local resolved = fast:value("resolved", 0)
  resolved:await()
  local log3 = Log:spawn_at(last)
  log3:add(slow:value("slow", 0.1))
  log3:add(resolved)
  log3:add(fast:value("fast", 0))
  log3:add("plain")
  local order = table.concat(log3:all():await(), ",")
  assert(order == "slow,resolved,fast,plain", order)

  -- a chain: each result feeds the next message, nothing awaited between
  local a = slow:value(1, 0)
  local b = slow:value(a, 0)
  assert(slow:value(b, 0):await() == 1)

  -- a failed argument: the message is not delivered, its future fails
  local log2 = Log()
  local f = log2:add(slow:fail("argument broke"))
  log2:add("after")
  local ok, err = pcall(f.await, f)
  assert(not ok and tostring(err):find("argument broke", 1, true),
         tostring(err))
  local got = log2:all():await()
  assert(#got == 1 and got[1] == "after", #got)
  print("ok")
end
