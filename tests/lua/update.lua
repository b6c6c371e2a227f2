-- stage.update_method and stage.update_type (docs/lua-api.md, "Replacing
-- code while it runs") on one node of four theatres: state kept, one
-- actor or every actor of a type (its subtypes that do not define the
-- method too, not those that do), a method of one actor ahead of its
-- queued messages, every message handled by one version whole and those
-- sent after the update returns by the new one, methods of its own moving
-- with the actor, bad source refused at once.
local stage = require "stage"

local Counter = stage.actor "Counter"
function Counter:birth() self.n = 0 end
function Counter:add(k) self.n = self.n + k; return "v1:" .. self.n end
function Counter:hold(secs) stage.sleep(secs):await() end -- a turn kept open
function Counter:version() return "v1" end

local Sub = stage.actor("Sub", {is = Counter}) -- inherits add
local Own = stage.actor("Own", {is = Counter})
function Own:add() return "own" end

local Patcher = stage.actor "Patcher"
function Patcher:try(ref, src) return stage.update_method(ref, "add", src) end

local v2 = "function(self, k) self.n = self.n + 10 * k; return 'v2:' .. self.n end"

function main()
  -- one actor: its state is kept, another of the type is untouched
  local a, b = Counter(), Counter()
  assert(a:add(1):await() == "v1:1" and b:add(1):await() == "v1:1")
  assert(stage.update_method(a, "add", v2):await() == true)
  assert(a:add(1):await() == "v2:11", "state kept, new code")
  assert(b:add(1):await() == "v1:2", "only that actor")

  -- ahead of the queued messages: a holds its turn open on a future,
  -- three adds wait, then the update comes: the three run the new code
  local c = Counter:spawn_at(1)
  local held = c:hold(0.2)
  local queued = {c:add(1), c:add(1), c:add(1)}
  local upd = stage.update_method(c, "add", v2)
  assert(held:await() == nil)
  assert(upd:await() == true)
  for i, f in ipairs(queued) do
    assert(f:await() == "v2:" .. 10 * i, "queued message " .. i .. ": " .. tostring(f:await()))
  end

  -- its own method moves with it
  local moved = stage.migrate(a, 3):await()
  assert(moved:add(1):await() == "v2:21", "its own method after a move")

  -- a type: every actor, now and later; subtypes that do not define the
  -- method; every message one version whole, those after the update new
  local many = {}
  for i = 1, 40 do many[i] = Counter:spawn_at(i % 4) end
  local s, o = Sub(), Own()
  local before = {}
  for i = 1, 40 do before[i] = many[i]:add(1) end -- in flight
  assert(stage.update_type(Counter, {
    version = "function() return 'v2' end",
    add = v2,
  }):await() == true)
  for i = 1, 40 do
    local r = before[i]:await()
    assert(r == "v1:1" or r == "v2:10", "one version whole: " .. r)
    assert(many[i]:version():await() == "v2", "after the update returns")
  end
  assert(s:version():await() == "v2", "a subtype that inherits it")
  assert(o:add(1):await() == "own", "a subtype that defines it keeps its own")
  assert(Counter():version():await() == "v2", "a later instance")
  assert(b:add(1):await() == "v2:12", "state kept through update_type")
  -- an actor's own method stays its own
  assert(moved:add(1):await() == "v2:31")

  -- bad source is refused at once, naming the method
  local ok, err = pcall(stage.update_method, b, "add", "function(")
  assert(not ok and err:find("method 'add':1:"), err)
  ok, err = pcall(stage.update_method, b, "add", "42")
  assert(not ok and err:find("must be the source text of a function"), err)
  ok, err = pcall(stage.update_type, Counter, {add = "nope nope"})
  assert(not ok and err:find("method 'add'"), err)
  ok, err = pcall(stage.update_method, b, "_x", "function() end")
  assert(not ok and err:find("not a method name"), err)
  ok, err = pcall(stage.update_type, "Nowhere", {})
  assert(not ok and err:find("no Lua actor type 'Nowhere'"), err)
  -- a source whose evaluation never ends fails its handler past the
  -- budget; the actor it was meant for serves on
  ok, err = pcall(function()
    return Patcher():try(b, "(function() while true do end end)()"):await()
  end)
  assert(not ok and tostring(err):find("budget of 1 s"), tostring(err))
  assert(b:add(1):await() == "v2:22")
  print("ok")
end
