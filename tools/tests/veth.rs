//! vethup and vethdown in the lab: the pair, every TARGET form and option,
//! bridges, plans as data, every refusal with its residue check, teardown by
//! name, by stdin, by mark and by namespace death, and concurrency.

use nsnet_lab::{lab, Bg, Lab, Out};

const MARK: &str = "alias nsnet:vethup";

/// The flags of one interface (`UP`, `NO-CARRIER`…), from `ip -o link`.
fn flags(lab: &Lab, pid: Option<i32>, dev: &str) -> Vec<String> {
    let script = format!("ip -o link show dev {dev}");
    let out = match pid {
        Some(pid) => lab.sh_in(pid, &script),
        None => lab.sh(&script),
    }
    .expect_ok(&script)
    .stdout;
    let inner = out
        .split_once('<')
        .and_then(|(_, rest)| rest.split_once('>'))
        .map(|(inner, _)| inner)
        .unwrap_or_else(|| panic!("no flags in {out}"));
    inner.split(',').map(String::from).collect()
}

fn is_up(flags: &[String]) -> bool {
    flags.iter().any(|f| f == "UP")
}

fn exists(lab: &Lab, dev: &str) -> bool {
    lab.sh(&format!("ip link show dev {dev}")).ok()
}

fn inside(lab: &Lab, pid: i32, script: &str) -> String {
    lab.sh_in(pid, script).expect_ok(script).stdout
}

/// Runs a command that must fail with `code` and say `words` on stderr.
fn refused(out: Out, code: i32, words: &str) -> String {
    assert_eq!(
        out.code(),
        code,
        "expected status {code}; stdout: {} stderr: {}",
        out.stdout,
        out.stderr
    );
    assert!(
        out.stderr.contains(words),
        "expected {words:?} in: {}",
        out.stderr
    );
    assert_eq!(out.stderr.lines().count(), 1, "one line: {}", out.stderr);
    out.stderr
}

/// Gives a holder's namespace a name under /run/netns.
fn name_netns(lab: &Lab, holder: &Bg, name: &str) {
    lab.sh_ok(&format!("ip netns attach {name} {}", holder.pid()));
}

/// The link events `ip monitor` reports in host while `act` runs. Marker
/// links fence the events: the first one seen proves the monitor listens
/// (it has no readiness signal, so markers are made until one is seen).
fn link_events_during(lab: &Lab, act: impl FnOnce()) -> Vec<String> {
    use std::sync::mpsc;
    use std::time::Duration;
    let mut monitor = lab.spawn("exec ip -o monitor link");
    let monitor_pid = monitor.pid();
    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || loop {
        let line = monitor.line();
        if line.is_empty() || tx.send(line).is_err() {
            return;
        }
    });
    'listening: loop {
        lab.sh_ok("ip link add fence0 type ifb && ip link del fence0");
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(200)) {
            if line.contains("fence0") {
                break 'listening;
            }
        }
    }
    while rx.recv_timeout(Duration::from_millis(50)).is_ok() {}
    act();
    lab.sh_ok("ip link add fence1 type ifb && ip link del fence1");
    let mut events = Vec::new();
    loop {
        let line = rx.recv().expect("the monitor ended early");
        if line.contains("fence1") {
            break;
        }
        events.push(line);
    }
    lab.kill(monitor_pid, nix::sys::signal::Signal::SIGKILL);
    drop(rx);
    reader.join().expect("the monitor's reader");
    events
}

/// The interface an `ip -o monitor link` line is about:
/// `Deleted 3: eth0@veth0: <…` → `eth0`.
fn event_name(line: &str) -> &str {
    let line = line.strip_prefix("Deleted ").unwrap_or(line);
    let after_index = line.split_once(": ").map_or(line, |(_, rest)| rest);
    after_index.split(['@', ':']).next().unwrap_or(after_index)
}

#[test]
fn monitor_lines_name_their_interface() {
    assert_eq!(
        event_name("Deleted 3: eth0@veth0: <BROADCAST> mtu 1500"),
        "eth0"
    );
    assert_eq!(event_name("3: eth0@NONE: <BROADCAST> mtu 1500"), "eth0");
    assert_eq!(
        event_name("5: veth1@if2: <NO-CARRIER,UP> mtu 1500"),
        "veth1"
    );
    assert_eq!(
        event_name("6: fence0: <BROADCAST,NOARP> mtu 1500"),
        "fence0"
    );
}

#[test]
fn the_pair_has_its_peer_inside_down_and_the_host_end_addressed_and_up() {
    let lab = lab!();
    let c = lab.netns_holder();
    let before = lab.snapshot();
    let pid = c.pid().to_string();

    // `ip monitor` in host sees every link event there: the peer must
    // never appear on the host (created inside, not moved).
    let events = link_events_during(&lab, || {
        lab.run(&["vethup", "veth0", &pid]).expect_ok("vethup");
    });
    let names: Vec<&str> = events.iter().map(|e| event_name(e)).collect();
    assert!(names.contains(&"veth0"), "no veth0 event: {events:?}");
    assert!(!names.contains(&"eth0"), "eth0 was on the host: {events:?}");

    assert!(is_up(&flags(&lab, None, "veth0")), "veth0 is not up");
    let addrs = lab.sh_ok("ip -o addr show dev veth0");
    assert!(addrs.contains("inet 10.0.0.1/24"), "{addrs}");
    let details = lab.sh_ok("ip -d link show dev veth0");
    assert!(details.contains("veth"), "{details}");
    assert!(details.contains(MARK), "the mark is not shown: {details}");

    let peer = inside(&lab, c.pid(), "ip -d -o link show dev eth0");
    assert!(peer.contains(" veth "), "eth0 is not a veth: {peer}");
    assert!(!is_up(&flags(&lab, Some(c.pid()), "eth0")), "eth0 is up");

    lab.run(&["vethdown", "veth0"]).expect_ok("vethdown");
    assert_eq!(inside(&lab, c.pid(), "ip -o link show | wc -l").trim(), "1");
    lab.assert_unchanged(&before);
}

