-- stage.send(ref, method, ...): one-way messages arrive in send order,
-- interleaved in order with ref:method() sends; no future comes back; a
-- bad method name or a non-reference is refused at once; a one-way send
-- to a stopped actor does not raise (the failure is logged).
local stage = require "stage"

local Log = stage.actor "Log"
function Log:birth() self.seen = {} end
function Log:put(i) self.seen[#self.seen + 1] = i end
function Log:all() return self.seen end

function main()
  local log = Log()
  for i = 1, 500 do
    if i % 2 == 0 then log:put(i) else
      assert(stage.send(log, "put", i) == nil, "a one-way send returns nothing")
    end
  end
  local seen = log:all():await()
  assert(#seen == 500, "got " .. #seen)
  for i = 1, 500 do assert(seen[i] == i, "out of order at " .. i) end

  assert(not pcall(stage.send, log, ""), "empty method accepted")
  assert(not pcall(stage.send, log, "_private"), "reserved method accepted")
  assert(not pcall(stage.send, "not a ref", "put"), "non-reference accepted")
  local ok, err = pcall(stage.send, log, "put", print)
  assert(not ok and tostring(err):find("argument 1"), tostring(err))

  stage.stop(log)
  stage.send(log, "put", 1) -- logged, not raised
  print("ok")
end
