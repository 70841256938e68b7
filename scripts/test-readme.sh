#!/usr/bin/env bash
# Compiles the C example of README.md and runs it against tern-server: the README's program must
# download the file and print it.
#   scripts/test-readme.sh BUILD_DIR            against the build tree's static library
#   scripts/test-readme.sh --installed BUILD_DIR  the documented routes: `cmake --install` into a
#       temporary prefix, `cc app.c $(pkg-config --cflags --libs tern)` (the shared library), and
#       the program run as is, without LD_LIBRARY_PATH: the install must have made libtern.so.N
#       visible to the dynamic loader. Then a CMake project (tests/consumer) finds the same
#       install with find_package(tern) and links tern::tern and tern::tern_static; and a
#       library-only build configured with CMAKE_INSTALL_LIBDIR=lib64, installed into a second
#       prefix, serves both routes from lib64 (tern.pc and ternConfig.cmake must name it). Needs
#       root (exit 77 otherwise); the loader entries the installs wrote are removed at exit.
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
confs=()
# The loader entry scripts/install-ldconfig.cmake writes for library directory $1.
ld_conf() { echo "/etc/ld.so.conf.d/$(echo "tern$1" | sed -E 's/[^A-Za-z0-9_.]+/-/g').conf"; }
cleanup() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    local refresh=""
    for c in "${confs[@]}"; do
        if [ -f "$c" ]; then rm -f "$c"; refresh=1; fi
    done
    [ -n "$refresh" ] && ldconfig
    rm -rf "$work"
}
trap cleanup EXIT
port=$(free_port)
awk '/^```c$/ && !done {f=1;next} /^```$/ && f {f=0; done=1} f' "$src/README.md" |
    sed "s/127\.0\.0\.1:4433/127.0.0.1:$port/" >"$work/client.c"
grep -q "127.0.0.1:$port" "$work/client.c" || { echo "the README example names no 127.0.0.1:4433"; exit 1; }
server=$build/tern-server
if [ -n "$installed" ]; then
    soname=libtern.so.$(sed -nE 's/^#define TERN_SOVERSION ([0-9]+)$/\1/p' "$build/include/tern/version.h")
    # Installs build dir $1 into prefix $2 (libdir $3 under it).
    install_to() {
        confs+=("$(ld_conf "$2/$3")")
        cmake --install "$1" --prefix "$2" >"$work/install.log" 2>&1 ||
            { cat "$work/install.log"; exit 1; }
    }
    # Fails unless program $1 loads the $soname of directory $2 without LD_LIBRARY_PATH.
    check_loader() {
        local resolved
        resolved=$(env -u LD_LIBRARY_PATH ldd "$1" | awk -v so="$soname" '$1 == so {print $3}')
        if [ "$resolved" != "$2/$soname" ]; then
            echo "$1 does not find the installed $soname in $2 (ldd: '${resolved:-not found}')"
            ldd "$1"
            exit 1
        fi
    }
    # Builds tests/consumer against prefix $1 (library directory $2) with CMake, more cmake
    # arguments after those, and runs both of its programs.
    check_cmake_consumer() {
        local b=$work/consumer-$(basename "$1")
        cmake -S "$src/tests/consumer" -B "$b" -DCMAKE_PREFIX_PATH="$1" "${@:3}" \
            -DCMAKE_EXE_LINKER_FLAGS="${TERN_EXTRA_LDFLAGS:-}" >"$work/consumer.log" 2>&1 &&
            cmake --build "$b" >>"$work/consumer.log" 2>&1 ||
            { echo "the CMake consumer does not build against $1"; cat "$work/consumer.log"; exit 1; }
        check_loader "$b/consumer" "$2"
        for p in consumer consumer_static; do
            env -u LD_LIBRARY_PATH "$b/$p" >"$work/consumer.out" ||
                { echo "$p failed"; cat "$work/consumer.out"; exit 1; }
            grep -q "^endpoint created" "$work/consumer.out" ||
                { echo "$p printed:"; cat "$work/consumer.out"; exit 1; }
        done
        echo "CMake consumer against $1: $(head -1 "$work/consumer.out")"
    }
    prefix=$work/prefix
    install_to "$build" "$prefix" lib
    export PKG_CONFIG_PATH=$prefix/lib/pkgconfig
    libdir=$(pkg-config --variable=libdir tern)
    [ "$libdir" = "$prefix/lib" ] || { echo "tern.pc names libdir '$libdir', not $prefix/lib"; exit 1; }
    # shellcheck disable=SC2046 # word splitting of the flags is the point
    cc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter "$work/client.c" \
        $(pkg-config --cflags --libs tern) ${TERN_EXTRA_LDFLAGS:-} -o "$work/client"
    check_loader "$work/client" "$libdir"
    check_cmake_consumer "$prefix" "$libdir"

    # Another libdir: a library-only build of the same sources, installed into lib64 once the
    # first install's loader entry is gone (both libraries have the same SONAME).
    check_lib64() {
        rm -f "${confs[0]}"
        ldconfig
        p64=$work/prefix64
        cmake -S "$src" -B "$work/build64" -DCMAKE_INSTALL_LIBDIR=lib64 -DTERN_BUILD_TESTS=OFF \
            -DTERN_BUILD_TOOLS=OFF -DCMAKE_C_COMPILER="$(sed -nE 's/^CMAKE_C_COMPILER:[A-Z]+=//p' \
            "$build/CMakeCache.txt")" >"$work/build64.log" 2>&1 &&
            nice cmake --build "$work/build64" -j 2 >>"$work/build64.log" 2>&1 ||
            { echo "the lib64 build failed"; cat "$work/build64.log"; exit 1; }
        install_to "$work/build64" "$p64" lib64
        [ ! -e "$p64/lib" ] || { echo "the lib64 install wrote into $p64/lib"; ls -R "$p64/lib"; exit 1; }
        lib64=$(PKG_CONFIG_PATH=$p64/lib64/pkgconfig pkg-config --variable=libdir tern)
        [ "$lib64" = "$p64/lib64" ] || { echo "tern.pc of the lib64 install names libdir '$lib64'"; exit 1; }
        # shellcheck disable=SC2046
        cc -std=gnu11 -Wall -Wextra -Werror "$src/tests/consumer/consumer.c" \
            $(PKG_CONFIG_PATH=$p64/lib64/pkgconfig pkg-config --cflags --libs tern) -o "$work/consumer64"
        check_loader "$work/consumer64" "$p64/lib64"
        env -u LD_LIBRARY_PATH "$work/consumer64" | grep -q "^endpoint created" ||
            { echo "the pkg-config consumer of the lib64 install failed"; exit 1; }
        echo "pkg-config consumer against $p64/lib64: ok"
        # Debian's CMake does not search lib64 (multiarch): name the package's directory.
        check_cmake_consumer "$p64" "$p64/lib64" -Dtern_DIR="$p64/lib64/cmake/tern"
    }
    server=$prefix/bin/tern-server
else
    # shellcheck disable=SC2046
    cc -std=gnu11 -Wall -Wextra -Werror -Wno-unused-parameter -I"$src/include" -I"$build/include" \
        "$work/client.c" \
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
[ -z "$installed" ] || check_lib64
