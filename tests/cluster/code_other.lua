-- Another program of cluster.code: its Greeter is not code.lua's (a
-- clash), so a node that has code.lua's cannot load this script for its
-- Fragile either.
--   clash ADDR    spawn_at its Greeter: prints "clash: false <error>"
--   fragile ADDR  spawn_at a Fragile: prints "fragile: false <error>"
local stage = require "stage"

local Greeter = stage.actor "Greeter"
function Greeter:greet() return "not the same code" end

local Fragile = stage.actor "Fragile"
function Fragile:hi() return "hi" end

function main(args)
  local role, addr = args[1], args[2]
  local T = role == "clash" and Greeter or Fragile
  local ok, err = pcall(function() return T:spawn_at(addr):greet():await() end)
  print(role .. ": " .. tostring(ok) .. " " .. tostring(err))
  stage.exit(0)
end
