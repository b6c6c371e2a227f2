-- tests/unit/lpattern.lua: the differential fuzz of test_lpattern.c.
-- ORIG holds Lua's string.find, match, gmatch and gsub, NEW lpattern.c's;
-- set_every(n) makes NEW yield every n steps wherever it can (0: never).
-- fuzz(seed, cases) runs random patterns and subjects over a small
-- alphabet through both, directly and (NEW) inside a coroutine that is
-- resumed after each of its many yields, and returns the number of
-- mismatches, the first one described, and how many yields it saw.

local function pick(t) return t[math.random(#t)] end

local ATOMS = {
  "a", "b", "c", ".", "%a", "%d", "%s", "%w", "%A", "%S", "%%", "%(", "%.",
  "[ab]", "[^a]", "[a-c]", "[%a-]", "[]]", "[^]a]", "[a-]", "[%]]",
  "%b()", "%bab", "%f[a]", "%f[%s]", "%f[^a]", "%1", "%2",
  "(", ")", "()", "(a)", "(.-)", "(%a+)",
}
-- pieces that are often malformed where they stand
local BAD = {"%", "[", "[a", "%b", "%ba", "%f", "%fa", ")", "%9", "%0",
  "(", "[^", "[%"}
local SUFFIX = {"", "", "", "*", "+", "-", "?"}
local SUBJECT = {"a", "a", "b", "c", " ", "(", ")", "1", "]", "%", "."}

local function pattern()
  local out = {}
  if math.random(4) == 1 then out[#out + 1] = "^" end
  for _ = 1, math.random(0, 6) do
    local atom = math.random(12) == 1 and pick(BAD) or pick(ATOMS)
    out[#out + 1] = atom
    if #atom == 1 or atom:sub(1, 1) == "%" and #atom == 2 or
        atom:sub(1, 1) == "[" then
      out[#out + 1] = pick(SUFFIX)
    end
  end
  if math.random(4) == 1 then out[#out + 1] = "$" end
  return table.concat(out)
end

local function subject()
  local out = {}
  for i = 1, math.random(0, 12) do out[i] = pick(SUBJECT) end
  return table.concat(out)
end

local INITS = {nil, 1, 2, 0, -1, -3, 5, 20, -20}

-- A replacement for gsub, the same for both sides: a string with
-- captures, a table, or a function that logs its calls into log.
local function replacement(log)
  local k = math.random(6)
  if k == 1 then return pick({"x", "%0", "<%1>", "%2%1", "%%", "%", "%a", 7})
  elseif k == 2 then return {a = "A", b = false, ["("] = 1, c = {}}
  elseif k == 3 then return nil
  else
    local r = math.random(5)
    return function(...)
      log[#log + 1] = table.concat({tostring(select("#", ...)),
        tostring((...)), tostring((select(2, ...)))}, ",")
      if r == 1 then return nil elseif r == 2 then return false
      elseif r == 3 then return 42 elseif r == 4 then return {} end
      return "<" .. tostring((...)) .. ">"
    end
  end
end

-- What a call gives, as text: its results or its error (the function's
-- name in "bad argument" messages differs: ORIG's is 'string.find').
local function show(ok, ...)
  local out = {ok and "ok" or "error"}
  for i = 1, select("#", ...) do
    local v = select(i, ...)
    local t = type(v)
    if t == "string" then out[#out + 1] = string.format("%q", v)
    elseif t == "number" then out[#out + 1] = math.type(v) .. ":" .. v
    elseif t == "nil" or t == "boolean" then out[#out + 1] = tostring(v)
    else out[#out + 1] = t end
  end
  local text = table.concat(out, " ")
  return (ORIG.gsub(text, "to '[^']*'", "to '?'"))
end

local function gmatch_all(gmatch, s, p, init)
  local it = gmatch(s, p, init)
  local out = {}
  for _ = 1, 50 do
    local r = table.pack(it())
    if r[1] == nil then break end
    for i = 1, r.n do out[#out + 1] = tostring(r[i]) end
    out[#out + 1] = "|"
  end
  return table.concat(out, " ")
end

-- The four calls of one case on side F (ORIG or NEW), as text.
local function calls(F, s, p, init, repl, max, log)
  return {
    show(pcall(F.find, s, p, init)),
    show(pcall(F.find, s, p, init, true)),
    show(pcall(F.match, s, p, init)),
    show(pcall(gmatch_all, F.gmatch, s, p, init)),
    show(pcall(F.gsub, s, p, repl, max)),
    table.concat(log, ";"),
  }
end

local yields = 0

-- calls(NEW, ...) in a coroutine, resumed until it is done.
local function calls_yielding(s, p, init, repl, max, log)
  local co = coroutine.create(calls)
  local ok, r = coroutine.resume(co, NEW, s, p, init, repl, max, log)
  while coroutine.status(co) == "suspended" do
    yields = yields + 1
    ok, r = coroutine.resume(co)
  end
  assert(ok, r)
  return r
end

local function describe(s, p, init, repl, max, a, b)
  for i = 1, #a do
    if a[i] ~= b[i] then
      return string.format("subject %q pattern %q init %s repl %s max %s: "
        .. "call %d: Lua gives %s, lpattern %s", s, p, tostring(init),
        type(repl) == "string" and string.format("%q", repl) or type(repl),
        tostring(max), i, a[i], b[i])
    end
  end
end

function fuzz(seed, cases)
  math.randomseed(seed)
  local bad, first = 0, nil
  yields = 0
  for _ = 1, cases do
    local s, p = subject(), pattern()
    local init = INITS[math.random(#INITS)]
    local max = pick({false, false, false, 0, 1, 2, -1}) or nil
    local rseed = math.random(1 << 30)
    math.randomseed(rseed)
    local la = {}
    local a = calls(ORIG, s, p, init, replacement(la), max, la)
    math.randomseed(rseed)
    local lb = {}
    local repl = replacement(lb)
    set_every(0)
    local b = calls(NEW, s, p, init, repl, max, lb)
    math.randomseed(rseed)
    local lc = {}
    repl = replacement(lc)
    set_every(math.random(1, 7))
    local c = calls_yielding(s, p, init, repl, max, lc)
    set_every(0)
    math.randomseed(rseed + 1)
    local d = describe(s, p, init, repl, max, a, b) or
      describe(s, p, init, repl, max, a, c)
    if d then
      bad = bad + 1
      first = first or d
    end
  end
  return bad, first, yields
end

-- Cases picked by hand: the depth where "pattern too complex" starts,
-- the capture limit, long subjects, every error message; yielding every
-- 1 and 3 steps too if yielding (a boolean).
function fixed(yielding)
  local cases = {}
  for n = 195, 202 do
    cases[#cases + 1] = {("a"):rep(260), ("a?"):rep(n)}
    cases[#cases + 1] = {("a"):rep(260), ("a-"):rep(n)}
    cases[#cases + 1] = {("a"):rep(260), ("a*"):rep(n) .. "$"}
    cases[#cases + 1] = {"b", ("a-"):rep(n) .. "b"}
    cases[#cases + 1] = {("a"):rep(260), ("(a)"):rep(n // 10)}
    cases[#cases + 1] = {("ab"):rep(100), ("()a"):rep(n // 6)}
  end
  -- %b and repetitions over more than one step's characters
  local nested = "(" .. ("(x)"):rep(300) .. ")"
  for _, c in ipairs({{"z" .. nested .. "tail", "%b()t"},
      {nested .. nested, "%b()$"}, {nested .. "(", "^%b()"},
      {("a"):rep(1000) .. "b", "a*b"}, {("ab"):rep(700) .. "c", "[ab]+c"},
      {("ab"):rep(700) .. "c", "[ab]-c"}, {("a"):rep(900), "a+$"},
      {("a"):rep(100) .. "c" .. ("a"):rep(300), "^a*"}}) do
    cases[#cases + 1] = c
  end
  local long = ("ab"):rep(3000) .. "c"
  for _, p in ipairs({"(.-)c", ".*c", "a.-b.-c", "%bac", "(b+)", "%f[c]",
      "((a)(b))+c", "[%a]*c", "^(ab)*c$", "(ab)%1", "x", "", "ab"}) do
    cases[#cases + 1] = {long, p}
  end
  for _, p in ipairs({"%", "[a", "[]", "[^]", "%b", "%ba", "%f", "%fa",
      "(", ")", "%1", "(a%1)", "(()%1)", "%0", "a)", "(a", "[%", "%g%"}) do
    cases[#cases + 1] = {"aaa", p}
  end
  local bad, first = 0, nil
  for _, c in ipairs(cases) do
    for _, every in ipairs(yielding and {0, 1, 3} or {0}) do
      for _, repl in ipairs({"<%0>", "%1", {a = 1}}) do
        set_every(0)
        local a = calls(ORIG, c[1], c[2], nil, repl, nil, {})
        local b = every == 0 and calls(NEW, c[1], c[2], nil, repl, nil, {})
        if every > 0 then
          set_every(every)
          b = calls_yielding(c[1], c[2], nil, repl, nil, {})
          set_every(0)
        end
        local d = describe(c[1], c[2], nil, repl, nil, a, b)
        if d then
          bad = bad + 1
          first = first or d
        end
      end
    end
  end
  return bad, first
end
