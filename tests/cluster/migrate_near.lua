-- The actors of cluster.migrate_near and its roles (args[1]):
--   idle          the other node, B
--   home ADDR_B   on A: an Anchor moved to B; another Anchor moved next
--                 to it through the Anchor's first id (a reference of
--                 this node to an actor now on B): prints "near: ADDR"
--                 with where it went. A Hopper that moves itself in its
--                 arrived hook, to B, A, B, A, B, while this
--                 sends it 3000 numbered messages, every tenth a call:
--                 prints "calls ok N" once every call is answered; the
--                 Hopper prints "tour done ..." where the tour ends, and
--                 "out of order ..." for a message out of order.
local stage = require "stage"

-- The node address of the running actor (its id's first part).
local function here() return (tostring(stage.self()):match("^(.-)~")) end

local Anchor = stage.actor "Anchor"
function Anchor:where() return here() end

local Hopper = stage.actor "Hopper"
function Hopper:birth() self.n, self.moves, self.bad = 0, 0, 0 end
function Hopper:hop()
  if self.k < #self.list then
    self.k = self.k + 1
    stage.migrate(self.list[self.k])
  end
end
function Hopper:tour(list) self.list, self.k = list, 0; self:hop() end
function Hopper:arrived()
  self.moves = self.moves + 1
  print("arrived at " .. here() .. " n=" .. self.n)
  if self.k == #self.list then
    print("tour done at " .. here() .. " moves " .. self.moves)
  end
  self:hop() -- asked in arrived: after the messages it came with
end
function Hopper:add(i)
  if i ~= self.n + 1 then
    self.bad = self.bad + 1
    print("out of order: " .. i .. " after " .. self.n)
  end
  self.n = i
  return i
end

function main(args)
  if args[1] ~= "home" then return end
  local b = args[2]
  local x = Anchor()
  local at = stage.migrate(x, b):await(30)
  assert(at:where():await(30) == b)
  local y = Anchor()
  local moved = stage.migrate(y, x):await(30)
  print("near: " .. moved:where():await(30))

  local h = Hopper()
  local home = tostring(h):match("^(.-)~")
  h:tour({b, home, b, home, b})
  local calls = {}
  for i = 1, 3000 do
    if i % 10 == 0 then calls[#calls + 1] = {i, h:add(i)}
    else stage.send(h, "add", i) end
  end
  for _, c in ipairs(calls) do
    local ok, v = pcall(function() return c[2]:await(30) end)
    if not ok or v ~= c[1] then
      print("calls FAILED: call " .. c[1] .. " answered " .. tostring(v))
      stage.exit(1)
    end
  end
  print("calls ok " .. #calls)
end
