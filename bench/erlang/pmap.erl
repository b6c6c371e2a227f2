%% bench/erlang/pmap.erl: a parallel map. The master spawns N worker
%% processes (default 1,000), sends each a chunk of CPU work (the Collatz
%% step counts of 500 consecutive numbers, summed) and gathers the N
%% results. The total is checked against the same sum done in one loop
%% after the clock stops.
%% Prints the time in milliseconds (lower is better).
-module(pmap).
-export([main/0, main/1]).

-define(CHUNK, 500).

main() -> main([]).

main(Args) ->
    N = count(Args, 1000),
    Self = self(),
    T0 = erlang:monotonic_time(nanosecond),
    [spawn(fun worker/0) ! {work, Self, (I - 1) * ?CHUNK + 1, I * ?CHUNK}
     || I <- lists:seq(1, N)],
    Total = gather(N, 0),
    T1 = erlang:monotonic_time(nanosecond),
    case steps(1, N * ?CHUNK, 0) of
        Total ->
            report("pmap", (T1 - T0) / 1.0e6, "ms", "lower"),
            halt();
        Want ->
            io:format(standard_error, "pmap: sum ~p, want ~p~n", [Total, Want]),
            halt(1)
    end.

worker() ->
    receive {work, From, A, B} -> From ! {result, steps(A, B, 0)} end.

gather(0, Sum) -> Sum;
gather(K, Sum) -> receive {result, S} -> gather(K - 1, Sum + S) end.

%% The sum of the Collatz step counts of I .. To.
steps(I, To, S) when I > To -> S;
steps(I, To, S) -> steps(I + 1, To, S + collatz(I, 0)).

collatz(1, C) -> C;
collatz(N, C) when N rem 2 =:= 0 -> collatz(N div 2, C + 1);
collatz(N, C) -> collatz(3 * N + 1, C + 1).

count([], Default) -> Default;
count([S | _], _) -> list_to_integer(S).

report(Bench, Value, Unit, Better) ->
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~.1f,"
              "\"unit\":\"~s\",\"better\":\"~s\"}~n",
              [Bench, float(Value), Unit, Better]).
