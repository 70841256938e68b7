#!/usr/bin/env bash
# The shared library's exports are the public API, both ways: every symbol that libtern.so defines
# in its dynamic table is a function declared in a tern/ header, and every function declared there
# is exported. The declarations come from the compiler itself (gcc -aux-info over every header of
# include/tern and the generated ones of the build), so macros and line breaks do not matter.
#   tests/tools/abi-symbols.sh BUILD_DIR
set -euo pipefail
shopt -s nullglob
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
lib=$build/libtern.so
[ -e "$lib" ] || { echo "no $lib"; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/tern-abi-symbols.XXXXXX")
trap 'rm -rf "$work"' EXIT

headers=("$src"/include/tern/*.h "$build"/include/tern/*.h)
for h in "${headers[@]}"; do echo "#include \"$h\""; done >"$work/all.c"
gcc -std=gnu11 -I"$src/include" -I"$build/include" -aux-info "$work/aux" -fsyntax-only "$work/all.c"
# "/* FILE:LINE:NC */ extern TYPE NAME (ARGS);" for every function declared; keep ours.
grep -E "^/\* [^ ]*/include/tern/[^ ]*\.h:" "$work/aux" |
    sed -E 's/^[^*]*\*\/ *//; s/ *\(.*$//; s/.*[ *]//' | sort -u >"$work/declared"
# Instrumented builds add symbols that are not functions of the library: the linker's
# __start_/__stop_ symbols of the sanitizer's coverage sections, and gcov's runtime (libgcov,
# linked in by the coverage build: __gcov_*, mangle_path). Left out.
nm -D --defined-only "$lib" | awk '{print $NF}' |
    grep -Ev '^(__(start|stop)___sancov_|__gcov_|mangle_path$)' | sort -u >"$work/exported"
[ -s "$work/declared" ] || { echo "no function found in the headers"; exit 1; }

status=0
extra=$(comm -13 "$work/declared" "$work/exported")
missing=$(comm -23 "$work/declared" "$work/exported")
if [ -n "$extra" ]; then
    echo "exported by libtern.so but declared in no tern/ header ($(echo "$extra" | wc -l)):"
    echo "$extra" | head -40 | sed 's/^/  /'
    status=1
fi
if [ -n "$missing" ]; then
    echo "declared in a tern/ header but not exported (TERN_API missing?):"
    echo "$missing" | sed 's/^/  /'
    status=1
fi
[ $status -eq 0 ] && echo "libtern.so exports exactly the $(wc -l <"$work/declared") functions of the headers"
exit $status
