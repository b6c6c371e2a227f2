#!/bin/sh
# bench/smoke.sh IMPL BENCH COMMAND...: run one benchmark (at a small size)
# and check that it exits 0 and prints its one result line for IMPL/BENCH.
impl=$1 bench=$2
shift 2
out=$("$@") || { echo "$impl $bench: exit status $?"; echo "$out"; exit 1; }
echo "$out"
pattern="^{\"bench\":\"$bench\",\"impl\":\"$impl\","
pattern="$pattern\"value\":-\{0,1\}[0-9][0-9.]*,"
pattern="$pattern\"unit\":\"[^\"]*\",\"better\":\"\(higher\|lower\)\"}\$"
if ! echo "$out" | grep -q "$pattern"; then
  echo "$impl $bench: no result line"
  exit 1
fi
