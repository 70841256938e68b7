# Network namespaces for the system tests (sourced, not run): a client namespace with two veth
# links, "wifi" and "cell", into a server namespace. The server's address sits on its loopback
# and is reachable through both links; the client has a default route through each (wifi
# preferred by metric; see netns_setup) and per-source rules, so that a socket bound to the cell address leaves
# through cell whatever the default. The server shapes what it sends on each link with a token
# bucket (tc tbf).
#
#   client ns "$NS_CLI"                       server ns "$NS_SRV"
#     wifi  $CLI_WIFI ---------------------- wifi-s  $SRV_WIFI
#     cell  $CLI_CELL ---------------------- cell-s  $SRV_CELL
#                                             lo      $SRV_ADDR (tern-server listens here)
#
# Every name carries the process id and a random tag, so that runs in parallel never meet, and
# netns_cleanup (installed on EXIT by netns_setup) deletes whatever was made. Needs root.

NETNS_RATE=${NETNS_RATE:-40mbit} # per link, server to client
NETNS_PIDS=""

# Exits 77 (the ctest skip code) with a reason when the harness cannot run here.
netns_require() {
    if [ "$(id -u)" -ne 0 ]; then
        echo "SKIP: needs root to create network namespaces"
        exit 77
    fi
    for c in ip tc ss sha256sum timeout; do
        if ! command -v "$c" >/dev/null 2>&1; then
            echo "SKIP: needs $c"
            exit 77
        fi
    done
    # what the kernel must offer: namespaces, veth links, the tbf qdisc
    local probe="tern-sys-probe-$$-$RANDOM" why=""
    if ! ip netns add "$probe" 2>/dev/null; then
        why="cannot create a network namespace"
    elif ! ip -n "$probe" link add p0 type veth peer name p1 2>/dev/null; then
        why="the kernel has no veth links"
    elif ! ip netns exec "$probe" tc qdisc add dev p0 root tbf rate 1mbit burst 32kb \
        latency 100ms 2>/dev/null; then
        why="the kernel has no tbf qdisc"
    fi
    ip netns del "$probe" 2>/dev/null
    if [ -n "$why" ]; then
        echo "SKIP: $why"
        exit 77
    fi
}

netns_cleanup() {
    local rc=$?
    [ -n "${NETNS_PIDS:-}" ] && kill $NETNS_PIDS 2>/dev/null
    [ -n "${NS_CLI:-}" ] && ip netns del "$NS_CLI" 2>/dev/null
    [ -n "${NS_SRV:-}" ] && ip netns del "$NS_SRV" 2>/dev/null
    [ -n "${NETNS_DIR:-}" ] && rm -rf "$NETNS_DIR"
    return $rc
}

cli() { ip netns exec "$NS_CLI" "$@"; }
srv() { ip netns exec "$NS_SRV" "$@"; }

