//! natctl publish in the lab, for both backends, with real servers in real
//! containers (nsrun, vethup, netinit) and real clients: a published port
//! is reached from the lab's internet with the client's own address kept,
//! from the host by its addresses, 127.0.0.1 and localhost, from other
//! containers and from the published container itself; TCP and UDP, IPv4
//! and IPv6, single ports and ranges; on a Docker-like host, beside rules
//! of other programs that stay byte for byte; and nothing unpublished gets
//! in. `natctl list` and `add -` round-trip everything.

#[path = "support/natctl.rs"]
mod support;

use nsnet_lab::{lab, Lab, UPLINK, UPLINK6};
use support::*;

for_both_backends!(
    published_ports_are_reached_from_everywhere_and_nothing_else_gets_in,
    publishing_beside_docker_and_foreign_rules_leaves_them_byte_identical,
    the_list_round_trips_through_flush_and_empties_through_del,
    a_port_on_one_host_address_is_not_published_on_another,
);

/// The published container: 10.0.0.2 and fd00:10::2 on bridge nsbr0.
const C1: Container = Container {
    name: "c1",
    addrs: &["10.0.0.2/24", "fd00:10::2/64"],
    host: &["10.0.0.1/24", "fd00:10::1/64"],
    bridge: true,
    hooks: &[],
    on_exit: &[],
};

/// Its neighbour on the same bridge.
const C2: Container = Container {
    name: "c2",
    addrs: &["10.0.0.3/24", "fd00:10::3/64"],
    host: &[],
    bridge: true,
    hooks: &[],
    on_exit: &[],
};

/// A container on another subnet, point to point.
const C3: Container = Container {
    name: "c3",
    addrs: &["10.0.1.2/24"],
    host: &["10.0.1.1/24"],
    bridge: false,
    hooks: &[],
    on_exit: &[],
};

/// The service in C1: every port answers with the source address it saw.
const SERVE: &[&str] = &[
    "labsvc",
    "serve",
    "10.0.0.2:80",
    "[fd00:10::2]:80",
    "10.0.0.2:9000",
    "10.0.0.2:9001",
    "10.0.0.2:9002",
];

fn publish(lab: &Lab, backend: &str, args: &[&str]) {
    let mut argv = vec!["publish", "--backend", backend];
    argv.extend(args);
    natctl(lab, &argv).expect_ok(&format!("natctl {}", argv.join(" ")));
}

/// A web server in the container of `pid`, serving /run/www on 10.0.0.2:8000.
fn web_server(lab: &Lab, pid: i32) -> nsnet_lab::Bg {
    lab.sh_ok("mkdir -p /run/www && echo hello from c1 > /run/www/hello");
    let mut server = lab.spawn_command(lab.command_in(
        pid,
        &[
            "python3",
            "-u",
            "-m",
            "http.server",
            "--bind",
            "10.0.0.2",
            "--directory",
            "/run/www",
            "8000",
        ],
    ));
    let line = server.line();
    assert!(
        line.starts_with("Serving HTTP on 10.0.0.2 port 8000"),
        "{line}"
    );
    server
}

fn curl(lab: &Lab, pid: i32, url: &str) -> Result<String, String> {
    let out = lab.output(lab.command_in(pid, &["curl", "-sS", "--max-time", "5", url]));
    if out.ok() {
        Ok(out.stdout.trim().to_string())
    } else {
        Err(out.stderr.trim().to_string())
    }
}

/// A UDP exchange with socat: the answer line.
fn socat_udp(lab: &Lab, pid: i32, target: &str) -> Result<String, String> {
    let out = lab.output(lab.command_in(
        pid,
        &["sh", "-c", &format!("echo hi | socat -T3 - UDP:{target}")],
    ));
    match out.stdout.trim() {
        "" => Err(format!("no answer: {}", out.stderr.trim())),
        text => Ok(text.to_string()),
    }
}

