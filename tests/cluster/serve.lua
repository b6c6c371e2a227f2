-- A node that offers an Area under a name (args[1]) and a Logger type.
local stage = require "stage"

local Area = stage.actor "Area"
function Area:birth() self.total = 0 end
function Area:square(x) self.total = self.total + x * x; return x * x end
function Area:total_so_far() return self.total end

local Recorder = stage.actor "Recorder"
function Recorder:birth() self.seen = {} end
function Recorder:put(i) self.seen[#self.seen + 1] = i end
function Recorder:quit() stage.stop() end
function Recorder:blob(bytes) return string.rep("x", bytes) end
function Recorder:seen_in_order(n)
  if #self.seen ~= n then return false end
  for i = 1, n do if self.seen[i] ~= i then return false end end
  return true
end

local Logger = stage.actor "Logger"
function Logger:log(s) return stage.theatre() >= 0 and ("logged " .. s) end

function main(args)
  assert(stage.name(args[1], Area()):await())
  Logger()
  print("ready " .. args[1])
end
