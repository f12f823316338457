#!/bin/bash
# The side-by-side benchmark: nsnet, the floor and the peers doing the same
# job, interleaved in one run. Runs inside a private lab (`just bench` starts
# it through labrun); it touches nothing outside the lab and contacts only the
# lab's internet. Prints a Markdown report on stdout.
#
#   RUNS   rounds of the one-container rows           (default 50)
#   SCALE  container counts for the scaling rows       (default "1 100 500")
#   PAR    containers set up at once in parallel rows  (default 8)
set -uo pipefail

RUNS=${RUNS:-50}
SCALE=${SCALE:-"1 100 500"}
PAR=${PAR:-8}
CNI_PATH=/usr/lib/cni
NETAVARK=/usr/lib/podman/netavark
W=/run/nsbench
mkdir -p "$W/ipam" "$W/ready"
: > "$W/samples"
export CNI_PATH W

die() { echo "bench: $*" >&2; exit 1; }
for p in nsrun vethup netinit natctl ip nft iptables unshare hyperfine; do
    command -v "$p" >/dev/null || die "$p is missing (run ./deps bench and cargo build --release)"
done
[ -x "$CNI_PATH/ptp" ] || die "CNI plugins missing (./deps bench)"
[ -x "$NETAVARK" ] || die "netavark missing (./deps bench)"
sysctl -qw net.ipv4.ip_forward=1   # the lab's host namespace only

us() { echo "${EPOCHREALTIME/./}"; }
# sample ROW MICROSECONDS
sample() { echo "$1 $2" >> "$W/samples"; }
# timed ROW CMD...: runs CMD and records its wall time
timed() {
    local row=$1 t0 t1
    shift
    t0=$(us)
    "$@" >/dev/null 2>&1 || die "$row failed: $*"
    t1=$(us)
    sample "$row" $((t1 - t0))
}
links() { ip -o link show | wc -l; }
netns_count() { ls /run/netns | wc -l; }
# settled ROW T0 LINKS: records the time from T0 until host is back to LINKS
# links and no named namespace: teardown "to zero residue".
settled() {
    local row=$1 t0=$2 want=$3
    while [ "$(links)" -ne "$want" ] || [ "$(netns_count)" -ne 0 ]; do :; done
    sample "$row" $(($(us) - t0))
}

# ---- one container, each way ------------------------------------------------

BASE_LINKS=$(links)

nsnet_one() {
    timed "setup/nsnet" nsrun --net --hook 'vethup veth0 $NSRUN_PID' \
        -- netinit 10.0.0.2/24 -- true
    settled "teardown/nsnet" "$(us)" "$BASE_LINKS"
}

floor_unshare() { timed "setup/floor: unshare --net true" unshare --net true; }

