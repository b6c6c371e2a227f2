-- The sandbox contains what one actor does: an endless loop, a string of
-- 10 GB, a table grown without bound, deep recursion, a binary chunk,
-- tampering with shared metatables and libraries, reaching for another
-- actor's state or coroutine. Each fails that actor's message with a
-- clear error, and after each the other actor of the same theatre (run
-- with --theatres 1 --memory 32M --budget 2) still answers with its
-- state whole.
local stage = require "stage"

local Bystander = stage.actor "Bystander"
function Bystander:birth() self.calls = 0 end
function Bystander:ping()
  self.calls = self.calls + 1
  return ("pong"):rep(1) .. string.format("%d", self.calls)
end

local Hostile = stage.actor("Hostile", {max_restarts = 100})

function Hostile:spin() while true do end end

function Hostile:huge_string(gb) return #string.rep("x", gb * 2^30) end

function Hostile:grow_state()
  self.t = {}
  local i = 0
  while true do i = i + 1; self.t[i] = {i} end
end

function Hostile:grow_local()
  local t, i = {}, 0
  while true do i = i + 1; t[i] = {} end
end

-- a continuation (next) the handler delegates its reply to
function Hostile:grow_later()
  return stage.sleep(0.01):next(function()
    local t = {}
    while true do t[#t + 1] = {} end
  end)
end

-- a handler may catch the failed allocation itself and serve on
function Hostile:catch_huge()
  return {pcall(string.rep, "y", 2^30)}
end

function Hostile:recurse()
  local function down(n) return 1 + down(n + 1) end
  return down(1)
end

-- recursion through C functions: Lua's C-stack limit
function Hostile:recurse_c()
  local function down(s) return (s:gsub(".", down)) end
  return down("x")
end

function Hostile:binary_chunk()
  -- what string.dump would have made: a precompiled chunk's header
  local chunk = "\27Lua\84\0\25\147\13\10\26\10\4\8\8"
  local f1, e1 = load(chunk)
  local f2, e2 = load(chunk, "=x", "b")
  return {f1 == nil and f2 == nil, e1, e2, string.dump == nil}
end

-- Each attempt must raise; returns the messages.
local function raises(list)
  local msgs = {}
  for i, f in ipairs(list) do
    local ok, err = pcall(f)
    assert(not ok, "attempt " .. i .. " did not raise")
    msgs[i] = tostring(err)
  end
  return msgs
end

function Hostile:tamper()
  -- a script's stage module is its own copy: changing it changes nothing
  -- for another script
  local mine = require "stage"
  mine.send = print
  assert(require("stage").send ~= print and stage.send ~= print)
  return raises{
    function() getmetatable("").__index = {rep = print} end,
    function() getmetatable("").__index.rep = print end,
    function() string.rep = print end,
    function() rawset(string, "rep", print) end,
    function() table.insert = print end,
    function() getmetatable(stage.self()).__index = {} end,
    function() setmetatable(string, nil) end,
  }
end

function Hostile:grab() self.co = coroutine.running() end

function Hostile:reach()
  local msgs = raises{
    function() return debug.getregistry() end,
    function() return require "debug" end,
    function() return io.open("/etc/passwd") end,
    function() return os.execute("true") end,
    function() return dofile("/etc/passwd") end,
    function() return collectgarbage("stop") end,
    function() return collectgarbage() end,
    function() return coroutine.resume(self.co) end,
    function() return coroutine.close(self.co) end,
  }
  assert(type(os.clock()) == "number" and type(os.time()) == "number")
  assert(collectgarbage("count") > 0)
  return msgs
end

-- on_error "keep": no restart, so no restart line; the cap's own log line
-- names the actor, and what the handler held is garbage afterwards
local Keeper = stage.actor("Keeper", {on_error = "keep"})
function Keeper:hoard()
  local t = {}
  while true do t[#t + 1] = {} end
end

local Victim = stage.actor "Victim"
function Victim:birth() self.secret = "mine" end
function Victim:hold(secs)
  stage.sleep(secs):await()
  return self.secret
end

-- Calls fn, which must fail with an error of type want whose text has
-- every one of the plain patterns; returns the error.
local function fails(want, fn, ...)
  local ok, err = pcall(function() return fn():await(20) end)
  assert(not ok, want .. ": the call did not fail")
  assert(type(err) == "table" and err.type == want,
         "wanted " .. want .. ", got " .. tostring(err))
  for _, pat in ipairs{...} do
    assert(tostring(err):find(pat, 1, true),
           "error '" .. tostring(err) .. "' lacks '" .. pat .. "'")
  end
  return err
end

local function has(text, pat)
  assert(text:find(pat, 1, true), "'" .. text .. "' lacks '" .. pat .. "'")
end

function main()
  local by, h = Bystander(), Hostile()
  local calls = 0
  local function still_serving()
    calls = calls + 1
    local pong = by:ping():await(5)
    assert(pong == "pong" .. calls, "the bystander answered " ..
           tostring(pong))
  end
  still_serving()

  fails("BudgetExceeded", function() return h:spin() end, "past its budget")
  still_serving()

  local cap = "would pass the Lua heap cap of theatre 0 (33554432 bytes, " ..
              "--memory)"
  -- 10 GB: past what Lua makes a string of (2 GB); 1 GB: past the cap
  fails("HandlerError", function() return h:huge_string(10) end,
        "resulting string too large")
  still_serving()
  local err = fails("MemoryExceeded", function() return h:huge_string(1) end,
                    cap, "/Hostile/")
  assert(err.actor and err.actor:find("/Hostile/", 1, true), err.actor)
  still_serving()
  fails("MemoryExceeded", function() return h:grow_state() end, cap)
  still_serving()
  fails("MemoryExceeded", function() return h:grow_local() end, cap)
  still_serving()
  fails("MemoryExceeded", function() return Keeper():hoard() end, cap,
        "/Keeper/")
  still_serving()
  fails("MemoryExceeded", function() return h:grow_later() end, cap,
        "a continuation of actor '")
  still_serving()
  -- the heap is usable again: the grown tables were garbage
  assert(#string.rep("z", 8 * 2^20) == 8 * 2^20)
  still_serving()
  local caught = h:catch_huge():await()
  assert(caught[1] == false and caught[2] == "not enough memory",
         tostring(caught[2]))
  still_serving()

  -- a million Lua frames: past the cap here (without it, Lua's stack
  -- limit: "stack overflow")
  fails("MemoryExceeded", function() return h:recurse() end, cap)
  still_serving()
  fails("HandlerError", function() return h:recurse_c() end,
        "stack overflow")
  still_serving()

  local refused, e1, e2, no_dump = table.unpack(h:binary_chunk():await())
  assert(refused and no_dump, "a binary chunk loaded")
  has(e1, "attempt to load a binary chunk (mode is 't')")
  has(e2, "attempt to load a binary chunk (mode is 't')")
  still_serving()

  local msgs = h:tamper():await()
  has(msgs[1], "cannot set '__index' in the string metatable: it is " ..
               "shared by every actor of the theatre and is read-only")
  has(msgs[2], "attempt to index a nil value")
  has(msgs[3], "cannot set 'rep' in the 'string' library")
  has(msgs[4], "rawset: the 'string' library is shared by every actor")
  has(msgs[5], "cannot set 'insert' in the 'table' library")
  has(msgs[6], "cannot set '__index' in the metatable of references")
  has(msgs[7], "cannot change a protected metatable")
  still_serving() -- its ("pong"):rep and string.format are Lua's own

  -- another actor's turn runs in a pooled coroutine that a handler may
  -- have seen as its own: it cannot be resumed nor closed
  local v = Victim()
  h:grab():await()
  local held = v:hold(0.3)
  local got = h:reach():await()
  for i, want in ipairs{
    "attempt to index a nil value (global 'debug')",
    "module 'debug' not available: actor code runs in a sandbox",
    "attempt to index a nil value (global 'io')",
    "attempt to call a nil value (field 'execute')",
    "attempt to call a nil value (global 'dofile')",
    "collectgarbage('stop') is not available to actor code",
    "collectgarbage('collect') is not available to actor code",
    "coroutine.resume: this is the coroutine a handler runs in",
    "coroutine.close: this is the coroutine a handler runs in",
  } do has(got[i], want) end
  assert(held:await(5) == "mine")
  still_serving()
  print("ok")
end
