-- The limits docs/lua-api.md lists ("Limits"), on one node: 32 levels of
-- tables in a message, 250 arguments, 64 MiB for an encoded message or
-- reply; each with the error it names. (Between nodes: cluster.basic.)
local stage = require "stage"

local Echo = stage.actor "Echo"
function Echo:take(...) return select("#", ...) end
function Echo:deep(levels) -- a reply nested that deep
  local t = {}
  local c = t
  for _ = 2, levels do c[1] = {}; c = c[1] end
  return t
end
function Echo:big(bytes) return string.rep("x", bytes) end

local function nest(levels) return Echo.deep(nil, levels) end

-- f must raise an error whose text holds want; returns the error.
local function raises(want, f)
  local ok, err = pcall(f)
  assert(not ok, "no error; wanted '" .. want .. "'")
  assert(tostring(err):find(want, 1, true),
         "'" .. tostring(err) .. "' lacks '" .. want .. "'")
  return err
end

function main(args)
  local e = Echo()
  -- nesting: 32 levels go, 33 do not
  assert(e:take(nest(32)):await() == 1)
  raises("cannot send 'take': argument 1: index 1[1]", function()
    return e:take(nest(33))
  end)
  raises("tables nested deeper than 32", function() return e:take(nest(33)) end)
  local err = raises("NotSendable: cannot send the reply", function()
    return e:deep(33):await()
  end)
  assert(err.type == "NotSendable")
  assert(#e:deep(32):await() == 1)
  -- arguments: 250 go, 251 do not
  local many = {}
  for i = 1, 251 do many[i] = i end
  assert(e:take(table.unpack(many, 1, 250)):await() == 250)
  raises("too many arguments (251, at most 250)", function()
    return e:take(table.unpack(many, 1, 251))
  end)
  -- 64 MiB for a message or a reply, encoded
  raises("value too large (over 67108864 bytes)", function()
    return e:take(string.rep("x", 64 * 1024 * 1024 + 1))
  end)
  collectgarbage()
  err = raises("value too large (over 67108864 bytes)", function()
    return e:big(64 * 1024 * 1024 + 1):await()
  end)
  assert(err.type == "NotSendable")
  collectgarbage()
  assert(#e:big(9 * 1024 * 1024):await() == 9 * 1024 * 1024) -- fine here
  print("ok")
end
