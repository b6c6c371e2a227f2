-- bench/net/echo.lua PREFIX COUNT: the serving node of the benchmarks
-- between nodes. Names COUNT Echo actors PREFIX_1 .. PREFIX_COUNT, then
-- prints "ready PREFIX". An Echo answers ping with its argument and counts
-- the one-way messages it gets.
local stage = require "stage"

local Echo = stage.actor "Echo"

function Echo:birth() self.n = 0 end
function Echo:ping(x) return x end
function Echo:one() self.n = self.n + 1 end
function Echo:count() return self.n end

function main(args)
  local names = {}
  for i = 1, tonumber(args[2] or 1) do
    names[#names + 1] = stage.name(args[1] .. "_" .. i, Echo())
  end
  stage.join(names):await()
  print("ready " .. args[1])
end
