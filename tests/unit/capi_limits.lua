-- tests/unit/capi_limits.lua: the Lua side of test_capi_limits.c. Echo
-- counts what it is given; a message a C sender nested deeper than any
-- reader takes never reaches it.
local stage = require "stage"

local Echo = stage.actor "Echo"

function Echo:take(...)
  return select("#", ...)
end
