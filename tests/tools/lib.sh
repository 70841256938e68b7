# Setup shared by the tools' tests (sourced with the build directory as $1): `build`, `src`, the
# port helpers, a work directory with a test PKI in $work/pki and a www/ directory, removed at
# exit together with the server started by start_server.
build=$(cd "$1" && pwd)
src=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
# shellcheck source=scripts/net-lib.sh
. "$src/scripts/net-lib.sh"
work=$(mktemp -d "${TMPDIR:-/tmp}/tern-tools-test.XXXXXX")
srv=""
tools_cleanup() {
    if [ -n "$srv" ]; then kill -CONT "$srv" 2>/dev/null; kill "$srv" 2>/dev/null; fi
    rm -rf "$work"
}
trap tools_cleanup EXIT
bash "$src/scripts/make-cert.sh" "$work/pki" >/dev/null || exit 1
mkdir -p "$work/www"

# start_server PORT [ARGS...]: tern-server on 127.0.0.1:PORT serving $work/www with the test
# certificate, its output in $work/server.log; sets srv. Returns 1 when it does not start.
start_server() {
    local port=$1
    shift
    "$build/tern-server" --listen "127.0.0.1:$port" --root "$work/www" --cert "$work/pki/cert.pem" \
        --key "$work/pki/key.pem" "$@" >"$work/server.log" 2>&1 &
    srv=$!
    wait_bound "$port" "$srv"
}

# wait_size FILE BYTES: waits (up to 10 s) until FILE holds more than BYTES. Returns 1 if not.
wait_size() {
    for _ in $(seq 1 400); do
        [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt "$2" ] && return 0
        sleep 0.025
    done
    return 1
}

stop_server() {
    [ -n "$srv" ] && kill "$srv" 2>/dev/null
    wait "$srv" 2>/dev/null
    srv=""
}
