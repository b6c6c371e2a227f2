-- The Area server and client of the thesis (Listings 3.5 and 3.6), the
-- Stage version of Armstrong's Erlang area_server: an actor keeps its
-- running total in its state between messages, and each message returns
-- its answer as a future. Run: stage run examples/area.lua
local stage = require "stage"

-- Listing 3.5: the server.
local Area = stage.actor "Area"

function Area:birth() self.total = 0 end

function Area:square(x)
  local area = x * x
  self.total = self.total + area
  return area
end

function Area:rectangle(x, y)
  local area = x * y
  self.total = self.total + area
  return area
end

function Area:get_total() return self.total end

-- Listing 3.6: the client, main here (the server runs on another theatre).
function main(args)
  local areaServer = Area:spawn_at(1 % stage.theatres())
  print(areaServer:square(10):await())
  print(areaServer:rectangle(3, 4):await())
  print("total area: " .. areaServer:get_total():await())
end
