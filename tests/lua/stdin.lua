-- stage.stdin: lines of the node's standard input come as messages to a
-- subscriber, its end as nil; while no input comes, the theatre (there
-- is one: --theatres 1) serves other actors. stdin.sh feeds the lines.
local stage = require "stage"

local Echo = stage.actor "Echo"
function Echo:birth() self.n = 0 end
function Echo:take(s)
  if s == nil then
    print("end after " .. self.n)
    return
  end
  self.n = self.n + 1
  print("line " .. self.n .. ": [" .. s .. "]")
end

local Bystander = stage.actor "Bystander"
function Bystander:ping() return "pong" end

function main()
  local ok, err = pcall(function()
    return stage.stdin:subscribe("not a reference"):await()
  end)
  assert(not ok and tostring(err):find("subscribe takes a reference", 1,
         true), tostring(err))
  local e, quitter = Echo(), Echo()
  assert(stage.stdin:subscribe(e, "take"):await() == true)
  assert(stage.stdin:subscribe(quitter, "take"):await() == true)
  assert(stage.stdin:unsubscribe(quitter):await() == true)
  assert(stage.stdin:unsubscribe(quitter):await() == false)
  -- the thread waits for input; the theatre serves on
  local b = Bystander()
  for _ = 1, 3 do assert(b:ping():await(5) == "pong") end
  print("subscribed")
end
