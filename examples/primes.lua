-- A prime filter over a list: the sieve of Eratosthenes as a chain of
-- actors, a classic actor program (Hoare's CSP sieve, SALSA's and Erlang's
-- examples). Each Filter holds one prime and passes on the numbers it does
-- not divide; the first number to reach the end of the chain is a new
-- prime and gets a new Filter. The filters are spread over the theatres:
-- the numbers stream through the chain in parallel, and since messages
-- between two actors keep their order, the result is the same every run.
-- Run: stage run examples/primes.lua [N]   (primes up to N, default 100)
local stage = require "stage"

local Filter = stage.actor "Filter"

function Filter:birth(prime) self.prime = prime end

function Filter:sift(n)
  if n % self.prime == 0 then return end
  if self.next then
    self.next:sift(n)
  else
    -- n passed every filter before this one: it is prime
    self.next = Filter:spawn_at((stage.theatre() + 1) % stage.theatres(), n)
  end
end

-- Sent after the numbers: it arrives after all of them, at every filter,
-- so the list is complete. Each filter adds its prime and delegates the
-- rest of the list to the next one.
function Filter:collect(primes)
  primes[#primes + 1] = self.prime
  if self.next then return self.next:collect(primes) end
  return primes
end

function main(args)
  local limit = math.tointeger(tonumber(args[1] or "100"))
  if not limit or limit < 2 then
    error("usage: stage run primes.lua [N], N an integer of at least 2")
  end
  local first = Filter(2)
  for n = 3, limit do first:sift(n) end
  local primes = first:collect({}):await()
  print(#primes .. " primes up to " .. limit .. ":")
  print(table.concat(primes, " "))
end
