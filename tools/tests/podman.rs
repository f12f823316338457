//! Real clients: Debian's podman 4.3 with its CNI backend, and
//! containerd's `ctr run --cni`, run busybox containers on an nsnet
//! network in the lab (no image registry: the root file system is made
//! here from busybox-static). Each runs in a mount namespace of its own
//! inside the lab, with /var/lib under a tmpfs (libcni keeps its cache in
//! /var/lib/cni, a fixed path) and, for containerd, its fixed CNI folders
//! /etc/cni/net.d and /opt/cni/bin bind-mounted there. The lab's init
//! reaps what conmon and the shims leave behind.

use nsnet_lab::{lab, Lab, UPLINK};

/// The root file system, made once per lab.
const ROOTFS: &str = r#"
set -eu
R=/run/rootfs
mkdir -p $R/bin $R/etc $R/www $R/proc $R/sys $R/dev $R/tmp
cp /bin/busybox $R/bin/
for f in $($R/bin/busybox --list); do [ "$f" = busybox ] || ln -s busybox "$R/bin/$f"; done
echo 'root:x:0:0:root:/root:/bin/sh' > $R/etc/passwd
echo 'root:x:0:' > $R/etc/group
touch $R/etc/hosts $R/etc/resolv.conf $R/etc/hostname
echo hello-from-nsnet > $R/www/index.html
"#;

