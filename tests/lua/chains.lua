-- next(fn) runs fn(value) in the sender's actor once the future succeeds
-- (token passing); a future returned by fn is followed; a failure skips
-- fn and passes through to catch(fn), whose value replaces it.
local stage = require "stage"

local Acc = stage.actor "Acc"
function Acc:birth() self.items = {} end
function Acc:add(x) self.items[#self.items + 1] = x; return x end
function Acc:all() return self.items end
function Acc:fail(msg) error(msg) end

local Client = stage.actor "Client"
-- Chains on a future inside a handler: fn runs as a turn of this actor.
function Client:chain(acc)
  local me = stage.self()
  return acc:add(1):next(function(v)
    assert(stage.self() == me, "next ran in another actor")
    self.seen = v
    return acc:add(v + 1)               -- a future: followed
  end):next(function(v) return v * 10 end)
end
function Client:seen_value() return self.seen end

function main(args)
  local acc = Acc:spawn_at(stage.theatres() - 1)
  local me = stage.self()

  -- a chain of nexts, in main
  local order = {}
  local f = acc:add(1):next(function(v)
    assert(stage.self() == me)
    order[#order + 1] = "first " .. v
    return v + 1
  end):next(function(v)
    order[#order + 1] = "second " .. v
    return acc:add(v * 100)             -- a future: the chain follows it
  end)
  assert(f:await() == 200)
  assert(order[1] == "first 1" and order[2] == "second 2")
  local items = acc:all():await()
  assert(items[1] == 1 and items[2] == 200)

  -- in a handler
  local client = Client()
  assert(client:chain(acc):await() == 20)
  assert(client:seen_value():await() == 1)

  -- a failure skips next and reaches catch
  local ran = false
  local c = acc:fail("broken"):next(function(v) ran = true; return v end)
      :catch(function(err)
        assert(err.type == "HandlerError", tostring(err))
        return "recovered from " .. err.message:match("broken")
      end)
  assert(c:await() == "recovered from broken")
  assert(not ran, "next ran after a failure")
  -- catch on success passes the value through; next after catch runs
  assert(acc:add(5):catch(function() return 0 end)
         :next(function(v) return v + 1 end):await() == 6)
  -- an error inside next fails the chain with that message
  local e = acc:add(1):next(function() error("in next") end)
  local ok, err = pcall(e.await, e)
  assert(not ok and tostring(err):find("in next", 1, true), tostring(err))
  -- catch can return a future too, and can fail again
  assert(acc:fail("x"):catch(function() return acc:add(7) end):await() == 7)
  local again = acc:fail("x"):catch(function() error("again") end)
  ok, err = pcall(again.await, again)
  assert(not ok and tostring(err):find("again", 1, true), tostring(err))
  -- done() tells whether a future is resolved
  local d = acc:add(3)
  d:await()
  assert(d:done())
  print("ok")
end
