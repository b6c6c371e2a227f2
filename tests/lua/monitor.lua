-- stage.monitor(ref, fn) on actors of this node: fn(reason, err) runs
-- once, as a turn of the monitoring actor, when the actor stops by itself
-- ("normal"), is stopped by stage.stop(ref) ("normal"), fails in birth
-- (the failure's type, err the error object), or at once when it is not
-- there ("ActorNotFound"); across theatres too. cancel() keeps fn from
-- running, even when the DOWN is already queued; an actor that stops
-- drops its monitors; fn runs between the watcher's handlers, never
-- during one, and the DOWN follows the messages the target sent first.
local stage = require "stage"

local Mortal = stage.actor "Mortal"
function Mortal:birth(fail)
  if fail == "error" then error("cannot start") end
  if fail == "typed" then stage.find_name("no such name"):hello():await() end
end
function Mortal:quit() stage.stop() end
function Mortal:ping() return "pong" end
function Mortal:tell(who, what) stage.send(who, "note", what) end
function Mortal:tell_and_quit(who, what)
  stage.send(who, "note", what)
  stage.stop()
end

-- A watcher records what its monitors report, in order, with the notes it
-- is sent: each entry is "<label> <reason>" or "note <text>".
local Watcher = stage.actor "Watcher"
function Watcher:birth() self.log, self.handles, self.errs = {}, {}, {} end
function Watcher:watch(label, ref)
  self.handles[label] = stage.monitor(ref, function(reason, err)
    assert(stage.self() == self.me, "fn runs as a turn of the watcher")
    self.log[#self.log + 1] = label .. " " .. reason
    self.errs[label] = err
  end)
  return true
end
function Watcher:spawn_watch(label, fail)
  -- here, and kept here (spawn_at: not given to an idle theatre before
  -- its birth), so its birth runs after this handler
  local r = Mortal:spawn_at(stage.theatre(), fail)
  self:watch(label, r)
  return r
end
function Watcher:watch_name(label, name)
  return self:watch(label, stage.find_name(name))
end
function Watcher:set_me() self.me = stage.self() end
function Watcher:cancel(label) self.handles[label]:cancel() end
function Watcher:note(what) self.log[#self.log + 1] = "note " .. what end
function Watcher:log_text() return table.concat(self.log, ",") end
function Watcher:err(label)
  local e = self.errs[label]
  return e and {type = e.type, message = e.message, actor = e.actor,
                text = tostring(e)}
end
function Watcher:quit_then_cancel(label, target)
  target:quit():await()
  self.handles[label]:cancel()
end
function Watcher:quit() stage.stop() end

-- Wait until w's log is `want` (10 s at most).
local function expect(w, want)
  local deadline = stage.now() + 10
  local got = w:log_text():await()
  while got ~= want and stage.now() < deadline do
    stage.sleep(0.01):await()
    got = w:log_text():await()
  end
  assert(got == want, "log: want '" .. want .. "', got '" .. got .. "'")
end

function main()
  local w = Watcher:spawn_at(stage.theatres() - 1) -- across theatres
  w:set_me():await()

  -- an actor that stops itself
  local a = Mortal()
  w:watch("a", a):await()
  a:quit():await()
  expect(w, "a normal")
  assert(w:err("a"):await() == nil, "no error for a normal stop")

  -- stopped by another actor
  local b = Mortal:spawn_at(stage.theatres() - 1)
  w:watch("b", b):await()
  stage.stop(b):await()
  expect(w, "a normal,b normal")

  -- birth fails: the actor stops and fn gets the failure (the watcher
  -- spawns it on its own theatre and monitors it before its birth can run:
  -- a monitor that reaches an actor already gone says ActorNotFound)
  local c = w:spawn_watch("c", "error"):await()
  expect(w, "a normal,b normal,c HandlerError")
  local err = w:err("c"):await()
  assert(err.type == "HandlerError", err.type)
  assert(err.message:find("cannot start", 1, true), err.message)
  assert(err.actor == tostring(c), tostring(err.actor))
  assert(err.text:find("^HandlerError: "), err.text)
  -- and it no longer takes messages
  local ok, e = pcall(function() return c:ping():await() end)
  assert(not ok and e.type == "ActorNotFound", tostring(e))

  -- a typed failure in birth keeps its type
  w:spawn_watch("d", "typed"):await()
  expect(w, "a normal,b normal,c HandlerError,d NameNotFound")

  -- monitoring an actor that has stopped: at once, ActorNotFound
  w:watch("a2", a):await()
  expect(w, "a normal,b normal,c HandlerError,d NameNotFound,a2 ActorNotFound")
  assert(w:err("a2"):await().message:find(tostring(a), 1, true))

  -- the DOWN comes after the messages the actor sent before it stopped
  local f = Mortal()
  w:watch("f", f):await()
  f:tell(w, "one"):await()
  f:tell_and_quit(w, "two")
  expect(w, "a normal,b normal,c HandlerError,d NameNotFound,a2 ActorNotFound"
            .. ",note one,note two,f normal")

  -- cancel: fn never runs, not even with its DOWN already queued in the
  -- watcher's mailbox (h lives on the watcher's theatre: its DOWN is
  -- queued while the watcher awaits its reply, before it cancels)
  local g = Mortal()
  local h = Mortal:spawn_at(stage.theatres() - 1)
  w:watch("g", g):await()
  w:watch("h", h):await()
  w:cancel("g"):await()
  g:quit():await()
  w:quit_then_cancel("h", h):await()
  w:note("end"):await()
  expect(w, "a normal,b normal,c HandlerError,d NameNotFound,a2 ActorNotFound"
            .. ",note one,note two,f normal,note end")

  -- two monitors of one actor both fire; cancelling a monitor that has
  -- fired is harmless
  local k = Mortal()
  local w2 = Watcher()
  w2:set_me():await()
  w2:watch("k1", k):await()
  w2:watch("k2", k):await()
  stage.stop(k):await()
  local deadline = stage.now() + 10
  local got = w2:log_text():await()
  while got ~= "k1 normal,k2 normal" and got ~= "k2 normal,k1 normal"
        and stage.now() < deadline do
    stage.sleep(0.01):await()
    got = w2:log_text():await()
  end
  assert(got == "k1 normal,k2 normal" or got == "k2 normal,k1 normal", got)
  w2:cancel("k1"):await()

  -- through a far reference: the actor its lookup finds; a failed lookup
  -- is the reason
  local n = Mortal()
  stage.name("mortal-n", n):await()
  w2:watch_name("n", "mortal-n"):await()
  w2:watch_name("x", "no such name"):await()
  n:quit():await()
  deadline = stage.now() + 10
  repeat
    got = w2:log_text():await()
    if not (got:find("n normal", 1, true) and got:find("x NameNotFound", 1,
                                                        true)) then
      stage.sleep(0.01):await()
    end
  until (got:find("n normal", 1, true) and got:find("x NameNotFound", 1, true))
        or stage.now() > deadline
  assert(got:find(",n normal", 1, true) and got:find(",x NameNotFound", 1,
                                                     true), got)

  -- a watcher that stops first drops its monitors; the actor it watched
  -- stops later with nobody to tell
  local m = Mortal()
  local w3 = Watcher()
  w3:watch("m", m):await()
  w3:quit():await()
  m:quit():await()
  local ok2, e2 = pcall(function() return w3:log_text():await() end)
  assert(not ok2 and e2.type == "ActorNotFound", tostring(e2))

  -- bad arguments, and watches of nodes on a node without a network
  assert(not pcall(stage.monitor, 42, function() end))
  assert(not pcall(stage.monitor, m))
  local up = stage.on_node_up(function() error("no node comes up") end)
  local down = stage.on_node_down(function() error("no node goes down") end)
  up:cancel()
  down:cancel()
  down:cancel()
  print("ok")
end
