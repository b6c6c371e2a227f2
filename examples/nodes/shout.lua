-- The thesis's dynamic code replacement (5.2, Listings 5.3-5.5): a Shout
-- says "Hello"; MakeShoutLouder, on another node, replaces its `say` so
-- that it says "HELLO!!!" — first in one actor (update_method, Listing
-- 5.4), then in every Shout of the system and every later one
-- (update_type, Listing 5.5). State is kept; the new code travels as
-- source text and is compiled where it runs (docs/lua-api.md, "Replacing
-- code while it runs").
--
--   stage node examples/nodes/shout.lua
--       (spawns the Shouts "shouter" and "other"; logs its address)
--   stage node --join ADDR examples/nodes/shout.lua louder [ADDR2]
--       (makes them louder; with ADDR2, a node started with no script,
--       spawns a Shout there after the update; then stops)
local stage = require "stage"

-- Listing 5.3
local Shout = stage.actor "Shout"

function Shout:birth() self.message = "Hello" end

function Shout:say()
  print(self.message)
  return self.message
end

-- Listings 5.4 and 5.5. The new `say`, as source text: Lua keeps no
-- source of a compiled function, so an update names it.
local louder = [[
function(self)
  local loud = self.message:upper() .. "!!!"
  print(loud)
  return loud
end]]

local MakeShoutLouder = stage.actor "MakeShoutLouder"

function MakeShoutLouder:patch() -- one actor: its next message on
  local shout = stage.find_name("shouter")
  return stage.update_method(shout, "say", louder):await()
end

function MakeShoutLouder:patch_all() -- every Shout, now and later
  return stage.update_type(Shout, {say = louder}):await()
end

function main(args)
  if args[1] ~= "louder" then -- the Shouts' node: it serves on
    assert(stage.name("shouter", Shout()):await())
    assert(stage.name("other", Shout()):await())
    print("ready")
    return
  end
  local shouter, other = stage.find_name("shouter"), stage.find_name("other")
  print("before: " .. shouter:say():await() .. ", " .. other:say():await())
  local m = MakeShoutLouder()
  m:patch():await()
  print("patch: " .. shouter:say():await() .. ", " .. other:say():await())
  m:patch_all():await()
  print("patch_all: " .. shouter:say():await() .. ", " .. other:say():await())
  if args[2] then
    print("later, elsewhere: " .. Shout:spawn_at(args[2]):say():await())
  end
  stage.exit(0)
end
