#!/bin/bash
# The side-by-side benchmark (issue 8): nsnet, the floor and the peers doing
# the same job, interleaved in one run, inside a private lab. `just bench`
# starts it through target/release/labrun and writes its stdout, a Markdown
# report, to bench/RESULTS.md. It touches and contacts nothing outside the
# lab (no row sends traffic; the namespaces exist only inside the lab).
#
#   RUNS   rounds of the one-container rows             (default 50)
#   SCALE  container counts for the scaling rows         (default "1 100 500")
#   PAR    containers set up or torn down at once when
#          the scaling rows run in parallel              (default 8)
#
# A smoke run: RUNS=3 SCALE="1 5" just bench.
#
# How it measures: every sample is the wall time between two reads of
# $EPOCHREALTIME in this shell, with no fork of the harness in between (no
# $(...) and no pipe inside a timed region), so a row pays for the
# processes it starts itself and nothing else. Teardown "to zero residue"
# ends when /proc/net/dev (this namespace's links, read by a builtin) and
# /run/netns are back to what they were before the container; the firewall
# is checked back to its rule count after every teardown, untimed.
set -uo pipefail
shopt -s nullglob

RUNS=${RUNS:-50}
SCALE=${SCALE:-"1 100 500"}
PAR=${PAR:-8}
HERE=$(cd "$(dirname "$0")" && pwd)
CNI_PATH=/usr/lib/cni
NETAVARK=/usr/lib/podman/netavark
W=/run/nsbench
SAMPLES=$W/samples
export CNI_PATH

say() { echo "bench: $*" >&2; }
die() {
    say "$*"
    [ -s "$W/err" ] && sed 's/^/bench:   /' "$W/err" >&2
    exit 1
}

[ "${NSNET_LAB:-}" = 1 ] || die "run me in a lab: just bench (target/release/labrun bash \"\$PWD/bench/bench.sh\")"
for p in nsrun vethup vethdown netinit natctl ip nft iptables unshare nsenter strace; do
    command -v "$p" >/dev/null || die "$p is missing (./deps bench; cargo build --workspace --release)"
done
for p in "$CNI_PATH/ptp" "$CNI_PATH/bridge" "$CNI_PATH/host-local" "$NETAVARK"; do
    [ -x "$p" ] || die "$p is missing (./deps bench)"
done
NSNET_BIN=$(dirname "$(command -v nsrun)")
TRUE=$(type -P true) # the program, not the shell's builtin
for t in vethup netinit natctl; do
    [ "$(dirname "$(command -v $t)")" = "$NSNET_BIN" ] || die "$t is not from $NSNET_BIN"
done

