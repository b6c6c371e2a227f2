-- A failed future nobody looks at is logged with the failing actor's id.
local stage = require "stage"
local Worker = stage.actor "Worker"
function Worker:work() error("ignored on purpose") end
function main(args)
  Worker():work()        -- no await, next or catch
end
