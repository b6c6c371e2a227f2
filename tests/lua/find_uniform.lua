-- find_subtype(T) picks one actor uniformly among the actors of T and its
-- subtypes: not a type first and then one of its actors, which favours
-- the actors of the smaller type. Here Shape has no actor, 10 Squares and
-- 30 Circles: a quarter of the picks are Squares. Over 400 picks the count
-- of Squares is binomial(400, 1/4): mean 100, sd sqrt(400 * 1/4 * 3/4) =
-- 8.66. The test allows 5 sd (57 to 143): a uniform pick fails it with
-- probability 6e-7; picking a type first gives 1/2 or 2/3 Squares (200 or
-- 267 of 400), which it never passes.
local stage = require "stage"

local Shape = stage.actor "Shape"
function Shape:kind() return "shape" end
local Square = stage.actor("Square", {is = Shape})
function Square:kind() return "square" end
local Circle = stage.actor("Circle", {is = Shape})
function Circle:kind() return "circle" end

function main(args)
  local n = stage.theatres()
  local all = {}
  for i = 1, 10 do all[#all + 1] = Square:spawn_at(i % n) end
  for i = 1, 30 do all[#all + 1] = Circle:spawn_at(i % n) end
  for _, a in ipairs(all) do a:kind():await() end -- all born
  local picks, squares = 400, 0
  for _ = 1, picks do
    if stage.find_subtype(Shape):kind():await() == "square" then
      squares = squares + 1
    end
  end
  local mean, sd = picks / 4, math.sqrt(picks * 1 / 4 * 3 / 4)
  print(("squares %d of %d (uniform: %g, sd %.2f)"):format(squares, picks,
                                                          mean, sd))
  assert(math.abs(squares - mean) <= 5 * sd,
         "find_subtype is not uniform over the actors: " .. squares ..
         " Squares of " .. picks .. " picks")
  print("ok")
end
