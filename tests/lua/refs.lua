-- References are plain values: tostring gives the id text, stage.ref
-- parses it back, == compares actors, and a reference works as a table
-- key's value and after a trip through a message.
local stage = require "stage"

local Node = stage.actor "Node"
function Node:birth(v) self.v = v end
function Node:value() return self.v end
function Node:whoami() return stage.self() end
function Node:theatre() return stage.theatre() end

function main(args)
  local a = Node(1)
  local b = Node:spawn_at(stage.theatres() - 1, 2)
  local text = tostring(a)
  assert(text:match("/Node/%d+$"), text)
  local a2 = stage.ref(text)
  assert(a2 == a and a2 ~= b and a ~= stage.self())
  assert(a2:value():await() == 1)
  assert(a:whoami():await() == a)
  assert(b:theatre():await() == stage.theatres() - 1)
  assert(stage.theatre() == 0, "main runs on theatre 0")
  assert(tostring(b) ~= text)
  local byname = {[tostring(a)] = a, [tostring(b)] = b}
  assert(byname[tostring(b)]:value():await() == 2)
  -- a malformed id text is refused with an error
  local ok, err = pcall(stage.ref, "not an id")
  assert(not ok and tostring(err):find("not an id", 1, true), tostring(err))
  print("ok")
end
