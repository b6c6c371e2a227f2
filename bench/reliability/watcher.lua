-- bench/reliability/watcher.lua NAME: calls the actor named NAME every
-- 10 ms; prints "watching" once the first call came back, then, at the
-- first failure, one line "down <stage.now()> <typed error>" and exits.
-- The calls go through a reference made from the actor's id, not the
-- name: one through the name would look the name up again when it fails
-- and wait up to a second for a replacement (lua-api.md, "A reference
-- found by name"), and this measures how soon the death is known.
local stage = require "stage"

function main(args)
  local named = stage.find_name(args[1])
  named:ping(0):await(30)
  local victim = stage.ref(tostring(named))
  print("watching")
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
