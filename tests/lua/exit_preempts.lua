-- stage.exit(code) while another theatre runs an endless handler: the node
-- stops at once with that status; the endless turn is preempted at its
-- next slice and never resumed (it used to keep the node alive forever).
local stage = require "stage"

local Spin = stage.actor "Spin"
function Spin:spin(starter)
  starter:started()
  local x = 0
  while true do x = x + 1 end
end

local Starter = stage.actor "Starter"
function Starter:started()
  print("spinning")
  stage.exit(3)
end

function main(args)
  Spin:spawn_at(1):spin(Starter:spawn_at(0))
end
