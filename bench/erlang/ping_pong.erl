%% bench/erlang/ping_pong.erl: two processes bounce a message N round trips
%% (default 2,000,000; a round trip is 2 messages). Run with the default
%% schedulers (+S 2 here); the runtime keeps the pair where it likes, which
%% is normally one scheduler. Prints messages per second (higher is better).
-module(ping_pong).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = count(Args, 2000000),
    Main = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Pong = spawn(fun pong/0),
    spawn(fun() -> ping(Pong, N), Main ! done end),
    receive done -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    report("ping_pong", 2 * N / ((T1 - T0) / 1.0e9), "msgs/s", "higher"),
    halt().

ping(Pong, 0) -> Pong ! stop;
ping(Pong, N) ->
    Pong ! {ping, self()},
    receive pong -> ping(Pong, N - 1) end.

pong() ->
    receive
        {ping, From} -> From ! pong, pong();
        stop -> ok
    end.

count([], Default) -> Default;
count([S | _], _) -> list_to_integer(S).

report(Bench, Value, Unit, Better) ->
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~.1f,"
              "\"unit\":\"~s\",\"better\":\"~s\"}~n",
              [Bench, float(Value), Unit, Better]).
