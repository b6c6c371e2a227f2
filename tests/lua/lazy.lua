-- Lazy synchronisation (thesis 3.4): using a future's value waits for it
-- inside an actor, as f:await() does: arithmetic, concatenation, #, <, <=,
-- == between two futures (or a future and a reference), tostring, print.
-- What Lua does not route through a metamethod does not wait: f == 5 is
-- false, `if f` is true, f.x is a method lookup, string.format shows a
-- pending future as "future (pending)". Where the actor cannot wait, and
-- outside an actor, a pending future's value raises a clear error.
-- Run with --theatres 1: a lazy wait suspends only its actor.
local stage = require "stage"

-- Every answer comes after a short sleep, so the futures are pending when
-- they are used.
local Slow = stage.actor "Slow"
function Slow:value(v) stage.sleep(0.01):await(); return v end
function Slow:fail() stage.sleep(0.01):await(); error("no value today") end
function Slow:me() stage.sleep(0.01):await(); return stage.self() end

local Ping = stage.actor "Ping"
function Ping:ping(i) return i end

-- Uses a future of slow's inside a handler, while others keep running.
local User = stage.actor "User"
function User:add_one(slow) return slow:value(41) + 1 end

-- The script's top level runs outside any actor: the value of a pending
-- future made there cannot be waited for.
local early = stage.sleep(0.01)
local top_ok, top_err = pcall(function() return early + 1 end)

local function raises(want, f)
  local ok, err = pcall(f)
  assert(not ok, "no error; wanted '" .. want .. "'")
  assert(tostring(err):find(want, 1, true),
         "'" .. tostring(err) .. "' lacks '" .. want .. "'")
  return err
end

function main(args)
  local s = Slow()
  local function v(x) return s:value(x) end
  -- arithmetic, either side, and between two futures
  assert(v(10) + 1 == 11 and 1 + v(10) == 11)
  assert(v(6) * v(7) == 42 and v(7) - 2 == 5 and v(7) / 2 == 3.5)
  assert(v(7) // 2 == 3 and v(7) % 4 == 3 and v(2) ^ 10 == 1024)
  assert(-v(3) == -3 and ~v(0) == -1)
  assert(v(6) & 3 == 2 and v(6) | 1 == 7 and v(6) ~ 2 == 4)
  assert(v(1) << 4 == 16 and v(16) >> 4 == 1)
  -- concatenation and length
  assert("area " .. v(51) == "area 51" and v("a") .. "b" == "ab")
  assert(#v("four") == 4 and #v({1, 2, 3}) == 3)
  -- comparison: order with anything, equality between two futures or a
  -- future and a reference; a future and a number are never equal
  assert(v(2) < 3 and 1 < v(2) and v(2) <= 2 and not (v(3) <= 2))
  assert(v("a") < "b")
  assert(v(4) == v(4) and v(4) ~= v(5))
  assert(s:me() == s and s == s:me())
  assert(not (v(5) == 5), "a future equals a number: Lua never asks")
  -- tostring and print
  assert(tostring(v(7)) == "7" and tostring(v("x")) == "x")
  print(v("printed"), v(1) + 1)
  -- what does not wait: truthiness, indexing, C functions
  local f = v(false)
  assert(f and type(f) == "userdata", "a future is true in a condition")
  assert(type(f.await) == "function" and f.nosuch == nil)
  assert(string.format("%s", v(9)) == "future (pending)")
  local done = v(9)
  done:await()
  assert(string.format("%s", done) == "9") -- done: its value
  assert(f:await() == false)
  -- a failure is raised where the value is used
  local err = raises("no value today", function() return s:fail() + 1 end)
  assert(err.type == "HandlerError")
  raises("Deadlock", function() return stage.self():ping(1) + 1 end)
  -- where the actor cannot wait, and outside an actor
  local inner = v(1):next(function(x)
    local ok, e = pcall(function() return v(2) + x end)
    return ok and "waited" or e
  end):await()
  assert(tostring(inner):find("where the actor cannot wait", 1, true), inner)
  assert(coroutine.wrap(function()
    return select(2, pcall(function() return v(3) + 1 end))
  end)():find("where the actor cannot wait", 1, true))
  assert(not top_ok and tostring(top_err):find("outside an actor", 1, true),
         tostring(top_err))
  -- a lazy wait suspends only its actor: on this one theatre another
  -- actor answers while User waits
  local u, p = User(), Ping()
  local pending = u:add_one(s)
  assert(p:ping(1):await() == 1 and not pending:done())
  assert(pending:await() == 42)
  print("ok")
end
