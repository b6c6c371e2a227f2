-- print inside an actor goes through stage.stdout, so the lines of one
-- actor keep their order, however many actors print at once. Checked by
-- stdout.sh, which reads the output.
local stage = require "stage"

local N = 300

local Printer = stage.actor "Printer"
function Printer:run(tag)
  for i = 1, N do
    if i % 3 == 0 then
      stage.stdout:print(tag, i)              -- the environment actor
    elseif i % 3 == 1 then
      print(tag, i)                           -- print goes through it
    else
      stage.stdout:write(tag .. "\t" .. i .. "\n")
    end
  end
  return true
end

function main(args)
  local fs = {}
  for k = 1, 4 do
    fs[k] = Printer:spawn_at(k % stage.theatres()):run("p" .. k)
  end
  for i = 1, N do print("main", i) end
  stage.join(fs):await()
  stage.stdout:write("a", "b")   -- pieces of one line
  stage.stdout:write("c\n")
  print(1, 2.5, true, nil, "x")  -- print's own formatting
  print("ok")
end
