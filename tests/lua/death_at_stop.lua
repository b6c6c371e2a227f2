-- death() at the node's stop (run by death_at_stop.sh). args[1]:
--   quiescence  actors a1, a2 on theatre 0 and b1, b2 on theatre 1 are
--               idle when main returns: the node stops by itself
--   exit        the same, plus w on theatre 1 suspended in an await;
--               main calls stage.exit(5)
--   unborn      (one theatre) main spawns u and exits in the same turn:
--               u's birth never starts, so neither does its death
local stage = require "stage"

local Mortal = stage.actor "Mortal"
function Mortal:birth(name) self.name = name end
function Mortal:death() print("death " .. self.name) end
function Mortal:wait(gate)
  gate:arrive()
  stage.sleep(600):await()
  print("never")
end

local Gate = stage.actor "Gate"
function Gate:birth() self.n = 0 end
function Gate:arrive() self.n = self.n + 1 end
function Gate:count() return self.n end

function main(args)
  if args[1] == "unborn" then
    Mortal("u")
    print("exiting")
    stage.exit(6)
    return
  end
  local a1, a2 = Mortal("a1"), Mortal("a2")
  local b1, b2 = Mortal:spawn_at(1, "b1"), Mortal:spawn_at(1, "b2")
  if args[1] == "exit" then
    local gate, w = Gate(), Mortal:spawn_at(1, "w")
    w:wait(gate)
    while gate:count():await() < 1 do end -- w is in its await
    print("exiting")
    stage.exit(5)
  end
end
