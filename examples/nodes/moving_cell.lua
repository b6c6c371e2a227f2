-- SALSA's moving cell (slides "Moving Cell Tester Example"):
--
--   Cell c = new Cell("Hello") at (new UAN(args[0]), new UAL(args[1]));
--   standardOutput <- print("Initial Value: ") @ c <- get() @
--   standardOutput <- println(token) @ c <- set("World") @
--   standardOutput <- print("New Value: ") @ c <- get() @
--   standardOutput <- println(token) @ c <- migrate(args[2]) @
--   c <- set("New World") @
--   standardOutput <- print("New Value at New Location: ") @ c <- get() @
--   standardOutput <- println(token);
--
-- The cell lives on node FIRST, then moves to node SECOND with its
-- content; it prints what it is asked where it is (its node's output),
-- the tester prints the values it gets back. The tester keeps the first
-- reference, as SALSA's keeps its UAN: it reaches the cell after the move.
-- Run: two nodes that host it (no arguments: they only define the type),
-- then one that runs the tester and exits:
--   stage node --listen FIRST examples/nodes/moving_cell.lua &
--   stage node --listen SECOND --join FIRST examples/nodes/moving_cell.lua &
--   stage node --join FIRST examples/nodes/moving_cell.lua FIRST SECOND
local stage = require "stage"

local Cell = stage.actor "Cell"

function Cell:birth(content) self.content = content end

function Cell:get()
  stage.stdout:print("Returning: " .. self.content):await()
  return self.content
end

function Cell:set(content)
  stage.stdout:print("Setting: " .. content):await()
  self.content = content
end

function main(args)
  if #args == 0 then return end -- a node that hosts the actors
  local out = stage.stdout
  local c = Cell:spawn_at(args[1], "Hello")
  out:print("Initial Value: " .. c:get():await()):await()
  c:set("World"):await()
  out:print("New Value: " .. c:get():await()):await()
  c:migrate(args[2]):await()
  c:set("New World"):await()
  out:print("New Value at New Location: " .. c:get():await()):await()
  stage.exit(0)
end
