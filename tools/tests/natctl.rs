//! natctl in the lab, for both backends: a container at 10.0.0.2 (and
//! fd00:10::2) behind veth0, built by hand with `ip`, reaches the lab's
//! internet through natctl's masquerade; the rules are idempotent, atomic,
//! isolated, live beside other programs' rules and leave nothing behind.

#[path = "support/natctl.rs"]
mod support;

use nsnet_lab::{lab, Lab, SERVICE, SERVICE6, UPLINK, UPLINK6};
use support::*;

for_both_backends!(
    add_masquerades_tcp_and_udp_and_del_leaves_nothing,
    out_limits_the_masquerade_to_one_interface,
    ipv6_subnets_are_masqueraded_too,
    adding_again_changes_nothing,
    a_failure_half_way_leaves_nothing,
    a_failed_forwarding_switch_undoes_the_rules,
    twenty_concurrent_adds_make_one_rule_set_per_subnet,
    del_by_operand_if_exists_and_stdin,
    inbound_connections_are_dropped_replies_pass_host_reaches_in,
    subnets_cannot_open_connections_into_each_other,
    neighbours_rules_and_policies_stay_as_they_were,
    dry_run_prints_a_usable_script_and_changes_nothing,
);

fn add_masquerades_tcp_and_udp_and_del_leaves_nothing(backend: &str) {
    let lab = lab!();
    let c = container(&lab);
    let before = lab.snapshot();
    assert_eq!(
        forwarding(&lab, "4"),
        "0",
        "the lab starts without forwarding"
    );
    assert!(
        seen(&lab, &c, "udp", SERVICE).is_err(),
        "without NAT the service cannot answer"
    );
    add(&lab, backend, &["10.0.0.0/24"]);
    assert_eq!(forwarding(&lab, "4"), "1");
    assert_eq!(seen(&lab, &c, "tcp", SERVICE).unwrap(), UPLINK);
    assert_eq!(seen(&lab, &c, "udp", SERVICE).unwrap(), UPLINK);
    assert_eq!(
        list(&lab),
        format!("10.0.0.0/24 masquerade out=any backend={backend}\n")
    );
    let fw = firewall(&lab);
    match backend {
        "nft" => assert!(
            fw.contains("table ip nsnet") && !fw.contains("NSNET"),
            "{fw}"
        ),
        _ => assert!(
            !fw.contains("table ip nsnet")
                && fw.contains("-A POSTROUTING -j NSNET-POSTROUTING")
                && fw.contains("-A FORWARD -j NSNET-FORWARD")
                && fw.contains("--comment \"nsnet:10.0.0.0/24 masquerade out=any\" -j MASQUERADE"),
            "{fw}"
        ),
    }
    natctl(&lab, &["del", "10.0.0.0/24"]).expect_ok("natctl del");
    assert_eq!(list(&lab), "");
    forwarding_off(&lab);
    lab.assert_unchanged(&before);
}

fn out_limits_the_masquerade_to_one_interface(backend: &str) {
    let lab = lab!();
    let c = container(&lab);
    // The internet routes the subnet back, so unmasqueraded traffic gets
    // answers too and shows its own source.
    lab.internet_sh("ip route add 10.0.0.0/24 via 198.51.100.2")
        .expect_ok("route back");
    lab.sh_ok("ip link add ifb0 type ifb");
    let before = lab.snapshot();
    add(&lab, backend, &["10.0.0.0/24", "--out", "ifb0"]);
    assert_eq!(seen(&lab, &c, "tcp", SERVICE).unwrap(), "10.0.0.2");
    assert_eq!(seen(&lab, &c, "udp", SERVICE).unwrap(), "10.0.0.2");
    assert_eq!(
        list(&lab),
        format!("10.0.0.0/24 masquerade out=ifb0 backend={backend}\n")
    );
    natctl(&lab, &["del", "10.0.0.0/24"]).expect_ok("del");
    add(&lab, backend, &["10.0.0.0/24", "--out", "up0"]);
    assert_eq!(seen(&lab, &c, "tcp", SERVICE).unwrap(), UPLINK);
    assert_eq!(seen(&lab, &c, "udp", SERVICE).unwrap(), UPLINK);
    natctl(&lab, &["del", "10.0.0.0/24"]).expect_ok("del");
    forwarding_off(&lab);
    lab.assert_unchanged(&before);
}

