//! A real client: Debian's podman 4.3 with its CNI backend runs busybox
//! containers on an nsnet network in the lab (no image registry: the root
//! file system is made here from busybox-static). Podman runs in a PID
//! namespace of its own, so conmon's orphans die with it, and with
//! /var/lib under a tmpfs, where libcni keeps its cache.

use nsnet_lab::{lab, UPLINK};

/// The lab-side setup: the root file system, the network (nsnet with a
/// bridge and masquerade, Debian's portmap chained after it for `-p`),
/// and containers.conf naming the plugin folders.
const SETUP: &str = r#"
set -eu
R=/run/podman/rootfs
mkdir -p $R/bin $R/etc $R/www /run/podman/cni
cp /bin/busybox $R/bin/
for f in $($R/bin/busybox --list); do [ "$f" = busybox ] || ln -s busybox "$R/bin/$f"; done
echo 'root:x:0:0:root:/root:/bin/sh' > $R/etc/passwd
echo 'root:x:0:' > $R/etc/group
echo hello-from-nsnet > $R/www/index.html
cat > /run/podman/cni/labnet.conflist <<EOC
{"cniVersion": "1.0.0", "name": "labnet", "plugins": [
  {"type": "nsnet", "bridge": "nsbr0", "ipMasq": true,
   "ipam": {"type": "host-local", "dataDir": "/run/cni-ipam",
            "ranges": [[{"subnet": "10.88.7.0/24"}]], "routes": [{"dst": "0.0.0.0/0"}]}},
  {"type": "portmap", "capabilities": {"portMappings": true}}]}
EOC
printf '[network]\ncni_plugin_dirs = ["%s", "/usr/lib/cni"]\n' "$BIN" > /run/podman/containers.conf
"#;

/// What a user runs, in a PID namespace of its own.
const SCENARIO: &str = r#"
set -eu
mount -t tmpfs tmpfs /var/lib
export CONTAINERS_CONF=/run/podman/containers.conf
P="podman --network-backend cni --network-config-dir /run/podman/cni --root /run/podman/root
   --runroot /run/podman/runroot --tmpdir /run/podman/tmp --runtime runc
   --cgroup-manager cgroupfs --events-backend file"
U="--ulimit nofile=1024:1024 --ulimit nproc=1024:1024"
R=/run/podman/rootfs
echo "host: $($P run --rm $U --network labnet --cap-add NET_RAW --rootfs $R ping -c1 -W2 10.88.7.1 | grep -c '1 packets received')"
echo "internet: $($P run --rm $U --network labnet --rootfs $R nc 203.0.113.10 7 </dev/null)"
echo "dns: $($P run --rm $U --network labnet --dns 203.0.113.53 --rootfs $R nc example.test 7 </dev/null)"
$P run -d --name web $U --network labnet -p 8080:80 --rootfs $R httpd -f -p 80 -h /www >/dev/null
web=$($P inspect -f '{{.NetworkSettings.Networks.labnet.IPAddress}}' web)
echo "neighbour: $($P run --rm $U --network labnet --rootfs $R wget -qO- http://$web/)"
echo "published: $(curl -s --retry 5 --retry-connrefused --retry-delay 0 --max-time 3 http://198.51.100.2:8080/)"
$P rm -f -t 0 web >/dev/null
"#;

#[test]
fn podman_runs_containers_on_an_nsnet_network() {
    let lab = lab!();
    for program in [
        "podman",
        "runc",
        "busybox",
        "curl",
        "/usr/lib/cni/host-local",
    ] {
        assert!(
            lab.sh(&format!("command -v {program}")).ok(),
            "this test needs {program}: run ./deps"
        );
    }
    assert!(
        !lab.sh("ldd /bin/busybox").ok(),
        "the root file system needs a static busybox: install busybox-static (./deps)"
    );
    lab.sh_ok("ip netns add prime && ip netns del prime");
    let before = lab.snapshot();
    let bin = nsnet_lab::bin_dir().display().to_string();
    lab.output({
        let mut c = lab.command(&["sh", "-c", SETUP]);
        c.env("BIN", &bin);
        c
    })
    .expect_ok("setting up podman");
    let out = lab
        .run(&[
            "unshare",
            "--pid",
            "--fork",
            "--mount-proc",
            "--mount",
            "--propagation",
            "private",
            "sh",
            "-c",
            SCENARIO,
        ])
        .expect_ok("the podman scenario");
    let said = |what: &str| -> String {
        out.stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{what}: ")))
            .unwrap_or_else(|| panic!("no {what} line in:\n{}\n{}", out.stdout, out.stderr))
            .to_string()
    };
    assert_eq!(said("host"), "1", "the container pings the host");
    assert_eq!(
        said("internet"),
        UPLINK,
        "the service sees the host's address"
    );
    assert_eq!(
        said("dns"),
        UPLINK,
        "example.test resolves through the lab DNS"
    );
    assert_eq!(
        said("neighbour"),
        "hello-from-nsnet",
        "containers reach each other"
    );
    assert_eq!(
        said("published"),
        "hello-from-nsnet",
        "-p 8080:80 from the internet"
    );
    // Nothing of nsnet's is left: links, masquerade, addresses.
    assert_eq!(lab.sh_ok("ip -d link | grep -c nsnet: || true").trim(), "0");
    assert_eq!(lab.sh_ok("natctl list"), "");
    assert_eq!(
        lab.sh_ok("find /run/cni-ipam -type f ! -name lock ! -name 'last_reserved_ip*'"),
        ""
    );
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/ip_forward");
    // portmap keeps its top chains (CNI-HOSTPORT-*) by design: in the
    // firewall only nothing of nsnet's may be left; elsewhere nothing.
    let diff = before.diff(&lab.snapshot());
    let mut section = "";
    let left: Vec<&str> = diff
        .lines()
        .filter(|l| {
            if l.starts_with('[') {
                section = l;
                return false;
            }
            !matches!(section, "[iptables]" | "[nft]") || l.contains("nsnet")
        })
        .collect();
    assert!(left.is_empty(), "the host was left changed:\n{diff}");
}
