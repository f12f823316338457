#!/bin/bash
# `podman run --rm … true` on four networks, interleaved in one run: an
# nsnet network (bridge, ipMasq, host-local), the same without a bridge
# (`nsnet-ptp`: point-to-point, nsnet's default), a CNI bridge network
# (Debian's bridge plugin with ipMasq and isGateway, host-local) and a
# netavark network, beside `--network none` and a CNI network that only brings up
# loopback (`cni-lo`: podman's own cost of any CNI network). For each run:
# the time podman's user waits, and the network's share of it, three ways:
# the wait less the median wait of `--network none`, the wait less that of
# `cni-lo`, and the sum of the wall times of every network
# program podman starts (CNI plugins for VERSION, ADD, DEL with their IPAM
# plugin; netavark setup and teardown), timed by a wrapper around each
# that reads bash's clock after its own start, so the figure is the
# program's start and run and nothing of the wrapper's.
#
# Two phases: each container alone on its network (so nsnet, which leaves
# nothing behind, makes and removes its bridge and masquerade every time,
# while Debian's bridge plugin keeps its bridge), then beside a resident
# container on every network (a host that runs containers).
#
# Run it inside a lab, with podman in a PID namespace of its own: `just
# bench-cni` (the release build's labrun runs it).
# Writes bench/cni.md next to itself and prints it. RUNS (default 20).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
[ "${NSNET_LAB:-}" = 1 ] || { echo "cni.sh: run me through labrun" >&2; exit 2; }
runs=${RUNS:-20}
nsnet_bin=$(dirname "$(command -v nsnet)")
W=/run/cnibench
R=$W/rootfs
mkdir -p $R/bin $R/etc $W/cni-nsnet $W/cni-ptp $W/cni-bridge $W/cni-lo $W/wrap $W/helpers
cp /bin/busybox $R/bin/
for f in true sh sleep; do ln -s busybox $R/bin/$f; done
echo 'root:x:0:0:root:/root:/bin/sh' > $R/etc/passwd

# A wrapper per program: appends "NAME MICROSECONDS COMMAND" to $W/log.
wrap() { # NAME WRAPPER REAL
    cat > "$2" <<EOS
#!/bin/bash
t0=\${EPOCHREALTIME/./}
"$3" "\$@"
rc=\$?
t1=\${EPOCHREALTIME/./}
echo "$1 \$(( t1 - t0 )) \${CNI_COMMAND:-\${@: -2:1}}" >> $W/log
exit \$rc
EOS
    chmod +x "$2"
}
wrap nsnet $W/wrap/nsnet "$nsnet_bin/nsnet"
wrap nsnet-ptp $W/wrap/nsnet-ptp "$nsnet_bin/nsnet"
wrap bridge $W/wrap/bridge /usr/lib/cni/bridge
wrap loopback $W/wrap/loopback /usr/lib/cni/loopback
wrap netavark $W/helpers/netavark /usr/lib/podman/netavark

ipam() { echo "{\"type\": \"host-local\", \"dataDir\": \"$W/ipam\", \"ranges\": [[{\"subnet\": \"$1\"}]], \"routes\": [{\"dst\": \"0.0.0.0/0\"}]}"; }
# A folder per network: podman asks every plugin of every network it
# finds for its VERSION.
cat > $W/cni-nsnet/nsnetnet.conflist <<EOC
{"cniVersion": "1.0.0", "name": "nsnetnet", "plugins": [
 {"type": "nsnet", "bridge": "nsbr0", "ipMasq": true, "ipam": $(ipam 10.91.0.0/24)}]}
EOC
cat > $W/cni-ptp/ptpnet.conflist <<EOC
{"cniVersion": "1.0.0", "name": "ptpnet", "plugins": [
 {"type": "nsnet-ptp", "ipMasq": true, "ipam": $(ipam 10.94.0.0/24)}]}