fn published_ports_are_reached_from_everywhere_and_nothing_else_gets_in(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    let c1 = C1.serve(&lab, SERVE);
    let pid = C1.pid(&lab);
    let web = web_server(&lab, pid);
    for subnet in ["10.0.0.0/24", "fd00:10::/64", "10.0.1.0/24"] {
        natctl(&lab, &["add", "--backend", backend, subnet]).expect_ok("add");
    }
    publish(&lab, backend, &["8080", "10.0.0.2:80"]);
    publish(&lab, backend, &["--udp", "8080", "10.0.0.2:80"]);
    publish(&lab, backend, &["8080", "[fd00:10::2]:80"]);
    publish(&lab, backend, &["--udp", "8080", "[fd00:10::2]:80"]);
    publish(&lab, backend, &["7000-7002", "10.0.0.2:9000-9002"]);
    publish(&lab, backend, &["--udp", "7000-7002", "10.0.0.2:9000-9002"]);
    publish(&lab, backend, &["8081", "10.0.0.2:8000"]);
    // Publishing again changes nothing.
    let fw = lab.sh_ok("nft -s list ruleset; iptables-save | grep -v '^#'");
    publish(&lab, backend, &["8080", "10.0.0.2:80"]);
    assert_eq!(
        lab.sh_ok("nft -s list ruleset; iptables-save | grep -v '^#'"),
        fw
    );
    let internet = lab.internet_pid();
    let host = lab.host_pid();

    // From another machine: the client's own address is what the server sees.
    for proto in ["tcp", "udp"] {
        assert_eq!(
            ask_from_internet(&lab, proto, "198.51.100.2:8080"),
            Ok("198.51.100.1".into()),
            "{proto} from the internet"
        );
        assert_eq!(
            ask_from_internet(&lab, proto, "[2001:db8:100::2]:8080"),
            Ok("2001:db8:100::1".into()),
            "{proto} over IPv6 from the internet"
        );
        for port in 7000..=7002 {
            assert_eq!(
                ask_from_internet(&lab, proto, &format!("198.51.100.2:{port}")),
                Ok("198.51.100.1".into()),
                "{proto} port {port} of the range"
            );
        }
    }
    assert_eq!(
        socat_udp(&lab, internet, "198.51.100.2:8080"),
        Ok("198.51.100.1".into())
    );
    assert_eq!(
        curl(&lab, internet, "http://198.51.100.2:8081/hello"),
        Ok("hello from c1".into())
    );

    // From the host itself: its uplink address, 127.0.0.1, localhost, its
    // global IPv6 address.
    assert_eq!(
        ask_from_host(&lab, "tcp", "198.51.100.2:8080"),
        Ok(UPLINK.into())
    );
    assert_eq!(
        ask_from_host(&lab, "tcp", "[2001:db8:100::2]:8080"),
        Ok(UPLINK6.into())
    );
    for proto in ["tcp", "udp"] {
        assert_eq!(
            ask_from_host(&lab, proto, "127.0.0.1:8080"),
            Ok("10.0.0.1".into()),
            "{proto} to 127.0.0.1"
        );
    }
    assert_eq!(
        socat_udp(&lab, host, "127.0.0.1:8080"),
        Ok("10.0.0.1".into())
    );
    for url in [
        "http://127.0.0.1:8081/hello",
        "http://localhost:8081/hello",
        "http://198.51.100.2:8081/hello",
    ] {
        assert_eq!(curl(&lab, host, url), Ok("hello from c1".into()), "{url}");
    }
    // ::1 cannot be translated (natctl.1, NOTES): refused at once.
    let refused = ask_from_host(&lab, "tcp", "[::1]:8080").unwrap_err();
    assert!(refused.contains("refused"), "{refused}");
    // Turned on for 127.0.0.1, on the interface toward the destination.
    assert_eq!(
        lab.sh_ok("cat /proc/sys/net/ipv4/conf/nsbr0/route_localnet"),
        "1\n"
    );

    // From containers: on another subnet, on the same bridge, and the
    // published container itself (hairpin), through the host's address.
    for (who, c, again) in [
        ("another subnet", C3, C3.named("c3b")),
        ("the same bridge", C2, C2.named("c2b")),
    ] {
        let out = c.run(&lab, &["labsvc", "ask", "tcp", "198.51.100.2:8080"]);
        assert!(
            out.ok() && out.stdout.trim().starts_with("10.0."),
            "from {who}: {} {}",
            out.stdout,
            out.stderr
        );
        let out = again.run(&lab, &["labsvc", "ask", "udp", "198.51.100.2:7001"]);
        assert!(out.ok(), "udp from {who}: {}", out.stderr);
    }
    let out = C2.named("c2c").run(
        &lab,
        &[
            "curl",
            "-sS",
            "--max-time",
            "5",
            "http://198.51.100.2:8081/hello",
        ],
    );
    assert_eq!(out.stdout.trim(), "hello from c1", "{}", out.stderr);
    // A published container reaching itself through a bridge: with
    // br_netfilter loaded, the kernel bridges the translated packet back
    // out of the port it came in, which a bridge does only in hairpin
    // mode (as Docker and CNI's bridge plugin set it; natctl.1, NOTES).
    lab.sh_ok("ip link set c1 type bridge_slave hairpin on");
    for proto in ["tcp", "udp"] {
        assert!(
            ask_from(&lab, pid, proto, "198.51.100.2:8080").is_ok(),
            "hairpin {proto}"
        );
        assert!(
            ask_from(&lab, pid, proto, "[2001:db8:100::2]:8080").is_ok(),
            "hairpin {proto} over IPv6"
        );
    }

    // Nothing unpublished gets in: the internet routes the subnet to the
    // host and tries the container's ports directly.
    lab.internet_sh("ip route add 10.0.0.0/24 via 198.51.100.2")
        .expect_ok("a route to the container");
    for target in ["10.0.0.2:80", "10.0.0.2:9001", "10.0.0.2:8000"] {
        assert!(
            ask_from_internet(&lab, "tcp", target).is_err(),
            "{target} reached unpublished"
        );
    }
    assert!(ask_from_internet(&lab, "tcp", "198.51.100.2:8082").is_err());

    // Unpublished, the ports are closed again; the rest stays.
    natctl(&lab, &["unpublish", "8080", "7000-7002", "8081"]).expect_ok("unpublish tcp");
    natctl(&lab, &["unpublish", "--udp", "8080", "7000-7002"]).expect_ok("unpublish udp");
    assert!(ask_from_internet(&lab, "tcp", "198.51.100.2:8080").is_err());
    assert!(ask_from_internet(&lab, "udp", "198.51.100.2:7001").is_err());
    assert_eq!(
        list(&lab),
        format!(
            "10.0.0.0/24 masquerade out=any backend={backend}\n\
             10.0.1.0/24 masquerade out=any backend={backend}\n\
             fd00:10::/64 masquerade out=any backend={backend}\n"
        )
    );
    natctl(&lab, &["flush"]).expect_ok("flush");
    drop(web);
    drop(c1);
    tidy(&lab);
    lab.assert_settles(&before);
}

