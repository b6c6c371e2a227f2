-- A turn goes on to the next actors of its theatre's run queue in one
-- resume (lactor.c, "the runner"; core's stage__turn_after): a token
-- passed round a ring on one theatre runs that way. Each handler must
-- still run as its own actor's: stage.self(), its state and class, a
-- timer it sets, a failure (which stops that actor, no other), an await
-- (which holds that actor, and the ring goes on from it when the reply
-- comes), a stop and a move; a call's reply is its own handler's, and a
-- message no handler takes fails its call alone. The rings are spawned
-- with spawn_at on theatre 0; main runs there too.
local stage = require "stage"

local HOPS = 1000

-- Two types that alternate round the ring: a switch changes the class as
-- well as the state.
local Even = stage.actor "Even"
local Odd = stage.actor("Odd", { on_error = "stop" })

local function setup(class)
  function class:birth(i, log)
    self.i, self.log, self.seen = i, log, 0
  end
  function class:link(me, next_one, pong)
    self.me, self.next, self.pong = me, next_one, pong
  end
  function class:token(n)
    assert(stage.self() == self.me, "actor " .. self.i .. " ran as another")
    assert(stage.theatre() == (self.moved and 1 or 0))
    self.seen = self.seen + 1
    stage.send(self.log, "put", self.i, n)
    if n == self.fail_at then error("failing at " .. n) end
    if n == self.await_at then
      assert(self.pong:ping():await() == "pong") -- the ring waits here
    end
    if n == self.timer_at then
      stage.after(0, function()
        stage.send(self.log, "timer", self.i, stage.self() == self.me)
      end)
    end
    if n == self.stop_at then return stage.stop() end -- the token ends
    if n == self.move_at then
      self.moved = true
      stage.migrate(1)
    end
    if n > 0 then stage.send(self.next, "token", n - 1) end
  end
  function class:set(k, v) self[k] = v end
  function class:seen_count() return self.seen end
  function class:twice(x) return { self.i, 2 * x } end
end
setup(Even)
setup(Odd)

local Log = stage.actor "Log"
function Log:birth() self.hops, self.timers, self.ring = {}, {}, 0 end
function Log:put(i, n)
  self.hops[#self.hops + 1] = { i, n }
  if i ~= 0 then self.ring = self.ring + 1 end -- 0: a ticker's
end
function Log:timer(i, ok) self.timers[#self.timers + 1] = { i, ok } end
function Log:get() return { hops = self.hops, timers = self.timers } end
function Log:count() return self.ring end -- the hops, not a ticker's

local Pong = stage.actor "Pong"
function Pong:ping() return "pong" end

-- Ticks every millisecond, telling the log, until told to stop.
local Ticker = stage.actor "Ticker"
function Ticker:start(log)
  self.log, self.on = log, true
  local function tick()
    if not self.on then return end
    stage.send(self.log, "put", 0, 0)
    stage.after(0.001, tick)
  end
  tick()
end
function Ticker:stop() self.on = false end

-- Monitors the actors it is given (a monitor's function is a turn of its
-- caller, which main, awaiting in one long handler, would not run).
local Watcher = stage.actor "Watcher"
function Watcher:birth() self.down = {} end
function Watcher:watch(refs)
  for i, ref in ipairs(refs) do
    stage.monitor(ref, function(reason, err)
      self.down[#self.down + 1] = { i, reason, err and err.message }
    end)
  end
end
function Watcher:downs() return self.down end

-- A ring of size actors on theatre 0 with a log on theatre 1.
local function ring(size)
  local log, pong = Log:spawn_at(1), Pong:spawn_at(1)
  local r = {}
  for i = 1, size do r[i] = (i % 2 == 0 and Even or Odd):spawn_at(0, i, log) end
  local links = {}
  for i = 1, size do links[i] = r[i]:link(r[i], r[i % size + 1], pong) end
  stage.join(links):await()
  return r, log
end

-- The hops the log saw, checked to go round the ring from start in turn
-- (skipping the actors in gone) down to 0; returns how many.
local function check_hops(hops, size, start, gone)
  local want = start
  for k, h in ipairs(hops) do
    while gone and gone[want] do want = want % size + 1 end
    assert(h[1] == want, "hop " .. k .. " ran on actor " .. h[1] .. ", not "
      .. want)
    assert(h[2] == HOPS - k + 1, "hop " .. k .. " carried " .. h[2])
    want = want % size + 1
  end
  return #hops
end

-- Await the log until it holds n hops (it is on the other theatre), not
-- counting a ticker's; then its contents. The log counts them itself: a
-- copy of 100,000 hops at each look, under the sanitizers on a loaded
-- machine, took main past its 10 s budget.
local function hops_of(log, n)
  while log:count():await() < n do stage.sleep(0.001):await() end
  return log:get():await()
end

function main()
  assert(stage.theatres() == 2, "run with --theatres 2")
  assert(stage.theatre() == 0)

  -- round and round: each actor runs as itself, and a timer it sets is its
  local r, log = ring(10)
  r[4]:set("timer_at", HOPS - 3):await()
  r[7]:set("timer_at", HOPS - 106):await()
  stage.send(r[1], "token", HOPS)
  local got = hops_of(log, HOPS + 1)
  check_hops(got.hops, 10, 1)
  for i = 1, 10 do
    local seen = r[i]:seen_count():await()
    assert(seen == (i == 1 and 101 or 100), "actor " .. i .. " saw " .. seen)
  end
  repeat got = log:get():await() until #got.timers == 2
  table.sort(got.timers, function(x, y) return x[1] < y[1] end)
  assert(got.timers[1][1] == 4 and got.timers[1][2], "actor 4's timer")
  assert(got.timers[2][1] == 7 and got.timers[2][2], "actor 7's timer")

  -- a failure in the middle of the ring stops that actor (on_error
  -- "stop"), and no other: the monitor names it, the token is lost there
  r, log = ring(10)
  r[5]:set("fail_at", HOPS - 24):await()
  local watcher = Watcher:spawn_at(1)
  watcher:watch(r):await()
  stage.send(r[1], "token", HOPS)
  got = hops_of(log, 25)
  local down
  repeat
    down = watcher:downs():await()
    if #down == 0 then stage.sleep(0.001):await() end
  until #down > 0
  assert(#down == 1 and down[1][1] == 5 and down[1][2] == "HandlerError"
    and down[1][3]:find("failing at " .. (HOPS - 24)),
    "the failure went to actor " .. tostring(down[1][1]))
  assert(check_hops(got.hops, 10, 1) == 25)
  for i = 1, 10 do
    if i ~= 5 then r[i]:seen_count():await() end -- alive
  end

  -- an await in the middle holds that actor; the ring goes on from it
  -- once the reply is back, and a stop and a move later do not lose it
  r, log = ring(10)
  r[3]:set("await_at", HOPS - 2):await()
  r[6]:set("await_at", HOPS - 455):await()
  r[8]:set("move_at", HOPS - 307):await()
  r[9]:set("stop_at", HOPS - 508):await()
  stage.send(r[1], "token", HOPS)
  got = hops_of(log, 509)
  assert(check_hops(got.hops, 10, 1) == 509, "the ring ended early")
  -- a token r[9] passed on in its last handler would be queued for r[10]
  -- before this call: r[10] saw its 50 hops of the 509, and no more
  local seen = r[10]:seen_count():await()
  assert(seen == 50, "a stopped actor passed the token: actor 10 saw "
    .. seen)
  local ok, err = pcall(function() return r[9]:seen_count():await() end)
  assert(not ok and tostring(err):find("ActorNotFound"), tostring(err))

  -- a ring that goes round for long leaves its theatre's timers their
  -- turns: a turn goes on for at most 100 messages, then the theatre
  -- runs its timers and its inbox. The 100,000 hops take milliseconds
  -- (tens under the sanitizers): ticks come in between them.
  r, log = ring(10)
  local ticker = Ticker:spawn_at(0)
  ticker:start(log):await()
  local long = 100000
  stage.send(r[1], "token", long)
  got = hops_of(log, long + 1)
  ticker:stop():await()
  local between, hops = 0, 0
  for _, h in ipairs(got.hops) do
    if h[1] ~= 0 then
      hops = hops + 1
    elseif hops > 0 and hops <= long then
      between = between + 1
    end
  end
  assert(between >= 2, "only " .. between .. " ticks among " .. long
    .. " hops")

  -- calls queued for several actors: the runner goes from one to the
  -- next, and each reply is its own handler's
  r = ring(10)
  local replies = {}
  for k = 1, 50 do replies[k] = r[k % 10 + 1]:twice(k) end
  for k = 1, 50 do
    local v = replies[k]:await()
    assert(v[1] == k % 10 + 1 and v[2] == 2 * k,
      "call " .. k .. " answered " .. v[1] .. ", " .. v[2])
  end

  -- a message among them that no handler takes fails its own call, and
  -- the turn ends there; the messages after it, the actor's and the
  -- next actors', still run, each answered by its own handler
  replies = {}
  for k = 1, 50 do
    local to = r[k % 10 + 1]
    replies[k] = k % 7 == 0 and to:nosuch(k) or to:twice(k)
  end
  for k = 1, 50 do
    local ok, v = pcall(function() return replies[k]:await() end)
    if k % 7 == 0 then
      assert(not ok and tostring(v):find("NoSuchMethod")
        and tostring(v):find("has no method 'nosuch'", 1, true),
        "call " .. k .. ": " .. tostring(v))
    else
      assert(ok and v[1] == k % 10 + 1 and v[2] == 2 * k,
        "call " .. k .. ": " .. tostring(ok and v[1] or v))
    end
  end
  print("ok")
end
