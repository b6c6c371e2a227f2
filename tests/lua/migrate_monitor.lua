-- Monitors do not travel: a move of an actor with a monitor of its own is
-- refused saying to cancel it in departing; one of an actor another
-- watches is refused saying the watcher must cancel it; once it has, the
-- actor moves. Run with --theatres 2.
local stage = require "stage"

local M = stage.actor "M"
function M:where() return stage.theatre() end
function M:watch(other) self.mon = stage.monitor(other, function() end); return true end
function M:unwatch() self.mon:cancel(); self.mon = nil; return true end

local function refusal(ref, to)
  local ok, err = pcall(function() return stage.migrate(ref, to):await() end)
  assert(not ok, "the move was not refused")
  return tostring(err)
end

local function has(err, text)
  assert(err:find(text, 1, true), "wanted '" .. text .. "' in: " .. err)
end

function main()
  local watcher, watched = M:spawn_at(0), M:spawn_at(0)
  assert(watcher:watch(watched):await())
  local err = refusal(watcher, 1)
  has(err, "has monitors of its own: monitors do not travel; cancel them in departing")
  err = refusal(watched, 1)
  has(err, "is watched by another actor's monitor: monitors do not travel, and only their watchers can cancel them")
  assert(watched:where():await() == 0)
  assert(watcher:unwatch():await())
  assert(stage.migrate(watched, 1):await() == watched)
  assert(stage.migrate(watcher, 1):await() == watcher)
  assert(watched:where():await() == 1 and watcher:where():await() == 1)
  print("ok")
end
