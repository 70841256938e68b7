#!/usr/bin/env bash
# Interop suite: tern's tools against ngtcp2's Debian example tools, over HTTP/3, both directions:
#   tern-client -> gtlsserver    and    gtlsclient -> tern-server
# Every case downloads files and checks the SHA-256 of each one against the source. Cases:
# handshake, 50 MB transfer, 10 parallel requests, ChaCha20-Poly1305 only, AES-256-GCM only, key
# update initiated by the client and by the server, Retry, a NEW_TOKEN that skips the Retry of
# the next connection, 5% loss in each direction, HTTP 404
# and 405, server shutdown with GOAWAY during a transfer, connection migration (a client that
# probes then switches, one that switches to an unprobed address, a NAT rebinding, a server's
# preferred address), path MTU discovery over loopback (tern's probes acknowledged, its path past
# 1472 bytes), QUIC versions (v2 is n/a: ngtcp2 0.12.1 has only the draft; a v1 connection that
# offers v2; Version Negotiation to v1 both ways), and session resumption and 0-RTT (the client
# runs twice against one server, the second run resuming the session the first kept). Migration
# uses the loopback addresses 127.0.0.2-127.0.0.4 besides 127.0.0.1.
# One more client: headless Chromium (Debian chromium) loads a page from tern-server over HTTP/3,
# with its stylesheet and a script that fetches and hashes a 20 MB file (skipped, with the
# reason, when chromium cannot start).
#
# usage: tests/interop/run.sh [--matrix FILE] [--only CASE,...] BUILD_DIR
#   --matrix FILE   where the result matrix goes (default: docs/interop.md in the source tree)
#   --only LIST     run only these cases (names as in the matrix's first column)
# environment: INTEROP_VERBOSE=1 runs the ngtcp2 tools without -q (large logs), INTEROP_TERN_LOG=1
#              writes tern's debug log (--log) to each case's tern.log, KEEP=1 keeps the work
#              directory.
# Exit status: 0 when no case failed, 1 otherwise, 77 when the ngtcp2 tools cannot be installed.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
matrix=$root/docs/interop.md
only=""
while [ $# -gt 1 ]; do
    case $1 in
    --matrix) matrix=$2; shift 2 ;;
    --only) only=",$2,"; shift 2 ;;
    *) break ;;
    esac
