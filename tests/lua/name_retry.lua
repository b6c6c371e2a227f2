-- A call through a reference found by name whose actor has stopped goes
-- to the actor that holds the name now (one retry, thesis Listing 4.10),
-- and the reference sends there from then on; with nobody holding the
-- name, the call fails with the first failure, saying the name was looked
-- up again. A reference from find_type does not retry.
local stage = require "stage"

local Svc = stage.actor "Svc"
function Svc:birth(tag) self.tag, self.got = tag, {} end
function Svc:who() return self.tag end
function Svc:put(x) self.got[#self.got + 1] = x end
function Svc:count() return #self.got end

-- Stop svc and wait until it is gone, and its names with it: the stop is
-- taken before the actor goes, and a message after it comes back once it
-- has. (svc is a plain reference: it does not retry.)
local function stop(svc)
  assert(stage.stop(svc):await())
  local ok, e = pcall(function() return svc:who():await(5) end)
  assert(not ok and e.type == "ActorNotFound", tostring(e))
end

local function rename(name, tag)
  local svc = Svc(tag)
  assert(stage.name(name, svc):await())
  return svc
end

function main()
  local one = rename("svc", "one")
  local ref = stage.find_name("svc")
  assert(ref:who():await() == "one")
  stop(one)
  local two = rename("svc", "two")
  -- the call meets ActorNotFound at one, and goes to two
  assert(ref:who():await(5) == "two")
  assert(ref == two, tostring(ref) .. " ~= " .. tostring(two))
  -- later sends, one-way ones too, go straight to two
  stage.send(ref, "put", 1)
  assert(ref:count():await() == 1)
  -- nobody holds the name: the first failure, and what the lookup found
  stop(two)
  local ok, e = pcall(function() return ref:who():await(5) end)
  assert(not ok and e.type == "ActorNotFound", tostring(e))
  assert(e.message:find("the name 'svc' was looked up again: no actor is "
    .. "named 'svc'", 1, true), e.message)
  -- a reference from a type is not a name: no retry
  local three = rename("svc", "three")
  local bytype = stage.find_type("Svc")
  assert(bytype:who():await() == "three")
  stop(three)
  rename("svc", "four")
  ok, e = pcall(function() return bytype:who():await(5) end)
  assert(not ok and e.type == "ActorNotFound", tostring(e))
  assert(not e.message:find("looked up again", 1, true), e.message)
  print("ok")
end
