%% bench/erlang/fan_in_auto.erl: the twin of bench/lua/fan_in_auto.lua.
%% Erlang never places processes, so it is fan_in.erl itself, reported
%% under this name for the table.
-module(fan_in_auto).
-export([main/0, main/1]).

main() -> main([]).

main(Args) -> fan_in:run("fan_in_auto", Args).