#[test]
fn every_target_form_works() {
    let lab = lab!();
    let holders: Vec<Bg> = (0..4).map(|_| lab.netns_holder()).collect();
    name_netns(&lab, &holders[2], "c2");
    name_netns(&lab, &holders[3], "c3");
    let before = lab.snapshot();
    let targets = [
        holders[0].pid().to_string(),
        format!("/proc/{}/ns/net", holders[1].pid()),
        "/run/netns/c2".to_string(),
        "c3".to_string(),
    ];
    for (i, target) in targets.iter().enumerate() {
        let host = format!("v{i}");
        let addr = format!("10.0.{i}.1/24");
        lab.run(&["vethup", "--addr", &addr, &host, target])
            .expect_ok(target);
        let peer = inside(&lab, holders[i].pid(), "ip -o link show dev eth0");
        assert!(peer.contains("eth0@"), "{target}: {peer}");
    }
    lab.run(&["vethdown", "v0", "v1", "v2", "v3"])
        .expect_ok("vethdown");
    lab.assert_unchanged(&before);
}

#[test]
fn addresses_of_both_families_name_and_mtu() {
    let lab = lab!();
    let c = lab.netns_holder();
    let before = lab.snapshot();
    lab.run(&[
        "vethup",
        "--addr",
        "10.1.0.1/24",
        "--addr",
        "10.2.0.1/16",
        "--addr",
        "fd00:1::1/64",
        "--ifname",
        "net0",
        "--mtu",
        "1400",
        "v1",
        &c.pid().to_string(),
    ])
    .expect_ok("vethup");
    let addrs = lab.sh_ok("ip -o addr show dev v1");
    for a in ["inet 10.1.0.1/24", "inet 10.2.0.1/16", "inet6 fd00:1::1/64"] {
        assert!(addrs.contains(a), "{a} missing: {addrs}");
    }
    assert!(
        !addrs.contains("tentative"),
        "v6 is not usable yet: {addrs}"
    );
    assert!(lab.sh_ok("ip -o link show dev v1").contains("mtu 1400"));
    let peer = inside(&lab, c.pid(), "ip -o link show dev net0");
    assert!(peer.contains("mtu 1400"), "{peer}");

    // Configured by hand inside (netinit's job), both families answer
    // at once.
    inside(
        &lab,
        c.pid(),
        "ip addr add 10.1.0.2/24 dev net0 && ip addr add fd00:1::2/64 dev net0 nodad \
         && ip link set net0 up && ping -c1 -W2 10.1.0.1 && ping -6 -c1 -W2 fd00:1::1",
    );
    lab.run(&["vethdown", "v1"]).expect_ok("vethdown");
    lab.assert_unchanged(&before);
}

/// Pairs for each (HOSTIF, container) on the bridge nsbr0.
fn join_nsbr0(lab: &Lab, ports: &[(&str, &Bg)]) {
    for (host, c) in ports {
        lab.run(&["vethup", "--bridge", "nsbr0", host, &c.pid().to_string()])
            .expect_ok(host);
    }
}

#[test]
fn two_containers_on_a_new_bridge_reach_each_other_and_the_host() {
    let lab = lab!();
    let c1 = lab.netns_holder();
    let c2 = lab.netns_holder();
    let before = lab.snapshot();
    join_nsbr0(&lab, &[("c1", &c1), ("c2", &c2)]);
    let br = lab.sh_ok("ip -d link show dev nsbr0");
    assert!(br.contains("bridge") && br.contains(MARK), "{br}");
    assert!(is_up(&flags(&lab, None, "nsbr0")));
    assert!(lab
        .sh_ok("ip -o addr show dev nsbr0")
        .contains("inet 10.0.0.1/24"));
    for port in ["c1", "c2"] {
        let link = lab.sh_ok(&format!("ip -o link show dev {port}"));
        assert!(link.contains("master nsbr0"), "{link}");
        assert!(
            !lab.sh_ok(&format!("ip -o addr show dev {port}"))
                .contains("inet "),
            "a port got an address"
        );
    }
    for (c, me) in [(&c1, "10.0.0.2"), (&c2, "10.0.0.3")] {
        inside(
            &lab,
            c.pid(),
            &format!("ip link set lo up && ip addr add {me}/24 dev eth0 && ip link set eth0 up"),
        );
    }
    inside(
        &lab,
        c1.pid(),
        "ping -c1 -W2 10.0.0.3 && ping -c1 -W2 10.0.0.1",
    );
    inside(
        &lab,
        c2.pid(),
        "ping -c1 -W2 10.0.0.2 && ping -c1 -W2 10.0.0.1",
    );
    lab.sh_ok("ping -c1 -W2 10.0.0.2 && ping -c1 -W2 10.0.0.3");

    // The bridge keeps the address it was made with as ports come and go,
    // so the containers' neighbour entries for their gateway stay right.
    let address = || lab.sh_ok("ip -br link show dev nsbr0 | awk '{print $3}'");
    let made_with = address();
    lab.run(&["vethdown", "c1"]).expect_ok("vethdown c1");
    assert!(exists(&lab, "nsbr0"), "the bridge went with a port left");
    assert_eq!(address(), made_with, "the bridge took its port's address");
    inside(&lab, c2.pid(), "ping -c1 -W2 10.0.0.1");
    lab.run(&["vethdown", "c2"]).expect_ok("vethdown c2");
    assert!(!exists(&lab, "nsbr0"), "the bridge stayed without ports");
    lab.assert_unchanged(&before);
}

