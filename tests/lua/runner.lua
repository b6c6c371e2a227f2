-- Messages queued for one actor run in one resume of its turn's coroutine
-- (lactor.c, "the runner"), and each still runs as if alone: in order, a
-- call's reply is its own handler's result, a failure or a missing method
-- costs only its own message, an await holds the next message back until
-- its handler has returned, a stop ends the run at once, and a move takes
-- the rest along. A failure's traceback does not show the runner. Each case queues its messages from main before the
-- receiver runs (--theatres 2, main's theatre 0, the receivers spawned
-- there with spawn_at).
local stage = require "stage"

local Log = stage.actor("Log", { on_error = "keep" })

function Log:birth(other)
  self.got, self.other = {}, other
end

function Log:put(i)
  if i == 7 and self.raise then error("seven") end
  if i == 3 and self.other then
    self.other:ping():await() -- the messages behind it wait for it
  end
  if i == 3 and self.move_to then stage.migrate(self.move_to) end
  if i == 5 and self.stop then stage.stop() end
  self.got[#self.got + 1] = { i, stage.theatre() }
  if self.sink then stage.send(self.sink, "put", i) end
end

-- the same as a call: its reply is twice i
function Log:twice(i)
  self:put(i)
  return i * 2, "and more"
end

function Log:set(k, v)
  self[k] = v
end

function Log:list()
  return self.got
end

local Pong = stage.actor "Pong"

function Pong:ping()
  return "pong"
end

local function numbers(got)
  local s = {}
  for k, g in ipairs(got) do s[k] = g[1] end
  return table.concat(s, ",")
end

local function queue(log, n, extra)
  for i = 1, n do
    stage.send(log, "put", i)
    if extra and extra[i] then stage.send(log, extra[i]) end
  end
end

function main()
  assert(stage.theatres() == 2, "run with --theatres 2")
  assert(stage.theatre() == 0)

  -- in order, all of them
  local log = Log:spawn_at(0)
  queue(log, 1000)
  local got = log:list():await()
  assert(#got == 1000, "ran " .. #got .. " of 1000")
  for i = 1, 1000 do assert(got[i][1] == i, "message " .. i .. " out of order") end

  -- a failure (on_error "keep") and a missing method: the rest run
  log = Log:spawn_at(0)
  log:set("raise", true):await()
  queue(log, 10, { [4] = "no_such_method" })
  assert(numbers(log:list():await()) == "1,2,3,4,5,6,8,9,10",
    "after a failure: " .. numbers(log:list():await()))

  -- an await in the third: the fourth waits for it
  log = Log:spawn_at(0, Pong:spawn_at(1))
  queue(log, 10)
  assert(numbers(log:list():await()) == "1,2,3,4,5,6,7,8,9,10",
    "around an await: " .. numbers(log:list():await()))

  -- calls among one-way messages, one failing, one awaiting: each reply
  -- is its own handler's
  log = Log:spawn_at(0, Pong:spawn_at(1))
  log:set("raise", true):await()
  local replies = {}
  for i = 1, 10 do
    if i % 2 == 0 then replies[i] = log:twice(i) else stage.send(log, "put", i) end
  end
  for i = 2, 10, 2 do
    local ok, v = pcall(replies[i].await, replies[i])
    assert(ok and v == 2 * i, "call " .. i .. ": " .. tostring(v))
  end
  assert(numbers(log:list():await()) == "1,2,3,4,5,6,8,9,10",
    "calls and messages: " .. numbers(log:list():await()))
  replies = {}
  for i = 1, 10 do replies[i] = log:twice(i) end
  for i = 1, 10 do
    local ok, v = pcall(replies[i].await, replies[i])
    if i == 7 then
      assert(not ok and v.type == "HandlerError" and v.message:find("seven"),
        "the failing call: " .. tostring(v))
      -- its traceback is the handler's, without the runner under it
      assert(v.traceback:find("runner.lua:18:", 1, true), v.traceback)
      assert(not v.traceback:find("[C]: in ?", 1, true), v.traceback)
    else
      assert(ok and v == 2 * i, "call " .. i .. ": " .. tostring(v))
    end
  end

  -- a stop in the fifth: the sixth and later never run
  local sink = Log:spawn_at(0)
  log = Log:spawn_at(0)
  log:set("stop", true):await()
  log:set("sink", sink):await()
  queue(log, 10)
  local ok, err = pcall(function() return log:list():await() end)
  assert(not ok and tostring(err):find("ActorNotFound"), tostring(err))
  assert(numbers(sink:list():await()) == "1,2,3,4,5",
    "after a stop: " .. numbers(sink:list():await()))

  -- a move in the third: the rest run where it went, in order
  log = Log:spawn_at(0)
  log:set("move_to", 1):await()
  queue(log, 10)
  got = log:list():await()
  assert(numbers(got) == "1,2,3,4,5,6,7,8,9,10", "across a move: " .. numbers(got))
  for i = 1, 10 do
    assert(got[i][2] == (i <= 3 and 0 or 1),
      "message " .. i .. " ran in theatre " .. got[i][2])
  end
  print("ok")
end