/// The network: nsnet with a bridge and masquerade, publishing ports
/// itself, its records and host-local's reservations in the lab's /run.
const NETWORK: &str = r#"{"cniVersion": "1.0.0", "name": "labnet", "plugins": [
  {"type": "nsnet", "bridge": "nsbr0", "ipMasq": true, "dataDir": "/run/cni-nsnet",
   "capabilities": {"portMappings": true},
   "ipam": {"type": "host-local", "dataDir": "/run/cni-ipam",
            "ranges": [[{"subnet": "10.88.7.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}}]}"#;

/// What a podman user runs. `$BIN` holds nsnet; the lab's internet is
/// reached through its namespace, `$NSNET_LAB_INTERNET`'s.
const PODMAN: &str = r#"
set -eu
mount -t tmpfs tmpfs /var/lib
mkdir -p /run/podman/cni
cp /run/labnet.conflist /run/podman/cni/
printf '[network]\ncni_plugin_dirs = ["%s", "/usr/lib/cni"]\n' "$BIN" > /run/podman/containers.conf
export CONTAINERS_CONF=/run/podman/containers.conf
P="podman --network-backend cni --network-config-dir /run/podman/cni --root /run/podman/root
   --runroot /run/podman/runroot --tmpdir /run/podman/tmp --runtime runc
   --cgroup-manager cgroupfs --events-backend file"
U="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
R=/run/rootfs
echo "host: $($P run --rm $U --network labnet --cap-add NET_RAW --rootfs $R ping -c1 -W2 10.88.7.1 | grep -c '1 packets received')"
echo "internet: $($P run --rm $U --network labnet --rootfs $R nc 203.0.113.10 7 </dev/null)"
echo "dns: $($P run --rm $U --network labnet --dns 203.0.113.53 --rootfs $R nc example.test 7 </dev/null)"
$P run -d --name web $U --network labnet -p 8080:80 --rootfs $R httpd -f -p 80 -h /www >/dev/null
web=$($P inspect -f '{{.NetworkSettings.Networks.labnet.IPAddress}}' web)
echo "web: $web"
echo "neighbour: $($P run --rm $U --network labnet --rootfs $R wget -qO- http://$web/)"
echo "held: $(natctl list | tr '\n' '|')"
echo "published: $(nsenter --net=/proc/$NSNET_LAB_INTERNET/ns/net curl -s --retry 5 --retry-connrefused --retry-delay 0 --max-time 3 http://198.51.100.2:8080/)"
$P rm -f -t 0 web >/dev/null
"#;

/// What a containerd user runs: a private containerd (state on the lab's
/// /run, no CRI), then `ctr run --cni`, which finds the network in
/// /etc/cni/net.d and the plugins in /opt/cni/bin only.
const CONTAINERD: &str = r#"
set -eu
mount -t tmpfs tmpfs /var/lib
mkdir -p /run/ctd/net.d /run/ctd/bin /run/ctd/root /run/ctd/state
cp /run/labnet.conflist /run/ctd/net.d/10-labnet.conflist
ln -s "$BIN/nsnet" /usr/lib/cni/host-local /run/ctd/bin/
mount --bind /run/ctd/net.d /etc/cni/net.d
mount -t tmpfs tmpfs /opt
mkdir /opt/cni /opt/cni/bin
mount --bind /run/ctd/bin /opt/cni/bin
cat > /run/ctd/config.toml <<EOT
version = 2
root = "/run/ctd/root"
state = "/run/ctd/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "/run/ctd/containerd.sock"
[ttrpc]
  address = "/run/ctd/containerd.sock.ttrpc"
EOT
mkfifo /run/ctd/log
containerd --config /run/ctd/config.toml >/run/ctd/log 2>&1 &
ctd=$!
exec 3</run/ctd/log
# Ready when it says so; its log is drained from then on.
while read -r line <&3; do case "$line" in *"successfully booted"*) break;; esac; done
cat <&3 >/dev/null &
C="ctr --address /run/ctd/containerd.sock"
$C run --rm --cni --rootfs /run/rootfs c1 /bin/sh -c \
  'echo "address: $(ip -4 -o addr show eth0 | cut -d" " -f7)"; echo "internet: $(nc 203.0.113.10 7 </dev/null)"'
echo "held after: $(natctl list | wc -l)"
kill $ctd
wait $ctd || true
"#;

fn needs(lab: &Lab, programs: &[&str]) {
    for program in programs {
        assert!(
            lab.sh(&format!("command -v {program}")).ok(),
            "this test needs {program}: run ./deps"
        );
    }
    assert!(
        !lab.sh("ldd /bin/busybox").ok(),
        "the root file system needs a static busybox: install busybox-static (./deps)"
    );
}

/// Runs `script` in a mount namespace of its own inside the lab, with the
/// network in /run/labnet.conflist; its `what: value` lines.
fn scenario(lab: &Lab, script: &str) -> Vec<(String, String)> {
    lab.sh_ok(&format!(
        "cat > /run/labnet.conflist <<'EOF'\n{NETWORK}\nEOF"
    ));
    let mut cmd = lab.command(&[
        "unshare",
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        script,
    ]);
    cmd.env("BIN", nsnet_lab::bin_dir());
    let out = lab.output(cmd).expect_ok("the scenario");
    lab.sh_ok("rm /run/labnet.conflist");
    out.stdout
        .lines()
        .filter_map(|l| l.split_once(": "))
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn said(lines: &[(String, String)], what: &str) -> String {
    lines
        .iter()
        .find(|(k, _)| k == what)
        .map(|(_, v)| v.clone())
        .unwrap_or_else(|| panic!("no {what} line in {lines:?}"))
}

/// Nothing of nsnet's is left: no link, no rule, no address reservation,
/// no record; then the residue check (forwarding, which natctl turns on
/// and leaves on, set back first).
fn nothing_left(lab: &Lab, before: &nsnet_lab::Snapshot) {
    assert_eq!(lab.sh_ok("ip -d link | grep -c nsnet: || true").trim(), "0");
    assert_eq!(lab.sh_ok("natctl list"), "");
    assert_eq!(
        lab.sh_ok("find /run/cni-ipam -type f ! -name lock ! -name 'last_reserved_ip*'"),
        ""
    );
    assert!(!lab.sh("test -e /run/cni-nsnet").ok(), "a record is left");
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/ip_forward");
    lab.assert_settles(before);
}

#[test]
fn podman_runs_containers_on_an_nsnet_network() {
    let lab = lab!();
    needs(
        &lab,
        &[
            "podman",
            "runc",
            "busybox",
            "curl",
            "/usr/lib/cni/host-local",
        ],
    );
    lab.sh_ok(ROOTFS);
    lab.sh_ok("ip netns add prime && ip netns del prime");
    let before = lab.snapshot();
    let lines = scenario(&lab, PODMAN);
    assert_eq!(said(&lines, "host"), "1", "the container pings the host");
    assert_eq!(
        said(&lines, "internet"),
        UPLINK,
        "the service sees the host's address"
    );
    assert_eq!(
        said(&lines, "dns"),
        UPLINK,
        "example.test resolves through the lab DNS"
    );
    assert_eq!(
        said(&lines, "neighbour"),
        "hello-from-nsnet",
        "containers reach each other"
    );
    // The web container holds the masquerade and its port, alone.
    let held = said(&lines, "held");
    let web = said(&lines, "web");
    let (masquerade, published) = held
        .trim_end_matches('|')
        .split_once('|')
        .unwrap_or_else(|| panic!("two rules: {held}"));
    let owner = masquerade
        .strip_prefix("10.88.7.0/24 masquerade out=any backend=nft owners=")
        .unwrap_or_else(|| panic!("the masquerade: {held}"));
    assert!(owner.starts_with("cni:") && !owner.contains(','), "{held}");
    assert_eq!(
        published,
        format!("publish tcp 8080 -> {web}:80 host=any backend=nft owners={owner}")
    );
    assert_eq!(
        said(&lines, "published"),
        "hello-from-nsnet",
        "-p 8080:80 from the lab's internet"
    );
    nothing_left(&lab, &before);
}

#[test]
fn containerd_runs_a_container_on_an_nsnet_network() {
    let lab = lab!();
    needs(
        &lab,
        &[
            "containerd",
            "ctr",
            "containerd-shim-runc-v2",
            "runc",
            "busybox",
        ],
    );
    lab.sh_ok(ROOTFS);
    let before = lab.snapshot();
    let lines = scenario(&lab, CONTAINERD);
    assert_eq!(said(&lines, "address"), "10.88.7.2/24");
    assert_eq!(
        said(&lines, "internet"),
        UPLINK,
        "the service sees the host's address"
    );
    assert_eq!(said(&lines, "held after"), "0");
    nothing_left(&lab, &before);
}
