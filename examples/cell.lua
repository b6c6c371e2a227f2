-- The reference cell of SALSA (slides "Reference Cell Service Example",
-- "Reference Cell Client Example" and "Moving Cell Tester Example"):
--
--   behavior Cell { Object content;
--     Object get() { standardOutput <- println("Returning: " + content);
--                    return content; }
--     void set(Object newContent) { standardOutput <- println("Setting: " +
--                    newContent); content = newContent; } }
--
--   standardOutput <- print("Initial Value: ") @ c <- get() @
--   standardOutput <- println(token) @ c <- set("World") @ ...
--
-- Each '@' becomes next(): the next message is sent once the previous one
-- is done, with its result as the token. The cell is found again from the
-- text of its id, as SALSA's GetCellValue finds it from its UAN.
-- The "moving" part, a cell that migrates to another node: nodes/moving_cell.lua.
-- Run: stage run examples/cell.lua [initial content]
local stage = require "stage"

local Cell = stage.actor "Cell"

function Cell:birth(initialContent) self.content = initialContent end

function Cell:get()
  stage.stdout:print("Returning: " .. self.content):await()
  return self.content
end

function Cell:set(newContent)
  stage.stdout:print("Setting: " .. newContent):await()
  self.content = newContent
end

function main(args)
  local out = stage.stdout
  local c = Cell:spawn_at(1 % stage.theatres(), args[1] or "Hello")
  out:print("Initial value:")
      :next(function() return c:get() end)
      :next(function(token) return out:print(token) end)
      :next(function() return c:set("World") end)
      :next(function() return out:print("New value:") end)
      :next(function() return c:get() end)
      :next(function(token) return out:print(token) end)
      :await()

  -- GetCellValue: a reference from the cell's id text
  local found = stage.ref(tostring(c))
  print("Cell value: " .. found:get():await())
end
