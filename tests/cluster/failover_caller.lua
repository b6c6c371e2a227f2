-- A caller of cluster.failover: calls NAME's who() (args[1]) through one
-- reference from find_name, every 10 ms, each call awaited, and tells
-- NAME_control it is ready once served. Each time another actor answers
-- (a switch), the calls that failed since the old one's last answer must
-- be at most one; it prints "switch N failures F". After SWITCHES
-- (args[3]) switches it prints "replaced ID" (args[2]); the next switch is
-- the node's restart: then find_type("Svc") must give the new actor too,
-- and it prints "restarted ID". Its node stays (the test stops it): one
-- leaving the ring meanwhile would move the name's range under the others.
local stage = require "stage"

function main(args)
  local name, id, switches = args[1], args[2], tonumber(args[3])
  local ref = stage.find_name(name)
  local deadline = stage.now() + 60
  local tag, failed, n, first = nil, 0, 0, nil
  while stage.now() < deadline do
    local ok, r = pcall(function() return ref:who():await(10) end)
    if ok and tag == nil then
      print("serving " .. id)
      stage.send(stage.find_name(name .. "_control"), "ready")
    elseif ok and r ~= tag then
      n = n + 1
      print(string.format("switch %d failures %d%s", n, failed,
                          first and " first " .. tostring(first) or ""))
      assert(failed <= 1, string.format("%d calls failed at switch %d, the "
        .. "first: %s", failed, n, tostring(first)))
      if n == switches then print("replaced " .. id) end
      if n == switches + 1 then
        -- the restarted node's type entry: the old run's went when it was
        -- declared dead, and the new run's registration is not awaited by
        -- its spawn: find_type sees it within moments, and it is the new
        -- actor
        local deadline, found, err = stage.now() + 10
        repeat
          found, err = pcall(function()
            return stage.find_type("Svc"):who():await(10)
          end)
          if not found then stage.sleep(0.05):await() end
        until found or stage.now() > deadline
        assert(found, tostring(err))
        assert(err == r, "find_type found another Svc: " .. tostring(err))
        print("restarted " .. id)
        return
      end
    elseif not ok and tag ~= nil then
      failed = failed + 1
      first = first or r
    end
    if ok then tag, failed, first = r, 0, nil end
    stage.sleep(0.01):await()
  end
  error(string.format("caller %s saw %d switches of %d in 60 s", id, n,
                      switches + 1))
end
