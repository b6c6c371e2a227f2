-- bench/lua/ping_pong_cross.lua: bench/lua/ping_pong.lua with its two
-- players on theatres 0 and 1, so every message crosses between the two
-- theatre threads; 200,000 round trips by default (crossing is slow, and
-- the rate settles well before). Same arguments: N ["futures"].
PING_PONG_CROSS = true
local here = debug.getinfo(1, "S").source:match("^@(.*/)") or "./"
dofile(here .. "ping_pong.lua")
