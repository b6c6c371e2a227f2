#!/bin/sh
# scripts/deps.sh: install the Debian packages Stage needs to build, test and
# benchmark. Installs only what is missing; safe to run again.
set -eu

PACKAGES="
build-essential cmake pkg-config
liblua5.4-dev lua5.4
libuv1-dev
libmsgpack-dev
libsodium-dev
libmicrohttpd-dev
libcmocka-dev
erlang-base
tcpdump
groff-base
"

missing=""
for p in $PACKAGES; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
        || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

echo "deps: installing$missing"
SUDO=""
[ "$(id -u)" -eq 0 ] || SUDO="sudo"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
# shellcheck disable=SC2086
$SUDO apt-get install -y -q --no-install-recommends $missing
