-- tests/lua/steal.lua PART: work stealing inside one node (docs/lua-api.md,
-- "Where a spawned actor runs"). Run with --theatres 2, once per part
-- (burst, order, stay, fan_in, flooded), each in a node of its own. Everything here is
-- spawned from main in a burst too short for placement to spread it (well
-- under the 2 ms that saturate a theatre), so all of it starts on theatre 0
-- and theatre 1 is idle: whatever runs on theatre 1 was stolen.
--   1. workers spawned in a burst, each with a few ms of work queued, end
--      up running on both theatres;
--   2. receivers on theatre 0 kept busy by the numbered messages of
--      senders placed on theatre 1 are stolen in mid-stream, and every
--      receiver gets every sender's messages, all of them, in the order
--      sent (the senders are on the other theatre: an actor that actors of
--      its own theatre keep sending to stays with them);
--   3. pinned actors, actors placed with spawn_at(0), and ones whose state
--      cannot travel, queued in the same kind of burst as mobile workers
--      (some of which are stolen), never leave theatre 0, and answer;
--   4. the senders of a fan-in, each started by one order from main and
--      sending for many slices, run on both theatres, and the receiver
--      gets every message;
--   5. in that fan-in, the receiver, which falls behind the first sender
--      beside it, keeps its theatre to itself and that one sender: the
--      others, not started yet, all go to theatre 1, not half of them.
local stage = require "stage"

local WORKERS = 60
local CHUNK = 1500 -- Collatz numbers per worker: a few ms of work

-- The sum of the Collatz step counts of from .. to (CPU work).
local function steps(from, to)
  local s = 0
  for i = from, to do
    local n, c = i, 0
    while n ~= 1 do
      if n % 2 == 0 then n = n // 2 else n = 3 * n + 1 end
      c = c + 1
    end
    s = s + c
  end
  return s
end

local Worker = stage.actor "Worker"
function Worker:work(from, to)
  stage.stop()
  return {steps(from, to), stage.theatre()}
end

-- 1. a burst of workers: some run on theatre 1; the results are right
local function burst()
  local fs = {}
  for i = 1, WORKERS do
    fs[i] = Worker():work((i - 1) * CHUNK + 1, i * CHUNK)
  end
  local on, total = {}, 0
  for i = 1, WORKERS do
    local r = fs[i]:await()
    total = total + r[1]
    on[r[2]] = (on[r[2]] or 0) + 1
  end
  assert(total == steps(1, WORKERS * CHUNK), "a worker's result was wrong")
  assert((on[1] or 0) > 0, "no worker was stolen: all " .. WORKERS
    .. " ran on theatre 0 while theatre 1 was idle")
  assert((on[0] or 0) > 0, "every worker left theatre 0")
end

-- 2. order per sender while receivers are stolen
local RECEIVERS, SENDERS, ROUNDS, BATCH = 16, 4, 30, 5

local Receiver = stage.actor "Receiver"
function Receiver:birth()
  self.next, self.bad = {}, {}
end
function Receiver:num(sender, i)
  local want = (self.next[sender] or 0) + 1
  if i ~= want and not self.bad[sender] then
    self.bad[sender] = string.format("got %d, expected %d", i, want)
  end
  self.next[sender] = i
  -- where each message ran: the first theatre, and whether that changed
  local t = stage.theatre()
  if self.first == nil then self.first = t end
  if t ~= self.first then self.moved = true end
  steps(1, 200) -- work per message: a round takes longer than 2 ms
end
-- sender's last message: all of its numbers are in by now (its order)
function Receiver:fin(sender)
  return {self.next[sender] or 0, self.bad[sender] or false,
    self.moved or false}
end

local Sender = stage.actor "Sender"
-- BATCH numbers to every receiver per round, the rounds 2 ms apart (the
-- receivers take longer than that over a round, so theatre 0 keeps a
-- backlog), so the stream goes on while receivers move; then fin to every
-- receiver, and the answers
function Sender:run(id, receivers)
  for i = 0, ROUNDS - 1 do
    for _, r in ipairs(receivers) do
      for j = 1, BATCH do
        stage.send(r, "num", id, i * BATCH + j)
      end
    end
    stage.sleep(0.002):await()
  end
  local fs = {}
  for k, r in ipairs(receivers) do fs[k] = r:fin(id) end
  return stage.join(fs):await()
end

-- One stream: true if a receiver was stolen in mid-stream.
local function stream()
  local rs = {}
  for i = 1, RECEIVERS do rs[i] = Receiver() end
  local runs = {}
  for s = 1, SENDERS do runs[s] = Sender:spawn_at(1):run(s, rs) end
  local moved = {}
  for s, fins in ipairs(stage.join(runs):await()) do
    for i, f in ipairs(fins) do
      assert(not f[2], string.format("receiver %d, from sender %d: %s", i, s,
        tostring(f[2])))
      assert(f[1] == ROUNDS * BATCH, string.format("receiver %d got %d "
        .. "numbers of sender %d, not %d", i, f[1], s, ROUNDS * BATCH))
      if f[3] then moved[i] = true end
    end
  end
  return next(moved) ~= nil
