-- examples/c/counter.lua: the Lua side of examples/c/counter.c. Tally is a
-- Lua actor that messages the C actor Counter through the reference it got
-- at birth, exactly as it would a Lua actor.
local stage = require "stage"

local Tally = stage.actor "Tally"

function Tally:birth(counter) self.counter = counter end

-- Sends add(1) .. add(n) to the counter (they arrive in order), then
-- answers with the counter's total.
function Tally:run(n)
  for i = 1, n do self.counter:add(i) end
  local total = self.counter:get():await()
  stage.stdout:print("Lua: added 1.." .. n .. ", the C counter says " ..
                     total):await()
  return total
end

-- Watcher answers the C actor's changed(total) messages.
local Watcher = stage.actor "Watcher"

function Watcher:changed(total) return "total is now " .. total end
