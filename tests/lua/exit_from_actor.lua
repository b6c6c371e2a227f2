-- stage.exit(code) from any actor, on any theatre, stops the whole node
-- with that status, even with a repeating timer pending in main.
local stage = require "stage"
local T = stage.actor "T"
function T:quit_node(code) stage.exit(code) end
function main(args)
  T:spawn_at(stage.theatres() - 1):quit_node(7)
  stage.every(0.01, function() end)
end
