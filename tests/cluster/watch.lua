-- Phase 1: finds the names of two other nodes. Then (after the test kills
-- the node of 'area-b' with SIGKILL) checks that 'area-a' is still found
-- and called, that a message to the dead node fails, and that 'area-b'
-- disappears once its lease runs out.
local stage = require "stage"

-- settled(name): waits (at most 10 s) until name is found and answers
-- square(1): the node that names it may still be starting. (Each script
-- has its own copy: actor code runs in a sandbox, without dofile.)
local function settled(name)
  local deadline = stage.now() + 10
  repeat
    local ok = pcall(function()
      return stage.find_name(name):square(1):await()
    end)
    if ok then return end
    stage.sleep(0.1):await()
  until stage.now() > deadline
  error("name '" .. name .. "' never became visible")
end

function main()
  settled("area-a")
  settled("area-b")
  local a, b = stage.find_name("area-a"), stage.find_name("area-b")
  assert(a:square(2):await() == 4 and b:square(3):await() == 9)
  print("phase1 ok")
  -- the test kills area-b's node now; a message to it fails
  local ok, err = pcall(function() return b:square(1):await(20) end)
  while ok do -- sent before the kill landed: try again
    stage.sleep(0.1):await()
    ok, err = pcall(function() return b:square(1):await(20) end)
  end
  -- the kill is found in milliseconds (its address refuses connections):
  -- NodeDown, for a call waiting when it was found or one sent after (the
  -- id names the dead incarnation); never the 20 s Timeout
  assert(err.type == "NodeDown", tostring(err))
  -- the survivors keep answering
  assert(stage.find_name("area-a"):square(5):await() == 25)
  -- and the dead node's name expires with its lease
  local gone = false
  local deadline = stage.now() + 20
  while not gone and stage.now() < deadline do
    local r, e = pcall(function()
      return stage.find_name("area-b"):square(1):await(2)
    end)
    gone = not r and e.type == "NameNotFound"
    if not gone then stage.sleep(0.2):await() end
  end
  assert(gone, "area-b's name did not expire")
  print("ok")
  stage.exit(0)
end
