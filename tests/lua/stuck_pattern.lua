-- tests/lua/stuck_pattern.lua PART: a handler in a string.find that
-- backtracks for ever (docs/lua-api.md, "Endless loops") does not starve
-- the other actors of its theatre. Run with --theatres 2 --budget 2, once
-- per part:
--   theatre: next to it on theatre 1, another actor answers call after
--     call while the find runs (it sees the finder's global flag up: the
--     theatres' actors share globals), and the find fails with
--     BudgetExceeded once it has run for its budget;
--   cannot_yield (run with --budget 0.5): the same find where the
--     handler cannot be suspended (in a coroutine of its own, in a
--     table.sort comparator, in a __tostring called by string.format)
--     still fails with BudgetExceeded, and the other actor still answers
--     afterwards;
--   bounded: the other C calls that looped for months unstopped:
--     string.rep("", 1e15) is "" at once, and table.move over 1e15 absent
--     keys is preempted like the find (the other actor answers meanwhile)
--     and fails with BudgetExceeded;
--   steal: actors born on theatre 1 with work queued are taken by
--     theatre 0, idle, while the find runs there, do all their work in
--     order, and answer from theatre 0.
local stage = require "stage"

-- Each of the 41 starts tries the partitions of the rest into 8 parts:
-- hours of backtracking in Lua's matcher, and no match.
local SUBJECT, PATTERN = ("a"):rep(40), "(.-)(.-)(.-)(.-)(.-)(.-)(.-)(.-)b"

local Finder = stage.actor "Finder"
function Finder:find()
  IN_FIND = true -- a global: theatre 1's actors see it
  local r = string.find(SUBJECT, PATTERN)
  IN_FIND = false
  return r
end
function Finder:ping_me() return true end

local Pinger = stage.actor "Pinger"
function Pinger:ping(i) return {i, IN_FIND == true, stage.theatre()} end

-- The find fails with BudgetExceeded, naming the finder, once it has run
-- for the budget (2 s) from t0.
local function fails_over_budget(finding, finder, t0)
  local ok, err = pcall(finding.await, finding)
  local took = stage.now() - t0
  assert(not ok and type(err) == "table", tostring(err))
  assert(err.type == "BudgetExceeded", tostring(err))
  assert(err.actor == tostring(finder), tostring(err.actor))
  assert(took >= 2, "failed after " .. took .. " s, under the budget")
end

local function theatre()
  local finder, pinger = Finder:spawn_at(1), Pinger:spawn_at(1)
  local t0 = stage.now()
  local finding = finder:find()
  -- theatre 1 runs the find first (its message came first), then the
  -- pings, each while the find is under way
  for i = 1, 5 do
    local r = pinger:ping(i):await()
    assert(r[1] == i and r[3] == 1, "a wrong answer")
    assert(r[2], "ping " .. i .. " was answered outside the find")
    assert(not finding:done(), "the find ended early")
  end
  fails_over_budget(finding, finder, t0)
  -- the finder serves again (restarted), and the pinger too
  assert(pinger:ping(6):await()[1] == 6)
  assert(finder:ping_me():await())
end

-- Workers born on theatre 1 (spawned there by a boss placed on it: not
-- with spawn_at, so that they may be stolen), with the finder. Each piece
-- of work takes a little CPU (~0.1 ms).
local WORKERS, PIECES = 16, 150

local Worker = stage.actor "Worker"
function Worker:work(i)
  self.done = (self.done or 0) + 1
  assert(i == self.done, "work came out of order")
  local x = 0
  for k = 1, 10000 do x = x + k end
  return x
end
function Worker:where() return {self.done, stage.theatre()} end

local Boss = stage.actor "Boss"
function Boss:setup(n)
  local workers = {}
  for i = 1, n do workers[i] = Worker() end
  return {Finder(), workers}
end

-- Theatre 1 runs the find and has work queued for its workers; theatre 0
-- is idle (main waits for one answer from each worker, which comes after
-- all of its work), so it asks for work, and gets workers.
local function steal()
  local finder, workers =
    table.unpack(Boss:spawn_at(1):setup(WORKERS):await())
  for _, w in ipairs(workers) do
    assert(tostring(w):find("/1/Worker/", 1, true), "a worker was born on "
      .. "another theatre than its boss: " .. tostring(w))
  end
  assert(finder:ping_me():await())
  local t0 = stage.now()
  local finding = finder:find()
  local wheres = {}
  for i = 1, PIECES do
    for _, w in ipairs(workers) do stage.send(w, "work", i) end
  end
  for i, w in ipairs(workers) do wheres[i] = w:where() end
  local stolen = 0
  for i, r in ipairs(stage.join(wheres):await()) do
    assert(r[1] == PIECES, "worker " .. i .. " did " .. r[1] .. " pieces")
    if r[2] == 0 then stolen = stolen + 1 end
  end
  assert(not finding:done(), "the find ended before the workers did")
  assert(stolen > 0, "no worker left theatre 1 while it ran the find")
  fails_over_budget(finding, finder, t0)
end

local Mover = stage.actor "Mover"
function Mover:rep()
  return #string.rep("", 1e15) + #string.rep("", 1e15, "")
end
function Mover:move()
  IN_FIND = true
  table.move({}, 1, 1e15, 2)
end

local function bounded()
  local mover, pinger = Mover:spawn_at(1), Pinger:spawn_at(1)
  assert(mover:rep():await() == 0)
  local t0 = stage.now()
  local moving = mover:move()
  for i = 1, 5 do
    local r = pinger:ping(i):await()
    assert(r[1] == i and r[2], "ping " .. i .. " came outside the move")
    assert(not moving:done(), "the move ended early")
  end
  fails_over_budget(moving, mover, t0)
end

local Nested = stage.actor "Nested"
function Nested:coroutine()
  return coroutine.wrap(function() return string.find(SUBJECT, PATTERN) end)()
end
function Nested:sort()
  local t = {1, 2}
  table.sort(t, function(a, b) return string.find(SUBJECT, PATTERN) end)
end
function Nested:tostring()
  return string.format("%s", setmetatable({}, {__tostring = function()
    return tostring(string.find(SUBJECT, PATTERN)) end}))
end

local function cannot_yield()
  local nested, pinger = Nested:spawn_at(1), Pinger:spawn_at(1)
  for _, how in ipairs({"coroutine", "sort", "tostring"}) do
    local t0 = stage.now()
    local ok, err = pcall(function() return nested[how](nested):await() end)
    assert(not ok and type(err) == "table", how .. ": " .. tostring(err))
    assert(err.type == "BudgetExceeded", how .. ": " .. tostring(err))
    assert(stage.now() - t0 >= 0.5, how .. ": failed under the budget")
    assert(pinger:ping(1):await()[1] == 1)
  end
end

function main(args)
  assert(stage.theatres() == 2, "run with --theatres 2")
  local part = ({theatre = theatre, steal = steal, bounded = bounded,
    cannot_yield = cannot_yield})[args[1]]
  assert(part, "say which part: theatre, steal, bounded or cannot_yield")
  part()
  print("ok")
end
