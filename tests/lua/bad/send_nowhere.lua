-- stage.send (one way) to an actor of this node that never existed: no
-- future to fail, so the loss is logged, and main goes on.
local stage = require "stage"

function main()
  local me = tostring(stage.self()) -- node~inc/0/stage.main/serial
  local nowhere = stage.ref((me:gsub("/stage%.main/", "/Nope/")))
  stage.send(nowhere, "hello")
  print("ok")
end