# The same kernel work as nsnet by hand, in the fewest processes: one
# `ip -batch` on the host side and one inside.
floor_kernel_run() {
    coproc FLOOR { unshare --net sh -c 'echo ready; read _ ; ip -batch - <<EOF
link set lo up
addr add 10.0.0.2/24 dev eth0
link set eth0 up
route add default via 10.0.0.1
EOF
exec true'; }
    read -r _ <&"${FLOOR[0]}"
    ip -batch - <<EOF
link add veth0 type veth peer name eth0 netns $FLOOR_PID
addr add 10.0.0.1/24 dev veth0
link set veth0 up
EOF
    echo go >&"${FLOOR[1]}"
    wait "$FLOOR_PID"
}
floor_kernel() {
    timed "setup/floor: ip -batch x2" floor_kernel_run
    settled "teardown/floor: namespace exit" "$(us)" "$BASE_LINKS"
}

# The tutorial's way: named namespace, veth moved in, one ip per step.
tutorial_setup() {
    ip netns add tut &&
    ip link add veth0 type veth peer name eth0 &&
    ip link set eth0 netns tut &&
    ip addr add 10.0.0.1/24 dev veth0 &&
    ip link set veth0 up &&
    ip netns exec tut ip link set lo up &&
    ip netns exec tut ip addr add 10.0.0.2/24 dev eth0 &&
    ip netns exec tut ip link set eth0 up &&
    ip netns exec tut ip route add default via 10.0.0.1 &&
    iptables -t nat -A POSTROUTING -s 10.0.0.0/24 ! -d 10.0.0.0/24 -j MASQUERADE &&
    ip netns exec tut true
}
tutorial_teardown() {
    iptables -t nat -D POSTROUTING -s 10.0.0.0/24 ! -d 10.0.0.0/24 -j MASQUERADE &&
    ip link del veth0 && ip netns del tut
}
tutorial() {
    timed "setup/peer: tutorial shell" tutorial_setup
    local t0
    t0=$(us)
    tutorial_teardown || die "tutorial teardown failed"
    settled "teardown/peer: tutorial shell" "$t0" "$BASE_LINKS"
}

cni_conf() { # TYPE SUBNET
    if [ "$1" = bridge ]; then
        echo "{\"cniVersion\":\"0.4.0\",\"name\":\"bench-$1\",\"type\":\"bridge\",\"bridge\":\"cni0\",\"isGateway\":true,\"ipMasq\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"$2\",\"dataDir\":\"$W/ipam\",\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}"
    else
        echo "{\"cniVersion\":\"0.4.0\",\"name\":\"bench-$1\",\"type\":\"ptp\",\"ipMasq\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"$2\",\"dataDir\":\"$W/ipam\",\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}"
    fi
}
cni_add() { # TYPE SUBNET ID
    ip netns add "$3" &&
    cni_conf "$1" "$2" | CNI_COMMAND=ADD CNI_CONTAINERID=$3 CNI_NETNS=/run/netns/$3 \
        CNI_IFNAME=eth0 "$CNI_PATH/$1" >/dev/null &&
    ip netns exec "$3" true
}
cni_del() { # TYPE SUBNET ID
    cni_conf "$1" "$2" | CNI_COMMAND=DEL CNI_CONTAINERID=$3 CNI_NETNS=/run/netns/$3 \
        CNI_IFNAME=eth0 "$CNI_PATH/$1" >/dev/null && ip netns del "$3"
}
cni_one() { # TYPE
    timed "setup/peer: CNI $1" cni_add "$1" 10.0.0.0/24 cni1
    local t0
    t0=$(us)
    cni_del "$1" 10.0.0.0/24 cni1 || die "CNI $1 DEL failed"
    # The bridge plugin leaves its bridge (by design); it is not counted.
    ip link del cni0 2>/dev/null
    settled "teardown/peer: CNI $1" "$t0" "$BASE_LINKS"
}

netavark_conf() { # ID IP SUBNET GATEWAY
    printf '{"container_id":"%064x","container_name":"%s","networks":{"bench":{"static_ips":["%s"],"interface_name":"eth0"}},"network_info":{"bench":{"name":"bench","id":"%064x","driver":"bridge","network_interface":"nvbr0","subnets":[{"subnet":"%s","gateway":"%s"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}}}' \
        "$1" "c$1" "$2" 1 "$3" "$4"
}
netavark_add() { # N IP SUBNET GATEWAY
    ip netns add "nv$1" &&
    netavark_conf "$1" "$2" "$3" "$4" | "$NETAVARK" --config "$W/nv" setup "/run/netns/nv$1" >/dev/null &&
    ip netns exec "nv$1" true
}
netavark_del() { # N IP SUBNET GATEWAY
    netavark_conf "$1" "$2" "$3" "$4" | "$NETAVARK" --config "$W/nv" teardown "/run/netns/nv$1" >/dev/null &&
    ip netns del "nv$1"
}
netavark_one() {
    timed "setup/peer: netavark" netavark_add 1 10.0.0.2 10.0.0.0/24 10.0.0.1
    local t0
    t0=$(us)
    netavark_del 1 10.0.0.2 10.0.0.0/24 10.0.0.1 || die "netavark teardown failed"
    settled "teardown/peer: netavark" "$t0" "$BASE_LINKS"
}

natctl_rows() {
    timed "natctl add (nft)" natctl add --backend nft 10.9.0.0/24
    timed "natctl del (nft)" natctl del 10.9.0.0/24
    timed "natctl add (iptables)" natctl add --backend iptables 10.9.0.0/24
    timed "natctl del (iptables)" natctl del 10.9.0.0/24
}

echo "bench: $RUNS rounds of the one-container rows" >&2
for _ in $(seq "$RUNS"); do
    nsnet_one
    floor_unshare
    floor_kernel
    tutorial
    cni_one ptp
    cni_one bridge
    netavark_one
    natctl_rows
done

# ---- scaling: N containers on one bridge behind one NAT rule set -------------

# The address of container I in a /16.
addr_of() { echo "10.$2.$(($1 / 250)).$(($1 % 250 + 2))"; }

nsnet_up() { # I: a held container on nsbr0, ready when its payload runs
    local fifo="$W/ready/$1"
    mkfifo "$fifo"
    nsrun --net --hook "vethup --bridge nsbr0 --addr 10.1.255.254/16 c$1 \$NSRUN_PID" \
        -- netinit --gateway 10.1.255.254 "$(addr_of "$1" 1)/16" \
        -- sh -c "echo > $fifo; exec sleep 1d" >/dev/null 2>&1 &
    echo $! > "$W/ready/$1.pid"
    read -r _ < "$fifo"
    rm "$fifo"
}
nsnet_down() { # I
    local pid
    pid=$(cat "$W/ready/$1.pid")
    kill "$pid" && while [ -e "/proc/$pid" ] && ip link show "c$1" >/dev/null 2>&1; do :; done
    rm "$W/ready/$1.pid"
}
cnib_up() { cni_add bridge 10.2.0.0/16 "cb$1"; }
cnib_down() { cni_del bridge 10.2.0.0/16 "cb$1"; }
nv_up() { netavark_add "$1" "$(addr_of "$1" 3)" 10.3.0.0/16 10.3.255.254; }
nv_down() { netavark_del "$1" "$(addr_of "$1" 3)" 10.3.0.0/16 10.3.255.254; }
export -f nsnet_up nsnet_down cnib_up cnib_down nv_up nv_down cni_add cni_del cni_conf \
    netavark_add netavark_del netavark_conf addr_of
export NETAVARK

rules() { # firewall rules in host, every table (iptables-nft's included)
    nft -a list ruleset | grep '# handle' | grep -vcE '^\s*(table|chain) '
}
mem_kib() { awk '/^MemAvailable/ {print $2}' /proc/meminfo; }

scale_tool() { # TOOL UP DOWN N MODE
    local tool=$1 up=$2 down=$3 n=$4 mode=$5 t0 t1 m0 r0
    m0=$(mem_kib)
    r0=$(rules)
    t0=$(us)
    if [ "$mode" = serial ]; then
        for i in $(seq "$n"); do "$up" "$i" || die "$tool up $i failed"; done
    else
        seq "$n" | xargs -P "$PAR" -I{} bash -c "$up {}" || die "$tool parallel up failed"
    fi
    t1=$(us)
    local per_up=$(((t1 - t0) / n))
    local mem=$((m0 - $(mem_kib)))
    local rules_n=$(($(rules) - r0))
    t0=$(us)
    if [ "$mode" = serial ]; then
        for i in $(seq "$n"); do "$down" "$i" || die "$tool down $i failed"; done
    else
        seq "$n" | xargs -P "$PAR" -I{} bash -c "$down {}" || die "$tool parallel down failed"
    fi
    ip link del nsbr0 2>/dev/null; ip link del cni0 2>/dev/null; ip link del nvbr0 2>/dev/null
    settled "scale-teardown/$tool/$n/$mode" "$t0" "$BASE_LINKS"
    t1=$(us)
    echo "| $tool | $n | $mode | $((per_up / 1000)).$(printf %03d $((per_up % 1000))) | $(( (t1 - t0) / n / 1000 )).$(printf %03d $(( (t1 - t0) / n % 1000 ))) | $rules_n | $((mem / n)) |" >> "$W/scale"
}

: > "$W/scale"
natctl add 10.1.0.0/16 >/dev/null || die "natctl add failed"
for n in $SCALE; do
    for mode in serial parallel; do
        echo "bench: scaling N=$n $mode" >&2
        scale_tool nsnet nsnet_up nsnet_down "$n" "$mode"
        scale_tool "CNI bridge" cnib_up cnib_down "$n" "$mode"
        scale_tool netavark nv_up nv_down "$n" "$mode"
    done
done
natctl del 10.1.0.0/16 >/dev/null || die "natctl del failed"

# ---- report ----------------------------------------------------------------

stats() { # ROW -> "median p90 max" in ms
    awk -v row="$1" '{ r=$1; for (i=2;i<NF;i++) r=r" "$i; if (r==row) print $NF }' "$W/samples" |
        sort -n | awk '{ v[NR]=$1 } END {
            if (NR==0) { print "- - -"; exit }
            m=v[int((NR+1)/2)]; p=v[int(NR*0.9+0.999)]; if (p=="") p=v[NR];
            printf "%.2f %.2f %.2f\n", m/1000, p/1000, v[NR]/1000 }'
}
median() { stats "$1" | cut -d' ' -f1; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b>0) printf "%.2f", a/b; else print "-" }'; }

