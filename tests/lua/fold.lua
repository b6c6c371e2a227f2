-- One hundred one-way sends to a stopped actor: each failure is logged,
-- and the log folds them (fold.sh counts the lines and what they report).
local stage = require "stage"

local Sink = stage.actor "Sink"
function Sink:put(i) end

function main()
  local s = Sink()
  s:put(0):await()
  stage.stop(s):await()
  for i = 1, 100 do stage.send(s, "put", i) end
  print("ok")
end
