-- A syntax error on line 4: stage run must say syntax.lua:4: and exit 1.
local stage = require "stage"
function main(args)
  local x = = 1
end
