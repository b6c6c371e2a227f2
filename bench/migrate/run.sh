#!/bin/sh
# bench/migrate/run.sh BUILD_DIR: the costs of moving actors (issue 11,
# "Measured"), RUNS times each (default 5); prints every result line as it
# comes (JSON: {"bench","impl","value","unit","better",...}), then the
# median of each figure beside its target. Results are also kept in
# BUILD_DIR/bench/migrate/results.jsonl.
#
#   local.lua   moves between the theatres of one node: a small actor and
#               one with 100 KB of state (target ≤ 20 µs for the small
#               one), and messages/s to an actor that moves every 10 ms
#               against one that stays (target ≥ 50%)
#
# Environment: RUNS (5), MOVES (20000), MSGS (1000000).
set -u
build=$(cd "${1:-build}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
stage=$build/src/cli/stage
out=$build/bench/migrate
runs=${RUNS:-5}
mkdir -p "$out"
results=$out/results.jsonl
: >"$results"
[ -x "$stage" ] || { echo "bench/migrate: no $stage: build first" >&2; exit 1; }

echo "# machine: $(nproc) cores, Linux $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
for r in $(seq "$runs"); do
    "$stage" run --budget 600 "$here/local.lua" "${MOVES:-20000}" \
        "${MSGS:-1000000}" | tee -a "$results" ||
        echo "# run $r of local.lua failed" >&2
done

# The median of each bench (and of of_staying), beside its target.
awk '
function num(line, name,    m) {
    if (!match(line, "\"" name "\":-?[0-9.eE+-]+")) return ""
    m = substr(line, RSTART, RLENGTH)
    sub("^\"" name "\":", "", m)
    return m + 0
}
function bench(line,    m) {
    match(line, "\"bench\":\"[^\"]*\"")
    m = substr(line, RSTART + 9, RLENGTH - 10)
    return m
}
function median(k,    n, i, j, t, v) {
    n = cnt[k]
    for (i = 1; i <= n; i++) v[i] = val[k, i]
    for (i = 2; i <= n; i++)
        for (j = i; j > 1 && v[j - 1] > v[j]; j--) { t = v[j]; v[j] = v[j - 1]; v[j - 1] = t }
    return n % 2 ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
}
function add(k, x) {
    if (!(k in cnt)) order[++nk] = k
    val[k, ++cnt[k]] = x
}
/^\{"bench"/ {
    b = bench($0)
    add(b, num($0, "value"))
    if (b == "msgs_moving") add("msgs_moving/msgs_staying", num($0, "of_staying"))
}
END {
    target["move_theatre"] = "<= 20 us"
    target["msgs_moving/msgs_staying"] = ">= 0.5"
    printf "%-26s %14s %6s  %s\n", "bench", "median", "runs", "target"
    for (i = 1; i <= nk; i++) {
        k = order[i]
        printf "%-26s %14.2f %6d  %s\n", k, median(k), cnt[k], target[k]
    }
}' "$results"
