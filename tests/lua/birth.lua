-- birth(...) runs first with the spawn arguments (nil holes, tables,
-- references; also across theatres); stage.stop() stops the actor after
-- its turn, and a later message to it fails with ActorNotFound.
local stage = require "stage"

local Thing = stage.actor "Thing"
function Thing:birth(name, opts, friend, ...)
  self.name, self.opts, self.friend = name, opts, friend
  self.extra = {n = select("#", ...), ...}
end
function Thing:describe()
  return {name = self.name, size = self.opts.size, extra = self.extra,
          friend = self.friend}
end
function Thing:quit()
  stage.stop()
  return "stopping " .. self.name
end
function Thing:still_here() return "yes" end

function main(args)
  local me = stage.self()
  local a = Thing("a", {size = 3}, me, nil, "x")
  local d = a:describe():await()
  assert(d.name == "a" and d.size == 3 and d.friend == me)
  assert(d.extra.n == 2 and d.extra[1] == nil and d.extra[2] == "x")
  local b = Thing:spawn_at(stage.theatres() - 1, "b", {size = 4})
  assert(b:describe():await().size == 4)
  -- :spawn is the same as calling the class
  assert(Thing:spawn("c", {size = 5}):describe():await().name == "c")
  -- birth runs before any message, even one sent at once
  assert(Thing("e", {size = 6}):describe():await().size == 6)

  -- the stopping turn still answers; later messages fail
  local last = a:still_here()
  assert(a:quit():await() == "stopping a")
  assert(last:await() == "yes")
  local ok, err = pcall(function() return a:describe():await() end)
  assert(not ok and type(err) == "table", tostring(err))
  assert(err.type == "ActorNotFound", tostring(err))
  assert(tostring(err):find(tostring(a), 1, true), tostring(err))
  -- the others are alive
  assert(b:describe():await().name == "b")
  print("ok")
end
