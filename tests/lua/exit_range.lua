-- stage.exit(code) takes what a process can exit with, 0 to 255: anything
-- else is an argument error at the call (300 would exit with 44), and the
-- node keeps running.
local stage = require "stage"

local Echo = stage.actor "Echo"
function Echo:echo(x) return x end

local function refused(code, want)
  local ok, err = pcall(stage.exit, code)
  assert(not ok, "stage.exit(" .. tostring(code) .. ") accepted")
  err = tostring(err)
  assert(err:find("bad argument #1 to '[%w.]*exit'"), err)
  assert(err:find(want, 1, true), err .. " lacks " .. want)
end

function main()
  refused(300, "exit code must be from 0 to 255, got 300")
  refused(256, "exit code must be from 0 to 255, got 256")
  refused(-1, "exit code must be from 0 to 255, got -1")
  refused(1.5, "number has no integer representation")
  refused("x", "number expected, got string")
  refused(true, "number expected, got boolean")
  -- nothing stopped the node: an actor still answers, and the status is 0
  assert(Echo():echo(7):await() == 7)
  print("ok")
end
