-- find_type, find_subtype and find_all_types on an embedded node (stage
-- run). cluster.basic's client checks the same across nodes.
local stage = require "stage"

local Shape = stage.actor "Shape"
function Shape:kind() return "shape" end
local Square = stage.actor("Square", {is = Shape})
function Square:kind() return "square" end
local Lonely = stage.actor "Lonely" -- never spawned

local function fails_with(kind, f)
  local ok, err = pcall(f)
  assert(not ok and type(err) == "table" and err.type == kind, tostring(err))
end

-- The sorted kinds the references in list answer.
local function kinds(list)
  local out = {}
  for i, r in ipairs(list) do out[i] = r:kind():await() end
  table.sort(out)
  return table.concat(out, " ")
end

function main(args)
  Shape(); Square(); Square()
  assert(stage.find_type("Square"):kind():await() == "square")
  assert(kinds(stage.find_all_types("Square"):await()) == "square square")
  -- no actor of a type, or no such type: an empty list, not a failure
  local none = stage.find_all_types("Lonely"):await()
  assert(type(none) == "table" and #none == 0, "Lonely: " .. #none)
  assert(#stage.find_all_types("Nope"):await() == 0)
  -- one actor of a type that has none is a failure
  fails_with("TypeNotFound", function()
    return stage.find_type("Lonely"):kind():await()
  end)
  fails_with("TypeNotFound", function()
    return stage.find_subtype("Nope"):kind():await()
  end)
  -- the class works where the name does, as in `is = Shape`
  assert(stage.find_type(Square):kind():await() == "square")
  assert(kinds(stage.find_all_types(Square):await()) == "square square")
  assert(#stage.find_all_types(Lonely):await() == 0)
  local k = stage.find_subtype(Shape):kind():await()
  assert(k == "shape" or k == "square", k)
  -- anything else is refused with a message that says what is expected
  for _, bad in ipairs({{}, 5, true}) do
    for _, fn in ipairs({"find_type", "find_subtype", "find_all_types"}) do
      local ok, err = pcall(stage[fn], bad)
      assert(not ok and tostring(err):find(fn .. ": argument 1 must be an " ..
             "actor class or a type name", 1, true), tostring(err))
    end
  end
  print("ok")
end