#[test]
fn an_existing_bridge_is_used_as_it_is_and_stays() {
    let lab = lab!();
    let c = lab.netns_holder();
    // Configured as people configure theirs: a MAC address and MTU of its
    // own and a port of its own, so that a port coming and going leaves no
    // trace (the kernel derives those of a bare bridge from its ports).
    lab.sh_ok(
        "ip link add br9 type bridge && ip link set br9 address 02:00:00:00:00:09 mtu 1450 \
         && ip addr add 10.9.0.1/24 dev br9 \
         && ip link add own0 mtu 1450 master br9 type veth peer name own1",
    );
    let before = lab.snapshot();
    lab.run(&["vethup", "--bridge", "br9", "c1", &c.pid().to_string()])
        .expect_ok("vethup");
    let br = lab.sh_ok("ip -d link show dev br9");
    assert!(!br.contains(MARK), "someone else's bridge got our mark");
    let addrs = lab.sh_ok("ip -o addr show dev br9");
    assert!(
        addrs.contains("10.9.0.1/24") && !addrs.contains("10.0.0.1"),
        "{addrs}"
    );
    assert!(lab.sh_ok("ip -o link show dev c1").contains("master br9"));
    lab.run(&["vethdown", "c1"]).expect_ok("vethdown");
    assert!(
        exists(&lab, "br9"),
        "vethdown removed a bridge it did not make"
    );
    lab.assert_unchanged(&before);
}

/// What host and container look like, without what differs from run to
/// run (indexes, MAC addresses, link-local addresses made from them).
fn normalised(lab: &Lab, pid: i32) -> String {
    let script = "ip -o link show; ip -o addr show | grep -v 'inet6 fe80'; ip route show; ip -6 route show | sed /fe80/d";
    let mut lines: Vec<String> = [lab.sh_ok(script), inside(lab, pid, script)]
        .iter()
        .flat_map(|text| text.lines().map(normalise_line).collect::<Vec<_>>())
        .collect();
    lines.sort();
    lines.join("\n")
}

/// Leaves out what follows the kernel's carrier detection, which lags
/// behind configuration (`NO-CARRIER`, `LOWER_UP`, `state DOWN`,
/// `linkdown`).
fn normalise_line(line: &str) -> String {
    let mut words = Vec::new();
    let mut skip_next = false;
    for (i, word) in line.split_whitespace().enumerate() {
        if skip_next {
            skip_next = false;
            continue;
        }
        if word == "state" {
            skip_next = true;
            continue;
        }
        if word == "linkdown" {
            continue;
        }
        let word = word.replace("NO-CARRIER,", "").replace(",LOWER_UP", "");
        let word = word.as_str();
        if i == 0 && word.ends_with(':') && word[..word.len() - 1].parse::<u32>().is_ok() {
            continue;
        }
        if ["link/ether", "brd", "link-netnsid"].contains(&word) {
            skip_next = true;
            words.push(word.to_string());
            continue;
        }
        words.push(match word.split_once("@if") {
            Some((name, _)) => name.to_string(),
            None => word.to_string(),
        });
    }
    words.join(" ")
}

#[test]
fn dry_run_changes_nothing_and_its_script_does_what_a_run_does() {
    let lab = lab!();
    let c = lab.netns_holder();
    let pid = c.pid().to_string();
    let before = lab.snapshot();
    let inside_before = inside(&lab, c.pid(), "ip -o link show");
    let args = [
        "--bridge",
        "nsbr0",
        "--addr",
        "10.3.0.1/24",
        "--addr",
        "fd00:3::1/64",
        "--mtu",
        "1420",
        "--ifname",
        "net0",
        "c1",
        &pid,
    ];
    let dry = lab
        .run(&[&["vethup", "--dry-run"][..], &args[..]].concat())
        .expect_ok("dry run");
    assert!(dry.stderr.is_empty(), "{}", dry.stderr);
    assert!(
        dry.stdout.lines().all(|l| l.starts_with("ip ")),
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.contains(&format!("netns /proc/{pid}/ns/net")));
    lab.assert_unchanged(&before);
    assert_eq!(inside(&lab, c.pid(), "ip -o link show"), inside_before);

    lab.run_with_stdin(&["sh", "-e"], &dry.stdout)
        .expect_ok("the printed script");
    let scripted = normalised(&lab, c.pid());
    lab.run(&["vethdown", "c1"]).expect_ok("vethdown");
    lab.assert_unchanged(&before);

    lab.run(&[&["vethup"][..], &args[..]].concat())
        .expect_ok("vethup");
    let real = normalised(&lab, c.pid());
    assert_eq!(scripted, real, "the script and the run differ");
    assert!(real.contains(MARK), "{real}");

    // vethdown's dry run too: prints, changes nothing.
    let dry = lab
        .run(&["vethdown", "--dry-run", "c1"])
        .expect_ok("vethdown dry run");
    assert_eq!(dry.stdout, "ip link del dev c1\nip link del dev nsbr0\n");
    assert_eq!(normalised(&lab, c.pid()), real);
    lab.run_with_stdin(&["sh", "-e"], &dry.stdout)
        .expect_ok("vethdown's script");
    lab.assert_unchanged(&before);
}

