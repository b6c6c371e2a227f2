-- main(args) receives the command-line arguments after the script name,
-- as strings, in order, options included (run by ctest as:
-- args.lua one "two words" 3 --flag).
local stage = require "stage"

function main(args)
  assert(type(args) == "table")
  assert(#args == 4, "got " .. #args .. " arguments")
  assert(args[1] == "one" and args[2] == "two words")
  assert(args[3] == "3" and math.type(args[3]) == nil, "kept as a string")
  assert(args[4] == "--flag", "an option after the script is its argument")
  print("ok")
end
