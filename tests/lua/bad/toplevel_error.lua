-- An error in the script's top level (not in main) fails at load.
local stage = require "stage"
local x = nil
local y = x.field
function main(args) end
