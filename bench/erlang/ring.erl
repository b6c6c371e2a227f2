%% bench/erlang/ring.erl: thread ring. 503 processes in a ring pass a token
%% (an integer) that each decrements; the one that receives 0 reports. H
%% hops (default 10,000,000). Setting up the ring is not timed.
%% Prints hops per second (higher is better).
-module(ring).
-export([main/0, main/1]).

-define(SIZE, 503).

main() -> main([]).

main(Args) ->
    Hops = count(Args, 10000000),
    Main = self(),
    First = spawn(fun() -> receive {next, Next} -> node(Next, Main) end end),
    Last = lists:foldl(fun(_, Next) -> spawn(fun() -> node(Next, Main) end) end,
                       First, lists:seq(2, ?SIZE)),
    First ! {next, Last},
    T0 = erlang:monotonic_time(nanosecond),
    First ! Hops,
    receive done -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    report("ring", Hops / ((T1 - T0) / 1.0e9), "hops/s", "higher"),
    halt().

node(Next, Main) ->
    receive
        0 -> Main ! done;
        K -> Next ! K - 1, node(Next, Main)
    end.

count([], Default) -> Default;
count([S | _], _) -> list_to_integer(S).

report(Bench, Value, Unit, Better) ->
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~.1f,"
              "\"unit\":\"~s\",\"better\":\"~s\"}~n",
              [Bench, float(Value), Unit, Better]).
