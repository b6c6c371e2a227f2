-- The print queue and the word processor of the Stage# thesis (Listings
-- 4.5 and 4.6). The queue names itself "Queue" at birth, on whatever node
-- it happens to run; a word processor on any other node finds it by that
-- name and adds documents to it without knowing where it is. The lookup
-- goes through the DHT the nodes form; the reference it gives keeps the
-- actor id, so later documents go straight to the queue's node.
--
--   stage node examples/nodes/print_queue.lua queue
--       (logs "node 'ADDR' listening, ..." on stderr, then prints
--       "queue ready")
--   stage node --join ADDR examples/nodes/print_queue.lua write TEXT...
local stage = require "stage"

-- Listing 4.5: PrintQueue
local PrintQueue = stage.actor "PrintQueue"

function PrintQueue:birth()
  self.jobs = 0
  stage.name("Queue"):await()
  print("queue ready")
end

function PrintQueue:add(document)
  self.jobs = self.jobs + 1
  print(("printing job %d: %s"):format(self.jobs, document))
  return self.jobs
end

-- Listing 4.6: WordProcessor
local WordProcessor = stage.actor "WordProcessor"

function WordProcessor:print(text)
  local queue = stage.find_name("Queue")
  return queue:add(text) -- the reply is the queue's: the job number
end

function main(args)
  if args[1] == "queue" then
    PrintQueue()
    return
  end
  local wp = WordProcessor()
  for i = 2, #args do
    print(("sent '%s': job %d"):format(args[i], wp:print(args[i]):await()))
  end
  stage.exit(0)
end
