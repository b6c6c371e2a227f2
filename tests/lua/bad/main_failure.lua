-- main awaits a future that fails and does not catch it: stage run prints
-- the line of the await and the handler's message, and exits non-zero.
local stage = require "stage"
local Worker = stage.actor "Worker"
function Worker:work() error("worker gave up") end
function main(args)
  local w = Worker()
  w:work():await()
end
