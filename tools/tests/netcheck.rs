//! netcheck in the lab. A container made the usual way (nsrun, natctl,
//! vethup, netinit --dns) gets only `ok` lines and exit 0; then each fault
//! netcheck knows is planted alone, and the first FAIL line must name it,
//! and running the fixes netcheck printed, as printed, must make it pass
//! again. Around every netcheck run the lab's snapshot (the host's links,
//! routes, firewall, sysctls…) and the container's sysctls, links, routes
//! and resolv.conf are compared: a run changes nothing. Probes go only to lab addresses (the gateway, the
//! lab's DNS server, the lab's internet).

use nsnet_lab::{lab, Bg, Lab, Out};
use std::time::{Duration, Instant};

/// What every run is asked to reach: the lab's service, by address and by
/// the name the lab's DNS server knows.
const DESTS: [&str; 2] = ["203.0.113.10", "example.test"];

/// A container of the core scenario, running `sleep` until stopped.
struct Container {
    nsrun: Bg,
    pid: i32,
}

/// Starts `nsrun … -- netinit NETINIT -- sleep`, with `hooks` before
/// vethup's and natctl's undo on exit, and waits until the kernel has
/// finished duplicate address detection on the new links (their
/// link-local addresses would change under a snapshot).
fn start_netinit(lab: &Lab, hooks: &str, vethup: &str, netinit: &str) -> Container {
    let script = format!(
        "exec nsrun --net --mount {hooks} --hook '{vethup}' \
         --on-exit 'natctl del --if-exists 10.0.0.0/24 fd00:10::/64' \
         -- netinit {netinit} -- sh -c 'echo $$; exec sleep 1000'"
    );
    let mut nsrun = lab.spawn(&script);
    let pid: i32 = nsrun.line().parse().expect("the container's PID");
    let start = Instant::now();
    let tentative = format!(
        "ip -6 addr show tentative; nsenter --net=/proc/{pid}/ns/net ip -6 addr show tentative"
    );
    while !lab.sh_ok(&tentative).trim().is_empty() {
        assert!(start.elapsed() < Duration::from_secs(10), "DAD never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    Container { nsrun, pid }
}

/// The container of the core scenario: 10.0.0.2/24, the lab's DNS server.
fn start_with(lab: &Lab, hooks: &str, vethup: &str) -> Container {
    start_netinit(lab, hooks, vethup, "--dns 203.0.113.53 10.0.0.2/24")
}

fn start(lab: &Lab) -> Container {
    start_with(
        lab,
        "--hook 'natctl add 10.0.0.0/24'",
        "vethup veth0 $NSRUN_PID",
    )
}

impl Container {
    /// Stops the payload; nsrun's on-exit hook removes natctl's rules.
    fn stop(mut self) {
        self.nsrun.signal(nix::sys::signal::Signal::SIGTERM);
        self.nsrun.wait();
    }
}

/// What a run may not change inside the container (the lab's snapshot
/// covers the host, its sysctls included): its links, addresses, routes,
/// switches, firewall, resolv.conf and mounts. Its link-local IPv6
/// address is left out (its DAD state is the kernel's, not netcheck's).
fn container_state(lab: &Lab, pid: i32) -> String {
    let state = lab.sh_in(
        pid,
        &format!(
            "grep -Hs . /proc/sys/net/ipv4/ip_forward /proc/sys/net/ipv4/conf/*/forwarding \
                 /proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv6/conf/*/forwarding; \
             ip -d link show; ip addr show; ip route show table all; \
             ip -6 route show table all; ip rule show; nft list ruleset; \
             cat /proc/{pid}/root/etc/resolv.conf /proc/{pid}/mountinfo"
        ),
    );
    state
        .expect_ok("reading the container's state")
        .stdout
        .lines()
        .filter(|l| !l.contains("fe80"))
        .map(|l| format!("{l}\n"))
        .collect()
}

fn line_diff(before: &str, after: &str) -> String {
    let gone = before.lines().filter(|l| !after.lines().any(|a| a == *l));
    let new = after.lines().filter(|l| !before.lines().any(|b| b == *l));
    gone.map(|l| format!("- {l}\n"))
        .chain(new.map(|l| format!("+ {l}\n")))
        .collect()
}

/// Runs `netcheck --dest … PID` in the lab and checks it changed nothing.
fn netcheck(lab: &Lab, c: &Container) -> Out {
    netcheck_toward(lab, c, &DESTS)
}

fn netcheck_toward(lab: &Lab, c: &Container, dests: &[&str]) -> Out {
    let before = lab.snapshot();
    let inside = container_state(lab, c.pid);
    let mut argv: Vec<String> = vec!["netcheck".into()];
    for d in dests {
        argv.extend(["--dest".to_string(), d.to_string()]);
    }
    argv.push(c.pid.to_string());
    let out = lab.run(&argv);
    lab.assert_unchanged(&before);
    let diff = line_diff(&inside, &container_state(lab, c.pid));
    assert!(diff.is_empty(), "netcheck changed the container:\n{diff}");
    out
}

/// The checks of a healthy run, in the order packets travel.
const SUBJECTS: [&str; 13] = [
    "loopback lo",
    "interface eth0",
    "default route (IPv4)",
    "gateway 10.0.0.1",
    "host forwarding (IPv4)",
    "host route out (IPv4)",
    "forward filter (IPv4)",
    "masquerade of 10.0.0.2",
    "reverse-path filter",
    "host route back to 10.0.0.0/24",
    "DNS server 203.0.113.53",
    "destination 203.0.113.10",
    "destination example.test (203.0.113.10)",
];

/// Checks a run passed: exit 0, nothing on stderr, the header saying what
/// was checked, and one `ok` line per check in order. Returns the lines.
fn assert_healthy(out: &Out, pid: i32) -> Vec<String> {
    assert_eq!(
        (out.code(), out.stderr.as_str()),
        (0, ""),
        "stdout:\n{}",
        out.stdout
    );
    let (header, lines): (Vec<&str>, Vec<&str>) =
        out.stdout.lines().partition(|l| l.starts_with("# "));
    let header = header.join("\n");
    for says in [
        format!("the network namespace of PID {pid}"),
        "inside: eth0 10.0.0.2/24".into(),
        "veth peer veth0".into(),
        "default via 10.0.0.1".into(),
        format!("dns: 203.0.113.53 (from /proc/{pid}/root/etc/resolv.conf)"),
        "destinations: 203.0.113.10 example.test".into(),
    ] {
        assert!(
            header.contains(&says),
            "the header lacks {says:?}:\n{header}"
        );
    }
    assert_eq!(lines.len(), SUBJECTS.len(), "{}", out.stdout);
    for (line, subject) in lines.iter().zip(SUBJECTS) {
        assert!(
            line.starts_with(&format!("ok   {subject} ")),
            "expected ok for {subject}:\n{}",
            out.stdout
        );
    }
    lines.iter().map(|l| l.to_string()).collect()
}

#[test]
fn a_healthy_container_gets_only_ok_lines() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    let c = start(&lab);
    let lines = assert_healthy(&netcheck(&lab, &c), c.pid);
    assert!(lines[7].contains("table ip nsnet") && lines[7].ends_with("(natctl's)"));
    assert!(lines[12].contains("path MTU 1500"), "{}", lines[12]);
    c.stop();
    lab.assert_settles(&before);
}

/// natctl on iptables, on a host whose FORWARD policy is DROP as Docker
/// leaves it: natctl's own accepts let the container through, and
/// netcheck sees them.
#[test]
fn a_healthy_container_on_iptables_behind_dockers_policy() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    lab.sh_ok("iptables -P FORWARD DROP");
    let c = start_with(
        &lab,
        "--hook 'natctl add --backend iptables 10.0.0.0/24'",
        "vethup veth0 $NSRUN_PID",
    );
    let lines = assert_healthy(&netcheck(&lab, &c), c.pid);
    assert!(
        lines[7].contains("-A NSNET-POSTROUTING -s 10.0.0.0/24")
            && lines[7].ends_with("(natctl's)"),
        "{}",
        lines[7]
    );
    c.stop();
    lab.sh_ok("iptables -P FORWARD ACCEPT");
    lab.assert_settles(&before);
}