#[test]
fn refusals_change_nothing() {
    let lab = lab!();
    let c = lab.netns_holder();
    let pid = c.pid().to_string();
    let mut dead = lab.netns_holder();
    let dead_pid = dead.pid().to_string();
    dead.signal(nix::sys::signal::Signal::SIGKILL);
    dead.wait();
    lab.sh_ok(
        "ip link add taken0 type ifb && ip link property add dev taken0 altname alias0 \
         && ip link add br9 type bridge && echo plain > /run/plain",
    );
    inside(&lab, c.pid(), "ip link add eth0 type ifb");
    let before = lab.snapshot();
    let inside_before = inside(&lab, c.pid(), "ip -o link show");

    let host = lab.host_pid().to_string();
    let dead_words =
        format!("vethup: cannot use the network namespace of PID {dead_pid}: no such process");
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["taken0", &pid],
            "vethup: cannot create taken0: an interface with that name already exists",
        ),
        (
            vec!["alias0", &pid],
            "vethup: cannot create alias0: an interface with that name already exists",
        ),
        (
            vec!["veth0", &dead_pid],
            &dead_words,
        ),
        (
            vec!["veth0", "/run/plain"],
            "vethup: cannot use the network namespace /run/plain: it is a plain file, not a network namespace",
        ),
        (vec!["veth0", "/proc/self/ns/net"], "this host's own network namespace"),
        (vec!["veth0", &host], "this host's own network namespace"),
        (vec!["veth0", "nosuchns"], "no such namespace in /run/netns"),
        (
            vec!["--addr", "198.51.100.2/24", "veth0", "--ifname", "e1", &pid],
            "vethup: cannot add 198.51.100.2/24 to veth0: 198.51.100.2 is already assigned to up0",
        ),
        (
            vec!["--addr", "2001:db8:100::2/64", "--bridge", "nsbr0", "veth0", "--ifname", "e1", &pid],
            "2001:db8:100::2 is already assigned to up0",
        ),
        // With an existing bridge only HOSTIF and the bridge are looked up,
        // by name: an altname is found that way too.
        (
            vec!["--bridge", "br9", "taken0", &pid],
            "vethup: cannot create taken0: an interface with that name already exists",
        ),
        (
            vec!["--bridge", "br9", "alias0", &pid],
            "vethup: cannot create alias0: an interface with that name already exists",
        ),
        (
            vec!["--bridge", "taken0", "veth0", "--ifname", "e1", &pid],
            "cannot attach veth0 to taken0: taken0 is an ifb, not a bridge",
        ),
        (
            vec!["veth0", &pid],
            "cannot create eth0 in the network namespace of PID",
        ),
    ];
    for (args, words) in cases {
        let argv = [&["vethup"][..], &args[..]].concat();
        let said = refused(lab.run(&argv), 1, words);
        assert!(!said.contains("RTNETLINK"), "{said}");
        lab.assert_unchanged(&before);
    }
    assert_eq!(inside(&lab, c.pid(), "ip -o link show"), inside_before);
}

#[test]
fn bad_names_are_usage_errors() {
    let lab = lab!();
    let c = lab.netns_holder();
    let pid = c.pid().to_string();
    let before = lab.snapshot();
    for bad in ["sixteen-bytes-16", "a/b", "a b", "a:b"] {
        for argv in [
            vec!["vethup", bad, &pid],
            vec!["vethup", "--ifname", bad, "v0", &pid],
            vec!["vethup", "--bridge", bad, "v0", &pid],
            vec!["vethdown", bad],
        ] {
            refused(lab.run(&argv), 2, "invalid interface name");
        }
        // On stdin, blanks separate names.
        if !bad.contains(' ') {
            refused(
                lab.run_with_stdin(&["vethdown", "-"], &format!("{bad}\n")),
                2,
                "invalid interface name",
            );
        }
    }
    refused(
        lab.run(&["vethup", "--mtu", "20", "v0", &pid]),
        2,
        "invalid MTU",
    );
    refused(lab.run(&["vethup", "v0", ""]), 2, "invalid target");
    refused(lab.run(&["vethdown"]), 2, "required");
    refused(lab.run(&["vethdown", "--all", "v0"]), 2, "--all");
    lab.assert_unchanged(&before);
}

/// vethup, netinit and vethdown start no program: with nothing on PATH
/// they do their whole job.
#[test]
fn no_other_program_is_needed() {
    let lab = lab!();
    let c = lab.netns_holder();
    let before = lab.snapshot();
    let bin = |tool: &str| nsnet_lab::bin(tool).to_str().unwrap().to_string();
    let empty = "PATH=/nonexistent";
    lab.run(&["env", empty, &bin("vethup"), "veth0", &c.pid().to_string()])
        .expect_ok("vethup without PATH");
    lab.output(lab.command_in(
        c.pid(),
        &[
            "env",
            empty,
            &bin("netinit"),
            "--wait",
            "0",
            "10.0.0.2/24",
            "--",
            "/bin/true",
        ],
    ))
    .expect_ok("netinit without PATH");
    inside(&lab, c.pid(), "ping -c1 -W2 10.0.0.1");
    lab.run(&["env", empty, &bin("vethdown"), "veth0"])
        .expect_ok("vethdown without PATH");
    lab.assert_unchanged(&before);
}

