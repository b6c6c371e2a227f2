-- Actor types are defined at the script's top level, before the node
-- starts: stage.actor in main or in a handler raises an error that names
-- the type and says where to define it, and the node keeps running.
local stage = require "stage"

local want = "cannot define actor type '%s' while the node runs: define " ..
             "actor types at the script's top level, outside main and the handlers"

local Definer = stage.actor "Definer"
function Definer:define(name)
  local ok, err = pcall(stage.actor, name)
  return {ok = ok, err = tostring(err)}
end

function main()
  local ok, err = pcall(function() return stage.actor "InMain" end)
  assert(not ok, "a type defined in main")
  err = tostring(err)
  assert(err:find(want:format("InMain"), 1, true), err)
  assert(err:find("late_type%.lua:16: "), "not raised at the call: " .. err)
  local r = Definer():define("InHandler"):await()
  assert(not r.ok, "a type defined in a handler")
  assert(r.err:find(want:format("InHandler"), 1, true), r.err)
  -- a type of the top level is still there, and defining it again is not
  -- taken for defining it late
  local ok3, err3 = pcall(stage.actor, "Definer")
  assert(not ok3 and err3:find("actor type 'Definer' is defined twice", 1, true),
         tostring(err3))
  print("ok")
end
