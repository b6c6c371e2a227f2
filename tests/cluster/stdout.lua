-- Prints two lines and stops its node: the node's stdout must be exactly
-- these lines (cluster.startup).
local stage = require "stage"
function main(args)
  print("first line")
  print("second line " .. #args)
  stage.exit(0)
end
