#!/bin/sh
# What nsrun costs over the floor of making a network namespace and running
# a program in it: `nsrun --net -- true` beside `unshare --net true`, in one
# run, alternating, as a ratio. Beside them, `nsrun --net --hook true --
# true`: what one hook adds (a /bin/sh).
#
# Run it inside a lab (it creates namespaces):
#     cargo build --workspace && cargo build --release -p nsrun
#     target/debug/labrun sh "$PWD/bench/nsrun.sh"
# It times target/release/nsrun (NSRUN=path picks another binary).
# Writes the figures into bench/nsrun.md next to itself and prints them.
#
# hyperfine runs the commands it is given one after the other, so each
# round here times every command once (RUNS runs after a warm-up), and the
# order rotates from round to round: drift on a shared machine hits all of
# them alike. The ratio is taken per round, then its median over ROUNDS.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ "${NSNET_LAB:-}" = 1 ] || { echo "nsrun.sh: run me through target/debug/labrun" >&2; exit 2; }
command -v hyperfine >/dev/null || { echo "nsrun.sh: hyperfine is not installed" >&2; exit 2; }
nsrun=${NSRUN:-$here/../target/release/nsrun}
[ -x "$nsrun" ] || { echo "nsrun.sh: $nsrun is not built (cargo build --release -p nsrun)" >&2; exit 2; }
nsrun=$(cd "$(dirname "$nsrun")" && pwd)/$(basename "$nsrun")
rounds=${ROUNDS:-10}
runs=${RUNS:-40}
out=/run/nsrun-bench
mkdir -p "$out"

floor="unshare --net true"
plain="$nsrun --net -- true"
hooked="$nsrun --net --hook true -- true"

# median of the numbers on stdin, one a line
median() {
    sort -g | awk '{ v[NR] = $1 } END { if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}

# times one command: RUNS runs, prints its median in seconds
time_one() {
    hyperfine -N --style none --warmup 3 --runs "$runs" --export-csv "$out/one.csv" "$1" >/dev/null 2>&1
    # command,mean,stddev,median,user,system,min,max
    awk -F, 'NR == 2 { print $4 }' "$out/one.csv"
}

: > "$out/floor" ; : > "$out/plain" ; : > "$out/hooked" ; : > "$out/ratio" ; : > "$out/hook"
i=0
while [ "$i" -lt "$rounds" ]; do
    case $((i % 3)) in
        0) order="floor plain hooked" ;;
        1) order="plain hooked floor" ;;
        *) order="hooked floor plain" ;;
    esac
    for which in $order; do
        eval "cmd=\$$which"
        time_one "$cmd" >> "$out/$which"
    done
    f=$(sed -n "$((i + 1))p" "$out/floor")
    p=$(sed -n "$((i + 1))p" "$out/plain")
    h=$(sed -n "$((i + 1))p" "$out/hooked")
    awk -v p="$p" -v f="$f" 'BEGIN { print p / f }' >> "$out/ratio"
    awk -v h="$h" -v p="$p" 'BEGIN { print (h - p) * 1000 }' >> "$out/hook"
    i=$((i + 1))
done

ms() { median < "$1" | awk '{ printf "%.2f", $1 * 1000 }'; }
ratio=$(median < "$out/ratio")
lo=$(sort -g "$out/ratio" | head -1)
hi=$(sort -g "$out/ratio" | tail -1)
figures=$(cat <<EOF
## Figures

$rounds rounds; in each, hyperfine (\`-N\`, 3 warm-up runs, $runs runs) times
every command once, in rotating order. Times are the median over rounds of
each round's median wall time; the ratio is the median of the per-round
ratios (range in brackets).

| command | median ms |
|---|---:|
| \`unshare --net true\` (the floor) | $(ms "$out/floor") |
| \`nsrun --net -- true\` | $(ms "$out/plain") |
| \`nsrun --net --hook true -- true\` | $(ms "$out/hooked") |

**nsrun / unshare: $(awk -v r="$ratio" 'BEGIN { printf "%.3f", r }')**
(per round $(awk -v r="$lo" 'BEGIN { printf "%.3f", r }') to $(awk -v r="$hi" 'BEGIN { printf "%.3f", r }')); one hook adds
$(median < "$out/hook" | awk '{ printf "%.2f", $1 }') ms.

Binary: \`$(echo "$nsrun" | sed "s|^$(cd "$here/.." && pwd)/||")\`; kernel $(uname -r);
$(unshare --version | head -1); $(hyperfine --version).
EOF
)
printf '%s\n' "$figures"
md=$here/nsrun.md
if [ -f "$md" ] && grep -q '^<!-- figures -->$' "$md"; then
    awk -v figures="$figures" '
        /^<!-- figures -->$/ { print; print figures; skip = 1; next }
        /^<!-- \/figures -->$/ { skip = 0 }
        !skip { print }
    ' "$md" > "$out/md" && cat "$out/md" > "$md"
fi
rm -rf "$out"
