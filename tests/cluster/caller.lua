-- cluster.bad_input's caller: calls the Area named args[1] on another
-- node without end, printing "calls N" every 50 answers, and fails (exit 1)
-- at the first wrong answer or failure.
local stage = require "stage"

function main(args)
  local area = stage.find_name(args[1])
  local deadline = stage.now() + 10
  while not pcall(function() return area:square(1):await(2) end) do
    assert(stage.now() < deadline, "'" .. args[1] .. "' not found")
    stage.sleep(0.1):await()
    area = stage.find_name(args[1])
  end
  local n = 0
  while true do
    local ok, v = pcall(function() return area:square(n % 1000):await(10) end)
    if not ok or v ~= (n % 1000) ^ 2 then
      print("call " .. n .. " failed: " .. tostring(v))
      stage.exit(1)
      return
    end
    n = n + 1
    if n % 50 == 0 then print("calls " .. n) end
  end
end
