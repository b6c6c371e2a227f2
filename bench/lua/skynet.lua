-- bench/lua/skynet.lua: skynet. An actor spawns 10 children, each spawns
-- 10, ... down to L leaves (default 1,000,000, a power of 10: so 1,111,111
-- actors). Leaf i sends sum(i) to its parent; every parent sends the sum
-- of its children to its own parent and stops. The root spreads its ten
-- children over the theatres; below that, children live with their parent.
-- Sums go one way (stage.send, like Erlang's !). Checks the total.
-- Prints the time in milliseconds (lower is better).
local stage = require "stage"

local function report(bench, value, unit, better)
  print(string.format('{"bench":"%s","impl":"lua","value":%.1f,'
    .. '"unit":"%s","better":"%s"}', bench, value, unit, better))
end

local Skynet = stage.actor "Skynet"

function Skynet:birth(parent, num, size, spread)
  if size == 1 then
    stage.send(parent, "sum", num)
    stage.stop()
    return
  end
  self.parent, self.left, self.total = parent, 10, 0
  local sub, me = size // 10, stage.self()
  for i = 0, 9 do
    if spread then
      Skynet:spawn_at(i % stage.theatres(), me, num + i * sub, sub, false)
    else
      Skynet(me, num + i * sub, sub, false)
    end
  end
end

function Skynet:sum(v)
  self.total = self.total + v
  self.left = self.left - 1
  if self.left == 0 then
    stage.send(self.parent, "sum", self.total)
    stage.stop()
  end
end

local Top = stage.actor "Top"

function Top:birth(leaves, t0)
  self.leaves, self.t0 = leaves, t0
end

function Top:sum(total)
  local ms = (stage.now() - self.t0) * 1e3
  local want = self.leaves * (self.leaves - 1) // 2
  if total ~= want then
    print(string.format("skynet: sum %d, want %d", total, want))
    stage.exit(1)
    return
  end
  report("skynet", ms, "ms", "lower")
end

function main(args)
  local leaves = math.tointeger(tonumber(args[1])) or 1000000
  local t0 = stage.now()
  local top = Top(leaves, t0)
  Skynet(top, 0, leaves, true)
end
