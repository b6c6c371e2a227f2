-- Bad input inside a running node: an unknown method, a value that cannot
-- be sent, a handler that errors and a message to a stopped actor each give
-- a clear error, and the node keeps running: later messages still work.
local stage = require "stage"

local Account = stage.actor "Account"
function Account:birth() self.balance = 0 end
function Account:deposit(n)
  if type(n) ~= "number" then error("deposit needs a number, got " .. type(n)) end
  self.balance = self.balance + n
  return self.balance
end
function Account:close() stage.stop(); return self.balance end

-- Runs fn, which must fail; returns its error as text.
local function error_of(fn)
  local ok, err = pcall(fn)
  assert(not ok, "no error")
  return tostring(err), err
end

local function has(text, ...)
  for _, s in ipairs{...} do
    assert(text:find(s, 1, true), "'" .. text .. "' lacks '" .. s .. "'")
  end
end

function main(args)
  local acc = Account:spawn_at(stage.theatres() - 1)
  assert(acc:deposit(10):await() == 10)

  -- an unknown method: NoSuchMethod naming the method, the type, the actor
  local text, err = error_of(function() return acc:withdraw(5):await() end)
  assert(err.type == "NoSuchMethod", text)
  has(text, "'withdraw'", "Account", tostring(acc))
  assert(acc:deposit(1):await() == 11)

  -- a value that cannot be sent: fails at the send, naming argument and field
  text = error_of(function() return acc:deposit({amount = print}) end)
  has(text, "deposit", "argument 1", "'amount'", "function")
  assert(acc:deposit(1):await() == 12)

  -- a handler that errors: HandlerError with the handler's message; the
  -- actor serves on, born again (on_error "restart", the default)
  text, err = error_of(function() return acc:deposit("ten"):await() end)
  assert(err.type == "HandlerError", text)
  has(text, "deposit needs a number, got string", "bad_input.lua:9:")
  assert(acc:deposit(1):await() == 1)

  -- a message to a stopped actor: ActorNotFound naming it and the method
  assert(acc:close():await() == 1)
  text, err = error_of(function() return acc:deposit(1):await() end)
  assert(err.type == "ActorNotFound", text)
  has(text, tostring(acc), "deposit")

  -- the node still runs: new actors, on every theatre, answer
  for t = 0, stage.theatres() - 1 do
    assert(Account:spawn_at(t):deposit(t):await() == t)
  end
  -- spawning on a theatre that does not exist is an error, not a crash
  text = error_of(function() return Account:spawn_at(stage.theatres()) end)
  has(text, "no theatre " .. stage.theatres())
  text = error_of(function() return Account:spawn_at(0.5) end)
  has(text, "theatre 0.5 is not a whole number")
  text = error_of(function() return Account:spawn_at(0 / 0) end)
  has(text, "theatre NaN is not a whole number")
  text = error_of(function() return Account:spawn_at("example.org:7400") end)
  has(text, "'example.org:7400' is not a node address")
  assert(Account():deposit(2):await() == 2)
  print("ok")
end
