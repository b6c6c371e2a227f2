-- Futures nobody holds are freed while the program runs, not when it
-- ends: once the first 250,000 calls whose futures were dropped have
-- brought the resident memory where it stays, 250,000 more leave it
-- there. (Run with --files /proc/self: statm, in 4 KiB pages.)
--
-- The calls go in rounds of 1,000, each awaited: what is in flight at
-- once (envelopes, replies, futures not yet answered) is then at most a
-- round's, whatever the scheduling. With rounds of 50,000, how far the
-- sender ran ahead of the sink differed from run to run under TSan, and
-- the largest backlog yet, reached in the second half, moved the
-- resident memory by up to 28 MB.
local stage = require "stage"

local Sink = stage.actor "Sink"
function Sink:take(n) return n end

local function resident()
  local statm = stage.files:read("statm"):await()
  return tonumber(statm:match("^%d+%s+(%d+)")) * 4096
end

function main()
  local sink = Sink:spawn_at(1 % stage.theatres())
  local function round(n)
    for i = 1, n do sink:take(i) end
    sink:take(0):await() -- after the others: they were handled
  end
  for _ = 1, 250 do round(1000) end
  local before = resident()
  for _ = 1, 250 do round(1000) end
  local grown = resident() - before
  -- kept until the end, they would be 250,000 x 150 bytes and more
  assert(grown < 20 * 2 ^ 20, "resident memory grew by " .. grown ..
         " bytes")
  print("ok")
end
