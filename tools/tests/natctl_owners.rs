//! natctl's owners in the lab, for both backends: containers that share a
//! subnet through nsrun hooks (`add --owner $NSRUN_PID`, `del --owner
//! $NSRUN_PID` on exit), `gc` after a SIGKILLed nsrun, a PID that is not
//! its owner's any more, entries taken over from owners that exited,
//! owners that exit together each letting go without error; and other
//! programs' rules in natctl's own table and chains, which stay.

#[path = "support/natctl.rs"]
mod support;

use nsnet_lab::{lab, Lab, SERVICE, UPLINK};
use support::*;

for_both_backends!(
    containers_share_a_subnet_and_the_last_one_out_takes_the_rules,
    gc_clears_exactly_what_a_killed_nsrun_left,
    a_pid_with_another_start_time_is_not_the_owner,
    an_entry_whose_owners_exited_is_taken_over,
    owners_that_exit_together_each_let_go_without_error,
    other_programs_rules_in_natctls_table_and_chains_stay,
);

/// A container on bridge nsbr0 whose hooks hold 10.0.0.0/24 (and, with
/// `publish`, port 8080) for it, and let go of them when it exits.
fn owned(backend: &str, publish: bool) -> (Vec<String>, Vec<String>) {
    let mut hooks = vec![format!(
        "natctl add --backend {backend} --owner $NSRUN_PID 10.0.0.0/24"
    )];
    let mut on_exit = vec!["natctl del --owner $NSRUN_PID 10.0.0.0/24".to_string()];
    if publish {
        hooks.push(format!(
            "natctl publish --backend {backend} --owner $NSRUN_PID 8080 10.0.0.2:80"
        ));
        on_exit.push("natctl unpublish --owner $NSRUN_PID 8080".to_string());
    }
    (hooks, on_exit)
}

fn refs(words: &[String]) -> Vec<&str> {
    words.iter().map(String::as_str).collect()
}

const SLEEP: &[&str] = &["sh", "-c", "echo ready; exec sleep infinity"];

fn pid_of(lab: &Lab, name: &str) -> String {
    lab.sh_ok(&format!("cat /run/{name}.pid"))
        .trim()
        .to_string()
}

/// The owners `natctl list` gives an entry, as PIDs.
fn owner_pids(lab: &Lab, entry: &str) -> Vec<String> {
    let listing = list(lab);
    let line = listing
        .lines()
        .find(|l| l.starts_with(entry))
        .unwrap_or_else(|| panic!("no {entry} in:\n{listing}"));
    let mut pids: Vec<String> = line
        .split_whitespace()
        .find_map(|w| w.strip_prefix("owners="))
        .map(|o| {
            o.split(',')
                .map(|x| x.split(':').next().unwrap_or("").to_string())
                .collect()
        })
        .unwrap_or_default();
    pids.sort();
    pids
}

fn containers_share_a_subnet_and_the_last_one_out_takes_the_rules(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    let (hooks, on_exit) = owned(backend, false);
    let (hooks, on_exit) = (refs(&hooks), refs(&on_exit));
    let a = Container {
        name: "ca",
        addrs: &["10.0.0.2/24"],
        host: &["10.0.0.1/24"],
        bridge: true,
        hooks: &hooks,
        on_exit: &on_exit,
    };
    let b = Container {
        name: "cb",
        addrs: &["10.0.0.3/24"],
        ..a
    };
    let mut first = a.serve(&lab, SLEEP);
    let second = b.serve(&lab, SLEEP);
    let (pa, pb) = (pid_of(&lab, "ca"), pid_of(&lab, "cb"));
    let mut both = vec![pa.clone(), pb.clone()];
    both.sort();
    assert_eq!(owner_pids(&lab, "10.0.0.0/24 masquerade"), both);
    let b_pid: i32 = pb.parse().unwrap();
    assert_eq!(ask_from(&lab, b_pid, "tcp", SERVICE), Ok(UPLINK.into()));

    // The first one leaves (its on-exit hook lets go): the second keeps
    // its way out.
    first.signal(nix::sys::signal::Signal::SIGTERM);
    first.wait();
    assert_eq!(owner_pids(&lab, "10.0.0.0/24 masquerade"), vec![pb.clone()]);
    assert_eq!(ask_from(&lab, b_pid, "tcp", SERVICE), Ok(UPLINK.into()));
    assert_eq!(ask_from(&lab, b_pid, "udp", SERVICE), Ok(UPLINK.into()));

    // The last one out takes the rules with it.
    let mut second = second;
    second.signal(nix::sys::signal::Signal::SIGTERM);
    second.wait();
    assert_eq!(list(&lab), "");
    tidy(&lab);
    lab.assert_settles(&before);
}

