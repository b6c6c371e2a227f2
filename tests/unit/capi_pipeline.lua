-- tests/unit/capi_pipeline.lua: the Lua side of test_capi_pipeline.c.
-- LuaSource answers later than at once (its value is a pending future when
-- a C actor pipelines it); LuaDoubler doubles what it gets; LuaPiper
-- pipelines a Lua future into a send to a C actor.
local stage = require "stage"

local LuaSource = stage.actor "LuaSource"

function LuaSource:value(v)
  stage.sleep(0.01):await()
  return v
end

local LuaDoubler = stage.actor "LuaDoubler"

function LuaDoubler:twice(x) return 2 * x end

local LuaPiper = stage.actor "LuaPiper"

-- counter:add(the value src will give), the future passed unawaited
function LuaPiper:into(counter, src, v)
  return counter:add(src:value(v))
end
