-- The deadlock guard also covers futures that depend on a message the
-- awaiting actor sent itself: a next or catch chain on it, and a join
-- holding it. Each must raise Deadlock at once (the await(2) is only there
-- so that a miss fails instead of hanging).
local stage = require "stage"

local S = stage.actor "S"
function S:bump() return 1 end
function S:other() return 2 end
-- Awaits the future made by 'how' and reports the error type and time.
function S:try(how)
  local me = stage.self()
  local make = {
    next = function() return me:bump():next(function(v) return v end) end,
    catch = function() return me:bump():catch(function() return 0 end) end,
    join = function() return stage.join{self.other_actor:other(), me:bump()} end,
  }
  local t0 = stage.now()
  local ok, err = pcall(function() return make[how]():await(2) end)
  return {ok = ok, type = type(err) == "table" and err.type or tostring(err),
          took = stage.now() - t0}
end
function S:birth(other) self.other_actor = other end

function main(args)
  local s = S(S(nil))
  for _, how in ipairs{"next", "catch", "join"} do
    local r = s:try(how):await()
    assert(not r.ok and r.type == "Deadlock",
           how .. ": got " .. tostring(r.type) .. " after " .. r.took .. " s")
    assert(r.took < 0.5, how .. ": Deadlock after " .. r.took .. " s")
  end
  print("ok")
end