/// Both families: each gets its route, gateway, forwarding, filter,
/// masquerade and route back, and IPv6 destinations their path MTU.
#[test]
fn a_dual_stack_container_is_checked_in_both_families() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    let c = start_netinit(
        &lab,
        "--hook 'natctl add 10.0.0.0/24' --hook 'natctl add fd00:10::/64'",
        "vethup --addr 10.0.0.1/24 --addr fd00:10::1/64 veth0 $NSRUN_PID",
        "--dns 203.0.113.53 --dns 2001:db8:203::53 10.0.0.2/24 fd00:10::2/64",
    );
    let out = netcheck_toward(&lab, &c, &["2001:db8:203::10", "example.test"]);
    assert_eq!(out.code(), 0, "{}", out.stdout);
    for line in [
        "ok   default route (IPv6) via fd00:10::1 dev eth0",
        "ok   gateway fd00:10::1 answers ping",
        "ok   host forwarding (IPv6) is on",
        "ok   masquerade of fd00:10::2 by rule handle",
        "ok   host route back to fd00:10::/64 leaves by veth0",
        "ok   DNS server 2001:db8:203::53 answers",
        "ok   destination 2001:db8:203::10 answers ping; path MTU 1500",
        "ok   destination example.test (203.0.113.10) answers ping",
    ] {
        assert!(out.stdout.contains(line), "no {line:?} in:\n{}", out.stdout);
    }
    lab.sh_ok("echo 0 > /proc/sys/net/ipv6/conf/all/forwarding");
    let out = netcheck_toward(&lab, &c, &["2001:db8:203::10"]);
    assert_eq!(out.code(), 1, "{}", out.stdout);
    assert!(out.stdout.contains(
        "FAIL host forwarding (IPv6): the host does not forward IPv6 \
         (net.ipv6.conf.all.forwarding is 0) (fix: sysctl -w net.ipv6.conf.all.forwarding=1)\n"
    ));
    assert!(out.stdout.contains(
        "FAIL destination 2001:db8:203::10: no answer within 1s, because of 'host forwarding (IPv6)'"
    ));
    c.stop();
    lab.assert_settles(&before);
}

