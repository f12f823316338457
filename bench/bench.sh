#!/bin/bash
# The side-by-side benchmark (issues 8 and 12): nsnet, the floors and the
# peers doing the same job, interleaved in one run, inside a private lab.
# `just bench` starts it through the release labrun and writes its
# stdout, a Markdown report, to bench/RESULTS.md. It touches and contacts
# nothing outside the lab: the only traffic is a scaled container's one
# TCP connection to its own gateway, inside the lab's host namespace.
#
#   RUNS   rounds of the one-container rows                  (default 40)
#   SCALE  container counts of the scaling rows               (default "10 1000")
#   PAR    containers started (and stopped) at once there      (default 8)
#   BACK   lives in a row in each back-to-back pass            (default 20)
#   LIMIT  seconds a scaling pass may take to start its N      (default 30)
#   SCALE_TOOLS  the scaling rows (default: all of them, see the report)
#   NAT_RUNS  natctl add/del pairs beside 0 and 1000 subnets (iptables: 100), per backend (default 10)
#
# A smoke run (about a minute): RUNS=3 SCALE=20 BACK=5 just bench.
#
# How it measures: every time is the difference of two reads of
# $EPOCHREALTIME in this shell, or of one such read and the clock read by
# the payload itself (`date +%s%6N`, inside the container, once its
# network is ready). A row pays for the processes it starts and nothing
# else: no fork of the harness inside a timed region beyond the row's own
# commands. Every row's failures are counted; a row with any failure is
# marked in the report and not averaged; a row that cannot run at all
# (it fails in the warm-up round, or a scaling pass has no container up)
# stops the run with a non-zero status.
set -uo pipefail
shopt -s nullglob

RUNS=${RUNS:-40}
SCALE=${SCALE:-"10 1000"}
PAR=${PAR:-8}
BACK=${BACK:-20}
LIMIT=${LIMIT:-30}
HERE=$(cd "$(dirname "$0")" && pwd)
CNI_PATH=/usr/lib/cni
NETAVARK=/usr/lib/podman/netavark
W=/run/nsbench
SAMPLES=$W/samples
FAILS=$W/fails
PORT=7 # the gateway's answering service, for the scaled payloads' check
export CNI_PATH W NETAVARK

NAME=bench
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"

[ "${NSNET_LAB:-}" = 1 ] || die "run me in a lab: just bench"
for p in nsrun vethup vethdown netinit natctl labsvc ip nft iptables unshare nsenter strace flock date; do
    command -v "$p" >/dev/null || die "$p is missing (./deps bench; cargo build --workspace --release)"
done
for p in "$CNI_PATH/ptp" "$CNI_PATH/bridge" "$CNI_PATH/host-local" "$NETAVARK"; do
    [ -x "$p" ] || die "$p is missing (./deps bench)"
done
NSNET_BIN=$(dirname "$(command -v nsrun)")
for t in vethup vethdown netinit natctl; do
    [ "$(dirname "$(command -v $t)")" = "$NSNET_BIN" ] || die "$t is not from $NSNET_BIN"
done
natctl add --help | grep -q -- --owner ||
    die "natctl has no --owner (the NAT rows need natctl's owners: issue 11)"
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)

rm -rf "$W"
mkdir -p "$W/ipam" "$W/nv" "$W/cni"
: > "$SAMPLES"
: > "$FAILS"
HELD=() # processes of this run still running: killed on exit
declare -A PID_OF # the scaled payloads up, by container
cleanup() {
    local pid
    for pid in "${HELD[@]}" "${PID_OF[@]}"; do kill "$pid" 2>/dev/null; done
    for pid in "${HELD[@]}"; do wait "$pid" 2>/dev/null; done
}
trap cleanup EXIT
sysctl -qw net.ipv4.ip_forward=1 # the lab's host namespace only

# ---- measuring --------------------------------------------------------------


