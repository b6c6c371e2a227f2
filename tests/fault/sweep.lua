-- tests/fault/sweep.lua: a little of everything a script does — spawn
-- (here and on another theatre), send and await, one-way sends,
-- delegation, pipelining, failures, next/catch/join/due, names and type
-- lookups, timers, stop and death, references in messages, print — each
-- result checked. fault_script.c runs it with the Nth allocation failing:
-- then it either still prints "ok" or fails with a message.
local stage = require "stage"

-- keep: a restart (the default) logs a warning, which a run without
-- faults must not
local Counter = stage.actor("Counter", {on_error = "keep"})
function Counter:birth(start) self.n = start or 0 end
function Counter:add(k) self.n = self.n + k; return self.n end
function Counter:get() return self.n end
function Counter:fail(why) error(why) end
function Counter:death() if self.log then self.log:note("died") end end
function Counter:watch(log) self.log = log end

local Relay = stage.actor("Relay", {is = Counter})
function Relay:forward(to, k) return to:add(k) end -- delegation
function Relay:pair(x) return {x, x * 2, name = "pair", ref = stage.self()} end
function Relay:later(secs, to)
  stage.after(secs, function() stage.send(to, "add", 100) end)
end

local Log = stage.actor "Log"
function Log:birth() self.notes = {} end
function Log:note(s) self.notes[#self.notes + 1] = s end
function Log:notes() return self.notes end

-- v must be want; the message names what was got instead (an error value
-- that comes back in its place names its type: OutOfMemory, say).
local function check(v, want, what)
  if v ~= want then error(what .. ": got " .. tostring(v), 2) end
end

-- f fails with an error of type want.
local function fails(want, f, what)
  local ok, err = pcall(f)
  if ok or type(err) ~= "table" or err.type ~= want then
    error(what .. ": got " .. tostring(err), 2)
  end
end

function main(args)
  local last = stage.theatres() - 1
  local c = Counter(10)
  check(c:add(5):await(), 15, "add")
  stage.send(c, "add", 1)
  check(c:get():await(), 16, "one-way add")

  local r = Relay:spawn_at(last, 0)
  check(r:forward(c, 4):await(), 20, "delegation")
  check(r:add(c:get()):await(), 20, "pipelining")
  local p = r:pair(21):await()
  check(p[1] == 21 and p[2] == 42 and p.name == "pair" and p.ref == r, true,
        "a table back")

  fails("HandlerError", function() return c:fail("on purpose"):await() end,
        "a failed handler")
  check(c:fail("caught"):catch(function(e) return e.type end):await(),
        "HandlerError", "catch")
  check(c:get():next(function(v) return v + 1 end):await(), 21, "next")
  check(c:get():due(5):await(), 20, "due")

  local fs = {}
  for i = 1, 6 do fs[i] = Counter:spawn_at(i % (last + 1), i):get() end
  local all = stage.join(fs):await()
  for i = 1, 6 do check(all[i], i, "join") end

  check(stage.name("counter", c):await(), true, "name")
  check(stage.find_name("counter"):get():await(), 20, "find_name")
  fails("NameNotFound", function()
    return stage.find_name("nobody"):get():await()
  end, "find_name of nobody")
  check(stage.find_type("Relay"):get():await(), 20, "find_type")
  check(#stage.find_all_types("Counter"):await(), 7, "find_all_types")

  r:later(0.0005, c):await()
  stage.sleep(0.0005):await()
  local waited = 0
  while c:get():await() ~= 120 and waited < 400 do
    stage.sleep(0.0005):await()
    waited = waited + 1
  end
  check(c:get():await(), 120, "the timer's send")

  local log = Log()
  r:watch(log):await()
  check(stage.stop(r):await(), true, "stop")
  fails("ActorNotFound", function() return r:get():await() end,
        "a stopped actor")
  -- death's note comes from the stopped actor's theatre: wait for it
  local notes, tries = log:notes():await(), 0
  while not notes[1] and tries < 400 do
    stage.sleep(0.0005):await()
    notes, tries = log:notes():await(), tries + 1
  end
  check(notes[1], "died", "death")
  print("ok")
end
