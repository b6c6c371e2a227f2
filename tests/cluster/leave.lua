-- Phase 1: finds 'area-b' and 'area-c' and both nodes' Areas by type.
-- Then (after the test stops the node of 'area-b' with SIGTERM) checks that
-- its name and its registration for the type go with it at once — long
-- before their 30 s lease would end them — and that 'area-c' still answers.
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

-- Calls f until it returns true, for at most secs seconds.
local function within(secs, f)
  local deadline = stage.now() + secs
  while stage.now() < deadline do
    local ok, done = pcall(f)
    if ok and done then return true end
    stage.sleep(0.1):await()
  end
  return false
end

function main()
  settled("area-c")
  settled("area-b")
  assert(within(10, function()
    return #stage.find_all_types("Area"):await(2) == 2
  end), "both Areas by type")
  print("phase1 ok")
  local t0 = stage.now()
  assert(within(10, function()
    local ok, e = pcall(function()
      return stage.find_name("area-b"):square(1):await(2)
    end)
    return not ok and e.type == "NameNotFound"
  end), "area-b's name outlived its node")
  assert(within(10, function()
    return #stage.find_all_types("Area"):await(2) == 1
  end), "the stopped node is still registered for Area")
  assert(stage.now() - t0 < 20, "only the lease ended them")
  assert(stage.find_name("area-c"):square(4):await() == 16)
  print("ok")
  stage.exit(0)
end
