-- tests/lua/budget_in_c_call.lua: a handler stuck inside a C function that
-- cannot yield (table.sort calling an endless comparator) cannot be
-- preempted, but it still meets its budget: its caller gets
-- BudgetExceeded instead of waiting for ever.
local stage = require "stage"

local Sorter = stage.actor "Sorter"

function Sorter:spin()
  local t = {3, 2, 1}
  table.sort(t, function() while true do end end)
  return "sorted"
end

function main()
  local ok, err = pcall(function() return Sorter():spin():await() end)
  print(ok, type(err) == "table" and err.type or err)
end
