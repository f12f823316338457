#!/bin/sh
# How long `natctl add` and `natctl del` take with 0, 100 and 1000 other
# subnets already present, for both backends, beside the same masquerade
# rule added and deleted with a plain `iptables -t nat -A/-D`.
#
# Run it inside a lab (it changes the firewall of the namespace it runs in):
#     cargo build --workspace && target/debug/labrun sh "$PWD/bench/natctl.sh"
# Writes bench/natctl.md next to itself and prints the same table.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ "${NSNET_LAB:-}" = 1 ] || { echo "natctl.sh: run me through target/debug/labrun" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "natctl.sh: hyperfine is not installed" >&2; exit 2; }
runs=${RUNS:-15}
out=/run/natctl-bench
mkdir -p "$out"
unset NATCTL_BACKEND
subnet=10.200.0.0/24
plain="-s $subnet ! -d $subnet -j MASQUERADE"

# N other subnets, one a line: 10.1.0.0/24, 10.1.1.0/24, ... (never $subnet).
others() {
    i=0
    while [ "$i" -lt "$1" ]; do
        echo "10.$((i / 256 + 1)).$((i % 256)).0/24"
        i=$((i + 1))
    done
}

# Installs N other subnets the way natctl would (same tables, chains,
# rules and marks) in one transaction, far faster than N natctl adds.
populate_nft() {
    {
        echo "add table ip nsnet"
        echo "add chain ip nsnet postrouting { type nat hook postrouting priority srcnat; policy accept; }"
        echo "add chain ip nsnet forward { type filter hook forward priority filter; policy accept; }"
        for s in $(others "$1"); do
            echo "add rule ip nsnet forward ip daddr $s ip saddr != $s ct state ! established,related drop comment \"nsnet:$s\""
            echo "add rule ip nsnet postrouting ip saddr $s ip daddr != $s masquerade comment \"nsnet:$s\""
        done
    } | nft -f -
}

populate_iptables() {
    {
        echo "*filter"
        echo ":NSNET-FORWARD - [0:0]"
        echo "-I FORWARD 1 -j NSNET-FORWARD"
        for s in $(others "$1"); do
            m="-m comment --comment \"nsnet:$s\""
            echo "-I NSNET-FORWARD 1 ! -s $s -d $s -m conntrack ! --ctstate RELATED,ESTABLISHED $m -j DROP"
            echo "-A NSNET-FORWARD -d $s -m conntrack --ctstate RELATED,ESTABLISHED $m -j ACCEPT"
            echo "-A NSNET-FORWARD -s $s $m -j ACCEPT"
        done
        echo "COMMIT"
        echo "*nat"
        echo ":NSNET-POSTROUTING - [0:0]"
        echo "-I POSTROUTING 1 -j NSNET-POSTROUTING"
        for s in $(others "$1"); do
            echo "-A NSNET-POSTROUTING -s $s ! -d $s -m comment --comment \"nsnet:$s\" -j MASQUERADE"
        done
        echo "COMMIT"
    } | iptables-restore --noflush
}

measure() { # NAME PREPARE COMMAND
    hyperfine -N --runs "$runs" --warmup 2 --style none \
        --prepare "$2" --export-json "$out/$1.json" "$3" >/dev/null
}

for n in 0 100 1000; do
    for backend in nft iptables; do
        natctl flush
        [ "$n" -eq 0 ] || "populate_$backend" "$n"
        seen=$(natctl list | wc -l)
        [ "$seen" -eq "$n" ] || { echo "natctl.sh: natctl sees $seen of $n subnets" >&2; exit 1; }
        measure "add-$backend-$n" "natctl del --if-exists $subnet" \
            "natctl add --backend $backend $subnet"
        measure "del-$backend-$n" "natctl add --backend $backend $subnet" \
            "natctl del $subnet"
        if [ "$backend" = iptables ]; then
            # The plain rule beside the same N subnets in iptables.
            measure "add-plain-$n" "sh -c 'iptables -t nat -D POSTROUTING $plain 2>/dev/null; true'" \
                "iptables -t nat -A POSTROUTING $plain"
            measure "del-plain-$n" "sh -c 'iptables -t nat -C POSTROUTING $plain 2>/dev/null || iptables -t nat -A POSTROUTING $plain'" \
                "iptables -t nat -D POSTROUTING $plain"
        fi
    done
done
natctl flush

python3 - "$out" "$here/natctl.md" "$runs" <<'EOF'
import json, sys, platform, subprocess
out, md, runs = sys.argv[1], sys.argv[2], sys.argv[3]
def ms(name):
    r = json.load(open(f"{out}/{name}.json"))["results"][0]
    return r["median"] * 1000
rows = []
for op in ("add", "del"):
    for who in ("nft", "iptables", "plain"):
        cells = [ms(f"{op}-{who}-{n}") for n in (0, 100, 1000)]
        rows.append((op, who, cells))
plain = {op: [ms(f"{op}-plain-{n}") for n in (0, 100, 1000)] for op in ("add", "del")}
lines = [
    "## Figures",
    "",
    "Median wall time in ms (hyperfine, %s runs each, 2 warm-up), measured in a" % runs,
    "lab by `target/debug/labrun sh \"$PWD/bench/natctl.sh\"` on a debug build;",
    "the ratio in brackets is against a plain `iptables -t nat -A` (or `-D`) of",
    "the same rule with the same subnets present. `nft` and `iptables` are",
    "natctl's backends; `plain` is the bare iptables command.",
    "",
    "| command | backend | 0 others | 100 others | 1000 others | 1000 vs 0 |",
    "|---|---|---:|---:|---:|---:|",
]
for op, who, cells in rows:
    name = f"natctl {op}" if who != "plain" else f"iptables -t nat -{'A' if op == 'add' else 'D'}"
    shown = []
    for i, c in enumerate(cells):
        ratio = "" if who == "plain" else f" ({c / plain[op][i]:.1f}x)"
        shown.append(f"{c:.1f}{ratio}")
    lines.append(f"| {name} | {who} | " + " | ".join(shown) + f" | {cells[2] / cells[0]:.1f}x |")
kernel = platform.release()
lines += ["", f"Kernel {kernel}; " + subprocess.run(["nft", "--version"], capture_output=True, text=True).stdout.strip()
          + "; " + subprocess.run(["iptables", "--version"], capture_output=True, text=True).stdout.strip() + "."]
text = "\n".join(lines) + "\n"
print(text, end="")
# The figures replace the part between the markers; the notes around stay.
begin, end = "<!-- figures -->\n", "<!-- /figures -->\n"
try:
    old = open(md).read()
except FileNotFoundError:
    old = begin + end
head, _, rest = old.partition(begin)
_, _, tail = rest.partition(end)
open(md, "w").write(head + begin + text + end + tail)
EOF
