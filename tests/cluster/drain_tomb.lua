-- The actor of cluster.drain_tomb and its roles (args[1]):
--   idle         the node the actor passes through, drained later
--   home ADDR    spawn a Blob here, move it to node ADDR and back (so
--                that node keeps a tomb of it: the id it had there), put
--                1 through that id; print "left ID" (the id there)
--   later ID     a node started after that node drained and left: send
--                through ID, then call through it: the put arrives, in
--                order, at the actor on its home node; then stop the
--                actor; print "ok" and where it was
--   gone ID      a node started after that: the store no longer leads ID
--                anywhere (its home removed the entry as the actor
--                stopped), so the message fails as one to a node that
--                is not there (NodeUnreachable), not at the home
--                (ActorNotFound): print "gone" and the failure
local stage = require "stage"

local Blob = stage.actor "Blob"
function Blob:birth() self.seen = {} end
function Blob:put(v) self.seen[#self.seen + 1] = v; return v end
function Blob:seen_list() return self.seen end
function Blob:where() return tostring(stage.self()) end
function Blob:quit() stage.stop() end

function main(args)
  if args[1] == "home" then
    local b = Blob()
    local here = tostring(b):match("^(.-)~")
    local there = stage.migrate(b, args[2]):await(10)
    stage.migrate(b, here):await(10)
    assert(there:put(1):await(10) == 1) -- through the tomb, home
    print("left " .. tostring(there))
  elseif args[1] == "later" then
    local ref = stage.ref(args[2])
    stage.send(ref, "put", 2)
    assert(ref:put(3):await(10) == 3)
    local seen = ref:seen_list():await(10)
    assert(#seen == 3 and seen[1] == 1 and seen[2] == 2 and seen[3] == 3,
           "seen " .. table.concat(seen, ","))
    local where = ref:where():await(10)
    ref:quit():await(10)
    print("ok " .. where)
    stage.exit(0)
  elseif args[1] == "gone" then
    local ok, err = pcall(function()
      return stage.ref(args[2]):put(4):await(10)
    end)
    assert(not ok and err.type == "NodeUnreachable", tostring(err))
    print("gone " .. err.message)
    stage.exit(0)
  end
end
