#!/bin/bash
# natctl against its peers, in a private lab (issues 11 and 12):
#
# 1. Publishing a port beside CNI's portmap plugin and netavark's port
#    mapping, doing the same job: with 0, 100 and 1000 ports already
#    published (by the same tool), the cost of one more publish and its
#    unpublish, the firewall's rule count, and the time a connection from
#    the lab's internet takes to the last published port.
# 2. natctl add and del beside 0, 100 and 1000 other subnets, both
#    backends: their cost and the child processes they start.
#
# Run it from the workspace root, after a release build:
#     target/release/labrun bash "$PWD/bench/natctl.sh"
# It writes bench/natctl.md next to itself and prints it.
#
#   RUNS   rounds per row (default 20)      LEVELS  ports/subnets already there (default "0 100 1000")
#
# How it measures: every sample is the wall time between two reads of
# $EPOCHREALTIME in this shell around the one command a user (or a
# runtime) runs, the program's start included. At level 0 the three tools
# take turns round by round; at 100 and 1000 each tool runs alone with its
# own ports in place (one tool's rules would slow the others' packets and
# reads), the tools in turn. Every command's failure is counted, not
# averaged; a row with failures says so.
#
# What "the same job" is for each:
# - natctl: `natctl publish PORT 10.20.0.2:80`, `natctl unpublish PORT`.
# - portmap: the CNI plugin binary itself with CNI_COMMAND=ADD / DEL, its
#   JSON on stdin (one portMappings entry, the container's address in
#   prevResult), as a runtime calls it after the bridge plugin.
# - netavark: it cannot map a port without setting up the whole container
#   network; its rows are `netavark setup` / `teardown` with one port
#   mapping, beside the same without one, and their difference is what the
#   port costs it. Its "ports already there" are one other container with
#   that many port_mappings.
set -uo pipefail
shopt -s nullglob

RUNS=${RUNS:-20}
LEVELS=${LEVELS:-"0 100 1000"}
HERE=$(cd "$(dirname "$0")" && pwd)
OUT=$HERE/natctl.md
CNI=/usr/lib/cni
NETAVARK=/usr/lib/podman/netavark
W=/run/natctl-bench
INET=/proc/${NSNET_LAB_INTERNET:-0}/ns/net

NAME=natctl.sh
# shellcheck source=bench/lib.sh
. "$HERE/lib.sh"
[ "${NSNET_LAB:-}" = 1 ] && [ -e "$INET" ] ||
    die "run me in a lab: target/release/labrun bash \"\$PWD/bench/natctl.sh\""
for p in natctl nsrun vethup netinit labsvc nft iptables strace "$CNI/portmap" "$NETAVARK"; do
    command -v "$p" >/dev/null || [ -x "$p" ] || die "$p is missing (./deps bench; cargo build --release)"
done
rm -rf "$W"
mkdir -p "$W/nv"
SAMPLES=$W/samples
FAILS=$W/fails
: > "$SAMPLES"
: > "$FAILS"
unset NATCTL_BACKEND
sysctl -qw net.ipv4.ip_forward=1
HELD=()
cleanup() {
    local p
    for p in "${HELD[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
}
trap cleanup EXIT


# ---- the three containers, each serving labsvc on port 80 -------------------

# natctl's: made the nsnet way.
nsrun --net --pid-file "$W/c.pid" --hook 'vethup --addr 10.20.0.1/24 bc0 $NSRUN_PID' \
    -- netinit 10.20.0.2/24 -- labsvc serve 10.20.0.2:80 > "$W/c.out" &
HELD+=($!)
# portmap's: a named namespace as a runtime would have made it.
ip netns add pm0
ip link add pmv0 type veth peer name eth0 netns pm0
ip addr add 10.21.0.1/24 dev pmv0 && ip link set pmv0 up
ip netns exec pm0 sh -c 'ip link set lo up; ip addr add 10.21.0.2/24 dev eth0; ip link set eth0 up; ip route add default via 10.21.0.1'
ip netns exec pm0 labsvc serve 10.21.0.2:80 > "$W/pm.out" &
HELD+=($!)
for f in c.out pm.out; do
    for _ in $(seq 100); do [ -s "$W/$f" ] && break; sleep 0.05; done
    [ "$(head -1 "$W/$f")" = ready ] || die "a server did not start ($f)"
done
natctl add 10.20.0.0/24 || die "natctl add"

# ---- the peers' calls -------------------------------------------------------