done
if [ $# -ne 1 ]; then
    echo "usage: $0 [--matrix FILE] [--only CASE,...] BUILD_DIR" >&2
    exit 2
fi
build=$(cd "$1" && pwd) || exit 2
tern_server=$build/tern-server
tern_client=$build/tern-client
for b in "$tern_server" "$tern_client"; do
    if [ ! -x "$b" ]; then
        echo "interop: $b not found; build first" >&2
        exit 1
    fi
done
if ! command -v gtlsserver >/dev/null 2>&1 || ! command -v gtlsclient >/dev/null 2>&1; then
    echo "interop: installing the ngtcp2 tools (ngtcp2-server, ngtcp2-client)"
    bash "$root/scripts/install-deps.sh" || true
fi
if ! command -v gtlsserver >/dev/null 2>&1 || ! command -v gtlsclient >/dev/null 2>&1; then
    echo "interop: skipped: gtlsserver/gtlsclient unavailable (Debian ngtcp2-server, ngtcp2-client)"
    exit 77
fi

tmp=$(mktemp -d "${TMPDIR:-/tmp}/tern-interop.XXXXXX")
server_pid=""
# shellcheck disable=SC2317 # called from traps
stop_server() {
    local i
    if [ -n "$server_pid" ]; then
        kill "$server_pid" 2>/dev/null
        for i in $(seq 1 100); do
            kill -0 "$server_pid" 2>/dev/null || break
            sleep 0.05
        done
        kill -KILL "$server_pid" 2>/dev/null
        wait "$server_pid" 2>/dev/null
        server_pid=""
    fi
}
# shellcheck disable=SC2317
cleanup() {
    stop_server
    if [ -n "${KEEP:-}" ]; then echo "interop: work directory kept: $tmp"; else rm -rf "$tmp"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

quiet_ng=(-q)
[ -n "${INTEROP_VERBOSE:-}" ] && quiet_ng=(--no-quic-dump --no-http-dump)

# shellcheck source=scripts/net-lib.sh
. "$(dirname "$0")/../../scripts/net-lib.sh"

# The pid of the only child of process $1 (the program a `timeout` runs), or $1 itself when it
# has none.
child_pid() {
    local c
    c=$(cat "/proc/$1/task/$1/children" 2>/dev/null)
    c=${c%% *}
    echo "${c:-$1}"
}

# Waits up to $2 seconds for a line matching regex $1 in file $3.
wait_line() {
    local i
    for i in $(seq 1 $(($2 * 20))); do
        grep -Eq "$1" "$3" 2>/dev/null && return 0
        sleep 0.05
    done
    return 1
}

# ---- test data ----
www=$tmp/www
mkdir -p "$www"
head -c 1K /dev/urandom >"$www/small.bin"
head -c 5M /dev/urandom >"$www/5m.bin"
head -c 10M /dev/urandom >"$www/10m.bin"
head -c 20M /dev/urandom >"$www/20m.bin"
head -c 50M /dev/urandom >"$www/50m.bin"
for i in 01 02 03 04 05 06 07 08 09 10; do head -c 1M /dev/urandom >"$www/p$i.bin"; done
bash "$root/scripts/make-cert.sh" "$tmp/pki" || exit 1
declare -A src_sha
for f in "$www"/*.bin; do src_sha[$(basename "$f")]=$(sha256sum "$f" | cut -d' ' -f1); done

prio() { echo "NORMAL:-VERS-ALL:+VERS-TLS1.3:-CIPHER-ALL:+$1"; }

# The browser case's page: the stylesheet colours the status line (a browser applies it only
# when served as text/css), the script (run only from a page rendered as HTML) fetches
# ../20m.bin, hashes it and writes what it received into the DOM.
mkdir -p "$www/browser"
cat >"$www/browser/index.html" <<'HTML'
<!doctype html>
<html><head><meta charset="utf-8"><title>tern interop</title>
<link rel="stylesheet" href="style.css"></head>
<body><p id="status">loading</p><script src="app.js"></script></body></html>
HTML
echo '#status { color: rgb(0, 128, 0); }' >"$www/browser/style.css"
cat >"$www/browser/app.js" <<'JS'
const out = document.getElementById('status');
fetch('../20m.bin').then(r => r.arrayBuffer().then(b => crypto.subtle.digest('SHA-256', b).then(h => {
    const hex = Array.from(new Uint8Array(h)).map(x => x.toString(16).padStart(2, '0')).join('');
    const e = performance.getEntriesByName(r.url)[0];
    out.textContent = 'protocol=' + (e ? e.nextHopProtocol : '?') + ' status=' + r.status +
        ' size=' + b.byteLength + ' sha256=' + hex + ' color=' + getComputedStyle(out).color;
}))).catch(err => { out.textContent = 'error ' + err; });
JS
browser_skip=""
browser_prof=$tmp/chromium-profile
chromium_args=(--headless --no-sandbox --disable-gpu --disable-background-networking
               --disable-component-update --disable-sync --no-first-run)
if [ -z "$only" ] || [[ $only == *",browser,"* ]]; then
    if ! command -v chromium >/dev/null 2>&1; then
        echo "interop: installing chromium for the browser case"
        bash "$root/scripts/install-deps.sh" >/dev/null 2>&1 || true
    fi
    if ! command -v chromium >/dev/null 2>&1; then
        browser_skip="skipped: chromium is not installed (Debian chromium)"
    elif ! timeout 60 chromium "${chromium_args[@]}" --user-data-dir="$(mktemp -d "$tmp/chromium.XXXXXX")" \
            --dump-dom 'data:text/html,<p>ready</p>' 2>"$tmp/chromium-start.log" | grep -q ready; then
        browser_skip="skipped: chromium cannot start: $(grep -v -i dbus "$tmp/chromium-start.log" | tail -n 1 | cut -c1-160)"
    fi
fi
# SPKI hash of the server certificate, the one error Chromium is told to ignore.
spki=$(openssl x509 -pubkey -noout -in "$tmp/pki/cert.pem" | openssl pkey -pubin -outform der |
       openssl dgst -sha256 -binary | base64)

# Loads the page from tern-server on port $1 into headless Chromium, forced onto QUIC for that
# origin; the DOM it ends with goes to $2 (--virtual-time-budget lets the page's fetch finish:
# virtual time stands still while requests are pending). Returns Chromium's exit status.
run_browser() {
    timeout -k 5 "$limit" chromium "${chromium_args[@]}" \
        --user-data-dir="$(mktemp -d "$tmp/chromium.XXXXXX")" --enable-quic \
        --origin-to-force-quic-on="127.0.0.1:$1" --ignore-certificate-errors-spki-list="$spki" \
        --virtual-time-budget=30000 --dump-dom "https://127.0.0.1:$1/browser/index.html" \
        >"$2" 2>"$clilog"
}

# ---- cases ----
cases=(handshake transfer multiplexing chacha20 aes256 keyupdate-client keyupdate-server retry
       loss http-404 http-405 goaway migration-probe migration-unprobed migration-loss nat-rebinding
       preferred-address pmtud quic-v2 compatible-version version-negotiation token browser
       resumption zerortt)
declare -A title=(
    [handshake]="handshake (1 KB file)"
    [transfer]="50 MB download"
    [multiplexing]="10 parallel requests (1 MB each)"
    [chacha20]="ChaCha20-Poly1305 only"
    [aes256]="AES-256-GCM only"
    [keyupdate-client]="key update by the client during a 20 MB transfer"
    [keyupdate-server]="key update by the server during a 20 MB transfer"
    [retry]="Retry (server address validation)"
    [token]="NEW_TOKEN: a second connection to a Retry server skips the Retry"
    [loss]="5% loss each direction, 50 MB"
    [http-404]="missing file: status 404"
    [http-405]="POST: status 405"
    [goaway]="server shutdown (GOAWAY) during a 50 MB transfer"
    [migration-probe]="client migration during a 50 MB download: probe, then switch"
    [migration-unprobed]="client migration during a 50 MB download: switch to an unprobed address"
    [migration-loss]="three client migrations under 3% loss each way, 50 MB"
    [nat-rebinding]="NAT rebinding: the client's port changes without a probe"
    [preferred-address]="server preferred address, 20 MB download"
    [pmtud]="path MTU discovery over loopback: tern's path grows past 1472 bytes, 20 MB download"
    [quic-v2]="QUIC version 2 (RFC 9369) end to end"
    [compatible-version]="client in v1 offering v2, server preferring v2 (RFC 9368 compatible negotiation)"
    [version-negotiation]="client preferring v2: Version Negotiation, then v1 with downgrade check"
    [browser]="headless Chromium instead of gtlsclient: a page, its CSS and script, a 20 MB fetch"
    [resumption]="session resumption: a second connection resumes the first one's session"
    [zerortt]="0-RTT: the second connection's request in early data"
)
dirs=(tc ts)
declare -A dir_title=([tc]="tern-client → gtlsserver" [ts]="gtlsclient → tern-server")
declare -A result

# Sets, for case $1: files to fetch, options for each program, and what to verify.
configure() {
    files=() ng_srv=() ng_cli=() tern_srv=() tern_cli=() want_cipher="" want_ku="" skip=""
    want_retry="" want_status=200 want_loss="" want_goaway="" limit=60
    want_mig="" mig_ip="" want_peer_change="" want_pref="" want_browser="" want_pmtu="" runs=1
    want_resume="" want_early="" want_version="" want_vn="" want_token=""
    case $1 in
    handshake) files=(small.bin) ;;
    transfer) files=(50m.bin); limit=120 ;;
    multiplexing) files=(p01.bin p02.bin p03.bin p04.bin p05.bin p06.bin p07.bin p08.bin p09.bin
                         p10.bin) ;;
    chacha20)
        files=(5m.bin) want_cipher=CHACHA20-POLY1305
        ng_srv=(--ciphers="$(prio CHACHA20-POLY1305)") ng_cli=("${ng_srv[@]}")
        tern_srv=(--ciphers CHACHA20-POLY1305) tern_cli=("${tern_srv[@]}") ;;
    aes256)
        files=(5m.bin) want_cipher=AES-256-GCM
        ng_srv=(--ciphers="$(prio AES-256-GCM)") ng_cli=("${ng_srv[@]}")
        tern_srv=(--ciphers AES-256-GCM) tern_cli=("${tern_srv[@]}") ;;
    keyupdate-client)
        files=(20m.bin) want_ku=1 tern_cli=(--key-update 2M) ng_cli=(--key-update=5ms) ;;
    keyupdate-server)
        files=(20m.bin) want_ku=1 tern_srv=(--key-update 2M)
        [ "$2" = tc ] && skip="n/a: gtlsserver has no option to start a key update" ;;
    retry) files=(small.bin) want_retry=1 ng_srv=(-V) tern_srv=(--retry) ;;
    token)
        files=(small.bin) want_token=1 ng_srv=(-V) tern_srv=(--retry)
        # ngtcp2 0.12.1's gtlsclient writes its token file but cannot read it back ("Could not
        # read token in FILE"), against gtlsserver too: it never presents a token.
        [ "$2" = ts ] && skip="n/a: gtlsclient (ngtcp2 0.12.1) cannot read back the token file it writes" ;;
    loss)
        files=(50m.bin) limit=120 want_loss=1
        # The ngtcp2 side drops 5% of what it sends (-t) and of what it receives (-r): both
        # directions of the link lose packets, whichever tool tern talks to. gtlsserver drops a
        # whole GSO batch at a time, so it sends one datagram per call to lose single packets.
        ng_srv=(-t 0.05 -r 0.05 --max-gso-dgrams=1) ng_cli=(-t 0.05 -r 0.05)
        # The side that only acknowledges sends few packets: loopback datagrams carry up to 8936
        # bytes of the body, and 5 MB made ~590 datagrams and ~170 gtlsclient sends, all of which
        # got through with probability 0.95^170 = 2e-4 per run (more when a loaded machine
        # batches the ACKs). 50 MB makes at least 52428800 / 8936 > 5867 datagrams (measured:
        # ~6600, and 1450-1750 gtlsclient sends, idle and loaded). Even at one acknowledgement
        # per 10 datagrams (587 sends), no drop of them has probability 0.95^587 = 8e-14, and no
        # drop of the data 0.95^5868 = 2e-131.
        ;;
    http-404) files=(missing.bin) want_status=404 ;;
    http-405)
        files=(small.bin) want_status=405 ng_cli=(-m POST)
        [ "$2" = tc ] && skip="n/a: tern-client sends only GET" ;;
    goaway)
        files=(50m.bin) want_goaway=1
        [ "$2" = tc ] && skip="n/a: gtlsserver closes at once on SIGINT, without GOAWAY" ;;
    migration-probe)
        # tern-client probes 127.0.0.2 as soon as the handshake is done and moves there at 30 MB:
        # on a loaded machine 25 MB have arrived within 37 ms, before a probe sent mid-transfer
        # was answered, so the probe starts before the transfer does.
        files=(50m.bin) limit=120 want_mig=probe mig_ip=127.0.0.2
        tern_cli=(--add-local 127.0.0.2@0ms --migrate 127.0.0.2@30MB)
        [ "$2" = ts ] && skip="n/a: gtlsclient has no option to probe a path before it moves" ;;
    migration-unprobed)
        # tern-client moves to 127.0.0.3 at 10 MB; gtlsclient to a new port 20 ms after the
        # handshake (loopback's 8972-byte datagrams bring the 50 MB in under 100 ms). Both send
        # their first PATH_CHALLENGE with the move and do not wait for it.
        files=(50m.bin) limit=120 want_mig=unprobed mig_ip=127.0.0.3 want_peer_change=1
        tern_cli=(--migrate 127.0.0.3@10MB)
        ng_cli=(--change-local-addr=20ms) ;;
    migration-loss)
        # 3% loss each way; tern-client probes 127.0.0.2 and 127.0.0.3 at once, moves to each at
        # 2 and 4 MB, then to 127.0.0.4 unprobed at 6 MB: connection IDs are issued, used and
        # retired while their frames are lost.
        # gtlsserver sends one datagram per call (a drop takes one packet, not a GSO batch).
        # 50 MB is at least 52428800 / 8936 > 5867 datagrams: none dropped has probability
        # 0.97^5867 (about 1e-78); tern-client acknowledges at least one in ten once in bulk,
        # so none of its 587 or more packets dropped has probability 0.97^587 = 2e-8.
        files=(50m.bin) limit=120 want_loss=1
        ng_srv=(-t 0.03 -r 0.03 --max-gso-dgrams=1)
        tern_cli=(--add-local 127.0.0.2@0ms --add-local 127.0.0.3@0ms --migrate 127.0.0.2@2MB
                  --migrate 127.0.0.3@4MB --migrate 127.0.0.4@6MB)
        [ "$2" = ts ] && skip="n/a: gtlsclient has no option to move more than once" ;;
    nat-rebinding)
        # gtlsclient sends nothing from its new port while it only receives (and it drops what
        # still arrives at the old one), so a rebinding during a download would stall it: the
        # port changes 20 ms after the handshake, and the request leaves 200 ms after it.
        files=(20m.bin) want_peer_change=1
        ng_cli=(--change-local-addr=20ms --nat-rebinding --delay-stream=200ms)
        [ "$2" = tc ] && skip="n/a: tern-client validates every new path (see the migration rows)" ;;
    preferred-address)
        files=(20m.bin) want_pref=1 ;;
    pmtud)
        # loopback carries 65508-byte UDP payloads: tern's search goes to its cap (8972 by
        # default) or the peer's max_udp_payload_size, with probes the peer must acknowledge
        files=(20m.bin) want_pmtu=1 ;;
    quic-v2)
        # ngtcp2 0.12.1 has QUIC v2 only as the draft (0x709a50c4, "v2draft"): gtlsclient refuses
        # -v 6b3343cf ("invalid version") and gtlsserver answers RFC 9369's v2 with Version
        # Negotiation; tern speaks only the RFC's.
        skip="n/a: ngtcp2 0.12.1 knows v2 only as draft 0x709a50c4, not RFC 9369's 0x6b3343cf" ;;
    compatible-version)
        # The v2 on offer is not one ngtcp2 can take (and it reads version_information under the
        # draft's codepoint, not 0x11): the connection must stay in v1 and work.
        files=(5m.bin) want_version=v1
        tern_cli=(--quic-version 1 --quic-version 2)
        tern_srv=(--quic-version 2 --quic-version 1) ng_cli=(--other-versions=v1,v2draft) ;;
    version-negotiation)
        # tern-client begins in v2, gtlsserver answers with Version Negotiation, the new attempt
        # is v1; gtlsserver sends no RFC 9368 version information, which RFC 9368 §8 reads as
        # "v1 only" for a v1 connection. gtlsclient begins in draft v2, tern-server answers with
        # Version Negotiation listing v1.
        files=(5m.bin) want_version=v1 want_vn=1
        tern_cli=(--quic-version 2 --quic-version 1) tern_srv=(--quic-version 1)
        ng_cli=(-v v2draft --preferred-versions=v2draft,v1) ;;
    browser)
        want_browser=1
        [ "$2" = tc ] && skip="n/a: a browser is a client"
        [ "$2" = ts ] && [ -n "$browser_skip" ] && skip=$browser_skip ;;
    resumption)
        # both clients keep the session of the first run and resume it in the second; early
        # data is left out so that the row tests resumption alone
        files=(small.bin) runs=2 want_resume=1
        tern_cli=(--session-file "$tmp/resumption-$2.session")
        ng_cli=(--session-file="$tmp/resumption-$2.session" --tp-file="$tmp/resumption-$2.tp"
                --disable-early-data) ;;
    zerortt)
        # the second run sends its request in 0-RTT; tern-server takes early data only when asked
        files=(small.bin) runs=2 want_resume=1 want_early=1
        tern_cli=(--session-file "$tmp/zerortt-$2.session" --early-data)
        tern_srv=(--early-data)
        ng_cli=(--session-file="$tmp/zerortt-$2.session" --tp-file="$tmp/zerortt-$2.tp") ;;
    esac
}

# 1 when an ngtcp2 log shows simulated losses in both directions.
lost_both_ways() {
    grep -q 'Simulated outgoing packet loss' "$1" && grep -q 'Simulated incoming packet loss' "$1"
}

# The object of tern-client's JSON report for the path whose local address is on IP $1, from its
# id to the end of its events (events hold no ']'); empty when there is none.
json_path() {
    local ip_re=${1//./\\.}
    grep -o "{\"id\":[0-9]*,\"local\":\"$ip_re:[0-9]*\"[^]]*" "$2" | head -n 1
}
json_field() { sed -n "s/.*\"$1\":\([0-9]*\).*/\1/p" <<<"$2" | head -n 1; }

# tern-client's report after a scripted migration to IP $2 (`probe`: validated before the switch;
# `unprobed`: switched before validation) in JSON file $3. Sets `why` and returns 1 on failure.
check_client_migration() {
    local kind=$1 ip=$2 json=$3 path recv before_active
    if grep -q '"ran":false' "$json"; then
        fail_case "a scripted step never ran: $(grep -o '"actions":.*' "$json" | cut -c1-200)"
        return 1
    fi
    if grep -o '"actions":.*' "$json" | grep -q '"error"'; then
        fail_case "a scripted step failed: $(grep -o '"actions":.*' "$json" | cut -c1-300)"
        return 1
    fi
    grep -q "\"to\":{\"id\":[0-9]*,\"local\":\"${ip//./\\.}:" "$json" ||
        { fail_case "tern-client never switched to $ip"; return 1; }
    grep -q "\"active_path\":{\"id\":[0-9]*,\"local\":\"${ip//./\\.}:" "$json" ||
        { fail_case "the active path at the end is not from $ip: $(grep -o '"active_path":{[^}]*}' "$json")"; return 1; }
    path=$(json_path "$ip" "$json")
    recv=$(json_field bytes_received "$path")
    # gtlsserver, bound to 127.0.0.1, must answer on the new path: most of the file comes that way.
    if [ "${recv:-0}" -lt 10000000 ]; then
        fail_case "only ${recv:-0} bytes arrived on the path from $ip"
        return 1
    fi
    before_active=${path%%\"event\":\"active\"*}
    if [ "$kind" = probe ] && [[ $before_active != *'"event":"validated"'* ]]; then
        fail_case "the path from $ip was not validated before the switch: $path"
        return 1
    fi
    if [ "$kind" = unprobed ] && [[ $before_active == *'"event":"validated"'* ]]; then
        fail_case "the path from $ip was validated before the switch (expected an unprobed switch)"
        return 1
    fi
    return 0
}

# What Chromium received, from the DOM it printed ($1) and tern-server's log ($2): the page
# rendered (its script ran), the stylesheet applied, the 20 MB file whole over HTTP/3.
check_browser() {
    local dom=$1 log=$2 line want
    line=$(grep -o 'id="status">[^<]*' "$dom" | cut -d'>' -f2)
    want="protocol=h3 status=200 size=$(stat -c %s "$www/20m.bin") sha256=${src_sha[20m.bin]} color=rgb(0, 128, 0)"
    if [ "$line" != "$want" ]; then
        fail_case "the page says '${line:-nothing (no DOM)}', expected '$want'"
        return 1
    fi
    for f in /browser/index.html /browser/style.css /browser/app.js; do
        grep -q "GET $f 200 " "$log" || { fail_case "tern-server did not serve $f"; return 1; }
    done
    grep -q "GET /20m.bin 200 $(stat -c %s "$www/20m.bin") bytes" "$log" ||
        { fail_case "tern-server did not send the whole of /20m.bin"; return 1; }
    return 0
}

fail_case() {
    why=$1
    return 1
}

show_logs() {
    local f
    for f in "$@"; do
        [ -s "$f" ] || continue
        echo "    --- $(basename "$f") (last 40 lines)"
        tail -n 40 "$f" | cut -c1-300 | sed 's/^/    | /'
    done
}

# Runs case $1 in direction $2; sets `why` on failure. Returns 0 on success.
run_one() {
    local name=$1 dir=$2 port pport="" work out srvlog clilog json rc f got urls=()
    why=""
    port=$(free_port) || { why="no free port"; return 1; }
    if [ -n "$want_pref" ]; then
        pport=$(free_port) || { why="no free port"; return 1; }
        [ "$pport" = "$port" ] && pport=$((port + 1))
        ng_srv+=(--preferred-ipv4-addr="127.0.0.4:$pport")
        tern_srv+=(--preferred-address "127.0.0.4:$pport")
    fi
    work=$tmp/$name-$dir
    out=$work/out
    mkdir -p "$out"
    srvlog=$work/server.log
    clilog=$work/client.log
    json=$work/client.json
    for f in "${files[@]}"; do urls+=("https://127.0.0.1:$port/$f"); done
    if [ -n "$want_vn" ] && [ "$dir" = tc ]; then
        tern_cli+=(--log "$work/tern-vn.log")
    fi
    if [ -n "$want_token" ]; then
        tern_cli+=(--token-file "$work/token")
        ng_cli+=(--token-file="$work/token")
    fi
    if [ -n "${INTEROP_TERN_LOG:-}" ]; then
        tern_cli+=(--log "$work/tern.log")
        tern_srv+=(--log "$work/tern.log")
    fi

    if [ "$dir" = tc ]; then
        if [ -n "$want_retry" ] || [ -n "$want_loss" ] || [ -n "$want_token" ]; then
            timeout -k 5 $((limit + 30)) gtlsserver --no-quic-dump --no-http-dump "${ng_srv[@]}" \
                -d "$www" 127.0.0.1 "$port" "$tmp/pki/key.pem" "$tmp/pki/cert.pem" \
                >"$srvlog" 2>&1 &
        else
            timeout -k 5 $((limit + 30)) gtlsserver "${quiet_ng[@]}" "${ng_srv[@]}" -d "$www" \
                127.0.0.1 "$port" "$tmp/pki/key.pem" "$tmp/pki/cert.pem" >"$srvlog" 2>&1 &
        fi
    else
        timeout -k 5 $((limit + 30)) "$tern_server" --listen "127.0.0.1:$port" --root "$www" \
            --cert "$tmp/pki/cert.pem" --key "$tmp/pki/key.pem" "${tern_srv[@]}" >"$srvlog" 2>&1 &
    fi
    server_pid=$!
    if ! wait_bound "$port" "$server_pid" || { [ -n "$pport" ] && ! wait_bound "$pport" "$server_pid"; }; then
        fail_case "server did not start"
        return 1
    fi

    local run
    for run in $(seq 2 "$runs"); do
        # an earlier connection whose session the last one resumes (checked by its exit status)
        if [ "$dir" = tc ]; then
            timeout -k 5 "$limit" "$tern_client" --ca "$tmp/pki/ca.pem" --json -o "$out/first.bin" \
                "${tern_cli[@]}" "${urls[@]}" >"$work/first.json" 2>"$work/first.log"
        else
            timeout -k 5 "$limit" gtlsclient "${quiet_ng[@]}" --exit-on-all-streams-close \
                --download "$out/first" "${ng_cli[@]}" 127.0.0.1 "$port" "${urls[@]}" \
                >"$work/first.log" 2>&1
        fi
        rc=$?
        [ "$rc" -eq 0 ] || { fail_case "connection $((run - 1)) of $runs: client exit status $rc"; return 1; }
    done

    # NEW_TOKEN: a first connection (through a Retry) that leaves a token in the token file
    if [ -n "$want_token" ]; then
        mkdir -p "$work/first"
        if [ "$dir" = tc ]; then
            timeout -k 5 "$limit" "$tern_client" --ca "$tmp/pki/ca.pem" --json \
                -o "$work/first/${files[0]}" "${tern_cli[@]}" "${urls[@]}" >"$work/first.json" \
                2>"$work/first.log" || { fail_case "the first connection failed"; return 1; }
            grep -q '"tokens_received":[1-9]' "$work/first.json" ||
                { fail_case "gtlsserver sent no NEW_TOKEN"; return 1; }
        else
            timeout -k 5 "$limit" gtlsclient --no-quic-dump --no-http-dump \
                --exit-on-all-streams-close --download "$work/first" "${ng_cli[@]}" 127.0.0.1 \
                "$port" "${urls[@]}" >"$work/first.log" 2>&1 ||
                { fail_case "the first connection failed"; return 1; }
            grep -q 'type=Retry' "$work/first.log" ||
                { fail_case "the first connection got no Retry"; return 1; }
        fi
        [ -s "$work/token" ] || { fail_case "no token was stored after the first connection"; return 1; }
    fi

    if [ "$dir" = tc ]; then
        local dest=$out
        [ ${#files[@]} -eq 1 ] && dest=$out/${files[0]}
        timeout -k 5 "$limit" "$tern_client" --ca "$tmp/pki/ca.pem" --json -o "$dest" \
            "${tern_cli[@]}" "${urls[@]}" >"$json" 2>"$clilog"
        rc=$?
    elif [ -n "$want_browser" ]; then
        run_browser "$port" "$work/dom.html"
        rc=$?
        wait_line ' closed: ' 2 "$srvlog" || stop_server
    else
        local verbose=("${quiet_ng[@]}")
        [ -n "$want_retry" ] || [ -n "$want_loss" ] || [ -n "$want_pref" ] || [ -n "$want_vn" ] ||
            [ -n "$want_token" ] &&
            verbose=(--no-quic-dump --no-http-dump)
        timeout -k 5 "$limit" gtlsclient "${verbose[@]}" --exit-on-all-streams-close \
            --download "$out" "${ng_cli[@]}" 127.0.0.1 "$port" "${urls[@]}" >"$clilog" 2>&1 &
        local client_pid=$!
        if [ -n "$want_goaway" ]; then
            # SIGINT once the transfer runs: GOAWAY, the response in progress must still finish.
            # The signal goes to tern-server itself: `timeout` forwards a signal it receives to
            # its child and to its process group, so the server would get it twice, and a
            # second signal means "skip the grace period".
            wait_line 'connected: ' 10 "$srvlog"
            kill -INT "$(child_pid "$server_pid")" 2>/dev/null
        fi
        wait "$client_pid"
        rc=$?
        # The server reports the connection (cipher, key updates, losses) once it is closed: by
        # the client, or, when its CONNECTION_CLOSE was lost, by the server's own shutdown.
        wait_line ' closed: ' 2 "$srvlog" || stop_server
    fi

    if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
        fail_case "client timed out after ${limit}s"
        return 1
    fi
    if [ "$want_status" != 200 ]; then
        if [ "$dir" = tc ]; then
            [ "$rc" -eq 1 ] || { fail_case "tern-client exit $rc, expected 1 for status $want_status"; return 1; }
            grep -q "\"status\":$want_status" "$json" || { fail_case "no status $want_status in the JSON report"; return 1; }
        else
            [ "$rc" -eq 0 ] || { fail_case "gtlsclient exit $rc"; return 1; }
            grep -Eq " [A-Z]+ /${files[0]} $want_status " "$srvlog" || { fail_case "tern-server did not log status $want_status"; return 1; }
        fi
        return 0
    fi
    if [ "$rc" -ne 0 ]; then
        fail_case "client exit status $rc"
        return 1
    fi
    for f in "${files[@]}"; do
        got=$(sha256sum "$out/$f" 2>/dev/null | cut -d' ' -f1)
        if [ "$got" != "${src_sha[$f]}" ]; then
            fail_case "$f: sha256 mismatch ($(stat -c %s "$out/$f" 2>/dev/null || echo 0) bytes)"
            return 1
        fi
    done
    if [ "$dir" = tc ]; then
        grep -q '"alpn":"h3"' "$json" || { fail_case "ALPN is not h3"; return 1; }
        if [ -n "$want_cipher" ] && ! grep -q "\"cipher\":\"$want_cipher\"" "$json"; then
            fail_case "negotiated $(grep -o '"cipher":"[^"]*"' "$json"), expected $want_cipher"
            return 1
        fi
        if [ -n "$want_ku" ] && grep -q '"key_updates":0,' "$json"; then
            fail_case "no key update happened"
            return 1
        fi
        if [ -n "$want_loss" ] && ! lost_both_ways "$srvlog"; then
            fail_case "gtlsserver did not drop packets both ways"
            return 1
        fi
        if [ -n "$want_retry" ] && ! grep -q 'Sending Retry packet' "$srvlog"; then
            fail_case "gtlsserver sent no Retry"
            return 1
        fi
        if [ -n "$want_version" ] && ! grep -q "\"quic_version\":\"$want_version\"" "$json"; then
            fail_case "negotiated $(grep -o '"quic_version":"[^"]*"' "$json"), expected $want_version"
            return 1
        fi
        if [ -n "$want_vn" ] && ! grep -q 'version negotiation: 0x00000001 instead of 0x6b3343cf' "$work/tern-vn.log"; then
            fail_case "tern-client did not move from v2 to v1 on Version Negotiation"
            return 1
        fi
        if [ -n "$want_token" ]; then
            grep -q '"token_sent":true' "$json" ||
                { fail_case "tern-client did not present the token"; return 1; }
            [ "$(grep -c 'Sending Retry packet' "$srvlog")" = 1 ] ||
                { fail_case "gtlsserver sent $(grep -c 'Sending Retry packet' "$srvlog") Retry packets for two connections, expected 1"; return 1; }
        fi
        if [ -n "$want_mig" ] && ! check_client_migration "$want_mig" "$mig_ip" "$json"; then
            return 1
        fi
        if [ -n "$want_pmtu" ]; then
            local p mtu
            p=$(json_path 127.0.0.1 "$json")
            mtu=$(json_field mtu "$p")
            [ "${mtu:-0}" -gt 1472 ] && [ "$mtu" = "$(json_field mtu_max "$p")" ] ||
                { fail_case "tern-client's path found ${mtu:-no} MTU (most: $(json_field mtu_max "$p"))"; return 1; }
        fi
        if [ -n "$want_resume" ]; then
            grep -q '"resumed":false' "$work/first.json" ||
                { fail_case "the first connection did not make a full handshake"; return 1; }
            grep -q '"resumed":true' "$json" ||
                { fail_case "the second connection did not resume the session"; return 1; }
        fi
        if [ -n "$want_early" ]; then
            grep -q '"early_data_attempted":true' "$json" ||
                { fail_case "tern-client sent no 0-RTT"; return 1; }
            grep -q '"early_data_accepted":true' "$json" ||
                { fail_case "gtlsserver did not accept the 0-RTT"; return 1; }
        elif [ -n "$want_resume" ] && ! grep -q '"early_data_attempted":false' "$json"; then
            fail_case "tern-client sent 0-RTT without --early-data"
            return 1
        fi
        if [ -n "$want_pref" ]; then
            grep -q "\"active_path\":{\"id\":[0-9]*,\"local\":\"[^\"]*\",\"remote\":\"127\.0\.0\.4:$pport\"" "$json" ||
                { fail_case "tern-client did not end on the preferred address 127.0.0.4:$pport: $(grep -o '"active_path":{[^}]*}' "$json")"; return 1; }
            grep -q '"reason":"server preferred address"' "$json" ||
                { fail_case "no switch for the server's preferred address in tern-client's report"; return 1; }
        fi
    else
        grep -q 'connected: ALPN h3' "$srvlog" || { fail_case "ALPN is not h3"; return 1; }
        if [ -n "$want_browser" ]; then
            check_browser "$work/dom.html" "$srvlog" || return 1
        fi
        if [ -n "$want_cipher" ] && ! grep -q "connected: ALPN h3, $want_cipher" "$srvlog"; then
            fail_case "negotiated $(grep -o 'connected: .*' "$srvlog" | head -1), expected $want_cipher"
            return 1
        fi
        if [ -n "$want_version" ] && ! grep -q "connected: ALPN h3, [^,]*, QUIC $want_version\$" "$srvlog"; then
            fail_case "tern-server: $(grep -o 'connected: .*' "$srvlog" | head -1), expected QUIC $want_version"
            return 1
        fi
        if [ -n "$want_vn" ] && ! grep -q 'version=0x00000000 type=VN' "$clilog"; then
            fail_case "gtlsclient received no Version Negotiation"
            return 1
        fi
        if [ -n "$want_ku" ] && ! grep -Eq ' [1-9][0-9]* key updates' "$srvlog"; then
            fail_case "tern-server saw no key update"
            return 1
        fi
        if [ -n "$want_loss" ] && ! lost_both_ways "$clilog"; then
            fail_case "gtlsclient did not drop packets both ways"
            return 1
        fi
        if [ -n "$want_loss" ] && ! grep -Eq ' [1-9][0-9]* packets lost' "$srvlog"; then
            fail_case "tern-server detected no packet loss"
            return 1
        fi
        if [ -n "$want_goaway" ]; then
            for _ in $(seq 1 300); do kill -0 "$server_pid" 2>/dev/null || break; sleep 0.05; done
            wait "$server_pid"
            rc=$?
            server_pid=""
            [ "$rc" -eq 0 ] || { fail_case "tern-server exit status $rc after SIGINT"; return 1; }
            grep -q "GET /${files[0]} 200 " "$srvlog" || { fail_case "the response was not completed"; return 1; }
            if [ "$(grep -n -m1 'shutting down' "$srvlog" | cut -d: -f1)" -gt \
                "$(grep -n -m1 "GET /${files[0]} 200 " "$srvlog" | cut -d: -f1)" ]; then
                fail_case "the transfer ended before the shutdown began"
                return 1
            fi
        fi
        if [ -n "$want_retry" ] && ! grep -q 'type=Retry' "$clilog"; then
            fail_case "gtlsclient received no Retry"
            return 1
        fi
        if [ -n "$want_resume" ]; then
            [ "$(grep -c 'connected: ALPN h3' "$srvlog")" -eq 2 ] ||
                { fail_case "tern-server did not log two connections"; return 1; }
            grep 'connected: ALPN h3' "$srvlog" | head -n 1 | grep -q ', resumed' &&
                { fail_case "the first connection was resumed"; return 1; }
            grep 'connected: ALPN h3' "$srvlog" | tail -n 1 | grep -q ', resumed' ||
                { fail_case "tern-server did not resume the second connection"; return 1; }
        fi
        if [ -n "$want_early" ]; then
            grep 'connected: ALPN h3' "$srvlog" | tail -n 1 | grep -q ', 0-RTT accepted' ||
                { fail_case "tern-server did not accept 0-RTT"; return 1; }
            grep -q 'GET /small.bin' "$srvlog" || { fail_case "no request logged"; return 1; }
        elif [ -n "$want_resume" ] && grep -q '0-RTT accepted' "$srvlog"; then
            fail_case "0-RTT was accepted though gtlsclient disabled it"
            return 1
        fi
        if [ -n "$want_token" ] && grep -q 'type=Retry' "$clilog"; then
            fail_case "gtlsclient received a Retry although it presented its token"
            return 1
        fi
        if [ -n "$want_peer_change" ] && ! grep -q ' peer address changed: ' "$srvlog"; then
            fail_case "tern-server logged no peer address change"
            return 1
        fi
        if [ -n "$want_pmtu" ]; then
            local mtu
            mtu=$(grep -o 'path MTU [0-9]*' "$srvlog" | tail -n 1 | cut -d' ' -f3)
            [ "${mtu:-0}" -gt 1472 ] ||
                { fail_case "tern-server's path found ${mtu:-no} MTU: $(grep -o 'path MTU .*' "$srvlog" | tail -n 1)"; return 1; }
        fi
        if [ -n "$want_pref" ]; then
            grep -q 'selected server preferred_address is \[127\.0\.0\.4\]' "$clilog" ||
                { fail_case "gtlsclient did not select the preferred address"; return 1; }
            grep -q "peer address changed: .*now at our 127\.0\.0\.4:$pport" "$srvlog" ||
                { fail_case "tern-server saw no client at its preferred address 127.0.0.4:$pport"; return 1; }
        fi
    fi
    return 0
}

echo "interop: tern ($build) against ngtcp2 $(dpkg-query -W -f='${Version}' ngtcp2-client 2>/dev/null || echo '?')"
failed=0
for name in "${cases[@]}"; do
    if [ -n "$only" ] && [[ $only != *",$name,"* ]]; then
        continue
    fi
    for dir in "${dirs[@]}"; do
        configure "$name" "$dir"
        label=$(printf '%-18s %-26s' "$name" "${dir_title[$dir]}")
        [ -n "$want_browser" ] && [ "$dir" = ts ] &&
            label=$(printf '%-18s %-26s' "$name" "chromium → tern-server")
        if [ -n "$skip" ]; then
            result[$name.$dir]=$skip
            echo "  $label $skip"
            continue
        fi
        t0=$(date +%s%N)
        if run_one "$name" "$dir"; then
            ms=$((($(date +%s%N) - t0) / 1000000))
            result[$name.$dir]=pass
            echo "  $label pass (${ms} ms)"
        else
            result[$name.$dir]="FAIL: $why"
            failed=1
            echo "  $label FAIL: $why"
            show_logs "$tmp/$name-$dir/server.log" "$tmp/$name-$dir/client.log" \
                "$tmp/$name-$dir/client.json" "$tmp/$name-$dir/tern.log"
        fi
        stop_server
    done
done

# ---- the matrix ----
{
    echo "# Interop matrix: tern against ngtcp2"
    echo
    echo "tern's \`tern-server\` and \`tern-client\` (HTTP/3 on their own layer) against ngtcp2's"
    echo "Debian example tools \`gtlsserver\` and \`gtlsclient\` (ngtcp2" \
        "$(dpkg-query -W -f='${Version}' ngtcp2-client 2>/dev/null || echo '?'), nghttp3" \
        "$(dpkg-query -W -f='${Version}' libnghttp3-3 2>/dev/null || echo '?'), GnuTLS" \
        "$(dpkg-query -W -f='${Version}' libgnutls30 2>/dev/null || echo '?')) over loopback."
    echo "Every case checks the SHA-256 of each downloaded file against the source."
    echo
    echo "Regenerate with \`bash tests/interop/run.sh BUILD_DIR\` (for example \`build\` after"
    echo "\`make build\`); \`make test\` runs the same suite and writes its matrix to"
    echo "\`BUILD_DIR/interop.md\`."
    echo
    echo "| case | ${dir_title[tc]} | ${dir_title[ts]} |"
    echo "| --- | --- | --- |"
    for name in "${cases[@]}"; do
        if [ -n "$only" ] && [[ $only != *",$name,"* ]]; then
            continue
        fi
        echo "| ${title[$name]} | ${result[$name.tc]:-} | ${result[$name.ts]:-} |"
    done
    echo
    echo "How each case is run (the tern side gets the same settings in both directions):"
    echo
    echo "- ciphers: both peers restricted to the one AEAD (\`--ciphers\`); the negotiated one is"
    echo "  checked in tern's report."
    echo "- key update by the client: \`tern-client --key-update 2M\`, \`gtlsclient --key-update=5ms\`;"
    echo "  by the server: \`tern-server --key-update 2M\` (gtlsserver has no such option). tern"
    echo "  must report at least one key update."
    echo "- Retry: \`gtlsserver -V\`, \`tern-server --retry\`; the Retry is checked in ngtcp2's log."
    echo "- NEW_TOKEN: the same servers; the client runs twice with a token file (\`--token-file\`)."
    echo "  The first connection goes through a Retry and stores the server's NEW_TOKEN; the second"
    echo "  presents it and gets no Retry (gtlsclient's log; gtlsserver sends one Retry in all)."
    echo "- GOAWAY: tern-server gets SIGINT while gtlsclient downloads; the download must complete"
    echo "  and the server must exit with status 0."
    echo "- loss: the ngtcp2 side drops 5% of the datagrams it sends (\`-t 0.05\`) and of those it"
    echo "  receives (\`-r 0.05\`), so both directions of the path lose packets (gtlsserver with"
    echo "  \`--max-gso-dgrams=1\`, since it drops whole GSO batches); its log must show drops both"
    echo "  ways."
    echo "- migration (tern-client): \`--add-local 127.0.0.2@0ms --migrate 127.0.0.2@30MB\` (probe,"
    echo "  then switch) or \`--migrate 127.0.0.3@10MB\` (switch at once, validation running) against"
    echo "  gtlsserver bound to 127.0.0.1; tern-client's report must show every step done, the switch"
    echo "  (after validation, or before it), the new path active at the end and most of the file"
    echo "  received on it."
    echo "- migration (gtlsclient): \`--change-local-addr=100ms\` (a new port, used at once while"
    echo "  gtlsclient validates it); NAT rebinding: \`--change-local-addr=20ms --nat-rebinding"
    echo "  --delay-stream=200ms\` (no validation by the client; gtlsclient sends nothing from a"
    echo "  rebound port while it only receives, so the rebinding comes before the request)."
    echo "  tern-server must log the peer address change."
    echo "- browser: \`chromium --headless --enable-quic --origin-to-force-quic-on=127.0.0.1:PORT"
    echo "  --ignore-certificate-errors-spki-list=HASH --virtual-time-budget=30000 --dump-dom\`"
    echo "  loads a page whose stylesheet colours a line and whose script fetches the 20 MB file and"
    echo "  writes its protocol, status, size and SHA-256 into the DOM; the DOM must show h3, 200,"
    echo "  the whole file's hash and the colour, and tern-server's log every request."
    echo "- QUIC versions: Debian's ngtcp2 0.12.1 implements the drafts of QUIC v2 (version"
    echo "  0x709a50c4, \`v2draft\`) and of compatible version negotiation, not RFC 9369's v2"
    echo "  (0x6b3343cf: \`gtlsclient -v 6b3343cf\` is an \"invalid version\", gtlsserver answers it"
    echo "  with Version Negotiation) nor RFC 9368's version_information (0x11, which it ignores), so"
    echo "  v2 itself cannot be tested against it. Compatible negotiation: \`tern-client"
    echo "  --quic-version 1 --quic-version 2\`, \`tern-server --quic-version 2 --quic-version 1\`"
    echo "  against \`gtlsclient --other-versions=v1,v2draft\`: the connection must stay in v1 (tern's"
    echo "  report, tern-server's log). Version Negotiation: \`tern-client --quic-version 2"
    echo "  --quic-version 1\` gets gtlsserver's VN and must try again in v1 (tern's log) and accept"
    echo "  a v1 server without version information (RFC 9368 §8); \`gtlsclient -v v2draft"
    echo "  --preferred-versions=v2draft,v1\` gets tern-server's VN (gtlsclient's log) and continues"
    echo "  in v1. The v2 itself, the upgrade from v1 to v2 and the downgrade checks are tested"
    echo "  tern against tern (\`tests/sim/scenarios_versions.c\`, \`tests/tools/versions.sh\`)."
    echo "- preferred address: \`gtlsserver --preferred-ipv4-addr=127.0.0.4:PORT\`, \`tern-server"
    echo "  --preferred-address 127.0.0.4:PORT\`; the client must end on it (tern-client's report;"
    echo "  gtlsclient's log and tern-server's)."
    echo "- resumption: the client runs twice against one server; the first run keeps the session"
    echo "  (\`tern-client --session-file F\`; \`gtlsclient --session-file=F --tp-file=T"
    echo "  --disable-early-data\`), the second resumes it: tern-client's report says \`resumed\`,"
    echo "  tern-server logs the second connection as resumed and the first one not."
    echo "- 0-RTT: the same with \`tern-client --early-data\` and gtlsclient's early data on, against"
    echo "  gtlsserver and \`tern-server --early-data\`; tern-client's report must say the 0-RTT was"
    echo "  attempted and accepted, tern-server must log it accepted, and the file must match."
} >"$matrix.tmp" && mv "$matrix.tmp" "$matrix"
echo "interop: matrix written to $matrix"
exit $failed
