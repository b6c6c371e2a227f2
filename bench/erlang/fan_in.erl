%% bench/erlang/fan_in.erl: 4 sender processes each send N messages
%% (default 1,000,000) into one receiver's mailbox, as fast as they can;
%% the time runs until the receiver has taken all 4 N.
%% Prints messages per second (higher is better). fan_in_auto.erl runs the
%% same program under the name fan_in_auto.
-module(fan_in).
-export([main/0, main/1, run/2]).

-define(SENDERS, 4).

main() -> main([]).

main(Args) -> run("fan_in", Args).

%% Run the fan-in, reporting under the name Bench.
run(Bench, Args) ->
    N = count(Args, 1000000),
    Main = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Recv = spawn(fun() -> recv(?SENDERS * N, Main) end),
    [spawn(fun() -> send(Recv, N) end) || _ <- lists:seq(1, ?SENDERS)],
    receive done -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    report(Bench, ?SENDERS * N / ((T1 - T0) / 1.0e9), "msgs/s", "higher"),
    halt().

send(_, 0) -> ok;
send(Recv, N) -> Recv ! msg, send(Recv, N - 1).

recv(0, Main) -> Main ! done;
recv(K, Main) -> receive msg -> recv(K - 1, Main) end.

count([], Default) -> Default;
count([S | _], _) -> list_to_integer(S).

report(Bench, Value, Unit, Better) ->
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~.1f,"
              "\"unit\":\"~s\",\"better\":\"~s\"}~n",
              [Bench, float(Value), Unit, Better]).
