-- bench/lua/patterns.lua: the cost of common pattern calls, to compare
-- Stage's preemptible string.find, match, gmatch and gsub (lua/lpattern.c)
-- with Lua's own. Run it both ways on the same machine, in turn:
--   stage run --budget 600 bench/lua/patterns.lua  (lpattern.c)
--   lua5.4 bench/lua/patterns.lua                   (Lua's lstrlib.c)
-- Prints nanoseconds per call for each case (lower is better); an
-- optional argument scales the time spent per case (default 1: ~0.3 s).
-- The first case is no pattern function: what a call costs in each
-- (stage runs Lua from the shared library, in a handler's coroutine).

local CASES = {
  {"s:byte(1) (no pattern: baseline)", function(s) return s:byte(1) end,
    "hello"},
  {"plain find, short", function(s) return s:find("line") end,
    "hello world, this is a line"},
  {"plain find, 1 KB, plain=true", function(s) return s:find("needle", 1,
    true) end, ("hay "):rep(250) .. "needle"},
  {"find %d+", function(s) return s:find("%d+") end, "abc def 12345 ghi"},
  {"match key = value", function(s)
    return s:match("^(%w+)%s*=%s*(%w+)$") end, "key = value"},
  {"match anchored miss", function(s) return s:match("^#") end,
    "not a comment line"},
  {"gmatch words (12)", function(s)
    local n = 0
    for _ in s:gmatch("%a+") do n = n + 1 end
    return n
  end, "the quick brown fox jumps over the lazy dog and runs far away"},
  {"gsub string", function(s) return s:gsub("o", "0") end, "hello world"},
  {"gsub %w+ function", function(s)
    return s:gsub("%w+", string.upper) end, "hello big world"},
  {"gsub trim", function(s) return s:gsub("^%s+", "") end,
    "   padded text"},
  {"gsub %%1 captures", function(s)
    return s:gsub("(%w+)=(%w+)", "%2=%1") end, "a=1, b=2, c=3"},
  {"match .* over 1 KB", function(s) return s:match(".*y") end,
    ("x"):rep(1000)},
  {"find (.-)(.-)(.-)b, 30 a", function(s)
    return s:find("(.-)(.-)(.-)b") end, ("a"):rep(30)},
}

local function bench(name, f, arg, scale)
  local n, t = 1, 0
  while true do -- grow n until a run takes 50 ms
    local t0 = os.clock()
    for _ = 1, n do f(arg) end
    t = os.clock() - t0
    if t > 0.05 then break end
    n = n * 4
  end
  local runs, best = math.max(1, math.floor(5 * scale)), t
  for _ = 2, runs do -- the best of several: the CPU is shared
    local t0 = os.clock()
    for _ = 1, n do f(arg) end
    best = math.min(best, os.clock() - t0)
  end
  print(string.format("%-32s %10.1f ns", name, best / n * 1e9))
end

function main(args)
  local scale = tonumber(args and args[1]) or 1
  for _, c in ipairs(CASES) do bench(c[1], c[2], c[3], scale) end
end

if package then main({...}) end -- plain Lua: stage run calls main itself
