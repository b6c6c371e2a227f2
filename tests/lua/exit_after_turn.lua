-- stage.exit(code) stops the node after the current turn: an actor that
-- keeps messaging itself (one way and with a future) runs no handler after
-- the one that called exit, though its mailbox is never empty.
local stage = require "stage"

local Loop = stage.actor "Loop"
function Loop:birth() self.n = 0 end
function Loop:go(stop_at)
  self.n = self.n + 1
  print("turn " .. self.n)
  stage.send(stage.self(), "go", stop_at)
  stage.self():go(stop_at)
  if self.n == stop_at then
    stage.exit(4)
    print("rest of turn " .. self.n) -- the turn itself runs to its end
  end
end

function main(args)
  Loop():go(5)
end