/// Another program's masquerade counts as much as natctl's, and the host
/// end may be a bridge.
#[test]
fn another_programs_masquerade_and_a_bridge() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    lab.sh_ok("iptables -t nat -A POSTROUTING -s 10.0.0.0/24 -o up0 -j MASQUERADE");
    let c = start_with(&lab, "", "vethup --bridge nsbr0 c1 $NSRUN_PID");
    let out = netcheck(&lab, &c);
    assert_eq!(out.code(), 0, "{}", out.stdout);
    assert!(
        out.stdout.contains(
            "ok   masquerade of 10.0.0.2 by iptables rule '-A POSTROUTING -s 10.0.0.0/24 -o up0 -j MASQUERADE'\n"
        ),
        "{}",
        out.stdout
    );
    assert!(out
        .stdout
        .contains("ok   host route back to 10.0.0.0/24 leaves by nsbr0\n"));
    c.stop();
    lab.sh_ok(
        "iptables -t nat -D POSTROUTING -s 10.0.0.0/24 -o up0 -j MASQUERADE && vethdown --all",
    );
    lab.assert_settles(&before);
}

/// One fault: how to plant it, what the first FAIL line must say, and what
/// to remove afterwards that the fix leaves (a table, a link). Words in
/// braces are filled in: `{pid}` the container, `{inside}` `nsenter` into
/// its network namespace, `{internet}` the lab's internet namespace file.
struct Fault {
    plant: &'static str,
    names: &'static str,
    undo: &'static str,
}

fn fill(text: &str, lab: &Lab, c: &Container) -> String {
    text.replace("{pid}", &c.pid.to_string())
        .replace("{inside}", &format!("nsenter --net=/proc/{}/ns/net", c.pid))
        .replace(
            "{internet}",
            &format!("/proc/{}/ns/net", lab.internet_pid()),
        )
}

