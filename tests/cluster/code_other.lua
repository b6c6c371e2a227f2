-- Another program of cluster.code: its Greeter is not code.lua's (a
-- clash), so a node that has code.lua's cannot load this script for its
-- Fragile either.
--   clash ADDR    spawn_at its Greeter: prints "clash: false <error>"; move
--                 one of its Greeters there: refused, for its code is not
--                 the one there: prints "move: false <error>", and it
--                 serves on here: "stays: not the same code"
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
  if role == "clash" then -- a move carries the version of its code
    local g = Greeter()
    g:greet():await() -- born: its state (and its code's version) travel
    ok, err = pcall(function() return stage.migrate(g, addr):await() end)
    print("move: " .. tostring(ok) .. " " .. tostring(err))
    print("stays: " .. g:greet():await())
  end
  stage.exit(0)
end
