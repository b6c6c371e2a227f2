-- Lua's warn: off until "@on" (as in the standalone lua), then each whole
-- warning is one log line; "@off" turns it off again.
function main()
  warn("not shown")
  warn("@on")
  warn("hello ", "world")
  warn("@off")
  warn("hidden")
  print("ok")
end
