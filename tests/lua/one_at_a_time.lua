-- An actor handles one message at a time, awaits included: while a handler
-- (or birth) awaits, later messages to the same actor wait for it to end,
-- so they see the state it left.
local stage = require "stage"

local Helper = stage.actor "Helper"
function Helper:spin(s)
  local t0 = stage.now()
  while stage.now() - t0 < s do end
  return "spun"
end
function Helper:value() return 42 end

local A = stage.actor "A"
function A:birth(helper)
  self.log = {}
  self.v = helper:value():await()    -- birth may await too
  self.log[#self.log + 1] = "birth"
end
function A:slow(helper)
  self.log[#self.log + 1] = "slow start"
  helper:spin(0.1):await()
  self.log[#self.log + 1] = "slow end"
end
function A:ping() self.log[#self.log + 1] = "ping"; return self.v end
function A:get() return self.log end

function main(args)
  local helper = Helper:spawn_at(stage.theatres() - 1)
  local a = A(helper)
  assert(a:ping():await() == 42, "a message ran before birth ended")
  a:slow(helper)
  a:ping()
  local log = table.concat(a:get():await(), ", ")
  assert(log == "birth, ping, slow start, slow end, ping", log)
  print("ok")
end