fn ipv6_subnets_are_masqueraded_too(backend: &str) {
    let lab = lab!();
    let c = container(&lab);
    let before = lab.snapshot();
    add(&lab, backend, &["fd00:10::/64"]);
    assert_eq!(forwarding(&lab, "6"), "1");
    assert_eq!(seen(&lab, &c, "tcp", SERVICE6).unwrap(), UPLINK6);
    assert_eq!(seen(&lab, &c, "udp", SERVICE6).unwrap(), UPLINK6);
    assert!(
        seen(&lab, &c, "udp", SERVICE).is_err(),
        "IPv4 stays unmasqueraded"
    );
    assert_eq!(
        list(&lab),
        format!("fd00:10::/64 masquerade out=any backend={backend}\n")
    );
    natctl(&lab, &["del", "fd00:10::/64"]).expect_ok("del");
    assert_eq!(forwarding(&lab, "6"), "1", "del leaves forwarding on");
    lab.sh_ok("echo 0 > /proc/sys/net/ipv6/conf/all/forwarding");
    lab.assert_unchanged(&before);
}

fn adding_again_changes_nothing(backend: &str) {
    let lab = lab!();
    let c = container(&lab);
    add(&lab, backend, &["10.0.0.0/24", "--out", "up0"]);
    let once = firewall(&lab);
    add(&lab, backend, &["10.0.0.0/24", "--out", "up0"]);
    natctl(&lab, &["add", "10.0.0.0/24", "--out", "up0"]).expect_ok("auto add again");
    assert_eq!(firewall(&lab), once, "a second add changed the firewall");
    assert_eq!(seen(&lab, &c, "tcp", SERVICE).unwrap(), UPLINK);
    // The same subnet with other settings is refused, not silently kept.
    let out = natctl(&lab, &["add", "10.0.0.0/24"]);
    assert_one_line(&out, 1, "already masqueraded with out=up0");
    let other = if backend == "nft" { "iptables" } else { "nft" };
    let out = natctl(
        &lab,
        &["add", "10.0.0.0/24", "--out", "up0", "--backend", other],
    );
    assert_one_line(
        &out,
        1,
        &format!("already masqueraded by the {backend} backend"),
    );
    assert_eq!(firewall(&lab), once);
}

/// Puts a stand-in for `program` first on PATH: the first time it is
/// asked to change something (its arguments match the case pattern
/// `applies`) it touches /run/fake/`mark` and runs `then` in place of the
/// real program (`$REAL`, with `"$@"`); otherwise it is the real program.
/// Returns the PATH to run natctl with.
fn stand_in(lab: &Lab, program: &str, applies: &str, mark: &str, then: &str) -> String {
    let real = lab
        .sh_ok(&format!("command -v {program}"))
        .trim()
        .to_string();
    lab.sh_ok(&format!(
        "mkdir -p /run/fake && rm -f /run/fake/{mark} && cat > /run/fake/{program} <<'EOF'\n\
         #!/bin/sh\n\
         REAL={real}\n\
         case \"$*\" in {applies}) ;; *) exec $REAL \"$@\";; esac\n\
         if [ -e /run/fake/{mark} ]; then exec $REAL \"$@\"; fi\n\
         touch /run/fake/{mark}\n\
         {then}\n\
         EOF\n\
         chmod +x /run/fake/{program}"
    ));
    let path = lab.sh_ok("echo \"$PATH\"");
    format!("/run/fake:{}", path.trim())
}

/// A stand-in that applies only what `partial` (a shell filter of its
/// stdin) lets through, then fails.
fn fail_once(lab: &Lab, program: &str, applies: &str, partial: &str) -> String {
    let then = format!(
        "{partial} | $REAL \"$@\" >/dev/null 2>&1\n\
         echo 'Error: simulated failure' >&2\n\
         exit 1"
    );
    stand_in(lab, program, applies, "failed", &then)
}

