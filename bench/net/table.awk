# bench/net/table.awk: the table of bench/net/run.sh. Reads its result
# lines and prints, per figure, the value of each implementation (the last
# one seen) and Stage's ratios to Erlang, to raw blocking TCP, to raw
# polling TCP and to a raw event loop polling epoll (> 1: Stage needs more
# time or bytes, or, for msgs/s, is faster); then, if the run measured
# with a cluster key (impl "stage_key"), the medians with and without it
# over the rounds and their ratio.

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
    im = field($0, "impl")
    val[b, im] = field($0, "value")
    unit[b] = field($0, "unit")
    runs[b, im] = runs[b, im] + 1
    all[b, im, runs[b, im]] = field($0, "value") + 0
}

# The median of the k values all[b, im, 1..k].
function median(b, im,    k, i, j, t, v) {
    k = runs[b, im]
    if (!k) return ""
    for (i = 1; i <= k; i++) v[i] = all[b, im, i]
    for (i = 2; i <= k; i++)
        for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
            t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
        }
    return k % 2 ? v[(k + 1) / 2] : (v[k / 2] + v[k / 2 + 1]) / 2
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
    keyed = 0
    for (i = 1; i <= n; i++) if (runs[order[i], "stage_key"]) keyed = 1
    if (!keyed) exit
    printf "\ncluster key: medians of the interleaved runs (runs each)\n"
    printf "%-20s %-8s %14s %14s %10s %6s\n", "figure", "unit", "no key",
        "key", "key/none", "runs"
    for (i = 1; i <= n; i++) {
        b = order[i]
        if (!runs[b, "stage_key"]) continue
        s = median(b, "stage"); k = median(b, "stage_key")
        printf "%-20s %-8s %14s %14s %10s %6d\n", b, unit[b], show(s),
            show(k), ratio(k, s), runs[b, "stage_key"]
    }
}
