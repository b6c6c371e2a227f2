#!/bin/sh
# scripts/deps.sh GROUP...: install the Debian packages of each GROUP that
# are not installed yet, with apt (through sudo unless run as root), after
# saying which and why. Installs nothing when all are there, so every
# Makefile target calls it with the groups it needs:
#
#   make        make itself (./run installs it before calling make)
#   build       a C compiler, make, CMake, pkg-config and the libraries
#               Stage links: Lua 5.4, libuv, libsodium, mimalloc (the
#               stage command's allocator)
#   test        cmocka, for the unit tests, and groff to check the man
#               page (the test scripts use only sh,
#               bash and coreutils, grep, sed, awk and diff, all in minbase)
#   clang       clang, for the clang builds (make test-clang, make builds)
#   bench       Erlang (erl, erlc), the benchmarks' reference
#   bench-net   tcpdump (bytes on the wire) and python3 (reads its capture)
#   bench-dht   /usr/bin/time, the simulator's CPU seconds
#   bench-reliability  python3 (the monotonic clock of a kill) and
#               iproute2 (network namespaces, to cut a link)
#   wire-bench  msgpack-c, the wire micro-benchmark's comparison
set -eu

packages() {
    case $1 in
    make) echo make ;;
    build) echo gcc libc6-dev make cmake pkg-config liblua5.4-dev \
        libuv1-dev libsodium-dev libmimalloc-dev ;;
    test) echo libcmocka-dev groff-base ;;
    clang) echo clang ;;
    bench) echo erlang-base ;;
    bench-net) echo tcpdump python3 ;;
    bench-dht) echo time ;;
    bench-reliability) echo python3 iproute2 ;;
    wire-bench) echo libmsgpack-dev ;;
    *) return 1 ;;
    esac
}

why() {
    case $1 in
    make) echo "to run the Makefile" ;;
    build) echo "to build Stage (compiler, build tools, Lua, libuv, libsodium, mimalloc)" ;;
    test) echo "for the unit tests and the man page's check" ;;
    clang) echo "for the clang builds" ;;
    bench) echo "for the Erlang side of the benchmarks" ;;
    bench-net) echo "to capture and count the bytes on the wire" ;;
    bench-dht) echo "to measure the simulator's CPU time" ;;
    bench-reliability) echo "to time kills and to cut links between namespaces" ;;
    wire-bench) echo "for msgpack-c, the wire benchmark's comparison" ;;
    esac
}

installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null |
        grep -q "install ok installed"
}

[ $# -gt 0 ] || { echo "usage: scripts/deps.sh GROUP..." >&2; exit 2; }
missing=""
for group in "$@"; do
    if ! list=$(packages "$group"); then
        echo "deps: unknown group '$group'; the groups are listed at the" \
            "top of scripts/deps.sh" >&2
        exit 2
    fi
    new=""
    for p in $list; do
        case " $missing $new " in *" $p "*) continue ;; esac
        installed "$p" || new="$new $p"
    done
    [ -z "$new" ] && continue
    echo "deps: $(why "$group"), installing:$new"
    missing="$missing$new"
done
[ -z "$missing" ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
    if ! command -v sudo >/dev/null 2>&1; then
        echo "deps: cannot install '${missing# }': not root, and sudo is" \
            "not installed; run this as root, or have root run:" \
            "apt-get install${missing}" >&2
        exit 1
    fi
    sudo=sudo
    echo "deps: through sudo (apt-get needs root)"
fi
apt_get() {
    $sudo env DEBIAN_FRONTEND=noninteractive apt-get -q "$@"
}
# A fresh machine has no package lists yet; stale ones fail the install,
# which then runs again after an update.
if ! ls /var/lib/apt/lists/*_Packages* >/dev/null 2>&1; then
    apt_get update
fi
# shellcheck disable=SC2086
if ! apt_get install -y --no-install-recommends $missing; then
    echo "deps: apt-get install failed; updating the package lists and" \
        "trying again"
    apt_get update
    # shellcheck disable=SC2086
    apt_get install -y --no-install-recommends $missing
fi
