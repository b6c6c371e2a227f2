-- Lazy synchronisation (thesis Listing 3.4):
--     bacon = fridge.getrashers(2)
--     bread = breadbin.getslices(2)
--     cookedbacon = oven.grill(bacon)
--     sandwich.create(cookedbacon, bread)
-- Every send returns a future at once, so the fridge, the breadbin and the
-- oven work in parallel (one theatre each where there are cores). A future
-- passed as an argument (bacon to the oven) is resolved before delivery,
-- without blocking the sender. Main waits only where it uses a value: the
-- concatenation with the sandwich, the sum of the calories (lazy
-- synchronisation; f:await() is the explicit wait, with a timeout if
-- wanted).
-- Run: stage run examples/lazy.lua
local stage = require "stage"

local Fridge = stage.actor "Fridge"
function Fridge:getrashers(n)
  local rashers = {}
  for i = 1, n do rashers[i] = "rasher " .. i end
  return rashers
end
function Fridge:calories(rashers) return 45 * #rashers end

local Breadbin = stage.actor "Breadbin"
function Breadbin:getslices(n)
  local slices = {}
  for i = 1, n do slices[i] = "slice " .. i end
  return slices
end
function Breadbin:calories(slices) return 80 * #slices end

local Oven = stage.actor "Oven"
function Oven:grill(food)
  local cooked = {}
  for i, item in ipairs(food) do cooked[i] = "grilled " .. item end
  return cooked
end

local Sandwich = stage.actor "Sandwich"
function Sandwich:create(filling, bread)
  return bread[1] .. ", " .. table.concat(filling, ", ") .. ", " .. bread[2]
end

function main(args)
  local n = stage.theatres()
  local fridge, breadbin = Fridge:spawn_at(1 % n), Breadbin:spawn_at(2 % n)
  local oven, sandwich = Oven:spawn_at(3 % n), Sandwich()

  local bacon = fridge:getrashers(2)           -- futures: nothing waits
  local bread = breadbin:getslices(2)
  local cookedbacon = oven:grill(bacon)        -- a future as an argument
  local made = sandwich:create(cookedbacon, bread)
  print("order placed")
  print("sandwich: " .. made)                  -- waits for the sandwich
  -- both counts are worked out at once; the sum waits for the two
  local calories = fridge:calories(bacon) + breadbin:calories(bread)
  print("calories: " .. calories)              -- a number by now
end
