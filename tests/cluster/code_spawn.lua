-- A program of cluster.code whose top level spawns an actor where it is
-- loaded from the sources store (there _ENV is the loaded code's own):
-- the load fails, as a spawn at any top level does.
--   ADDR   spawn_at a TopSpawner there: prints "spawn: false <error>"
local stage = require "stage"

local TopSpawner = stage.actor "TopSpawner"
function TopSpawner:hi() return "hi" end
if _ENV ~= _G then TopSpawner() end

function main(args)
  local ok, err = pcall(function()
    return TopSpawner:spawn_at(args[1]):hi():await()
  end)
  print("spawn: " .. tostring(ok) .. " " .. tostring(err))
  stage.exit(0)
end
