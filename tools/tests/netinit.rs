//! netinit in the lab: the container is a process made by `unshare` inside
//! the lab's host; its veth is made with plain `ip` once its namespace
//! exists, so netinit always starts before its interface does.

use nix::sys::signal::Signal;
use nsnet_lab::{lab, Bg, Lab, DNS};
use std::time::{Duration, Instant};

/// Polls `ready` until it holds; a guard against hanging, not a timing
/// assertion: the deadline is far beyond anything expected.
fn eventually(what: &str, mut ready: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while !ready() {
        assert!(Instant::now() < deadline, "gave up waiting: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// A namespace of the lab's process `pid` (`self`: the test's own).
fn ns(lab: &Lab, pid: Option<i32>, kind: &str) -> String {
    let dir = pid.map_or_else(|| "/proc/self".into(), |pid| lab.proc(pid));
    std::fs::read_link(dir.join(format!("ns/{kind}")))
        .map(|p| p.display().to_string())
        .unwrap_or_default()
}

fn comm(lab: &Lab, pid: i32) -> String {
    std::fs::read_to_string(lab.proc(pid).join("comm"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The fields of /proc/PID/stat after the command name: [0] is the state,
/// [11] and [12] user and system CPU time in clock ticks.
fn stat(lab: &Lab, pid: i32) -> Vec<String> {
    let text = std::fs::read_to_string(lab.proc(pid).join("stat")).expect("reading stat");
    let after = text.rsplit_once(')').expect("a stat line").1;
    after.split_whitespace().map(str::to_string).collect()
}

fn cpu_ticks(lab: &Lab, pid: i32) -> u64 {
    let s = stat(lab, pid);
    s[11].parse::<u64>().unwrap() + s[12].parse::<u64>().unwrap()
}

/// The PID of netinit: the process itself once `unshare` has exec'd it, or
/// (with `--fork`) its child.
fn netinit_pid(lab: &Lab, pid: i32) -> Option<i32> {
    if comm(lab, pid) == "netinit" {
        return Some(pid);
    }
    let children = std::fs::read_to_string(lab.proc(pid).join(format!("task/{pid}/children")))
        .unwrap_or_default();
    let child = children.split_whitespace().next()?.parse().ok()?;
    (comm(lab, child) == "netinit").then_some(child)
}

/// Waits until netinit runs in `bg` and returns its PID. Only then is its
/// network namespace certainly the new one: before, the process may still
/// be nsenter on its way from the test's namespace into the lab, and a veth
/// made "into" it would land outside the lab.
fn started(lab: &Lab, bg: &Bg) -> i32 {
    let mut netinit = 0;
    eventually("netinit to start", || {
        netinit = netinit_pid(lab, bg.pid()).unwrap_or(0);
        netinit != 0
    });
    let net = ns(lab, Some(netinit), "net");
    assert_ne!(
        net,
        ns(lab, Some(lab.host_pid()), "net"),
        "netinit is in the lab's host"
    );
    assert_ne!(net, ns(lab, None, "net"), "netinit is outside the lab");
    netinit
}

/// Starts `unshare UNSHARE... netinit NETINIT... -- CMD...` in the lab's
/// host, stderr merged into stdout; returns it once netinit runs in its new
/// network namespace, with netinit's PID.
fn container(lab: &Lab, unshare: &[&str], netinit: &[&str], cmd: &[&str]) -> (Bg, i32) {
    let mut argv = vec!["sh", "-c", "exec \"$@\" 2>&1", "sh", "unshare"];
    argv.extend(unshare);
    argv.push("netinit");
    argv.extend(netinit);
    argv.push("--");
    argv.extend(cmd);
    let bg = lab.spawn_command(lab.command(&argv));
    let pid = started(lab, &bg);
    (bg, pid)
}

/// The veth of the seed tutorial: host end veth0 with 10.0.0.1/24 (and
/// fd00:10::1/64), peer `peer` inside the namespace of `pid`. The peer is
/// made under a passing name and renamed once the host end is up, so the
/// container's first packet finds the host ready (vethup's batch has the
/// same effect for a netinit started after it).
fn veth(lab: &Lab, pid: i32, peer: &str) {
    lab.sh_ok(&format!(
        "ip link add veth0 type veth peer name nsnet-tmp0 netns {pid} && \
         ip addr add 10.0.0.1/24 dev veth0 && \
         ip -6 addr add fd00:10::1/64 dev veth0 nodad && \
         ip link set veth0 up"
    ));
    lab.sh_in(pid, &format!("ip link set dev nsnet-tmp0 name {peer}"))
        .expect_ok("naming the container's interface");
}

/// Waits for the container to end: its exit code and everything it printed.
fn finish(mut bg: Bg) -> (i32, String) {
    use std::os::unix::process::ExitStatusExt;
    let out = bg.rest();
    let status = bg.wait();
    let code = status
        .code()
        .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    (code, out)
}

/// After the container is gone, its namespace is cleaned up in the
/// background; the host end of the pair goes with it.
fn veth_gone(lab: &Lab) {
    eventually("veth0 to vanish with the container", || {
        !lab.sh("ip link show veth0").ok()
    });
}

fn lines(out: &str) -> Vec<&str> {
    out.lines().collect()
}

const PRIVATE_MOUNTS: [&str; 4] = ["--net", "--mount", "--propagation", "private"];

#[test]
fn seed_tutorial_configures_everything_and_execs_in_place() {
    let lab = lab!();
    let before = lab.snapshot();
    let script = "echo pid=$$; \
        ip -br addr show dev lo; ip -br -4 addr show dev eth0; ip route show default; \
        ping -c1 -W2 10.0.0.1 >/dev/null && echo ping-host=ok; \
        ping -c1 -W2 127.0.0.1 >/dev/null && echo ping-lo=ok; \
        grep -E '^Sig(Ign|Blk)' /proc/self/status";
    let signals = lab.sh_ok("grep -E '^Sig(Ign|Blk)' /proc/self/status");
    let (bg, pid) = container(&lab, &["--net"], &["10.0.0.2/24"], &["sh", "-c", script]);
    veth(&lab, pid, "eth0");
    let (code, out) = finish(bg);
    assert_eq!(code, 0, "{out}");
    let l = lines(&out);
    assert_eq!(l[0], format!("pid={pid}"), "exec keeps netinit's PID");
    let lo: Vec<&str> = l[1].split_whitespace().collect();
    assert_eq!(lo[..3], ["lo", "UNKNOWN", "127.0.0.1/8"], "lo is up");
    let eth0: Vec<&str> = l[2].split_whitespace().collect();
    assert!(eth0[0].starts_with("eth0@"), "{out}");
    assert_eq!(eth0[1..], ["UP", "10.0.0.2/24"], "{out}");
    assert_eq!(l[3].trim(), "default via 10.0.0.1 dev eth0");
    assert_eq!(l[4], "ping-host=ok");
    assert_eq!(l[5], "ping-lo=ok");
    // Signals blocked or ignored as without netinit (Rust ignores SIGPIPE).
    assert_eq!(l[6..8].join("\n") + "\n", signals);
    assert_eq!(l.len(), 8, "{out}");
    veth_gone(&lab);
    lab.assert_unchanged(&before);
}

#[test]
fn argv_and_environment_reach_the_command_untouched() {
    let lab = lab!();
    let py = "import os, sys\n\
              for a in sys.argv[1:]: print('[' + a + ']')\n\
              print('--')\n\
              for k in sorted(os.environ): print(k + '=' + os.environ[k])";
    let args = ["", "-x", "--dns", "--", "a b", "--help"];
    // Not a `python3` found on PATH: that may be a wrapper that changes
    // the environment itself.
    let mut cmd = vec!["/usr/bin/python3", "-c", py];
    cmd.extend(args);
    // No shell in between: a shell would set PWD itself.
    let mut argv = vec!["unshare", "--net", "netinit", "10.0.0.2/24", "--"];
    argv.extend(&cmd);
    let mut command = lab.command(&argv);
    command.env("NSNET_TEST_WORDS", " spaced  -- out ");
    command.env("NSNET_TEST_EMPTY", "");
    let mut expected: Vec<String> = args.iter().map(|a| format!("[{a}]")).collect();
    expected.push("--".into());
    // The environment the command line above hands netinit: ours, plus
    // what lab.command and this test set.
    let mut env: std::collections::BTreeMap<String, String> = std::env::vars().collect();
    for (k, v) in command.get_envs() {
        let k = k.to_str().unwrap().to_string();
        match v {
            Some(v) => env.insert(k, v.to_str().unwrap().to_string()),
            None => env.remove(&k),
        };
    }
    expected.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    let bg = lab.spawn_command(command);
    let pid = started(&lab, &bg);
    veth(&lab, pid, "eth0");
    let (code, out) = finish(bg);
    assert_eq!(code, 0, "{out}");
    assert_eq!(lines(&out), expected);
}

#[test]
fn several_addresses_with_ipv6_usable_at_once_and_every_option() {
    let lab = lab!();
    let before = lab.snapshot();
    // bind() to the IPv6 address is the command's very first action: with
    // duplicate-address detection it would still be tentative and fail.
    let checks = "ip -br addr show dev c0; ip -o link show dev c0; \
        ip route show default; ip -6 route show default; \
        ping -6 -c1 -W2 fd00:10::1 >/dev/null && echo ping6=ok; \
        ping -c1 -W2 10.0.0.1 >/dev/null && echo ping=ok";
    let py = format!(
        "import os, socket\n\
         s = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)\n\
         s.bind(('fd00:10::2', 0))\n\
         print('bound', flush=True)\n\
         os.execvp('sh', ['sh', '-c', {checks:?}])"
    );
    let (bg, pid) = container(
        &lab,
        &["--net"],
        &[
            "--iface",
            "c0",
            "--mtu",
            "1400",
            "--gateway",
            "10.0.0.1",
            "10.0.0.2/24",
            "fd00:10::2/64",
            "10.1.0.2/16",
        ],
        &["/usr/bin/python3", "-c", &py],
    );
    veth(&lab, pid, "c0");
    let (code, out) = finish(bg);
    assert_eq!(code, 0, "{out}");
    let l = lines(&out);
    assert_eq!(l[0], "bound");
    let addrs: Vec<&str> = l[1].split_whitespace().collect();
    assert!(addrs[0].starts_with("c0@"), "{out}");
    assert_eq!(addrs[1], "UP");
    assert_eq!(addrs[2..5], ["10.0.0.2/24", "10.1.0.2/16", "fd00:10::2/64"]);
    assert!(l[2].contains(" mtu 1400 "), "{out}");
    assert_eq!(l[3].trim(), "default via 10.0.0.1 dev c0");
    assert!(
        l[4].starts_with("default via fd00:10::1 dev c0"),
        "IPv6 gets its own default route: {out}"
    );
    assert_eq!(l[5..], ["ping6=ok", "ping=ok"]);
    veth_gone(&lab);
    lab.assert_unchanged(&before);
}

#[test]
fn gateway_and_no_gateway_choose_the_default_routes() {
    let lab = lab!();
    let cmd = [
        "sh",
        "-c",
        "ip route show default; echo --; ip -6 route show default; echo --; ip route",
    ];
    let (bg, pid) = container(
        &lab,
        &["--net"],
        &["--gateway", "10.0.0.254", "10.0.0.2/24", "fd00:10::2/64"],
        &cmd,
    );
    veth(&lab, pid, "eth0");
    let (code, out) = finish(bg);
    assert_eq!(code, 0, "{out}");
    let parts: Vec<&str> = out.split("--\n").collect();
    assert_eq!(parts[0].trim(), "default via 10.0.0.254 dev eth0");
    assert!(
        parts[1].starts_with("default via fd00:10::1 dev eth0"),
        "{out}"
    );
    veth_gone(&lab);

    let (bg, pid) = container(
        &lab,
        &["--net"],
        &["--no-gateway", "10.0.0.2/24", "fd00:10::2/64"],
        &cmd,
    );
    veth(&lab, pid, "eth0");
    let (code, out) = finish(bg);
    assert_eq!(code, 0, "{out}");
    let parts: Vec<&str> = out.split("--\n").collect();
    assert_eq!(parts[0], "", "no IPv4 default route: {out}");
    assert_eq!(parts[1], "", "no IPv6 default route: {out}");
    assert_eq!(
        parts[2].trim(),
        "10.0.0.0/24 dev eth0 proto kernel scope link src 10.0.0.2",
        "the subnet stays reachable"
    );
}

#[test]
fn wait_sleeps_until_the_interface_arrives() {
    let lab = lab!();
    let (bg, pid) = container(
        &lab,
        &["--net"],
        &["--wait", "30", "10.0.0.2/24"],
        &["sh", "-c", "ip -br -4 addr show dev eth0"],
    );
    eventually("netinit to wait", || {
        comm(&lab, pid) == "netinit" && stat(&lab, pid)[0] == "S"
    });
    std::thread::sleep(Duration::from_millis(300));
    let waited = cpu_ticks(&lab, pid);
    veth(&lab, pid, "eth0");
    let (code, out) = finish(bg);
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("10.0.0.2/24"), "{out}");
    // A spinning wait would have used about 30 ticks (10 ms each).
    assert!(
        waited <= 5,
        "netinit used {waited} ticks of CPU while waiting"
    );
}

#[test]
fn no_interface_fails_after_the_wait_without_burning_cpu() {
    let lab = lab!();
    // The shell's `times` adds up the CPU time of the children it reaped:
    // netinit's, counted after it ended, whoever reaps it.
    let out = lab.sh(
        "unshare --net netinit --wait 2 10.0.0.2/24 -- sh -c 'echo command-ran' 2>&1; \
         echo status=$?; times",
    );
    let l = lines(&out.stdout);
    assert_eq!(
        l[..2],
        [
            "netinit: eth0 did not appear within 2s (did a vethup hook run for this namespace?)",
            "status=125"
        ],
        "{out:?}"
    );
    // `0m0.010s 0m0.020s`: user and system time of the children.
    let seconds: f64 = l[3]
        .split_whitespace()
        .map(|t| {
            let (m, s) = t.trim_end_matches('s').split_once('m').unwrap();
            m.parse::<f64>().unwrap() * 60.0 + s.parse::<f64>().unwrap()
        })
        .sum();
    // Two seconds of spinning would be about two seconds of CPU.
    assert!(
        seconds <= 0.1,
        "netinit used {seconds}s of CPU in a 2 s wait"
    );
}

/// Routes the container subnet between the lab's internet and the host, so
/// the lab DNS server can answer 10.0.0.2 without NAT.
fn route_container_subnet(lab: &Lab) {
    lab.sh_ok("sysctl -qw net.ipv4.ip_forward=1");
    lab.internet_sh("ip route add 10.0.0.0/24 via 198.51.100.2")
        .expect_ok("a route back to the container subnet");
}

fn dns_case(unshare: &[&str]) {
    let lab = lab!();
    route_container_subnet(&lab);
    let real = std::fs::read("/etc/resolv.conf").expect("the real resolv.conf");
    let host_view = lab.sh_ok("cat /etc/resolv.conf");
    let before = lab.snapshot();
    let (bg, pid) = container(
        &lab,
        unshare,
        &[
            "--dns",
            DNS,
            "--search",
            "lab.test",
            "--search",
            "example.test",
            "10.0.0.2/24",
        ],
        &[
            "sh",
            "-c",
            "cat /etc/resolv.conf; echo --; getent hosts example.test",
        ],
    );
    veth(&lab, pid, "eth0");
    let (code, out) = finish(bg);
    assert_eq!(code, 0, "{out}");
    let (conf, resolved) = out.split_once("--\n").expect("two parts");
    assert_eq!(
        conf,
        format!("nameserver {DNS}\nsearch lab.test example.test\n")
    );
    assert_eq!(
        resolved.split_whitespace().collect::<Vec<_>>(),
        ["203.0.113.10", "example.test"]
    );
    assert_eq!(lab.sh_ok("cat /etc/resolv.conf"), host_view);
    assert_eq!(std::fs::read("/etc/resolv.conf").unwrap(), real);
    veth_gone(&lab);
    // The mounts section shows that nothing was mounted in host.
    lab.assert_unchanged(&before);
}

#[test]
fn dns_inside_a_private_mount_namespace_given_by_the_caller() {
    dns_case(&PRIVATE_MOUNTS);
}

#[test]
fn dns_when_the_caller_shares_the_hosts_mount_namespace() {
    dns_case(&["--net"]);
}

/// Starts `unshare --pid --fork --net --mount-proc netinit --init …` and
/// returns it with the host PID of netinit (unshare's child, PID 1 inside).
fn init_container(lab: &Lab, cmd: &[&str]) -> (Bg, i32) {
    let (bg, netinit) = container(
        lab,
        &["--pid", "--fork", "--net", "--mount-proc"],
        &["--init", "10.0.0.2/24"],
        cmd,
    );
    assert_ne!(netinit, bg.pid(), "netinit is unshare's child");
    veth(lab, netinit, "eth0");
    (bg, netinit)
}

#[test]
fn init_stays_pid_1_and_reaps_every_orphan() {
    let lab = lab!();
    let before = lab.snapshot();
    // 100 background jobs whose parents exit at once: orphans, re-parented
    // to PID 1. Then wait until none is left alive, and count zombies.
    let script = r#"
        echo "pid=$$ ppid=$PPID init=$(cat /proc/1/comm)"
        grep '^SigBlk' /proc/self/status
        i=0
        while [ $i -lt 100 ]; do (sleep 0.01 &); i=$((i+1)); done
        count() { cat /proc/[0-9]*/status 2>/dev/null | awk "$1"; }
        n=0
        while [ $n -lt 500 ]; do
            sleepers=$(count '/^Name:/ { n = $2 } /^State:/ { if (n == "sleep" && $2 != "Z") c++ } END { print c + 0 }')
            zombies=$(count '/^State:/ { if ($2 == "Z") z++ } END { print z + 0 }')
            [ "$sleepers" -eq 0 ] && [ "$zombies" -eq 0 ] && break
            sleep 0.02; n=$((n+1))
        done
        echo "sleepers=$sleepers zombies=$zombies"
        exit 7
    "#;
    // grep's own mask is the one it inherits from the shell; the shell's
    // (/proc/$$) would race with dash blocking everything around vfork.
    let blocked = lab.sh_ok("grep '^SigBlk' /proc/self/status");
    let (bg, _) = init_container(&lab, &["sh", "-c", script]);
    let (code, out) = finish(bg);
    assert_eq!(code, 7, "the payload's status: {out}");
    let l = lines(&out);
    assert!(l[0].ends_with(" ppid=1 init=netinit"), "{out}");
    assert_eq!(l[1], blocked.trim_end(), "netinit's blocked signals leaked");
    assert_eq!(l[2], "sleepers=0 zombies=0", "{out}");
    veth_gone(&lab);
    lab.assert_unchanged(&before);
}

#[test]
fn init_outside_a_pid_namespace_adopts_orphans_as_subreaper() {
    let lab = lab!();
    // A grandchild G, whose parent (the middle sh, $1 to G) exits at once,
    // waits until it has a new parent and reports it. The command
    // substitution reads until G is done with stdout.
    let script = r#"
        G='now() { cut -d" " -f4 /proc/$$/stat; }
           while [ "$(now)" = "$1" ]; do sleep 0.01; done; now'
        export G
        parent=$(sh -c 'sh -c "$G" sh $$ &')
        echo "netinit=$PPID orphan-parent=$parent"
    "#;
    let (bg, netinit) = container(
        &lab,
        &["--net"],
        &["--init", "10.0.0.2/24"],
        &["sh", "-c", script],
    );
    veth(&lab, netinit, "eth0");
    let (code, out) = finish(bg);
    assert_eq!(code, 0, "{out}");
    assert_eq!(out, format!("netinit={netinit} orphan-parent={netinit}\n"));
}

#[test]
fn init_forwards_signals_and_exits_with_the_payloads_status() {
    let lab = lab!();
    for (signal, code) in [
        (Signal::SIGTERM, 143),
        (Signal::SIGINT, 130),
        (Signal::SIGHUP, 129),
    ] {
        let (mut bg, netinit) = init_container(&lab, &["sh", "-c", "echo ready; exec sleep 60"]);
        assert_eq!(bg.line(), "ready");
        lab.kill(netinit, signal);
        let (status, out) = finish(bg);
        assert_eq!(status, code, "{signal}: {out}");
        assert_eq!(out, "", "{signal}");
        veth_gone(&lab);
    }
    // A payload that handles the signal decides the status itself.
    let script = "trap 'echo got-TERM; exit 3' TERM; echo ready; \
                  while :; do sleep 0.05; done";
    let (mut bg, netinit) = init_container(&lab, &["sh", "-c", script]);
    assert_eq!(bg.line(), "ready");
    lab.kill(netinit, Signal::SIGTERM);
    let (status, out) = finish(bg);
    assert_eq!((status, out.as_str()), (3, "got-TERM\n"));
}

/// Runs netinit in a fresh namespace that already has eth0 (and whatever
/// `setup` adds), then shows that namespace: netinit's stdout and stderr,
/// its status, and the links and routes it left.
fn refused(lab: &Lab, setup: &str, args: &[&str]) -> (i32, String, String, String) {
    let script = format!(
        "ip link add eth0 type veth peer name p0 && {setup} \"$@\"; \
         echo status=$?; echo ==; ip -br link; ip -br addr; ip route; ip -6 route"
    );
    let mut argv = vec!["unshare", "--net", "sh", "-c", &script, "sh", "netinit"];
    argv.extend(args);
    let out = lab.run(&argv);
    let (before, state) = out.stdout.split_once("==\n").expect("the state");
    let (ran, status) = before.rsplit_once("status=").expect("a status");
    (
        status.trim().parse().unwrap(),
        ran.to_string(),
        out.stderr,
        state.to_string(),
    )
}

/// Nothing changed: every link down (loopback too), no address, no route.
fn untouched(state: &str) -> bool {
    state.lines().all(|l| {
        let w: Vec<&str> = l.split_whitespace().collect();
        w.get(1) == Some(&"DOWN") && !w.iter().any(|a| a.contains('/'))
    })
}

#[test]
fn bad_input_is_refused_before_anything_is_done() {
    let lab = lab!();
    lab.sh_ok("printf 'echo command-ran\\n' > /run/plain && chmod 644 /run/plain");
    let cases: &[(&[&str], i32, &str)] = &[
        (
            &["10.0.0.300/24", "--", "echo", "command-ran"],
            125,
            "invalid address '10.0.0.300/24'",
        ),
        (
            &["10.0.0.0/24", "--", "echo", "command-ran"],
            125,
            "10.0.0.0 is the network address of 10.0.0.0/24, not a host",
        ),
        (
            &["10.0.0.255/24", "--", "echo", "command-ran"],
            125,
            "10.0.0.255 is the broadcast address of 10.0.0.0/24, not a host",
        ),
        (
            &["--gateway", "192.168.1.1", "10.0.0.2/24", "--", "echo", "command-ran"],
            125,
            "netinit: invalid gateway 192.168.1.1: outside every subnet of the container (10.0.0.0/24)",
        ),
        (
            &["--gateway", "10.0.0.2", "10.0.0.2/24", "--", "echo", "command-ran"],
            125,
            "netinit: invalid gateway 10.0.0.2: it is the container's own address",
        ),
        (
            &["10.0.0.2/24", "echo", "command-ran"],
            125,
            "netinit: missing '--' before the command",
        ),
        (
            &["10.0.0.2/24", "--"],
            125,
            "netinit: no command given after '--'",
        ),
        (
            &["10.0.0.2/24", "--", "nsnet-no-such-command"],
            127,
            "netinit: cannot run nsnet-no-such-command: command not found",
        ),
        (
            &["10.0.0.2/24", "--", "/run/plain"],
            126,
            "netinit: cannot run /run/plain: permission denied",
        ),
    ];
    for (args, code, says) in cases {
        let (status, ran, stderr, state) = refused(&lab, "", args);
        assert_eq!(status, *code, "{args:?}: {stderr}");
        assert_eq!(stderr.lines().count(), 1, "{args:?}: one line: {stderr}");
        assert!(stderr.starts_with("netinit: "), "{stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
        assert_eq!(ran, "", "{args:?}: the command must not start");
        assert!(untouched(&state), "{args:?} configured something:\n{state}");
    }
}

#[test]
fn a_step_the_kernel_refuses_is_rolled_back() {
    let lab = lab!();
    // A default route exists already: adding netinit's fails, after the
    // address was added and eth0 brought up.
    let setup = "ip link set p0 up && ip addr add 10.9.0.2/24 dev p0 && \
                 ip route add default via 10.9.0.1 &&";
    let (status, ran, stderr, state) =
        refused(&lab, setup, &["10.0.0.2/24", "--", "echo", "command-ran"]);
    assert_eq!(status, 125, "{stderr}");
    assert_eq!(
        stderr,
        "netinit: cannot add the default route via 10.0.0.1 on eth0: already exists\n"
    );
    assert_eq!(ran, "");
    assert!(!state.contains("10.0.0.2"), "the address stayed:\n{state}");
    let eth0 = state
        .lines()
        .find(|l| l.starts_with("eth0@"))
        .expect("eth0");
    assert!(eth0.contains(" DOWN "), "eth0 stayed up:\n{state}");
}
