# Two-link test network in namespaces, for the failover demo, the benchmark and the system tests
# (sourced, not run).
#
#   client namespace                                  server namespace
#     wifi 10.71.1.2/24  <--- veth, shaped --->  s-wifi 10.71.1.1/24
#     cell 10.71.2.2/24  <--- veth, shaped --->  s-cell 10.71.2.1/24     10.71.0.1/32 on lo
#
# (IPv6: fd71:1::2/64, fd71:2::2/64 and fd71::1/128 in the same places.) The client routes per
# source address (RFC 1122 multihoming as phones do it): table 101 sends from the wifi address
# through wifi, table 102 from the cell address through cell, and the main table's default route
# prefers wifi. The server reaches each client subnet on its own link. Links are created inside
# the namespaces, so nothing is named in the host's namespace but the two namespaces, whose names
# carry a caller-chosen prefix. Needs root and iproute2.
#
#   ns_setup PREFIX [v4|v6]  creates "$PREFIX-c" and "$PREFIX-s" (sets NS_C, NS_S and the
#                      addresses below for that family); ns_cleanup deletes them. With
#                      NS_CELL_DEFAULT=0 the main table has no default through cell: cell is then
#                      reached only from its own address, as a phone's non-default network, and
#                      a socket on a dead wifi address gets an error instead of a route out of cell
#   ns_cell_del, ns_cell_add   remove or restore the client's cell address with its rule and routes
#   ns_shape LINK RATE [DELAY] rate (and one-way delay, with netem) on both ends of wifi or cell
#   ns_path_bytes IP JSON      bytes received on the paths from IP, from a tern-client report
#   ns_c CMD..., ns_s CMD...   runs a command in the client or server namespace
#
# Addresses of the family set up: NS_SERVER_IP, NS_WIFI_IP, NS_CELL_IP (client side), NS_PLEN
# (their prefix length), NS_HOSTLEN (a host route's), NS_IPF (-4 or -6 for ip), NS_SERVER_HOST
# (the server's address as a URL names it).

ns_family() {
    if [ "${1:-v4}" = v6 ]; then
        NS_FAMILY=v6 NS_IPF=-6 NS_PLEN=64 NS_HOSTLEN=128 NS_NODAD=nodad
        NS_SERVER_IP=fd71::1 NS_WIFI_IP=fd71:1::2 NS_CELL_IP=fd71:2::2
        NS_SERVER_HOST="[$NS_SERVER_IP]"
    else
        NS_FAMILY=v4 NS_IPF=-4 NS_PLEN=24 NS_HOSTLEN=32 NS_NODAD=
        NS_SERVER_IP=10.71.0.1 NS_WIFI_IP=10.71.1.2 NS_CELL_IP=10.71.2.2
        NS_SERVER_HOST=$NS_SERVER_IP
    fi
}
ns_family v4
NS_C=""
NS_S=""

# The server's address on link $1 (1: wifi, 2: cell), and the client's.
ns_net_ip() {
    if [ "$NS_FAMILY" = v6 ]; then echo "fd71:$1::$2"; else echo "10.71.$1.$2"; fi
}

ns_c() { ip netns exec "$NS_C" "$@"; }
ns_s() { ip netns exec "$NS_S" "$@"; }

# 0 when this shell can create namespaces (root, iproute2 with netns support).
ns_available() {
    [ "$(id -u)" -eq 0 ] || return 1
    command -v ip >/dev/null 2>&1 || return 1
    local probe="tern-probe-$$-$RANDOM"
    ip netns add "$probe" 2>/dev/null || return 1
    ip netns del "$probe" 2>/dev/null
    return 0
}