pm_conf() { # FIRST COUNT -> PM: portmap's JSON for ports FIRST.. to 10.21.0.2:80
    local maps="" p
    for ((p = $1; p < $1 + $2; p++)); do
        maps+="${maps:+,}{\"hostPort\":$p,\"containerPort\":80,\"protocol\":\"tcp\"}"
    done
    PM="{\"cniVersion\":\"0.4.0\",\"name\":\"bench-pm\",\"type\":\"portmap\",\"capabilities\":{\"portMappings\":true},\"snat\":true,\"runtimeConfig\":{\"portMappings\":[$maps]},\"prevResult\":{\"cniVersion\":\"0.4.0\",\"interfaces\":[{\"name\":\"eth0\",\"sandbox\":\"/run/netns/pm0\"}],\"ips\":[{\"version\":\"4\",\"address\":\"10.21.0.2/24\",\"gateway\":\"10.21.0.1\",\"interface\":0}]}}"
}
portmap() { # ADD|DEL ID FIRST COUNT
    local PM
    pm_conf "$3" "$4"
    CNI_COMMAND=$1 CNI_CONTAINERID=$2 CNI_NETNS=/run/netns/pm0 CNI_IFNAME=eth0 CNI_PATH=$CNI \
        "$CNI/portmap" <<< "$PM"
}

nv_conf() { # ID FIRST COUNT -> NV: netavark's JSON, container ID at 10.12.0.(ID+1)
    local maps="" p
    for ((p = $2; p < $2 + $3; p++)); do
        maps+="${maps:+,}{\"host_ip\":\"\",\"container_port\":80,\"host_port\":$p,\"range\":1,\"protocol\":\"tcp\"}"
    done
    printf -v NV '{"container_id":"%064x","container_name":"c%s","port_mappings":[%s],"networks":{"bench":{"static_ips":["10.12.0.%s"],"interface_name":"eth0"}},"network_info":{"bench":{"name":"bench","id":"%064x","driver":"bridge","network_interface":"nvbr0","subnets":[{"subnet":"10.12.0.0/24","gateway":"10.12.0.1"}],"ipv6_enabled":false,"internal":false,"dns_enabled":false,"ipam_options":{"driver":"host-local"}}}}' \
        "$1" "$1" "$maps" $(($1 + 1)) 1
}
nv_setup() { # ID FIRST COUNT
    local NV
    nv_conf "$@"
    [ -e "/run/netns/nv$1" ] || ip netns add "nv$1"
    "$NETAVARK" --config "$W/nv" setup "/run/netns/nv$1" <<< "$NV"
}
nv_teardown() { # ID FIRST COUNT
    local NV
    nv_conf "$@"
    "$NETAVARK" --config "$W/nv" teardown "/run/netns/nv$1" <<< "$NV" && ip netns del "nv$1"
}

# The ports of a level: N ports from 20000, the measured one is 30000.
load() { # TOOL N
    local p
    case $1 in
    natctl) for ((p = 20000; p < 20000 + $2; p++)); do natctl publish "$p" 10.20.0.2:80 || return 1; done ;;
    portmap) portmap ADD load 20000 "$2" > /dev/null ;;
    netavark)
        # The container that holds the ports also serves them.
        nv_setup 1 20000 "$2" > /dev/null || return 1
        ip netns exec nv1 labsvc serve 10.12.0.2:80 > "$W/nv.out" &
        NV_SERVER=$!
        for _ in $(seq 100); do [ -s "$W/nv.out" ] && break; sleep 0.05; done
        ;;
    esac
}
unload() { # TOOL N
    case $1 in
    natctl) natctl list | grep -v masquerade | natctl del - ;;
    portmap) portmap DEL load 20000 "$2" > /dev/null ;;
    netavark) kill "$NV_SERVER"; wait "$NV_SERVER" 2>/dev/null; nv_teardown 1 20000 "$2" > /dev/null ;;
    esac
}

# One more publish and its removal, each tool's way.
round() { # TOOL LEVEL
    case $1 in
    natctl)
        timed "publish/natctl/$2" natctl publish 30000 10.20.0.2:80
        timed "unpublish/natctl/$2" natctl unpublish 30000
        ;;
    portmap)
        timed "publish/portmap/$2" portmap ADD one 30000 1
        timed "unpublish/portmap/$2" portmap DEL one 30000 1
        ;;
    netavark)
        timed "publish/netavark/$2" nv_setup 2 30000 1
        timed "unpublish/netavark/$2" nv_teardown 2 30000 1
        timed "setup without a port/netavark/$2" nv_setup 2 30000 0
        timed "teardown without a port/netavark/$2" nv_teardown 2 30000 0
        ;;
    esac
}

