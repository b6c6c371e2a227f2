-- stage.migrate(m, d) with d a reference: m goes where d is when the move
-- starts (where d goes, if it is moving). A d that has stopped fails the
-- move with ActorNotFound naming d, wherever it stopped, and m stays
-- where it was, serving; stage.migrate(d) inside an actor likewise (the
-- refusal is logged). Run with --theatres 4.
local stage = require "stage"

local A = stage.actor "A"
function A:where() return stage.theatre() end
function A:go_near(d) stage.migrate(d); return true end

local function expect_not_found(m, d)
  local ok, err = pcall(function() return stage.migrate(m, d):await() end)
  assert(not ok, "moved next to a stopped actor")
  assert(err.type == "ActorNotFound", tostring(err))
  assert(tostring(err):find("cannot move next to actor '" .. tostring(d) ..
                            "': it was not found", 1, true), tostring(err))
end

-- stop d and wait until it is gone: a call to it fails ActorNotFound
local function stop(d)
  stage.stop(d):await()
  local ok, err = pcall(function() return d:where():await() end)
  assert(not ok and err.type == "ActorNotFound", tostring(err))
end

function main()
  local m = A:spawn_at(0)
  -- next to a live actor, at home or moved
  local d = A:spawn_at(2)
  assert(stage.migrate(m, d):await() == m)
  assert(m:where():await() == 2)
  assert(stage.migrate(d, 3):await() == d)
  assert(stage.migrate(m, d):await() == m)
  assert(m:where():await() == 3)

  -- d stopped where it was born: refused, named; m stays and serves
  local home = A:spawn_at(1)
  home:where():await()
  stop(home)
  expect_not_found(m, home)
  assert(m:where():await() == 3)

  -- d stopped away from the theatre it was born in (before, m went to
  -- the theatre d had left)
  stop(d)
  expect_not_found(m, d)
  assert(m:where():await() == 3)
  assert(stage.migrate(m, 1):await() == m)
  expect_not_found(m, d)
  assert(m:where():await() == 1)

  -- asked by the actor itself: it stays, and the refusal is logged
  assert(m:go_near(d):await() == true)
  assert(m:where():await() == 1)
  print("ok")
end