# Ends what still runs in our namespaces (a process started as `ns_s cmd &` is a child of a
# subshell, so killing $! leaves it running), then deletes them.
# ns_require BIN: the checks of a system test, which exits 77 (skipped) saying why unless this
# shell is root with ip, tc, ss, sha256sum and timeout, BIN holds tern-server and tern-client,
# and namespaces can be created.
ns_require() {
    local c b
    ns_skip() {
        echo "SKIP: $*"
        exit 77
    }
    [ "$(id -u)" -eq 0 ] || ns_skip "needs root to create network namespaces"
    for c in ip tc ss sha256sum timeout; do
        command -v "$c" >/dev/null 2>&1 || ns_skip "needs $c"
    done
    for b in tern-server tern-client; do
        [ -x "$1/$b" ] || ns_skip "$1/$b not built"
    done
    ns_available || ns_skip "cannot create a network namespace"
}

# ns_server BIN ROOT LOG ARGS...: starts BIN/tern-server in the server namespace on
# $NS_SERVER_HOST:4433 serving ROOT (output to LOG, more options in ARGS), sets NS_SRV_PID and
# waits until it listens (5 s at most).
ns_server() {
    local bin=$1 root=$2 log=$3
    shift 3
    ns_s "$bin/tern-server" --listen "$NS_SERVER_HOST:4433" --root "$root" "$@" >"$log" 2>&1 &
    NS_SRV_PID=$!
    for _ in $(seq 1 100); do
        ns_s ss -Haun "sport = :4433" | grep -q . && return 0
        sleep 0.05
    done
    return 1
}

# ns_begin PREFIX FAMILY: a system test's scratch directory (NS_TMP) and network (ns_setup with a
# unique "PREFIX-PID-RANDOM" name), both removed at exit with the server of ns_server. Exits 77
# (skipped) when the kernel cannot make the veth links.
ns_begin() {
    NS_TMP=$(mktemp -d "/tmp/$1-$$.XXXXXX")
    NS_SRV_PID=""
    ns_end() {
        [ -n "$NS_SRV_PID" ] && kill "$NS_SRV_PID" 2>/dev/null
        ns_cleanup
        rm -rf "$NS_TMP"
    }
    trap ns_end EXIT
    trap 'exit 1' INT TERM
    if ! ns_setup "$1-$$-$RANDOM" "$2"; then
        echo "SKIP: the kernel cannot make veth links here"
        exit 77
    fi
}

# ns_carriers_up: waits (2.5 s at most) until both client links have their carrier (veth carrier
# changes go through the kernel's link watch).
ns_carriers_up() {
    for _ in $(seq 1 50); do
        ns_c ip link show wifi | grep -q LOWER_UP && ns_c ip link show cell | grep -q LOWER_UP &&
            return 0
        sleep 0.05
    done
    return 1
}

# ns_random_file FILE MB: MB MiB of random bytes; prints their SHA-256.
ns_random_file() {
    mkdir -p "$(dirname "$1")"
    head -c $(($2 * 1024 * 1024)) /dev/urandom >"$1"
    sha256sum "$1" | cut -d' ' -f1
}

ns_kill_all() {
    local pids
    pids=$(ip netns pids "$1" 2>/dev/null) || return 0
    [ -n "$pids" ] || return 0
    kill $pids 2>/dev/null
    for _ in $(seq 1 50); do
        pids=$(ip netns pids "$1" 2>/dev/null)
        [ -z "$pids" ] && return 0
        sleep 0.05
    done
    kill -9 $pids 2>/dev/null
    return 0
}

ns_cleanup() {
    [ -n "$NS_C" ] && ns_kill_all "$NS_C" && ip netns del "$NS_C" 2>/dev/null
    [ -n "$NS_S" ] && ns_kill_all "$NS_S" && ip netns del "$NS_S" 2>/dev/null
    NS_C=""
    NS_S=""
    return 0
}