#[test]
fn without_permission_nothing_changes() {
    let lab = lab!();
    let c = lab.netns_holder();
    name_netns(&lab, &c, "c1");
    lab.run(&["vethup", "--addr", "10.9.9.1/24", "v9", "c1"])
        .expect_ok("a pair to refuse removing");
    let before = lab.snapshot();
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let no_caps = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"];
    let pid = c.pid().to_string();
    // As nobody, even the container's namespace cannot be opened by PID.
    let said = refused(
        lab.run(&[&nobody[..], &["vethup", "veth0", &pid][..]].concat()),
        1,
        "(run as root or with CAP_NET_ADMIN)",
    );
    assert!(said.contains("permission denied"), "{said}");
    // By name it can; then nobody cannot take the lock of links, and root
    // without CAP_NET_ADMIN is refused the first step by the kernel, and
    // not told to be root.
    for tool in [&["vethup", "veth0", "c1"][..], &["vethdown", "v9"][..]] {
        refused(
            lab.run(&[&nobody[..], tool].concat()),
            1,
            "cannot lock /run/nsnet/link.lock: permission denied \
             (run as root or with CAP_NET_ADMIN)",
        );
        lab.assert_unchanged(&before);
    }
    refused(
        lab.run(&[&no_caps[..], &["vethup", "veth0", "c1"][..]].concat()),
        1,
        "vethup: cannot create veth0 with its peer eth0 in the network namespace named c1: \
         operation not permitted",
    );
    lab.assert_unchanged(&before);
    refused(
        lab.run(&[&no_caps[..], &["vethdown", "v9"][..]].concat()),
        1,
        "vethdown: cannot remove v9: operation not permitted",
    );
    lab.assert_unchanged(&before);
    lab.run(&["vethdown", "v9"]).expect_ok("vethdown");
}

#[test]
fn a_step_refused_half_way_undoes_what_was_done() {
    let lab = lab!();
    let c = lab.netns_holder();
    let pid = c.pid().to_string();
    // New devices get IPv6 turned off: the kernel refuses the v6 address
    // only after the pair (or the bridge) and the v4 address exist.
    lab.sh_ok("sysctl -qw net.ipv6.conf.default.disable_ipv6=1");
    let before = lab.snapshot();
    let said = refused(
        lab.run(&[
            "vethup",
            "--addr",
            "10.4.0.1/24",
            "--addr",
            "fd00:4::1/64",
            "veth0",
            &pid,
        ]),
        1,
        "vethup: cannot add fd00:4::1/64 to veth0: ",
    );
    assert!(said.contains("IPv6 is disabled"), "{said}");
    lab.assert_unchanged(&before);
    refused(
        lab.run(&[
            "vethup",
            "--bridge",
            "nsbr0",
            "--addr",
            "10.4.0.1/24",
            "--addr",
            "fd00:4::1/64",
            "c1",
            &pid,
        ]),
        1,
        "vethup: cannot add fd00:4::1/64 to nsbr0: ",
    );
    lab.assert_unchanged(&before);
    assert_eq!(inside(&lab, c.pid(), "ip -o link show | wc -l").trim(), "1");
}

#[test]
fn vethdown_by_name_by_stdin_and_if_exists() {
    let lab = lab!();
    let c1 = lab.netns_holder();
    let c2 = lab.netns_holder();
    let c3 = lab.netns_holder();
    let before = lab.snapshot();
    for (i, (host, c)) in [("v1", &c1), ("v2", &c2), ("v3", &c3)].iter().enumerate() {
        let addr = format!("10.0.{i}.1/24");
        lab.run(&["vethup", "--addr", &addr, host, &c.pid().to_string()])
            .expect_ok(host);
    }
    lab.run_with_stdin(&["vethdown", "v1", "-"], "v2\n\n  v3 \n")
        .expect_ok("names from stdin");
    for v in ["v1", "v2", "v3"] {
        assert!(!exists(&lab, v), "{v} is still there");
    }
    lab.assert_unchanged(&before);
    lab.run(&["vethdown", "--if-exists", "v1", "v2"])
        .expect_ok("--if-exists");
    refused(
        lab.run(&["vethdown", "v1"]),
        1,
        "vethdown: cannot remove v1: no such interface",
    );
    lab.assert_unchanged(&before);
}

#[test]
fn vethdown_refuses_what_vethup_did_not_make() {
    let lab = lab!();
    let c = lab.netns_holder();
    lab.run(&["vethup", "v1", &c.pid().to_string()])
        .expect_ok("vethup");
    lab.sh_ok("ip link add ifb0 type ifb && ip link add fv0 type veth peer name fv1");
    let before = lab.snapshot();
    for (name, words) in [
        ("ifb0", "vethdown: refusing to remove ifb0: it is an ifb, not a veth pair"),
        (
            "up0",
            "vethdown: refusing to remove up0: vethup did not make it (it has no alias nsnet:vethup)",
        ),
        ("fv0", "refusing to remove fv0: vethup did not make it"),
        ("lo", "refusing to remove lo: it is a device without a link type"),
    ] {
        // Refused before anything is done: v1, named first, stays too.
        refused(lab.run(&["vethdown", "v1", name]), 1, words);
        refused(lab.run(&["vethdown", "--if-exists", name]), 1, words);
        lab.assert_unchanged(&before);
    }
    lab.run(&["vethdown", "v1"]).expect_ok("vethdown");
}

