-- opts.on_error: what a handler that raises after changing half of its
-- state leaves behind (docs/lua-api.md, "When a handler fails"). "keep"
-- serves on with the changed state; "restart", the default, runs death,
-- then birth again with the spawn arguments: same id, same names, the
-- messages queued behind the failure handled by the new instance, the old
-- instance's timers cancelled; "stop" stops it (later calls fail with
-- ActorNotFound). A birth that fails on restart stops the actor, and so
-- does a restart past max_restarts within restart_window (a crash loop).
-- stage.refuse fails the caller without a restart.
-- Run with one theatre: the counters below belong to the theatre's Lua
-- state, which its actors and main share.
local stage = require "stage"

local births, deaths = {}, {}
local old_ticks = 0 -- firings of the first Ticker instance's timer
local fragile_fails = false -- Fragile's birth fails once this is set

-- A type whose birth takes a start value and whose handlers change state.
local function define(name, opts)
  local T = stage.actor(name, opts)
  function T:birth(start)
    births[name] = (births[name] or 0) + 1
    self.n = start
  end
  function T:death() deaths[name] = (deaths[name] or 0) + 1 end
  function T:bump_then_fail() self.n = self.n + 1; error("half done") end
  function T:add(k) self.n = self.n + k; return self.n end
  function T:get() return self.n end
  function T:me() return stage.self() end
  return T
end

local Default = define("Default")
local Restart = define("Restart", {on_error = "restart"})
local Keep = define("Keep", {on_error = "keep"})
local Resume = define("Resume", {on_error = "resume"})
local Stop = define("Stop", {on_error = "stop"})
local Limited = define("Limited", {max_restarts = 3, restart_window = 60})
local Sliding = define("Sliding", {max_restarts = 1, restart_window = 1})
local Middle = define("Middle")

function Restart:withdraw(k)
  if k > self.n then stage.refuse("only " .. self.n .. " left") end
  self.n = self.n - k
  return self.n
end
function Restart:spin() self.n = -1; while true do end end
function Middle:relay(to) self.n = self.n + 1; return to:bump_then_fail():await() end

local Fragile = stage.actor "Fragile"
function Fragile:birth()
  births.Fragile = (births.Fragile or 0) + 1
  if fragile_fails then error("cannot be born again") end
end
function Fragile:fail() fragile_fails = true; error("first failure") end
function Fragile:get() return "alive" end

local BadBirth = stage.actor "BadBirth"
function BadBirth:birth() self.half = true; error("cannot start") end
function BadBirth:get() return self.half end
local KeptBadBirth = stage.actor("KeptBadBirth", {on_error = "keep"})
KeptBadBirth.birth, KeptBadBirth.get = BadBirth.birth, BadBirth.get

-- birth sends itself a message that fails: a crash loop
local Looper = stage.actor("Looper", {max_restarts = 5, restart_window = 60})
function Looper:birth()
  births.Looper = (births.Looper or 0) + 1
  stage.send(stage.self(), "tick")
end
function Looper:tick() error("tick failed") end
function Looper:ping() return "pong" end

local Ticker = stage.actor "Ticker"
function Ticker:birth()
  births.Ticker = (births.Ticker or 0) + 1
  if births.Ticker == 1 then -- only the first instance sets a timer
    stage.every(0.002, function() old_ticks = old_ticks + 1 end)
  end
end
function Ticker:fail() error("x") end

-- stage.actor refuses bad options with a message that says which
local function define_fails(opts, text)
  local ok, err = pcall(stage.actor, "Bad", opts)
  assert(not ok and tostring(err):find(text, 1, true), tostring(err))
end
define_fails({on_error = "ignore"}, [[actor type 'Bad': option 'on_error' ]]
  .. [[must be "restart", "keep" (or "resume") or "stop", not 'ignore']])
define_fails({on_error = 1}, "not '1'")
define_fails({max_restarts = 0}, "option 'max_restarts' must be a whole "
  .. "number from 1 to 1000000 (for none, use on_error = \"stop\"), not '0'")
define_fails({max_restarts = 2.5}, "not '2.5'")
define_fails({restart_window = -1}, "option 'restart_window' must be a "
  .. "number of seconds above 0, not '-1'")
define_fails({restart_window = 1/0}, "not 'inf'")
define_fails({on_error = "keep", max_restarts = 3}, "options 'max_restarts' "
  .. "and 'restart_window' go with on_error = \"restart\", not \"keep\"")

-- f must fail with an error of type ty; returns the error.
local function fails(f, ty)
  local ok, err = pcall(f.await, f)
  assert(not ok, "did not fail")
  assert(err.type == ty, "wanted " .. ty .. ", got " .. tostring(err))
  return err
end

local function keep_serves_the_changed_state()
  for _, T in ipairs{Keep, Resume} do
    local k = T(5)
    fails(k:bump_then_fail(), "HandlerError")
    assert(k:get():await() == 6)
  end
  assert(births.Keep == 1 and deaths.Keep == nil)
end

