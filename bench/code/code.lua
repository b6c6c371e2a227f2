-- bench/code/code.lua: the first spawn of a type on a node that has no
-- code for it (fetch from the sources store + load in every theatre)
-- against a spawn of a type it has (issue 12, "Measured").
--   ADDR_W ADDR_B N   W and B were started with no script. A Worker is
--                     spawned on W first (this node stores the code), so
--                     the first spawn on B is B's fetch and load only; then
--                     N more spawns on B. Each spawn is timed up to the
--                     answer of a first call. Prints two JSON result lines.
-- The script is of a usual size (a few types, helpers, a hundred lines):
-- what B fetches and runs is all of it.
local stage = require "stage"

local Worker = stage.actor "Worker"
function Worker:ping() return "pong" end
function Worker:add(a, b) return a + b end

-- some more code that comes with it, as a real program's would
local function clamp(x, lo, hi) return math.max(lo, math.min(hi, x)) end
local function mean(t)
  local s = 0
  for _, v in ipairs(t) do s = s + v end
  return #t > 0 and s / #t or 0
end

local Account = stage.actor "Account"
function Account:birth(owner) self.owner, self.balance, self.log = owner, 0, {} end
function Account:deposit(n)
  self.balance = self.balance + clamp(n, 0, 1e9)
  self.log[#self.log + 1] = {"deposit", n}
  return self.balance
end
function Account:withdraw(n)
  if n > self.balance then error("insufficient funds") end
  self.balance = self.balance - n
  self.log[#self.log + 1] = {"withdraw", n}
  return self.balance
end
function Account:history() return self.log end

local Stats = stage.actor "Stats"
function Stats:birth() self.samples = {} end
function Stats:add(x) self.samples[#self.samples + 1] = x end
function Stats:mean() return mean(self.samples) end
function Stats:max()
  local m = -math.huge
  for _, v in ipairs(self.samples) do m = math.max(m, v) end
  return m
end

local Savings = stage.actor("Savings", {is = Account})
function Savings:interest(rate)
  self.balance = self.balance * (1 + clamp(rate, 0, 1))
  return self.balance
end

local function median(t)
  table.sort(t)
  return t[(#t + 1) // 2]
end

-- µs from a spawn on addr to the answer of its first call.
local function spawn_us(addr)
  local t0 = stage.now()
  local w = Worker:spawn_at(addr)
  assert(w:ping():await() == "pong")
  return (stage.now() - t0) * 1e6
end

function main(args)
  local w_addr, b_addr, n = args[1], args[2], tonumber(args[3] or "50")
  spawn_us(w_addr) -- stores the code (and loads it on W)
  local first = spawn_us(b_addr)
  local known = {}
  for i = 1, n do known[i] = spawn_us(b_addr) end
  local k = median(known)
  print(string.format('{"bench":"code_first_spawn","impl":"lua","value":%.0f,'
    .. '"unit":"us","better":"lower","known_us":%.0f,"ratio":%.1f}',
    first, k, first / k))
  print(string.format('{"bench":"code_known_spawn","impl":"lua","value":%.0f,'
    .. '"unit":"us","better":"lower","n":%d}', k, n))
  stage.exit(0)
end
