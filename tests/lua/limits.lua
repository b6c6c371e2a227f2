-- The limits docs/lua-api.md lists ("Limits"), on one node: 32 levels of
-- tables in a message, 250 arguments, max_message bytes for the encoded
-- arguments of a message or a spawn, or a reply (args[1]: the node's
-- --max-message, default 8387584); each with the error it names, at once,
-- and the node serving afterwards. (Between nodes: cluster.limits.)
local stage = require "stage"

local Echo = stage.actor "Echo"
function Echo:birth(...) self.born = select("#", ...) end
function Echo:take(...) return select("#", ...) end
function Echo:deep(levels) -- a reply nested that deep
  local t = {}
  local c = t
  for _ = 2, levels do c[1] = {}; c = c[1] end
  return t
end
function Echo:big(bytes) return string.rep("x", bytes) end
function Echo:shared(levels) -- a table that shares one sub-table over and over
  local t = {string.rep("y", 1000)}
  for _ = 1, levels do t = {t, t} end
  return t
end

local function nest(levels) return Echo.deep(nil, levels) end

-- f must raise an error whose text holds want; returns the error.
local function raises(want, f)
  local ok, err = pcall(f)
  assert(not ok, "no error; wanted '" .. want .. "'")
  assert(tostring(err):find(want, 1, true),
         "'" .. tostring(err) .. "' lacks '" .. want .. "'")
  return err
end

-- f's future must fail with type, at once (a lost message would show as
-- Timeout after 2 s, not as a slow test); returns the error.
local function fails_now(type, want, f)
  local t0 = stage.now()
  local ok, err = pcall(function() return f():await(2) end)
  assert(not ok, "no failure; wanted " .. type)
  assert(err.type == type, tostring(err))
  assert(err.message:find(want, 1, true),
         "'" .. tostring(err) .. "' lacks '" .. want .. "'")
  assert(stage.now() - t0 < 1, "failed after " .. (stage.now() - t0) .. " s")
  return err
end

function main(args)
  local limit = math.tointeger(tonumber(args[1] or "8387584"))
  local over = "value too large (over " .. limit .. " bytes: --max-message)"
  local e = Echo()
  -- nesting: 32 levels go, 33 do not, and 10,000 fail as quickly
  assert(e:take(nest(32)):await() == 1)
  raises("cannot send 'take': argument 1: index 1[1]", function()
    return e:take(nest(33))
  end)
  raises("tables nested deeper than 32", function() return e:take(nest(33)) end)
  raises("tables nested deeper than 32", function()
    return e:take(nest(10000))
  end)
  raises("tables nested deeper than 32", function()
    stage.send(e, "take", nest(10000))
  end)
  local err = raises("NotSendable: cannot send the reply", function()
    return e:deep(33):await()
  end)
  assert(err.type == "NotSendable")
  fails_now("NotSendable", "tables nested deeper than 32", function()
    return e:deep(10000)
  end)
  assert(#e:deep(32):await() == 1)
  -- arguments: 250 go, 251 do not
  local many = {}
  for i = 1, 251 do many[i] = i end
  assert(e:take(table.unpack(many, 1, 250)):await() == 250)
  raises("too many arguments (251, at most 250)", function()
    return e:take(table.unpack(many, 1, 251))
  end)

  -- size: the arguments [s] of a string of n bytes (n >= 65536) take
  -- 1 + 5 + n bytes, so limit - 6 goes and limit - 5 does not
  local fits, past = string.rep("x", limit - 6), string.rep("x", limit - 5)
  assert(e:take(fits):await() == 1)
  local id = tostring(e)
  -- a call: its future fails with TooLarge (nothing raised)
  err = fails_now("TooLarge", "cannot send 'take' to actor '" .. id ..
                  "': argument 1: " .. over, function() return e:take(past) end)
  -- one way: nothing to fail, so the send raises TooLarge
  err = raises(over, function() stage.send(e, "take", past) end)
  assert(err.type == "TooLarge", tostring(err))
  -- a spawn: Echo(...) raises, as it returns no future
  assert(Echo(fits):take():await() == 0)
  err = raises("cannot spawn 'Echo': argument 1: " .. over, function()
    return Echo(past)
  end)
  assert(err.type == "TooLarge", tostring(err))
  -- two arguments, each within the limit, pipelined: the message they make
  -- is too large once their futures are done
  local half = limit // 2
  local function later(n) return stage.sleep(0.01):next(function()
    return string.rep("z", n)
  end) end
  fails_now("TooLarge", "cannot send 'take' to actor '" .. id ..
            "': its arguments are " .. (2 * half + 11) .. " bytes, over " ..
            "the limit of " .. limit .. " bytes (--max-message)", function()
    return e:take(later(half), later(half))
  end)
  -- a reply: a string of limit - 5 bytes goes, limit - 4 does not
  assert(#e:big(limit - 5):await() == limit - 5)
  err = fails_now("TooLarge", "the reply of actor '" .. id .. "' is too " ..
                  "large: over the limit of " .. limit .. " bytes " ..
                  "(--max-message)", function() return e:big(limit - 4) end)
  assert(err.actor == id, tostring(err.actor))
  -- a table sharing a sub-table 2^20 times stops at the limit, at once
  fails_now("TooLarge", "is too large", function() return e:shared(20) end)
  -- and the actor and its node go on (after a whole cycle of the
  -- collector, in small steps: a full collection is not for actor code)
  repeat until collectgarbage("step")
  assert(e:take(1, 2, 3):await() == 3)
  print("ok")
end
