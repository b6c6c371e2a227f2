-- tests/fault/intake.lua: the Lua actor fault_intake.c sends frames to
-- from its raw client: keep takes a table and a string, sum an array.
local stage = require "stage"

local Keeper = stage.actor "Keeper"
function Keeper:keep(t, s)
  self.last = {t, s}
  return t.a + t.b[3] + #s -- 1 + 3 + 4
end
function Keeper:sum(t)
  local n = 0
  for _, v in ipairs(t) do n = n + v end
  return n
end
