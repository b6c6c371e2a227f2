%% bench/erlang/ping_pong_cross.erl: ping-pong as in ping_pong.erl, but the
%% two processes are bound to different schedulers (spawn_opt's
%% {scheduler, Id} option, OTP 25), so every message crosses between the two
%% scheduler threads. N round trips (default 200,000, 2 messages each:
%% crossing is slow, and the rate settles well before).
%% Prints messages per second (higher is better).
-module(ping_pong_cross).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = count(Args, 200000),
    Main = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Pong = spawn_opt(fun pong/0, [{scheduler, 2}]),
    spawn_opt(fun() -> ping(Pong, N), Main ! done end, [{scheduler, 1}]),
    receive done -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    report("ping_pong_cross", 2 * N / ((T1 - T0) / 1.0e9), "msgs/s",
           "higher"),
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