fn publishing_beside_docker_and_foreign_rules_leaves_them_byte_identical(backend: &str) {
    let lab = lab!();
    lab.sh_ok(NEIGHBOURS);
    let before = lab.snapshot();
    let foreign = || {
        lab.sh_ok(
            "nft -s list table inet foreign; for t in iptables-save ip6tables-save; do \
             $t | grep -v '^#' | grep -v NSNET | sed 's/ \\[[0-9]*:[0-9]*\\]$//'; done",
        )
    };
    let untouched = foreign();
    let c1 = C1.serve(&lab, SERVE);
    for teardown in [&["unpublish", "8080"][..], &["flush"]] {
        natctl(&lab, &["add", "--backend", backend, "10.0.0.0/24"]).expect_ok("add");
        publish(&lab, backend, &["8080", "10.0.0.2:80"]);
        assert_eq!(
            ask_from_internet(&lab, "tcp", "198.51.100.2:8080"),
            Ok("198.51.100.1".into()),
            "through a FORWARD DROP policy"
        );
        assert_eq!(
            lab.sh_ok("iptables -S FORWARD | head -1"),
            "-P FORWARD DROP\n"
        );
        natctl(&lab, teardown).expect_ok(&teardown.join(" "));
        assert!(ask_from_internet(&lab, "tcp", "198.51.100.2:8080").is_err());
        natctl(&lab, &["del", "--if-exists", "10.0.0.0/24"]).expect_ok("del");
        assert_eq!(foreign(), untouched, "after {}", teardown.join(" "));
    }
    drop(c1);
    tidy(&lab);
    lab.assert_settles(&before);
}

/// The firewall's lines, sorted: the same rules and elements, whatever
/// order a set or chain lists them in.
fn firewall_lines(lab: &Lab) -> Vec<String> {
    let text = lab.sh_ok(
        "nft -s list ruleset | grep -v '^\\s*$'; for t in iptables-save ip6tables-save; do \
         $t | grep -v '^#' | sed 's/ \\[[0-9]*:[0-9]*\\]$//'; done",
    );
    let mut lines: Vec<String> = text
        .lines()
        .map(|l| l.trim().trim_end_matches(',').to_string())
        .map(|l| l.strip_prefix("elements = { ").unwrap_or(&l).to_string())
        .collect();
    lines.sort();
    lines
}

