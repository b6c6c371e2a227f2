# bench/table.awk: the summary table of bench/run.sh. Reads result lines
# {"bench":...,"impl":...,"value":...,"unit":...,"better":...} and prints,
# for each benchmark and implementation (the orders of the variables
# benches and impls), the median value, the ratio to Erlang's median
# oriented so that > 1 is better than Erlang, and the targets of issues 2
# and 11. Implementations named in the variable optional get no "missing"
# rows, and neither do the C programs of benchmarks that have none (the
# ones written without placement: only Lua places at spawn by itself).

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

# The median of the values of key; sets lo and hi to the extremes.
function median(key,    n, i, j, v, t) {
    n = count[key]
    for (i = 1; i <= n; i++)
        v[i] = vals[key, i] + 0
    for (i = 2; i <= n; i++)            # insertion sort: n is small
        for (j = i; j > 1 && v[j - 1] > v[j]; j--) {
            t = v[j]; v[j] = v[j - 1]; v[j - 1] = t
        }
    lo = v[1]; hi = v[n]
    if (n % 2) return v[(n + 1) / 2]
    return (v[n / 2] + v[n / 2 + 1]) / 2
}

# Target of issues 2 and 11 for (bench, impl): "ratio >= X" against
# Erlang, an absolute bound "value <= X", or "" for none. Issue 11 raised
# ring's to 1.3 (placement must not split a ring that messages locally).
function target(b, i) {
    if (i == "lua" && b == "ring") return "ratio>=1.3"
    if (i == "lua" && (b == "ping_pong" || b == "spawn"))
        return "ratio>=1.0"
    if (i == "lua" && (b == "skynet_auto" || b == "fan_in_auto" ||
                       b == "pmap"))
        return "ratio>=1.0"
    if (i == "lua" && b == "idle_memory") return "value<=1024"
    if (i == "c" && (b == "ping_pong" || b == "ring")) return "ratio>=3.0"
    return ""
}

# 1 for the benchmarks that have no C program.
function lua_only(b) {
    return b == "skynet_auto" || b == "fan_in_auto" || b == "calls_auto"
}

function label(t) {
    if (t ~ /^ratio>=/) return ">= " substr(t, 8) "x"
    if (t ~ /^value<=/) return "<= " substr(t, 8)
    return "-"
}

function pretty(v) {
    if (v >= 1e6) return sprintf("%.2fM", v / 1e6)
    return sprintf("%.1f", v)
}

{
    b = field($0, "bench"); i = field($0, "impl"); v = field($0, "value")
    if (b == "" || i == "" || v == "") next
    key = b SUBSEP i
    vals[key, ++count[key]] = v
    unit[b] = field($0, "unit"); better[b] = field($0, "better")
}

END {
    nb = split(benches, B, " "); ni = split(impls, I, " ")
    fmt = "%-16s %-11s %4s %10s %-12s %7s %9s  %-8s %s\n"
    printf fmt, "bench", "impl", "runs", "median", "unit", "spread",
           "vs erlang", "target", "status"
    for (x = 1; x <= nb; x++) {
        b = B[x]
        erl = (b SUBSEP "erlang") in count ? median(b SUBSEP "erlang") : ""
        for (y = 1; y <= ni; y++) {
            i = I[y]; key = b SUBSEP i; t = target(b, i)
            if (!(key in count) && index(" " optional " ", " " i " "))
                continue
            if (!(key in count) && i == "c" && lua_only(b))
                continue
            if (!(key in count)) {
                printf fmt, b, i, 0, "-", "-", "-", "-", label(t), "missing"
                continue
            }
            m = median(key); ratio = ""
            if (erl != "" && m > 0 && erl > 0)
                ratio = better[b] == "lower" ? erl / m : m / erl
            status = "-"
            if (t ~ /^ratio>=/) {
                want = substr(t, 8) + 0
                status = ratio == "" ? "unknown" : \
                         (ratio >= want ? "met" : "not met")
            } else if (t ~ /^value<=/) {
                status = m <= substr(t, 8) + 0 ? "met" : "not met"
            }
            spread = m > 0 ? sprintf("%.0f%%", (hi - lo) * 100 / m) : "-"
            printf fmt, b, i, count[key], pretty(m), unit[b], spread,
                   (ratio == "" ? "-" : sprintf("%.2fx", ratio)),
                   label(t), status
        }
    }
}
