# What the benchmarks share, sourced by bench.sh and natctl.sh after they
# set W (their work folder), SAMPLES and FAILS, and NAME (their name in
# messages). Every time is the difference of two reads of $EPOCHREALTIME
# in the calling shell, in microseconds.

say() { echo "$NAME: $*" >&2; }
die() {
    say "$*"
    [ -s "$W/err" ] && sed "s/^/$NAME:   /" "$W/err" | head -20 >&2
    exit 1
}

# record ROW MICROSECONDS: one sample of ROW.
record() { printf '%s\t%s\n' "$1" "$2" >> "$SAMPLES"; }

# failed ROW WHY: one failure of ROW, counted; its error shown on stderr.
failed() {
    printf '%s\n' "$1" >> "$FAILS"
    say "$1 failed: $2"
    [ -s "$W/err" ] && sed "s/^/$NAME:   /" "$W/err" | head -5 >&2
}

# timed ROW CMD...: CMD's wall time, start to return; a failure is
# counted (status 1).
timed() {
    local row=$1 t0 t1
    shift
    t0=${EPOCHREALTIME/./}
    if "$@" > /dev/null 2> "$W/err"; then
        t1=${EPOCHREALTIME/./}
        record "$row" $((t1 - t0))
    else
        failed "$row" "exit status $?"
        return 1
    fi
}

# count_rules: the firewall rules of this namespace, every table
# (iptables-nft's included), in RULES.
count_rules() {
    RULES=$(nft -a list ruleset 2>/dev/null | grep '# handle' | grep -cvE '^[[:space:]]*(table|chain|set|map|flowtable) ')
}

# subnets N: N distinct /24s from 10.100.0.0/24 on, one a line (never
# 10.200.0.0/24, the one the benchmarks add and delete beside them).
subnets() {
    local i
    for ((i = 0; i < $1; i++)); do echo "10.$((100 + i / 256)).$((i % 256)).0/24"; done
}