fn the_list_round_trips_through_flush_and_empties_through_del(backend: &str) {
    let lab = lab!();
    lab.sh_ok("ip link add ifb0 type ifb");
    let before = lab.snapshot();
    let holder = lab.netns_holder();
    let owner = holder.pid().to_string();
    for args in [
        &["add", "10.0.0.0/24"][..],
        &["add", "10.0.1.0/24", "--out", "ifb0"],
        &["add", "fd00:10::/64", "--owner", &owner],
        &["publish", "8080", "10.0.0.2:80"],
        &[
            "publish",
            "--udp",
            "--owner",
            &owner,
            "5300-5310",
            "10.0.0.2:53-63",
        ],
        &["publish", "--host", "198.51.100.2", "9090", "10.0.0.3:90"],
        &["publish", "8443", "[fd00:10::2]:443"],
    ] {
        let mut argv = args.to_vec();
        argv.extend(["--backend", backend]);
        natctl(&lab, &argv).expect_ok(&argv.join(" "));
    }
    let saved = list(&lab);
    assert_eq!(saved.lines().count(), 7, "{saved}");
    assert!(saved.contains(&format!("owners={owner}:")), "{saved}");
    let firewall = firewall_lines(&lab);
    lab.sh_ok("natctl list > /run/saved && natctl flush");
    assert_eq!(list(&lab), "");
    lab.sh_ok("natctl add - < /run/saved");
    assert_eq!(list(&lab), saved, "add - restores the list");
    assert_eq!(firewall_lines(&lab), firewall, "add - restores the rules");
    lab.sh_ok("natctl list | natctl del -");
    assert_eq!(list(&lab), "");
    drop(holder);
    tidy(&lab);
    lab.assert_unchanged(&before);
}

fn a_port_on_one_host_address_is_not_published_on_another(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    let c1 = C1.serve(&lab, SERVE);
    natctl(&lab, &["add", "--backend", backend, "10.0.0.0/24"]).expect_ok("add");
    publish(
        &lab,
        backend,
        &["--host", "198.51.100.2", "8080", "10.0.0.2:80"],
    );
    // The same port on every other address goes elsewhere, and both stand.
    publish(&lab, backend, &["8080", "10.0.0.2:9000"]);
    assert_eq!(
        ask_from_internet(&lab, "tcp", "198.51.100.2:8080"),
        Ok("198.51.100.1".into())
    );
    // From the container's side the host is 10.0.0.1: the port there is
    // the one published on every address, to 9000.
    let via_gateway = C2.run(&lab, &["labsvc", "ask", "tcp", "10.0.0.1:8080"]);
    assert!(via_gateway.ok(), "{}", via_gateway.stderr);
    natctl(&lab, &["unpublish", "8080"]).expect_ok("unpublish on every address");
    let out = C2
        .named("c2b")
        .run(&lab, &["labsvc", "ask", "tcp", "10.0.0.1:8080"]);
    assert!(!out.ok(), "10.0.0.1:8080 is not published on its own");
    assert_eq!(
        ask_from_internet(&lab, "tcp", "198.51.100.2:8080"),
        Ok("198.51.100.1".into())
    );
    let out = natctl(&lab, &["unpublish", "8080"]);
    assert_one_line(
        &out,
        1,
        "cannot delete tcp 8080 host=any: natctl has no rules for it",
    );
    natctl(&lab, &["unpublish", "--host", "198.51.100.2", "8080"]).expect_ok("unpublish");
    natctl(&lab, &["del", "10.0.0.0/24"]).expect_ok("del");
    drop(c1);
    tidy(&lab);
    lab.assert_settles(&before);
}

#[test]
fn the_nft_rule_count_does_not_grow_with_published_ports() {
    let lab = lab!();
    natctl(&lab, &["add", "--backend", "nft", "10.0.0.0/24"]).expect_ok("add");
    let rules = nft_rules(&lab, "ip");
    assert_eq!(rules, RULES_V4);
    for port in 1000..1100 {
        publish(&lab, "nft", &[&port.to_string(), "10.0.0.2:80"]);
    }
    publish(&lab, "nft", &["--udp", "2000-2999", "10.0.0.2:2000-2999"]);
    assert_eq!(nft_rules(&lab, "ip"), rules, "rules grew with ports");
    assert_eq!(list(&lab).lines().count(), 102);
}