#[test]
fn vethdown_all_removes_exactly_what_vethup_made() {
    let lab = lab!();
    let holders: Vec<Bg> = (0..4).map(|_| lab.netns_holder()).collect();
    // Foreign: a veth pair, a bridge with a veth port, a veth with an alias.
    lab.sh_ok(
        "ip link add fv0 type veth peer name fv1 && ip link add br-x type bridge \
         && ip link add fp0 master br-x type veth peer name fp1 \
         && ip link add fa0 type veth peer name fa1 && ip link set fa0 alias vethup",
    );
    let before = lab.snapshot();
    let pid = |i: usize| holders[i].pid().to_string();
    lab.run(&["vethup", "--addr", "10.0.1.1/24", "p1", &pid(0)])
        .expect_ok("p1");
    lab.run(&["vethup", "--addr", "10.0.2.1/24", "p2", &pid(1)])
        .expect_ok("p2");
    join_nsbr0(&lab, &[("b1", &holders[2]), ("b2", &holders[3])]);
    let marked = lab.sh_ok("ip -d link show").matches(MARK).count();
    assert_eq!(marked, 5, "four veths and a bridge carry the mark");
    let dry = lab
        .run(&["vethdown", "--all", "--dry-run"])
        .expect_ok("dry run");
    assert_eq!(
        dry.stdout,
        "ip link del dev p1\nip link del dev p2\nip link del dev b1\nip link del dev b2\nip link del dev nsbr0\n"
    );
    lab.run(&["vethdown", "--all"]).expect_ok("--all");
    lab.assert_unchanged(&before);
    lab.run(&["vethdown", "--all"])
        .expect_ok("--all with nothing to do");
}

