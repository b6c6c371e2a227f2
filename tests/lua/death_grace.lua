-- A death that never ends, at the node's stop: with the default budget
-- (10 s) it fails when the stop grace (5 s) runs out; the actors of its
-- theatre not reached by then stop without death, the other theatre's
-- deaths all run, and the node exits with main's status. With --budget
-- 0.3 it fails at its budget instead and the rest still die.
local stage = require "stage"

local Mortal = stage.actor "Mortal"
function Mortal:birth(name) self.name = name end
function Mortal:death() print("death " .. self.name) end
function Mortal:ready() return true end

local Endless = stage.actor "Endless"
function Endless:ready() return true end
function Endless:death()
  print("endless death")
  while true do end
end

function main(args)
  local all = {
    Mortal:spawn_at(1, "older"),   -- dies after the endless one
    Endless:spawn_at(1),
    Mortal:spawn_at(1, "younger"), -- dies before it
    Mortal("zero"),
  }
  for _, a in ipairs(all) do assert(a:ready():await()) end -- all born
  stage.exit(3)
end
