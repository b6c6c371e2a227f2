-- orphan.lua home ADDR | send ID: cluster.orphan's sides.
--   home: a Counter gets 1, 2, 3 from "s", moves to the node at ADDR, and
--         its first id is printed ("moved ID"); this node is then killed.
--   send: through that first id, "s" sends 4 (again while the node that
--         is gone is not yet known to have taken it over: each failure is
--         NodeDown), then checks the Counter saw 1..4 once each, in order.
local stage = require "stage"

local Counter = stage.actor "Counter"
function Counter:birth() self.seen = {} end
function Counter:put(tag, n)
  local last = self.seen[tag] or 0
  if n ~= last + 1 then
    self.bad = string.format("%s: %d after %d", tag, n, last)
  end
  self.seen[tag] = n
  return n
end
function Counter:check(tag, n)
  if self.bad then return self.bad end
  return (self.seen[tag] or 0) == n or
    string.format("%s: last %d of %d", tag, self.seen[tag] or 0, n)
end

function main(args)
  if args[1] == "idle" then return end
  if args[1] == "home" then
    local c = Counter()
    for i = 1, 3 do c:put("s", i):await() end
    stage.migrate(c, args[2]):await()
    print("moved " .. tostring(c))
    return
  end
  local ref, deadline, fails = stage.ref(args[2]), stage.now() + 20, 0
  while true do
    local ok, e = pcall(function() return ref:put("s", 4):await(5) end)
    if ok then break end
    assert(e.type == "NodeDown", tostring(e))
    fails = fails + 1
    assert(stage.now() < deadline, "never reached: " .. tostring(e))
    stage.sleep(0.2):await()
  end
  local r = ref:check("s", 4):await()
  assert(r == true, tostring(r))
  print("ok after " .. fails .. " failures")
  stage.exit(0)
end
