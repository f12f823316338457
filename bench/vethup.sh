#!/bin/sh
# One vethup beside the same setup made by separate `ip` commands, and the
# number of processes each starts. Meant to run inside a lab, which it
# changes freely:
#
#     cargo build --workspace && target/debug/labrun sh "$PWD/bench/vethup.sh"
#
# (an absolute path: the lab starts in /). Prints the ratios and writes the
# figures to vethup.md beside this script (or to $1).
set -eu
if [ -z "${NSNET_LAB:-}" ]; then
    echo "bench/vethup.sh: run me in a lab: target/debug/labrun sh \"\$PWD/bench/vethup.sh\"" >&2
    exit 2
fi
out=${1:-$(dirname "$0")/vethup.md}
runs=${RUNS:-200}
work=$(mktemp -d /run/bench.XXXXXX)

# The container: a process holding a fresh network namespace.
unshare --net sleep infinity &
holder=$!
trap 'kill $holder; rm -rf "$work"' EXIT
while [ "$(readlink /proc/$holder/ns/net)" = "$(readlink /proc/self/ns/net)" ]; do
    sleep 0.01
done
ns=/proc/$holder/ns/net

# The same state four ways: vethup; the same ip commands one process
# each; the plan vethup runs, fed to one `ip -batch` by hand (vethup less
# its own checks); and the common recipe that creates the peer on the host
# and moves it (what DESIGN.md forbids).
vethup --dry-run veth0 "$holder" | sed 's/^ip //' > "$work/plan"
by_vethup="vethup veth0 $holder"
by_ip="ip link add veth0 type veth peer name eth0 netns $ns && ip link set veth0 alias nsnet:vethup && ip addr add 10.0.0.1/24 dev veth0 && ip link set veth0 up"
by_batch="ip -batch $work/plan"
by_move="ip link add veth0 type veth peer name eth0 && ip link set eth0 netns $ns && ip link set veth0 alias nsnet:vethup && ip addr add 10.0.0.1/24 dev veth0 && ip link set veth0 up"

# Each variant must leave exactly what vethup leaves.
state() { { ip -o link show veth0; ip -o addr show dev veth0; nsenter --net=$ns ip -o link show eth0; } |
    sed 's/link\/ether [^ ]*//; s/^[0-9]*: //; s/@[^:]*:/:/; s/ state [A-Z]*//; s/NO-CARRIER,//; s/link-netnsid [0-9]*//' | grep -v fe80; }
eval "$by_vethup"; state > "$work/want"; ip link del veth0
for variant in "$by_ip" "$by_batch" "$by_move"; do
    eval "$variant"; state > "$work/got"; ip link del veth0
    cmp -s "$work/want" "$work/got" || { echo "bench: '$variant' makes another state" >&2; diff "$work/want" "$work/got" >&2; exit 1; }
done

# Removing a veth sleeps ~16 ms in the kernel: done in --prepare, untimed.
hyperfine --style basic --warmup 10 --runs "$runs" \
    --prepare 'ip link del veth0 2>/dev/null || true' \
    --export-json "$work/times.json" \
    -n vethup "$by_vethup" \
    -n "ip, 4 processes" "$by_ip" \
    -n "ip -batch by hand" "$by_batch" \
    -n "ip, peer moved" "$by_move" >&2
ip link del veth0

# Processes started, counted from the execve calls strace sees (the
# traced command's own exec excluded).
execs() {
    strace -f -qq -e trace=execve -e signal=none -o "$work/trace" "$@" >/dev/null
    sed -n 's/.*execve("\([^"]*\)".*= 0$/\1/p' "$work/trace" | xargs -n1 basename | tail -n +2 | tr '\n' ' '
}
if command -v strace >/dev/null; then
    started_vethup=$(execs vethup veth0 "$holder")
    started_vethdown=$(execs vethdown veth0)
    started_ip=$(execs sh -c "$by_ip")
    ip link del veth0
else
    started_vethup="(strace not installed)"; started_vethdown=$started_vethup; started_ip=$started_vethup
fi

python3 - "$work/times.json" "$out" "$runs" "$started_vethup" "$started_vethdown" "$started_ip" <<'PY'
import json, os, platform, subprocess, sys
times, out, runs, by_vethup, by_vethdown, by_ip = sys.argv[1:]
def started(execs):
    names = execs.split()
    return f"{len(names)} ({', '.join(names) or 'none'})"
results = {r["command"]: r for r in json.load(open(times))["results"]}
base = results["vethup"]["mean"]
ip_version = subprocess.run(["ip", "-V"], capture_output=True, text=True).stdout.strip()
lines = [
    "# vethup: one container's veth pair",
    "",
    "The same state (veth0 on the host, marked, 10.0.0.1/24, up; eth0 inside a",
    "fresh namespace, down) made four ways, inside a lab, measured with",
    f"hyperfine ({runs} runs each, 10 warm-up; removing the pair happens",
    "untimed between runs). Regenerate: `cargo build --workspace &&",
    "target/debug/labrun sh \"$PWD/bench/vethup.sh\"`.",
    "",
    "| how | mean | ± σ | min | ratio to vethup |",
    "|---|---|---|---|---|",
]
for name, r in results.items():
    lines.append(
        f"| {name} | {r['mean']*1000:.2f} ms | {r['stddev']*1000:.2f} ms | "
        f"{r['min']*1000:.2f} ms | {r['mean']/base:.2f} |"
    )
lines += [
    "",
    "Processes started (execve calls seen by `strace -f`, the command's own",
    f"aside): one vethup starts {started(by_vethup)}; one vethdown starts",
    f"{started(by_vethdown)}; the separate commands start {started(by_ip)}.",
    "vethup and vethdown read links and addresses over rtnetlink in-process, so",
    "the only process either starts is the one `ip -batch -` that runs its plan",
    "(vethup starts another only after losing a race for its bridge; vethdown",
    "only when a concurrent vethdown left one of vethup's bridges empty).",
    "",
    f"Machine: {platform.machine()}, kernel {platform.release()}, {os.cpu_count()} CPUs shared",
    f"with other work; {ip_version}; vethup from target/debug (an unoptimised build).",
    "",
]
open(out, "w").write("\n".join(lines))
print("\n".join(f"{n}: {r['mean']*1000:.2f} ms, {r['mean']/base:.2f}x vethup" for n, r in results.items()))
print(f"processes started: vethup {started(by_vethup)}, vethdown {started(by_vethdown)}, separate ip {started(by_ip)}")
PY