# The client's address on link $1 (wifi or cell, subnet $2) with its rule and table $3, and,
# $4 = main, its default route in the main table of metric $5.
ns_link_addr() {
    local name=$1 net=$2 table=$3
    ip -n "$NS_C" $NS_IPF addr add "$(ns_net_ip "$net" 2)/$NS_PLEN" dev "$name" $NS_NODAD &&
        ip -n "$NS_C" $NS_IPF route replace default via "$(ns_net_ip "$net" 1)" dev "$name" \
            table "$table" &&
        ip -n "$NS_C" $NS_IPF rule add from "$(ns_net_ip "$net" 2)" table "$table" \
            priority "$table" || return 1
    [ "${4:-}" != main ] ||
        ip -n "$NS_C" $NS_IPF route replace default via "$(ns_net_ip "$net" 1)" dev "$name" \
            metric "$5"
}

# Adds link $1 (wifi or cell), subnet $2, routing table $3.
ns_add_link() {
    local name=$1 net=$2
    ip -n "$NS_C" link add "$name" type veth peer name "s-$name" netns "$NS_S" || return 1
    ip -n "$NS_S" $NS_IPF addr add "$(ns_net_ip "$net" 1)/$NS_PLEN" dev "s-$name" $NS_NODAD
    ip -n "$NS_C" link set "$name" up
    ip -n "$NS_S" link set "s-$name" up
}

ns_cell_del() {
    ip -n "$NS_C" $NS_IPF rule del from "$NS_CELL_IP" table 102 2>/dev/null
    ip -n "$NS_C" $NS_IPF addr del "$NS_CELL_IP/$NS_PLEN" dev cell
}

ns_cell_add() {
    if [ "${NS_CELL_DEFAULT:-1}" = 1 ]; then
        ns_link_addr cell 2 102 main 200
    else
        ns_link_addr cell 2 102
    fi
}

