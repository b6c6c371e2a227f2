%% bench/erlang/idle_memory.erl: memory per idle process. Spawns N
%% processes (default 1,000,000) that wait in 'receive' forever, and
%% divides the growth of the OS process's resident set (RSS, from
%% /proc/self/statm, 4 KiB pages) by N. Pids are not kept. Also prints,
%% on stderr, erlang:memory(processes) growth per process for reference.
%% Prints bytes per idle process (lower is better).
-module(idle_memory).
-export([main/0, main/1]).

main() -> main([]).

main(Args) ->
    N = count(Args, 1000000),
    erlang:garbage_collect(),
    Rss0 = rss(),
    Mem0 = erlang:memory(processes),
    spawn_idle(N),
    sync(),
    Rss1 = rss(),
    Mem1 = erlang:memory(processes),
    io:format(standard_error, "idle_memory: erlang:memory(processes) "
              "~.1f bytes/process~n", [(Mem1 - Mem0) / N]),
    report("idle_memory", (Rss1 - Rss0) / N, "bytes/actor", "lower"),
    halt().

spawn_idle(0) -> ok;
spawn_idle(N) ->
    spawn(fun() -> receive stop -> ok end end),
    spawn_idle(N - 1).

%% Every process spawned before has run by the time this one answers?
%% Not guaranteed, but its memory was allocated at spawn; this only lets
%% the schedulers settle.
sync() ->
    Main = self(),
    spawn(fun() -> Main ! ready end),
    receive ready -> ok end.

rss() ->
    {ok, Statm} = file:read_file("/proc/self/statm"),
    [_Size, Resident | _] = string:lexemes(binary_to_list(Statm), " \n"),
    list_to_integer(Resident) * 4096.

count([], Default) -> Default;
count([S | _], _) -> list_to_integer(S).

report(Bench, Value, Unit, Better) ->
    io:format("{\"bench\":\"~s\",\"impl\":\"erlang\",\"value\":~.1f,"
              "\"unit\":\"~s\",\"better\":\"~s\"}~n",
              [Bench, float(Value), Unit, Better]).