EOC
cat > $W/cni-bridge/bridgenet.conflist <<EOC
{"cniVersion": "1.0.0", "name": "bridgenet", "plugins": [
 {"type": "bridge", "bridge": "cnibr0", "isGateway": true, "ipMasq": true, "ipam": $(ipam 10.92.0.0/24)}]}
EOC
cat > $W/cni-lo/lonet.conflist <<EOC
{"cniVersion": "1.0.0", "name": "lonet", "plugins": [{"type": "loopback"}]}
EOC
printf '[network]\ncni_plugin_dirs = ["%s", "/usr/lib/cni"]\n[engine]\nhelper_binaries_dir = ["%s", "/usr/lib/podman"]\n' \
    $W/wrap $W/helpers > $W/containers.conf
ip netns add prime && ip netns del prime

exec unshare --pid --fork --mount-proc --mount --propagation private bash -c '
set -eu
W='$W' R='$R' runs='$runs' here='$here'
mount -t tmpfs tmpfs /var/lib
export CONTAINERS_CONF=$W/containers.conf
common="--root $W/root --runroot $W/runroot --tmpdir $W/tmp --runtime runc --cgroup-manager cgroupfs --events-backend file"
U="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
cni="podman --network-backend cni $common --network-config-dir"
nv="podman --network-backend netavark --network-config-dir $W/nets $common"
$nv network create --disable-dns --subnet 10.93.0.0/24 nvnet >/dev/null
declare -A cmd=(
  [nsnet]="$cni $W/cni-nsnet run --rm $U --network nsnetnet --rootfs $R true"
  [nsnet-ptp]="$cni $W/cni-ptp run --rm $U --network ptpnet --rootfs $R true"
  [cni-bridge]="$cni $W/cni-bridge run --rm $U --network bridgenet --rootfs $R true"
  [netavark]="$nv run --rm $U --network nvnet --rootfs $R true"
  [cni-lo]="$cni $W/cni-lo run --rm $U --network lonet --rootfs $R true"
  [none]="$cni $W/cni-nsnet run --rm $U --network none --rootfs $R true"
)
rows="nsnet nsnet-ptp cni-bridge netavark cni-lo none"
for row in $rows; do ${cmd[$row]}; done   # warm up: images of nothing, caches
: > $W/samples
: > $W/calls
phase() { # NAME
  for i in $(seq "$runs"); do
    for row in $rows; do
      : > $W/log
      t0=${EPOCHREALTIME/./}
      ${cmd[$row]} || echo "$1 $row FAILED" >> $W/samples
      wait_us=$(( ${EPOCHREALTIME/./} - t0 ))
      net_us=$(awk "{s += \$2} END {print s + 0}" $W/log)
      calls=$(wc -l < $W/log)
      echo "$1 $row $wait_us $net_us $calls" >> $W/samples
      sed "s/^/$1 /" $W/log >> $W/calls
    done
  done
}
phase alone
$cni $W/cni-nsnet run -d --name resident-nsnet $U --network nsnetnet --rootfs $R sleep 1000000 >/dev/null
$cni $W/cni-ptp run -d --name resident-ptp $U --network ptpnet --rootfs $R sleep 1000000 >/dev/null
$cni $W/cni-bridge run -d --name resident-bridge $U --network bridgenet --rootfs $R sleep 1000000 >/dev/null
$nv run -d --name resident-netavark $U --network nvnet --rootfs $R sleep 1000000 >/dev/null
phase resident
# The programs one run starts, counted once per row (under strace, so
# not timed), beside the resident containers.
for row in $rows; do
  strace -f -qq -e trace=execve -e signal=none -o $W/exec.$row ${cmd[$row]}
