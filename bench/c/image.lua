-- bench/c/image.lua: the Lua actors bench/c/image.c moves through images:
-- a small state (10 fields) and a large one (10,000 entries).
local stage = require "stage"

local Small = stage.actor "Small"
function Small:birth()
  self.name, self.count, self.total, self.ratio = "small", 0, 12345, 0.5
  self.on, self.tag, self.a, self.b = true, "x", 1, 2
  self.peer, self.last = stage.self(), "none"
end
function Small:ready() return true end

local Large = stage.actor "Large"
function Large:birth()
  self.items = {}
  for i = 1, 10000 do self.items["key" .. i] = i end
end
function Large:ready() return true end
