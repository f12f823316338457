#!/bin/bash
# How long netinit takes from its start to the exec of its command, side by
# side with the same configuration done by hand. Meant to run inside a lab:
#
#   cargo build --release -p netinit
#   target/debug/labrun bash "$PWD/bench/netinit.sh"   # writes bench/netinit.md
#
# (an absolute path: the lab starts commands in /)
#
# Every sample is one fresh network namespace (`unshare --net`) in which a
# veth pair is made and then configured; the "floor" row makes the pair and
# configures nothing, so a row's median minus the floor's is the cost of
# its configuring. The rows are interleaved round by round, so a busy
# moment of a shared machine hits them all alike.
#
#   NETINIT  the binary measured (default: the release build, else netinit
#            on PATH)
#   RUNS     rounds (default 300)
#
# Touches nothing outside the lab.
set -euo pipefail

cd "$(dirname "$0")/.."
RUNS=${RUNS:-300}
if [ -z "${NETINIT:-}" ]; then
    NETINIT=target/release/netinit
    [ -x "$NETINIT" ] || NETINIT=$(command -v netinit)
fi
NETINIT=$(realpath "$NETINIT")
OUT=bench/netinit.md
SAMPLES=$(mktemp)
trap 'rm -f "$SAMPLES"' EXIT

pair='ip link add eth0 type veth peer name p0'
batch='printf "link set dev lo up\naddr add 10.0.0.2/24 dev eth0\nlink set dev eth0 up\nroute add default via 10.0.0.1 dev eth0\n" | ip -batch -'
steps='ip link set dev lo up && ip addr add 10.0.0.2/24 dev eth0 && ip link set dev eth0 up && ip route add default via 10.0.0.1 dev eth0'

names=(
    "floor"
    "netinit"
    "netinit --dns"
    "netinit --init"
    "ip -batch by hand"
    "4 ip commands by hand"
)
scripts=(
    "$pair && exec true"
    "$pair && exec $NETINIT 10.0.0.2/24 -- true"
    "$pair && exec $NETINIT --dns 203.0.113.53 10.0.0.2/24 -- true"
    "$pair && exec $NETINIT --init 10.0.0.2/24 -- true"
    "$pair && $batch && exec true"
    "$pair && $steps && exec true"
)

us() { echo "${EPOCHREALTIME/./}"; }
for round in $(seq 0 "$RUNS"); do
    for i in "${!names[@]}"; do
        t0=$(us)
        unshare --net sh -c "${scripts[$i]}" >/dev/null ||
            { echo "bench: ${names[$i]} failed" >&2; exit 1; }
        t1=$(us)
        # Round 0 warms the caches and is not kept.
        [ "$round" -eq 0 ] || echo "$i $((t1 - t0))" >> "$SAMPLES"
    done
done

python3 - "$SAMPLES" "$NETINIT" "$RUNS" "${names[@]}" > "$OUT" <<'EOF'
import platform, statistics, sys
path, binary, runs, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
samples = {i: [] for i in range(len(names))}
for line in open(path):
    i, t = line.split()
    samples[int(i)].append(int(t) / 1000)
median = {i: statistics.median(s) for i, s in samples.items()}
floor, base = median[0], median[1] - median[0]
print("# netinit: start to exec\n")
print(f"`bench/netinit.sh` in a lab (`target/debug/labrun bash $PWD/bench/netinit.sh`), "
      f"{runs} interleaved rounds, kernel {platform.release()}, "
      f"binary `{binary.split('/work/')[-1]}`.")
print("Each sample: a fresh `unshare --net`, a veth pair made in it, then the row's work;")
print("*cost* is the row's median minus the floor's (the namespace and the pair alone).\n")
print("| row | median ms | p10 ms | p90 ms | cost ms | cost / netinit |")
print("|---|---:|---:|---:|---:|---:|")
for i, name in enumerate(names):
    q = statistics.quantiles(samples[i], n=10)
    cost = median[i] - floor
    extra = ("", "") if i == 0 else (f"{cost:.2f}", f"{cost / base:.2f}")
    print(f"| {name} | {median[i]:.2f} | {q[0]:.2f} | {q[-1]:.2f} | {extra[0]} | {extra[1]} |")
print("""
Reading it:
- *netinit* is the whole of netinit from its exec to the exec of `true`: its own
  start, the checks, the wait (the interface exists already), the one
  `ip -batch -` process, and the exec.
- *netinit* minus *ip -batch by hand* is what netinit adds to the bare batch:
  mostly being a process of its own. Doing the batch over netlink inside netinit
  would save the `ip` process (about its start, ~1 ms) but duplicate `link::Plan`.
- `--dns` adds an unshare of the mount namespace and three mounts; `--init` a fork.
- *4 ip commands by hand* is what a shell script of separate `ip` calls pays.""")
EOF
cat "$OUT"