fn a_failure_half_way_leaves_nothing(backend: &str) {
    let lab = lab!();
    let _c = container(&lab);
    // Under a FORWARD DROP policy the nft backend needs two transactions
    // (nft -f to make its table, then iptables' accept); iptables-restore
    // commits table by table. The neighbour is in iptables, so the nft
    // backend's table is still to be made.
    lab.sh_ok("iptables -P FORWARD DROP");
    natctl(&lab, &["add", "10.0.1.0/24", "--backend", "iptables"]).expect_ok("a neighbour");
    let before = lab.snapshot();
    let path = match backend {
        // The nft table is committed, then the iptables accept fails.
        "nft" => fail_once(&lab, "iptables-restore", "*", "cat >/dev/null; echo"),
        // The filter table is committed, then the nat table fails.
        _ => fail_once(&lab, "iptables-restore", "*", "sed '/^COMMIT$/q'"),
    };
    let out = natctl_env(
        &lab,
        &["add", "10.0.0.0/24", "--backend", backend],
        &[("PATH", &path)],
    );
    assert_one_line(&out, 1, "simulated failure");
    assert!(
        lab.sh_ok("ls /run/fake").contains("failed"),
        "the failure was not injected"
    );
    lab.assert_unchanged(&before);
    assert_eq!(
        list(&lab),
        "10.0.1.0/24 masquerade out=any backend=iptables\n"
    );
}

/// A stand-in that gets natctl SIGKILLed `before` or `after` the real
/// program has run.
fn kill_once(lab: &Lab, program: &str, applies: &str, when: &str) -> String {
    let then = format!(
        "if [ {when} = after ]; then $REAL \"$@\"; fi\n\
         kill -9 $PPID\n\
         exit 1"
    );
    stand_in(lab, program, applies, "killed", &then)
}

/// natctl SIGKILLed before or after each program it runs, under a
/// FORWARD DROP policy, where an nft subnet needs iptables' accept beside
/// its entry: whatever it leaves, `natctl list` shows it and `natctl del
/// --if-exists` clears it.
#[test]
fn killed_at_any_step_it_leaves_nothing_that_del_cannot_see() {
    let lab = lab!();
    let _c = container(&lab);
    lab.sh_ok("iptables -P FORWARD DROP && echo 1 > /proc/sys/net/ipv4/ip_forward");
    let before = lab.snapshot();
    let subnet = "10.0.0.0/24";
    // Each program where a command runs it: nft only to make natctl's
    // table (del removes it in-process), iptables-restore for the accepts.
    for (program, applies, commands) in [
        ("nft", "*-f*", &["add"][..]),
        ("iptables-restore", "*", &["add", "del"][..]),
    ] {
        for when in ["before", "after"] {
            for &command in commands {
                let what = format!("{command} killed {when} {program}");
                if command == "del" {
                    natctl(&lab, &["add", "--backend", "nft", subnet]).expect_ok(&what);
                }
                let path = kill_once(&lab, program, applies, when);
                let out = natctl_env(&lab, &[command, subnet], &[("PATH", &path)]);
                assert!(
                    lab.sh("test -e /run/fake/killed").ok(),
                    "{what}: natctl never ran {program}: {out:?}"
                );
                assert!(!out.ok(), "{what}: natctl went on: {out:?}");
                let listed = list(&lab);
                assert!(
                    listed.is_empty() || listed.starts_with(subnet),
                    "{what}: {listed}"
                );
                natctl(&lab, &["del", "--if-exists", subnet]).expect_ok(&what);
                lab.assert_settles(&before);
            }
        }
    }
    lab.sh_ok("rm -r /run/fake");
}

fn a_failed_forwarding_switch_undoes_the_rules(backend: &str) {
    let lab = lab!();
    let _c = container(&lab);
    let sysctl = "/proc/sys/net/ipv4/ip_forward";
    lab.sh_ok(&format!(
        "mount --bind {sysctl} {sysctl} && mount -o remount,bind,ro {sysctl}"
    ));
    let before = lab.snapshot();
    let out = natctl(&lab, &["add", "10.0.0.0/24", "--backend", backend]);
    assert_one_line(&out, 1, "cannot turn on IPv4 forwarding");
    lab.assert_unchanged(&before);
    lab.sh_ok(&format!("umount {sysctl}"));
}

