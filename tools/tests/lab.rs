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
        (
            "sysctls",
            "echo 1 > /proc/sys/net/ipv4/ip_forward",
            "/proc/sys/net/ipv4/ip_forward:1",
        ),
        (
            "sysctls",
            "echo 1 > /proc/sys/net/ipv4/conf/up0/route_localnet",
            "/proc/sys/net/ipv4/conf/up0/route_localnet:1",
        ),
        (
            "sysctls",
            "echo 2 > /proc/sys/net/ipv4/conf/all/rp_filter",
            "/proc/sys/net/ipv4/conf/all/rp_filter:2",
        ),
        (
            "sysctls",
            "echo 1 > /proc/sys/net/ipv6/conf/up0/forwarding",
            "/proc/sys/net/ipv6/conf/up0/forwarding:1",
        ),
        (
            "sysctls",
            "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6",
            "/proc/sys/net/ipv6/conf/default/disable_ipv6:1",
        ),
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

/// Starts `command` in the background from a shell that then exits, as a
/// test that forgot it would; its PID in the lab.
fn leak(lab: &Lab, command: &str) -> i32 {
    lab.sh_ok(&format!("{command} </dev/null >/dev/null 2>&1 & echo $!"))
        .trim()
        .parse()
        .expect("a PID")
}

/// The namespace link of a process as seen from outside, if it runs.
fn pid_namespace(path: &std::path::Path) -> Option<std::path::PathBuf> {
    std::fs::read_link(path.join("ns/pid")).ok()
}

/// Every process on the machine in the PID namespace `ns`.
fn processes_in(ns: &std::path::Path) -> Vec<String> {
    std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().parse::<i32>().is_ok())
        .filter(|e| pid_namespace(&e.path()).as_deref() == Some(ns))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_leaked_process_is_found_even_in_a_pid_namespace_and_dies_with_the_lab() {
    let lab = lab!();
    let before = lab.snapshot();
    // A daemon in a session of its own, and one hidden in a PID namespace
    // inside the lab; the commands that started them have returned.
    let daemon = leak(&lab, "setsid sleep 1000");
    let hidden = leak(&lab, "unshare --pid --fork sleep 2000");
    let diff = before.diff(&lab.snapshot());
    for said in [
        "[processes]".to_string(),
        format!("+ pid {daemon}: sleep 1000"),
        format!("+ pid {hidden}: unshare --pid --fork sleep 2000"),
        "sleep 2000".to_string(),
    ] {
        assert!(diff.contains(&said), "{said:?} is not in:\n{diff}");
    }
    let lab_ns = pid_namespace(&lab.proc(daemon)).expect("the daemon's PID namespace");
    let sleeper =
        std::fs::read_to_string(lab.proc(hidden).join(format!("task/{hidden}/children"))).unwrap();
    let inner_ns =
        pid_namespace(&lab.proc(sleeper.trim().parse().unwrap())).expect("the inner PID namespace");
    assert_ne!(lab_ns, inner_ns);
    assert_ne!(
        Some(lab_ns.clone()),
        pid_namespace(std::path::Path::new("/proc/self")),
        "the lab has a PID namespace of its own"
    );
    drop(lab);
    for ns in [lab_ns, inner_ns] {
        assert_eq!(processes_in(&ns), Vec::<String>::new(), "{}", ns.display());
    }
}

#[test]
fn the_labs_init_reaps_orphans() {
    let lab = lab!();
    let before = lab.snapshot();
    // The shell exits at once: its background job is an orphan, the lab
    // init's to reap when it ends.
    let orphan = leak(&lab, "sleep 0.1");
    lab.wait_exit(orphan);
    let start = std::time::Instant::now();
    while lab.proc(orphan).exists() {
        // A guard against hanging, far beyond any reaping: a zombie that
        // stays this long is one nobody reaps.
        assert!(
            start.elapsed() < std::time::Duration::from_secs(20),
            "the orphan {orphan} was never reaped"
        );
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    lab.assert_unchanged(&before);
}
