#!/usr/bin/env bash
# Compiles the C example of README.md and runs it against tern-server: the README's program must
# download the file and print it.
#   scripts/test-readme.sh BUILD_DIR            against the build tree's static library
#   scripts/test-readme.sh --installed BUILD_DIR  the documented route: `cmake --install` into a
#       temporary prefix, `cc app.c $(pkg-config --cflags --libs tern)` (the shared library), and
#       the program run as is, without LD_LIBRARY_PATH: the install must have made libtern.so.0
#       visible to the dynamic loader. Needs root (exit 77 otherwise); the loader entry the
#       install wrote for the temporary prefix is removed at exit.
set -euo pipefail
installed=""
if [ "${1:-}" = --installed ]; then installed=1; shift; fi
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/.." && pwd)
# shellcheck source=scripts/net-lib.sh
. "$src/scripts/net-lib.sh"
if [ -n "$installed" ] && [ "$(id -u)" -ne 0 ]; then
    echo "skipped: installing needs root (the loader cache and /etc/ld.so.conf.d)"
    exit 77
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/tern-readme.XXXXXX")
srv=""
conf=""
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    if [ -n "$conf" ] && [ -f "$conf" ]; then rm -f "$conf"; ldconfig; fi
    rm -rf "$work"
}
trap cleanup EXIT
port=$(free_port)
awk '/^```c$/ && !done {f=1;next} /^```$/ && f {f=0; done=1} f' "$src/README.md" |
    sed "s/127\.0\.0\.1:4433/127.0.0.1:$port/" >"$work/client.c"
grep -q "127.0.0.1:$port" "$work/client.c" || { echo "the README example names no 127.0.0.1:4433"; exit 1; }
server=$build/tern-server
if [ -n "$installed" ]; then
    prefix=$work/prefix
    cmake --install "$build" --prefix "$prefix" >"$work/install.log" 2>&1 ||
        { cat "$work/install.log"; exit 1; }
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    libdir=$(pkg-config --variable=libdir tern)
    # The same name as scripts/install-ldconfig.cmake gives it.
    conf=/etc/ld.so.conf.d/$(echo "tern$libdir" | sed -E 's/[^A-Za-z0-9_.]+/-/g').conf
    # shellcheck disable=SC2046 # word splitting of the flags is the point
    cc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter "$work/client.c" \
        $(pkg-config --cflags --libs tern) ${TERN_EXTRA_LDFLAGS:-} -o "$work/client"
    resolved=$(ldd "$work/client" | awk '$1 == "libtern.so.0" {print $3}')
    if [ "$resolved" != "$libdir/libtern.so.0" ]; then
        echo "the program does not find the installed libtern.so.0 (ldd: '${resolved:-not found}')"
        ldd "$work/client"
        exit 1
    fi
    server=$prefix/bin/tern-server
else
    # shellcheck disable=SC2046
    cc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -I"$src/include" "$work/client.c" \
        "$build/libtern.a" $(pkg-config --libs gnutls) -lm ${TERN_EXTRA_LDFLAGS:-} -o "$work/client"
fi
bash "$src/scripts/make-cert.sh" "$work" >/dev/null
mkdir "$work/www"
echo "hello from tern $$" >"$work/www/index.html"

"$server" --listen "127.0.0.1:$port" --root "$work/www" --cert "$work/cert.pem" \
    --key "$work/key.pem" -q 2>"$work/server.log" &
srv=$!
wait_bound "$port" "$srv" || { echo "tern-server did not start"; cat "$work/server.log"; exit 1; }
out=$(cd "$work" && env -u LD_LIBRARY_PATH timeout 10 ./client)
[ "$out" = "hello from tern $$" ] || { echo "README client printed: '$out'"; cat "$work/server.log"; exit 1; }
echo "README example${installed:+ (installed, pkg-config, shared library)}: ok"
