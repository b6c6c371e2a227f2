-- bench/net/drain.lua target N | idle: the sides of bench/net/drain.sh.
-- target: N idle mobile actors, each holding a little state (a table of
-- ten numbers), then "ready"; the bench drains that node (SIGTERM).
local stage = require "stage"

local Holder = stage.actor "Holder"
function Holder:birth(i)
  self.i, self.v = i, {}
  for k = 1, 10 do self.v[k] = i * k end
end
function Holder:get() return self.i end

-- Until this node reads the entries of the two other nodes (each
-- publishes its own at most once a second): the drain plans by them.
local function await_hosts()
  local deadline = stage.now() + 20
  while #stage.hosts():await() < 3 do
    if stage.now() > deadline then error("the other nodes' entries never came") end
    stage.sleep(0.05):await() -- polling, with a deadline
  end
end

function main(args)
  if args[1] ~= "target" then return end
  for i = 1, math.tointeger(tonumber(args[2])) do Holder(i) end
  await_hosts()
  print("ready")
end