# netns_setup v4|v6 [OPTION...]: builds the topology. Options:
#   nocell       the cell link is up but the client has no address, rule or route on it (a
#                network that appears later: netns_cell_address)
#   celldefault  cell also has a default route in the main table (metric 200, after wifi's 100),
#                so that when wifi goes the default moves to cell. Without it cell is reachable
#                only from its own address (per-source rule), as a phone's non-default network,
#                and a socket on a dead wifi address gets an error (no route) instead of leaving
#                through cell with the wrong source
netns_setup() {
    FAMILY=$1
    shift
    local cell=cell
    CELL_DEFAULT=0
    for o in "$@"; do
        case $o in
        nocell) cell=nocell ;;
        celldefault) CELL_DEFAULT=1 ;;
        esac
    done
    local tag="tern-sys-$$-$RANDOM"
    NS_CLI="$tag-c"
    NS_SRV="$tag-s"
    NETNS_DIR=$(mktemp -d "/tmp/$tag.XXXXXX")
    trap netns_cleanup EXIT
    trap 'exit 1' INT TERM
    ip netns add "$NS_CLI"
    ip netns add "$NS_SRV"
    if [ "$FAMILY" = v6 ]; then
        CLI_WIFI=fd01::2 SRV_WIFI=fd01::1 CLI_CELL=fd02::2 SRV_CELL=fd02::1 SRV_ADDR=fd99::1
        PLEN=64 HOSTLEN=128 IPF=-6 NODAD=nodad
        SRV_URL_HOST="[$SRV_ADDR]"
    else
        CLI_WIFI=10.1.0.2 SRV_WIFI=10.1.0.1 CLI_CELL=10.2.0.2 SRV_CELL=10.2.0.1 SRV_ADDR=10.99.0.1
        PLEN=24 HOSTLEN=32 IPF=-4 NODAD=
        SRV_URL_HOST=$SRV_ADDR
    fi
    cli ip link set lo up
    srv ip link set lo up
    srv ip $IPF addr add "$SRV_ADDR/$HOSTLEN" dev lo
    ip -n "$NS_CLI" link add wifi type veth peer name wifi-s netns "$NS_SRV"
    ip -n "$NS_CLI" link add cell type veth peer name cell-s netns "$NS_SRV"
    local l
    for l in wifi-s cell-s; do
        srv ip link set "$l" up
        srv tc qdisc add dev "$l" root tbf rate "$NETNS_RATE" burst 32kb latency 100ms
    done
    srv ip $IPF addr add "$SRV_WIFI/$PLEN" dev wifi-s $NODAD
    srv ip $IPF addr add "$SRV_CELL/$PLEN" dev cell-s $NODAD
    cli ip link set wifi up
    cli ip link set cell up
    cli ip $IPF addr add "$CLI_WIFI/$PLEN" dev wifi $NODAD
    cli ip $IPF route add default via "$SRV_WIFI" dev wifi metric 100
    cli ip $IPF rule add from "$CLI_WIFI" table 101 pref 1001
    cli ip $IPF route add default via "$SRV_WIFI" dev wifi table 101
    [ "$cell" = nocell ] || netns_cell_address
    # both carriers up (veth carrier changes go through the kernel's link watch)
    local i
    for i in $(seq 1 50); do
        cli ip link show wifi | grep -q LOWER_UP && cli ip link show cell | grep -q LOWER_UP && break
        sleep 0.05
    done
}

# The client's cell address, its per-source table and (celldefault) its worse main default.
netns_cell_address() {
    cli ip $IPF addr add "$CLI_CELL/$PLEN" dev cell $NODAD
    cli ip $IPF rule add from "$CLI_CELL" table 102 pref 1002
    cli ip $IPF route add default via "$SRV_CELL" dev cell table 102
    [ "$CELL_DEFAULT" = 1 ] && cli ip $IPF route add default via "$SRV_CELL" dev cell metric 200
    return 0
}

# netns_server SIZE_MB: a file of random bytes and tern-server serving it on $SRV_ADDR:4433 (the
# namespace is ours: the port is free). Sets SRC_SHA and SRV_PORT.
netns_server() {
    local bin=$1 mb=$2
    mkdir -p "$NETNS_DIR/root"
    head -c $((mb * 1024 * 1024)) /dev/urandom >"$NETNS_DIR/root/file"
    SRC_SHA=$(sha256sum "$NETNS_DIR/root/file" | cut -d' ' -f1)
    SRV_PORT=4433
    srv "$bin/tern-server" --listen "$SRV_URL_HOST:$SRV_PORT" --root "$NETNS_DIR/root" -q \
        >"$NETNS_DIR/server.log" 2>&1 &
    NETNS_PIDS="$NETNS_PIDS $!"
    local i
    for i in $(seq 1 100); do
        srv ss -Haun "sport = :$SRV_PORT" | grep -q . && return 0
        sleep 0.05
    done
    echo "FAIL: tern-server did not start"
    cat "$NETNS_DIR/server.log"
    return 1
}

# Waits until the client's output file holds at least $1 bytes (or the client ended). Returns 1
# when the client ended first.
netns_wait_bytes() {
    local want=$1 pid=$2 have
    while :; do
        have=$(stat -c %s "$NETNS_DIR/out" 2>/dev/null || echo 0)
        [ "$have" -ge "$want" ] && return 0
        kill -0 "$pid" 2>/dev/null || return 1
        sleep 0.02
    done
}
