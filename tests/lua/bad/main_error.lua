-- An uncaught error in main: stage run prints file:line: message and
-- exits non-zero.
local stage = require "stage"
local function check(x)
  if x > 1 then error("the value " .. x .. " is too big") end
end
function main(args)
  check(5)
end
