-- A value that cannot be copied fails the send at once, with an error that
-- names the argument and the field; nothing is delivered, and the sender
-- and the receiver keep working.
local stage = require "stage"

local Box = stage.actor "Box"
function Box:birth() self.n = 0 end
function Box:put(...) self.n = self.n + 1; return select("#", ...) end
function Box:count() return self.n end
function Box:give_function() return print end

-- Calls fn, which must raise an error whose text matches every pattern.
local function fails(fn, ...)
  local ok, err = pcall(fn)
  assert(not ok, "the send did not fail")
  local text = tostring(err)
  for _, pat in ipairs{...} do
    assert(text:find(pat, 1, true), "error '" .. text .. "' lacks '" ..
           pat .. "'")
  end
  return text
end

function main(args)
  local box = Box()
  local cycle = {name = "loop"}
  cycle.self = cycle
  local deep = {a = {b = {}}}
  deep.a.b.up = deep

  fails(function() return box:put(print) end, "argument 1", "function")
  fails(function() return box:put(1, {f = function() end}) end,
        "argument 2", "'f'", "function")
  fails(function() return box:put(1, 2, {co = coroutine.create(print)}) end,
        "argument 3", "'co'")
  local timer = stage.after(60, print)
  timer:cancel()
  fails(function() return box:put({timer = timer}) end,
        "argument 1", "'timer'", "userdata")
  fails(function() return box:put({x = {y = {z = print}}}) end,
        "argument 1", "'z'", "function")
  fails(function() return box:put(cycle) end, "argument 1", "cycle")
  fails(function() return box:put("ok", deep) end, "argument 2", "cycle")
  -- the error points at the line of the send
  fails(function() return box:put(print) end, "notsendable.lua:")

  -- nothing was delivered, and the same actor still takes messages
  assert(box:count():await() == 0)
  assert(box:put(1, {2, {3}}, "x"):await() == 3)
  assert(box:count():await() == 1)

  -- a handler's reply that cannot be copied fails the caller's future
  local ok, err = pcall(function() return box:give_function():await() end)
  assert(not ok and tostring(err):find("function", 1, true), tostring(err))
  assert(box:count():await() == 1)
  print("ok")
end
