-- cluster.find's node script: args[1] is the role.
--   x        4 Squares
--   y        16 Squares and 20 Circles
--   checker  (args[2]: x's address) picks with find_subtype(Shape) and
--            find_type(Square) 400 times each; every actor must be equally
--            likely, whatever its node and type
-- Counts of n picks with probability p are binomial: mean n p, sd
-- sqrt(n p (1 - p)). The checks allow 5 sd: a uniform pick fails one with
-- probability 6e-7. Picking a node (or a (node, type)) first, then one of
-- its actors, gives these shares instead, which the checks never pass:
--   find_subtype(Shape): Squares 2/3 (uniform 1/2), on x 1/3 (uniform 1/10)
--   find_type(Square): on x 1/2 (uniform 1/5)
local stage = require "stage"

local Shape = stage.actor "Shape"
function Shape:who()
  return {kind = self.kind, node = tostring(stage.self()):match("^([^~]+)~")}
end
local Square = stage.actor("Square", {is = Shape})
function Square:birth() self.kind = "square" end
local Circle = stage.actor("Circle", {is = Shape})
function Circle:birth() self.kind = "circle" end

-- Waits (at most 20 s) until find_all_types(T) lists n actors: the nodes
-- announce their types as they start.
local function wait_for(T, n)
  local deadline, got, ok, all = stage.now() + 20, -1, nil, nil
  repeat
    ok, all = pcall(function() return stage.find_all_types(T):await(5) end)
    got = ok and #all or -1
    if got ~= n then stage.sleep(0.1):await() end
  until got == n or stage.now() > deadline
  assert(got == n, "find_all_types(" .. T .. ") lists " ..
         (ok and got or tostring(all)) .. ", not " .. n)
end

-- n picks of find(T); returns how many were Squares and how many on x.
local function picks(find, T, n, x)
  local squares, on_x = 0, 0
  for _ = 1, n / 20 do -- twenty lookups at a time
    local batch = {}
    for i = 1, 20 do batch[i] = find(T):who() end
    for i = 1, 20 do
      local w = batch[i]:await(10)
      if w.kind == "square" then squares = squares + 1 end
      if w.node == x then on_x = on_x + 1 end
    end
  end
  return squares, on_x
end

local function check(what, got, n, p)
  local mean, sd = n * p, math.sqrt(n * p * (1 - p))
  print(("%s: %d of %d (uniform: %g, sd %.2f)"):format(what, got, n, mean, sd))
  assert(math.abs(got - mean) <= 5 * sd, what .. " not uniform: " .. got)
end

function main(args)
  local role = args[1]
  if role == "x" or role == "y" then
    local all = {}
    for _ = 1, role == "x" and 4 or 16 do all[#all + 1] = Square() end
    for _ = 1, role == "y" and 20 or 0 do all[#all + 1] = Circle() end
    for _, a in ipairs(all) do a:who():await() end
    print("ready " .. role)
    return
  end
  local x = args[2]
  wait_for("Square", 20)
  wait_for("Circle", 20)
  local n = 400
  local squares, on_x = picks(stage.find_subtype, Shape, n, x)
  check("find_subtype(Shape): Squares", squares, n, 1 / 2)
  check("find_subtype(Shape): on x", on_x, n, 1 / 10)
  squares, on_x = picks(stage.find_type, Square, n, x)
  assert(squares == n, "find_type(Square) gave another type")
  check("find_type(Square): on x", on_x, n, 1 / 5)
  print("ok")
  stage.exit(0)
end
