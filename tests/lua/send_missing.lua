-- Messages to ids of this node that name no actor: stage.send logs each
-- with the id (send_missing in CMakeLists.txt checks the lines), a future
-- fails with ActorNotFound. An id of an earlier run of this node (another
-- incarnation, the same address) is ActorNotFound too, not "not connected
-- to others".
local stage = require "stage"

local A = stage.actor "A"
function A:x() return "x" end

-- The text of id with its serial, or its incarnation, replaced.
local function with_serial(id, s) return (id:gsub("/%d+$", "/" .. s)) end
local function earlier_run(id)
  return (id:gsub("~(%x+)/", function(h)
    return "~" .. (h == "1" and "2" or "1") .. "/"
  end))
end

local function fails_with(kind, f)
  local ok, err = pcall(f)
  assert(not ok and type(err) == "table" and err.type == kind, tostring(err))
  return err
end

function main(args)
  local a = tostring(A())
  -- serial 999999 says theatre 63, the id theatre 0: never existed here
  stage.send(stage.ref(with_serial(a, 999999)), "x")
  -- theatre 0, a serial never given out
  stage.send(stage.ref(with_serial(a, 256768)), "x")
  fails_with("ActorNotFound", function()
    return stage.ref(with_serial(a, 256768)):x():await()
  end)
  local old = stage.ref(earlier_run(a))
  stage.send(old, "x")
  local e = fails_with("ActorNotFound", function() return old:x():await() end)
  assert(e.message:find("earlier run of this node", 1, true), e.message)
  fails_with("ActorNotFound", function() return stage.stop(old):await() end)
  assert(stage.ref(a):x():await() == "x") -- the real one still answers
  print("ok")
end
