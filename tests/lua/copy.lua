-- Arguments and replies are copied: changing a table after sending it does
-- not change what the receiver got, nested tables included; integers stay
-- integers and floats stay floats; references survive the trip.
local stage = require "stage"

local Box = stage.actor "Box"
function Box:keep(t) self.t = t; return true end
function Box:kept() return self.t end
function Box:echo(...) return {...} end
function Box:mutate_kept() self.t.n = -1; return self.t end

function main(args)
  local box = Box:spawn_at(1 % stage.theatres())
  local t = {n = 1, list = {1, 2, 3}, deep = {deeper = {s = "x"}}}
  box:keep(t)
  t.n = 2                       -- changed right after the send
  t.list[1] = 100
  t.deep.deeper.s = "changed"
  t.added = true
  local got = box:kept():await()
  assert(got.n == 1 and got.list[1] == 1 and got.deep.deeper.s == "x")
  assert(got.added == nil)

  -- a reply is a copy too: changing it does not reach the actor
  got.n = 99
  assert(box:kept():await().n == 1)
  -- and the actor changing its copy does not reach the sender
  assert(box:mutate_kept():await().n == -1)
  assert(t.n == 2)

  -- numbers keep their subtype
  local v = box:echo(1, 2.0, 3.5, -7, math.maxinteger, math.mininteger, 0.1,
                     1e300, -0.0):await()
  assert(math.type(v[1]) == "integer" and v[1] == 1)
  assert(math.type(v[2]) == "float" and v[2] == 2.0)
  assert(math.type(v[3]) == "float" and v[3] == 3.5)
  assert(math.type(v[4]) == "integer" and v[4] == -7)
  assert(v[5] == math.maxinteger and math.type(v[5]) == "integer")
  assert(v[6] == math.mininteger and math.type(v[6]) == "integer")
  assert(v[7] == 0.1 and v[8] == 1e300)
  assert(math.type(v[9]) == "float" and 1 / v[9] < 0, "-0.0 keeps its sign")

  -- strings with any bytes, booleans, nil in the middle, maps and arrays
  local w = box:echo("a\0b\255", true, false, nil, "after nil"):await()
  assert(w[1] == "a\0b\255" and w[2] == true and w[3] == false)
  assert(w[4] == nil and w[5] == "after nil")
  local m = box:echo({x = 1, [10] = "ten", [1] = "one", [2.5] = "f",
                      list = {}}):await()[1]
  assert(m.x == 1 and m[10] == "ten" and m[1] == "one" and m[2.5] == "f")
  assert(type(m.list) == "table" and next(m.list) == nil)
  -- a table referenced twice (no cycle) arrives as two equal copies
  local shared = {k = "v"}
  local two = box:echo({shared, shared}):await()[1]
  assert(two[1].k == "v" and two[2].k == "v")

  -- references travel and still name the same actor
  local refs = box:echo({me = stage.self(), box = box}):await()[1]
  assert(refs.me == stage.self() and refs.box == box)
  assert(refs.box:kept():await().n == -1)
  print("ok")
end
