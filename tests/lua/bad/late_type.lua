-- An actor type defined in main: stage run must say where, and exit 1.
local stage = require "stage"
function main()
  local Late = stage.actor "Late"
  Late()
end