fn twenty_concurrent_adds_make_one_rule_set_per_subnet(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    // Five subnets, each added four times, all at once.
    let script = format!(
        "pids=''; for i in $(seq 0 19); do \
           natctl add --backend {backend} 10.0.$((i % 5)).0/24 & pids=\"$pids $!\"; done; \
         status=0; for p in $pids; do wait $p || status=1; done; exit $status"
    );
    lab.sh(&script).expect_ok("20 concurrent adds");
    let expected: String = (0..5)
        .map(|i| format!("10.0.{i}.0/24 masquerade out=any backend={backend}\n"))
        .collect();
    assert_eq!(list(&lab), expected);
    let fw = firewall(&lab);
    if backend == "iptables" {
        // isolate, two accepts, hairpin, masquerade: once each.
        for i in 0..5 {
            let mark = format!("\"nsnet:10.0.{i}.0/24 ");
            assert_eq!(fw.matches(&mark).count(), 5, "{mark} in:\n{fw}");
        }
        assert_eq!(fw.matches("-j NSNET-POSTROUTING").count(), 1, "{fw}");
        assert_eq!(fw.matches("-j NSNET-FORWARD").count(), 1, "{fw}");
    } else {
        // One element per subnet in each of nets and masq, and the rules
        // of an empty table: no more.
        for i in 0..5 {
            let element = format!("10.0.{i}.0/24 . 10.0.{i}.0/24");
            assert_eq!(fw.matches(&element).count(), 2, "{element} in:\n{fw}");
        }
        assert_eq!(fw.matches("table ip nsnet").count(), 1, "{fw}");
        assert_eq!(
            nft_rules(&lab, "ip"),
            RULES_V4,
            "the rule count grew with the subnets"
        );
    }
    natctl(&lab, &["flush"]).expect_ok("flush");
    forwarding_off(&lab);
    lab.assert_unchanged(&before);
}

fn del_by_operand_if_exists_and_stdin(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    for s in ["10.0.0.0/24", "10.0.1.0/24", "10.0.2.0/24", "fd00:10::/64"] {
        add(&lab, backend, &[s]);
    }
    natctl(&lab, &["del", "10.0.0.0/24"]).expect_ok("del");
    let three = firewall(&lab);
    // A missing subnet fails the whole del, before anything changes.
    let out = natctl(&lab, &["del", "10.0.1.0/24", "10.0.0.0/24"]);
    assert_one_line(
        &out,
        1,
        "cannot delete 10.0.0.0/24: natctl has no rules for it",
    );
    assert_eq!(firewall(&lab), three);
    natctl(&lab, &["del", "--if-exists", "10.0.0.0/24"]).expect_ok("del --if-exists");
    assert_eq!(firewall(&lab), three);
    let out = lab.output({
        let mut cmd = lab.command(&[
            "sh",
            "-c",
            "printf '10.0.1.0/24\\n\\nfd00:10::/64\\n' | natctl del -",
        ]);
        cmd.env_remove("NATCTL_BACKEND");
        cmd
    });
    assert!(out.ok(), "del -: {}", out.stderr);
    assert_eq!(
        list(&lab),
        format!("10.0.2.0/24 masquerade out=any backend={backend}\n")
    );
    // list's own output feeds del.
    lab.sh_ok("natctl list | natctl del -");
    assert_eq!(list(&lab), "");
    forwarding_off(&lab);
    lab.assert_unchanged(&before);
}

