-- The actor of cluster.migrate_storm and its roles (args[1]):
--   home B C   spawn an M named "storm" that moves itself on every 20th
--              message, in turn to B, to this node and to C; prints "ready"
--   send NAME N  send it N numbered messages as NAME (every seventh a
--              call), waiting for an answer every 200 so that its mailbox,
--              which travels with it, stays small; check every answer and
--              the final count; prints "done NAME last N bad 0 moves M"
--   idle       a node it passes through
local stage = require "stage"

local M = stage.actor "M"

local function here() return (tostring(stage.self()):match("^(.-)~")) end

function M:birth() self.seen, self.n, self.bad, self.moves = {}, 0, 0, 0 end
function M:arrived() self.moves = self.moves + 1 end
function M:set(list) self.list, self.k = list, 0 end

function M:add(from, i)
  local last = self.seen[from] or 0
  if i ~= last + 1 then
    self.bad = self.bad + 1
    print("out of order from " .. from .. ": " .. i .. " after " .. last)
  end
  self.seen[from] = i
  self.n = self.n + 1
  if self.list and self.n % 20 == 0 then
    self.k = self.k % #self.list + 1
    if self.list[self.k] ~= here() then stage.migrate(self.list[self.k]) end
  end
  return i
end

function M:report(from)
  return {last = self.seen[from] or 0, bad = self.bad, moves = self.moves}
end

function main(args)
  if args[1] == "home" then
    local m = M()
    local home = tostring(m):match("^(.-)~")
    m:set({args[2], home, args[3]}):await()
    assert(stage.name("storm", m):await())
    print("ready")
  elseif args[1] == "send" then
    local me, n = args[2], tonumber(args[3])
    local m = stage.find_name("storm")
    local calls = {}
    for i = 1, n do
      if i % 7 == 0 then
        calls[#calls + 1] = {i, m:add(me, i)}
      else
        stage.send(m, "add", me, i)
      end
      if i % 200 == 0 then m:report(me):await(60) end
    end
    for _, c in ipairs(calls) do
      local v = c[2]:await(60)
      if v ~= c[1] then
        print("call " .. c[1] .. " answered " .. tostring(v))
        stage.exit(1)
      end
    end
    local r = m:report(me):await(60)
    print("done " .. me .. " last " .. r.last .. " bad " .. r.bad .. " moves "
          .. r.moves)
    stage.exit(0)
  end
end
