-- bench/net/migrate.lua MODE ...: moves between two `stage node`s on
-- loopback (issue 11, "Measured"), run by bench/net/migrate.sh. Prints
-- one JSON line per figure ({"bench","impl","value","unit","better"}).
--   serve            the other node (run with --files /proc/self):
--                    defines the type, names a Probe "probe", prints
--                    "ready"
--   drive ADDR N [K] on the measuring node: first K moves there and back
--                    (default 10,000) and the growth of the other node's
--                    resident set over them, per arrival there
--                    (migrate_node_kept: what a node keeps for a guest
--                    that left, to forward what still comes to its id
--                    there); then the same K moves made by ten Blobs in
--                    turn, each stopping after its share
--                    (migrate_node_kept_stopped: what is left of those
--                    entries once their actors stopped); then a Blob
--                    born here, moved to node ADDR and back N times
--                    each, every move awaited
--                    (stage.migrate(ref, addr):await(): the request, the
--                    export, the image on the wire, the import, the
--                    answer), with a state of 16 bytes, then of 100 KB:
--                    p50 and p99 of one move in microseconds
--                    (migrate_node_p50/p99, migrate_node_100k_p50/p99),
--                    and one message through the first reference after
--                    the last move (checked)
local stage = require "stage"

local Blob = stage.actor "Blob"
function Blob:birth(size) self.data = string.rep("x", size); self.n = 0 end
function Blob:ping() self.n = self.n + 1; return #self.data end
function Blob:quit() stage.stop() end

-- The serving node's resident set, read through its file actor.
local Probe = stage.actor "Probe"
function Probe:rss()
  local statm = stage.files:read("statm"):await()
  return math.tointeger(tonumber(statm:match("^%d+%s+(%d+)"))) * 4096
end

local function report(bench, value, unit, better)
  print(string.format('{"bench":"%s","impl":"stage","value":%.2f,'
    .. '"unit":"%s","better":"%s"}', bench, value, unit, better))
end

local function pct(sorted, p)
  return sorted[math.max(1, math.ceil(#sorted * p))]
end

-- n moves there and back of a Blob of size bytes; reports name_p50/p99.
local function moves(name, there, n, size)
  local b = Blob(size)
  local here = tostring(b):match("^(.-)~")
  assert(b:ping():await() == size)
  for _ = 1, 20 do -- warm up: sessions, caches
    stage.migrate(b, there):await()
    stage.migrate(b, here):await()
  end
  local d = {}
  for i = 1, n do
    local t0 = stage.now()
    stage.migrate(b, there):await()
    d[#d + 1] = stage.now() - t0
    t0 = stage.now()
    stage.migrate(b, here):await()
    d[#d + 1] = stage.now() - t0
  end
  assert(b:ping():await() == size, "the blob lost its state")
  table.sort(d)
  report(name .. "_p50", pct(d, 0.5) * 1e6, "us", "lower")
  report(name .. "_p99", pct(d, 0.99) * 1e6, "us", "lower")
end

function main(args)
  if args[1] == "serve" then
    stage.name("probe", Probe()):await()
    print("ready")
    return
  end
  local there, n = args[2], tonumber(args[3] or 500)
  local k = tonumber(args[4] or 10000)
  local probe, b = stage.find_name("probe"), Blob(16)
  local here = tostring(b):match("^(.-)~")
  local function there_and_back(blob, times)
    for _ = 1, times do
      stage.migrate(blob, there):await()
      stage.migrate(blob, here):await()
    end
  end
  -- memory first, on a node that has freed nothing large yet (the 100 KB
  -- moves below would leave memory to reuse): sessions warmed up by an
  -- actor that then stops
  local warm = Blob(16)
  there_and_back(warm, 100)
  warm:quit():await()
  local before = probe:rss():await()
  there_and_back(b, k)
  report("migrate_node_kept", (probe:rss():await() - before) / k,
    "bytes/arrival", "lower")
  before = probe:rss():await()
  for _ = 1, 10 do
    local one = Blob(16)
    there_and_back(one, k // 10)
    one:quit():await()
  end
  report("migrate_node_kept_stopped", (probe:rss():await() - before) / k,
    "bytes/arrival", "lower")
  moves("migrate_node", there, n, 16)
  moves("migrate_node_100k", there, n, 100 * 1024)
  stage.exit(0)
end
