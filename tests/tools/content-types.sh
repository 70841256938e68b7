#!/usr/bin/env bash
# tern-server's content types by file extension, as tern-client receives them (its --json report
# has each response's content-type): from /etc/mime.types (Debian media-types), from another
# table given with --mime-types (the first line naming an extension wins, case does not matter),
# and from the built-in types when the table cannot be read.
#   tests/tools/content-types.sh BUILD_DIR
set -uo pipefail
# shellcheck source=tests/tools/lib.sh
. "$(dirname "$0")/lib.sh" "$1"
mkdir -p "$work/www/sub"
for f in index.html style.css app.js data.json logo.png notes.txt doc.pdf blob.xyzzy UPPER.HTML \
    noext sub/index.html; do
    echo "$f" >"$work/www/$f"
done
printf '# a comment\ntext/x-first xyzzy\ntext/x-second xyzzy pdf\n\nnot-a-type html\n' \
    >"$work/types"
failed=0

# serve MIME_ARGS... -- then expects "path=type" pairs.
run_case() {
    local name=$1 port json got want path
    shift
    local args=()
    while [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    port=$(free_port)
    start_server "$port" -q "${args[@]}" || { echo "  $name FAIL: server did not start"; failed=1; return; }
    local urls=()
    for pair in "$@"; do urls+=("https://127.0.0.1:$port/${pair%%=*}"); done
    json=$(timeout 20 "$build/tern-client" -q --json --ca "$work/pki/ca.pem" "${urls[@]}")
    stop_server
    for pair in "$@"; do
        path=${pair%%=*}
        want=${pair#*=}
        got=$(grep -o "{\"url\":\"https://127.0.0.1:$port/${path//./\\.}\"[^}]*}" <<<"$json" |
            sed -n 's/.*"content_type":"\([^"]*\)".*/\1/p')
        if [ "$got" != "$want" ]; then
            echo "  $name FAIL: /$path served as '${got:-none}', expected '$want'"
            failed=1
        fi
    done
    echo "  $name: $# files checked"
}

if [ -r /etc/mime.types ]; then
    run_case system -- index.html=text/html style.css=text/css app.js=text/javascript \
        data.json=application/json logo.png=image/png notes.txt=text/plain \
        doc.pdf=application/pdf UPPER.HTML=text/html sub/=text/html blob.xyzzy=application/octet-stream \
        noext=application/octet-stream
else
    echo "  system: skipped: no /etc/mime.types (Debian media-types)"
fi
run_case own-table --mime-types "$work/types" -- blob.xyzzy=text/x-first doc.pdf=text/x-second \
    index.html=text/html style.css=text/css noext=application/octet-stream
run_case builtin --mime-types "$work/absent" -- index.html=text/html style.css=text/css \
    app.js=text/javascript data.json=application/json logo.png=image/png notes.txt=text/plain \
    doc.pdf=application/octet-stream
exit $failed
