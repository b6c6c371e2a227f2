-- tests/unit/capi_monitors.lua: the Lua side of test_capi_monitors.c. A
-- Failing actor's birth raises: a C actor's monitor of it hears why.
local stage = require "stage"

local Failing = stage.actor "Failing"
function Failing:birth() error("no good start") end
function Failing:ping() return 1 end
