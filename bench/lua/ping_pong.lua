-- bench/lua/ping_pong.lua: two actors in one theatre bounce a ball N round
-- trips (default 2,000,000; a round trip is 2 messages): each sends it
-- back to the other with one fewer to go; the one that gets 0 tells the
-- reporter. The ball goes one way (stage.send, like Erlang's !); with
-- the argument "futures" it goes as ref:ball(n), which makes a future each
-- time. With "cross" the players live on theatres 0 and 1, so every
-- message crosses between two theatre threads (the benchmark
-- ping_pong_cross; 200,000 round trips by default: crossing is slow, and
-- the rate settles well before). Arguments in any order: N, "futures",
-- "cross". Prints messages per second (higher is better).
local stage = require "stage"

-- impl: "lua", or "lua-futures" for the ref:method form.
local function report(bench, impl, value, unit, better)
  print(string.format('{"bench":"%s","impl":"%s","value":%.1f,'
    .. '"unit":"%s","better":"%s"}', bench, impl, value, unit, better))
end

local Reporter = stage.actor "Reporter"

function Reporter:begin(bench, msgs, t0, impl)
  self.bench, self.msgs, self.t0, self.impl = bench, msgs, t0, impl
end

function Reporter:done()
  local rate = self.msgs / (stage.now() - self.t0)
  report(self.bench, self.impl, rate, "msgs/s", "higher")
end

local Player = stage.actor "Player"

function Player:birth(reporter, with_futures)
  self.reporter, self.with_futures = reporter, with_futures
end

function Player:partner(other)
  self.other = other
end

function Player:ball(n)
  if n == 0 then
    self.reporter:done()
  else
    if self.with_futures then
      self.other:ball(n - 1)
    else
      stage.send(self.other, "ball", n - 1)
    end
  end
end

function main(args)
  local n, with_futures, cross
  for _, a in ipairs(args) do
    if a == "futures" then with_futures = true
    elseif a == "cross" then cross = true
    else n = n or math.tointeger(tonumber(a)) end
  end
  n = n or (cross and 200000 or 2000000)
  local reporter = Reporter()
  local a = Player:spawn_at(0, reporter, with_futures)
  local b = Player:spawn_at(cross and 1 or 0, reporter, with_futures)
  stage.join{a:partner(b), b:partner(a)}:await()
  local t0 = stage.now()
  reporter:begin(cross and "ping_pong_cross" or "ping_pong", 2 * n, t0,
    with_futures and "lua-futures" or "lua")
  a:ball(2 * n)
end
