-- The program of cluster.code: code on demand. Its node runs it; the node
-- it works with was started with no script and has none of its types.
--   go ADDR C    spawn_at a Greeter (it shares a top-level local and a
--                helper with Counter) and a Counter (a subtype of Tally)
--                on node ADDR, call them; spawn a Mover here, count, move
--                it to node C, count on there; prints "greeter: ...",
--                "counter: ...", "moved: ..." and "ok", and serves on
--   missing ADDR spawn_at a type whose code the store lacks: prints
--                "missing: false <error>"
--   again ADDR   spawn_at a Greeter and call it: prints "again: ..."
-- Every role prints "main ran: ROLE" first: main runs on this node only,
-- never on a node that loads this script from the sources store.
local stage = require "stage"

local greeting = "hello" -- a top-level local two types share
local function shout(s) return s:upper() end
local function here() return (tostring(stage.self()):match("^(.-)~")) end

local Greeter = stage.actor "Greeter"
function Greeter:greet(who) return greeting .. " " .. who .. " from " .. here() end
function Greeter:loud(who) return shout(self:greet(who)) end

local Tally = stage.actor "Tally"
function Tally:add(n) self.n = (self.n or 0) + n; return self.n end

local Counter = stage.actor("Counter", {is = Tally})
function Counter:where() return here() end
function Counter:total() return greeting .. " " .. (self.n or 0) end

-- main is defined here but never runs on the node that fetches this code
-- A type only `far` uses: the node it moves to has no code for it yet.
local Mover = stage.actor "Mover"
function Mover:add(n) self.n = (self.n or 0) + n; return self.n end
function Mover:report() return greeting .. " " .. self.n .. " at " .. here() end

-- main is defined here but never runs on the node that fetches this code
function main(args)
  local role, addr = args[1], args[2]
  print("main ran: " .. role)
  if role == "go" then
    local g = Greeter:spawn_at(addr)
    print("greeter: " .. g:greet("you"):await() .. " / " .. g:loud("b"):await())
    local c = Counter:spawn_at(addr)
    c:add(2):await()
    print("counter: " .. c:add(3):await() .. " at " .. c:where():await())
    -- a move to a node that has no code for the type (args[3])
    local m = Mover()
    m:add(10):await()
    local moved = stage.migrate(m, args[3]):await()
    moved:add(5):await()
    print("moved: " .. moved:report():await())
    print("ok") -- and it serves on
  elseif role == "missing" then
    -- a class table the store has no code for: Greeter's spawn_at on it
    local ok, err = pcall(function()
      return Greeter.spawn_at({__type = "Nowhere"}, addr):greet("x"):await()
    end)
    print("missing: " .. tostring(ok) .. " " .. tostring(err))
    stage.exit(0)
  elseif role == "again" then -- the node still serves
    print("again: " .. Greeter:spawn_at(addr):greet("again"):await())
    stage.exit(0)
  end
end
