-- The service server of the Stage# thesis (Listing 6.3), the Stage side of
-- its comparison with a JXTA client and server (thesis 6.2.1: 250 lines of
-- JXTA). It names itself "server" and prints what it is sent.
--   stage node examples/nodes/server.lua
--   then: stage node --join ADDR examples/nodes/client.lua
local stage = require "stage"

local ServiceServer = stage.actor "ServiceServer"

function ServiceServer:birth()
  stage.name("server"):await()
  print("server ready")
end

function ServiceServer:print_message(msg)
  print("Received message: " .. msg)
end

function main() ServiceServer() end
