-- hosts.lua serve N | check N ADDR...: with serve, spawn N idle actors and
-- print "ready"; with check, wait (at most 20 s) until stage.hosts() lists
-- this node first and every ADDR with at least N actors, each entry whole
-- (theatres, load, takes_movers), then print them and exit 0 (1 if they
-- never are). Entries are published at most once a second, so a new
-- node's come a moment after it is ready.
local stage = require "stage"

local Idle = stage.actor "Idle"
function Idle:ping() return true end

-- Whether hs lists self first and every address of want with >= n actors.
local function complete(hs, n, want)
  if #hs < 1 + #want then return false end
  local by = {}
  for i, h in ipairs(hs) do
    assert(math.type(h.theatres) == "integer" and h.theatres >= 1,
      "entry " .. i .. ": theatres " .. tostring(h.theatres))
    assert(type(h.load) == "number" and h.load >= 0, "load")
    assert(h.takes_movers == true, "takes_movers")
    by[h.address] = h
  end
  for _, a in ipairs(want) do
    if not by[a] or by[a].actors < n then return false end
  end
  return true
end

function main(args)
  local n = math.tointeger(tonumber(args[2]))
  if args[1] == "serve" then
    for _ = 1, n do Idle() end
    print("ready")
    return
  end
  local want = {table.unpack(args, 3)}
  local deadline = stage.now() + 20
  repeat
    local hs = stage.hosts():await()
    if complete(hs, n, want) then
      for _, h in ipairs(hs) do
        print(string.format("%s theatres %d actors>=%d %s", h.address,
          h.theatres, n, tostring(h.takes_movers)))
      end
      stage.exit(0)
      return
    end
    stage.sleep(0.1):await() -- polling a published figure, with a deadline
  until stage.now() > deadline
  print("the hosts store never listed them all")
  stage.exit(1)
end
