-- cluster.eight's checker: args are the eight names, then the victim's.
-- Phase 1 finds every name and type; after the test kills the victim's
-- node with SIGKILL, phase 2 checks the others are still found (R = 3) and
-- the victim's name and Worker expire with its lease.
local stage = require "stage"

local function who(name, secs)
  return stage.find_name(name):who():await(secs)
end

-- Retries name until it answers, for at most secs (its node may still be
-- starting).
local function found(name, secs)
  local deadline = stage.now() + secs
  repeat
    local ok, v = pcall(who, name, 2)
    if ok then return v end
    stage.sleep(0.1):await()
  until stage.now() > deadline
  error("name '" .. name .. "' not found within " .. secs .. " s")
end

local function count(t)
  local ok, v = pcall(function() return stage.find_all_types(t):await(5) end)
  return ok and #v or -1
end

function main(args)
  local victim = table.remove(args)
  for _, n in ipairs(args) do assert(found(n, 10) == n) end
  -- a spawn announces its type without waiting: give the DHT a moment
  local function counts(t, want, secs)
    local deadline = stage.now() + secs
    while count(t) ~= want and stage.now() < deadline do
      stage.sleep(0.1):await()
    end
    return count(t)
  end
  assert(counts("Worker", 8, 10) == 8, "Workers: " .. count("Worker"))
  assert(counts("Special", 1, 10) == 1, "Specials: " .. count("Special"))
  assert(stage.find_type("Worker"):node():await() == true)
  assert(stage.find_type("Special"):node():await() == true)
  assert(stage.find_subtype("Worker"):node():await() == true)
  print("phase1 ok")
  -- the victim is killed now: every other name is still found
  local gone = stage.now() + 20
  for _, n in ipairs(args) do
    if n ~= victim then assert(found(n, 5) == n) end
  end
  print("survivors ok")
  -- the victim's name and its Worker expire with its lease
  local ok, err
  repeat
    ok, err = pcall(who, victim, 2)
    if ok or err.type ~= "NameNotFound" then stage.sleep(0.2):await() end
  until (not ok and err.type == "NameNotFound") or stage.now() > gone
  assert(not ok and err.type == "NameNotFound",
         "'" .. victim .. "' did not expire: " .. tostring(err))
  assert(counts("Worker", 7, math.max(gone - stage.now(), 1)) == 7,
         "the dead node's Worker did not expire")
  print("ok")
  stage.exit(0)
end
