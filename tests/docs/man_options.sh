#!/bin/sh
# tests/docs/man_options.sh STAGE PAGE: fail if an option that
# `stage CMD --help` lists is missing from the man page PAGE, so the page
# cannot fall behind the command.
set -u
stage=$1
page=$2
missing=0
for cmd in "" run node sim keygen; do
    # shellcheck disable=SC2086
    opts=$("$stage" $cmd --help | grep -o -- '--[a-z][a-z-]*' | sort -u)
    for o in $opts; do
        # the page writes each '-' of an option as '\-'
        pat=$(printf '%s' "$o" | sed 's/-/\\\\-/g')
        if ! grep -q -- "$pat" "$page"; then
            echo "man_options: 'stage $cmd --help' lists '$o'; '$page' does not"
            missing=1
        fi
    done
done
[ "$missing" -eq 0 ] && echo "man_options: every option of 'stage --help' is in '$page'"
exit "$missing"
