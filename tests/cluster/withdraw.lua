-- Finds 'area-a' and 'area-b' and two Areas, tells the test, and (once
-- the test has killed the node of 'area-b' with SIGKILL) times how long
-- until the dead node's name and its Area are gone from the directory:
-- the lease is 30 s here, so anything much shorter is the news of the
-- death withdrawing them, not the lease running out.
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

local function areas()
  return #stage.find_all_types("Area"):await(5)
end

function main()
  settled("area-a")
  settled("area-b")
  local deadline = stage.now() + 10
  while areas() < 2 and stage.now() < deadline do stage.sleep(0.1):await() end
  assert(areas() == 2, "not both Areas registered")
  local b = stage.find_name("area-b")
  assert(b:square(3):await() == 9)
  print("seen")
  -- the test kills area-b's node now
  local ok, err = pcall(function() return b:square(1):await(20) end)
  while ok do -- sent before the kill landed: try again
    stage.sleep(0.05):await()
    ok, err = pcall(function() return b:square(1):await(20) end)
  end
  assert(err.type == "NodeDown", tostring(err))
  local t0 = stage.now()
  local name_gone, type_gone
  while not (name_gone and type_gone) and stage.now() < t0 + 20 do
    if not name_gone then
      local r, e = pcall(function()
        return stage.find_name("area-b"):square(1):await(2)
      end)
      if not r and e.type == "NameNotFound" then
        name_gone = stage.now() - t0
      end
    end
    if not type_gone and areas() == 1 then type_gone = stage.now() - t0 end
    if not (name_gone and type_gone) then stage.sleep(0.05):await() end
  end
  assert(name_gone, "the dead node's name stayed 20 s")
  assert(type_gone, "the dead node's Area stayed 20 s")
  -- the living keep answering
  assert(stage.find_name("area-a"):square(5):await() == 25)
  print(string.format("gone name %.3f type %.3f", name_gone, type_gone))
  stage.exit(0)
end
