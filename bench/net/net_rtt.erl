%% bench/net/net_rtt.erl: the Erlang side of the benchmarks between nodes
%% (bench/net/run.sh), two distributed nodes on loopback.
%%   serve          register an echo process as 'echo' and wait
%%   rtt Node N     N round trips to {echo, Node}, each awaited: p50, p99
%%   flood Node M   M one-way messages to {echo, Node}, then one awaited
%%                  count: messages per second
-module(net_rtt).
-export([serve/0, main/1]).

serve() ->
    register(echo, spawn(fun() -> echo(0) end)),
    io:format("ready~n").

echo(N) ->
    receive
        {ping, From, X} -> From ! {pong, X}, echo(N);
        one -> echo(N + 1);
        {count, From} -> From ! {count, N}, echo(N)
    end.

main([Mode, NodeS, CountS]) ->
    Node = list_to_atom(NodeS),
    Count = list_to_integer(CountS),
    pong = net_adm:ping(Node),
    run(Mode, {echo, Node}, Count),
    halt().

run("rtt", Echo, N) ->
    [ping(Echo, I) || I <- lists:seq(1, 2000)],
    Ds = lists:sort([timed(Echo, I) || I <- lists:seq(1, N)]),
    report("remote_rtt_p50", lists:nth(max(1, ceil(N * 0.5)), Ds) / 1000),
    report("remote_rtt_p99", lists:nth(max(1, ceil(N * 0.99)), Ds) / 1000);
run("flood", Echo, M) ->
    Before = count(Echo),
    T0 = erlang:monotonic_time(nanosecond),
    flood(Echo, M),
    Got = count(Echo) - Before,
    T1 = erlang:monotonic_time(nanosecond),
    Got = M,
    io:format("{\"bench\":\"remote_oneway\",\"impl\":\"erlang\","
              "\"value\":~.2f,\"unit\":\"msgs/s\",\"better\":\"higher\"}~n",
              [M / ((T1 - T0) / 1.0e9)]).

flood(_, 0) -> ok;
flood(Echo, M) -> Echo ! one, flood(Echo, M - 1).

count(Echo) ->
    Echo ! {count, self()},
    receive {count, N} -> N end.

ping(Echo, X) ->
    Echo ! {ping, self(), X},
    receive {pong, X} -> ok end.

timed(Echo, X) ->
    T0 = erlang:monotonic_time(nanosecond),
    ping(Echo, X),
    erlang:monotonic_time(nanosecond) - T0.

report(Bench, Us) ->
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~.2f,"
              "\"unit\":\"us\",\"better\":\"lower\"}~n", [Bench, float(Us)]).
