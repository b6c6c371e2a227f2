%% bench/erlang/skynet_auto.erl: the twin of bench/lua/skynet_auto.lua.
%% Erlang never places processes, so it is skynet.erl itself, reported
%% under this name for the table.
-module(skynet_auto).
-export([main/0, main/1]).

main() -> main([]).

main(Args) -> skynet:run("skynet_auto", Args).
