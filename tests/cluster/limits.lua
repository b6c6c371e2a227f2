-- Sizes between nodes (cluster.limits). args: "serve" — name a Big "big"
-- and print "ready"; or "frames ADDR", below; or "call ADDR LIMIT" — from
-- a node whose own
-- --max-message is larger than LIMIT (the server's), check that each
-- message, reply and spawn argument too large fails its sender's future
-- with TooLarge at once, on whichever side found it, and that the server
-- goes on serving. Prints "ok" last.
local stage = require "stage"

local Big = stage.actor "Big"
function Big:birth(s) self.born = s and #s or 0 end
function Big:size() return self.born end
function Big:take(s) return #s end
function Big:blob(bytes) return string.rep("x", bytes) end
function Big:ping() return "pong" end
function Big:keep(s) self.s = s end
function Big:kept() return #self.s end

-- f's future must fail with TooLarge, its message holding want. A failure
-- that is lost would show as Timeout here, long before the call's own
-- deadline (60 s); 10 s, as a 10 MB value takes a while under TSan.
local function too_large(want, f)
  local ok, err = pcall(function() return f():await(10) end)
  assert(not ok, "no failure; wanted TooLarge: " .. want)
  assert(type(err) == "table" and err.type == "TooLarge", tostring(err))
  assert(err.message:find(want, 1, true),
         "'" .. err.message .. "' lacks '" .. want .. "'")
  return err
end

local function serve()
  assert(stage.name("big", Big()):await())
  print("ready")
end

-- The server's Big, once its name is found.
local function find_big()
  local deadline = stage.now() + 10
  local big
  repeat -- the server's name may still be on its way
    local ok = pcall(function()
      big = stage.find_name("big")
      return big:ping():await()
    end)
    if not ok then stage.sleep(0.1):await() end
  until ok or stage.now() > deadline
  assert(big:ping():await() == "pong", "the server never answered")
  return big
end

-- The lines of this node's standard input, as the shell writes them.
local Gate = stage.actor "Gate"
function Gate:birth() self.lines = 0 end
function Gate:line(s) if s then self.lines = self.lines + 1 end end
function Gate:count() return self.lines end

local function next_line(gate, seen)
  local deadline = stage.now() + 30
  while gate:count():await() == seen do -- polled, with a deadline
    assert(stage.now() < deadline, "no line from the shell")
    stage.sleep(0.02):await()
  end
end

-- With the server stopped (SIGSTOP, by the shell), nothing sent to it is
-- acknowledged: past the 80 MB its session may hold, frames wait in this
-- node, in order. A frame too large for the server fails at once there
-- too: held, it would be refused only once the server woke, and its call
-- would never hear. Then the server wakes and takes the rest.
local function held(big, huge, more)
  local gate = Gate()
  stage.stdin:subscribe(gate):await()
  print("stall")
  next_line(gate, 0)
  local part = string.rep("y", 7500000) -- within the server's frames
  for _ = 1, 12 do stage.send(big, "take", part) end -- it logs each
  too_large(more, function() return big:take(huge) end)
  print("resume")
  assert(big:ping():await(30) == "pong")
end

-- From a node that takes larger frames than the server (--max-message
-- past the 8 MiB frames every node takes): a message, a move or a spawn
-- whose frame the server would refuse at its header fails here, at once,
-- with TooLarge. Sent, it would close the connection, and the session
-- would send it again on the next one, forever. The connection stays.
local function frames(addr)
  local big = find_big()
  local huge = string.rep("x", 10000000)
  local more = "more than that node takes"
  too_large(more, function() return big:take(huge) end)
  too_large(more, function() return Big:spawn_at(addr, huge):size() end)
  local heavy = Big()
  heavy:keep(huge):await()
  too_large("cannot move to node '" .. addr .. "': its image takes a frame",
            function() return stage.migrate(heavy, addr) end)
  assert(heavy:kept():await(2) == #huge) -- still here, whole
  -- an actor of the server's that grew too large here cannot go home, nor
  -- anywhere (a move goes through its home): it stays, whole, reached
  -- through its first id as through its id here
  local first = Big:spawn_at(addr)
  local here = tostring(heavy):match("^(.-)~")
  local guest = stage.migrate(first, here):await(10)
  guest:keep(huge):await(10)
  too_large("more than its home node '" .. addr .. "' takes",
            function() return stage.migrate(first, addr) end)
  too_large("more than its home node '" .. addr .. "' takes",
            function() return stage.migrate(guest, addr) end)
  assert(guest:kept():await(10) == #huge and first:kept():await(10) == #huge)
  -- and everything that fits goes, on the same connection
  assert(big:take(string.rep("x", 50000)):await(2) == 50000)
  local light = Big()
  assert(stage.migrate(light, addr):await(2):ping():await(2) == "pong")
  held(big, huge, more)
  print("ok")
  stage.exit(0)
end

local function call(addr, limit)
  local big = find_big()
  local id = tostring(big)
  -- the strings below are >= 65536 bytes: [s] takes #s + 6 bytes
  local theirs = string.rep("x", limit) -- within ours, past theirs
  local ours = string.rep("x", 5 * limit) -- past ours (this node: 4x)
  -- a message: found too large here (ours), or there (theirs)
  too_large("cannot send 'take' to actor '" .. id .. "': argument 1: " ..
            "value too large", function() return big:take(ours) end)
  too_large("a message to actor '" .. id .. "' is too large: its " ..
            "arguments are " .. (limit + 6) .. " bytes, over the limit of " ..
            limit .. " bytes of node '" .. addr .. "' (--max-message)",
            function() return big:take(theirs) end)
  assert(big:take(string.rep("x", limit - 6)):await(2) == limit - 6)
  -- one way: raised here, or logged there with the actor's id
  local ok, err = pcall(stage.send, big, "take", ours)
  assert(not ok and err.type == "TooLarge", tostring(err))
  stage.send(big, "take", theirs) -- the server logs it (limits.sh)
  -- a reply too large for the server: the caller learns it at once
  local e = too_large("the reply of actor '" .. id .. "' is too large",
                      function() return big:blob(limit) end)
  assert(e.actor == id, tostring(e.actor))
  assert(#big:blob(limit - 5):await(2) == limit - 5) -- just fits
  -- a spawn: its arguments too large here, or there
  too_large("cannot spawn 'Big' on node '" .. addr .. "': argument 1: " ..
            "value too large", function()
    return Big:spawn_at(addr, ours):size()
  end)
  too_large("cannot spawn 'Big' on node '" .. addr .. "': its arguments " ..
            "are " .. (limit + 6) .. " bytes, over the limit of " .. limit,
            function() return Big:spawn_at(addr, theirs):size() end)
  assert(Big:spawn_at(addr, string.rep("x", limit - 6)):size():await(2) ==
         limit - 6)
  -- and the server goes on
  assert(big:ping():await(2) == "pong")
  print("ok")
  stage.exit(0)
end

function main(args)
  if args[1] == "serve" then return serve() end
  if args[1] == "frames" then return frames(args[2]) end
  call(args[2], math.tointeger(tonumber(args[3])))
end
