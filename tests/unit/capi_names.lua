-- tests/unit/capi_names.lua: the Lua side of test_capi_names.c. LuaEcho
-- names itself at birth (a C actor then finds it by name and calls it);
-- Caller finds a C actor by type and calls it.
local stage = require "stage"

local LuaEcho = stage.actor "LuaEcho"

function LuaEcho:birth(name) stage.name(name):await() end
function LuaEcho:echo(s) return "lua:" .. s end
function LuaEcho:ready() return true end

local Caller = stage.actor "Caller"

-- add(n) to a Counter, a C actor found by its type
function Caller:call_counter(n)
  return stage.find_type("Counter"):add(n):await()
end