fn inbound_connections_are_dropped_replies_pass_host_reaches_in(backend: &str) {
    let lab = lab!();
    let c = container(&lab);
    let mut server = lab.spawn_command(lab.command_in(c.pid(), &["labsvc", "serve", "10.0.0.2:7"]));
    assert_eq!(server.line(), "ready");
    lab.internet_sh("ip route add 10.0.0.0/24 via 198.51.100.2")
        .expect_ok("route to the container");
    let ask_from_internet =
        || lab.output(lab.command_in(lab.internet_pid(), &["labsvc", "ask", "tcp", "10.0.0.2:7"]));
    // Without natctl, a forwarding host lets the internet in: the test's
    // path works, so a failure later is natctl's drop.
    lab.sh_ok("echo 1 > /proc/sys/net/ipv4/ip_forward");
    let out = ask_from_internet().expect_ok("the internet reaching in before natctl");
    assert_eq!(out.stdout.trim(), "198.51.100.1");
    add(&lab, backend, &["10.0.0.0/24"]);
    assert!(
        !ask_from_internet().ok(),
        "a new inbound connection got through"
    );
    assert_eq!(
        seen(&lab, &c, "tcp", SERVICE).unwrap(),
        UPLINK,
        "replies pass"
    );
    let host = lab
        .run(&["labsvc", "ask", "tcp", "10.0.0.2:7"])
        .expect_ok("host to container");
    assert_eq!(host.stdout.trim(), "10.0.0.1");
}

fn subnets_cannot_open_connections_into_each_other(backend: &str) {
    let lab = lab!();
    let a = container_n(&lab, 0);
    let b = container_n(&lab, 1);
    let mut server = lab.spawn_command(lab.command_in(b.pid(), &["labsvc", "serve", "10.0.1.2:7"]));
    assert_eq!(server.line(), "ready");
    let a_to_b = || lab.output(lab.command_in(a.pid(), &["labsvc", "ask", "tcp", "10.0.1.2:7"]));
    lab.sh_ok("echo 1 > /proc/sys/net/ipv4/ip_forward");
    let out = a_to_b().expect_ok("a container reaching another before natctl");
    assert_eq!(out.stdout.trim(), "10.0.0.2");
    // a's accept rules come first: they must not let a's new connection
    // into b past b's drop.
    add(&lab, backend, &["10.0.0.0/24"]);
    add(&lab, backend, &["10.0.1.0/24"]);
    assert!(
        !a_to_b().ok(),
        "a new connection from one subnet into another got through"
    );
    assert_eq!(seen(&lab, &a, "tcp", SERVICE).unwrap(), UPLINK);
    assert_eq!(seen(&lab, &b, "tcp", SERVICE).unwrap(), UPLINK);
}

fn neighbours_rules_and_policies_stay_as_they_were(backend: &str) {
    let lab = lab!();
    let c = container(&lab);
    lab.sh_ok(NEIGHBOURS);
    let before = lab.snapshot();
    for teardown in [&["del", "10.0.0.0/24", "fd00:10::/64"][..], &["flush"]] {
        add(&lab, backend, &["10.0.0.0/24"]);
        add(&lab, backend, &["fd00:10::/64"]);
        assert_eq!(seen(&lab, &c, "tcp", SERVICE).unwrap(), UPLINK);
        assert_eq!(seen(&lab, &c, "udp", SERVICE6).unwrap(), UPLINK6);
        let policies = lab.sh_ok("iptables -S FORWARD | head -1; ip6tables -S FORWARD | head -1");
        assert_eq!(policies, "-P FORWARD DROP\n-P FORWARD DROP\n");
        natctl(&lab, teardown).expect_ok(&teardown.join(" "));
        forwarding_off(&lab);
        lab.assert_unchanged(&before);
    }
}

