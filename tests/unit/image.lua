-- tests/unit/image.lua: the Lua side of test_image.c — actors whose state
-- is moved between theatres (core/image.h) and checked after the move.
local stage = require "stage"

local Echo = stage.actor "Echo"
function Echo:echo(s) return "echo:" .. s end

local Keeper = stage.actor "Keeper"

function Keeper:birth(peer)
  self.peer = peer
  self.log = {}
end

-- Everything that travels: numbers of both kinds, strings with zero bytes,
-- nested, shared and cyclic tables, a big array, a reference.
function Keeper:fill()
  self.n, self.x, self.big = 42, 1.0, 2^53
  self.minint, self.nan = math.mininteger, 0/0
  self.s = "a\0b\0"
  self.yes, self.no = true, false
  self.nested = {a = {b = {c = {1, 2, {d = "deep"}}}}}
  local shared = {v = 1}
  self.one, self.two = shared, shared
  self.cyc = {}
  self.cyc.me = self.cyc
  self.me = self
  self.arr = {}
  for i = 1, 100000 do self.arr[i] = i end
  self.map = {}
  for i = 1, 1000 do self.map["k" .. i] = i * 0.5 end
  self.mixed = {[1] = "one", [2.5] = "two and a half", [true] = "yes",
                x = "x"}
  self.empty = {}
  return true
end

function Keeper:helper() return "helped" end

-- "ok <theatre>", or an error naming what differs.
function Keeper:check()
  local function want(c, what) if not c then error("differs: " .. what) end end
  want(math.type(self.n) == "integer" and self.n == 42, "n")
  want(math.type(self.x) == "float" and self.x == 1.0, "x")
  want(math.type(self.big) == "float" and self.big == 2^53, "big")
  want(self.minint == math.mininteger, "minint")
  want(self.nan ~= self.nan, "nan")
  want(self.s == "a\0b\0" and #self.s == 4, "zero bytes")
  want(self.yes == true and self.no == false, "booleans")
  want(self.nested.a.b.c[3].d == "deep" and #self.nested.a.b.c == 3, "nested")
  want(self.one == self.two and self.one.v == 1, "shared subtable")
  want(self.cyc.me == self.cyc, "cycle")
  want(self.me == self, "self cycle")
  want(#self.arr == 100000 and self.arr[1] == 1 and self.arr[100000] == 100000,
       "array")
  local n = 0
  for k, v in pairs(self.map) do
    n = n + 1
    want(v == tonumber(k:sub(2)) * 0.5, "map " .. k)
  end
  want(n == 1000, "map size")
  want(self.mixed[1] == "one" and self.mixed[2.5] == "two and a half" and
       self.mixed[true] == "yes" and self.mixed.x == "x", "mixed keys")
  want(next(self.empty) == nil, "empty")
  want(self:helper() == "helped", "methods through the class")
  return "ok " .. stage.theatre()
end

function Keeper:via_peer(s) return self.peer:echo(s):await() end
function Keeper:where() return stage.theatre() end
function Keeper:push(x) self.log[#self.log + 1] = {x, stage.theatre()} end
function Keeper:get() return self.log end

-- Put something that cannot travel in self; what says which.
function Keeper:set_bad(what)
  if what == "function" then
    self.handlers = {1, function() end}
  elseif what == "coroutine" then
    self.co = coroutine.create(function() end)
  elseif what == "future" then
    self.pending = {f = stage.sleep(0)}
  elseif what == "userdata" then
    self.tm = stage.after(100, function() end)
    self.tm:cancel()
  elseif what == "metatable" then
    self.obj = setmetatable({}, {__index = {}})
  elseif what == "deep" or what == "deepest" then
    -- self and 31 tables below it: the limit; one more is too deep
    local t = {}
    self.deep = t
    for _ = 2, what == "deep" and 31 or 32 do t.d = {} t = t.d end
  end
  return true
end

function Keeper:clear_bad()
  self.handlers, self.co, self.pending, self.tm, self.obj, self.deep =
    nil, nil, nil, nil, nil, nil
  return true
end

function Keeper:tick()
  self.timer = stage.every(10, function() end)
  return true
end

function Keeper:untick()
  self.timer:cancel()
  self.timer = nil
  return true
end

-- a continuation that runs once the gate opens
function Keeper:later(gate)
  gate:park():next(function(v) self.got_later = v end)
  return true
end

function Keeper:later_v() return self.got_later end

-- Hooks: departing cancels the timer that would keep it, arrived sets it
-- again; refuse makes departing fail.
local Hooked = stage.actor "Hooked"

function Hooked:birth()
  self.departed, self.arrivals, self.where = 0, 0, -1
  self.tm = stage.every(10, function() end)
end

function Hooked:departing()
  if self.refuse then error("not now") end
  self.departed = self.departed + 1
  self.tm:cancel()
  self.tm = nil
end

function Hooked:arrived()
  self.arrivals = self.arrivals + 1
  self.where = stage.theatre()
  self.tm = stage.every(10, function() end)
end

function Hooked:set_refuse(b) self.refuse = b; return true end
function Hooked:counts() return {self.departed, self.arrivals, self.where} end
function Hooked:done() self.tm:cancel(); self.tm = nil; return true end

-- Suspended in an await until the gate opens.
local Waiter = stage.actor "Waiter"
function Waiter:wait(gate) return gate:park():await() end
function Waiter:where() return stage.theatre() end

local Pinned = stage.actor("Pinned", {kind = "pinned"})
function Pinned:where() return stage.theatre() end

-- Restarts from birth after an error, at most twice within a minute.
local Fragile = stage.actor("Fragile", {on_error = "restart",
                                        max_restarts = 2,
                                        restart_window = 60})
function Fragile:birth(x) self.x = x; self.changed = false end
function Fragile:change() self.x = -1; self.changed = true; return true end
function Fragile:boom() error("boom") end
function Fragile:get() return {self.x, stage.theatre()} end

-- Watches another actor: its monitor cannot travel.
function Keeper:watch(ref)
  self.mon = stage.monitor(ref, function() end)
  return true
end

function Keeper:unwatch()
  self.mon:cancel()
  self.mon = nil
  return true
end