echo "# nsnet benchmark"
echo
echo "$(date -u +%Y-%m-%d), kernel $(uname -r), $(nproc) cores; $RUNS interleaved rounds; times in ms (median / p90 / max)."
echo
echo "## One container, end to end"
echo
echo "| row | median | p90 | max | × floor (ip -batch x2) | × nsnet |"
echo "|---|---|---|---|---|---|"
floor=$(median "setup/floor: ip -batch x2")
nsnet=$(median "setup/nsnet")
for row in "setup/nsnet" "setup/floor: unshare --net true" "setup/floor: ip -batch x2" \
    "setup/peer: tutorial shell" "setup/peer: CNI ptp" "setup/peer: CNI bridge" "setup/peer: netavark" \
    "teardown/nsnet" "teardown/floor: namespace exit" "teardown/peer: tutorial shell" \
    "teardown/peer: CNI ptp" "teardown/peer: CNI bridge" "teardown/peer: netavark" \
    "natctl add (nft)" "natctl del (nft)" "natctl add (iptables)" "natctl del (iptables)"; do
    read -r m p x <<< "$(stats "$row")"
    case $row in
        setup/*) echo "| $row | $m | $p | $x | $(ratio "$m" "$floor") | $(ratio "$m" "$nsnet") |" ;;
        teardown/*) echo "| $row | $m | $p | $x | | $(ratio "$m" "$(median teardown/nsnet)") |" ;;
        *) echo "| $row | $m | $p | $x | | |" ;;
    esac
done
echo
echo "## Scaling: N containers on one bridge behind one NAT rule set"
echo
echo "Per-container setup (until the payload runs) and teardown (until no link,"
echo "rule or namespace is left) in ms; firewall rules added for N containers;"
echo "memory taken per container (KiB of MemAvailable). Parallel: $PAR at a time."
echo
echo "| tool | N | mode | setup/container | teardown/container | firewall rules | KiB/container |"
echo "|---|---|---|---|---|---|---|"
cat "$W/scale"