local function restart_serves_births_state_with_the_same_id_and_name()
  for _, T in ipairs{Default, Restart} do
    local r = T(5)
    local name = "restarting " .. tostring(r)
    stage.name(name, r):await()
    local err = fails(r:bump_then_fail(), "HandlerError")
    assert(err.message:find("half done", 1, true) and err.actor == tostring(r))
    assert(r:get():await() == 5) -- birth's state, with the spawn argument
    assert(r:me():await() == r) -- the same id
    local by_name = stage.find_name(name)
    assert(by_name:add(1):await() == 6 and by_name:me():await() == r)
    assert(stage.find_type(T):me():await() == r)
  end
  -- death ran for each failed instance, birth once more
  assert(births.Default == 2 and deaths.Default == 1)
  assert(births.Restart == 2 and deaths.Restart == 1)
end

local function queued_messages_go_to_the_new_instance()
  local r = Restart(100)
  local failed, a, b = r:bump_then_fail(), r:add(1), r:add(2)
  fails(failed, "HandlerError")
  assert(a:await() == 101 and b:await() == 103)
  -- a one-way message's failure restarts it too
  stage.send(r, "bump_then_fail")
  assert(r:get():await() == 100)
end

local function refuse_keeps_the_state()
  local r = Restart(10)
  assert(r:withdraw(4):await() == 6)
  local err = fails(r:withdraw(7), "HandlerError")
  assert(err.message == "only 6 left", err.message)
  assert(r:get():await() == 6)
end

local function an_uncaught_failed_await_restarts()
  local m = Middle(1)
  fails(m:relay(Keep(0)), "HandlerError")
  assert(m:get():await() == 1 and births.Middle == 2)
end

local function budget_exceeded_restarts()
  local r = Restart(3)
  fails(r:spin(), "BudgetExceeded")
  assert(r:get():await() == 3)
end

local function stop_stops()
  local s = Stop(5)
  stage.name("stopping", s):await()
  local failed, behind = s:bump_then_fail(), s:get()
  fails(failed, "HandlerError")
  fails(behind, "ActorNotFound") -- queued behind the failure
  fails(s:get(), "ActorNotFound")
  fails(stage.find_name("stopping"):get(), "NameNotFound") -- its name went
  assert(deaths.Stop == 1)
end

local function a_failed_birth_stops_but_under_keep()
  fails(BadBirth():get(), "ActorNotFound")
  assert(KeptBadBirth():get():await() == true)
end

local function birth_failing_on_restart_stops()
  local f = Fragile()
  assert(f:get():await() == "alive")
  local failed, behind = f:fail(), f:get()
  fails(failed, "HandlerError")
  fails(behind, "ActorNotFound")
  assert(births.Fragile == 2)
end

local function the_restart_limit_stops_a_failing_actor()
  local l = Limited(0)
  local calls = {}
  for i = 1, 5 do calls[i] = l:bump_then_fail() end
  local behind = l:get()
  for i = 1, 4 do fails(calls[i], "HandlerError") end -- 3 restarts, a stop
  fails(calls[5], "ActorNotFound")
  fails(behind, "ActorNotFound")
  assert(births.Limited == 4 and deaths.Limited == 4)
end

local function restarts_older_than_the_window_do_not_count()
  local s = Sliding(0)
  fails(s:bump_then_fail(), "HandlerError")
  stage.sleep(1.1):await() -- past the window of 1 s
  fails(s:bump_then_fail(), "HandlerError")
  assert(s:get():await() == 0) -- restarted, not stopped
  fails(s:bump_then_fail(), "HandlerError") -- the second within 1 s
  fails(s:get(), "ActorNotFound")
end

local function the_restart_limit_ends_a_crash_loop()
  local l = Looper()
  local deadline = stage.now() + 10
  local ok, err
  repeat
    ok, err = pcall(function() return l:ping():await() end)
    assert(stage.now() < deadline, "the crash loop did not end")
  until not ok
  assert(err.type == "ActorNotFound", tostring(err))
  assert(births.Looper == 6, births.Looper) -- the first and 5 restarts
end

local function the_old_instances_timers_are_cancelled()
  local t = Ticker()
  fails(t:fail(), "HandlerError")
  local seen = old_ticks
  -- its timer, every 2 ms on this theatre, would fire before this sleep
  -- (100 ms) ends if it were armed
  stage.sleep(0.1):await()
  assert(old_ticks == seen, "the failed instance's timer still fires")
  assert(births.Ticker == 2)
end

function main()
  keep_serves_the_changed_state()
  restart_serves_births_state_with_the_same_id_and_name()
  queued_messages_go_to_the_new_instance()
  refuse_keeps_the_state()
  an_uncaught_failed_await_restarts()
  budget_exceeded_restarts()
  stop_stops()
  a_failed_birth_stops_but_under_keep()
  birth_failing_on_restart_stops()
  the_restart_limit_stops_a_failing_actor()
  restarts_older_than_the_window_do_not_count()
  the_restart_limit_ends_a_crash_loop()
  the_old_instances_timers_are_cancelled()
  print("ok")
end
