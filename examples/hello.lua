-- Hello World (Stage 1.2, SALSA's HelloWorld): two actors print in order.
local stage = require "stage"

local Greeter = stage.actor "Greeter"

function Greeter:birth(name)
  self.name = name
end

function Greeter:greet(who)
  return "Hello " .. who .. ", from " .. self.name
end

function main(args)
  local greeter = Greeter("Stage")
  print(greeter:greet(args[1] or "World"):await())
end
