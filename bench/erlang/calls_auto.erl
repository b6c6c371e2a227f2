%% bench/erlang/calls_auto.erl: the twin of bench/lua/calls_auto.lua. 8
%% caller processes each call their own callee process N times (default
%% 5,000), awaiting every answer (a message and a receive, as
%% gen_server:call does); the callee works 20 us of wall time on each
%% call (a busy wait on erlang:monotonic_time). The time runs until every
%% caller has its N answers. Prints calls per second (higher is better).
-module(calls_auto).
-export([main/0, main/1]).

-define(PAIRS, 8).
-define(WORK_NS, 20000).

main() -> main([]).

main(Args) ->
    N = count(Args, 5000),
    Main = self(),
    T0 = erlang:monotonic_time(nanosecond),
    [spawn(fun() -> caller(spawn(fun callee/0), N, Main) end)
     || _ <- lists:seq(1, ?PAIRS)],
    [receive done -> ok end || _ <- lists:seq(1, ?PAIRS)],
    T1 = erlang:monotonic_time(nanosecond),
    report("calls_auto", ?PAIRS * N / ((T1 - T0) / 1.0e9), "calls/s",
           "higher"),
    halt().

caller(_, 0, Main) -> Main ! done;
caller(Callee, K, Main) ->
    Ref = make_ref(),
    Callee ! {call, self(), Ref, K},
    receive {Ref, K} -> caller(Callee, K - 1, Main) end.

callee() ->
    receive
        {call, From, Ref, I} ->
            work(erlang:monotonic_time(nanosecond) + ?WORK_NS),
            From ! {Ref, I},
            callee()
    end.

work(Until) ->
    case erlang:monotonic_time(nanosecond) < Until of
        true -> work(Until);
        false -> ok
    end.

count([], Default) -> Default;
count([S | _], _) -> list_to_integer(S).

report(Bench, Value, Unit, Better) ->
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~.1f,"
              "\"unit\":\"~s\",\"better\":\"~s\"}~n",
              [Bench, float(Value), Unit, Better]).
