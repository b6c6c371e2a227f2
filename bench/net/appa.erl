%% bench/net/appa.erl: the Erlang program of the thesis's Appendix A
%% (A.2.1, A.2.2) with `global`: node I of N registers 10 workers aI_0 ..
%% aI_9, prints "registered"; once GoFile exists (bench/net/run.sh creates
%% it when every node has registered) it looks up an_(n rem N) for
%% n = 1..N and sends each a ping, then prints "done". A worker prints
%% "pinged". Node 1 is the one the others connect to first. With a fifth
%% argument StartFile, prints "up" and waits for that file before
%% registering (run.sh's second pass: the nodes are connected before the
%% capture starts).
-module(appa).
-export([main/1]).

main([IS, NS, First, GoFile, StartFile]) ->
    connect(list_to_integer(IS), First),
    io:format("up~n"),
    wait_for(StartFile),
    run(list_to_integer(IS), list_to_integer(NS), GoFile);
main([IS, NS, First, GoFile]) ->
    connect(list_to_integer(IS), First),
    run(list_to_integer(IS), list_to_integer(NS), GoFile).

connect(1, _) -> ok;
connect(_, First) -> pong = net_adm:ping(list_to_atom(First)).

run(I, N, GoFile) ->
    global:sync(),
    [register_worker(name(I, L)) || L <- lists:seq(0, 9)],
    io:format("registered~n"),
    wait_for(GoFile),
    Pids = [global:whereis_name(name(K, K rem N)) || K <- lists:seq(1, N)],
    [P ! ping || P <- Pids],
    io:format("done~n"),
    receive stop -> ok end.

name(I, L) -> list_to_atom(lists:concat([a, I, "_", L])).

register_worker(Name) ->
    Self = self(),
    spawn(fun() ->
              yes = global:register_name(Name, self()),
              Self ! {registered, Name},
              worker()
          end),
    receive {registered, Name} -> ok end.

worker() ->
    receive _ -> io:format("pinged~n"), worker() end.

wait_for(Path) ->
    case filelib:is_file(Path) of
        true -> ok;
        false -> timer:sleep(50), wait_for(Path)
    end.
