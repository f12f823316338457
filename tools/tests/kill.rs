//! Nothing outlives nsrun: each composition of the README, its nsrun
//! SIGKILLed at every step where it waits — while a hook runs, while the
//! child waits at the hand-off, while netinit waits for its interface,
//! while the payload runs. Every process of the composition ends (a hook
//! cut off from its nsrun still runs to its end: it is the setup the user
//! asked for, and vethup and natctl are not to be cut half-way), the
//! payload never starts early, and `vethdown --all` plus `natctl flush`
//! leave the host as it was.

use nix::sys::signal::Signal;
use nsnet_lab::{lab, Lab};
use std::time::{Duration, Instant};

/// Where nsrun is killed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    /// A hook runs, before any of the composition's hooks did its work.
    Hook,
    /// Every hook has done its work; the child waits at the hand-off.
    HandOff,
    /// netinit has started and waits for an interface no hook made.
    NetinitWaits,
    /// The payload runs.
    Payload,
}

const STEPS: [Step; 4] = [Step::Hook, Step::HandOff, Step::NetinitWaits, Step::Payload];

/// A hook that tells the test it runs (on nsrun's stdout) and waits until
/// the test opens the gate.
const GATE: &str = "echo hooking > /proc/$PPID/fd/1; read go < /run/gate";

/// The payload: says it runs, leaves a mark, and stays.
const PAYLOAD: &str = "touch /run/payload-ran; echo running; exec sleep 1000";

/// One composition of the README: nsrun's options and hooks, and
/// netinit's options and CIDR.
struct Composition {
    nsrun: &'static [&'static str],
    netinit: &'static [&'static str],
}

/// The lab PIDs of `pid` and all its descendants, as they are now.
fn tree(lab: &Lab, pid: i32) -> Vec<i32> {
    let mut all = vec![pid];
    let mut i = 0;
    while i < all.len() {
        let p = all[i];
        let children = std::fs::read_to_string(lab.proc(p).join(format!("task/{p}/children")))
            .unwrap_or_default();
        all.extend(
            children
                .split_whitespace()
                .filter_map(|w| w.parse::<i32>().ok()),
        );
        i += 1;
    }
    all
}

/// The state field of the lab's process `pid` and its name.
fn state(lab: &Lab, pid: i32) -> (String, String) {
    let stat = std::fs::read_to_string(lab.proc(pid).join("stat")).unwrap_or_default();
    let name = stat
        .split_once('(')
        .and_then(|(_, rest)| rest.rsplit_once(')'))
        .map(|(name, _)| name.to_string())
        .unwrap_or_default();
    let state = stat
        .rsplit_once(')')
        .and_then(|(_, rest)| rest.split_whitespace().next().map(str::to_string))
        .unwrap_or_default();
    (name, state)
}

