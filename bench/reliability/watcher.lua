-- bench/reliability/watcher.lua NAME: calls the actor named NAME every
-- 10 ms; prints "watching" once the first call came back, then, at the
-- first failure, one line "down <stage.now()> <typed error>" and exits.
local stage = require "stage"

function main(args)
  local victim = stage.find_name(args[1])
  victim:ping(0):await(30)
  print("watching")
  io.stdout:flush()
  while true do
    local ok, err = pcall(function() return victim:ping(1):await(30) end)
    if not ok then
      local kind = type(err) == "table" and err.type or tostring(err)
      print(string.format("down %.6f %s", stage.now(), kind))
      stage.exit(0)
      return
    end
    stage.sleep(0.01):await()
  end
end