# The links of this namespace and its named namespaces, read by builtins.
count_links() {
    mapfile -t _dev < /proc/net/dev
    LINKS=$((${#_dev[@]} - 2))
}
count_netns() {
    local f=(/run/netns/*)
    NETNS=${#f[@]}
}
# The links that may stay: the bridges the scaling rows leave for the
# next container of their network, once made.
want_links() {
    local b
    WANT=$BASE_LINKS
    for b in nsbr0 cnis0 flbr0; do
        [ -e "/proc/sys/net/ipv4/conf/$b" ] && WANT=$((WANT + 1))
    done
}

# One fifo nobody writes: a builtin read of it with a timeout is a sleep
# without a fork, and without a core kept busy that the kernel could use.
mkfifo "$W/never"
exec {NEVER}<>"$W/never"
pause() { read -r -t "$1" -u "$NEVER" _; }

# settle T0 [SECONDS]: waits until this namespace has its baseline links
# and no named namespace; the end in SETTLED. Fails after SECONDS (30)
# from T0, describing what is left in RESIDUE.
settle() {
    want_links
    while count_links; count_netns; ((LINKS != WANT || NETNS != 0)); do
        read -r -t 0.0002 -u "$NEVER" _
        if ((${EPOCHREALTIME/./} - $1 > ${2:-30} * 1000000)); then
            RESIDUE="$LINKS links where $WANT were expected ($(ip -o link | awk -F': ' '{ print $2 }' | tail -n 3 | xargs)), $NETNS named namespaces"
            return 1
        fi
    done
    SETTLED=${EPOCHREALTIME/./}
}

# clean: the firewall is back to its baseline (untimed).
clean() {
    count_rules
    ((RULES == BASE_RULES))
}

# ---- one container, each way --------------------------------------------------
#
# life_KEY runs one container's whole life the KEY way; its payload is
# `date +%s%6N` (like `true`, one short program, but it says when it ran),
# written to $W/stamp. undo_KEY removes what a failed life may have left.

DATE=(date +%s%6N)
OWNER='--owner $NSRUN_PID' # expanded by the hook's shell

life_nsnet() {
    nsrun --net --hook 'vethup veth0 $NSRUN_PID' -- netinit 10.0.0.2/24 -- "${DATE[@]}" > "$W/stamp"
}
life_nsnet_nat() {
    nsrun --net --hook "natctl add $OWNER 10.0.0.0/24" --hook 'vethup veth0 $NSRUN_PID' \
        --on-exit "natctl del $OWNER 10.0.0.0/24" -- netinit 10.0.0.2/24 -- "${DATE[@]}" > "$W/stamp"
}
undo_nsnet() { vethdown --all; natctl flush; }
undo_nsnet_nat() { undo_nsnet; }

# The same kernel work as nsnet by hand, in the fewest processes: one
# `ip -batch` on the host side and one inside (the peer is made in the
# namespace, as vethup makes it). Teardown: the namespace's exit.
life_floor() {
    # (braces and exec: an exported function keeps a named coproc intact)
    coproc { exec unshare --net sh -c 'echo ready; read _; ip -batch - <<EOF
link set lo up
addr add 10.0.0.2/24 dev eth0
link set eth0 up
route add default via 10.0.0.1
EOF
exec date +%s%6N > "$W/stamp"'; }
    read -r _ <&"${COPROC[0]}"
    ip -batch - <<EOF
link add veth0 type veth peer name eth0 netns $COPROC_PID
link set veth0 alias nsnet:vethup
addr add 10.0.0.1/24 dev veth0
link set veth0 up
EOF
    local rc=$?
    echo go >&"${COPROC[1]}"
    wait "$COPROC_PID" && return $rc
}
undo_floor() { ip link del veth0; }

life_unshare() { unshare --net "${DATE[@]}" > "$W/stamp"; }
undo_unshare() { :; }

# CNI as a runtime drives it: a named namespace, the plugin binary with
# CNI_* in its environment and its configuration on stdin (host-local
# IPAM), the payload in the namespace, the plugin's DEL, the namespace
# removed. Loopback stays down (a runtime would call the loopback plugin
# as well: one process more each way, left out in the peer's favour).
cni_conf() { # TYPE SUBNET MASQ -> CONF (the bridge plugin's bridge: $CNI_BRIDGE)
    local bridge=""
    [ "$1" = bridge ] && bridge="\"bridge\":\"${CNI_BRIDGE:-cni0}\",\"isGateway\":true,"
    CONF="{\"cniVersion\":\"0.4.0\",\"name\":\"bench-$1-$3\",\"type\":\"$1\",$bridge\"ipMasq\":$3,\"ipam\":{\"type\":\"host-local\",\"subnet\":\"$2\",\"dataDir\":\"$W/ipam\",\"routes\":[{\"dst\":\"0.0.0.0/0\"}]}}"
}
cni() { # ADD|DEL TYPE SUBNET MASQ NAME
    local CONF
    cni_conf "$2" "$3" "$4"
    CNI_COMMAND=$1 CNI_CONTAINERID=$5 CNI_NETNS=/run/netns/$5 CNI_IFNAME=eth0 \
        "$CNI_PATH/$2" <<< "$CONF"
}
cni_life() { # TYPE SUBNET MASQ NAME
    ip netns add "$4" &&
        cni ADD "$@" > /dev/null &&
        nsenter --net="/run/netns/$4" "${DATE[@]}" > "$W/stamp" &&
        cni DEL "$@" &&
        ip netns del "$4"
}
cni_undo() { # TYPE SUBNET MASQ NAME
    [ -e "/run/netns/$4" ] || return 0
    cni DEL "$@"
    ip netns del "$4"
}
life_ptp() { cni_life ptp 10.10.0.0/24 false cni1; }
undo_ptp() { cni_undo ptp 10.10.0.0/24 false cni1; }
life_ptp_nat() { cni_life ptp 10.11.0.0/24 true cni2; }
undo_ptp_nat() { cni_undo ptp 10.11.0.0/24 true cni2; }

# What the CNI rows' runtime part costs alone: the named namespace, the
# payload through nsenter, the namespace removed; no plugin.
life_netns() {
    ip netns add cni0ns && nsenter --net=/run/netns/cni0ns "${DATE[@]}" > "$W/stamp" && ip netns del cni0ns
}
undo_netns() { ip netns del cni0ns; }

# netavark: the JSON podman hands it, static addresses, its bridge driver.
# Version 1.4 has no `none` firewall driver (NETAVARK_FW=none came in 1.6);
# an `internal` network is how 1.4 skips the firewall, and it also skips
# the default route and turns forwarding off on its bridge. With NAT: its
# iptables driver, the only one 1.4 has. Two at once fail ("Chain already
# exists"): podman serialises its calls with a lock, and the parallel
# scaling rows do the same with flock (NV_LOCK).
NV_LOCK=()
nv_conf() { # ID IP SUBNET GATEWAY INTERNAL -> CONF
    printf -v CONF '{"container_id":"%064x","container_name":"c%s","networks":{"bench":{"static_ips":["%s"],"interface_name":"eth0"}},"network_info":{"bench":{"name":"bench","id":"%064x","driver":"bridge","network_interface":"nvbr0","subnets":[{"subnet":"%s","gateway":"%s"}],"ipv6_enabled":false,"internal":%s,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}}}' \
        "$1" "$1" "$2" 1 "$3" "$4" "$5"
}
nv() { # setup|teardown ID IP SUBNET GATEWAY INTERNAL
    local CONF
    nv_conf "${@:2}"
    "${NV_LOCK[@]}" "$NETAVARK" --config "$W/nv" "$1" "/run/netns/nv$2" <<< "$CONF"
}
nv_life() { # ID IP SUBNET GATEWAY INTERNAL
    ip netns add "nv$1" &&
        nv setup "$@" > /dev/null &&
        nsenter --net="/run/netns/nv$1" "${DATE[@]}" > "$W/stamp" &&
        nv teardown "$@" &&
        ip netns del "nv$1"
}
nv_undo() { # ID ...
    [ -e "/run/netns/nv$1" ] || return 0
    nv teardown "$@"
    ip netns del "nv$1"
}
life_nv() { nv_life 1 10.12.0.2 10.12.0.0/24 10.12.0.1 true; }
undo_nv() { nv_undo 1 10.12.0.2 10.12.0.0/24 10.12.0.1 true; }
life_nv_nat() { nv_life 1 10.12.0.2 10.12.0.0/24 10.12.0.1 false; }
undo_nv_nat() { nv_undo 1 10.12.0.2 10.12.0.0/24 10.12.0.1 false; }

# nsnet built up a piece at a time (setup is what these are read for).
life_ladder_nsrun() { nsrun --net -- "${DATE[@]}" > "$W/stamp"; }
life_ladder_hook() { nsrun --net --hook true -- "${DATE[@]}" > "$W/stamp"; }
life_ladder_vethup() {
    nsrun --net --hook 'vethup veth0 $NSRUN_PID' -- "${DATE[@]}" > "$W/stamp"
}
undo_ladder_nsrun() { :; }
undo_ladder_hook() { :; }
undo_ladder_vethup() { vethdown --all; }

# one KEY: one life the KEY way. Recorded: setup (start to the payload's
# clock), down (the payload's clock to the last command's return), life
# (start to the last command's return: what its user waits for), zero
# (start until no link or named namespace of it is left). The firewall is
# checked back to its baseline afterwards, untimed. A failure: a non-zero
# status, anything on stderr (nsrun reports a failed on-exit hook there,
# and keeps the payload's status), no payload, or residue.
one() {
    local key=$1 t0 t1 stamp
    : > "$W/stamp"
    t0=${EPOCHREALTIME/./}
    if "life_$key" > /dev/null 2> "$W/err"; then
        t1=${EPOCHREALTIME/./}
        if [ -s "$W/err" ]; then
            failed "$key" "it wrote to stderr"
        elif ! settle "$t0"; then
            failed "$key" "its links or namespaces still there after 30 s"
        elif ! read -r stamp < "$W/stamp" || [[ ! $stamp =~ ^[0-9]{16}$ ]]; then
            failed "$key" "the payload did not say when it ran"
        elif ! clean; then
            failed "$key" "$((RULES - BASE_RULES)) firewall rules left behind"
        else
            record "setup/$key" $((stamp - t0))
            record "down/$key" $((t1 - stamp))
            record "life/$key" $((t1 - t0))
            record "zero/$key" $((SETTLED - t0))
            return 0
        fi
    else
        failed "$key" "exit status $?"
    fi
    "undo_$key" > /dev/null 2>&1
    settle "${EPOCHREALTIME/./}" && clean ||
        die "$key: what its failure left cannot be removed; the run stops"
    return 1
}


# Program starts, for the where-the-time-goes table.
TRUE=$(type -P true) # the program, not the shell's builtin
starts() {
    timed "start/vethup --version" vethup --version &&
        timed "start/ip -batch /dev/null" ip -batch /dev/null &&
        timed "start/sh -c :" sh -c : &&
        timed "start/true" "$TRUE" &&
        timed "start/date" "${DATE[@]}"
}

# The kernel's share of nsnet's setup: the same two plans fed to ip, minus
# ip with nothing to do, against a namespace held by a sleeping process.
kernel() {
    local h t0 t1 t2 t3 t4 ok=1
    unshare --net sleep 1d &
    h=$!
    while [ /proc/$h/ns/net -ef /proc/$$/ns/net ]; do :; done
    printf 'link add veth0 type veth peer name eth0 netns /proc/%s/ns/net\nlink set veth0 alias nsnet:vethup\naddr add 10.0.0.1/24 dev veth0\nlink set veth0 up\n' \
        "$h" > "$W/host.plan"
    printf 'link set lo up\naddr add 10.0.0.2/24 dev eth0\nlink set eth0 up\nroute add default via 10.0.0.1\n' > "$W/inside.plan"
    t0=${EPOCHREALTIME/./}
    ip -batch "$W/host.plan" 2> "$W/err" || ok=0
    t1=${EPOCHREALTIME/./}
    ip -batch /dev/null || ok=0
    t2=${EPOCHREALTIME/./}
    nsenter --net=/proc/$h/ns/net ip -batch "$W/inside.plan" 2>> "$W/err" || ok=0
    t3=${EPOCHREALTIME/./}
    nsenter --net=/proc/$h/ns/net ip -batch /dev/null || ok=0
    t4=${EPOCHREALTIME/./}
    kill $h
    wait $h 2>/dev/null
    if ((ok)); then
        record "kernel/host side" $(((t1 - t0) - (t2 - t1)))
        record "kernel/inside" $(((t3 - t2) - (t4 - t3)))
        record "kernel/both" $(((t1 - t0) - (t2 - t1) + (t3 - t2) - (t4 - t3)))
    fi
    settle "${EPOCHREALTIME/./}" || die "kernel: the pair did not go with its namespace"
    ((ok)) || { failed kernel "an ip -batch failed"; return 1; }
}

# ---- the baseline ---------------------------------------------------------------

count_links
BASE_LINKS=$LINKS
count_rules
RULES0=$RULES
# What netavark keeps by design once it has run on a host (its FORWARD
# jump and HOSTPORT chains), made once before the rounds as on any host
# that runs it.
undo_nv_nat > /dev/null 2>&1
life_nv_nat > /dev/null 2> "$W/err" || die "netavark cannot run"
settle "${EPOCHREALTIME/./}" || die "netavark left links behind"
count_rules
BASE_RULES=$RULES
KEPT_RULES=$((BASE_RULES - RULES0))

# ---- the rounds -----------------------------------------------------------------

ONE=(nsnet nsnet_nat floor unshare ptp ptp_nat netns nv nv_nat ladder_nsrun ladder_hook ladder_vethup)
ROWS=("${ONE[@]}" starts kernel)
say "$RUNS rounds of ${#ROWS[@]} rows, one container each (round 0 is a warm-up)"
START=${EPOCHREALTIME/./}
for ((round = 0; round <= RUNS; round++)); do
    # The order turns by one row each round: no row always follows another.
    for ((k = 0; k < ${#ROWS[@]}; k++)); do
        row=${ROWS[(k + round) % ${#ROWS[@]}]}
        # Let the kernel finish the deferred part of the last teardown (a
        # namespace's cleanup goes on after its links are gone).
        pause 0.05
        case $row in
            starts | kernel) "$row" ;;
            *) one "$row" ;;
        esac || { ((round > 0)) || die "$row cannot run at all"; }
    done
    if ((round == 0)); then : > "$SAMPLES"; fi
done
say "one-container rows took $(((${EPOCHREALTIME/./} - START) / 1000000)) s"

# Back to back: BACK lives in a row with the same names and nothing in
# between, as a script's loop runs them; what the kernel defers from one
# teardown (a dying namespace, its pair) meets the next setup here. Five
# passes, the tools in turn; the figure is a pass's wall time / BACK.
BB=(nsnet nsnet_nat ptp ptp_nat)
for ((pass = 0; pass < 5; pass++)); do
    for key in "${BB[@]}"; do
        pause 0.05
        t0=${EPOCHREALTIME/./}
        for ((i = 0; i < BACK; i++)); do
            "life_$key" > /dev/null 2> "$W/err" || break
        done
        t1=${EPOCHREALTIME/./}
        if ((i < BACK)) || [ -s "$W/err" ]; then
            failed "back/$key" "life $((i + 1)) of $BACK failed"
            "undo_$key" > /dev/null 2>&1
        else
            record "back/$key" $(((t1 - t0) / BACK))
        fi
        settle "${EPOCHREALTIME/./}" && clean || die "back to back $key: residue left"
    done
done

# ---- processes started (strace, untimed) -----------------------------------------

# execs KEY CMD...: the programs CMD executed (execve calls that
# succeeded), CMD itself aside, as "N (prog xK, ...)" in EXECS_OF[KEY].
declare -A EXECS_OF EXECN
execs() {
    local key=$1
    shift
    strace -f -qq -e trace=execve -e signal=none -o "$W/trace" "$@" >/dev/null 2>"$W/err" ||
        die "$key under strace failed"
    EXECS_OF[$key]=$(awk '
        /execve\("/ { p = $0; sub(/.*execve\("/, "", p); sub(/".*/, "", p); path[$1] = p }
        /= 0$/ && (/execve\(/ || /execve resumed/) { n = split(path[$1], a, "/"); print a[n] }
    ' "$W/trace" | tail -n +2 | sort | uniq -c | sort -rn | awk '{ n += $1; s = s (s ? ", " : "") $2 ($1 > 1 ? " x" $1 : "") } END { print n + 0 (n ? " (" s ")" : "") }')
    EXECN[$key]=${EXECS_OF[$key]%% *}
}
export -f cni_conf cni cni_life nv_conf nv nv_life "${ONE[@]/#/life_}"
export OWNER
say "counting processes with strace"
for key in "${ONE[@]}"; do
    execs "$key" bash -c "DATE=(${DATE[*]}); life_$key"
    settle "${EPOCHREALTIME/./}" && clean || die "$key under strace left residue"
done
# (Under bash -c the bash itself is the traced command, aside.)

# ---- natctl add and del beside other subnets -----------------------------------
#
# One subnet (10.200.0.0/24) added and deleted NAT_RUNS times, add and del
# in turn, beside 0 and then NAT_HI other subnets (permanent entries,
# loaded with one `natctl add -`), with each backend; the processes each
# command starts counted once under strace. NAT_HI is the target's 1000
# for both (with iptables the load takes about half a minute: each line
# reads and rewrites the rule set). With 0 others the add makes natctl's
# table (or chains) and the del removes them again: that is the cost
# beside nothing.
NAT_RUNS=${NAT_RUNS:-10}
declare -A NAT_HI=([nft]=1000 [iptables]=1000)
NAT_SUBNET=10.200.0.0/24
declare -A NAT_RULES
say "natctl add/del beside 0 and ${NAT_HI[*]} other subnets, $NAT_RUNS times each"
for backend in nft iptables; do
    for n in 0 "${NAT_HI[$backend]}"; do
        subnets "$n" | sed "s/\$/ masquerade out=any backend=$backend/" | natctl add - > /dev/null 2> "$W/err" ||
            die "natctl add - of $n subnets ($backend) failed"
        for ((r = 0; r < NAT_RUNS; r++)); do
            pause 0.02
            if timed "natctl/add/$backend/$n" natctl add --backend "$backend" "$NAT_SUBNET"; then
                timed "natctl/del/$backend/$n" natctl del "$NAT_SUBNET"
            fi
            natctl del --if-exists "$NAT_SUBNET" > /dev/null 2>&1
        done
        count_rules
        NAT_RULES[$backend/$n]=$((RULES - BASE_RULES))
        execs "natctl/add/$backend/$n" natctl add --backend "$backend" "$NAT_SUBNET"
        count_rules
        NAT_RULES[$backend/$n]="${NAT_RULES[$backend/$n]} $((RULES - BASE_RULES))"
        execs "natctl/del/$backend/$n" natctl del "$NAT_SUBNET"
        natctl flush > /dev/null 2> "$W/err" || die "natctl flush failed"
        clean || die "natctl flush left $((RULES - BASE_RULES)) rules"
    done
done

# Owners, as the NAT rows' containers hold a subnet: this shell added and
# let go as one more owner (`add --owner`, `del --owner`) of a subnet
# that has 0, then NAT_OWNERS other live owners (sleeping processes,
# loaded with one `natctl add -` line), nft backend. The scaling rows'
# containers do this under natctl's one lock, one after another.
NAT_OWNERS=1000
OWNED=10.201.0.0/16
say "natctl add/del --owner beside 0 and $NAT_OWNERS other owners, $NAT_RUNS times each"
SLEEPERS=()
for ((i = 0; i < NAT_OWNERS; i++)); do
    sleep 1d &
    SLEEPERS+=($!)
done
HELD+=("${SLEEPERS[@]}")
for n in 0 "$NAT_OWNERS"; do
    if ((n > 0)); then
        line="$OWNED masquerade out=any backend=nft owners="
        for pid in "${SLEEPERS[@]}"; do
            read -r -a stat < "/proc/$pid/stat" # field 22: its start time
            line+="$pid:${stat[21]},"
        done
        natctl add - <<< "${line%,}" > /dev/null 2> "$W/err" || die "natctl add - of $n owners failed"
    fi
    for ((r = 0; r < NAT_RUNS; r++)); do
        pause 0.02
        timed "owner/add/$n" natctl add --backend nft --owner $$ "$OWNED" &&
            timed "owner/del/$n" natctl del --owner $$ "$OWNED"
    done
    natctl flush > /dev/null 2> "$W/err" || die "natctl flush failed"
    clean || die "natctl flush left $((RULES - BASE_RULES)) rules"
done
kill "${SLEEPERS[@]}"
wait "${SLEEPERS[@]}" 2> /dev/null
HELD=("${HELD[@]:0:${#HELD[@]}-NAT_OWNERS}")

# ---- scaling: N containers on one bridge behind one NAT ---------------------------
#
# Each container's payload checks, from inside, that its network is ready:
# a default route via its gateway (/proc/net/route), and (CHECK=reach) a
# TCP connection to the gateway whose answer (labsvc: the source address
# it saw) is the container's own address. Then it writes "ok I TIME PID"
# to the ready fifo (its own clock) and, if held, waits for a signal; on
# failure it writes "fail I WHY". All with bash builtins: no program
# started. (CHECK=route sends no packet, so it needs no neighbour entry:
# see the scaling section of the report.)
PAYLOAD='i=$1 addr=$2 gw=$3 hold=$4 check=$5 route= seen=
IFS=. read -r a b c d <<< "$gw"
printf -v hex "%02X%02X%02X%02X" "$d" "$c" "$b" "$a"
while read -r _ dst via _; do
    [ "$dst" = 00000000 ] && [ "$via" = "$hex" ] && route=yes
done < /proc/net/route
[ "$check" = route ] && [ -n "$route" ] && seen=$addr
if [ -n "$route" ] && { [ -n "$seen" ] || read -r -t 5 seen < "/dev/tcp/$gw/'$PORT'"; } && [ "$seen" = "$addr" ]; then
    echo "ok $i ${EPOCHREALTIME/./} $$" > '$W'/ready
else
    echo "fail $i route=${route:-none} answer=${seen:-none}" > '$W'/ready
    exit 1
fi
[ "$hold" = hold ] || exit 0
exec 4<> '$W'/never
read -r -u 4 _'

mkfifo "$W/ready"
exec {READY}<>"$W/ready"
labsvc serve "0.0.0.0:$PORT" > "$W/svc.out" &
HELD+=($!)
for _ in $(seq 100); do [ -s "$W/svc.out" ] && break; pause 0.05; done
[ "$(head -1 "$W/svc.out")" = ready ] || die "the gateway's service did not start"

addr_of() { ADDR="10.$2.$(($1 / 250)).$(($1 % 250 + 2))"; } # I NET -> ADDR

# up_TOOL I: starts container I in the background; its payload reports on
# the ready fifo. down_TOOL I: stops it in the background, "exit I STATUS"
# on the fifo when done.
NAT_HOOKS=(--hook "natctl add $OWNER 10.1.0.0/16" --on-exit "natctl del $OWNER 10.1.0.0/16")
up_nsnet() { nsnet_container "$1" reach "${NAT_HOOKS[@]}"; }
up_nsnet_route() { nsnet_container "$1" route "${NAT_HOOKS[@]}"; }
up_nsnet_bare() { nsnet_container "$1" route; }
nsnet_container() { # I CHECK NSRUN-OPTION...
    addr_of "$1" 1
    {
        nsrun --net "${@:3}" --hook "vethup --bridge nsbr0 --addr 10.1.255.254/16 c$1 \$NSRUN_PID" \
            -- netinit --gateway 10.1.255.254 "$ADDR/16" -- bash -c "$PAYLOAD" payload "$1" "$ADDR" 10.1.255.254 hold "$2"
        echo "exit $1 $?" > "$W/ready"
    } > /dev/null 2>> "$W/err" &
}
# nsnet's containers stop when their payload is killed: nsrun runs its
# on-exit hook and reports, from the braces above.
down_nsnet() { kill "${PID_OF[$1]}"; }
down_nsnet_route() { down_nsnet "$1"; }
down_nsnet_bare() { down_nsnet "$1"; }

# The floor at scale: the same links as nsnet without NAT by hand, in the
# fewest processes (as the one-container floor: one ip -batch on each
# side), on bridge flbr0 made before the rows.
up_floor() {
    addr_of "$1" 4
    (
        coproc {
            exec unshare --net sh -c 'echo ready; read _; ip -batch - <<EOF
link set lo up
addr add $2/16 dev eth0
link set eth0 up
route add default via 10.4.255.254
EOF
exec bash -c "$PAYLOAD" payload "$1" "$2" 10.4.255.254 hold route' floor "$1" "$ADDR"
        }
        read -r _ <&"${COPROC[0]}"
        ip -batch - <<EOF
link add f$1 type veth peer name eth0 netns $COPROC_PID
link set f$1 master flbr0 up
EOF
        echo go >&"${COPROC[1]}"
        wait "$COPROC_PID"
        echo "exit $1 $?" > "$W/ready"
    ) > /dev/null 2>> "$W/err" &
}
down_floor() { down_nsnet "$1"; }

cnib() { CNI_BRIDGE=cnis0 cni "$1" bridge 10.2.0.0/16 true "cb$2"; } # ADD|DEL I
up_cni() {
    (
        ip netns add "cb$1" && cnib ADD "$1" > "$W/cni/$1" || { echo "fail $1 setup" > "$W/ready"; exit 1; }
        # host-local picked the address: the payload checks it is the one ADD reported
        mapfile -t out < "$W/cni/$1"
        for l in "${out[@]}"; do [[ $l =~ \"address\":\ \"([0-9.]+)/ ]] && ADDR=${BASH_REMATCH[1]} && break; done
        nsenter --net="/run/netns/cb$1" bash -c "$PAYLOAD" payload "$1" "${ADDR:-none}" 10.2.0.1 go reach
    ) > /dev/null 2>> "$W/err" &
}
down_cni() {
    { cnib DEL "$1" && ip netns del "cb$1"; echo "exit $1 $?" > "$W/ready"; } > /dev/null 2>> "$W/err" &
}
nvs() { # setup|teardown I
    local ADDR
    addr_of "$2" 3
    nv "$1" "$2" "$ADDR" 10.3.0.0/16 10.3.255.254 false
}
up_netavark() {
    (
        addr_of "$1" 3
        NV_LOCK=(flock "$W/nv.lock")
        ip netns add "nv$1" && nvs setup "$1" ||
            { echo "fail $1 setup" > "$W/ready"; exit 1; }
        nsenter --net="/run/netns/nv$1" bash -c "$PAYLOAD" payload "$1" "$ADDR" 10.3.255.254 go reach
    ) > /dev/null 2>> "$W/err" &
}
down_netavark() {
    {
            NV_LOCK=(flock "$W/nv.lock")
        nvs teardown "$1" && ip netns del "nv$1"
        echo "exit $1 $?" > "$W/ready"
    } > /dev/null 2>> "$W/err" &
}

# scale TOOL: N containers up, PAR at a time (a sliding window: the next
# starts when one is ready), then all stopped, PAR at a time, until no
# link, rule or named namespace of theirs is left.
declare -A T0 STATE SCALE_ROW
scale() {
    local tool=$1 i j kind stamp pid launched=0 done=0 fails=0 first last=0 rules t0 t1 stopped=0 back=0 up=() lines
    T0=() STATE=()
    PID_OF=()
    : > "$W/err"
    first=${EPOCHREALTIME/./}
    while ((done < N)); do
        if ((launched < N && ${EPOCHREALTIME/./} - first > LIMIT * 1000000)); then
            say "$tool: over $LIMIT s with $done of $N up; the $((N - launched)) not started count as failed"
            fails=$((fails + N - launched))
            for ((i = launched + 1; i <= N; i++)); do STATE[$i]=late; done
            done=$((done + N - launched))
            launched=$N
        fi
        while ((launched < N && launched - done < PAR)); do
            launched=$((launched + 1))
            T0[$launched]=${EPOCHREALTIME/./}
            "up_$tool" "$launched"
        done
        if ! read -r -t 60 -u "$READY" kind j stamp pid; then
            say "$tool: no container ready for 60 s; the rest count as failed"
            fails=$((fails + N - done))
            for ((i = 1; i <= launched; i++)); do [ -n "${STATE[$i]:-}" ] || STATE[$i]=stuck; done
            break
        fi
        case $kind in
            ok)
                STATE[$j]=ok
                done=$((done + 1))
                record "scale-up/$tool/$N" $((stamp - T0[$j]))
                PID_OF[$j]=$pid
                ((stamp > last)) && last=$stamp
                ;;
            fail | exit)
                if [ -z "${STATE[$j]:-}" ]; then
                    done=$((done + 1))
                    fails=$((fails + 1))
                    say "$tool: container $j failed: $stamp $pid"
                elif [ "${STATE[$j]}" = ok ]; then
                    fails=$((fails + 1)) # ready, then gone before its stop
                    say "$tool: container $j ended before it was stopped"
                fi
                STATE[$j]=failed
                ;;
        esac
    done
    for ((i = 1; i <= N; i++)); do [ "${STATE[$i]:-}" = ok ] && up+=("$i"); done
    ((${#up[@]} > 0)) || die "$tool: not one of $N containers came up"
    say "  $tool: ${#up[@]} of $N up in $(((last - first) / 1000)) ms"
    count_rules
    rules=$((RULES - BASE_RULES))
    # Stop: from here until no link, rule or named namespace is left.
    t0=${EPOCHREALTIME/./}
    for j in "${up[@]}"; do
        if ((stopped - back >= PAR)); then stopped_one; fi
        "down_$tool" "$j"
        stopped=$((stopped + 1))
    done
    while ((back < stopped)); do stopped_one; done
    t1=${EPOCHREALTIME/./}
    # Anything a container's programs wrote to stderr is a failure (nsrun
    # reports a failed on-exit hook there, and keeps the payload's status).
    mapfile -t lines < "$W/err"
    if ((${#lines[@]} > 0)); then
        say "$tool at N=$N: ${#lines[@]} lines on stderr, each counted as a failure:"
        sort "$W/err" | uniq -c | sort -rn | head -5 | sed 's/^/bench:   /' >&2
        sort "$W/err" | uniq -c | sort -rn | head -3 > "$W/errors.$tool.$N"
    fi
    # Peers' containers that failed half-way: removed untimed.
    for ((i = 1; i <= N; i++)); do
        [ "${STATE[$i]:-}" = ok ] && continue
        case $tool in
            cni) [ -e "/run/netns/cb$i" ] && { cnib DEL "$i"; ip netns del "cb$i"; } ;;
            netavark) [ -e "/run/netns/nv$i" ] && { nvs teardown "$i"; ip netns del "nv$i"; } ;;
        esac > /dev/null 2>&1
    done
    settle "$t0" 300 || die "$tool at N=$N: 300 s after the stop, still $RESIDUE"
    if ! clean; then
        say "$tool at N=$N left $((RULES - BASE_RULES)) firewall rules"
        fails=$((fails + 1))
    fi
    ((fails + ${#lines[@]} == 0)) || printf 'scale/%s/%s\n' "$tool" "$N" >> "$FAILS"
    SCALE_ROW[$tool/$N]="$((last - first)) $((t1 - t0)) $((SETTLED - t0)) $rules $fails ${#lines[@]} ${#up[@]}"
}
# stopped_one: reads the report of one container stopped (a failed
# container's late report aside), and counts a wrong status as a failure:
# nsrun's is the payload's death by SIGTERM (128 + 15), a peer's 0.
stopped_one() {
    local kind i status want=0
    [[ $tool == nsnet* || $tool == floor ]] && want=143
    while :; do
        read -r -t 60 -u "$READY" kind i status _ || die "$tool: a stop took over 60 s"
        [ "$kind" = exit ] && [ "${STATE[$i]:-}" = ok ] && break
    done
    STATE[$i]=stopped
    back=$((back + 1))
    if [ "$status" != "$want" ]; then
        fails=$((fails + 1))
        say "$tool: container $i stopped with status $status"
    fi
}

read -r -a SCALE_TOOLS <<< "${SCALE_TOOLS:-nsnet nsnet_route nsnet_bare floor cni netavark}"
export PAYLOAD
ip link add flbr0 type bridge 2> "$W/err" && ip addr add 10.4.255.254/16 dev flbr0 && ip link set flbr0 up ||
    die "cannot make the floor's bridge"
START=${EPOCHREALTIME/./}
LOAD_SCALE=$(cut -d' ' -f1-3 /proc/loadavg)
for N in $SCALE; do
    for tool in "${SCALE_TOOLS[@]}"; do
        pause 0.2
        T_PASS=${EPOCHREALTIME/./}
        scale "$tool"
        say "scaling: $tool, N=$N: $(((${EPOCHREALTIME/./} - T_PASS) / 1000000)) s"
    done
done
vethdown --all > /dev/null 2> "$W/err" || die "vethdown --all failed"
for b in cnis0 flbr0; do
    [ ! -e "/proc/sys/net/ipv4/conf/$b" ] || ip link del "$b" 2> "$W/err" || die "cannot remove $b"
done
settle "${EPOCHREALTIME/./}" && clean || die "the scaling rows left residue"
say "scaling took $(((${EPOCHREALTIME/./} - START) / 1000000)) s"
LOAD_END=$(cut -d' ' -f1-3 /proc/loadavg)

# ---- report -----------------------------------------------------------------------

# Every row's median, p90 (nearest rank) and max in ms, and its count.
declare -A MED P90 MAX CNT NFAIL
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
while read -r n row; do NFAIL[$row]=$n; done < <(sort "$FAILS" | uniq -c)
TOTAL_FAILS=$(wc -l < "$FAILS")

# The failures of KEY: a one-container row's KEY is the way (nsnet, ptp,
# ...): a failed life fails its setup, teardown and life rows together.
fails_of() { echo "${NFAIL[$1]:-0}"; }
# med ROW [KEY]: ROW's median, or nothing when KEY (default ROW) failed.
med() {
    (($(fails_of "${2:-$1}") == 0)) && echo "${MED[$1]:-}"
}
# cells ROW [KEY] -> "median | p90 | max", or the failures.
cells() {
    local key=${2:-$1} f
    f=$(fails_of "$key")
    if ((f > 0)); then
        echo "**FAILED $f of $((f + ${CNT[$1]:-0}))** | | "
    else
        echo "${MED[$1]:--} | ${P90[$1]:--} | ${MAX[$1]:--}"
    fi
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a != "" && b > 0) printf "%.2f", a / b; else printf "-" }'; }
calc() { awk "BEGIN { printf \"%.2f\", $1 }"; }
ge() { awk -v a="$1" -v b="$2" 'BEGIN { exit !(a != "-" && a != "" && a + 0 >= b + 0) }'; }

declare -A LABEL=(
    [nsnet]="**nsnet**"
    [nsnet_nat]="**nsnet + NAT** (natctl owner hooks)"
    [floor]="floor: two \`ip -batch\` (shell)"
    [unshare]="floor: \`unshare --net\`"
    [ptp]="CNI ptp, \`ipMasq: false\`"
    [ptp_nat]="CNI ptp, \`ipMasq: true\`"
    [netns]="the CNI rows' runtime part alone (no plugin)"
    [nv]="netavark, no firewall (\`internal\`)"
    [nv_nat]="netavark, iptables NAT"
    [ladder_nsrun]="\`nsrun --net -- date\`"
    [ladder_hook]="\`nsrun --net --hook true -- date\`"
    [ladder_vethup]="\`nsrun --net --hook 'vethup veth0 \$NSRUN_PID' -- date\`"
)

# The targets (issue 12), from this run's medians.
L_NAT=$(med life/nsnet_nat nsnet_nat) L_PTPNAT=$(med life/ptp_nat ptp_nat)
L_NS=$(med life/nsnet nsnet) L_PTP=$(med life/ptp ptp)
R_NAT=$(ratio "$L_PTPNAT" "$L_NAT")
R_PLAIN=$(ratio "$L_PTP" "$L_NS")
S_NS=$(med setup/nsnet nsnet) S_FLOOR=$(med setup/floor floor)
R_FLOOR=$(ratio "$S_NS" "$S_FLOOR")
S_UNSHARE=$(med setup/unshare unshare)
K_BOTH=$(med kernel/both kernel)
[ -n "$S_UNSHARE" ] && [ -n "$K_BOTH" ] && S_BARE=$(calc "$S_UNSHARE + $K_BOTH") || S_BARE=
read -r -a NS <<< "$SCALE"
N_HI=${NS[-1]}
read -r SC_UP SC_RET SC_ZERO SC_RULES SC_FAILS SC_ERRS SC_OK <<< "${SCALE_ROW[nsnet/$N_HI]}"
SC_UP_S=$(calc "$SC_UP / 1000000")
if ((SC_FAILS + SC_ERRS > 0)); then
    SC_CELL="$SC_OK of $N_HI network-ready (a pass stops starting containers after $LIMIT s), $SC_FAILS containers failed, $SC_ERRS error lines"
else
    SC_CELL="all $N_HI network-ready in $SC_UP_S s, 0 failures"
fi

# scale_ready TOOL: how the scaling row of TOOL at N_HI ended, in words.
scale_ready() {
    local up ret zero rules f e ok
    read -r up ret zero rules f e ok <<< "${SCALE_ROW[$1/$N_HI]:-}"
    if [ -z "$up" ]; then
        echo "was not run"
    elif ((f + e > 0)); then
        echo "had $ok of $N_HI up ($f failed, $e error lines)"
    else
        echo "had all $N_HI up in $(calc "$up / 1000000") s"
    fi
}

# verdict_x RATIO WANT: "met"/"missed" for "at least WANT x faster", and
# how far off.
verdict_x() {
    if [ "$1" = - ]; then
        echo "**not measured** (a row failed)"
    elif ge "$1" "$2"; then
        echo "**met** ($(calc "($1 / $2 - 1) * 100")% to spare)"
    else
        echo "**missed** (short by $(calc "(1 - $1 / $2) * 100")%)"
    fi
}
if [ "$R_FLOOR" = - ]; then
    V_FLOOR="**not measured** (a row failed)"
elif ge 1 "$R_FLOOR"; then
    V_FLOOR="**met**"
else
    V_FLOOR="**missed** (over by $(calc "($R_FLOOR - 1) * 100")%: $(calc "$S_NS - $S_FLOOR") ms)"
fi
if ((N_HI < 1000)); then
    V_SCALE="**not measured** (this run's largest N is $N_HI, the target's 1000)"
elif ((SC_FAILS + SC_ERRS > 0)); then
    V_SCALE="**missed** (failures)"
elif ((SC_UP < 5000000)); then
    V_SCALE="**met** ($(calc "(1 - $SC_UP / 5000000) * 100")% to spare)"
else
    V_SCALE="**missed** (over by $(calc "($SC_UP / 5000000 - 1) * 100")%)"
fi

# natctl's target, per backend: at most one child per add and per del,
# and flat, read here as a median beside NAT_HI others at most FLAT times
# the median beside none.
FLAT=1.25
declare -A V_NAT NAT_CELL
for backend in nft iptables; do
    why=() cell=() v=
    hi=${NAT_HI[$backend]}
    for op in add del; do
        a=$(med "natctl/$op/$backend/0") b=$(med "natctl/$op/$backend/$hi")
        c0=${EXECN[natctl/$op/$backend/0]:-?} c1=${EXECN[natctl/$op/$backend/$hi]:-?}
        r=$(ratio "$b" "$a")
        cell+=("$op ${a:--} → ${b:--} ms beside 0 → $hi (${r}x), children $c0 → $c1")
        if [ "$r" = - ]; then
            v="**not measured** (a row failed)"
            continue
        fi
        ((c0 <= 1 && c1 <= 1)) || why+=("$op starts more than one child")
        ge "$FLAT" "$r" || why+=("$op ${r}x beside $hi, over ${FLAT}x")
    done
    if [ -z "$v" ]; then
        if ((${#why[@]} == 0)); then v="**met**"; else v="**missed** ($(IFS=';'; echo "${why[*]}" | sed 's/;/; /g'))"; fi
    fi
    V_NAT[$backend]=$v
    NAT_CELL[$backend]=$(IFS=';'; echo "${cell[*]}" | sed 's/;/; /g')
done

versions() {
    echo "- kernel $(uname -r), $(nproc) cores ($(uname -m)); load average (1, 5, 15 min) at the start $LOAD_START, before the scaling rows $LOAD_SCALE, at the end $LOAD_END (a machine shared with other work: see the Reading)"
    echo "- nsnet binaries: \`${NSNET_BIN#"${HERE%/bench}/"}\`$(case $NSNET_BIN in */debug) echo " (**unoptimised debug build**)" ;; esac)"
    echo "- $(ip -V), $(nft --version), $(iptables --version), util-linux $(unshare --version | awk '{print $NF}'), $(bash --version | head -1 | sed 's/ (.*//')"
    echo "- CNI plugins $(dpkg-query -W -f '${Version}' containernetworking-plugins 2>/dev/null || echo "(version unknown)") ($CNI_PATH), $("$NETAVARK" --version) ($NETAVARK)"
}

cat <<EOF
# nsnet benchmark

$(date -u '+%Y-%m-%d %H:%M UTC'); $RUNS interleaved rounds of the one-container rows, back to back passes of $BACK lives, scaling at N = $SCALE ($PAR at a time). Generated by \`just bench\` (\`bench/bench.sh\` in a private lab), every figure from this run; times in ms as **median / p90 / max** unless said otherwise. Failures recorded in the whole run (a failed life, pass, command or scaling row each): **$TOTAL_FAILS**$( ((TOTAL_FAILS > 0)) && echo " (rows with failures are marked and not averaged)").

$(versions)

Port publishing against CNI portmap and netavark is measured by
\`bench/natctl.sh\` into [natctl.md](natctl.md) (another run, not this
one); podman on an nsnet CNI network by \`bench/cni.sh\` into
[cni.md](cni.md).

## Targets (issue 12)

| target | measured in this run | verdict |
|---|---|---|
| one container's life with NAT at least 3x faster than CNI ptp with \`ipMasq: true\` | ${L_PTPNAT:--} / ${L_NAT:--} ms = **${R_NAT}x** | $(verdict_x "$R_NAT" 3) |
| one container's life without NAT at least 3x faster than CNI ptp with \`ipMasq: false\` | ${L_PTP:--} / ${L_NS:--} ms = **${R_PLAIN}x** | $(verdict_x "$R_PLAIN" 3) |
| one container's setup at or under the two-\`ip -batch\` shell floor | ${S_NS:--} / ${S_FLOOR:--} ms = **${R_FLOOR}x** | $V_FLOOR |
| \`natctl add\` and \`del\` (nft backend): one child process each, flat from 0 to 1000 other subnets (at most ${FLAT}x) | ${NAT_CELL[nft]} | ${V_NAT[nft]} |
| \`natctl add\` and \`del\` (iptables backend): the same | ${NAT_CELL[iptables]} | ${V_NAT[iptables]} |
| $N_HI containers on one bridge behind one NAT, $PAR at a time, all network-ready in under 5 s with 0 failures | $SC_CELL | $V_SCALE |

## The clock

Every one-container row is one container's whole life, timed at the same
points: **start** just before the first command (\`nsrun\`, \`unshare\`,
\`ip netns add\`); **ready** the clock of the payload, \`date +%s%6N\` run
in the container once its network is up (as cheap as \`true\`, but it says
when it ran); **return** when the last command has returned (\`nsrun\`,
the plugin's DEL and \`ip netns del\`, the namespace's last process):
what its user waits for; **zero** when no link and no named namespace of
it is left in the host (the kernel may remove a dead namespace's pair a
little after its last process, or after \`ip netns del\`). *Setup* is
start → ready, *teardown* ready → return, *life* start → return, *to
zero* start → zero. Every row's firewall is checked back to its baseline
after each life (untimed); a life that fails, leaves rules, or whose
payload did not run is a failure of its row. Rows run in turn, the order
rotating each round, 50 ms apart (the kernel's deferred cleanup of the
last namespace finishes in that gap); round 0 is a warm-up and not kept.

nsnet: \`nsrun --net --hook 'vethup veth0 \$NSRUN_PID' -- netinit 10.0.0.2/24 -- date\`;
with NAT also \`--hook 'natctl add --owner \$NSRUN_PID 10.0.0.0/24'\` (before vethup)
and \`--on-exit 'natctl del --owner \$NSRUN_PID 10.0.0.0/24'\`. CNI: the plugin
binary as a runtime runs it (CNI_* in its environment, its configuration on
stdin, host-local IPAM), between \`ip netns add\` and \`ip netns del\`, the
payload through \`nsenter\`; loopback left down (a runtime also runs the
loopback plugin: not counted, in the peer's favour). netavark 1.4 has no
\`none\` firewall driver: its no-firewall row is an \`internal\` network,
which skips the firewall (and the default route); its NAT row uses its
iptables driver, and keeps $KEPT_RULES global rules made once before the
rounds. The shell floor: one \`ip -batch\` on the host side (the peer made in
the namespace, as vethup does) and one inside, between \`unshare --net sh\`
and the payload.

## One container's life

| row | life | p90 | max | x nsnet (same NAT) | setup | teardown | to zero | processes started |
|---|---|---|---|---|---|---|---|---|
EOF
life_row() { # KEY REFERENCE-KEY
    local f
    f=$(fails_of "$1")
    if ((f > 0)); then
        echo "| ${LABEL[$1]} | $(cells "life/$1" "$1") | | | | | ${EXECS_OF[$1]:-} |"
    else
        echo "| ${LABEL[$1]} | $(cells "life/$1" "$1") | $(ratio "${MED[life/$1]}" "$(med "life/$2" "$2")") | ${MED[setup/$1]} | ${MED[down/$1]} | ${MED[zero/$1]} | ${EXECS_OF[$1]:-} |"
    fi
}
echo "| *without NAT* | | | | | | | | |"
for k in nsnet ptp nv floor unshare netns; do life_row "$k" nsnet; done
echo "| *with NAT* | | | | | | | | |"
for k in nsnet_nat ptp_nat nv_nat; do life_row "$k" nsnet_nat; done

cat <<EOF

*x nsnet*: the row's median life over nsnet's (without NAT: nsnet's;
with NAT: nsnet + NAT's). *setup*, *teardown*, *to zero*: medians.
*Processes started*: programs executed (strace, successful execve), the
command itself aside.

## One container's setup beside the floors

| setup (start → ready) | median | p90 | max | x shell floor |
|---|---|---|---|---|
EOF
for k in nsnet nsnet_nat floor unshare ptp ptp_nat; do
    echo "| ${LABEL[$k]} | $(cells "setup/$k" "$k") | $(ratio "$(med "setup/$k" "$k")" "$S_FLOOR") |"
done
echo "| computed, not run: \`unshare --net\` plus the kernel's work (a namespace, one program, the links; no process for the network) | ${S_BARE:--} | | | $(ratio "$S_BARE" "$S_FLOOR") |"

cat <<EOF

The kernel's work is measured by feeding nsnet's two plans to \`ip -batch\`
and subtracting an \`ip -batch\` with nothing to do (host side, inside):
$(cells "kernel/both" kernel | sed 's/ | / \/ /g') ms.

## Back to back

$BACK lives in a row with the same names and nothing in between, as a
script's loop runs them: what the kernel defers from one teardown (a dying
namespace and its pair) meets the next setup. Each figure is one pass's
wall time divided by $BACK; five passes, the tools in turn.

| back to back | per life: median | p90 | max | x nsnet (same NAT) |
|---|---|---|---|---|
EOF
for k in nsnet ptp nsnet_nat ptp_nat; do
    ref=nsnet
    [[ $k == *nat ]] && ref=nsnet_nat
    echo "| ${LABEL[$k]} | $(cells "back/$k") | $(ratio "$(med "back/$k")" "$(med "back/$ref")") |"
done

cat <<EOF

## natctl add and del beside other subnets

\`natctl add --backend B $NAT_SUBNET\` and \`natctl del $NAT_SUBNET\` in turn,
$NAT_RUNS times each, beside 0 and then ${NAT_HI[nft]} other subnets with nft,
${NAT_HI[iptables]} with iptables (permanent entries loaded by one \`natctl add -\`,
which with iptables reads and rewrites the rule set for each line);
start → return. Beside 0 the add
makes natctl's table (nft) or chains (iptables) and the del removes them.
*Children*: processes the command started (strace, successful execve).
*Rules*: firewall rules beyond the baseline with the others alone, then
with $NAT_SUBNET added as well.

| backend | op | 0 others: median / p90 / max | N others | N others: median / p90 / max | x (N / 0) | children: 0 others | children: N others |
|---|---|---|---|---|---|---|
EOF
for backend in nft iptables; do
    hi=${NAT_HI[$backend]}
    for op in add del; do
        echo "| $backend | $op | $(cells "natctl/$op/$backend/0" | sed 's/ | / \/ /g') | $hi | $(cells "natctl/$op/$backend/$hi" | sed 's/ | / \/ /g') | $(ratio "$(med "natctl/$op/$backend/$hi")" "$(med "natctl/$op/$backend/0")") | ${EXECS_OF[natctl/$op/$backend/0]:-?} | ${EXECS_OF[natctl/$op/$backend/$hi]:-?} |"
    done
    read -r r0 r0b <<< "${NAT_RULES[$backend/0]}"
    read -r r1 r1b <<< "${NAT_RULES[$backend/$hi]}"
    echo "| $backend | rules | $r0, then $r0b | $hi | $r1, then $r1b | | | |"
done

cat <<EOF

One more owner: this shell's \`natctl add --backend nft --owner PID $OWNED\`
and \`natctl del --owner PID $OWNED\` in turn, $NAT_RUNS times each, with 0
and then $NAT_OWNERS other live owners of $OWNED (as the scaling rows'
containers share their subnet).

| op | 0 other owners: median / p90 / max | $NAT_OWNERS other owners: median / p90 / max | x ($NAT_OWNERS / 0) |
|---|---|---|---|
EOF
for op in add del; do
    echo "| \`$op --owner\` | $(cells "owner/$op/0" | sed 's/ | / \/ /g') | $(cells "owner/$op/$NAT_OWNERS" | sed 's/ | / \/ /g') | $(ratio "$(med "owner/$op/$NAT_OWNERS")" "$(med "owner/$op/0")") |"
done

cat <<EOF

## Scaling: N containers on one bridge behind one NAT, $PAR at a time

**nsnet**: \`nsrun --net --hook 'natctl add --owner \$NSRUN_PID 10.1.0.0/16' --hook 'vethup --bridge nsbr0 --addr 10.1.255.254/16 cI \$NSRUN_PID' --on-exit 'natctl del --owner \$NSRUN_PID 10.1.0.0/16' -- netinit --gateway 10.1.255.254 ADDR/16 -- bash -c PAYLOAD\`:
every container carries its NAT (an owner of the subnet's entry); the
row of the target. Rows that take its parts away, to show where the time
goes: *route check only* (the same, but the payload sends no packet),
*without NAT* (no natctl hooks either), and the *floor* (the same links
as nsnet without NAT made by hand, one \`ip -batch\` on each side per
container, on a bridge made before). CNI: the bridge plugin with \`ipMasq: true\` on bridge cnis0, 10.2.0.0/16, host-local.
netavark: its bridge driver with iptables NAT, static addresses in 10.3.0.0/16,
its calls serialised with \`flock\` as podman serialises them (two at once
fail in 1.4). The PAYLOAD (bash builtins only, no program started) checks
from inside that the default route via the gateway is there and that a TCP
connection to the gateway is answered with the container's own address,
then reports to the harness; nsnet's payload stays as the container's
process, the peers' namespaces stay bound under /run/netns. The next
container starts when one is ready ($PAR in flight). *All ready*: from
the first start to the last payload's report. *Latency*: each container's
own start → report. *Stop*: every container stopped, $PAR at a time
(nsnet and the floor: the payload killed, nsrun runs the on-exit hook;
peers: DEL and \`ip netns del\`), until the last returns; *to zero*: until
no link, rule or named namespace is left (the bridges stay for the next
container). A pass that has not started all its containers after $LIMIT s
starts no more (the rest count as failed). *Rules*: firewall rules present with N containers up, beyond
the baseline. *Failures*: containers that did not come up, ended before
their stop, or stopped with an error; and lines their programs wrote to
stderr (nsrun reports a failed on-exit hook there). A row with any is
marked and not averaged.

| tool | N | all ready, s | per container, ms | latency, ms: median / p90 / max | stop all, s | to zero, s | rules | failures: containers / error lines |
|---|---|---|---|---|---|---|---|---|
EOF
declare -A TOOL_LABEL=([nsnet]="**nsnet**" [nsnet_route]="nsnet, route check only (no packet)" [nsnet_bare]="nsnet without NAT, route check only" [floor]="floor: two \`ip -batch\`, without NAT, route check only" [cni]="CNI bridge" [netavark]="netavark")
for N in $SCALE; do
    for tool in "${SCALE_TOOLS[@]}"; do
        read -r up ret zero rules f e ok <<< "${SCALE_ROW[$tool/$N]}"
        if ((f + e > 0)); then
            echo "| ${TOOL_LABEL[$tool]} | $N | **FAILED** ($ok of $N up, the last after $(calc "$up / 1000000") s) | | | | | $rules | $f / $e |"
        else
            echo "| ${TOOL_LABEL[$tool]} | $N | $(calc "$up / 1000000") | $(calc "$up / 1000 / $N") | $(cells "scale-up/$tool/$N" "scale/$tool/$N" | sed 's/ | / \/ /g') | $(calc "$ret / 1000000") | $(calc "$zero / 1000000") | $rules | 0 / 0 |"
        fi
    done
done
errors=("$W"/errors.*)
if ((${#errors[@]} > 0)); then
    echo
    echo "The error lines of the rows marked, most frequent first (count, line):"
    echo
    for f in "${errors[@]}"; do
        t=${f#"$W/errors."}
        while read -r n line; do
            echo "- ${TOOL_LABEL[${t%.*}]}, N=${t##*.}: $n x \`$line\`"
        done < "$f"
    done
fi
cat <<EOF

A container that reaches its gateway needs two entries in the kernel's
neighbour (ARP) table: its own for the gateway, and the host's for it.
That table is one for all namespaces, capped by the host's
\`net.ipv4.neigh.default.gc_thresh3\` (${NSNET_NEIGH_MAX:-unknown: run through \`just bench\`} here;
it exists in the host's own namespace only, out of a lab's reach), and an
entry younger than 5 s cannot be reclaimed to make room: past about half
that many containers made within a few seconds, a gateway check fails
with "No route to host" however fast the tool. The *route check only*
rows send no packet and need no entry.
EOF

# Where nsnet's time goes: the ladder's increments (setup medians).
L0=$S_UNSHARE L1=$(med setup/ladder_nsrun ladder_nsrun) L2=$(med setup/ladder_hook ladder_hook)
L3=$(med setup/ladder_vethup ladder_vethup) L4=$S_NS S_NAT=$(med setup/nsnet_nat nsnet_nat)
sub() { if [ -n "$1" ] && [ -n "$2" ]; then calc "$1 - $2"; else echo -; fi; }
cat <<EOF

## Where nsnet's time goes

nsnet's setup built up one piece at a time, each step a row of the same
rounds (setup medians, start → ready); the increment is what the piece
costs.

| step | setup | increment | what the increment is |
|---|---|---|---|
| \`unshare --net date\` | ${L0:--} | | a namespace and one program |
| \`nsrun --net -- date\` | ${L1:--} | $(sub "$L1" "$L0") | nsrun over unshare (it stays as the parent) |
| \`nsrun --net --hook true -- date\` | ${L2:--} | $(sub "$L2" "$L1") | a hook: \`/bin/sh -c\` and the hand-off |
| \`... --hook 'vethup veth0 \$NSRUN_PID' -- date\` | ${L3:--} | $(sub "$L3" "$L2") | vethup: its start, its checks, the veth made over rtnetlink |
| \`... -- netinit 10.0.0.2/24 -- date\` (nsnet) | ${L4:--} | $(sub "$L4" "$L3") | netinit: its start, its wait for eth0, addresses and route over rtnetlink, the exec |
| nsnet + NAT | ${S_NAT:--} | $(sub "$S_NAT" "$L4") | a second hook: \`/bin/sh -c 'natctl add --owner ...'\`, which beside no other subnet makes natctl's table (one \`nft\` child: see the natctl section) |

The NAT's whole cost over a life: $(sub "$L_NAT" "$L_NS") ms (nsnet + NAT's
life minus nsnet's), for two hooks (a shell and a natctl each); \`natctl
add\` and \`del\` alone beside no other subnet take $(med natctl/add/nft/0) and
$(med natctl/del/nft/0) ms in the natctl section. At scale, each container's
add and del run one at a time under natctl's lock, and their cost grows
with the owners already there: $(med owner/add/0) → $(med owner/add/$NAT_OWNERS) ms
(add) and $(med owner/del/0) → $(med owner/del/$NAT_OWNERS) ms (del) beside 0 → $NAT_OWNERS owners.

Single program starts, in the same rounds (start → return):

| program | median | p90 | max |
|---|---|---|---|
| \`vethup --version\` (a Rust tool) | $(cells "start/vethup --version") |
| \`ip -batch /dev/null\` | $(cells "start/ip -batch /dev/null") |
| \`sh -c :\` | $(cells "start/sh -c :") |
| \`true\` | $(cells "start/true") |
| \`date +%s%6N\` (the payload) | $(cells "start/date") |
EOF

# The reading: generated from this run's figures only.
n_ns=${EXECN[nsnet]:-?} n_nat=${EXECN[nsnet_nat]:-?} n_floor=${EXECN[floor]:-?}
n_ptp=${EXECN[ptp]:-?} n_ptpnat=${EXECN[ptp_nat]:-?}
cat <<EOF

## Reading

Generated from this run's figures; nothing here comes from another run.

- **With NAT**, one container's life takes ${L_NAT:--} ms with nsnet
  (${n_nat} processes) against ${L_PTPNAT:--} ms with CNI ptp and
  \`ipMasq: true\` (${n_ptpnat} processes): ${R_NAT}x, target 3x, $(verdict_x "$R_NAT" 3 | sed 's/\*//g').
  3x would need nsnet + NAT at or under $(calc "${L_PTPNAT:-0} / 3") ms.
- **Without NAT**: ${L_NS:--} ms (${n_ns} processes) against ${L_PTP:--} ms for
  ptp with \`ipMasq: false\` (${n_ptp} processes): ${R_PLAIN}x, target 3x,
  $(verdict_x "$R_PLAIN" 3 | sed 's/\*//g').
- **Setup against the shell floor**: ${S_NS:--} ms against ${S_FLOOR:--} ms
  (${n_ns} processes against ${n_floor}): ${R_FLOOR}x, target at most 1.0,
  $(echo "$V_FLOOR" | sed 's/\*//g').
- **$N_HI containers, $PAR at a time**: $SC_CELL; target all
  network-ready in under 5 s with 0 failures, $(echo "$V_SCALE" | sed 's/\*//g')
  (the scaling table's other rows take the target row apart: the links alone,
  nsnet without NAT and sending no packet, $(scale_ready nsnet_bare); the
  two-\`ip -batch\` shell floor $(scale_ready floor); nsnet with its NAT and
  no packet $(scale_ready nsnet_route));
  firewall rules with $N_HI containers up: $SC_RULES.
- **natctl add and del** beside other subnets, nft backend:
  ${NAT_CELL[nft]}; $(echo "${V_NAT[nft]}" | sed 's/\*//g'). iptables backend:
  ${NAT_CELL[iptables]}; $(echo "${V_NAT[iptables]}" | sed 's/\*//g').
- Against each row's *to zero* column, the ratios are
  $(ratio "$(med zero/ptp_nat ptp_nat)" "$(med zero/nsnet_nat nsnet_nat)")x with NAT and
  $(ratio "$(med zero/ptp ptp)" "$(med zero/nsnet nsnet)")x without; back to back,
  $(ratio "$(med back/ptp_nat)" "$(med back/nsnet_nat)")x and
  $(ratio "$(med back/ptp)" "$(med back/nsnet)")x.
- The load average went from $LOAD_START at the start to $LOAD_END at the
  end; on this $(nproc)-core machine every process start costs more under
  load, which weighs most on the rows that start the most processes.
EOF
exit 0
