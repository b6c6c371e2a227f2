-- examples/c/greeter.lua: the Lua side of examples/c/guestbook.c, run by
-- `stage node examples/c/greeter.lua`. main names a Greeter "greeter".
-- greet(who) signs who into the guestbook — a C actor of another node,
-- found by its name — and answers with who's number in it.
local stage = require "stage"

local Greeter = stage.actor "Greeter"

function Greeter:greet(who)
  local n = stage.find_name("guestbook"):sign(who):await()
  return "hello, " .. who .. ": you are guest " .. n
end

function main()
  stage.name("greeter", Greeter()):await()
  print("ready")
end
