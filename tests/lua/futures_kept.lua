-- A future lives as long as something can reach it, however many others
-- are dropped and collected around it: one kept in an actor's state gives
-- its value turns later (await, next); one that only a finaliser brought
-- back still has its value, and so does a reference found by name; one
-- passed to another actor arrives as its value. (lfuture.c frees a future
-- when Lua frees its userdata.)
local stage = require "stage"

local Echo = stage.actor "Echo"
function Echo:echo(x) return x end

-- futures made and dropped, then whole cycles of the collector
local function churn(echo, n)
  for i = 1, n do echo:echo(i) end
  for _ = 1, 2 do repeat until collectgarbage("step") end
end

local Keeper = stage.actor "Keeper"
function Keeper:keep(echo)
  self.f, self.g = echo:echo("kept"), echo:echo({7})
end
function Keeper:churn(echo, n) churn(echo, n) end
function Keeper:check()
  assert(self.f:await() == "kept")
  return self.g:next(function(v) return v[1] * 6 end)
end

local Reader = stage.actor "Reader"
function Reader:read(v) return v end

function main()
  local echo = Echo:spawn_at(1 % stage.theatres())
  local keeper = Keeper:spawn_at(0)
  keeper:keep(echo)
  keeper:churn(echo, 20000)
  assert(keeper:check():await() == 42)

  -- the table is finalised in the first cycle: its finaliser keeps the
  -- future, which the second must not free
  local saved
  setmetatable({echo:echo("again")}, {__gc = function(t) saved = t[1] end})
  churn(echo, 20000)
  assert(saved and saved:await() == "again")

  -- a reference found by name, its lookup done, brought back the same way
  stage.name("echo", echo):await()
  local found = stage.find_name("echo")
  saved = nil
  setmetatable({found}, {__gc = function(t) saved = t[1] end})
  found = nil
  churn(echo, 20000)
  assert(saved and saved:echo("found"):await() == "found")

  local reader = Reader:spawn_at(0)
  local f = echo:echo("passed")
  churn(echo, 20000)
  assert(reader:read(f):await() == "passed")
  print("ok")
end
