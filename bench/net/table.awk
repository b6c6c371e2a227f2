# bench/net/table.awk: the table of bench/net/run.sh. Reads its result
# lines and prints, per figure, the value of each implementation (the last
# one seen) and Stage's ratios to Erlang, to raw blocking TCP, to raw
# polling TCP and to a raw event loop polling epoll (> 1: Stage needs more
# time or bytes, or, for msgs/s, is faster).

function field(line, name,    m) {
    if (match(line, "\"" name "\":\"[^\"]*\"")) {
        m = substr(line, RSTART, RLENGTH)
        sub("^\"" name "\":\"", "", m)
        sub("\"$", "", m)
        return m
    }
    if (match(line, "\"" name "\":-?[0-9.eE+-]+")) {
        m = substr(line, RSTART, RLENGTH)
        sub("^\"" name "\":", "", m)
        return m
    }
    return ""
}

function ratio(a, b) { return (a == "" || b == "" || b + 0 == 0) ? "-" : sprintf("%.2f", a / b) }
function show(v) { return v == "" ? "-" : v }

/^\{"bench"/ {
    b = field($0, "bench")
    if (!(b in seen)) { seen[b] = 1; order[++n] = b }
    val[b, field($0, "impl")] = field($0, "value")
    unit[b] = field($0, "unit")
}

END {
    printf "%-20s %-8s %14s %14s %14s %14s %14s %8s %8s %8s %8s\n",
        "figure", "unit", "stage", "erlang", "raw_tcp", "raw_tcp_poll",
        "raw_tcp_epoll", "st/erl", "st/raw", "st/poll", "st/epoll"
    for (i = 1; i <= n; i++) {
        b = order[i]
        s = val[b, "stage"]; e = val[b, "erlang"]; r = val[b, "raw_tcp"]
        p = val[b, "raw_tcp_poll"]; q = val[b, "raw_tcp_epoll"]
        printf "%-20s %-8s %14s %14s %14s %14s %14s %8s %8s %8s %8s\n", b,
            unit[b], show(s), show(e), show(r), show(p), show(q), ratio(s, e),
            ratio(s, r), ratio(s, p), ratio(s, q)
    }
}
