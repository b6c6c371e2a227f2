-- stage.exit(code) stops the node with that exit status after this turn,
-- even with actors and timers still pending.
local stage = require "stage"
local Busy = stage.actor "Busy"
function Busy:tick() stage.after(0.01, function() stage.self():tick() end) end
function main(args)
  Busy():tick()
  stage.every(0.01, function() end)
  print("ok")
  stage.exit(tonumber(args[1]))
end