# The time a connection from the internet to the last published port takes
# to get the server's answer: bash's own /dev/tcp, in the internet
# namespace, no program started in between.
connect_times() { # ROW PORT
    nsenter --net="$INET" bash -c '
        for i in $(seq '"$RUNS"'); do
            t0=${EPOCHREALTIME/./}
            if exec 3<>/dev/tcp/198.51.100.2/'"$2"' && read -r -t 3 line <&3; then
                t1=${EPOCHREALTIME/./}; printf "%s\t%s\n" "$t1" "$t0"
            else echo fail; fi
            exec 3>&-
        done' | while read -r a b; do
        if [ "$a" = fail ]; then failed "$1" "no answer"; else record "$1" $((a - b)); fi
    done
}

TOOLS=(natctl portmap netavark)
count_rules
RULES0=$RULES
for n in $LEVELS; do
    say "ports already published: $n"
    if [ "$n" = 0 ]; then
        # Nothing in place: the three take turns, round by round.
        for ((r = 0; r < RUNS; r++)); do
            for t in "${TOOLS[@]}"; do round "$t" 0; done
        done
    fi
    # Rules and the first packet with N ports (one at level 0).
    k=$((n > 0 ? n : 1))
    for t in "${TOOLS[@]}"; do
        load "$t" "$k" || { failed "load/$t/$n" "cannot load $k ports"; continue; }
        if [ "$n" != 0 ]; then
            for ((r = 0; r < RUNS; r++)); do round "$t" "$n"; done
        fi
        count_rules
        printf 'rules/%s/%s\t%s\n' "$t" "$n" $((RULES - RULES0)) >> "$W/counts"
        connect_times "connect/$t/$n" $((20000 + k - 1))
        unload "$t" "$k"
    done
done

# The containers are done with: their subnet would count in what follows.
natctl del 10.20.0.0/24
cleanup
HELD=()

# ---- natctl add and del beside other subnets --------------------------------

for backend in nft iptables; do
    for n in $LEVELS; do
        say "natctl add/del ($backend) beside $n subnets"
        subnets "$n" | sed "s/\$/ masquerade out=any backend=$backend/" | natctl add - || die "preloading $n subnets"
        for ((r = 0; r < RUNS; r++)); do
            timed "add/$backend/$n" natctl add --backend "$backend" 10.200.0.0/24
            timed "del/$backend/$n" natctl del 10.200.0.0/24
        done
        for op in add del; do
            case $op in
            add) cmd=(natctl add --backend "$backend" 10.200.0.0/24) ;;
            del) cmd=(natctl del 10.200.0.0/24) ;;
            esac
            strace -f -qq -e trace=execve -o "$W/st" "${cmd[@]}" > /dev/null 2>&1
            printf 'children/%s/%s/%s\t%s\n' "$op" "$backend" "$n" $(($(grep -c 'execve(' "$W/st") - 1)) >> "$W/counts"
        done
        count_rules
        printf 'rules-subnets/%s/%s\t%s\n' "$backend" "$n" $((RULES - RULES0)) >> "$W/counts"
        subnets "$n" | natctl del - > /dev/null || die "unloading"
    done
done

python3 - "$SAMPLES" "$W/counts" "$FAILS" "$OUT" "$RUNS" "$LEVELS" <<'EOF'
import sys, statistics, subprocess, platform
samples, counts, fails, out, runs, levels = sys.argv[1:7]
levels = levels.split()
data = {}
for line in open(samples):
    row, us = line.rstrip("\n").split("\t")
    data.setdefault(row, []).append(int(us) / 1000)
count = dict(l.rstrip("\n").split("\t") for l in open(counts))
failed = {}
for l in open(fails):
    failed[l.strip()] = failed.get(l.strip(), 0) + 1

def med(row):
    v = data.get(row)
    if not v:
        return None
    return statistics.median(v)

def cell(row):
    m = med(row)
    f = failed.get(row, 0)
    if m is None:
        return f"— ({f} failed)" if f else "—"
    return f"{m:.2f}" + (f" ({f} failed)" if f else "")

