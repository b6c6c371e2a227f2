-- A handler error fails the caller's future with a typed error: type
-- HandlerError, the message, the failing actor's id and a traceback;
-- await raises it, tostring gives "<type>: <message>". The actor keeps
-- handling later messages, born again (on_error "restart", the default).
local stage = require "stage"

local Worker = stage.actor "Worker"
function Worker:birth() self.calls = 0 end
local function inner(x) error("bad input " .. tostring(x)) end
function Worker:work(x)
  self.calls = self.calls + 1
  if x < 0 then inner(x) end
  return x * 2
end
function Worker:calls_so_far() return self.calls end
function Worker:nil_index() local t; return t.field end
local function recurse(n) return recurse(n + 1) + 1 end
function Worker:overflow() return recurse(1) end
function Worker:raise_object()
  error(setmetatable({code = 7}, {__tostring = function(e)
    return "custom error " .. e.code
  end}))
end

local Middle = stage.actor "Middle"
function Middle:relay(w, x) return w:work(x):await() + 1 end

-- Awaits f, which must fail; returns the error.
local function failure(f)
  local ok, err = pcall(f.await, f)
  assert(not ok, "the future did not fail")
  return err
end

function main(args)
  local w = Worker:spawn_at(stage.theatres() - 1)
  local err = failure(w:work(-5))
  assert(type(err) == "table", "the error is a table, got " .. type(err))
  assert(err.type == "HandlerError", tostring(err.type))
  assert(err.message:find("bad input -5", 1, true), err.message)
  assert(err.message:find("errors.lua:9:", 1, true), "message has file:line")
  assert(err.actor == tostring(w), tostring(err.actor))
  assert(type(err.traceback) == "string")
  assert(err.traceback:find("inner", 1, true), err.traceback)
  assert(err.traceback:find("errors.lua:12", 1, true), err.traceback)
  assert(tostring(err) == "HandlerError: " .. err.message, tostring(err))

  -- a runtime error (not error()) is a HandlerError too
  err = failure(w:nil_index())
  assert(err.type == "HandlerError" and err.message:find("nil value"))

  -- a stack overflow too, and an error object is shown by its __tostring
  err = failure(w:overflow())
  assert(err.type == "HandlerError" and err.message:find("stack overflow"))
  err = failure(w:raise_object())
  assert(err.message == "custom error 7", err.message)

  -- the actor is still alive, born again after its last failure
  assert(w:work(21):await() == 42)
  assert(w:calls_so_far():await() == 1)

  -- an error raised by await in a handler travels on to that handler's
  -- caller with the original message
  local m = Middle()
  assert(m:relay(w, 1):await() == 3)
  err = failure(m:relay(w, -1))
  assert(err.message:find("bad input -1", 1, true), err.message)
  -- and through a chain of awaits the failure keeps its original message
  local ok, text = pcall(function() return m:relay(w, -2):await() end)
  assert(not ok and tostring(text):find("bad input -2", 1, true))
  print("ok")
end
