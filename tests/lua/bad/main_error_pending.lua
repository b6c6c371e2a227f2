-- main fails while continuations wait on messages queued to an actor of
-- another theatre: the node ends with main's error, and its teardown
-- fails those messages and frees their futures (it once pushed them to a
-- theatre it had freed already).
local stage = require "stage"

local Slow = stage.actor "Slow"
function Slow:get() return 1 end
function Slow:spin()
  local t = stage.now()
  while stage.now() - t < 0.05 do end
end

function main()
  local s = Slow:spawn_at(1)
  s:spin()
  local fs = {}
  for i = 1, 50 do fs[i] = s:get():next(function(v) return v end) end
  error("gave up with replies pending")
end