L = ["# natctl against its peers", "",
     "Made by `bench/natctl.sh` (run it with `target/release/labrun bash \"$PWD/bench/natctl.sh\"`);",
     f"median wall time in ms of {runs} samples per cell, the program's start included. Failures",
     "are counted beside the median (a cell with failures is marked, its failures left out).", ""]
L += ["## Publishing one more port", "",
      "`publish`/`unpublish`: natctl publish/unpublish; portmap ADD/DEL of one port;",
      "netavark setup/teardown of a container with one port (the row \"without a port\" is the",
      "same container without it: the difference is netavark's cost of the port).", "",
      "| tool | row | " + " | ".join(f"{n} ports there" for n in levels) + " |",
      "|---|---|" + "---:|" * len(levels)]
for tool in ("natctl", "portmap", "netavark"):
    rows = ["publish", "unpublish"]
    if tool == "netavark":
        rows += ["setup without a port", "teardown without a port"]
    for r in rows:
        L.append(f"| {tool} | {r} | " + " | ".join(cell(f"{r}/{tool}/{n}") for n in levels) + " |")
    if tool == "netavark":
        diffs = []
        for n in levels:
            a, b = med(f"publish/netavark/{n}"), med(f"setup without a port/netavark/{n}")
            diffs.append(f"{a - b:.2f}" if a is not None and b is not None else "—")
        L.append("| netavark | the port alone (publish − setup without) | " + " | ".join(diffs) + " |")
L += ["", "Ratios of one more publish (the peer's time over natctl's):", "",
      "| ports there | portmap / natctl | netavark (whole setup) / natctl |", "|---:|---:|---:|"]
for n in levels:
    a = med(f"publish/natctl/{n}")
    p = med(f"publish/portmap/{n}")
    v = med(f"publish/netavark/{n}")
    r = lambda x: f"{x / a:.1f}x" if (x is not None and a) else "—"
    L.append(f"| {n} | {r(p)} | {r(v)} |")
L += ["", "## Firewall rules and the first packet", "",
      "Rules: every rule of the namespace's nf_tables ruleset (iptables-nft's included) beyond the",
      "lab's, with the tool's ports in place (one port in the column for 0). Connect: from the",
      "lab's internet to the last published port, until the server's first line (bash's",
      "/dev/tcp, no program started).", "",
      "| tool | " + " | ".join(f"rules, {n} ports" for n in levels) + " | " +
      " | ".join(f"connect ms, {n} ports" for n in levels) + " |",
      "|---|" + "---:|" * (2 * len(levels))]
for tool in ("natctl", "portmap", "netavark"):
    L.append(f"| {tool} | " + " | ".join(count.get(f"rules/{tool}/{n}", "—") for n in levels) + " | " +
             " | ".join(cell(f"connect/{tool}/{n}") for n in levels) + " |")
L += ["", "## natctl add and del beside other subnets", "",
      "One subnet added and deleted with N other subnets there; children: the processes the",
      "command starts (strace -f, execve), rules: the ruleset with the N subnets.", "",
      "| backend | op | " + " | ".join(f"{n} others: ms" for n in levels) + " | " +
      " | ".join(f"{n}: children" for n in levels) + " |",
      "|---|---|" + "---:|" * (2 * len(levels))]
for b in ("nft", "iptables"):
    for op in ("add", "del"):
        L.append(f"| {b} | {op} | " + " | ".join(cell(f"{op}/{b}/{n}") for n in levels) + " | " +
                 " | ".join(count.get(f"children/{op}/{b}/{n}", "—") for n in levels) + " |")
    L.append(f"| {b} | rules | " + " | ".join(count.get(f"rules-subnets/{b}/{n}", "—") for n in levels) +
             " |" + " |" * len(levels))
total_fail = sum(failed.values())
ver = lambda *c: subprocess.run(c, capture_output=True, text=True).stdout.strip().splitlines()[0] if subprocess.run(c, capture_output=True, text=True).stdout.strip() else "?"
L += ["", f"Failures in the whole run: {total_fail}" + (" (" + ", ".join(f"{k}: {v}" for k, v in sorted(failed.items())) + ")" if failed else "") + ".",
      "", f"Kernel {platform.release()}; {ver('nft', '--version')}; {ver('iptables', '--version')};",
      f"netavark {ver('/usr/lib/podman/netavark', '--version')}; CNI plugins {ver('dpkg-query', '-W', '-f', '${Version}', 'containernetworking-plugins')}."]
text = "\n".join(L) + "\n"
open(out, "w").write(text)
print(text, end="")
EOF
