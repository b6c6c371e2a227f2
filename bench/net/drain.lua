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

function main(args)
  if args[1] ~= "target" then return end
  for i = 1, math.tointeger(tonumber(args[2])) do Holder(i) end
  print("ready")
end