done
$cni $W/cni-nsnet rm -f -t 0 resident-nsnet resident-ptp resident-bridge >/dev/null
$nv rm -f -t 0 resident-netavark >/dev/null
median() { sort -n | awk "{a[NR]=\$1} END {print (NR % 2) ? a[(NR+1)/2] : int((a[NR/2] + a[NR/2+1]) / 2)}"; }
ms() { awk "{printf \"%.1f\", \$1 / 1000}"; }
table() { # PHASE
  echo "| network | wait (ms) | wait − none (ms) | programs (ms) | network programs per run | failures |"
  echo "|---|---|---|---|---|---|"
  none=$(awk -v p=$1 "\$1 == p && \$2 == \"none\" && NF == 5 {print \$3}" $W/samples | median)
  for row in $rows; do
    w=$(awk -v p=$1 -v r=$row "\$1 == p && \$2 == r && NF == 5 {print \$3}" $W/samples | median)
    n=$(awk -v p=$1 -v r=$row "\$1 == p && \$2 == r && NF == 5 {print \$4}" $W/samples | median | ms)
    c=$(awk -v p=$1 -v r=$row "\$1 == p && \$2 == r && NF == 5 {print \$5}" $W/samples | median)
    f=$(grep -c "^$1 $row FAILED" $W/samples || true)
    d=$(echo $(( w - none )) | ms)
    echo "| $row | $(echo $w | ms) | $d | $n | $c | $f |"
    eval "share_${row//-/_}=$n"
    eval "extra_${row//-/_}=$d"
    eval "wait_${row//-/_}=$w"
  done
  echo
  awk -v a="$share_cni_bridge" -v b="$share_nsnet" -v c="$share_netavark" "BEGIN {printf \"Network programs, CNI bridge / nsnet: **%.2fx**; netavark / nsnet: **%.2fx**.\n\", a / b, c / b}"
  awk -v a="$extra_cni_bridge" -v b="$extra_nsnet" -v c="$extra_netavark" "BEGIN {printf \"Wait − none, CNI bridge / nsnet: **%.2fx**; netavark / nsnet: **%.2fx**.\n\", a / b, c / b}"
  f=$(awk -v p=$1 "\$1 == p && \$2 == \"cni-lo\" && NF == 5 {print \$3 - \$4}" $W/samples | median)
  awk -v a="$wait_cni_bridge" -v b="$wait_nsnet" -v f="$f" "BEGIN {printf \"Wait − podman'"'"'s CNI cost (%.1f ms), CNI bridge / nsnet: **%.2fx** (%.1f / %.1f ms).\n\", f / 1000, (a - f) / (b - f), (a - f) / 1000, (b - f) / 1000}"
  # The three readings of CNI bridge / each nsnet network, for the verdict.
  for net in nsnet nsnet_ptp; do
    eval "b=\$share_$net y=\$extra_$net v=\$wait_$net"
    eval "ratios_$1_$net=\"$(awk -v a="$share_cni_bridge" -v b="$b" -v x="$extra_cni_bridge" -v y="$y" \
      -v w="$wait_cni_bridge" -v v="$v" -v f="$f" "BEGIN {printf \"%.2f %.2f %.2f\", a / b, (w - f) / (v - f), x / y}")\""
  done
  eval "read -r r1 r2 r3 <<< \"\$ratios_$1_nsnet_ptp\""
  echo "Without a bridge (nsnet-ptp), CNI bridge / it: programs **${r1}x**, wait − podman'"'"'s CNI cost **${r2}x**, wait − none **${r3}x**."
  echo
  echo "Each program run, by command (median ms, runs):"
  echo
  for prog in nsnet nsnet-ptp bridge loopback netavark; do
    for what in $(awk -v p=$1 -v g=$prog "\$1 == p && \$2 == g {print \$4}" $W/calls | sort -u); do
      t=$(awk -v p=$1 -v g=$prog -v c=$what "\$1 == p && \$2 == g && \$4 == c {print \$3}" $W/calls | median | ms)
      k=$(awk -v p=$1 -v g=$prog -v c=$what "\$1 == p && \$2 == g && \$4 == c" $W/calls | wc -l)
      printf -- "- %s %s: %s ms (%s)\n" "$prog" "$what" "$t" "$k"
    done
  done
}
{
echo "# podman run --rm … true: nsnet beside a CNI bridge and netavark"
echo
echo "Generated by \`bench/cni.sh\` ($runs runs per row and phase, interleaved, in one"
echo "lab run; podman 4.3 with runc, a busybox root file system). **wait**: the"
echo "time podman'"'"'s user waits for \`podman run --rm … true\`. **wait − none**:"
echo "that less the median wait with \`--network none\`. **cni-lo** is podman'"'"'s CNI"
echo "path with a network that does nothing but bring up loopback (Debian'"'"'s"
echo "\`loopback\` plugin alone); its wait less its plugin'"'"'s time is **podman'"'"'s"
echo "CNI cost**, what podman itself spends on any CNI network (the namespace"
echo "made and removed, the configuration read, libcni), and the wait less that"
echo "is the part a network'"'"'s own work adds."
echo "**programs**: the sum of"
echo "the wall times of the network programs podman started in that run (CNI"
echo "plugins for VERSION, ADD and DEL, with their IPAM plugin; netavark setup"
echo "and teardown), each timed from its start to its end by a wrapper. Medians;"
echo "the machine'"'"'s other load at the time is in every row alike."
echo
echo "## Each container alone on its network"
echo
echo "nsnet makes the bridge and the masquerade for the first container and"
echo "removes them with the last, here every time (nsnet-ptp: the masquerade"
echo "alone); the CNI bridge plugin keeps its bridge, and netavark removes its"
echo "own."
echo
table alone
echo
echo "## Beside a resident container on every network"
echo
table resident
echo
echo "## Target (issue 13)"
echo
echo "The nsnet network'"'"'s share of the wait at least 3x smaller than the CNI"
echo "bridge'"'"'s, CNI bridge / nsnet by each reading of this run, for the"
echo "nsnet network with a bridge (like for like) and without (point-to-point):"
echo
echo "| phase | nsnet network | programs | wait − podman'"'"'s CNI cost | wait − none |"
echo "|---|---|---|---|---|"
verdict() { awk -v r=$1 "BEGIN {printf \"%.2fx (%s)\", r, (r >= 3 ? \"met\" : \"missed\")}"; }
for phase in resident alone; do
  for net in nsnet nsnet_ptp; do
    eval "set -- \$ratios_${phase}_$net"
    [ $net = nsnet ] && kind=bridge || kind=point-to-point
    echo "| $phase | $kind | $(verdict $1) | $(verdict $2) | $(verdict $3) |"
  done
done
echo
echo "The programs are the network'"'"'s own work, timed one by one; the two"
echo "wait readings are differences of medians of whole podman runs, so the"
echo "run'"'"'s noise weighs on them more."
echo
echo "## Programs one run starts"
echo
echo "Every program \`podman run --rm … true\` starts (podman'"'"'s own helpers, conmon,"
echo "runc, the network'"'"'s), counted once per row under strace, beside the"
echo "resident containers; then those of the network, by name."
echo
for row in $rows; do
  # The timing wrappers (in $W) are left out: they are the bench'"'"'s, not the run'"'"'s.
  grep " = 0$" $W/exec.$row | sed -n "s/^[0-9]* *execve(\"\([^\"]*\)\".*/\1/p" | grep -v "^$W/" | sed "s|.*/||" > $W/names.$row
  total=$(wc -l < $W/names.$row)
  net=$(grep -E "^(nsnet|bridge|loopback|host-local|netavark|iptables.*|ip6tables.*|nft)$" $W/names.$row | sort | uniq -c | awk "{printf \"%s%s×%s\", (NR > 1 ? \", \" : \"\"), \$2, \$1}")
  echo "- $row: $total programs; network: ${net:-none}"
done
} > $here/cni.md
cat $here/cni.md
'
