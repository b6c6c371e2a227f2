-- Monitors follow a moved actor inside a node: the watches on an actor go
-- with it, so a monitor set before its moves, during one or after them
-- fires once, with the reason it stopped for, wherever it stopped; a
-- cancel from the watcher after the moves still keeps fn from running.
-- An actor with monitors of its own still stays (they hold functions of
-- its theatre's Lua state), saying so. Run with --theatres 3.
local stage = require "stage"

local Target = stage.actor("Target", {on_error = "stop"})
function Target:where() return stage.theatre() end
function Target:boom() error("boom") end
function Target:quit() stage.stop() end
function Target:ping() return true end

-- Records "<label> <reason>" for each monitor that fires; log_text gives
-- them sorted (two monitors of one actor fire in no given order).
local Watcher = stage.actor "Watcher"
function Watcher:birth() self.log, self.handles, self.errs = {}, {}, {} end
function Watcher:watch(label, ref)
  self.handles[label] = stage.monitor(ref, function(reason, err)
    self.log[#self.log + 1] = label .. " " .. reason
    self.errs[label] = err and tostring(err)
  end)
  return true
end
function Watcher:cancel(label) self.handles[label]:cancel(); return true end
function Watcher:log_text()
  local sorted = table.move(self.log, 1, #self.log, 1, {})
  table.sort(sorted)
  return table.concat(sorted, ",")
end
function Watcher:err(label) return self.errs[label] end
function Watcher:where() return stage.theatre() end
-- a round trip through theatre `at`'s actor: what it sent before is in
function Watcher:through(echo) return echo:ping():await() end

local function expect(w, want)
  local deadline = stage.now() + 10
  local got = w:log_text():await()
  while got ~= want and stage.now() < deadline do
    stage.sleep(0.01):await()
    got = w:log_text():await()
  end
  assert(got == want, "log: want '" .. want .. "', got '" .. got .. "'")
end

local function move(ref, to)
  assert(stage.migrate(ref, to):await() == ref)
  assert(ref:where():await() == to, "not at theatre " .. to)
end

local function has(err, text)
  assert(err:find(text, 1, true), "wanted '" .. text .. "' in: " .. err)
end

function main()
  local echoes = {}
  for i = 0, stage.theatres() - 1 do echoes[i] = Target:spawn_at(i) end
  local w = Watcher:spawn_at(0)

  -- watched before one move: fires once, "normal", where it stopped
  local a = Target:spawn_at(0)
  w:watch("a", a):await()
  move(a, 1)
  stage.stop(a):await()
  expect(w, "a normal")

  -- watched before several moves, and another monitor set after them
  -- (it goes through the theatre the actor was born in): both fire once,
  -- with the failure it stopped for
  local b = Target:spawn_at(1)
  w:watch("b1", b):await()
  move(b, 2); move(b, 0); move(b, 2); move(b, 1); move(b, 2)
  w:watch("b2", b):await()
  local ok = pcall(function() return b:boom():await() end)
  assert(not ok, "boom did not fail")
  expect(w, "a normal,b1 HandlerError,b2 HandlerError")
  has(w:err("b1"):await(), "HandlerError")
  has(w:err("b1"):await(), "boom")

  -- a monitor set while the actor moves (the watch waits for it)
  local c = Target:spawn_at(0)
  c:ping():await()
  local moves = {}
  for i = 1, 20 do moves[i] = stage.migrate(c, i % 3) end
  w:watch("c", c):await()
  for i = 1, 20 do assert(moves[i]:await() == c) end
  c:quit():await()
  expect(w, "a normal,b1 HandlerError,b2 HandlerError,c normal")

  -- cancelled by the watcher after the moves: fn never runs; "d2", set
  -- with it, fires, and a round trip through the theatre d stopped in
  -- lets any late DOWN in before the log is read
  local d = Target:spawn_at(2)
  w:watch("d1", d):await()
  w:watch("d2", d):await()
  move(d, 0); move(d, 1)
  w:cancel("d1"):await()
  move(d, 2)
  stage.stop(d):await()
  local want = "a normal,b1 HandlerError,b2 HandlerError,c normal,d2 normal"
  expect(w, want)
  w:through(echoes[2]):await()
  assert(w:log_text():await() == want, "a cancelled monitor ran")

  -- an actor with monitors of its own does not move, and says why
  local e = Target:spawn_at(0)
  w:watch("e", e):await()
  ok, err = pcall(function() return stage.migrate(w, 1):await() end)
  assert(not ok, "a watcher moved")
  has(tostring(err), "has monitors of its own: monitors do not travel")
  assert(w:where():await() == 0)
  print("ok")
end