/// Waits (bounded) until the container's link works again after a fix:
/// a carrier follows `ip link set … up` by up to a second, and a neighbour
/// entry the kernel began to resolve while the link was down stays
/// unresolved for seconds more (until it fails and is asked for anew).
/// Netcheck's own probes would meet that as a lost answer.
fn link_settles(lab: &Lab, pid: i32) {
    let start = Instant::now();
    let check = format!(
        "ip link show veth0 | grep -q LOWER_UP && \
         nsenter --net=/proc/{pid}/ns/net sh -c \
             'ip link show eth0 | grep -q LOWER_UP && ping -c1 -W1 10.0.0.1'"
    );
    while !lab.sh(&check).ok() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "the container's link never worked again"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The fixes of a report's FAIL lines, each once, in order.
fn fixes(out: &Out) -> Vec<String> {
    let mut fixes: Vec<String> = Vec::new();
    for line in out.stdout.lines().filter(|l| l.starts_with("FAIL ")) {
        let (_, fix) = line
            .rsplit_once(" (fix: ")
            .unwrap_or_else(|| panic!("a FAIL line without a fix: {line}"));
        let fix = fix
            .strip_suffix(')')
            .unwrap_or_else(|| panic!("the fix does not end the line: {line}"));
        if !fixes.iter().any(|f| f == fix) {
            fixes.push(fix.to_string());
        }
    }
    fixes
}

/// The addresses a fix may name: the lab's own (its container subnet, its
/// uplink, its internet, the documentation ranges). A fix naming another
/// would make netcheck probe outside the lab once it is run.
fn only_lab_addresses(fix: &str) {
    for word in fix.split(|c: char| !(c.is_ascii_digit() || c == '.')) {
        if let Ok(addr) = word.parse::<std::net::Ipv4Addr>() {
            let o = addr.octets();
            let lab = o[0] == 10
                || (o[0], o[1], o[2]) == (198, 51, 100)
                || (o[0], o[1], o[2]) == (203, 0, 113)
                || (o[0], o[1], o[2]) == (192, 0, 2);
            assert!(lab, "a fix names {addr}, outside the lab: {fix}");
        }
    }
}

/// Plants `fault` in a healthy container, checks a FAIL line names it and
/// the first FAIL's fix is its fix (the first line is the fault, or is
/// blamed on it), runs every fix printed, and checks netcheck passes again.
fn named_and_fixed(lab: &Lab, fault: Fault) {
    lab.forward_ipv4();
    let before = lab.snapshot();
    let c = start(lab);
    assert_healthy(&netcheck(lab, &c), c.pid);
    lab.sh_ok(&fill(fault.plant, lab, &c));
    let out = netcheck(lab, &c);
    assert_eq!(out.code(), 1, "{}{}", out.stdout, out.stderr);
    let fails: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("FAIL "))
        .collect();
    let named = fails.iter().find(|l| l.contains(fault.names));
    let fix_of = |line: &str| line.rsplit_once(" (fix: ").map(|(_, f)| f.to_string());
    assert!(
        named.is_some() && fix_of(fails[0]) == fix_of(named.unwrap()),
        "no FAIL says {:?}, or the first FAIL's fix is another:\n{}",
        fault.names,
        out.stdout
    );
    for fix in fixes(&out) {
        only_lab_addresses(&fix);
        lab.sh(&fix).expect_ok(&format!("the fix `{fix}`"));
    }
    link_settles(lab, c.pid);
    assert_healthy(&netcheck(lab, &c), c.pid);
    if !fault.undo.is_empty() {
        lab.sh_ok(&fill(fault.undo, lab, &c));
    }
    c.stop();
    lab.assert_settles(&before);
}

#[test]
fn forwarding_off() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "echo 0 > /proc/sys/net/ipv4/ip_forward",
            names: "FAIL host forwarding (IPv4): the host does not forward IPv4",
            undo: "",
        },
    );
}

#[test]
fn no_masquerade() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "natctl del 10.0.0.0/24",
            names: "FAIL masquerade of 10.0.0.2: nothing masquerades 10.0.0.2",
            undo: "",
        },
    );
}

#[test]
fn dockers_forward_policy_drop() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "iptables -P FORWARD DROP",
            names: "FAIL forward filter (IPv4): the drop policy of iptables chain FORWARD drops",
            undo: "iptables -P FORWARD ACCEPT",
        },
    );
}

#[test]
fn an_nft_drop_rule_in_a_forward_hook() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "nft add table inet foreign && \
                    nft add chain inet foreign fw '{ type filter hook forward priority 0; }' && \
                    nft add rule inet foreign fw ip daddr 203.0.113.0/24 drop",
            names: "FAIL forward filter (IPv4): rule handle 2 of table inet foreign chain fw drops",
            undo: "nft delete table inet foreign",
        },
    );
}

#[test]
fn an_nft_forward_chain_whose_policy_drops() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "nft add table inet foreign && \
                    nft add chain inet foreign fw '{ type filter hook forward priority 10; policy drop; }'",
            names: "FAIL forward filter (IPv4): the drop policy of table inet foreign chain fw drops",
            undo: "nft delete table inet foreign",
        },
    );
}

