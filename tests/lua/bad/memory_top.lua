-- A top level that would pass the heap cap (run with --memory 8M): the
-- script fails to load, saying so; with "keep" in main, one that passes it
-- is logged with its id (main: the program ends).
local stage = require "stage"
local big = string.rep("x", 64 * 2^20)
function main() print(#big) end
