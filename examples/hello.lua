-- Hello World, as in Stage (thesis section 1.2) and in SALSA (the "Hello
-- World Example" slide). Run: stage run examples/hello.lua [name]
--
-- Stage: Hello is an actor, so hello:hi() is a message, not a call: it
-- returns a future at once and the actor prints later, in its own turn
-- ("Message sent" may come first). Here main waits for the future, so the
-- lines always come out in this order.
--
-- SALSA: standardOutput <- print("Hello ") @ standardOutput <- print("World!")
-- The '@' (token passing) sends the second message only once the first is
-- done: here that is next().
local stage = require "stage"

local Hello = stage.actor "Hello"

function Hello:hi(who)
  -- Returning the print's future delegates the reply to it: hi() is done
  -- once the line is out.
  return stage.stdout:print("Hello " .. who .. "!")
end

function main(args)
  local hello = Hello()
  local sent = hello:hi(args[1] or "world") -- returns at once
  sent:await()                               -- wait for the actor's turn
  print("Message sent")

  stage.stdout:write("Hello ")
      :next(function() return stage.stdout:write("World!\n") end)
      :await()
end
