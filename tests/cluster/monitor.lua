-- cluster.monitor's node script (tests/cluster/monitor.sh).
--   serve: names Mortals m1..m4 (retrying while a name's lease from an
--          earlier run of this node has not run out)
--   watch: a Watcher prints node events and what its monitors say; a
--          Driver finds the Mortals and has them watched, stopped, and
--          watched again after their node restarts
--   leave: watches m3, then waits for SIGTERM
local stage = require "stage"

local Mortal = stage.actor "Mortal"
function Mortal:quit() stage.stop() end
function Mortal:ping() return "pong" end

local Watcher = stage.actor "Watcher"
function Watcher:nodes()
  stage.on_node_up(function(addr) print("node up " .. addr) end)
  stage.on_node_down(function(addr) print("node down " .. addr) end)
end
function Watcher:watch(label, ref)
  stage.monitor(ref, function(reason, err)
    print("down " .. label .. " " .. reason ..
          (err and (": " .. err.message) or ""))
  end)
end
function Watcher:quit() stage.stop() end
function Watcher:ping() return "pong" end

-- A reference to the actor named name once it answers (30 s at most),
-- other than the one whose text is not_this.
local function found(name, not_this)
  local deadline = stage.now() + 30
  repeat
    local ok, r = pcall(function()
      local r = stage.find_name(name)
      r:ping():await(2)
      return r
    end)
    if ok and tostring(r) ~= not_this then return r end
    stage.sleep(0.1):await()
  until stage.now() > deadline
  error("name '" .. name .. "' never answered")
end

local Driver = stage.actor "Driver"
function Driver:run(w)
  local m1, m2, m4 = found("m1"), found("m2"), found("m4")
  w:watch("m1", m1):await()
  w:watch("m2", m2):await()
  print("watching m1 m2")
  m1:quit():await() -- "down m1 normal" follows
  -- watching an actor that has stopped, or never was, on another node
  w:watch("m1again", m1):await()
  w:watch("ghost", stage.ref(tostring(m1):gsub("/%d+$", "/999999872"))):await()
  -- a watcher that stops first: no DOWN comes for it
  local w2 = Watcher()
  w2:watch("m4", m4):await()
  w2:quit():await()
  local ok = pcall(function() return w2:ping():await() end)
  assert(not ok, "w2 stopped") -- so its monitor has been dropped
  m4:quit():await()
  m2:ping():await() -- a round trip behind any DOWN m4's stop sent
  print("w2 checked")
  -- the test kills m2's node and starts it again: watch the new m2
  local m2b = found("m2", tostring(m2))
  w:watch("m2b", m2b):await()
  print("watching m2 again")
end

function main(args)
  if args[1] == "serve" then
    for _, name in ipairs{"m1", "m2", "m3", "m4"} do
      local m, deadline = Mortal(), stage.now() + 30
      while not pcall(function() return stage.name(name, m):await() end) do
        assert(stage.now() < deadline, "cannot name " .. name)
        stage.sleep(0.1):await()
      end
    end
    print("ready serve")
  elseif args[1] == "leave" then
    local w = Watcher()
    w:watch("m3", found("m3")):await()
    print("leaver watching")
  else
    local w = Watcher()
    w:nodes():await()
    print("watching nodes")
    Driver():run(w)
  end
end
