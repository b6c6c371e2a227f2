-- bench/lua/ring.lua: thread ring. 503 actors in a ring pass a token (an
-- integer) that each decrements; the one that gets 0 tells the reporter.
-- H hops (default 10,000,000). Setting up the ring is not timed.
-- The token goes one way (stage.send, like Erlang's !); with "futures" as
-- the second argument it goes as ref:token(n), which makes a future each
-- time. Prints hops per second (higher is better).
local stage = require "stage"

local SIZE = 503

-- impl: "lua", or "lua-futures" for the ref:method form.
local function report(bench, impl, value, unit, better)
  print(string.format('{"bench":"%s","impl":"%s","value":%.1f,'
    .. '"unit":"%s","better":"%s"}', bench, impl, value, unit, better))
end

local Reporter = stage.actor "Reporter"

function Reporter:begin(hops, t0, impl)
  self.hops, self.t0, self.impl = hops, t0, impl
end

function Reporter:done()
  local rate = self.hops / (stage.now() - self.t0)
  report("ring", self.impl, rate, "hops/s", "higher")
end

local Node = stage.actor "Node"

function Node:birth(reporter, with_futures)
  self.reporter, self.with_futures = reporter, with_futures
end

function Node:link(next_node)
  self.next = next_node
end

function Node:token(n)
  if n == 0 then
    self.reporter:done()
  else
    if self.with_futures then
      self.next:token(n - 1)
    else
      stage.send(self.next, "token", n - 1)
    end
  end
end

function main(args)
  local hops = math.tointeger(tonumber(args[1])) or 10000000
  local with_futures = args[2] == "futures"
  local reporter = Reporter()
  local nodes, links = {}, {}
  for i = 1, SIZE do
    nodes[i] = Node(reporter, with_futures)
  end
  for i = 1, SIZE do
    links[i] = nodes[i]:link(nodes[i % SIZE + 1])
  end
  stage.join(links):await()
  local t0 = stage.now()
  reporter:begin(hops, t0, with_futures and "lua-futures" or "lua")
  nodes[1]:token(hops)
end