fn dry_run_prints_a_usable_script_and_changes_nothing(backend: &str) {
    let lab = lab!();
    let c = container(&lab);
    let before = lab.snapshot();
    let out = natctl(
        &lab,
        &["add", "--dry-run", "--backend", backend, "10.0.0.0/24"],
    )
    .expect_ok("add --dry-run");
    let first = if backend == "nft" {
        "nft -f - <<'EOF'"
    } else {
        "iptables-restore -w --noflush <<'EOF'"
    };
    assert_eq!(out.stdout.lines().next(), Some(first), "{}", out.stdout);
    let says = if backend == "nft" {
        "add element ip nsnet nets { 10.0.0.0/24 . 10.0.0.0/24 }"
    } else {
        "nsnet:10.0.0.0/24 masquerade out=any"
    };
    assert!(out.stdout.contains(says), "{}", out.stdout);
    assert!(
        out.stdout
            .ends_with("echo 1 > /proc/sys/net/ipv4/ip_forward\n"),
        "{}",
        out.stdout
    );
    assert_eq!(out.stderr, "");
    lab.assert_unchanged(&before);
    assert_eq!(forwarding(&lab, "4"), "0");
    // The script does what add does.
    lab.run_with_stdin(&["sh", "-e"], &out.stdout)
        .expect_ok("running the dry-run script");
    assert_eq!(
        list(&lab),
        format!("10.0.0.0/24 masquerade out=any backend={backend}\n")
    );
    assert_eq!(seen(&lab, &c, "udp", SERVICE).unwrap(), UPLINK);
    let fw = firewall(&lab);
    for args in [
        &["flush", "--dry-run"][..],
        &["del", "--dry-run", "10.0.0.0/24"],
    ] {
        let out = natctl(&lab, args).expect_ok(&args.join(" "));
        assert!(!out.stdout.is_empty());
        assert_eq!(firewall(&lab), fw, "{} changed something", args.join(" "));
        if args[0] == "del" {
            lab.run_with_stdin(&["sh", "-e"], &out.stdout)
                .expect_ok("running del's script");
        }
    }
    assert_eq!(list(&lab), "");
    lab.sh_ok("echo 0 > /proc/sys/net/ipv4/ip_forward");
    lab.assert_unchanged(&before);
}

#[test]
fn list_shows_both_backends_sorted_and_stable_and_flush_clears_both() {
    let lab = lab!();
    let before = lab.snapshot();
    add(&lab, "nft", &["fd00:10::/64"]);
    add(&lab, "iptables", &["10.0.1.0/24"]);
    add(&lab, "nft", &["10.0.0.0/24", "--out", "up0"]);
    add(&lab, "iptables", &["10.0.0.0/25"]);
    let expected = "10.0.0.0/24 masquerade out=up0 backend=nft\n\
                    10.0.0.0/25 masquerade out=any backend=iptables\n\
                    10.0.1.0/24 masquerade out=any backend=iptables\n\
                    fd00:10::/64 masquerade out=any backend=nft\n";
    assert_eq!(list(&lab), expected);
    assert_eq!(list(&lab), expected, "list is stable");
    // del sees both backends at once.
    natctl(&lab, &["del", "10.0.1.0/24", "10.0.0.0/24"]).expect_ok("del across backends");
    assert_eq!(
        list(&lab),
        "10.0.0.0/25 masquerade out=any backend=iptables\n\
         fd00:10::/64 masquerade out=any backend=nft\n"
    );
    natctl(&lab, &["flush"]).expect_ok("flush");
    assert_eq!(list(&lab), "");
    natctl(&lab, &["flush"]).expect_ok("flush with nothing to do");
    forwarding_off(&lab);
    lab.assert_unchanged(&before);
}

#[test]
fn auto_picks_nft_else_iptables_and_overrides_win() {
    let lab = lab!();
    let before = lab.snapshot();
    natctl(&lab, &["add", "10.0.0.0/24"]).expect_ok("auto");
    let no_nft = path_without(&lab, "/run/no-nft", &["nft"]);
    natctl_env(&lab, &["add", "10.0.1.0/24"], &[("PATH", &no_nft)]).expect_ok("auto without nft");
    natctl_env(
        &lab,
        &["add", "10.0.2.0/24"],
        &[("NATCTL_BACKEND", "iptables")],
    )
    .expect_ok("NATCTL_BACKEND=iptables");
    natctl_env(
        &lab,
        &["add", "10.0.3.0/24", "--backend", "nft"],
        &[("NATCTL_BACKEND", "iptables")],
    )
    .expect_ok("--backend over NATCTL_BACKEND");
    natctl_env(&lab, &["add", "10.0.4.0/24"], &[("NATCTL_BACKEND", "auto")]).expect_ok("auto");
    assert_eq!(
        list(&lab),
        "10.0.0.0/24 masquerade out=any backend=nft\n\
         10.0.1.0/24 masquerade out=any backend=iptables\n\
         10.0.2.0/24 masquerade out=any backend=iptables\n\
         10.0.3.0/24 masquerade out=any backend=nft\n\
         10.0.4.0/24 masquerade out=any backend=nft\n"
    );
    let out = natctl_env(
        &lab,
        &["add", "10.0.5.0/24", "--backend", "nft"],
        &[("PATH", &no_nft)],
    );
    assert_one_line(
        &out,
        1,
        "nft is not installed (install the nftables package)",
    );
    natctl(&lab, &["flush"]).expect_ok("flush");
    forwarding_off(&lab);
    lab.assert_unchanged(&before);
}