fn run_and_kill(lab: &Lab, composition: &Composition, step: Step) {
    let mut argv: Vec<&str> = vec!["nsrun", "--pid-file", "/run/c.pid"];
    if step == Step::Hook {
        argv.extend(["--hook", GATE]);
    }
    argv.extend(composition.nsrun);
    if step == Step::HandOff {
        argv.extend(["--hook", GATE]);
    }
    argv.extend(["--", "netinit"]);
    if step == Step::NetinitWaits {
        argv.extend(["--iface", "wait0", "--wait", "1000"]);
    }
    argv.extend(composition.netinit);
    argv.extend(["--", "sh", "-c", PAYLOAD]);
    let what = format!("{step:?}: {argv:?}");

    lab.sh_ok("rm -f /run/gate /run/payload-ran && mkfifo /run/gate");
    let mut nsrun = lab.spawn_command(lab.command(&argv));
    match step {
        Step::Hook | Step::HandOff => assert_eq!(nsrun.line(), "hooking", "{what}"),
        Step::Payload => assert_eq!(nsrun.line(), "running", "{what}"),
        Step::NetinitWaits => {
            // netinit blocks on the kernel's link notifications: asleep, it
            // waits. A guard against hanging, not a measure of time.
            let start = Instant::now();
            loop {
                let child = lab.sh("cat /run/c.pid").stdout.trim().parse::<i32>();
                if let Ok(child) = child {
                    if state(lab, child) == ("netinit".into(), "S".into()) {
                        break;
                    }
                }
                assert!(
                    start.elapsed() < Duration::from_secs(60),
                    "{what}: netinit never waited"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
    }
    let processes = tree(lab, nsrun.pid());
    assert!(processes.len() >= 2, "{what}: {processes:?}");

    nsrun.signal(Signal::SIGKILL);
    nsrun.wait();
    if matches!(step, Step::Hook | Step::HandOff) {
        // The hook cut off from nsrun ends once its gate opens (the guard
        // only keeps a hook that died already from hanging the test).
        lab.sh_ok("timeout 120 sh -c 'echo go > /run/gate'");
    }
    for pid in processes {
        lab.wait_exit(pid);
    }
    assert_eq!(
        lab.sh("test -e /run/payload-ran").ok(),
        step == Step::Payload,
        "{what}: the payload ran, or did not, when it should (not)"
    );
    lab.run(&["vethdown", "--all"]).expect_ok("vethdown --all");
    lab.run(&["natctl", "flush"]).expect_ok("natctl flush");
    lab.sh_ok("rm -f /run/gate /run/payload-ran /run/c.pid");
}

/// Every step, one after the other in one lab, each ending where it began.
fn killed_at_every_step(composition: Composition) {
    let lab = lab!();
    lab.forward_ipv4();
    // The README's first example adds the NAT before nsrun runs.
    let before = lab.snapshot();
    for step in STEPS {
        lab.sh_ok("natctl add 10.0.0.0/24");
        run_and_kill(&lab, &composition, step);
        lab.assert_settles(&before);
    }
}

#[test]
fn vethup_hook_and_netinit_with_dns() {
    killed_at_every_step(Composition {
        nsrun: &["--net", "--mount", "--hook", "vethup veth0 $NSRUN_PID"],
        netinit: &["--dns", "203.0.113.53", "10.0.0.2/24"],
    });
}

#[test]
fn natctl_hooks_and_on_exit() {
    killed_at_every_step(Composition {
        nsrun: &[
            "--net",
            "--mount",
            "--hook",
            "natctl add 10.0.1.0/24",
            "--hook",
            "vethup --addr 10.0.1.1/24 veth0 $NSRUN_PID",
            "--on-exit",
            "natctl del --if-exists 10.0.1.0/24",
        ],
        netinit: &["10.0.1.2/24"],
    });
}

#[test]
fn vethup_bridge() {
    killed_at_every_step(Composition {
        nsrun: &["--net", "--hook", "vethup --bridge nsbr0 c1 $NSRUN_PID"],
        netinit: &["10.0.0.2/24"],
    });
}

#[test]
fn pid_namespace_with_its_own_proc() {
    killed_at_every_step(Composition {
        nsrun: &[
            "--net",
            "--mount",
            "--pid",
            "--mount-proc",
            "--hook",
            "vethup veth0 $NSRUN_PID",
        ],
        netinit: &["10.0.0.2/24"],
    });
}

#[test]
fn netinit_as_init_without_a_pid_namespace() {
    killed_at_every_step(Composition {
        nsrun: &["--net", "--mount", "--hook", "vethup veth0 $NSRUN_PID"],
        netinit: &["--init", "10.0.0.2/24"],
    });
}

#[test]
fn netinit_as_init_of_a_pid_namespace() {
    killed_at_every_step(Composition {
        nsrun: &[
            "--net",
            "--pid",
            "--mount-proc",
            "--hook",
            "vethup veth0 $NSRUN_PID",
        ],
        netinit: &["--init", "10.0.0.2/24"],
    });
}
