-- Token-passing and join continuations, after the SALSA slides 19-23:
--
--   a1 <- m1() @ a2 <- m2(token)         token passing: send m2 once m1 is
--                                        done, with m1's result as token
--   join(actors <- find(phrase)) @ resultActor <- output(token)
--                                        join: once every find is done,
--                                        send the list of results on
--   join(a1 <- m1(), a2 <- m2(), a3 <- m3()) @ cust <- n(token)
--                                        acknowledged multicast
--   first-class continuation            a handler hands its reply to
--                                        another actor (delegation)
--
-- In Stage, '@' is next() on a future, or simply passing the future as an
-- argument (promise pipelining); join is stage.join{...}; delegation is a
-- handler returning a future. Run: stage run examples/continuations.lua
local stage = require "stage"

-- Token passing ----------------------------------------------------------
local A1 = stage.actor "A1"
function A1:m1() return 21 end

local A2 = stage.actor "A2"
function A2:m2(token) return "m2 got " .. token * 2 end

-- Join ---------------------------------------------------------------------
local Searcher = stage.actor "Searcher"
function Searcher:birth(docs) self.docs = docs end
function Searcher:find(phrase)
  local hits = {}
  for _, doc in ipairs(self.docs) do
    if doc:find(phrase, 1, true) then hits[#hits + 1] = doc end
  end
  return hits
end

local Result = stage.actor "Result"
function Result:output(token)
  local lines = {}
  for i, hits in ipairs(token) do
    lines[i] = "searcher " .. (i - 1) .. ": " .. #hits .. " hit(s)" ..
               (#hits > 0 and " (" .. table.concat(hits, "; ") .. ")" or "")
  end
  return table.concat(lines, "\n")
end

-- Acknowledged multicast ---------------------------------------------------
local Member = stage.actor "Member"
function Member:birth(name) self.name = name end
function Member:notify(msg) self.last = msg; return self.name .. " ack" end

local Customer = stage.actor "Customer"
function Customer:n(acks) return "all acknowledged: " .. table.concat(acks, ", ") end

-- First-class continuation -------------------------------------------------
local Expert = stage.actor "Expert"
function Expert:answer(q) return "42 is the answer to '" .. q .. "'" end

local Desk = stage.actor "Desk"
function Desk:birth(expert) self.expert = expert end
-- The desk does not know; its caller gets the expert's reply directly,
-- and the desk is free for other messages meanwhile.
function Desk:ask(q) return self.expert:answer(q) end

function main(args)
  local n = stage.theatres()
  local a1, a2 = A1:spawn_at(1 % n), A2()

  -- a1 <- m1() @ a2 <- m2(token), twice
  print(a1:m1():next(function(token) return a2:m2(token) end):await())
  print(a2:m2(a1:m1()):await())                 -- the same, pipelined

  -- join(actors <- find(phrase)) @ resultActor <- output(token)
  local library = {
    {"actors send messages", "futures hold results"},
    {"a theatre runs actors", "migration moves actors"},
    {"tokens pass results on"},
    {"join waits for all", "actors join results"},
  }
  local actors = {}
  for i, docs in ipairs(library) do actors[i] = Searcher:spawn_at(i % n, docs) end
  local finds = {}
  for i, searcher in ipairs(actors) do finds[i] = searcher:find("actors") end
  local resultActor = Result()
  print(resultActor:output(stage.join(finds)):await())

  -- join(a1 <- m1(), a2 <- m2(), a3 <- m3()) @ cust <- n(token)
  local m = {Member:spawn_at(0, "m1"), Member:spawn_at(1 % n, "m2"),
             Member:spawn_at(2 % n, "m3")}
  local cust = Customer()
  local acks = stage.join{m[1]:notify("hi"), m[2]:notify("hi"),
                          m[3]:notify("hi")}
  print(acks:next(function(token) return cust:n(token) end):await())

  -- first-class continuation: delegation
  local desk = Desk(Expert:spawn_at(1 % n))
  print(desk:ask("life"):await())
end