ns_setup() {
    NS_C="$1-c"
    NS_S="$1-s"
    ns_family "${2:-v4}"
    ip netns add "$NS_C" || return 1
    ip netns add "$NS_S" || { ns_cleanup; return 1; }
    ip -n "$NS_C" link set lo up
    ip -n "$NS_S" link set lo up
    ip -n "$NS_S" $NS_IPF addr add "$NS_SERVER_IP/$NS_HOSTLEN" dev lo
    ns_add_link wifi 1 && ns_add_link cell 2 && ns_link_addr wifi 1 101 main 100 &&
        ns_cell_add || { ns_cleanup; return 1; }
    # Only the namespaces' own addresses on these links: no forwarding, no surprises.
    ns_s sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
    ns_c sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

# ns_shape LINK RATE [DELAY]: a token bucket of RATE (e.g. 100mbit) on both ends of wifi or
# cell, and a one-way DELAY (e.g. 10ms) when the kernel has netem. Prints what it set.
ns_shape() {
    local link=$1 rate=$2 delay=${3:-} dev ns
    for side in c s; do
        if [ "$side" = c ]; then ns=$NS_C dev=$link; else ns=$NS_S dev=s-$link; fi
        if [ -n "$delay" ] &&
            ip netns exec "$ns" tc qdisc replace dev "$dev" root netem delay "$delay" rate "$rate" \
                limit 10000 2>/dev/null; then
            continue
        fi
        delay=""
        ip netns exec "$ns" tc qdisc replace dev "$dev" root tbf rate "$rate" burst 64kb \
            latency 50ms || return 1
    done
    echo "$link: $rate${delay:+, $delay each way}${3:+${delay:- (no netem in this kernel: no added delay)}}"
}

# Waits until file $1 holds more than $2 bytes, for at most $3 seconds. Returns 1 on timeout.
wait_size() {
    local i
    for i in $(seq 1 $(($3 * 50))); do
        [ "$(stat -c %s "$1" 2>/dev/null || echo 0)" -gt "$2" ] && return 0
        sleep 0.02
    done
    return 1
}

# ns_transfer DIR BYTES ACTION CLIENT_ARGS...: runs tern-client ($NS_CLIENT_BIN) in the client
# namespace with CLIENT_ARGS (its --json report to DIR/client.json, its stderr to DIR/client.log,
# or left as is with NS_CLIENT_LOG=-, its body to DIR/out.bin), and once the body holds
# BYTES, runs the shell command ACTION (the failure) and writes its wall-clock time (Unix ms)
# into DIR/t_fail. Returns tern-client's exit status.
ns_transfer() {
    local dir=$1 bytes=$2 action=$3 pid rc
    shift 3
    rm -f "$dir/out.bin" "$dir/t_fail"
    if [ "${NS_CLIENT_LOG:-}" = - ]; then
        timeout -k 5 "${NS_CLIENT_TIMEOUT:-120}" ip netns exec "$NS_C" "$NS_CLIENT_BIN" --json \
            -o "$dir/out.bin" "$@" >"$dir/client.json" &
    else
        timeout -k 5 "${NS_CLIENT_TIMEOUT:-120}" ip netns exec "$NS_C" "$NS_CLIENT_BIN" --json \
            -o "$dir/out.bin" "$@" >"$dir/client.json" 2>"$dir/client.log" &
    fi
    pid=$!
    if wait_size "$dir/out.bin" "$bytes" 60; then
        date +%s%3N >"$dir/t_fail"
        eval "$action"
    fi
    wait "$pid"
    rc=$?
    return $rc
}

# ns_recovery JSON T_FAIL: from tern-client's report, the stall the failure at T_FAIL (Unix ms)
# caused (the longest stall that ends after it and starts less than 200 ms after it): prints "MS EVENT REASON" where MS is the time from the failure to the first new byte
# delivered, or "none END" when the transfer never recovered (END: why it ended), or "- -" when no
# stall of at least the report's threshold followed the failure.
ns_recovery() {
    local json=$1 t_fail=$2 start
    start=$(grep -o '"start_unix_ms":[0-9]*' "$json" | head -n 1 | cut -d: -f2)
    [ -n "$start" ] || { echo "- -"; return; }
    grep -o '"stalls":\[.*\],"paths"' "$json" | sed 's/^"stalls":\[//; s/\],"paths"$//' |
        sed 's/},{"start_ms"/}\n{"start_ms"/g' |
        awk -v tf="$((t_fail - start))" '
            function num(k,  m) { if (match($0, "\"" k "\":[0-9.]+")) { m = substr($0, RSTART, RLENGTH); sub(/.*:/, "", m); return m + 0 } return -1 }
            function str(k,  m) { if (match($0, "\"" k "\":\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/^[^:]*:"/, "", m); sub(/"$/, "", m); sub(/[\\]$/, "", m); return m } return "" }
            # The stall of the failure: the longest one that ends after it and starts at most
            # 200 ms later (the small gaps of a shaped link around it are not it).
            /start_ms/ && num("end_ms") > tf && num("start_ms") < tf + 200 && num("ms") > best {
                best = num("ms")
                ev = "-"; why = "-"
                if ($0 ~ /"path_event":\{/) { ev = str("event"); why = str("reason") }
                if ($0 ~ /"ended_transfer":true/)
                    line = "none " str("end")
                else
                    line = sprintf("%.1f %s %s", num("end_ms") - tf, ev, why)
            }
            END { print (line != "" ? line : "- -") }'
}

# ns_path_bytes IP JSON: the bytes received on the paths whose local address is IP (v4 or v6,
# without brackets or port), summed, from tern-client's --json report JSON.
ns_path_bytes() {
    sed 's/{"id":/\n{"id":/g' "$2" | grep '^{"id":[0-9]*,"local":"' | awk -v ip="$1" '
        {
            l = $0
            sub(/.*"local":"/, "", l); sub(/".*/, "", l); gsub(/^\[|\]?:[0-9]+$/, "", l)
            # only a path entry has counters (the active path and the switches name paths)
            if (l == ip && match($0, /"bytes_received":[0-9]+/))
                s += substr($0, RSTART + 17, RLENGTH - 17)
        }
        END { print s + 0 }'
}