fn gc_clears_exactly_what_a_killed_nsrun_left(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    let holder = lab.netns_holder();
    let live = holder.pid().to_string();
    for args in [
        &["add", "10.0.5.0/24"][..],
        &["add", "--owner", &live, "10.0.6.0/24"],
        &["publish", "--owner", &live, "9090", "10.0.6.2:90"],
    ] {
        let mut argv = args.to_vec();
        argv.extend(["--backend", backend]);
        natctl(&lab, &argv).expect_ok(&argv.join(" "));
    }
    let (hooks, on_exit) = owned(backend, true);
    let (hooks, on_exit) = (refs(&hooks), refs(&on_exit));
    let c = Container {
        name: "ck",
        addrs: &["10.0.0.2/24"],
        host: &["10.0.0.1/24"],
        bridge: false,
        hooks: &hooks,
        on_exit: &on_exit,
    };
    let mut nsrun = c.serve(&lab, SLEEP);
    let dead = pid_of(&lab, "ck");
    assert_eq!(
        owner_pids(&lab, "10.0.0.0/24 masquerade"),
        vec![dead.clone()]
    );
    // SIGKILL: no on-exit hook runs, the container dies with nsrun.
    nsrun.signal(nix::sys::signal::Signal::SIGKILL);
    nsrun.wait();
    let left = list(&lab);
    assert_eq!(left.lines().count(), 5, "{left}");
    let orphans: Vec<&str> = left
        .lines()
        .filter(|l| l.contains(&format!("owners={dead}:")))
        .collect();
    assert_eq!(orphans.len(), 2, "{left}");

    let firewall = lab.sh_ok("nft -s list ruleset; iptables-save | grep -v '^#'");
    let dry = natctl(&lab, &["gc", "--dry-run"]).expect_ok("gc --dry-run");
    let announced: Vec<String> = orphans.iter().map(|o| format!("# gc: {o}")).collect();
    assert_eq!(
        dry.stdout.lines().take(2).collect::<Vec<_>>(),
        announced,
        "{}",
        dry.stdout
    );
    assert!(dry.stdout.lines().count() > 2, "no script: {}", dry.stdout);
    assert_eq!(
        lab.sh_ok("nft -s list ruleset; iptables-save | grep -v '^#'"),
        firewall,
        "gc --dry-run changed something"
    );

    let gc = natctl(&lab, &["gc"]).expect_ok("gc");
    assert_eq!(
        gc.stdout,
        orphans.iter().map(|o| format!("{o}\n")).collect::<String>()
    );
    let kept: String = left
        .lines()
        .filter(|l| !orphans.contains(l))
        .map(|l| format!("{l}\n"))
        .collect();
    assert_eq!(list(&lab), kept, "gc took more than the dead owner's");
    assert_eq!(natctl(&lab, &["gc"]).expect_ok("gc again").stdout, "");
    natctl(&lab, &["flush"]).expect_ok("flush");
    drop(holder);
    tidy(&lab);
    lab.assert_settles(&before);
}

