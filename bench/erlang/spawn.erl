%% bench/erlang/spawn.erl: spawn cost. The main process spawns N processes
%% (default 1,000,000); each sends 'done' to a collector process and exits.
%% The time runs until the collector has every 'done', so a spawn here is:
%% create, run once, send one message, exit. The collector keeps its
%% mailbox off the heap (message_queue_data), as Erlang advises for a
%% process that may queue many messages: on the heap, each garbage
%% collection would copy the whole queue.
%% Prints ns per spawned process (lower is better).
-module(spawn).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = count(Args, 1000000),
    Main = self(),
    T0 = erlang:monotonic_time(nanosecond),
    Collector = spawn_opt(fun() -> collect(N, Main) end,
                          [{message_queue_data, off_heap}]),
    spawn_all(Collector, N),
    receive done -> ok end,
    T1 = erlang:monotonic_time(nanosecond),
    report("spawn", (T1 - T0) / N, "ns/actor", "lower"),
    halt().

spawn_all(_, 0) -> ok;
spawn_all(Collector, N) ->
    spawn(fun() -> Collector ! done end),
    spawn_all(Collector, N - 1).

collect(0, Main) -> Main ! done;
collect(N, Main) -> receive done -> collect(N - 1, Main) end.

count([], Default) -> Default;
count([S | _], _) -> list_to_integer(S).

report(Bench, Value, Unit, Better) ->
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~.1f,"
              "\"unit\":\"~s\",\"better\":\"~s\"}~n",
              [Bench, float(Value), Unit, Better]).
