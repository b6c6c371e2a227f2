-- Messages name their method by its bytes: each goes to the handler of
-- that name, whatever came before — one method over and over, two in
-- turn, names of one length, names of every length (a theatre keeps the last name each type
-- received as a Lua string: lactor.c, push_method), a name that is a
-- prefix of another, a method the type does not have, inherited ones.
local stage = require "stage"

local LONG = "a_method_name_well_past_twenty_three_bytes"

local Base = stage.actor "Base"
function Base:inherited() return "inherited" end

local Echo = stage.actor("Echo", {is = Base})
function Echo:a() return "a" end
function Echo:ab() return "ab" end
function Echo:ba() return "ba" end
function Echo:abc(x) return "abc" .. x end
Echo[LONG] = function() return "long" end
Echo[LONG .. "2"] = function() return "long2" end

function main()
  local e = Echo()
  local other = Echo()
  local plan = {
    {"a"}, {"a"}, {"a"}, {"ab"}, {"ba"}, {"ab"}, {"a"}, {"abc", 1}, {"ab"}, {"abc", 2},
    {LONG}, {LONG .. "2"}, {LONG}, {"inherited"}, {"a"}, {"inherited"},
  }
  for round = 1, 3 do
    for _, step in ipairs(plan) do
      local want = step[1] == LONG and "long"
        or step[1] == LONG .. "2" and "long2"
        or step[1] == "abc" and "abc" .. step[2]
        or step[1]
      local target = round == 2 and other or e
      local got = stage.send(target, step[1], step[2]) -- one way: no answer
      assert(got == nil)
      local f = target[step[1]](target, step[2])
      assert(f:await() == want, step[1] .. ": got " .. tostring(f:await()))
    end
  end
  local ok, err = pcall(function() return e:nosuch():await() end)
  assert(not ok and tostring(err):find("has no method 'nosuch'", 1, true),
    tostring(err))
  ok, err = pcall(function() return e:ab_():await() end)
  assert(not ok and tostring(err):find("has no method 'ab_'", 1, true),
    tostring(err))
  assert(e:a():await() == "a")
  print("ok")
end
