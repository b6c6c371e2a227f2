-- The logger and the bank account of the Stage# thesis (Listings 4.8 and
-- 4.9). Any Logger will do for a bank account, as long as each transaction
-- is written somewhere: find_type("Logger") returns a random one among
-- those of every node, which also spreads the work over them.
--
--   stage node examples/nodes/bank.lua logger NAME      (a node with a Logger)
--   stage node --join ADDR examples/nodes/bank.lua account N
--       (N transfers of 1, 2, ... N from account 1001 to 2002, each logged)
local stage = require "stage"

-- Listing 4.8: Logger. The thesis writes to a file; this one prints, so
-- the lines show which node wrote them.
local Logger = stage.actor "Logger"

function Logger:birth(name) self.name = name end

function Logger:transaction(status, to, from, amount)
  print(("%s: %s %d from %d to %d"):format(self.name, status, amount, from, to))
end

local Bank = stage.actor "Bank"

function Bank:birth() self.balances = {[1001] = 1000, [2002] = 0} end

function Bank:move_money(to, from, amount)
  assert(self.balances[from] >= amount, "insufficient funds")
  self.balances[from] = self.balances[from] - amount
  self.balances[to] = self.balances[to] + amount
end

function Bank:balance(account) return self.balances[account] end

-- Listing 4.9: BankAccount. The money moves before "complete" is logged.
local BankAccount = stage.actor "BankAccount"

function BankAccount:birth(account_num, bank)
  self.account_num, self.bank = account_num, bank
end

function BankAccount:transaction(to, amount)
  local log = stage.find_type("Logger")
  local from = self.account_num
  log:transaction("start", to, from, amount)
  self.bank:move_money(to, from, amount):await()
  return log:transaction("complete", to, from, amount)
end

function main(args)
  if args[1] == "logger" then
    Logger(args[2])
    print("logger ready " .. args[2])
    return
  end
  local bank = Bank()
  local account = BankAccount(1001, bank)
  for amount = 1, tonumber(args[2]) do
    account:transaction(2002, amount):await()
  end
  print(("balances: 1001 has %d, 2002 has %d"):format(
    bank:balance(1001):await(), bank:balance(2002):await()))
  stage.exit(0)
end
