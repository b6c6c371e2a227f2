-- tests/unit/capi_net.lua: the Lua side of test_capi_net.c, on node B. A
-- Client finds a C actor of node A by name or by type and calls it.
local stage = require "stage"

local Client = stage.actor "Client"

function Client:call(name)
  return stage.find_name(name):greet("lua"):await()
end

function Client:call_type(t)
  return stage.find_type(t):greet("lua, by type"):await()
end
