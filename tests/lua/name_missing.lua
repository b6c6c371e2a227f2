-- A name nobody holds: find_name gives a reference at once; a message to
-- it fails with NameNotFound, and that failure, once handled through the
-- message's future, is not reported again as the lookup's own.
local stage = require "stage"

function main()
  local ref = stage.find_name("nobody")
  local ok, e = pcall(function() return ref:hi():await(2) end)
  assert(not ok and e.type == "NameNotFound", tostring(e))
  assert(e.message:find("nobody", 1, true), e.message)
  -- the same reference keeps failing the same way
  ok, e = pcall(function() return ref:hi():await(2) end)
  assert(not ok and e.type == "NameNotFound")
  assert(tostring(ref) == "reference (lookup failed)", tostring(ref))
  -- naming through it fails with the lookup's failure (the call's future)
  ok, e = pcall(function() return stage.name("alias", ref):await(2) end)
  assert(not ok and e.type == "NameNotFound", tostring(e))
  print("ok")
end
