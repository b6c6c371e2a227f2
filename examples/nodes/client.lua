-- The service client of the Stage# thesis (Listing 6.4) in the one line
-- the thesis condenses it to (6.2.1), against JXTA's 250: find the server
-- by name, wherever it runs, and send it a string. `next` stops this node
-- once the server has printed it. Run beside examples/nodes/server.lua:
--   stage node --join ADDR examples/nodes/client.lua
local stage = require "stage"

function main()
  stage.find_name("server"):print_message("Hello my friend!"):next(stage.exit)
end
