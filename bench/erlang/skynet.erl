%% bench/erlang/skynet.erl: skynet. A process spawns 10 children, each
%% spawns 10, ... down to L leaves (default 1,000,000, a power of 10: so
%% 1,111,111 processes). Leaf i sends i to its parent; every parent sends
%% the sum of its children to its own parent and exits. Checks the total.
%% Prints the time in milliseconds (lower is better). skynet_auto.erl runs
%% the same program under the name skynet_auto.
-module(skynet).
-export([main/0, main/1, run/2]).

main() -> main([]).

main(Args) -> run("skynet", Args).

%% Run skynet, reporting under the name Bench.
run(Bench, Args) ->
    Leaves = count(Args, 1000000),
    Main = self(),
    T0 = erlang:monotonic_time(nanosecond),
    spawn(fun() -> skynet(Main, 0, Leaves) end),
    Sum = receive {sum, S} -> S end,
    T1 = erlang:monotonic_time(nanosecond),
    case Leaves * (Leaves - 1) div 2 of
        Sum ->
            report(Bench, (T1 - T0) / 1.0e6, "ms", "lower"),
            halt();
        Want ->
            io:format(standard_error, "~s: sum ~p, want ~p~n",
                      [Bench, Sum, Want]),
            halt(1)
    end.

skynet(Parent, Num, 1) -> Parent ! {sum, Num};
skynet(Parent, Num, Size) ->
    Self = self(),
    Sub = Size div 10,
    [spawn(fun() -> skynet(Self, Num + I * Sub, Sub) end)
     || I <- lists:seq(0, 9)],
    Parent ! {sum, collect(10, 0)}.

collect(0, Sum) -> Sum;
collect(K, Sum) -> receive {sum, V} -> collect(K - 1, Sum + V) end.

count([], Default) -> Default;
count([S | _], _) -> list_to_integer(S).

report(Bench, Value, Unit, Better) ->
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~.1f,"
              "\"unit\":\"~s\",\"better\":\"~s\"}~n",
              [Bench, float(Value), Unit, Better]).
