#!/bin/bash
# The core scenario, told as a transcript: each command as typed, then what it
# printed. `just demo` runs this inside a private lab (labrun), whose
# "internet" is 198.51.100.0/24 and 203.0.113.0/24 in a namespace of its own:
# nothing outside the lab is touched or contacted.
set -euo pipefail

# Commands in bold on a terminal only, and never with NO_COLOR set.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then
    bold=$'\033[1m' plain=$'\033[0m'
else
    bold='' plain=''
fi
step() { printf '%s$ %s%s\n' "$bold" "$*" "$plain"; eval "$*"; echo; }
say() { printf '# %s\n' "$@"; }
# The kernel dismantles a namespace that lost its last process in the
# background; give it a moment before looking (not part of the transcript).
settle() { for _ in $(seq 100); do ip link show "$1" >/dev/null 2>&1 || return 0; sleep 0.02; done; }

say "A private lab stands in for this machine: its uplink, its 'internet'."
step "ip -brief addr show up0"
step "ip route show default"

say "Masquerade the container subnet to the outside (one rule set per subnet)."
step "natctl add 10.0.0.0/24"
step "natctl list"

say "Start a shell in its own network: nsrun makes the namespace and holds the" \
    "command until the vethup hook has made the pair; netinit configures the" \
    "inside (address, route, loopback, DNS) and execs the payload."
step "nsrun --net --mount --hook 'vethup veth0 \$NSRUN_PID' \\
      --on-exit 'natctl del --if-exists 10.0.0.0/24' \\
      -- netinit --dns 203.0.113.53 10.0.0.2/24 -- sh -c '
    ip -brief addr show eth0
    ip route show default
    cat /etc/resolv.conf
    ping -c1 -W2 10.0.0.1 | head -2           # the host
    ping -c1 -W2 203.0.113.10 | head -2       # the internet, through NAT
    ping -c1 -W2 example.test | head -2       # a name, through --dns
    labsvc ask tcp 203.0.113.10:7             # what the internet saw as source
'"

settle veth0
say "The container is gone, and so is everything it needed; the host's own" \
    "resolv.conf was never written."
step "ip link show veth0 2>&1 || true"
step "natctl list"
step "cat /etc/resolv.conf"
