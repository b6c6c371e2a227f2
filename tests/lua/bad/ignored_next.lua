-- Failures nobody looks at, in a next() callback and in a timer, are
-- logged with the id of the actor where they happened.
local stage = require "stage"
local T = stage.actor "T"
function T:echo(x) return x end
function main(args)
  T():echo(1):next(function() error("failed in next") end)
  stage.after(0.01, function() error("failed in a timer") end)
end