end

-- try() up to three times, each checked, until it says true; else fail
-- with why (a machine loaded by others may keep a steal from coming in
-- time once, not three times).
local function one_of_three(try, why)
  for _ = 1, 3 do
    if try() then return end
  end
  error(why)
end

-- A stream may end before a steal (a receiver in a handler cannot go
-- until it ends): one of three must see one.
local function ordered()
  one_of_three(stream, "no receiver was stolen in mid-stream, in three "
    .. "streams")
end

-- 3. what must stay, queued with work in a burst like the workers
local Pin = stage.actor("Pin", {kind = "pinned"})
function Pin:work(from, to) return {steps(from, to), stage.theatre()} end
local Placed = stage.actor "Placed"
function Placed:work(from, to) return {steps(from, to), stage.theatre()} end
local Stuck = stage.actor "Stuck"
function Stuck:birth() self.f = function() end end -- cannot travel
function Stuck:ready() return true end
function Stuck:work(from, to) return {steps(from, to), stage.theatre()} end

local function stays()
  local fs, actors, born = {}, {}, {}
  local kinds = {"pinned", "spawn_at", "state that cannot travel", "free"}
  for i = 1, WORKERS do
    if i % 4 == 0 then
      actors[i] = Pin()
    elseif i % 4 == 1 then
      actors[i] = Placed:spawn_at(0)
    elseif i % 4 == 3 then
      actors[i] = Placed() -- the same type, free to go
    else
      -- born first: an actor not born yet has no state, and goes
      actors[i] = Stuck()
      born[#born + 1] = actors[i]:ready()
    end
  end
  stage.join(born):await()
  for i = 1, WORKERS do
    local a = actors[i]    -- two messages each, so each stays queued after its first turn
    fs[#fs + 1] = {i, a:work((i - 1) * CHUNK + 1, i * CHUNK)}
    fs[#fs + 1] = {i, a:work(1, 10)}
  end
  local free_moved = false
  for _, f in ipairs(fs) do
    local r, kind = f[2]:await(), kinds[f[1] % 4 + 1]
    if kind == "free" then
      free_moved = free_moved or r[2] == 1
    else
      assert(r[2] == 0, "actor " .. f[1] .. " (" .. kind .. ") ran on "
        .. "theatre " .. r[2])
    end
  end
  assert(free_moved, "no free actor was stolen: the test shows nothing")
end

-- 4. a fan-in written without placement: senders that main starts with
-- one order each, every order a handler that sends for many slices. A
-- sender in its handler cannot go, so they must be spread as soon as the
-- first one runs out its slice: one order is not a conversation (the
-- receiver, which a running sender keeps sending to, is one)
local FLOODERS, FLOOD = 4, 200000

local Sink = stage.actor "Sink"
function Sink:birth() self.n = 0 end
function Sink:msg() self.n = self.n + 1 end
function Sink:count() return {self.n, stage.theatre()} end

local Flooder = stage.actor "Flooder"
function Flooder:flood(sink, n)
  local on = stage.theatre()
  for _ = 1, n do stage.send(sink, "msg") end
  return on
end

-- One fan-in: how many of its senders ran on each theatre, and the
-- receiver's theatre.
local function flood()
  local sink = Sink()
  local fs = {}
  for i = 1, FLOODERS do fs[i] = Flooder():flood(sink, FLOOD) end
  local on = {[0] = 0, [1] = 0}
  for _, t in ipairs(stage.join(fs):await()) do on[t] = on[t] + 1 end
  local r = sink:count():await()
  assert(r[1] == FLOODERS * FLOOD, string.format("the receiver got %d "
    .. "messages, not %d", r[1], FLOODERS * FLOOD))
  return on, r[2]
end

-- Theatre 1 may not say it is idle before every sender has started: one
-- of three fan-ins must be spread.
local function fan_in()
  one_of_three(function()
    local on = flood()
    return on[0] > 0 and on[1] > 0
  end, "the senders of a fan-in all ran on theatre 0, in three fan-ins")
end

-- 5. the first sender runs out its slice with the receiver far behind it
-- (its messages are local: the receiver stays, talked to). The sender
-- cannot go, in its handler; the three not started yet all go, so the
-- receiver shares its theatre with one sender, not two (half of three,
-- rounded up, would leave one of them). Theatre 1 may come to say it is
-- idle only after the second sender has started (a loaded machine): one
-- of three fan-ins must show it. Before each, main sleeps 2 ms with
-- nothing else on theatre 0, so that theatre runs dry and its stealing
-- counts from zero, as in a new node: a theatre busy since the last
-- fan-in would give at once, before the first sender starts, and could
-- keep one sender beside the receiver whatever the rule.
local function flooded()
  local seen = {}
  for _ = 1, 3 do
    stage.sleep(0.002):await()
    local on, at = flood()
    if on[at] <= 1 then return end
    seen[#seen + 1] = on[at]
  end
  error("the receiver of a fan-in shared its theatre with "
    .. table.concat(seen, ", ") .. " senders in three fan-ins, not 1")
end

-- 6. a burst of workers whose departing hook takes long (5 ms of CPU, a
-- flush, say): a move runs it on the busy theatre, so that theatre gives
-- one away and then keeps the rest (about half of them would go)
local Slow = stage.actor "Slow"
function Slow:birth() self.departed = 0 end
function Slow:departing()
  self.departed = self.departed + 1
  steps(1, 3000) -- CPU time, as the theatre counts it (a busy wait would
                 -- take less of it on a loaded machine)
end
function Slow:work(from, to)
  return {steps(from, to), stage.theatre(), self.departed}
end

local function slow()
  local actors, born = {}, {}
  for i = 1, WORKERS do
    actors[i] = Slow()
    born[i] = actors[i]:work(1, 1) -- born first: a move then runs the hook
  end
  stage.join(born):await()
  local fs = {}
  for i = 1, WORKERS do
    fs[i] = actors[i]:work((i - 1) * CHUNK + 1, i * CHUNK)
  end
  local total, departed = 0, 0
  for i = 1, WORKERS do
    local r = fs[i]:await()
    total, departed = total + r[1], departed + r[3]
  end
  assert(total == steps(1, WORKERS * CHUNK), "a worker's result was wrong")
  assert(departed <= 1, departed .. " departing hooks of 5 ms ran on the "
    .. "busy theatre to give their actors away")
end

-- 7. pairs that talk: each caller awaits every answer of its own callee,
-- which works at least 50 us a message. The caller, suspended in its
-- await, cannot go; the callee is talked to, by an actor of its theatre,
-- which would keep it there; but its messages are heavy, so callees go,
-- and the second theatre works too. Heavy is also 16 times a light
-- message of the theatre, and a build for the sanitizers makes every
-- message slower: the work is 20 times a round trip measured first.
local PAIRS = 8

local Callee = stage.actor "Callee"
function Callee:ping(work)
  local t = stage.now()
  while stage.now() - t < work do end
  return stage.theatre()
end

-- The answers a caller got: {beside it, from the other theatre}.
local Caller = stage.actor "Caller"
function Caller:run(callee, pings, work)
  local here, away = 0, 0
  for _ = 1, pings do
    if callee:ping(work):await() == stage.theatre() then
      here = here + 1
    else
      away = away + 1
    end
  end
  return {here, away}
end

-- Each run starts as a new node does: main sleeps first, so theatre 0
-- runs dry (placement would otherwise send a burst spawned while it is
-- busy to theatre 1, whole pairs together, and the run shows nothing).
local function chatty()
  local probe, n, t0 = Callee(), 200, stage.now()
  for _ = 1, n do probe:ping(0):await() end
  local work = math.max(50e-6, 20 * (stage.now() - t0) / n)
  -- about 0.2 s of work in all on one theatre
  local pings = math.max(40, math.min(400, math.floor(0.2 / PAIRS / work)))
  one_of_three(function()
    stage.sleep(0.002):await()
    local fs = {}
    for i = 1, PAIRS do fs[i] = Caller():run(Callee(), pings, work) end
    local away = 0
    for _, r in ipairs(stage.join(fs):await()) do
      assert(r[1] + r[2] == pings, "a caller got " .. r[1] + r[2]
        .. " answers, not " .. pings)
      away = away + r[2]
    end
    return away > 0
  end, "every callee of " .. PAIRS .. " pairs that talk answered on its "
    .. "caller's theatre, in three runs, while the other was idle")
end

-- 8. a handler that runs for many slices (preempted at each) shares its
-- theatre with two actors that a caller on theatre 1 keeps asking: not
-- enough queued for a backlog, but each of their answers would wait a
-- slice; after a slice runs out, they go to the idle theatre.
local Spin = stage.actor "Spin"
function Spin:spin(secs)
  local t = stage.now()
  while stage.now() - t < secs do end
  return true
end

local Quick = stage.actor "Quick"
function Quick:where() return stage.theatre() end

local Asker = stage.actor "Asker"
function Asker:ask(quick, secs)
  local on, t0 = {[0] = 0, [1] = 0}, stage.now()
  repeat
    for _, q in ipairs(quick) do
      local t = q:where():await()
      on[t] = on[t] + 1
    end
  until stage.now() - t0 > secs
  return on
end

local function sliced()
  one_of_three(function()
    stage.sleep(0.002):await() -- as chatty
    local spin = Spin()
    local quick = {Quick(), Quick()}
    for _, q in ipairs(quick) do assert(q:where():await() == 0) end
    local f = spin:spin(0.3)
    local on = Asker:spawn_at(1):ask(quick, 0.2):await()
    assert(f:await() == true)
    return on[1] > 0
  end, "two actors beside a handler preempted for 0.3 s never left its "
    .. "theatre, in three runs, while theatre 1 was idle")
end

function main(args)
  assert(stage.theatres() == 2, "run with --theatres 2")
  local part = ({burst = burst, order = ordered, stay = stays,
    fan_in = fan_in, flooded = flooded, slow = slow, chatty = chatty,
    sliced = sliced})[args[1]]
  assert(part, "say which part: burst, order, stay, fan_in, flooded, slow, "
    .. "chatty or sliced")
  part()
  print("ok")
end
