-- Moves between the theatres of one node (stage.migrate): an actor moves
-- back and forth, asked from outside and by itself, while senders on every
-- theatre send it numbered one-way messages and calls. Nothing lost, none
-- duplicated, each sender's order kept, every call answered; its name
-- still finds it; a suspended handler finishes before the move; refused
-- moves leave the actor serving. Run with --theatres 4.
local stage = require "stage"

local Mover = stage.actor "Mover"
function Mover:birth() self.seen = {}; self.arrivals = 0 end
function Mover:arrived() self.arrivals = self.arrivals + 1 end
function Mover:put(tag, i)
  local list = self.seen[tag] or {}
  self.seen[tag] = list
  list[#list + 1] = i
end
function Mover:call(tag, i) self:put(tag, i); return i end
function Mover:hop(where) stage.migrate(where); return true end
function Mover:where() return stage.theatre() end
function Mover:all() return self.seen end
function Mover:count() return self.arrivals end

local Sender = stage.actor "Sender"
-- Sends 1..n to m, every 7th as a call, the rest one way; checks every
-- call's answer.
function Sender:run(m, tag, n)
  local calls = {}
  for i = 1, n do
    if i % 7 == 0 then
      calls[#calls + 1] = m:call(tag, i)
    else
      stage.send(m, "put", tag, i)
    end
  end
  local got = stage.join(calls):await()
  for k, v in ipairs(got) do
    assert(v == 7 * k, tag .. ": call " .. k .. " answered " .. tostring(v))
  end
  return #got
end

-- A sender that moves too: sends from..to, then moves to `where`; the
-- next batch is sent from there.
local Rover = stage.actor "Rover"
function Rover:batch(m, tag, from, to, where)
  for i = from, to do stage.send(m, "put", tag, i) end
  stage.migrate(where)
end
function Rover:call_at(m, tag, i) return m:call(tag, i):await() end

local Echo = stage.actor "Echo"
function Echo:slow(v) stage.sleep(0.2); return v end
function Echo:count() return 0 end

-- Awaits a slow call, logging where its handler starts and ends.
local Waiter = stage.actor "Waiter"
function Waiter:birth() self.log = {}; self.started = false end
function Waiter:arrived() self.log[#self.log + 1] = "arrived@" .. stage.theatre() end
function Waiter:hold(peer)
  self.started = true
  self.log[#self.log + 1] = "start@" .. stage.theatre()
  local v = peer:slow(42):await()
  self.log[#self.log + 1] = "end@" .. stage.theatre()
  return v
end
function Waiter:is_started() return self.started end
function Waiter:get() return self.log end

local Bad = stage.actor "Bad"
function Bad:birth() self.f = function() end end
function Bad:ping() return "pong@" .. stage.theatre() end
-- asks to move itself: refused after this handler (logged), it stays
function Bad:hop(where)
  stage.migrate(where)
  local ok, err = pcall(stage.migrate, where)
  assert(not ok and tostring(err):find("moving already", 1, true))
  return true
end

local Pin = stage.actor("Pin", {kind = "pinned"})
function Pin:ping() return "pong@" .. stage.theatre() end

local N = 3000

local function check(list, n, what)
  assert(#list == n, what .. ": got " .. #list .. " messages, wanted " .. n)
  for i = 1, n do
    assert(list[i] == i, what .. ": message " .. i .. " arrived as " ..
           tostring(list[i]))
  end
end

local function all_done(fs)
  for _, f in ipairs(fs) do if not f:done() then return false end end
  return true
end

function main(args)
  local T = stage.theatres()
  assert(T == 4, "run with --theatres 4")
  local mover = Mover:spawn_at(1)
  stage.name("mover", mover):await()

  local runs, tags = {}, {}
  for k = 1, 2 * T do
    tags[k] = "s" .. k
    runs[k] = Sender:spawn_at(k % T):run(mover, tags[k], N)
  end
  -- senders that move as they send, between batches
  local B = 100
  for r = 1, 2 do
    local rover = Rover:spawn_at(r)
    local tag = "rover" .. r
    tags[#tags + 1] = tag
    for b = 0, N // B - 1 do
      rover:batch(mover, tag, b * B + 1, math.min((b + 1) * B, N - 1),
                  (r + b) % T)
    end
    -- its last message a call: once answered, all of the rover's are in
    runs[#runs + 1] = rover:call_at(mover, tag, N):next(function(v)
      assert(v == N, "the rover's call answered " .. tostring(v))
      return N // 7
    end)
  end
  -- move it while they send: from outside, and by itself, many times
  local at, moves, k = 1, 0, 0
  while k < 60 or not all_done(runs) do
    k = k + 1
    local to = (at + 1 + k % (T - 1)) % T
    if k % 2 == 0 then
      local r = (k % 4 == 0 and stage.migrate(mover, to)
                 or mover:migrate(to)):await()
      assert(r == mover, "migrate's future gives the reference")
    else
      assert(mover:hop(to):await() == true)
    end
    assert(mover:where():await() == to, "it is where it was sent")
    if to ~= at then moves = moves + 1 end
    at = to
    if k % 10 == 0 then -- a burst, back and forth, none awaited yet
      local burst = {}
      for j = 1, 10 do
        local nxt = (at + j) % T
        burst[j] = mover:migrate(nxt)
        if nxt ~= at then moves = moves + 1 end
        at = nxt
      end
      stage.join(burst):await()
      assert(mover:where():await() == at, "moves run in the order asked")
    end
  end
  local counts = stage.join(runs):await()
  for j = 1, #runs do
    assert(counts[j] == N // 7, "sender " .. j .. " calls answered")
  end
  local seen = mover:all():await()
  for j = 1, #tags do check(seen[tags[j]] or {}, N, tags[j]) end
  assert(mover:count():await() == moves,
         "arrived ran once per move: " .. moves)
  -- the name still finds it
  assert(stage.find_name("mover"):where():await() == at, "name follows")

  -- a handler suspended in an await finishes where it started; the move
  -- waits for it, and its own call is answered
  local w = Waiter:spawn_at(0)
  local echo = Echo:spawn_at(3)
  local held = w:hold(echo)
  repeat until w:is_started():await() or held:done()
  local m = stage.migrate(w, 2)
  assert(held:await() == 42, "the call made before the move is answered")
  assert(m:await() == w)
  local log = w:get():await()
  assert(log[1] == "start@0" and log[2] == "end@0" and
         log[3] == "arrived@2", "handler, then move: " .. table.concat(log, " "))

  -- refusals leave the actor where it was, serving
  local bad = Bad:spawn_at(1)
  assert(bad:ping():await() == "pong@1") -- born: its state is made
  local ok, err = pcall(function() return stage.migrate(bad, 2):await() end)
  assert(not ok and tostring(err):find("self.f", 1, true),
         "refused, naming the field: " .. tostring(err))
  assert(bad:ping():await() == "pong@1")
  assert(bad:hop(3):await() == true)
  assert(bad:ping():await() == "pong@1", "a refused move of its own")
  local pin = Pin:spawn_at(2)
  ok, err = pcall(function() return stage.migrate(pin, 0):await() end)
  assert(not ok, "a pinned actor does not move")
  assert(pin:ping():await() == "pong@2")
  print("pinned: " .. tostring(err))

  -- where: another actor (its theatre); another node: stage run has no
  -- network (cluster.migrate moves between nodes); not an address: said
  assert(stage.migrate(mover, pin):await() == mover)
  assert(mover:where():await() == 2)
  ok, err = pcall(stage.migrate, mover, "127.0.0.1:7400")
  assert(not ok and tostring(err):find("this node is not networked", 1, true),
         tostring(err))
  ok, err = pcall(stage.migrate, mover, "nowhere")
  assert(not ok and tostring(err):find("'nowhere' is not a node address", 1,
                                       true), tostring(err))
  -- a host name, or what is no IP address: no node is reached by it
  for _, where in ipairs({ "example.com:7400", "999.1.1.1:80", "local" }) do
    ok, err = pcall(stage.migrate, mover, where)
    assert(not ok and tostring(err):find("'" .. where
      .. "' is not a node address", 1, true), tostring(err))
  end
  -- a stopped actor: ActorNotFound, saying where it was looked for
  local gone = Echo()
  stage.stop(gone):await()
  ok, err = pcall(function() return stage.migrate(gone, 0):await() end)
  assert(not ok and err.type == "ActorNotFound"
    and tostring(err):find("only a live actor moves", 1, true), tostring(err))
  ok, err = pcall(stage.migrate, mover, 9)
  assert(not ok and tostring(err):find("no theatre 9", 1, true), tostring(err))
  print("ok")
end
