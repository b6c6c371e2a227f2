-- bench/failover/caller.lua NAME SECS [ID [LOOKUP]]: one caller of the
-- failover benchmark (bench/failover/run.sh). For SECS seconds it calls
-- NAME's who() every 10 ms, each call awaited (5 s at most) before the
-- next: through one reference from find_name (LOOKUP "ref", the default),
-- or through a find_name made for each call (LOOKUP "find": what a
-- client without a reference of its own does). Whenever the answering actor
-- changes (its tag), it prints one JSON line for that switch: the calls
-- that failed since the last answer of the old actor, the time from that
-- answer to the first of the new one (outage_ms), and the first answer's
-- time (t_new, stage.now(): the monotonic clock every process of the
-- machine shares), the failures' types and the first one's message;
-- failures the same actor answered after get a line of switch 0. "done
-- ID" at the end.
local stage = require "stage"

function main(args)
  local name, secs, id = args[1], tonumber(args[2]), args[3] or "1"
  local each = (args[4] or "ref") == "find"
  local ref = stage.find_name(name)
  local deadline = stage.now() + secs
  local tag, t_last, failed, errors, first = nil, nil, 0, {}, nil
  local n = 0
  while stage.now() < deadline do
    if each then ref = stage.find_name(name) end
    local ok, r = pcall(function() return ref:who():await(5) end)
    local t = stage.now()
    if ok then
      if tag and (r ~= tag or failed > 0) then
        -- switch 0: calls failed while the same actor went on answering
        if r ~= tag then n = n + 1 end
        print(string.format('{"caller":"%s","switch":%d,"failures":%d,'
          .. '"outage_ms":%.1f,"t_new":%.6f,"errors":"%s","first":"%s"}',
          id, r ~= tag and n or 0, failed, (t - t_last) * 1000, t,
          table.concat(errors, ","), first or ""))
      end
      tag, t_last, failed, errors, first = r, t, 0, {}, nil
    elseif tag then -- failures before the first answer are start-up
      failed = failed + 1
      errors[#errors + 1] = type(r) == "table" and r.type or tostring(r)
      first = first or (type(r) == "table" and r.message or tostring(r))
        :gsub('[%c"\\]', " ")
    end
    stage.sleep(0.01):await()
  end
  print("done " .. id)
  stage.exit(0)
end
