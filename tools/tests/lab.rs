//! Tests of the lab itself, in the lab.

use nsnet_lab::{lab, Lab, DNS, SERVICE, SERVICE6, UPLINK, UPLINK6};

#[test]
fn host_reaches_the_internet_by_ping() {
    let lab = lab!();
    lab.sh_ok("ping -c1 -W2 198.51.100.1 && ping -c1 -W2 203.0.113.10");
}

#[test]
fn the_service_sees_the_uplink_address_over_tcp_and_udp() {
    let lab = lab!();
    for proto in ["tcp", "udp"] {
        let seen = lab
            .run(&["labsvc", "ask", proto, SERVICE])
            .expect_ok(proto)
            .stdout;
        assert_eq!(seen.trim(), UPLINK, "{proto}");
        let seen = lab
            .run(&["labsvc", "ask", proto, SERVICE6])
            .expect_ok(proto)
            .stdout;
        assert_eq!(seen.trim(), UPLINK6, "{proto} over IPv6");
    }
}

#[test]
fn names_resolve_through_the_lab_dns_and_the_real_resolv_conf_stays() {
    let real = std::fs::read("/etc/resolv.conf").ok();
    let lab = lab!();
    let script = format!(
        "echo 'nameserver {DNS}' > /run/resolv.conf && \
         exec unshare --mount --propagation private sh -c \
         'mount --bind /run/resolv.conf /etc/resolv.conf && getent hosts example.test'"
    );
    let out = lab.sh_ok(&script);
    assert_eq!(
        out.split_whitespace().collect::<Vec<_>>(),
        ["203.0.113.10", "example.test"]
    );
    assert_eq!(
        std::fs::read("/etc/resolv.conf").ok(),
        real,
        "the real resolv.conf changed"
    );
    let host_view = lab.sh_ok("cat /etc/resolv.conf");
    assert!(!host_view.contains(DNS), "the bind mount leaked into host");
}

#[test]
fn two_labs_do_not_see_each_other() {
    let a = lab!();
    let b = Lab::new("two_labs_do_not_see_each_other (second)").expect("a second lab");
    assert_ne!(
        a.sh_ok("readlink /proc/self/ns/net"),
        b.sh_ok("readlink /proc/self/ns/net")
    );
    a.sh_ok("ip link add marker0 type ifb && nft add table ip marker && touch /run/netns/marker");
    assert!(a.sh_ok("ip link").contains("marker0"));
    let b_view = b.sh_ok("ip link; nft list ruleset; ls /run/netns");
    assert!(!b_view.contains("marker"), "lab b sees lab a: {b_view}");
    b.sh_ok("ping -c1 -W2 203.0.113.10");
}

#[test]
fn the_residue_check_catches_leftovers() {
    let lab = lab!();
    let plants = [
        ("links", "ip link add leftover0 type ifb", "leftover0"),
        ("nft", "nft add table inet leftover", "table inet leftover"),
        (
            "iptables",
            "iptables -A FORWARD -s 10.9.9.0/24 -j ACCEPT",
            "10.9.9.0/24",
        ),
        (
            "mounts",
            "mkdir -p /run/leftover && mount -t tmpfs leftover /run/leftover",
            "/run/leftover",
        ),
        ("netns", "ip netns add leftover", "leftover"),
    ];
    for (section, plant, mark) in plants {
        let before = lab.snapshot();
        lab.sh_ok(plant);
        let diff = before.diff(&lab.snapshot());
        assert!(
            diff.contains(&format!("[{section}]")) && diff.contains(mark),
            "planting with `{plant}` was not caught: {diff}"
        );
    }
    let before = lab.snapshot();
    let mut sleeper = lab.spawn("exec sleep 1000");
    let diff = before.diff(&lab.snapshot());
    assert!(
        diff.contains("[processes]") && diff.contains("sleep 1000"),
        "{diff}"
    );
    sleeper.signal(nix::sys::signal::Signal::SIGKILL);
    sleeper.wait();
}

#[test]
fn an_untouched_lab_has_no_residue() {
    let lab = lab!();
    let before = lab.snapshot();
    lab.sh_ok("ip link show >/dev/null; nft list ruleset >/dev/null");
    lab.assert_unchanged(&before);
}