#[test]
fn no_default_route() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "{inside} ip route del default",
            names: "FAIL default route (IPv4): no IPv4 default route through eth0",
            undo: "",
        },
    );
}

#[test]
fn interface_down() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "{inside} ip link set eth0 down",
            names: "FAIL interface eth0: eth0 is down",
            undo: "",
        },
    );
}

#[test]
fn host_end_down() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "ip link set veth0 down",
            names: "FAIL interface eth0: eth0 has no carrier: its peer veth0 on the host is down",
            undo: "",
        },
    );
}

#[test]
fn gateway_unreachable() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "ip addr del 10.0.0.1/24 dev veth0",
            names: "FAIL gateway 10.0.0.1: no answer within 1s; no host interface has 10.0.0.1",
            undo: "",
        },
    );
}

/// 192.0.2.53, SPEC's example, is nowhere in the lab: nothing answers.
#[test]
fn dns_server_unreachable() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "printf 'nameserver 192.0.2.53\\nnameserver 203.0.113.53\\nsearch lab.test\\n' \
                    > /proc/{pid}/root/etc/resolv.conf",
            names: "FAIL DNS server 192.0.2.53: it answers neither ping nor DNS",
            undo: "",
        },
    );
}

/// The lab's service answers ping, but nothing listens on port 53 there.
#[test]
fn dns_server_that_refuses() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "printf 'nameserver 203.0.113.10\\nnameserver 203.0.113.53\\n' \
                    > /proc/{pid}/root/etc/resolv.conf",
            names: "FAIL DNS server 203.0.113.10: it answers ping but not DNS: nothing answers on port 53",
            undo: "",
        },
    );
}

/// The internet's router answers ping and drops DNS without a word.
#[test]
fn dns_server_that_does_not_answer() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "printf 'nameserver 198.51.100.1\\nnameserver 203.0.113.53\\n' \
                    > /proc/{pid}/root/etc/resolv.conf && \
                    nsenter --net={internet} nft add table inet quiet && \
                    nsenter --net={internet} nft add chain inet quiet in \
                        '{ type filter hook input priority 0; }' && \
                    nsenter --net={internet} nft add rule inet quiet in \
                        ip daddr 198.51.100.1 udp dport 53 drop",
            names:
                "FAIL DNS server 198.51.100.1: it answers ping but not DNS: no DNS answer within 2s",
            undo: "nsenter --net={internet} nft delete table inet quiet",
        },
    );
}

#[test]
fn a_host_route_overlapping_the_subnet() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "ip route add 10.0.0.0/25 via 198.51.100.1",
            names: "FAIL host route back to 10.0.0.0/24: the host route 10.0.0.0/25 via 198.51.100.1 dev up0",
            undo: "",
        },
    );
}

/// A smaller MTU on the uplink, and the host's 'fragmentation needed'
/// dropped on its way out: big packets vanish without a word.
#[test]
fn an_mtu_black_hole_toward_a_destination() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "ip link set up0 mtu 1400 && nft add table inet blackhole && \
                    nft add chain inet blackhole out '{ type filter hook output priority 0; }' && \
                    nft add rule inet blackhole out icmp type destination-unreachable \
                        icmp code frag-needed drop",
            names: "FAIL destination 203.0.113.10: packets over 1400 bytes vanish",
            undo: "nft delete table inet blackhole && ip link set up0 mtu 1500",
        },
    );
}

/// A second link to the internet, by which it sends its answers back
/// (another route than the host's to it), with strict rp_filter there.
#[test]
fn reverse_path_filtering_drops_the_answers() {
    named_and_fixed(
        &lab!(),
        Fault {
            plant: "ip link add up1 type veth peer name wan1 netns {internet} && \
                    sysctl -qw net.ipv6.conf.up1.disable_ipv6=1 && \
                    ip addr add 198.51.100.3/32 dev up1 && ip link set up1 up && \
                    mac=$(ip -br link show up1 | awk '{print $3}') && \
                    nsenter --net={internet} sh -c \"ip link set wan1 up && \
                        ip neigh add 198.51.100.2 lladdr $mac dev wan1 nud permanent && \
                        ip route add 198.51.100.2/32 dev wan1\" && \
                    sysctl -qw net.ipv4.conf.up1.rp_filter=1",
            names: "FAIL reverse-path filter: the host dropped",
            undo: "ip link del up1",
        },
    );
}