/// Waits (bounded) for the kernel's background cleanup of a dead
/// namespace to remove `dev`.
fn wait_gone(lab: &Lab, dev: &str) {
    for _ in 0..200 {
        if !exists(lab, dev) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("{dev} outlived its namespace by 10 s");
}

#[test]
fn namespace_death_removes_the_pair_and_vethdown_then_succeeds() {
    let lab = lab!();
    // Before the holders: they die in this test.
    let before = lab.snapshot();
    let mut c1 = lab.netns_holder();
    let mut c2 = lab.netns_holder();
    lab.run(&["vethup", "veth0", &c1.pid().to_string()])
        .expect_ok("vethup");
    lab.run(&[
        "vethup",
        "--bridge",
        "nsbr0",
        "--addr",
        "10.7.0.1/24",
        "b1",
        &c2.pid().to_string(),
    ])
    .expect_ok("vethup on a bridge");
    for c in [&mut c1, &mut c2] {
        c.signal(nix::sys::signal::Signal::SIGKILL);
        c.wait();
    }
    wait_gone(&lab, "veth0");
    wait_gone(&lab, "b1");
    lab.run(&["vethdown", "--if-exists", "veth0"])
        .expect_ok("vethdown --if-exists");
    // The bridge lost its last port when the namespace died; vethdown
    // removes it like any bridge of vethup's without ports.
    lab.run(&["vethdown", "--if-exists", "b1"])
        .expect_ok("vethdown --if-exists b1");
    lab.assert_unchanged(&before);
}

fn twenty_in_parallel(bridge: bool) {
    let lab = lab!();
    let holders: Vec<Bg> = (0..20).map(|_| lab.netns_holder()).collect();
    let before = lab.snapshot();
    // Released together, so that several find the bridge missing and race
    // to create it.
    let start = std::sync::Barrier::new(20);
    let outs: Vec<Out> = std::thread::scope(|s| {
        let runs: Vec<_> = holders
            .iter()
            .enumerate()
            .map(|(i, c)| {
                let lab = &lab;
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    let host = format!("c{i}");
                    let pid = c.pid().to_string();
                    if bridge {
                        lab.run(&["vethup", "--bridge", "nsbr0", &host, &pid])
                    } else {
                        let addr = format!("10.0.{i}.1/24");
                        lab.run(&["vethup", "--addr", &addr, &host, &pid])
                    }
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (i, out) in outs.into_iter().enumerate() {
        out.expect_ok(&format!("vethup c{i}"));
    }
    let links = lab.sh_ok("ip -d link show");
    assert_eq!(
        links.matches(MARK).count(),
        if bridge { 21 } else { 20 },
        "{links}"
    );
    if bridge {
        assert_eq!(
            lab.sh_ok("ip -o link show master nsbr0").lines().count(),
            20
        );
        let addrs = lab.sh_ok("ip -o -4 addr show dev nsbr0");
        assert_eq!(addrs.lines().count(), 1, "{addrs}");
    }
    for (i, c) in holders.iter().enumerate() {
        assert!(
            inside(&lab, c.pid(), "ip -o link show dev eth0").contains("eth0"),
            "c{i}"
        );
    }
    let outs: Vec<Out> = std::thread::scope(|s| {
        let runs: Vec<_> = (0..20)
            .map(|i| {
                let lab = &lab;
                s.spawn(move || lab.run(&["vethdown", &format!("c{i}")]))
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    });
    for (i, out) in outs.into_iter().enumerate() {
        out.expect_ok(&format!("vethdown c{i}"));
    }
    lab.assert_unchanged(&before);
}

#[test]
fn twenty_in_parallel_on_one_bridge() {
    twenty_in_parallel(true);
}

#[test]
fn twenty_in_parallel_point_to_point() {
    twenty_in_parallel(false);
}

/// Runs `argvs` at once, released together, and returns what each left.
fn all_at_once(lab: &Lab, argvs: &[Vec<String>]) -> Vec<Out> {
    let start = std::sync::Barrier::new(argvs.len());
    std::thread::scope(|s| {
        let runs: Vec<_> = argvs
            .iter()
            .map(|argv| {
                let start = &start;
                s.spawn(move || {
                    start.wait();
                    lab.run(argv)
                })
            })
            .collect();
        runs.into_iter().map(|r| r.join().unwrap()).collect()
    })
}

/// The links of host that hold `addr`, from `ip -o addr`.
fn holders_of(lab: &Lab, addr: &str) -> Vec<String> {
    lab.sh_ok(&format!("ip -o addr show to {addr}"))
        .lines()
        .map(|l| l.split_whitespace().nth(1).unwrap_or("").to_string())
        .collect()
}

/// Check-then-act between concurrent vethups: of many given the same
/// `--addr` at once, exactly one gets it and the others are refused. The
/// runs are forked first and held by a lock the script holds, then
/// released together, so they start within microseconds of each other.
#[test]
fn one_address_many_vethups_at_once_one_wins() {
    let lab = lab!();
    let holders: Vec<Bg> = (0..16).map(|_| lab.netns_holder()).collect();
    let before = lab.snapshot();
    let pids: Vec<String> = holders.iter().map(|c| c.pid().to_string()).collect();
    let script = format!(
        "exec 9>/run/gate; flock 9; i=0; for pid in {}; do \
           (exec 9>&-; flock -s /run/gate true; vethup --addr 10.5.0.1/24 r$i $pid \
            2>/run/said.$i; echo $? > /run/status.$i) & i=$((i+1)); done; \
         flock -u 9; wait; rm /run/gate; \
         for s in /run/status.*; do cat $s; done; cat /run/said.* >&2; rm /run/status.* /run/said.*",
        pids.join(" ")
    );
    for round in 0..5 {
        let out = lab.sh(&script).expect_ok(&format!("round {round}"));
        let statuses: Vec<&str> = out.stdout.lines().collect();
        assert_eq!(statuses.len(), holders.len(), "round {round}");
        let won = statuses.iter().filter(|s| **s == "0").count();
        assert_eq!(
            won, 1,
            "round {round}: {won} got the address: {}",
            out.stderr
        );
        assert!(
            statuses.iter().all(|s| *s == "0" || *s == "1"),
            "{statuses:?}"
        );
        for said in out.stderr.lines() {
            assert!(said.contains("10.5.0.1 is already assigned to r"), "{said}");
        }
        assert_eq!(holders_of(&lab, "10.5.0.1").len(), 1, "round {round}");
        lab.run(&["vethdown", "--all"]).expect_ok("vethdown --all");
        lab.assert_unchanged(&before);
    }
}

/// Check-then-act between vethdown and vethup: a vethdown removing the
/// last port of a bridge, and a vethup attaching a new one at the same
/// time. Every vethup that reports success is attached afterwards.
#[test]
fn a_bridge_emptied_while_a_vethup_attaches_keeps_the_new_port() {
    let lab = lab!();
    let holders: Vec<Bg> = (0..21).map(|_| lab.netns_holder()).collect();
    let before = lab.snapshot();
    let pid = |i: usize| holders[i].pid().to_string();
    lab.run(&["vethup", "--bridge", "nsbr0", "p0", &pid(0)])
        .expect_ok("the first port");
    for round in 1..21 {
        let new = format!("p{round}");
        let old = format!("p{}", round - 1);
        let outs = all_at_once(
            &lab,
            &[
                ["vethdown", &old].map(String::from).to_vec(),
                ["vethup", "--bridge", "nsbr0", &new, &pid(round)]
                    .map(String::from)
                    .to_vec(),
            ],
        );
        for out in outs {
            out.expect_ok(&format!("round {round}"));
        }
        let link = lab.sh_ok(&format!("ip -o link show dev {new}"));
        assert!(
            link.contains("master nsbr0"),
            "round {round}: {new} is not attached: {link}"
        );
        assert!(!exists(&lab, &old), "round {round}: {old} stayed");
    }
    lab.run(&["vethdown", "p20"]).expect_ok("the last port");
    lab.assert_unchanged(&before);
}

/// SPEC "Running the same thing again at once": the same container line,
/// ten times back to back, each run succeeding although the last one's
/// pair may not be gone yet.
fn ten_back_to_back(hook: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    for i in 0..10 {
        lab.run(&[
            "nsrun",
            "--net",
            "--hook",
            hook,
            "--",
            "netinit",
            "10.0.0.2/24",
            "--",
            "ping",
            "-c1",
            "-W2",
            "10.0.0.1",
        ])
        .expect_ok(&format!("run {i}"));
    }
    lab.run(&["vethdown", "--all"]).expect_ok("vethdown --all");
    lab.assert_settles(&before);
}

#[test]
fn the_same_line_ten_times_back_to_back_point_to_point() {
    ten_back_to_back("vethup veth0 $NSRUN_PID");
}

#[test]
fn the_same_line_ten_times_back_to_back_on_a_bridge() {
    ten_back_to_back("vethup --bridge nsbr0 c1 $NSRUN_PID");
}

/// A pair whose container lives is no pair to wait out: its name and its
/// address are refused.
#[test]
fn a_live_holder_of_the_name_or_the_address_is_refused() {
    let lab = lab!();
    let c1 = lab.netns_holder();
    let c2 = lab.netns_holder();
    lab.run(&["vethup", "veth0", &c1.pid().to_string()])
        .expect_ok("the live container's pair");
    let before = lab.snapshot();
    let c2 = c2.pid().to_string();
    refused(
        lab.run(&["vethup", "--addr", "10.1.0.1/24", "veth0", &c2]),
        1,
        "vethup: cannot create veth0: an interface with that name already exists",
    );
    refused(
        lab.run(&["vethup", "veth1", &c2]),
        1,
        "vethup: cannot add 10.0.0.1/24 to veth1: 10.0.0.1 is already assigned to veth0",
    );
    lab.assert_unchanged(&before);
    assert!(inside(&lab, c1.pid(), "ip -o link show dev eth0").contains("eth0"));
}

/// A namespace that no process is in but a mount holds (`ip netns add`,
/// as container runtimes keep theirs) is a live container's too: its pair
/// is refused, not waited out and removed.
#[test]
fn a_pair_into_a_mounted_namespace_without_processes_is_refused() {
    let lab = lab!();
    lab.sh_ok("ip netns add held && ip netns add other");
    lab.run(&["vethup", "veth0", "held"])
        .expect_ok("the mounted namespace's pair");
    let before = lab.snapshot();
    refused(
        lab.run(&["vethup", "veth0", "other"]),
        1,
        "vethup: cannot create veth0: an interface with that name already exists",
    );
    refused(
        lab.run(&["vethup", "veth1", "other"]),
        1,
        "vethup: cannot add 10.0.0.1/24 to veth1: 10.0.0.1 is already assigned to veth0",
    );
    lab.assert_unchanged(&before);
    let peer = lab.sh_ok("ip -n held -o link show dev eth0");
    assert!(peer.contains("eth0"), "{peer}");
    lab.sh_ok("ip netns del held && ip netns del other");
}

/// TARGET files that are not namespaces are refused at once, whatever
/// they are, and nothing blocks on a FIFO or opens a device.
#[test]
fn targets_that_are_not_namespaces_are_refused_at_once() {
    let lab = lab!();
    let before_files = lab.snapshot();
    lab.sh_ok(
        "mkdir /run/t && mkfifo /run/t/fifo && mknod /run/t/null c 1 3 \
         && python3 -c 'import socket; socket.socket(socket.AF_UNIX).bind(\"/run/t/sock\")' \
         && mkdir /run/t/dir && ln -s fifo /run/t/to-fifo && ln -s /nonexistent /run/t/dangling",
    );
    let before = lab.snapshot();
    for (target, is) in [
        ("/run/t/fifo", "a FIFO"),
        ("/run/t/to-fifo", "a FIFO"),
        ("/run/t/null", "a character device"),
        ("/run/t/sock", "a socket"),
        ("/run/t/dir", "a directory"),
    ] {
        let said = refused(lab.run(&["vethup", "veth0", target]), 1, is);
        assert!(said.ends_with("not a network namespace\n"), "{said}");
        lab.assert_unchanged(&before);
    }
    refused(
        lab.run(&["vethup", "veth0", "/run/t/dangling"]),
        1,
        "vethup: cannot use the network namespace /run/t/dangling: no such file",
    );
    lab.assert_unchanged(&before);
    // A FIFO under /run/netns, named as a NAME: `ip link show` itself
    // would block on it, so the snapshot is taken after it is gone.
    lab.sh_ok("mkfifo /run/netns/pipe");
    refused(
        lab.run(&["vethup", "veth0", "pipe"]),
        1,
        "vethup: cannot use the network namespace named pipe: /run/netns/pipe is a FIFO, \
         not a network namespace",
    );
    lab.sh_ok("rm -r /run/t /run/netns/pipe");
    lab.assert_unchanged(&before_files);
}

/// The library's reads of a namespace from outside (what netcheck and the
/// CNI plugin build on) see what vethup and netinit made: links, addresses
/// and routes, IPv4 and IPv6.
#[test]
fn reads_from_outside_see_links_addresses_and_routes() {
    use nsnet::netlink::Socket;
    use std::os::fd::AsFd;
    let lab = lab!();
    let c = lab.netns_holder();
    let pid = c.pid().to_string();
    let before = lab.snapshot();
    lab.run(&[
        "vethup",
        "--addr",
        "10.6.0.1/24",
        "--addr",
        "fd00:6::1/64",
        "veth0",
        &pid,
    ])
    .expect_ok("vethup");
    lab.output(lab.command_in(
        c.pid(),
        &[
            "netinit",
            "--wait",
            "0",
            "10.6.0.2/24",
            "fd00:6::2/64",
            "--",
            "true",
        ],
    ))
    .expect_ok("netinit");
    let ns = std::fs::File::open(lab.proc(c.pid()).join("ns/net")).unwrap();
    let mut socket = Socket::in_netns(ns.as_fd()).expect("a socket in the container");
    let eth0 = socket.link("eth0").unwrap().expect("eth0");
    assert!(eth0.up && eth0.is("veth"), "{eth0:?}");
    assert_eq!(
        socket.link_by_index(eth0.index).unwrap().as_ref(),
        Some(&eth0)
    );
    let addrs: Vec<String> = socket
        .addresses()
        .unwrap()
        .iter()
        .filter(|a| a.index == eth0.index)
        .map(|a| format!("{}/{}", a.addr, a.prefix))
        .collect();
    assert!(addrs.contains(&"10.6.0.2/24".to_string()), "{addrs:?}");
    assert!(addrs.contains(&"fd00:6::2/64".to_string()), "{addrs:?}");
    let routes = socket.routes().unwrap();
    let defaults: Vec<String> = routes
        .iter()
        .filter(|r| r.is_default() && r.oif == Some(eth0.index))
        .map(|r| r.gateway.unwrap().to_string())
        .collect();
    assert_eq!(defaults, ["10.6.0.1", "fd00:6::1"], "{routes:?}");
    assert!(
        routes
            .iter()
            .any(|r| r.unicast && r.destination.to_string() == "10.6.0.0/24"),
        "{routes:?}"
    );
    // And the host's end, read from the host.
    let host = std::fs::File::open(lab.proc(lab.host_pid()).join("ns/net")).unwrap();
    let mut socket = Socket::in_netns(host.as_fd()).unwrap();
    let veth0 = socket.link("veth0").unwrap().expect("veth0");
    assert_eq!(veth0.peer_index, Some(eth0.index));
    assert!(
        !socket.peer_is_dying(&veth0).unwrap(),
        "its container lives"
    );
    lab.run(&["vethdown", "veth0"]).expect_ok("vethdown");
    lab.assert_settles(&before);
}