rm -rf "$W"
mkdir -p "$W/ipam" "$W/nv" "$W/fifo"
: > "$SAMPLES"
HELD=() # nsrun processes of the scaling rows still running
cleanup() {
    local pid
    for pid in "${HELD[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${HELD[@]}"; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT
sysctl -qw net.ipv4.ip_forward=1 # the lab's host namespace only

# ---- measuring --------------------------------------------------------------

# record ROW MICROSECONDS
record() { printf '%s\t%s\n' "$1" "$2" >> "$SAMPLES"; }

# The links of this namespace and the named namespaces, read by builtins.
count_links() {
    mapfile -t _dev < /proc/net/dev
    LINKS=$((${#_dev[@]} - 2))
}
count_netns() {
    local f=(/run/netns/*)
    NETNS=${#f[@]}
}
# Firewall rules of this namespace, every table (iptables-nft's included).
count_rules() {
    RULES=$(nft -a list ruleset 2>/dev/null | grep '# handle' | grep -cvE '^[[:space:]]*(table|chain|set|map|flowtable) ')
}

# settle ROW T0: waits until host has its baseline links and named
# namespaces again; records the time since T0 under ROW (none when ROW is
# empty) and leaves the end in SETTLED. Between looks it sleeps 0.2 ms in
# a builtin read of a fifo nobody writes: no fork, and no core kept busy
# that the kernel's cleanup could use.
mkfifo "$W/never"
exec {NEVER}<>"$W/never"
settle() {
    local row=$1 t0=$2
    while count_links; count_netns; ((LINKS != BASE_LINKS || NETNS != BASE_NETNS)); do
        read -r -t 0.0002 -u "$NEVER" _
        ((${EPOCHREALTIME/./} - t0 < 30000000)) ||
            die "${row:-teardown}: residue still there after 30 s ($LINKS links, want $BASE_LINKS; $NETNS named namespaces, want $BASE_NETNS)"
    done
    SETTLED=${EPOCHREALTIME/./}
    [ -z "$row" ] || record "$row" $((SETTLED - t0))
}

# pause SECONDS: lets the kernel finish the deferred part of the last
# teardown (a namespace's cleanup goes on after its links are gone), so
# no row starts in another's tail. A builtin read that times out.
pause() { read -r -t "$1" -u "$NEVER" _; }

# clean WHAT: the firewall is back to its baseline (untimed).
clean() {
    count_rules
    ((RULES == BASE_RULES)) || die "$1 left $((RULES - BASE_RULES)) firewall rules behind"
}

# must WHAT CMD...: runs CMD, its output away, dies naming WHAT on failure.
must() {
    local what=$1
    shift
    "$@" >/dev/null 2>"$W/err" || die "$what failed: $*"
}

# ---- one container, each way ------------------------------------------------

# nsnet as the issue states it: a network-ready payload has run.
nsnet_one() {
    local t0 t1
    t0=${EPOCHREALTIME/./}
    must "nsnet" nsrun --net --hook 'vethup veth0 $NSRUN_PID' -- netinit 10.0.0.2/24 -- true
    t1=${EPOCHREALTIME/./}
    record "setup/nsnet" $((t1 - t0))
    settle "teardown/nsnet" "$t1"
    record "life/nsnet" $((SETTLED - t0))
}

# nsnet doing what every peer does per container: its own NAT rule set,
# added by a hook and removed on exit. The payload prints the time it ran.
nsnet_nat() {
    local t0 stamp
    t0=${EPOCHREALTIME/./}
    nsrun --net --hook 'natctl add 10.0.0.0/24' --hook 'vethup veth0 $NSRUN_PID' \
        --on-exit 'natctl del 10.0.0.0/24' -- netinit 10.0.0.2/24 -- date +%s%6N \
        >"$W/stamp" 2>"$W/err" || die "nsnet with NAT hooks failed"
    settle "" "$t0"
    read -r stamp < "$W/stamp"
    record "setup/nsnet + NAT hooks" $((stamp - t0))
    record "teardown/nsnet + NAT hooks" $((SETTLED - stamp))
    record "life/nsnet + NAT hooks" $((SETTLED - t0))
    clean "nsnet with NAT hooks"
}

floor_unshare() {
    local t0
    t0=${EPOCHREALTIME/./}
    must "unshare" unshare --net true
    record "setup/floor: unshare --net true" $((${EPOCHREALTIME/./} - t0))
}

# The same kernel work as nsnet by hand, in the fewest processes: one
# `ip -batch` on the host side and one inside (the peer is made in the
# namespace, as vethup makes it).
floor_batch_run() {
    # (braces and exec: an exported function keeps a named coproc intact)
    coproc { exec unshare --net sh -c 'echo ready; read _; ip -batch - <<EOF
link set lo up
addr add 10.0.0.2/24 dev eth0
link set eth0 up
route add default via 10.0.0.1
EOF
exec true'; }
    read -r _ <&"${COPROC[0]}"
    ip -batch - <<EOF
link add veth0 type veth peer name eth0 netns $COPROC_PID
addr add 10.0.0.1/24 dev veth0
link set veth0 up
EOF
    echo go >&"${COPROC[1]}"
    wait "$COPROC_PID"
}
floor_batch() {
    local t0 t1
    t0=${EPOCHREALTIME/./}
    must "the floor" floor_batch_run
    t1=${EPOCHREALTIME/./}
    record "setup/floor: ip -batch x2" $((t1 - t0))
    settle "teardown/floor: ip -batch x2" "$t1"
    record "life/floor: ip -batch x2" $((SETTLED - t0))
}

# The tutorial's way: a named namespace, the veth made on the host and
# moved, one ip per step, a MASQUERADE rule, the payload via ip netns exec.
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

# CNI: the plugin binary itself, CNI_* in its environment, its
# configuration on stdin; host-local IPAM, ipMasq.
cni_conf() { # TYPE SUBNET -> CONF (the bridge plugin's bridge: $CNI_BRIDGE)
    local bridge=""
    [ "$1" = bridge ] && bridge="\"bridge\":\"${CNI_BRIDGE:-cni0}\",\"isGateway\":true,"
    CONF="{\"cniVersion\":\"0.4.0\",\"name\":\"bench-$1\",\"type\":\"$1\",$bridge\"ipMasq\":true,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"$2\",\"dataDir\":\"$W/ipam\",\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}"
}
cni_add() { # TYPE SUBNET NAME
    local CONF
    cni_conf "$1" "$2"
    ip netns add "$3" &&
        CNI_COMMAND=ADD CNI_CONTAINERID=$3 CNI_NETNS=/run/netns/$3 CNI_IFNAME=eth0 \
            "$CNI_PATH/$1" <<< "$CONF" &&
        nsenter --net="/run/netns/$3" true
}
cni_del() { # TYPE SUBNET NAME
    local CONF
    cni_conf "$1" "$2"
    CNI_COMMAND=DEL CNI_CONTAINERID=$3 CNI_NETNS=/run/netns/$3 CNI_IFNAME=eth0 \
        "$CNI_PATH/$1" <<< "$CONF" && ip netns del "$3"
}

# netavark: the JSON podman hands it, static addresses, its bridge driver
# (iptables firewall driver, netavark 1.4's only one). Two at once fail
# ("Chain already exists"): podman serialises its calls with a lock, and
# the parallel scaling rows do the same with flock (NV_LOCK).
NV_LOCK=()
netavark_conf() { # ID IP SUBNET GATEWAY -> CONF
    printf -v CONF '{"container_id":"%064x","container_name":"c%s","networks":{"bench":{"static_ips":["%s"],"interface_name":"eth0"}},"network_info":{"bench":{"name":"bench","id":"%064x","driver":"bridge","network_interface":"nvbr0","subnets":[{"subnet":"%s","gateway":"%s"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}}}' \
        "$1" "$1" "$2" 1 "$3" "$4"
}
netavark_add() { # ID IP SUBNET GATEWAY
    local CONF
    netavark_conf "$@"
    ip netns add "nv$1" &&
        "${NV_LOCK[@]}" "$NETAVARK" --config "$W/nv" setup "/run/netns/nv$1" <<< "$CONF" &&
        nsenter --net="/run/netns/nv$1" true
}
netavark_del() { # ID IP SUBNET GATEWAY
    local CONF
    netavark_conf "$@"
    "${NV_LOCK[@]}" "$NETAVARK" --config "$W/nv" teardown "/run/netns/nv$1" <<< "$CONF" &&
        ip netns del "nv$1"
}

# peer NAME SETUP-CMD -- TEARDOWN-CMD: one container the peer's way.
peer() {
    local name=$1 t0 t1 t2 setup=() teardown=()
    shift
    while [ "$1" != -- ]; do setup+=("$1"); shift; done
    shift
    teardown=("$@")
    t0=${EPOCHREALTIME/./}
    must "$name setup" "${setup[@]}"
    t1=${EPOCHREALTIME/./}
    must "$name teardown" "${teardown[@]}"
    t2=${EPOCHREALTIME/./}
    settle "teardown/peer: $name" "$t1"
    record "setup/peer: $name" $((t1 - t0))
    record "blocking/peer: $name" $((t2 - t1))
    record "life/peer: $name" $((SETTLED - t0))
    clean "$name"
}
tutorial() { peer "tutorial shell" tutorial_setup -- tutorial_teardown; }
cni_ptp() { peer "CNI ptp" cni_add ptp 10.10.0.0/24 cni1 -- cni_del ptp 10.10.0.0/24 cni1; }
cni_bridge() { peer "CNI bridge" cni_add bridge 10.11.0.0/24 cni2 -- cni_del bridge 10.11.0.0/24 cni2; }
netavark() {
    peer "netavark" netavark_add 1 10.12.0.2 10.12.0.0/24 10.12.0.1 -- \
        netavark_del 1 10.12.0.2 10.12.0.0/24 10.12.0.1
}

timed() { # ROW CMD...
    local row=$1 t0
    shift
    t0=${EPOCHREALTIME/./}
    must "$row" "$@"
    record "$row" $((${EPOCHREALTIME/./} - t0))
}
natctl_rows() {
    timed "natctl add (nft)" natctl add --backend nft 10.9.0.0/24
    timed "natctl del (nft)" natctl del 10.9.0.0/24
    timed "natctl add (iptables)" natctl add --backend iptables 10.9.0.0/24
    timed "natctl del (iptables)" natctl del 10.9.0.0/24
    clean "natctl del"
}

# ---- where nsnet's time goes --------------------------------------------------

# nsnet built up a piece at a time: the increments are the pieces' costs.
ladder() {
    timed "ladder/nsrun --net -- true" nsrun --net -- true
    timed "ladder/+ a hook: --hook true" nsrun --net --hook true -- true
    local t0
    t0=${EPOCHREALTIME/./}
    must "vethup hook" nsrun --net --hook 'vethup veth0 $NSRUN_PID' -- true
    record "ladder/+ vethup in the hook" $((${EPOCHREALTIME/./} - t0))
    settle "" "$t0"
    timed "start/vethup --version (a Rust tool)" vethup --version
    timed "start/ip -batch /dev/null (an ip)" ip -batch /dev/null
    timed "start/sh -c : (a shell)" sh -c :
    timed "start/true" "$TRUE"
}

# The kernel's share: the same two plans fed to ip, minus ip with nothing
# to do, against a namespace held by a sleeping process.
kernel_rows() {
    local h t0 t1 t2 t3 t4
    unshare --net sleep 1d &
    h=$!
    while [ /proc/$h/ns/net -ef /proc/$$/ns/net ]; do :; done
    printf 'link add veth0 type veth peer name eth0 netns /proc/%s/ns/net\nlink set veth0 alias nsnet:vethup\naddr add 10.0.0.1/24 dev veth0\nlink set veth0 up\n' \
        "$h" > "$W/host.plan"
    printf 'link set lo up\naddr add 10.0.0.2/24 dev eth0\nlink set eth0 up\nroute add default via 10.0.0.1\n' > "$W/inside.plan"
    t0=${EPOCHREALTIME/./}
    must "host plan" ip -batch "$W/host.plan"
    t1=${EPOCHREALTIME/./}
    must "empty ip" ip -batch /dev/null
    t2=${EPOCHREALTIME/./}
    must "inside plan" nsenter --net=/proc/$h/ns/net ip -batch "$W/inside.plan"
    t3=${EPOCHREALTIME/./}
    must "empty ip inside" nsenter --net=/proc/$h/ns/net ip -batch /dev/null
    t4=${EPOCHREALTIME/./}
    record "kernel/host side (vethup's plan)" $(((t1 - t0) - (t2 - t1)))
    record "kernel/inside (netinit's plan)" $(((t3 - t2) - (t4 - t3)))
    record "kernel/both" $(((t1 - t0) - (t2 - t1) + (t3 - t2) - (t4 - t3)))
    kill $h
    wait $h 2>/dev/null
    settle "" "${EPOCHREALTIME/./}"
}

# ---- the rounds -----------------------------------------------------------

count_links
BASE_LINKS=$LINKS
BASE_NETNS=0
count_rules
RULES0=$RULES
# What the peers keep by design, made once as on any host that runs them:
# the CNI bridge cni0, netavark's global chains (FORWARD jump, HOSTPORT-*).
must "CNI bridge" cni_add bridge 10.11.0.0/24 prep
must "CNI bridge" cni_del bridge 10.11.0.0/24 prep
must "netavark" netavark_add 1 10.12.0.2 10.12.0.0/24 10.12.0.1
must "netavark" netavark_del 1 10.12.0.2 10.12.0.0/24 10.12.0.1
[ -e /proc/sys/net/ipv4/conf/cni0 ] || die "the CNI bridge plugin left no cni0"
BASE_LINKS=$((BASE_LINKS + 1))
settle "" "${EPOCHREALTIME/./}"
count_rules
BASE_RULES=$RULES
KEPT_RULES=$((BASE_RULES - RULES0))

rows=(nsnet_one nsnet_nat floor_unshare floor_batch tutorial cni_ptp cni_bridge netavark natctl_rows ladder kernel_rows)
say "$RUNS rounds of ${#rows[@]} rows, one container each (round 0 is a warm-up)"
START=${EPOCHREALTIME/./}
for ((round = 0; round <= RUNS; round++)); do
    # The order turns by one row each round: no row always follows another.
    for ((k = 0; k < ${#rows[@]}; k++)); do
        pause 0.05
        "${rows[(k + round) % ${#rows[@]}]}"
    done
    if ((round == 0)); then : > "$SAMPLES"; fi
done
say "one-container rows took $(((${EPOCHREALTIME/./} - START) / 1000000)) s"

# ---- processes started (strace, untimed) ---------------------------------------

# execs ROW CMD...: records the programs CMD executed (execve calls that
# succeeded), CMD itself aside.
EXECS=()
declare -A EXECS_OF
execs() {
    local row=$1
    shift
    strace -f -qq -e trace=execve -e signal=none -o "$W/trace" "$@" >/dev/null 2>"$W/err" ||
        die "$row under strace failed"
    EXECS_OF[$row]=$(awk '
        /execve\("/ { p = $0; sub(/.*execve\("/, "", p); sub(/".*/, "", p); path[$1] = p }
        /= 0$/ && (/execve\(/ || /execve resumed/) { n = split(path[$1], a, "/"); print a[n] }
    ' "$W/trace" | tail -n +2 | sort | uniq -c | sort -rn | awk '{ n += $1; s = s (s ? ", " : "") $2 ($1 > 1 ? " x" $1 : "") } END { print n + 0 " (" s ")" }')
    EXECS+=("$row")
}
export -f floor_batch_run tutorial_setup tutorial_teardown cni_conf cni_add cni_del \
    netavark_conf netavark_add netavark_del
export W NETAVARK
say "counting processes with strace"
execs "nsnet setup" nsrun --net --hook 'vethup veth0 $NSRUN_PID' -- netinit 10.0.0.2/24 -- true
settle "" "${EPOCHREALTIME/./}"
execs "nsnet + NAT hooks (setup and teardown)" nsrun --net --hook 'natctl add 10.0.0.0/24' \
    --hook 'vethup veth0 $NSRUN_PID' --on-exit 'natctl del 10.0.0.0/24' -- netinit 10.0.0.2/24 -- true
settle "" "${EPOCHREALTIME/./}"
execs "floor: unshare --net true" unshare --net true
execs "floor: ip -batch x2" bash -c floor_batch_run
settle "" "${EPOCHREALTIME/./}"
execs "tutorial shell setup" bash -c tutorial_setup
execs "tutorial shell teardown" bash -c tutorial_teardown
execs "CNI ptp ADD" bash -c 'cni_add ptp 10.10.0.0/24 cni1'
execs "CNI ptp DEL" bash -c 'cni_del ptp 10.10.0.0/24 cni1'
execs "CNI bridge ADD" bash -c 'cni_add bridge 10.11.0.0/24 cni2'
execs "CNI bridge DEL" bash -c 'cni_del bridge 10.11.0.0/24 cni2'
execs "netavark setup" bash -c 'netavark_add 1 10.12.0.2 10.12.0.0/24 10.12.0.1'
execs "netavark teardown" bash -c 'netavark_del 1 10.12.0.2 10.12.0.0/24 10.12.0.1'
settle "" "${EPOCHREALTIME/./}"
execs "natctl add (nft)" natctl add --backend nft 10.9.0.0/24
execs "natctl del (nft)" natctl del 10.9.0.0/24
execs "natctl add (iptables)" natctl add --backend iptables 10.9.0.0/24
execs "natctl del (iptables)" natctl del 10.9.0.0/24
clean "the traced rows"
# Under bash -c the bash itself is the traced command; the tutorial's
# `ip netns exec` counts as the ip it runs plus that ip (ip execs it).

# ---- scaling: N containers on one bridge behind one NAT rule set --------------

# addr_of I NET: container I's address in 10.NET.0.0/16, in ADDR.
addr_of() { ADDR="10.$2.$(($1 / 250)).$(($1 % 250 + 2))"; }

# nsnet: a held container on nsbr0, its payload a sleep that first writes
# to a fifo; up = until that write. The nsrun processes are this shell's
# children, so they are killed and reaped here.
declare -A NS_PID NS_FD NS_T0
nsnet_launch() { # I
    local fifo=$W/fifo/$1 fd
    exec {fd}<>"$fifo"
    NS_FD[$1]=$fd
    addr_of "$1" 1
    NS_T0[$1]=${EPOCHREALTIME/./}
    nsrun --net --hook "vethup --bridge nsbr0 --addr 10.1.255.254/16 c$1 \$NSRUN_PID" \
        -- netinit --gateway 10.1.255.254 "$ADDR/16" \
        -- sh -c "echo >$fifo; exec sleep 1d" >/dev/null 2>>"$W/err" &
    NS_PID[$1]=$!
    HELD+=($!)
}
nsnet_ready() { # I
    read -r -t 60 -u "${NS_FD[$1]}" _ || die "nsnet container $1 did not start"
    record "scale-up/nsnet/$N/$MODE" $((${EPOCHREALTIME/./} - NS_T0[$1]))
    local fd=${NS_FD[$1]}
    exec {fd}>&-
}
nsnet_stop() { kill "${NS_PID[$1]}"; }
nsnet_reap() { wait "${NS_PID[$1]}" 2>/dev/null; }

cnib_up() { CNI_BRIDGE=cnis0 cni_add bridge 10.2.0.0/16 "cb$1"; }
cnib_down() { CNI_BRIDGE=cnis0 cni_del bridge 10.2.0.0/16 "cb$1"; }
nv_up() {
    addr_of "$1" 3
    netavark_add "$1" "$ADDR" 10.3.0.0/16 10.3.255.254
}
nv_down() {
    addr_of "$1" 3
    netavark_del "$1" "$ADDR" 10.3.0.0/16 10.3.255.254
}

# peer_one ROW FUNC I: one container up or down, its time recorded.
peer_one() {
    local t0=${EPOCHREALTIME/./}
    "$2" "$3" >>"$W/err" 2>&1 || return 1
    record "$1" $((${EPOCHREALTIME/./} - t0))
}
# peer_all TOOL FUNC KIND: every container, serially or PAR at a time in
# subshells (this shell's children: nothing is orphaned).
peer_all() {
    local tool=$1 fn=$2 kind=$3 i
    if [ "$MODE" = serial ]; then
        for ((i = 1; i <= N; i++)); do
            peer_one "scale-$kind/$tool/$N/$MODE" "$fn" "$i" || die "$tool: container $i $kind failed"
        done
    else
        local NV_LOCK=(flock "$W/nv.lock")
        for ((i = 1; i <= N; i++)); do
            if ((i > PAR)); then wait -n || die "$tool: a container $kind failed"; fi
            peer_one "scale-$kind/$tool/$N/$MODE" "$fn" "$i" &
        done
        local rc
        while :; do
            wait -n
            rc=$?
            ((rc == 127)) && break
            ((rc == 0)) || die "$tool: a container $kind failed"
        done
    fi
}

meminfo() { # -> MEM_KERNEL MEM_AVAIL (KiB)
    local k v _
    MEM_KERNEL=0
    while read -r k v _; do
        case $k in
            Slab: | KernelStack: | PageTables:) MEM_KERNEL=$((MEM_KERNEL + v)) ;;
            MemAvailable:) MEM_AVAIL=$v ;;
        esac
    done < /proc/meminfo
}
# The proportional memory of the processes nsnet keeps per container, in
# KiB: nsrun's in PSS_NSRUN, the payload's (its child) in PSS_PAYLOAD.
pss_of() { # PID -> adds its Pss to PSS_SUM
    local k v _
    while read -r k v _; do
        [ "$k" = Pss: ] && PSS_SUM=$((PSS_SUM + v))
    done < "/proc/$1/smaps_rollup"
}
held_pss() {
    local pid child
    PSS_SUM=0
    for pid in "${NS_PID[@]}"; do pss_of "$pid"; done
    PSS_NSRUN=$PSS_SUM
    PSS_SUM=0
    for pid in "${NS_PID[@]}"; do
        for child in $(< "/proc/$pid/task/$pid/children"); do pss_of "$child"; done
    done
    PSS_PAYLOAD=$PSS_SUM
}

declare -A SCALE_ROW
scale() { # TOOL
    local tool=$1 t0 t1 i k0 a0
    pause 0.1
    meminfo
    k0=$MEM_KERNEL a0=$MEM_AVAIL
    PSS_NSRUN=0 PSS_PAYLOAD=0
    : > "$W/err"
    if [ "$tool" = nsnet ]; then
        for ((i = 1; i <= N; i++)); do mkfifo "$W/fifo/$i"; done
        NS_PID=() NS_FD=() NS_T0=()
        t0=${EPOCHREALTIME/./}
        for ((i = 1; i <= N; i++)); do
            if [ "$MODE" = serial ]; then
                nsnet_launch "$i"
                nsnet_ready "$i"
            else
                ((i > PAR)) && nsnet_ready $((i - PAR))
                nsnet_launch "$i"
            fi
        done
        if [ "$MODE" = parallel ]; then
            for ((i = N - PAR + 1; i <= N; i++)); do ((i >= 1)) && nsnet_ready "$i"; done
        fi
        t1=${EPOCHREALTIME/./}
    else
        local fn=cnib_up
        [ "$tool" = netavark ] && fn=nv_up
        t0=${EPOCHREALTIME/./}
        peer_all "$tool" "$fn" up
        t1=${EPOCHREALTIME/./}
    fi
    local up_total=$((t1 - t0))
    meminfo
    count_rules
    local rules=$((RULES - SCALE_RULES0)) kernel=$((MEM_KERNEL - k0)) avail=$((a0 - MEM_AVAIL))
    [ "$tool" = nsnet ] && held_pss
    # Stop: from here until no link, rule or named namespace is left.
    t0=${EPOCHREALTIME/./}
    if [ "$tool" = nsnet ]; then
        for ((i = 1; i <= N; i++)); do
            nsnet_stop "$i"
            if [ "$MODE" = serial ]; then
                nsnet_reap "$i"
            elif ((i > PAR)); then
                nsnet_reap $((i - PAR))
            fi
        done
        for ((i = 1; i <= N; i++)); do nsnet_reap "$i"; done
        HELD=()
    else
        local fn=cnib_down
        [ "$tool" = netavark ] && fn=nv_down
        peer_all "$tool" "$fn" down
    fi
    t1=${EPOCHREALTIME/./}
    settle "" "$t0"
    clean "$tool at N=$N"
    rm -f "$W"/fifo/*
    SCALE_ROW[$tool/$N/$MODE]="$(((SETTLED - t0) / N)) $up_total $rules $((kernel * 1024 / N)) $((avail * 1024 / N)) $((PSS_NSRUN * 1024 / N)) $((PSS_PAYLOAD * 1024 / N))"
}

# The subnets' own things are made before and removed after, untimed, as
# on a host that runs containers: nsnet's bridge (vethup leaves it for the
# next container) and NAT rule set, the CNI bridge plugin's bridge.
# netavark removes its bridge with its last container and makes it again
# with the first: that stays in its figures.
SCALE_TOOLS=(nsnet "CNI bridge" netavark)
count_rules
SCALE_RULES0=$RULES
must "natctl add" natctl add 10.1.0.0/16
must "nsnet bridge" nsrun --net --hook 'vethup --bridge nsbr0 --addr 10.1.255.254/16 c0 $NSRUN_PID' -- true
must "CNI bridge" cnib_up 0
must "CNI bridge" cnib_down 0
BASE_LINKS=$((BASE_LINKS + 2))
settle "" "${EPOCHREALTIME/./}"
count_rules
BASE_RULES=$RULES
START=${EPOCHREALTIME/./}
for N in $SCALE; do
    reps=1
    ((N < 10)) && reps=$(((10 + N - 1) / N))
    for MODE in serial parallel; do
        say "scaling: N=$N, $MODE$( ((reps > 1)) && echo ", $reps passes")"
        for ((rep = 0; rep < reps; rep++)); do
            for tool in "${SCALE_TOOLS[@]}"; do
                T_PASS=${EPOCHREALTIME/./}
                scale "$tool"
                ((N < 100)) || say "  $tool: $(((${EPOCHREALTIME/./} - T_PASS) / 1000000)) s"
                # Effective times (all N / N): one figure per pass.
                read -r per total _ <<< "${SCALE_ROW[$tool/$N/$MODE]}"
                record "scale-down-all/$tool/$N/$MODE" "$per"
                record "scale-up-all/$tool/$N/$MODE" $((total / N))
            done
        done
    done
done
must "nsnet bridge" vethdown --all
must "natctl del" natctl del 10.1.0.0/16
ip link del cnis0 2>"$W/err" || die "cannot remove cnis0"
say "scaling took $(((${EPOCHREALTIME/./} - START) / 1000000)) s"

# ---- report -----------------------------------------------------------------

# Every row's median, p90 (nearest rank) and max, in ms.
declare -A MED P90 MAX CNT
while IFS=$'\t' read -r row m p x n; do
    MED[$row]=$m P90[$row]=$p MAX[$row]=$x CNT[$row]=$n
done < <(sort -t $'\t' -k1,1 -k2,2n "$SAMPLES" | awk -F '\t' '
    function flush() {
        if (n == 0) return
        m = (n % 2) ? v[(n + 1) / 2] : (v[n / 2] + v[n / 2 + 1]) / 2
        p = v[int(n * 0.9 + 0.999999)]
        printf "%s\t%.2f\t%.2f\t%.2f\t%d\n", row, m / 1000, p / 1000, v[n] / 1000, n
    }
    $1 != row { flush(); row = $1; n = 0 }
    { v[++n] = $2 }
    END { flush() }')

ms3() { # ROW -> "median | p90 | max"
    echo "${MED[$1]:--} | ${P90[$1]:--} | ${MAX[$1]:--}"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }
le() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "" && b != "" && a + 0 <= b + 0) }'; }
verdict() { if le "$1" "$2"; then echo "**met**"; else echo "**missed**"; fi; }

peers=("tutorial shell" "CNI ptp" "CNI bridge" "netavark")
fastest() { # KIND -> the peer with the lowest median
    local best="" p
    for p in "${peers[@]}"; do
        if [ -z "$best" ] || le "${MED[$1/peer: $p]}" "${MED[$1/peer: $best]}"; then best=$p; fi
    done
    echo "$best"
}
FLOOR=${MED[setup/floor: ip -batch x2]}
NSNET=${MED[setup/nsnet]}
NSNET_DOWN=${MED[teardown/nsnet]}
FAST_UP=$(fastest setup)
FAST_DOWN=$(fastest teardown)
FAST_UP_MS=${MED[setup/peer: $FAST_UP]}
FAST_DOWN_MS=${MED[teardown/peer: $FAST_DOWN]}

# Scaling target: nsnet's median per-container setup, serial, largest N
# against N=1.
read -r -a NS <<< "$SCALE"
N_LO=${NS[0]} N_HI=${NS[-1]}
UP_LO=${MED[scale-up/nsnet/$N_LO/serial]:-}
UP_HI=${MED[scale-up/nsnet/$N_HI/serial]:-}
RULES_LO=$(cut -d' ' -f3 <<< "${SCALE_ROW[nsnet/$N_LO/serial]:-}")
RULES_HI=$(cut -d' ' -f3 <<< "${SCALE_ROW[nsnet/$N_HI/serial]:-}")

versions() {
    echo "- kernel $(uname -r), $(nproc) cores ($(uname -m)); load average at the end $(cut -d' ' -f1-3 /proc/loadavg) (a machine shared with other work)"
    echo "- nsnet binaries: \`${NSNET_BIN#"${HERE%/bench}/"}\`$(case $NSNET_BIN in */debug) echo " (**unoptimised debug build**)" ;; esac)"
    echo "- $(ip -V), $(nft --version), $(iptables --version), util-linux $(unshare --version | awk '{print $NF}')"
    echo "- CNI plugins $(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null || echo "(version unknown)") ($CNI_PATH), $("$NETAVARK" --version) ($NETAVARK)"
}