fn a_pid_with_another_start_time_is_not_the_owner(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    let holder = lab.netns_holder();
    let pid = holder.pid().to_string();
    // A line saved when this PID belonged to another process.
    let stale = format!("10.0.0.0/24 masquerade out=any backend={backend} owners={pid}:1");
    lab.run_with_stdin(&["natctl", "add", "-"], &format!("{stale}\n"))
        .expect_ok("add -");
    assert_eq!(list(&lab), format!("{stale}\n"));
    // Adding for the live process drops the stale record.
    natctl(&lab, &["add", "--owner", &pid, "10.0.0.0/24"]).expect_ok("add --owner");
    let line = list(&lab);
    assert!(
        !line.contains(&format!("{pid}:1\n")) && !line.contains(&format!("{pid}:1,")),
        "{line}"
    );
    assert_eq!(owner_pids(&lab, "10.0.0.0/24"), vec![pid.clone()]);
    assert_eq!(
        natctl(&lab, &["gc"]).expect_ok("gc").stdout,
        "",
        "a live owner"
    );
    // With only the stale record, gc takes the entry.
    natctl(&lab, &["del", "10.0.0.0/24"]).expect_ok("del");
    lab.run_with_stdin(&["natctl", "add", "-"], &format!("{stale}\n"))
        .expect_ok("add -");
    assert_eq!(
        natctl(&lab, &["gc"]).expect_ok("gc").stdout,
        format!("{stale}\n")
    );
    assert_eq!(list(&lab), "");
    drop(holder);
    tidy(&lab);
    lab.assert_unchanged(&before);
}

fn an_entry_whose_owners_exited_is_taken_over(backend: &str) {
    let lab = lab!();
    lab.sh_ok("ip link add ifb0 type ifb");
    let before = lab.snapshot();
    let gone = lab.spawn("exec sleep infinity");
    let old = gone.pid().to_string();
    for args in [
        &["add", "--owner", &old, "--out", "ifb0", "10.0.0.0/24"][..],
        &["publish", "--owner", &old, "8080", "10.0.0.2:80"],
    ] {
        let mut argv = args.to_vec();
        argv.extend(["--backend", backend]);
        natctl(&lab, &argv).expect_ok(&argv.join(" "));
    }
    drop(gone);
    let holder = lab.netns_holder();
    let new = holder.pid().to_string();
    for args in [
        &["publish", "--owner", &new, "8080", "10.0.0.3:80"][..],
        &["add", "--owner", &new, "10.0.0.0/24"],
    ] {
        let mut argv = args.to_vec();
        argv.extend(["--backend", backend]);
        natctl(&lab, &argv).expect_ok(&format!("{} over it", argv.join(" ")));
    }
    let listing = list(&lab);
    assert!(
        listing.contains(&format!(
            "10.0.0.0/24 masquerade out=any backend={backend} owners={new}:"
        )),
        "{listing}"
    );
    assert!(
        listing.contains(&format!(
            "publish tcp 8080 -> 10.0.0.3:80 host=any backend={backend} owners={new}:"
        )),
        "{listing}"
    );
    // A live owner's entry is not taken: it is refused, naming it.
    let other = lab.netns_holder();
    let out = natctl(
        &lab,
        &[
            "publish",
            "--owner",
            &other.pid().to_string(),
            "8080",
            "10.0.0.4:80",
        ],
    );
    assert_one_line(
        &out,
        1,
        &format!(
            "it is already published (publish tcp 8080 -> 10.0.0.3:80 host=any, owned by {new}:"
        ),
    );
    natctl(&lab, &["flush"]).expect_ok("flush");
    drop(holder);
    drop(other);
    tidy(&lab);
    lab.assert_unchanged(&before);
}

