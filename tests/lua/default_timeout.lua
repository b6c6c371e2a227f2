-- stage run --timeout SECS: await without its own timeout raises Timeout
-- after SECS; an explicit await(secs) overrides it. Run with --timeout 0.1.
local stage = require "stage"
local T = stage.actor "T"
function T:spin(s)
  local t0 = stage.now()
  while stage.now() - t0 < s do end
  return "spun"
end
function main(args)
  local t0 = stage.now()
  local ok, err = pcall(function() return T():spin(0.4):await() end)
  assert(not ok and err.type == "Timeout", tostring(err))
  local took = stage.now() - t0
  assert(took >= 0.1 and took < 0.4, "timed out after " .. took)
  assert(T():spin(0.2):await(2) == "spun")
  print("ok")
end