#[test]
fn bad_input_is_refused_in_one_line_and_changes_nothing() {
    let lab = lab!();
    natctl(&lab, &["add", "10.0.9.0/24"]).expect_ok("a subnet already there");
    let neither = path_without(
        &lab,
        "/run/no-firewall",
        &[
            "nft",
            "iptables",
            "iptables-save",
            "iptables-restore",
            "ip6tables",
            "ip6tables-save",
            "ip6tables-restore",
        ],
    );
    let natctl_bin = nsnet_lab::bin("natctl");
    let natctl_path = natctl_bin.to_str().unwrap();
    let before = lab.snapshot();
    let usage = [
        (&["add", "10.0.0.1/24"][..], "did you mean 10.0.0.0/24?"),
        (&["add", "10.0.0.0/33"], "invalid address '10.0.0.0/33'"),
        (&["add", "bogus"], "invalid address 'bogus'"),
        (&["add", "10.0.0.0/24", "--backend", "pf"], "'pf'"),
        (&["add", "10.0.0.0/24", "--out", "a/b"], "it contains '/'"),
        (
            &["add", "10.0.0.0/24", "--out", "eth*"],
            "cannot match '*' exactly",
        ),
        (&["del"], "required arguments were not provided"),
        (&["del", "10.0.0.1/24"], "did you mean 10.0.0.0/24?"),
        (&["frobnicate"], "frobnicate"),
    ];
    for (args, words) in usage {
        assert_one_line(&natctl(&lab, args), 2, words);
    }
    let out = natctl_env(&lab, &["add", "10.0.0.0/24"], &[("NATCTL_BACKEND", "pf")]);
    assert_one_line(&out, 2, "invalid NATCTL_BACKEND: invalid backend 'pf'");
    let out = natctl(&lab, &["add", "10.0.0.0/24", "--out", "nope0"]);
    assert_one_line(&out, 1, "cannot use --out nope0: no such interface");
    let out = natctl(&lab, &["del", "10.0.0.0/24"]);
    assert_one_line(&out, 1, "natctl has no rules for it");
    for args in [&["add", "10.0.0.0/24"][..], &["list"], &["flush"]] {
        let out = natctl_env(&lab, args, &[("PATH", &neither)]);
        assert_one_line(&out, 1, "neither nft nor iptables is installed");
    }
    // An unprivileged user, and root without CAP_NET_ADMIN.
    let nobody = [
        "setpriv",
        "--reuid=65534",
        "--regid=65534",
        "--clear-groups",
    ];
    let capless = ["setpriv", "--inh-caps=-all", "--bounding-set=-all"];
    for who in [&nobody[..], &capless[..]] {
        for args in [
            &["add", "10.0.0.0/24"][..],
            &["del", "10.0.9.0/24"],
            &["list"],
            &["flush"],
        ] {
            let mut argv: Vec<&str> = who.to_vec();
            argv.push(natctl_path);
            argv.extend(args);
            let out = lab.output({
                let mut cmd = lab.command(&argv);
                cmd.env_remove("NATCTL_BACKEND");
                cmd
            });
            // Refused in one line; root is never told to run as root.
            assert_one_line(&out, 1, "");
            let said = out.stderr.to_lowercase();
            assert!(
                said.contains("permission denied") || said.contains("not permitted"),
                "{argv:?}: {said}"
            );
            if who == capless {
                assert!(!said.contains("as root"), "{argv:?}: {said}");
            }
        }
    }
    lab.assert_unchanged(&before);
    assert_eq!(list(&lab), "10.0.9.0/24 masquerade out=any backend=nft\n");
}
