-- A script without main: stage run says so.
local stage = require "stage"
local A = stage.actor "A"
