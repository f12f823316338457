//! The whole flow, end to end, in the lab: the tools composed as the
//! README's first examples, what happens when things go wrong, and many containers.
//! Every test ends with the residue check.

use nsnet_lab::{lab, Lab, SERVICE, UPLINK};
use std::time::{Duration, Instant};

/// The core scenario's payload: the host, the internet through NAT, a name
/// through --dns, and what the internet saw as source.
const PAYLOAD: &str = "ping -c1 -W2 10.0.0.1 >/dev/null && echo host-ok; \
     ping -c1 -W2 203.0.113.10 >/dev/null && echo internet-ok; \
     ping -c1 -W2 example.test >/dev/null && echo name-ok; \
     labsvc ask tcp 203.0.113.10:7; labsvc ask udp 203.0.113.10:7";

/// `nsrun --net` with natctl and vethup hooks and natctl's on-exit undo,
/// around `netinit 10.0.0.2/24 -- COMMAND`.
fn contained(command: &[&str]) -> Vec<String> {
    let mut argv: Vec<String> = [
        "nsrun",
        "--net",
        "--hook",
        "natctl add 10.0.0.0/24",
        "--hook",
        "vethup veth0 $NSRUN_PID",
        "--on-exit",
        "natctl del --if-exists 10.0.0.0/24",
        "--",
        "netinit",
        "10.0.0.2/24",
        "--",
    ]
    .map(String::from)
    .to_vec();
    argv.extend(command.iter().map(|w| w.to_string()));
    argv
}

fn core_scenario(lab: &Lab, extra: &[&str], backend: &str) -> nsnet_lab::Out {
    lab.output(core_scenario_command(lab, extra, backend))
}

fn core_scenario_command(lab: &Lab, extra: &[&str], backend: &str) -> std::process::Command {
    let mut argv = vec!["nsrun", "--net", "--mount"];
    argv.extend_from_slice(extra);
    let add = format!("natctl add --backend {backend} 10.0.0.0/24");
    argv.extend_from_slice(&[
        "--hook",
        &add,
        "--hook",
        "vethup veth0 $NSRUN_PID",
        "--on-exit",
        "natctl del --if-exists 10.0.0.0/24",
        "--",
        "netinit",
        "--dns",
        "203.0.113.53",
        "10.0.0.2/24",
        "--",
        "sh",
        "-c",
        PAYLOAD,
    ]);
    lab.command(&argv)
}

fn assert_reached_everything(out: &nsnet_lab::Out) {
    assert_eq!(
        out.code(),
        0,
        "stdout: {}\nstderr: {}",
        out.stdout,
        out.stderr
    );
    assert_eq!(
        out.stdout.lines().collect::<Vec<_>>(),
        ["host-ok", "internet-ok", "name-ok", UPLINK, UPLINK],
        "stderr: {}",
        out.stderr
    );
}

/// The core scenario on one NAT backend, then the residue check.
fn core_scenario_leaves_nothing(backend: &str) {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    assert_reached_everything(&core_scenario(&lab, &[], backend));
    lab.assert_settles(&before);
}

#[test]
fn core_scenario_on_nftables() {
    core_scenario_leaves_nothing("nft");
}

#[test]
fn core_scenario_on_iptables() {
    core_scenario_leaves_nothing("iptables");
}

/// Whatever the environment holds, every hook and the payload inherit it,
/// and it changes nothing: once, NSNET_COMPLETIONS=bash made each hook
/// print a completion script and exit 0 without doing its job.
#[test]
fn core_scenario_whatever_the_environment_holds() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    let mut cmd = core_scenario_command(&lab, &[], "nft");
    cmd.env("NSNET_COMPLETIONS", "bash")
        .env("NSNET_GENERATE", "man")
        .env("COMPLETE", "bash");
    assert_reached_everything(&lab.output(cmd));
    lab.assert_settles(&before);
}

