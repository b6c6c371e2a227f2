-- stage run uses one theatre per core unless told otherwise (--theatres
-- N); the number of cores is the first argument (ctest passes nproc), the
-- number wanted the second ("cores" for the default). Main runs on
-- theatre 0, and an actor spawned on each theatre runs there. An embedded
-- node has no network: stage.net_stats() is nil.
local stage = require "stage"

local Where = stage.actor "Where"
function Where:theatre() return stage.theatre() end

function main(args)
  local cores, wanted = tonumber(args[1]), args[2]
  local n = wanted == "cores" and cores or tonumber(wanted)
  assert(stage.theatres() == n,
         "theatres: " .. stage.theatres() .. ", wanted " .. n)
  assert(stage.theatre() == 0)
  for t = 0, n - 1 do
    assert(Where:spawn_at(t):theatre():await() == t)
  end
  assert(stage.net_stats() == nil)
  print("ok")
end
