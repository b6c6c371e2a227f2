-- Code on demand: an actor spawned on a node that was started with no
-- script and never saw this file. That node fetches the type's code from
-- the DHT's sources store, loads it and runs the actor (docs/lua-api.md,
-- "Code on demand").
--
--   stage node --listen 127.0.0.1:7400        (no script)
--   stage node --join 127.0.0.1:7400 examples/nodes/anywhere.lua 127.0.0.1:7400
--       (prints "144, computed at 127.0.0.1:7400", then stops)
local stage = require "stage"

local Area = stage.actor "Area"

function Area:square(x) return x * x end
function Area:where() return (tostring(stage.self()):match("^(.-)~")) end

function main(args)
  local area = Area:spawn_at(args[1])
  print(("%d, computed at %s"):format(area:square(12):await(),
                                      area:where():await()))
  stage.exit(0)
end
