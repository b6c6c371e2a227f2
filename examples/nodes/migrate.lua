-- SALSA's Migrate example: an actor prints where it is, migrates to
-- another node, and prints there (weak mobility: its state goes with it;
-- docs/migration.md "Between nodes").
--
--   stage node examples/nodes/migrate.lua
--       (a node to go to; logs "node 'ADDR' listening, ..." on stderr)
--   stage node --join ADDR examples/nodes/migrate.lua ADDR
--       (starts the actor here, moves it to ADDR, then stops)
local stage = require "stage"

local Migrate = stage.actor "Migrate"

function Migrate:birth() self.prints = 0 end

function Migrate:print()
  self.prints = self.prints + 1
  print(("Migrate actor is here (print %d)."):format(self.prints))
end

function Migrate:departing() print("Migrate actor is leaving.") end
function Migrate:arrived() print("Migrate actor has arrived.") end

function main(args)
  if not args[1] then return end -- the node to go to: it only serves
  local m = Migrate()
  m:print():await()
  -- SALSA: self<-print() @ self<-migrate(uan) @ self<-print()
  m = stage.migrate(m, args[1]):await()
  m:print():await()
  stage.exit(0)
end