/// Containers that stop together: the first on-exit `del` drops the
/// records of every owner that has exited, and the last takes the entry;
/// the others' own `del` then finds nothing of theirs, which is no error
/// (they hold nothing), while a live process that is not an owner is
/// still refused.
fn owners_that_exit_together_each_let_go_without_error(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    let (a, b) = (
        lab.spawn("exec sleep infinity"),
        lab.spawn("exec sleep infinity"),
    );
    let live = lab.netns_holder();
    let (pa, pb, pc) = (
        a.pid().to_string(),
        b.pid().to_string(),
        live.pid().to_string(),
    );
    for pid in [&pa, &pb, &pc] {
        natctl(
            &lab,
            &["add", "--backend", backend, "--owner", pid, "10.0.0.0/24"],
        )
        .expect_ok(&format!("add --owner {pid}"));
    }
    drop(a);
    drop(b);
    natctl(&lab, &["del", "--owner", &pa, "10.0.0.0/24"]).expect_ok("the first del");
    assert_eq!(owner_pids(&lab, "10.0.0.0/24"), vec![pc.clone()]);
    natctl(&lab, &["del", "--owner", &pb, "10.0.0.0/24"])
        .expect_ok("the del of an owner whose record went with the first del");
    assert_eq!(owner_pids(&lab, "10.0.0.0/24"), vec![pc.clone()]);
    let other = lab.netns_holder();
    let out = natctl(
        &lab,
        &["del", "--owner", &other.pid().to_string(), "10.0.0.0/24"],
    );
    assert_one_line(&out, 1, "that process is not one of its owners");
    drop(other);
    drop(live);
    natctl(&lab, &["del", "--owner", &pc, "10.0.0.0/24"]).expect_ok("the last del");
    assert_eq!(list(&lab), "");
    natctl(&lab, &["del", "--owner", &pb, "10.0.0.0/24"])
        .expect_ok("the del of an exited owner whose entry is gone");
    assert_eq!(list(&lab), "");
    tidy(&lab);
    lab.assert_unchanged(&before);
}

fn other_programs_rules_in_natctls_table_and_chains_stay(backend: &str) {
    let lab = lab!();
    let before = lab.snapshot();
    // Another program's rules where natctl's are: in natctl's chain, and
    // (nft) a chain and a set of its own in natctl's table.
    let (plant, theirs, kept, unplant): (&str, &str, &[&str], &str) = match backend {
        "nft" => (
            "nft add rule ip nsnet forward ip saddr 192.0.2.0/24 counter accept && \
             nft add chain ip nsnet theirs && nft add rule ip nsnet theirs counter && \
             nft add set ip nsnet theirset '{ type ipv4_addr; }'",
            "nft -s list table ip nsnet",
            &[
                "chain forward {",
                "ip saddr 192.0.2.0/24 counter accept",
                "chain theirs {",
                "set theirset {",
            ],
            "nft delete table ip nsnet",
        ),
        _ => (
            "iptables -A NSNET-FORWARD -s 192.0.2.0/24 -j RETURN",
            "iptables -S NSNET-FORWARD; iptables -S FORWARD",
            &[
                "-A NSNET-FORWARD -s 192.0.2.0/24 -j RETURN",
                "-A FORWARD -j NSNET-FORWARD",
            ],
            "iptables -D FORWARD -j NSNET-FORWARD && iptables -F NSNET-FORWARD && \
             iptables -X NSNET-FORWARD",
        ),
    };
    natctl(&lab, &["add", "--backend", backend, "10.0.0.0/24"]).expect_ok("add");
    lab.sh_ok(plant);
    for teardown in [&["del", "10.0.0.0/24"][..], &["flush"]] {
        natctl(&lab, teardown).expect_ok(&teardown.join(" "));
        let left = lab.sh_ok(theirs);
        assert!(!left.contains("nsnet:"), "natctl's rules stayed:\n{left}");
        assert!(!left.contains("set nets"), "natctl's sets stayed:\n{left}");
        for line in kept {
            assert!(left.contains(line), "{line} went:\n{left}");
        }
        natctl(&lab, &["add", "--backend", backend, "10.0.0.0/24"]).expect_ok("add again");
    }
    natctl(&lab, &["flush"]).expect_ok("flush");
    lab.sh_ok(unplant);
    tidy(&lab);
    lab.assert_unchanged(&before);
}