#[test]
fn core_scenario_with_pid_proc_and_hostname() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    let out = core_scenario(
        &lab,
        &["--pid", "--mount-proc", "--uts", "--hostname", "box1"],
        "nft",
    );
    assert_reached_everything(&out);
    let out = lab
        .run(&[
            "nsrun",
            "--net",
            "--pid",
            "--mount-proc",
            "--hostname",
            "box1",
            // Another name and subnet: the kernel may still be removing
            // the first container's veth0 in the background.
            "--hook",
            "vethup --addr 10.0.1.1/24 veth1 $NSRUN_PID",
            "--",
            "netinit",
            "10.0.1.2/24",
            "--",
            "sh",
            "-c",
            "echo pid=$$; hostname; ps -e -o pid= | wc -l",
        ])
        .expect_ok("nsrun with --pid --mount-proc --hostname");
    let lines: Vec<&str> = out.stdout.lines().map(str::trim).collect();
    assert_eq!(lines[0], "pid=1");
    assert_eq!(lines[1], "box1");
    assert!(
        lines[2].parse::<u32>().unwrap() <= 3,
        "ps sees the host: {lines:?}"
    );
    lab.assert_settles(&before);
}

#[test]
fn payload_killed_by_a_signal_still_cleans_up() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    let out = lab.run(&contained(&["sh", "-c", "kill -KILL $$"]));
    assert_eq!(out.code(), 137, "{}", out.stderr);
    lab.assert_settles(&before);
}

#[test]
fn a_hook_failing_half_way_is_undone_by_on_exit() {
    let lab = lab!();
    // veth0 is taken by a foreign pair, so vethup refuses after natctl added.
    lab.sh_ok("ip link add veth0 type veth peer name veth0p");
    lab.forward_ipv4();
    let before = lab.snapshot();
    let out = lab.run(&contained(&["touch", "/run/payload-ran"]));
    assert_eq!(out.code(), 125);
    assert!(out.stderr.contains("vethup"), "{}", out.stderr);
    assert!(
        out.stderr.contains("already exists"),
        "the interface name is taken: {}",
        out.stderr
    );
    assert!(!lab.sh("test -e /run/payload-ran").ok(), "the payload ran");
    lab.assert_settles(&before);
}

#[test]
fn nsrun_killed_leaves_what_flush_and_all_clear() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    let mut nsrun =
        lab.spawn_command(lab.command(&contained(&["sh", "-c", "echo up; exec sleep 1000"])));
    assert_eq!(nsrun.line(), "up");
    nsrun.signal(nix::sys::signal::Signal::SIGKILL);
    nsrun.wait();
    // The container dies with nsrun; the NAT rule set, made by a hook, stays
    // until the bulk cleanup.
    wait_until(
        || !lab.sh("ip link show veth0").ok(),
        "the container to die",
    );
    assert!(lab.sh_ok("natctl list").contains("10.0.0.0/24"));
    lab.run(&["natctl", "flush"]).expect_ok("natctl flush");
    lab.run(&["vethdown", "--all"]).expect_ok("vethdown --all");
    lab.assert_settles(&before);
}

#[test]
fn a_taken_interface_name_is_refused_and_nothing_changes() {
    let lab = lab!();
    lab.sh_ok("ip link add veth0 type veth peer name other0");
    let before = lab.snapshot();
    let out = lab.run(&[
        "nsrun",
        "--net",
        "--hook",
        "vethup veth0 $NSRUN_PID",
        "--",
        "true",
    ]);
    assert_eq!(out.code(), 125);
    assert!(
        out.stderr.contains("vethup: cannot create veth0"),
        "{}",
        out.stderr
    );
    lab.assert_settles(&before);
}

