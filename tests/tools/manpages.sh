#!/usr/bin/env bash
# The tools' documentation agrees with the tools: `--help` exits 0 and writes to stdout only,
# `--version` prints the version of tern/version.h, every option --help lists is in the man page
# and every option the man page documents is in --help, and the man page renders without a
# single warning (groff -ww, and man --warnings as a reader's man would).
#   tests/tools/manpages.sh BUILD_DIR
set -euo pipefail
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "$0")/../.." && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/tern-manpages.XXXXXX")
trap 'rm -rf "$work"' EXIT
version=$(sed -nE 's/^#define TERN_VERSION_STRING "(.*)"$/\1/p' "$build/include/tern/version.h")
[ -n "$version" ] || { echo "no TERN_VERSION_STRING in $build/include/tern/version.h"; exit 1; }

# Options named in a text: --long ones, and short ones (-q) not inside a word or a number.
options() {
    grep -oE '(^|[^-[:alnum:]])--?[[:alpha:]][[:alnum:]-]*' | sed -E 's/^[^-]+//' |
        grep -E '^(--[[:alnum:]-]+|-[[:alpha:]])$' | sort -u
}

status=0
for tool in tern-client tern-server; do
    bin=$build/$tool
    page=$src/docs/man/$tool.1
    [ -x "$bin" ] || { echo "no $bin"; exit 1; }
    [ -f "$page" ] || { echo "no man page $page"; status=1; continue; }

    rc=0
    "$bin" --help >"$work/help" 2>"$work/help.err" || rc=$?
    if [ $rc -ne 0 ] || [ -s "$work/help.err" ] || [ ! -s "$work/help" ]; then
        echo "$tool --help: exit $rc, $(wc -c <"$work/help") bytes on stdout, stderr: $(cat "$work/help.err")"
        status=1
    fi
    got=$("$bin" --version 2>&1 | head -1) || true
    if [ "$got" != "$tool $version" ]; then
        echo "$tool --version printed '$got', expected '$tool $version'"
        status=1
    fi

    # The option lines of --help (indented), and the page's text with roff escapes undone.
    grep -E '^  +-' "$work/help" | options >"$work/help.opts"
    sed -E 's/\\-/-/g; s/\\f[BIRP]//g; s/\\\(..//g' "$page" | grep -v '^\.\\"' | options >"$work/man.opts"
    [ -s "$work/help.opts" ] || { echo "$tool: no option found in --help"; status=1; }
    only_help=$(comm -23 "$work/help.opts" "$work/man.opts")
    only_man=$(comm -13 "$work/help.opts" "$work/man.opts")
    [ -z "$only_help" ] || { echo "$tool: in --help, not in $page:" $only_help; status=1; }
    [ -z "$only_man" ] || { echo "$tool: in $page, not in --help:" $only_man; status=1; }

    warn=$(groff -man -ww -z "$page" 2>&1)
    [ -z "$warn" ] || { echo "$tool.1: groff warnings:"; echo "$warn"; status=1; }
    warn=$(MANWIDTH=80 man --warnings -l "$page" 2>&1 >/dev/null)
    [ -z "$warn" ] || { echo "$tool.1: man warnings:"; echo "$warn"; status=1; }
    [ $status -eq 0 ] && echo "$tool: --help, --version and $tool.1 agree ($(wc -l <"$work/help.opts") options)"
done
exit $status
