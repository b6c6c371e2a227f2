-- stage.join refuses a list with an element that cannot be sent, naming
-- it, and the futures before it go on as if nothing happened (the join
-- state they wait with was once freed under them: a use after free).
local stage = require "stage"

local T = stage.actor "T"
function T:echo(x) return x end

function main()
  local t = T()
  local f = t:echo(1)
  local ok, err = pcall(stage.join, {f, function() end})
  assert(not ok and tostring(err):find("join: element 2", 1, true),
         tostring(err))
  assert(f:await() == 1)
  local r = stage.join{t:echo(2), 3}:await()
  assert(r[1] == 2 and r[2] == 3)
  print("ok")
end
