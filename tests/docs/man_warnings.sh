#!/bin/sh
# tests/docs/man_warnings.sh GROFF PAGE: fail if groff warns about the man
# page PAGE (groff exits 0 on warnings, so its stderr is what counts).
set -u
groff=$1
page=$2
if ! out=$("$groff" -man -Tutf8 -ww -z "$page" 2>&1); then
    printf '%s\n' "$out"
    echo "man_warnings: groff failed on '$page'"
    exit 1
fi
if [ -n "$out" ]; then
    printf '%s\n' "$out"
    echo "man_warnings: '$page' has groff warnings (above): fix them"
    exit 1
fi
echo "man_warnings: '$page' renders without warnings"
