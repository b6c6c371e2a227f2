-- death() runs once when an actor stops (stage.stop(), or stage.stop(ref)
-- from another actor), after its last turn, and may send messages like
-- any handler.
local stage = require "stage"

local Recorder = stage.actor "Recorder"
function Recorder:birth() self.events = {} end
function Recorder:event(e) self.events[#self.events + 1] = e end
function Recorder:all() return self.events end

local Thing = stage.actor "Thing"
function Thing:birth(name, recorder) self.name, self.rec = name, recorder end
function Thing:quit() stage.stop(); return "stopping " .. self.name end
function Thing:death() self.rec:event("death " .. self.name) end

-- Stops with a message to itself queued: its death runs once (it ran a
-- second time, with no state, when the actor was on the run queue). The
-- marker's turn is queued behind that second run.
local Marker = stage.actor "Marker"
function Marker:birth(rec) RECORDER = rec end -- this theatre's global
function Marker:mark() RECORDER:event("marker") end
local Busy = stage.actor "Busy"
function Busy:quit(marker)
  stage.send(stage.self(), "quit")
  stage.send(marker, "mark")
  stage.stop()
end
function Busy:death() RECORDER:event("death busy") end

-- How many times each event was recorded, once there are n (round trips,
-- at most 2 s).
local function events(rec, n)
  local t0 = stage.now()
  while true do
    local all = rec:all():await()
    if #all >= n or stage.now() - t0 > 2 then
      local count = {}
      for _, e in ipairs(all) do count[e] = (count[e] or 0) + 1 end
      return count
    end
  end
end

function main(args)
  local rec = Recorder()
  local a = Thing("a", rec)
  local b = Thing:spawn_at(stage.theatres() - 1, "b", rec)
  assert(a:quit():await() == "stopping a")
  assert(events(rec, 1)["death a"] == 1, "death of a not recorded")
  assert(b:quit():await() == "stopping b")
  local got = events(rec, 2)
  assert(got["death a"] == 1 and got["death b"] == 1, "death not once each")
  -- stopped by another actor: its future resolves once the actor took the
  -- order; death runs; later messages find no actor
  local c = Thing:spawn_at(stage.theatres() - 1, "c", rec)
  assert(stage.stop(c):await() == true)
  assert(events(rec, 3)["death c"] == 1, "death of c not recorded")
  local ok, e = pcall(function() return c:quit():await() end)
  assert(not ok and e.type == "ActorNotFound", tostring(e))
  ok, e = pcall(function() return stage.stop(c):await() end)
  assert(not ok and e.type == "ActorNotFound", tostring(e))
  local last = stage.theatres() - 1
  local marker = Marker:spawn_at(last, rec)
  Busy:spawn_at(last):quit(marker)
  got = events(rec, 5)
  assert(got["marker"] == 1, "no marker")
  assert(got["death busy"] == 1, "death of busy ran " ..
         tostring(got["death busy"]) .. " times")
  print("ok")
end
