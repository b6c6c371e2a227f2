-- The actor of cluster.migrate and its roles (args[1]):
--   home ADDR...  ("home": this node's) spawn a Mover, name it "mover", give it its tour (the
--                 node addresses it moves to, one every 250 messages);
--                 prints "ready"
--   send N        find "mover", send it N numbered messages through that
--                 reference (every tenth a call, the rest one way), check
--                 every call's answer and its final report (all arrived,
--                 once, in order, moves made); prints "sender ok ..." or
--                 "sender FAILED ..."
--   go ADDR       move it to node ADDR: prints "went to ADDR first ID"
--   lose ADDR ID  move it (ID: its first id) to node ADDR while the node
--                 it is at is frozen, then killed: prints "asked",
--                 "lose: ...", "then: ..."
--   find          a new reference by name reaches it where it is now;
--                 prints "found at ADDR"
--   move ADDR B   move the Keeper (it holds a function) to node B: refused,
--                 it serves on ("keeper: ..."); move the Mover to node
--                 ADDR, which is killed before it answers: the move
--                 fails, the actor serves on with its state; prints
--                 "asked", "move refused: ...", "after: ..."
--   idle          a node it passes through
local stage = require "stage"

local Mover = stage.actor "Mover"

-- The node address of the running actor (its id's first part).
local function here() return (tostring(stage.self()):match("^(.-)~")) end

function Mover:birth() self.n, self.seen, self.moves, self.bad = 0, {}, 0, 0 end
function Mover:departing() print("departing from " .. here() .. " n=" .. self.n) end
function Mover:arrived()
  self.moves = self.moves + 1
  print("arrived at " .. here() .. " n=" .. self.n)
end
function Mover:tour(list) self.list, self.k = list, 0 end

-- Message i from `from`: counted; out of order or twice is a fault.
function Mover:add(from, i)
  local last = self.seen[from] or 0
  if i ~= last + 1 then
    self.bad = self.bad + 1
    print("out of order from " .. from .. ": " .. i .. " after " .. last)
  end
  self.seen[from] = i
  self.n = self.n + 1
  if self.list and self.n % 250 == 0 and self.k < #self.list then
    self.k = self.k + 1
    stage.migrate(self.list[self.k])
  end
  return i
end

-- A Keeper holds a function: it cannot travel, and stays serving.
local Keeper = stage.actor "Keeper"
function Keeper:birth() self.f = function() return "kept" end end
function Keeper:use() return self.f() end

function Mover:report(from)
  return {last = self.seen[from] or 0, bad = self.bad, moves = self.moves,
          at = here()}
end

function main(args)
  local role = args[1]
  if role == "home" then
    local m = Mover()
    local tour = {}
    local home = tostring(m):match("^(.-)~") -- "home" in the tour: this node
    for i = 2, #args do tour[#tour + 1] = args[i] == "home" and home or args[i] end
    m:tour(tour):await()
    assert(stage.name("mover", m):await())
    assert(stage.name("keeper", Keeper()):await())
    print("ready")
  elseif role == "send" then
    local n = tonumber(args[2])
    local m = stage.find_name("mover")
    local calls = {}
    for i = 1, n do
      if i % 10 == 0 then calls[#calls + 1] = {i, m:add("s", i)}
      else stage.send(m, "add", "s", i) end
    end
    print("sent " .. n)
    for _, c in ipairs(calls) do
      local ok, v = pcall(function() return c[2]:await(30) end)
      if not ok or v ~= c[1] then
        print("sender FAILED: call " .. c[1] .. " answered " .. tostring(v))
        stage.exit(1)
      end
    end
    local r = m:report("s"):await(30)
    if r.last ~= n or r.bad ~= 0 then
      print("sender FAILED: last " .. r.last .. " of " .. n .. ", " .. r.bad
            .. " out of order")
      stage.exit(1)
    end
    print("sender ok: " .. n .. " in order, " .. #calls .. " calls, "
          .. r.moves .. " moves, at " .. r.at)
  elseif role == "move" then
    -- the Keeper to node args[3]: refused, naming the field; it serves on
    local k = stage.find_name("keeper")
    assert(k:use():await(30) == "kept") -- the lookup is done: k names it
    local ok, err = pcall(function()
      return stage.migrate(k, args[3]):await(30)
    end)
    print("keeper: " .. (ok and "moved" or tostring(err)) .. "; "
          .. k:use():await(30))
    -- move it to node args[2], which dies before it answers: it stays
    local m = stage.find_name("mover")
    m:report("s"):await(30) -- the lookup is done: m names it
    -- to "localhost:1", where nobody listens: unreachable, and it serves on
    ok, err = pcall(function()
      return stage.migrate(m, "localhost:1"):await(30)
    end)
    print("nobody: " .. (ok and "moved" or tostring(err)) .. "; last "
          .. m:report("s"):await(30).last)
    -- the test freezes that node now (frozen before, it could hold the
    -- DHT entries these lookups need): it says so with the file "frozen"
    print("resolved")
    local deadline = stage.now() + 30
    while not stage.files:exists("frozen"):await() do
      assert(stage.now() < deadline, "the node was never frozen")
      stage.sleep(0.05):await() -- polling a file, with a deadline
    end
    local f = stage.migrate(m, args[2])
    print("asked")
    ok, err = pcall(function() return f:await(60) end)
    if ok then
      print("move FAILED: it moved to a dead node")
      stage.exit(1)
    end
    print("move refused: " .. tostring(err))
    local r = m:report("s"):await(30)
    local one = m:add("k", 1):await(30)
    print("after: last " .. r.last .. ", bad " .. r.bad .. ", at " .. r.at
          .. ", serving " .. one)
  elseif role == "go" then
    -- move it to node args[2]; prints "went to ADDR"
    local m = stage.find_name("mover")
    m:report("s"):await(30)
    local r = stage.migrate(m, args[2]):await(30)
    print("went to " .. r:report("s"):await(30).at .. " first " .. tostring(m))
  elseif role == "lose" then
    -- move it to node args[2] while its node is frozen and then killed:
    -- it is lost with that node, and says so
    local m = stage.ref(args[3]) -- its first id ("go" printed it)
    local f = stage.migrate(m, args[2])
    print("asked")
    local ok, err = pcall(function() return f:await(60) end)
    print("lose: " .. (ok and "moved" or tostring(err)))
    ok, err = pcall(function() return m:report("s"):await(30) end)
    print("then: " .. (ok and "answered" or tostring(err)))
  elseif role == "reborn" then
    -- an actor born here goes to node args[2], which the test then kills
    -- and restarts at its address (the file "restarted" says when): the
    -- actor is lost with it. A move asked at its home, here, fails
    -- NodeDown at once (the new node refuses it), and so does a call
    local m = Mover()
    stage.migrate(m, args[2]):await(30)
    print("moved")
    local deadline = stage.now() + 60
    while not stage.files:exists("restarted"):await() do
      assert(stage.now() < deadline, "the node was never restarted")
      stage.sleep(0.05):await() -- polling a file, with a deadline
    end
    local ok, err = pcall(function()
      return stage.migrate(m, args[3]):await(30)
    end)
    print("reborn move: " .. (ok and "moved" or tostring(err)))
    ok, err = pcall(function() return m:report("s"):await(30) end)
    print("reborn then: " .. (ok and "answered" or tostring(err)))
  elseif role == "find" then
    local r = stage.find_name("mover"):report("f"):await(30)
    print("found at " .. r.at)
  end
end
