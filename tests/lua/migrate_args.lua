-- stage.migrate's arguments, wrong in every way: each raises at the call
-- with a message that names what was given, and the actor stays serving
-- where it was. Run with --theatres 4.
local stage = require "stage"

local M = stage.actor "M"
function M:where() return stage.theatre() end

local Pinned = stage.actor("Pinned", {kind = "pinned"})
function Pinned:hop(to)
  local ok, err = pcall(stage.migrate, to)
  return not ok and tostring(err) or nil -- the error, or nil if none
end

-- Calls stage.migrate(...) and returns its error; fails if it did not raise.
local function raises(...)
  local ok, err = pcall(stage.migrate, ...)
  assert(not ok, "migrate did not raise")
  return tostring(err)
end

local function has(err, text)
  assert(err:find(text, 1, true), "wanted '" .. text .. "' in: " .. err)
end

function main()
  local m = M:spawn_at(0)
  assert(m:where():await() == 0)
  -- whole numbers out of range are quoted as given, not wrapped to int
  has(raises(m, math.maxinteger),
      "no theatre " .. math.maxinteger .. " on this node (it has theatres 0 to 3)")
  has(raises(m, math.mininteger),
      "no theatre " .. math.mininteger .. " on this node")
  has(raises(m, 2^32), "no theatre 4294967296 on this node")
  has(raises(m, -1), "no theatre -1 on this node")
  -- numbers that are no theatre index say so, and quote the number
  has(raises(m, 1.5), "theatre 1.5 is not a whole number: give a theatre index from 0 to 3")
  has(raises(m, 0/0), "theatre NaN is not a whole number")
  has(raises(m, math.huge), "theatre inf is not a whole number")
  -- two arguments: the first must be a reference, not taken as the place
  has(raises(5, 1), "bad argument #1 to 'stage.migrate' (reference expected, got number)")
  has(raises("M", 1), "bad argument #1 to 'stage.migrate' (reference expected, got string)")
  has(raises({}, 1), "(reference expected, got table)")
  -- a float with a whole value is a theatre index, as 2 is
  assert(stage.migrate(m, 2.0):await() == m)
  assert(m:where():await() == 2)
  -- a pinned actor asking to move itself, main included, raises at once
  -- (it used to return, and a warning came later)
  local err0 = Pinned:spawn_at(0):hop(1):await()
  assert(err0, "a pinned actor's own move did not raise")
  has(err0, "/Pinned/")
  has(err0, "' is pinned: it stays in its theatre (only mobile actors move)")
  has(raises(1), "/stage.main/")
  -- spawn_at quotes a huge theatre as given
  local ok, err = pcall(M.spawn_at, M, math.maxinteger)
  assert(not ok and tostring(err):find("no theatre " .. math.maxinteger, 1, true),
         tostring(err))
  assert(m:where():await() == 2)
  print("ok")
end
