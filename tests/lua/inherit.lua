-- stage.actor(name, {is = Super}): the subtype inherits the supertype's
-- handlers and hooks, may override them, and may call the supertype's
-- version explicitly; inheritance goes several levels deep.
local stage = require "stage"

local Shape = stage.actor "Shape"
function Shape:birth(name) self.name = name; self.born_as = "Shape" end
function Shape:describe() return self.name .. " with area " .. self:area() end
function Shape:area() return 0 end
function Shape:kind() return "shape" end

local Square = stage.actor("Square", {is = Shape})
function Square:birth(side)
  Shape.birth(self, "square")         -- the supertype's hook, explicitly
  self.side = side
end
function Square:area() return self.side * self.side end

local Cube = stage.actor("Cube", {is = Square})
function Cube:area() return 6 * Square.area(self) end
function Cube:kind() return "solid" end

-- Not derived: does not get Shape's methods.
local Other = stage.actor "Other"
function Other:hello() return "hi" end

function main(args)
  local sq = Square(3)
  assert(sq:area():await() == 9)
  assert(sq:describe():await() == "square with area 9")  -- inherited
  assert(sq:kind():await() == "shape")

  local cube = Cube:spawn_at(stage.theatres() - 1, 2)    -- birth inherited
  assert(cube:area():await() == 24)
  assert(cube:describe():await() == "square with area 24")
  assert(cube:kind():await() == "solid")

  local plain = Shape("plain")
  assert(plain:describe():await() == "plain with area 0")

  local ok, err = pcall(function() return Other():describe():await() end)
  assert(not ok and err.type == "NoSuchMethod", tostring(err))

  -- a supertype that is not an actor class is refused
  ok, err = pcall(stage.actor, "Bad", {is = {}})
  assert(not ok and tostring(err):find("Bad", 1, true), tostring(err))
  print("ok")
end