#[test]
fn many_containers_on_a_bridge_and_one_alone() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    lab.run(&["natctl", "add", "10.0.0.0/24"])
        .expect_ok("natctl add");
    lab.run(&["natctl", "add", "10.0.1.0/24"])
        .expect_ok("natctl add");
    let mut held = Vec::new();
    for (name, addr) in [("c1", "10.0.0.2"), ("c2", "10.0.0.3"), ("c3", "10.0.0.4")] {
        let hook = format!("vethup --bridge nsbr0 {name} $NSRUN_PID");
        let cidr = format!("{addr}/24");
        let mut c = lab.spawn_command(lab.command(&[
            "nsrun",
            "--net",
            "--hook",
            &hook,
            "--",
            "netinit",
            &cidr,
            "--",
            "sh",
            "-c",
            "echo up; exec sleep 1000",
        ]));
        assert_eq!(c.line(), "up", "{name}");
        held.push(c);
    }
    let mut alone = lab.spawn_command(lab.command(&[
        "nsrun",
        "--net",
        "--hook",
        "vethup --addr 10.0.1.1/24 p2p0 $NSRUN_PID",
        "--",
        "netinit",
        "10.0.1.2/24",
        "--",
        "sh",
        "-c",
        "echo up; exec sleep 1000",
    ]));
    assert_eq!(alone.line(), "up");
    let all: Vec<i32> = held.iter().chain([&alone]).map(|c| c.pid()).collect();
    for (i, pid) in all.iter().enumerate() {
        // nsrun's child holds the container's namespace.
        let inner = lab
            .sh_ok(&format!("cat /proc/{pid}/task/{pid}/children"))
            .trim()
            .to_string();
        let inner: i32 = inner.split_whitespace().next().unwrap().parse().unwrap();
        let script = format!(
            "ping -c1 -W2 {gw} >/dev/null && ping -c1 -W2 203.0.113.10 >/dev/null && labsvc ask tcp {SERVICE}",
            gw = if i < 3 { "10.0.0.1" } else { "10.0.1.1" }
        );
        let seen = lab
            .sh_in(inner, &script)
            .expect_ok("a container reaching out")
            .stdout;
        assert_eq!(seen.trim(), UPLINK, "container {i}");
        if i < 3 {
            for peer in ["10.0.0.2", "10.0.0.3", "10.0.0.4"] {
                lab.sh_in(inner, &format!("ping -c1 -W2 {peer}"))
                    .expect_ok("bridge peers");
            }
        }
    }
    for mut c in held.into_iter().chain([alone]) {
        c.signal(nix::sys::signal::Signal::SIGTERM);
        c.wait();
    }
    lab.run(&["natctl", "del", "10.0.0.0/24", "10.0.1.0/24"])
        .expect_ok("natctl del");
    wait_until(|| !lab.sh("ip link show c1").ok(), "the containers to go");
    // The bridge vethup made goes with its last port.
    lab.run(&["vethdown", "--all"]).expect_ok("vethdown --all");
    lab.assert_settles(&before);
}

fn wait_until(mut done: impl FnMut() -> bool, what: &str) {
    let start = Instant::now();
    while !done() {
        assert!(
            start.elapsed() < Duration::from_secs(10),
            "waited 10s for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn the_demo_tells_the_core_scenario_and_leaves_nothing() {
    let lab = lab!();
    lab.forward_ipv4();
    let before = lab.snapshot();
    let demo = concat!(env!("CARGO_MANIFEST_DIR"), "/../lab/demo.sh");
    let out = lab.run(&["bash", demo]).expect_ok("the demo");
    assert!(
        !out.stdout.contains('\u{1b}'),
        "the demo styled text that is not going to a terminal:\n{}",
        out.stdout
    );
    for said in [
        "$ natctl add 10.0.0.0/24",
        "10.0.0.0/24 masquerade out=any backend=nft",
        "nameserver 203.0.113.53",
        "64 bytes from 10.0.0.1",
        "64 bytes from 203.0.113.10",
        "64 bytes from example.test (203.0.113.10)",
        UPLINK,
        "Device \"veth0\" does not exist.",
    ] {
        assert!(
            out.stdout.contains(said),
            "the demo did not show {said:?}:\n{}",
            out.stdout
        );
    }
    lab.assert_settles(&before);
}
