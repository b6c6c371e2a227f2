-- settled(name): waits (at most 10 s) until name is found and answers
-- square(1): the node that names it may still be starting. Loaded with
-- dofile.
local stage = require "stage"
return function(name)
  local deadline = stage.now() + 10
  repeat
    local ok = pcall(function()
      return stage.find_name(name):square(1):await()
    end)
    if ok then return end
    stage.sleep(0.1):await()
  until stage.now() > deadline
  error("name '" .. name .. "' never became visible")
end
