-- stage.actor checks what it defines: names of 1-63 characters of
-- [A-Za-z0-9_.-] not starting with a digit, no type defined twice, kinds
-- "mobile", "pinned" and "creatable"; actors of every kind answer.
local stage = require "stage"

local Mobile = stage.actor "Mobile"
function Mobile:kind() return "mobile" end
local Pinned = stage.actor("Pinned", {kind = "pinned"})
function Pinned:kind() return "pinned" end
local Creatable = stage.actor("Creatable", {kind = "creatable"})
function Creatable:kind() return "creatable" end
local Explicit = stage.actor("Explicit.mobile-1_x", {kind = "mobile"})
function Explicit:kind() return "explicit" end
local Long = stage.actor(string.rep("L", 63))
function Long:kind() return "long" end

-- Calls stage.actor(...), which must fail with a text holding 'want'.
local function refused(want, ...)
  local ok, err = pcall(stage.actor, ...)
  assert(not ok, "accepted: " .. tostring((...)))
  err = tostring(err)
  assert(err:find(want, 1, true), "'" .. err .. "' lacks '" .. want .. "'")
end

function main(args)
  assert(Mobile():kind():await() == "mobile")
  assert(Pinned():kind():await() == "pinned")
  assert(Creatable():kind():await() == "creatable")
  assert(Explicit():kind():await() == "explicit")
  assert(Long():kind():await() == "long")
  assert(tostring(Explicit()):find("/Explicit.mobile-1_x/", 1, true))

  refused("'Mobile'", "Mobile")                 -- defined twice
  refused("'1abc'", "1abc")
  refused("''", "")
  refused(string.rep("x", 64), string.rep("x", 64))
  refused("'has space'", "has space")
  refused("'a/b'", "a/b")
  refused("kind", "K", {kind = "weird"})      -- names the option
  print("ok")
end