cat <<EOF
# nsnet benchmark

$(date -u '+%Y-%m-%d %H:%M UTC'); $RUNS interleaved rounds of the one-container rows; scaling at N = $SCALE, parallel $PAR at a time. Generated by \`just bench\` (\`bench/bench.sh\` in a private lab); every time in ms as **median / p90 / max**.

$(versions)

## Targets

All ratios from this run.

| target | measured | verdict |
|---|---|---|
| one-container setup within 1.5x the hand-tuned floor | nsnet $NSNET / floor $FLOOR = **$(ratio "$NSNET" "$FLOOR")x** | $(verdict "$(ratio "$NSNET" "$FLOOR")" 1.5) |
| setup at least 2.5x faster than the fastest peer ($FAST_UP) | $FAST_UP_MS / $NSNET = **$(ratio "$FAST_UP_MS" "$NSNET")x** | $(verdict 2.5 "$(ratio "$FAST_UP_MS" "$NSNET")") |
| teardown at least 3x faster than the fastest peer ($FAST_DOWN) | $FAST_DOWN_MS / $NSNET_DOWN = **$(ratio "$FAST_DOWN_MS" "$NSNET_DOWN")x** | $(verdict 3 "$(ratio "$FAST_DOWN_MS" "$NSNET_DOWN")") |
| per-container setup at N=$N_HI within 1.2x of N=$N_LO (serial, median) | $UP_HI / $UP_LO = **$(ratio "$UP_HI" "$UP_LO")x** | $(verdict "$(ratio "$UP_HI" "$UP_LO")" 1.2) |
| firewall rules grow with subnets, not containers | nsnet: $RULES_LO rules at N=$N_LO, $RULES_HI at N=$N_HI | $([ -n "$RULES_LO" ] && [ "$RULES_LO" = "$RULES_HI" ] && echo "**met**" || echo "**missed**") |

## One container, end to end

Setup: from the start until a network-ready payload has run (\`true\`; for
the peers \`ip netns exec\`/\`nsenter ... true\`). nsnet is
\`nsrun --net --hook 'vethup veth0 \$NSRUN_PID' -- netinit 10.0.0.2/24 -- true\`.
The floor is \`unshare --net true\`, and the same kernel work as nsnet by
hand: one \`ip -batch\` on the host side (the peer made in the namespace),
one inside. The peers each add a per-container NAT rule; nsnet's NAT is
per subnet (\`natctl\`, below), so the row *nsnet + NAT hooks* does that
job too: \`--hook 'natctl add 10.0.0.0/24'\` and \`--on-exit 'natctl del ...'\`
(setup ends when its payload, \`date\`, ran). Processes: programs executed
(strace, successful execve, the command itself aside).

| setup | median | p90 | max | x floor (ip -batch x2) | x nsnet | processes started |
|---|---|---|---|---|---|---|
EOF
setup_row() { # ROW LABEL EXECS-ROW
    echo "| $2 | $(ms3 "$1") | $(ratio "${MED[$1]}" "$FLOOR") | $(ratio "${MED[$1]}" "$NSNET") | ${EXECS_OF[$3]:-} |"
}
setup_row "setup/nsnet" "**nsnet**" "nsnet setup"
setup_row "setup/nsnet + NAT hooks" "nsnet + NAT hooks (processes: whole life)" "nsnet + NAT hooks (setup and teardown)"
setup_row "setup/floor: unshare --net true" "floor: unshare --net true" "floor: unshare --net true"
setup_row "setup/floor: ip -batch x2" "floor: ip -batch x2" "floor: ip -batch x2"
for p in "${peers[@]}"; do
    case $p in
        "tutorial shell") e="tutorial shell setup" ;;
        netavark) e="netavark setup" ;;
        *) e="$p ADD" ;;
    esac
    setup_row "setup/peer: $p" "peer: $p" "$e"
done

cat <<EOF

Teardown to zero residue: from "stop" until no link, rule or named
namespace of the container is left. For nsnet and the floor, "stop" is the
payload's exit: nothing is run, the kernel removes the pair with the
namespace; the time is the kernel's deferred cleanup. For a peer it is the
start of its teardown commands; *blocking* is how long those commands run
before they return. Kept by design and not counted as residue: the CNI
bridge \`cni0\` and netavark's $KEPT_RULES global rules (made once before the
rounds). The kernel dismantles dying namespaces one after the other in a
background queue; every row starts 50 ms after the one before, so no row
waits behind another's cleanup (a namespace removed with \`ip netns del\`
is out of sight at once, its cleanup then runs unobserved).

| teardown | median | p90 | max | x nsnet | blocking (median) | processes started |
|---|---|---|---|---|---|---|
| **nsnet** | $(ms3 "teardown/nsnet") | 1.00 | 0 (nothing to run) | 0 |
| nsnet + NAT hooks (payload's end → zero residue) | $(ms3 "teardown/nsnet + NAT hooks") | $(ratio "${MED[teardown/nsnet + NAT hooks]}" "$NSNET_DOWN") | (on-exit hook inside nsrun) | see setup |
| floor: namespace exit | $(ms3 "teardown/floor: ip -batch x2") | $(ratio "${MED[teardown/floor: ip -batch x2]}" "$NSNET_DOWN") | 0 (nothing to run) | 0 |
EOF
for p in "${peers[@]}"; do
    case $p in
        "tutorial shell") e="tutorial shell teardown" ;;
        netavark) e="netavark teardown" ;;
        *) e="$p DEL" ;;
    esac
    echo "| peer: $p | $(ms3 "teardown/peer: $p") | $(ratio "${MED[teardown/peer: $p]}" "$NSNET_DOWN") | ${MED[blocking/peer: $p]} | ${EXECS_OF[$e]:-} |"
done

cat <<EOF

Whole life (setup, payload, teardown to zero residue), per round:

| life cycle | median | p90 | max | x nsnet |
|---|---|---|---|---|
EOF
for r in "nsnet" "nsnet + NAT hooks" "floor: ip -batch x2" "peer: tutorial shell" "peer: CNI ptp" "peer: CNI bridge" "peer: netavark"; do
    echo "| $r | $(ms3 "life/$r") | $(ratio "${MED[life/$r]}" "${MED[life/nsnet]}") |"
done

cat <<EOF

natctl, once per subnet (not per container), on an otherwise empty firewall:

| natctl | median | p90 | max | processes started |
|---|---|---|---|---|
EOF
for r in "natctl add (nft)" "natctl del (nft)" "natctl add (iptables)" "natctl del (iptables)"; do
    echo "| $r | $(ms3 "$r") | ${EXECS_OF[$r]:-} |"
done

cat <<EOF

## Scaling: N containers on one bridge behind one NAT rule set

nsnet: \`nsrun --net --hook 'vethup --bridge nsbr0 --addr 10.1.255.254/16 cI \$NSRUN_PID' -- netinit --gateway 10.1.255.254 ADDR/16 -- sh -c 'echo >FIFO; exec sleep 1d'\`
behind one \`natctl add 10.1.0.0/16\` (made once before the
scaling rows and removed after them, untimed: see its own rows); CNI bridge with host-local on 10.2.0.0/16;
netavark with static addresses on 10.3.0.0/16. Serial: one container after
another; parallel: $PAR at a time (a sliding window; netavark's calls
serialised by a lock, as podman does, since two at once fail). *Setup
latency*: each container's own time from its start until its payload ran
(median / p90 / max over the N containers, over passes of at least 10 containers
when N is small). *Setup, all N / N*: the wall time to set all N up,
divided by N. *Teardown, all N / N*: from the first stop until no link,
rule or named namespace of the containers is left, divided by N (the
bridges of nsnet and CNI, made once before, stay; netavark removes its
own with its last container). *Rules*: firewall rules present with N
containers up (nsnet: natctl's, made before the pass). Memory per container, in KiB: *kernel* is the growth
of Slab + KernelStack + PageTables, *avail* the fall of MemAvailable
(both machine-wide: noisy on a shared machine, meaningless at small N),
*held* the proportional set size of the processes nsnet keeps per container:
nsrun, and the payload (the container's own process, here a sleep). The
peers keep no process in this bench (a real container would have its
payload, and a runtime's shim), so nsnet's kernel figure also carries
those two processes' stacks and page tables. nsnet's parallel latencies
are read in start order: a container ready before an older one counts
from when the older one is.

| tool | N | mode | setup latency per container (median / p90 / max) | setup, all N / N | teardown, all N / N | rules | kernel KiB | avail KiB | held KiB: nsrun / payload |
|---|---|---|---|---|---|---|---|---|---|
EOF
for N in $SCALE; do
    for MODE in serial parallel; do
        for tool in "${SCALE_TOOLS[@]}"; do
            read -r _ _ rules kernel avail held payload <<< "${SCALE_ROW[$tool/$N/$MODE]}"
            kept="-"
            [ "$tool" = nsnet ] && kept="$((held / 1024)) / $((payload / 1024))"
            echo "| $tool | $N | $MODE | $(ms3 "scale-up/$tool/$N/$MODE" | sed 's/ | / \/ /g') | ${MED[scale-up-all/$tool/$N/$MODE]} | ${MED[scale-down-all/$tool/$N/$MODE]} | $rules | $((kernel / 1024)) | $((avail / 1024)) | $kept |"
        done
    done
done

# Where the time goes: the ladder's increments.
L0=${MED[setup/floor: unshare --net true]}
L1=${MED[ladder/nsrun --net -- true]}
L2=${MED[ladder/+ a hook: --hook true]}
L3=${MED[ladder/+ vethup in the hook]}
L4=$NSNET
sub() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f", a - b }'; }
RUST_START=${MED[start/vethup --version (a Rust tool)]}
IP_START=${MED[start/ip -batch /dev/null (an ip)]}
SH_START=${MED[start/sh -c : (a shell)]}
TRUE_START=${MED[start/true]}
ACCOUNTED=$(awk -v k="${MED[kernel/both]}" -v r="$RUST_START" -v i="$IP_START" -v s="$SH_START" -v t="$TRUE_START" \
    'BEGIN { printf "%.2f", k + 3 * r + 2 * i + s + t }')
REST=$(sub "$NSNET" "$ACCOUNTED")
PROJECTED=$(awk -v n="$NSNET" -v i="$IP_START" 'BEGIN { printf "%.2f", n - 2 * i }')
cat <<EOF

## Where nsnet's time goes

nsnet built up one piece at a time, each step a row of the same rounds
(medians); the increment is what the piece costs.

| step | median | increment | what the increment is |
|---|---|---|---|
| \`unshare --net true\` | $L0 | | the namespace and one program |
| \`nsrun --net -- true\` | $L1 | $(sub "$L1" "$L0") | nsrun's own process (it stays as the parent) |
| \`nsrun --net --hook true -- true\` | $L2 | $(sub "$L2" "$L1") | a hook: \`/bin/sh -c\` and the hand-off |
| \`... --hook 'vethup veth0 \$NSRUN_PID' -- true\` | $L3 | $(sub "$L3" "$L2") | vethup: its start, its checks over rtnetlink, one \`ip -batch\`, the kernel's veth |
| \`... -- netinit 10.0.0.2/24 -- true\` (nsnet) | $L4 | $(sub "$L4" "$L3") | netinit: its start, its wait for eth0, one \`ip -batch\`, the kernel's addresses and route |

Pieces of those increments, measured alone in the same rounds:

| piece | median | p90 | max |
|---|---|---|---|
| kernel work, host side (vethup's plan through ip, minus an idle ip) | $(ms3 "kernel/host side (vethup's plan)") |
| kernel work, inside (netinit's plan through ip, minus an idle ip) | $(ms3 "kernel/inside (netinit's plan)") |
| kernel work, both | $(ms3 "kernel/both") |
| start of an \`ip\` (\`ip -batch /dev/null\`) | $(ms3 "start/ip -batch /dev/null (an ip)") |
| start of a Rust tool (\`vethup --version\`) | $(ms3 "start/vethup --version (a Rust tool)") |
| start of a shell (\`sh -c :\`) | $(ms3 "start/sh -c : (a shell)") |
| start of \`true\` | $(ms3 "start/true") |

Put together (medians): nsnet's $NSNET ms are the kernel's work
(${MED[kernel/both]} ms, the same as the floor's) plus the starts of the
programs it runs: three Rust tools (nsrun, vethup, netinit: 3 x
$RUST_START), two \`ip\` (2 x $IP_START), a shell for the hook
($SH_START) and the payload ($TRUE_START), together $ACCOUNTED ms; the
remaining $REST ms are the tools' own work (checks over rtnetlink, the
hand-off, the wait for eth0, creating the namespace). The floor does the
same kernel work with two programs fewer: no vethup and no netinit (its
\`unshare\` is nsrun's counterpart, its inner \`sh\` the hook's).

A projection, not a measurement: were vethup and netinit to send their
plans over rtnetlink themselves instead of starting \`ip -batch\` (they
already read rtnetlink in-process), nsnet would start the floor's number
of programs and take about $NSNET - 2 x $IP_START = **$PROJECTED ms**:
$(ratio "$PROJECTED" "$FLOOR")x the floor, $(ratio "$FAST_UP_MS" "$PROJECTED")x faster than $FAST_UP.

Processes: one nsnet container runs nsrun and then
${EXECS_OF[nsnet setup]}; the floor runs ${EXECS_OF[floor: ip -batch x2]},
its \`unshare\` included (and the shell forks itself once for the
coprocess). The firewall costs nsnet nothing per container: NAT is one
\`natctl add\` per subnet (${MED[natctl add (nft)]} ms with nft, starting
${EXECS_OF[natctl add (nft)]%% *} processes), where every peer changes the
firewall for every container (the tutorial one \`iptables\`, CNI's ipMasq a
chain and two rules per container, netavark its chains through
\`iptables\` processes).
EOF

# The hand-written reading is kept from the previous report.
if [ -f "$HERE/RESULTS.md" ] && grep -q '^<!-- reading -->$' "$HERE/RESULTS.md"; then
    echo
    sed -n '/^<!-- reading -->$/,$p' "$HERE/RESULTS.md"
fi
