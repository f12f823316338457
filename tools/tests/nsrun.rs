//! nsrun against real namespaces and real processes, in the lab: every
//! namespace flag, the hand-off, hooks and on-exit hooks, signals (also
//! from a terminal), exit statuses, I/O, descriptors, bad input.

use nix::sys::signal::Signal;
use nix::unistd::Pid;
use nsnet_lab::{lab, Lab, Out};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::process::Stdio;
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

/// How long a test waits for something that must happen before it calls
/// the run hung. Not a measure of speed: only a guard against hanging.
const HANG: Duration = Duration::from_secs(120);

fn nsrun(lab: &Lab, args: &[&str]) -> Out {
    lab.run(&argv(args))
}

fn argv<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = vec!["nsrun"];
    v.extend_from_slice(args);
    v
}

/// The single line nsrun printed on stderr (it must be exactly one).
fn one_line(out: &Out) -> &str {
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(lines.len(), 1, "want one line on stderr: {out:?}");
    assert!(lines[0].starts_with("nsrun: "), "{out:?}");
    lines[0]
}

fn read_file(lab: &Lab, path: &str) -> String {
    lab.sh_ok(&format!("cat {path}"))
}

fn exists(lab: &Lab, path: &str) -> bool {
    lab.sh(&format!("test -e {path}")).ok()
}

/// Runs `f` on a thread; panics if it has not finished after [`HANG`].
fn guarded<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(HANG)
        .unwrap_or_else(|_| panic!("{what}: still waiting after {HANG:?}"))
}

const NAMESPACES: [&str; 7] = ["net", "mnt", "uts", "ipc", "pid", "cgroup", "user"];

/// The namespace links of a process started the way nsrun's command is.
fn namespace_links(lab: &Lab, prefix: &[&str]) -> Vec<String> {
    let script = NAMESPACES
        .iter()
        .map(|ns| format!("readlink /proc/self/ns/{ns}"))
        .collect::<Vec<_>>()
        .join("; ");
    let mut args: Vec<&str> = prefix.to_vec();
    args.extend(["sh", "-c", &script]);
    let out = lab.run(&args).expect_ok(&format!("{prefix:?}"));
    out.stdout.lines().map(str::to_string).collect()
}

#[test]
fn each_flag_makes_exactly_its_namespaces() {
    let lab = lab!();
    let host = namespace_links(&lab, &[]);
    let cases: [(&[&str], &[&str]); 10] = [
        (&["--net"], &["net"]),
        (&["--mount"], &["mnt"]),
        (&["--uts"], &["uts"]),
        (&["--ipc"], &["ipc"]),
        (&["--pid"], &["pid"]),
        (&["--cgroup"], &["cgroup"]),
        (&["--user"], &["user"]),
        (&["--hostname", "box"], &["uts"]),
        (&["--pid", "--mount-proc"], &["pid", "mnt"]),
        (
            &["--net", "--mount", "--uts", "--ipc", "--pid", "--cgroup"],
            &["net", "mnt", "uts", "ipc", "pid", "cgroup"],
        ),
    ];
    for (flags, new) in cases {
        let mut prefix = vec!["nsrun"];
        prefix.extend_from_slice(flags);
        prefix.push("--");
        let inside = namespace_links(&lab, &prefix);
        for (i, ns) in NAMESPACES.iter().enumerate() {
            let fresh = inside[i] != host[i];
            assert_eq!(
                fresh,
                new.contains(ns),
                "nsrun {flags:?}: {ns} is {} (inside {}, host {})",
                if fresh { "new" } else { "shared" },
                inside[i],
                host[i]
            );
        }
    }
}

#[test]
fn net_shows_only_loopback() {
    let lab = lab!();
    let out = nsrun(&lab, &["--net", "--", "ip", "-o", "link"]).expect_ok("nsrun --net");
    let names: Vec<&str> = out
        .stdout
        .lines()
        .map(|l| l.split(':').nth(1).unwrap_or("").trim())
        .collect();
    assert_eq!(names, ["lo"], "{}", out.stdout);
}

#[test]
fn mount_is_private_recursively() {
    let lab = lab!();
    // A shared mount below /: a non-recursive "make / private" would leave
    // it shared, and a mount made under it inside would appear in host.
    lab.sh_ok(
        "mkdir -p /run/shr && mount -t tmpfs shr /run/shr && mount --make-shared /run/shr \
         && mkdir /run/shr/sub",
    );
    let before = lab.snapshot();
    let out = nsrun(
        &lab,
        &[
            "--mount",
            "--",
            "sh",
            "-c",
            "mount -t tmpfs inner /run/shr/sub && grep ' /run/shr' /proc/self/mountinfo",
        ],
    )
    .expect_ok("mounting inside");
    assert_eq!(out.stdout.lines().count(), 2, "{}", out.stdout);
    assert!(
        !out.stdout.contains("shared:"),
        "a mount inside is still shared: {}",
        out.stdout
    );
    lab.assert_unchanged(&before);
    let host = lab.sh_ok("grep ' /run/shr ' /proc/self/mountinfo");
    assert!(host.contains("shared:"), "host's mount was changed: {host}");
    lab.sh_ok("umount /run/shr/sub 2>/dev/null; umount /run/shr");
}

#[test]
fn hostname_and_uts_stay_inside() {
    let lab = lab!();
    // The outer `unshare --uts` keeps the machine's hostname safe even if
    // nsrun failed to make its namespace.
    let out = lab
        .run(&[
            "unshare",
            "--uts",
            "sh",
            "-c",
            "hostname outer; nsrun --hostname box -- hostname; \
             nsrun --uts -- sh -c 'hostname inner; hostname'; hostname",
        ])
        .expect_ok("hostnames");
    assert_eq!(out.stdout, "box\ninner\nouter\n");
}

#[test]
fn ipc_objects_stay_inside() {
    let lab = lab!();
    // The outer `unshare --ipc` keeps the machine's IPC namespace clean
    // even if nsrun failed to make its own.
    let out = lab
        .run(&[
            "unshare",
            "--ipc",
            "sh",
            "-c",
            "nsrun --ipc -- sh -c 'ipcmk -Q >/dev/null && ipcs -q | grep -c ^0x'; \
             ipcs -q | grep -c ^0x",
        ])
        .stdout;
    assert_eq!(out, "1\n0\n", "one queue inside, none outside");
}

#[test]
fn pid_makes_the_command_pid_1_and_mount_proc_shows_only_it() {
    let lab = lab!();
    let before = lab.snapshot();
    let out = nsrun(&lab, &["--pid", "--", "sh", "-c", "echo $$"]).expect_ok("--pid");
    assert_eq!(out.stdout, "1\n");
    let out = nsrun(
        &lab,
        &[
            "--pid",
            "--mount-proc",
            "--",
            "ps",
            "-e",
            "-o",
            "pid=,comm=",
        ],
    )
    .expect_ok("--mount-proc");
    let lines: Vec<String> = out
        .stdout
        .lines()
        .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
        .collect();
    assert_eq!(lines, ["1 ps"], "{}", out.stdout);
    lab.assert_unchanged(&before);
}

#[test]
fn cgroup_root_is_the_commands_cgroup() {
    let lab = lab!();
    let out = nsrun(&lab, &["--cgroup", "--", "cat", "/proc/self/cgroup"]).expect_ok("--cgroup");
    let unified: Vec<&str> = out
        .stdout
        .lines()
        .filter(|l| l.starts_with("0::"))
        .collect();
    assert_eq!(unified, ["0::/"], "{}", out.stdout);
}

const NOBODY: [&str; 6] = [
    "setpriv",
    "--reuid=65534",
    "--regid=65534",
    "--clear-groups",
    "--",
    "nsrun",
];

fn as_nobody(lab: &Lab, args: &[&str]) -> Out {
    let mut v = NOBODY.to_vec();
    v.extend_from_slice(args);
    lab.run(&v)
}

#[test]
fn user_map_root_makes_an_unprivileged_caller_root() {
    let lab = lab!();
    assert_eq!(
        lab.run(&["setpriv", "--reuid=65534", "id", "-u"]).stdout,
        "65534\n"
    );
    let out = as_nobody(
        &lab,
        &["--user", "--map-root", "--", "sh", "-c", "id -u; id -g"],
    );
    assert_eq!(out.expect_ok("--user --map-root").stdout, "0\n0\n");
    // Unmapped, the caller is the overflow user inside.
    let out = as_nobody(&lab, &["--user", "--", "id", "-u"]);
    assert_eq!(out.expect_ok("--user").stdout, "65534\n");
    // Everything at once, as nobody: the user namespace owns the rest.
    let out = as_nobody(
        &lab,
        &[
            "--user",
            "--map-root",
            "--net",
            "--mount",
            "--ipc",
            "--pid",
            "--cgroup",
            "--mount-proc",
            "--hostname",
            "box",
            "--hook",
            "test \"$(id -u)\" = 65534",
            "--",
            "sh",
            "-c",
            "id -u; hostname; echo $$; ip -o link | wc -l; ps -e -o pid=",
        ],
    )
    .expect_ok("everything as nobody");
    let words: Vec<&str> = out.stdout.split_whitespace().collect();
    // ps lists the shell (PID 1) and itself, nothing of the host.
    assert_eq!(words.len(), 6, "{}", out.stdout);
    assert_eq!(words[..5], ["0", "box", "1", "1", "1"], "{}", out.stdout);
}

#[test]
fn unprivileged_without_user_fails_cleanly() {
    let lab = lab!();
    let before = lab.snapshot();
    let out = as_nobody(
        &lab,
        &["--net", "--on-exit", "touch /tmp/nsrun-never", "--", "true"],
    );
    assert_eq!(out.code(), 125);
    assert_eq!(
        one_line(&out),
        "nsrun: cannot create the namespaces: operation not permitted \
         (run as root, or add --user --map-root)"
    );
    lab.assert_unchanged(&before);
}

#[test]
fn a_step_failing_inside_is_125_with_its_name_and_on_exit_runs() {
    let lab = lab!();
    let before = lab.snapshot();
    let out = as_nobody(
        &lab,
        &[
            "--user",
            "--map-root",
            "--mount-proc",
            "--on-exit",
            "echo on-exit ran",
            "--",
            "true",
        ],
    );
    assert_eq!(out.code(), 125, "{out:?}");
    let lines: Vec<&str> = out.stderr.lines().collect();
    assert_eq!(
        lines,
        [
            "on-exit ran",
            "nsrun: cannot mount a fresh /proc: operation not permitted (in a user namespace, \
             /proc can only be mounted for a new PID namespace: add --pid)"
        ]
    );
    lab.assert_unchanged(&before);
}

#[test]
fn a_hook_interface_is_there_before_the_first_instruction_100_times() {
    let lab = lab!();
    let before = lab.snapshot();
    // `ip link show d0` is the command itself: its first look finds d0 or
    // the run fails. The loop counts the runs that saw it.
    let out = lab.sh_ok(
        "n=0; for i in $(seq 100); do \
           nsrun --net --hook 'ip link add d0 netns $NSRUN_PID type ifb' \
             -- ip link show d0 >/dev/null && n=$((n+1)); \
         done; echo $n",
    );
    assert_eq!(out, "100\n");
    lab.assert_unchanged(&before);
}

#[test]
fn hooks_run_in_order_in_nsruns_namespaces_with_the_childs_pid() {
    let lab = lab!();
    let host_net = lab.sh_ok("readlink /proc/self/ns/net");
    for pid_ns in [false, true] {
        lab.sh_ok("rm -f /run/log");
        let mut args = vec!["--net"];
        if pid_ns {
            args.push("--pid");
        }
        args.extend([
            "--hook",
            "echo 1 $NSRUN_PID $NSRUN_NETNS $(readlink /proc/self/ns/net) \
             $(readlink $NSRUN_NETNS) >> /run/log",
            "--hook",
            "echo 2 >> /run/log",
            "--hook",
            "echo 3 >> /run/log",
            "--",
            "sh",
            "-c",
            "echo cmd $(readlink /proc/self/ns/net) >> /run/log",
        ]);
        nsrun(&lab, &args).expect_ok("hooks");
        let log = read_file(&lab, "/run/log");
        let lines: Vec<Vec<&str>> = log.lines().map(|l| l.split(' ').collect()).collect();
        assert_eq!(lines.len(), 4, "{log}");
        let first = &lines[0];
        assert_eq!(first[0], "1", "{log}");
        let pid: i32 = first[1].parse().expect("NSRUN_PID is a number");
        assert!(pid > 1, "{log}");
        assert_eq!(first[2], format!("/proc/{pid}/ns/net"), "{log}");
        assert_eq!(first[3], host_net.trim(), "hooks run in nsrun's netns");
        assert_eq!(lines[1], ["2"]);
        assert_eq!(lines[2], ["3"]);
        assert_eq!(lines[3][0], "cmd");
        assert_eq!(
            first[4], lines[3][1],
            "NSRUN_NETNS is the command's namespace"
        );
        assert_ne!(first[4], host_net.trim());
    }
}

#[test]
fn pid_file_is_there_while_hooks_run_and_goes_on_exit() {
    let lab = lab!();
    let out = nsrun(
        &lab,
        &[
            "--net",
            "--pid-file",
            "/run/c.pid",
            "--hook",
            "test \"$(cat /run/c.pid)\" = \"$NSRUN_PID\" && echo seen >&2",
            "--",
            "cat",
            "/run/c.pid",
        ],
    )
    .expect_ok("--pid-file");
    assert_eq!(out.stderr, "seen\n");
    assert!(out.stdout.trim().parse::<i32>().is_ok(), "{}", out.stdout);
    assert!(!exists(&lab, "/run/c.pid"), "the pid file was left behind");
    for (case, args) in [
        ("a failed hook", &["--hook", "false", "--", "true"][..]),
        ("a failed exec", &["--", "nsrun-no-such-command"][..]),
    ] {
        let mut all = vec!["--net", "--pid-file", "/run/c.pid"];
        all.extend_from_slice(args);
        let out = nsrun(&lab, &all);
        assert!(!out.ok());
        assert!(
            !exists(&lab, "/run/c.pid"),
            "the pid file was left after {case}"
        );
    }
}

/// nsrun with `--pid-file PATH`, a hook and a command that each leave a
/// mark, run on a thread so a pid file that blocked would fail the test
/// instead of hanging it. The command says whether PATH holds its PID.
fn with_pid_file(lab: &Lab, path: &str, more: &[&str]) -> Out {
    let check = format!("test \"$(cat {path})\" = \"$$\" && echo holds-my-pid; touch /run/ran");
    let mut args = vec![
        "nsrun",
        "--net",
        "--pid-file",
        path,
        "--hook",
        "touch /run/hooked",
    ];
    args.extend_from_slice(more);
    args.extend(["--", "sh", "-c", &check]);
    let cmd = lab.command(&args);
    guarded(&format!("nsrun --pid-file {path}"), move || {
        let out = { cmd }.output().expect("running nsrun");
        Out {
            status: out.status,
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    })
}

/// What the pid file tests may not change behind nsrun's back: every name,
/// type, owner, link count, size and link target under the folders they
/// use, and the victim's contents.
const PID_FILE_WORLD: &str =
    "ls -A /run; find /run/shared /run/real -printf '%p %y %U %n %s %l\n'; \
     cat /run/victim";

#[test]
fn a_pid_file_never_goes_through_or_over_what_nsrun_did_not_write() {
    let lab = lab!();
    let before = lab.snapshot();
    lab.sh_ok(
        "mkdir -m 1777 /run/shared && mkdir /run/real && echo precious > /run/victim \
         && ln -s /run/real /run/trusted",
    );
    // A PID no process has: a shell that has exited.
    let dead = lab.sh_ok("sh -c 'echo $$'");
    let dead = dead.trim();
    let refusals = [
        (
            "ln -s /run/victim /run/shared/c.pid",
            "/run/shared/c.pid",
            "a symbolic link is there",
        ),
        (
            "ln -s /dev/null /run/shared/c.pid",
            "/run/shared/c.pid",
            "a symbolic link is there",
        ),
        (
            "ln -s /run/nowhere /run/shared/c.pid",
            "/run/shared/c.pid",
            "a symbolic link is there",
        ),
        (
            "mkfifo /run/shared/c.pid",
            "/run/shared/c.pid",
            "it is a FIFO, not a pid file",
        ),
        (
            "mkdir /run/shared/c.pid",
            "/run/shared/c.pid",
            "it is a directory, not a pid file",
        ),
        (
            "echo precious > /run/shared/c.pid",
            "/run/shared/c.pid",
            "it holds something other than one PID",
        ),
        (
            &format!("echo {dead} > /run/shared/c.pid && chown 65534 /run/shared/c.pid"),
            "/run/shared/c.pid",
            "it is a file of user 65534",
        ),
        (
            &format!("echo {dead} > /run/shared/c.pid && ln /run/shared/c.pid /run/real/other"),
            "/run/shared/c.pid",
            "it has other hard links",
        ),
        // A directory someone else planted as a symlink in a sticky folder.
        (
            "setpriv --reuid=65534 ln -s /run/real /run/shared/evil",
            "/run/shared/evil/c.pid",
            "/run/shared/evil is a symbolic link in a world-writable sticky directory, \
             owned by user 65534",
        ),
        (
            "mkdir /run/ro && mount -t tmpfs -o ro ro /run/ro",
            "/run/ro/c.pid",
            "read-only file system",
        ),
    ];
    for (plant, path, says) in refusals {
        lab.sh_ok(plant);
        let world = lab.sh_ok(PID_FILE_WORLD);
        let out = with_pid_file(&lab, path, &[]);
        assert_eq!(out.code(), 125, "{plant}: {out:?}");
        let line = one_line(&out);
        assert!(
            line.starts_with(&format!("nsrun: cannot write the pid file {path}: "))
                && line.contains(says),
            "{plant}: {line}"
        );
        assert!(
            !exists(&lab, "/run/hooked") && !exists(&lab, "/run/ran"),
            "{plant}: it ran"
        );
        assert_eq!(
            lab.sh_ok(PID_FILE_WORLD),
            world,
            "{plant}: something was written"
        );
        lab.sh_ok(
            "rm -rf /run/shared/* /run/real/*; if [ -d /run/ro ]; then umount /run/ro; rmdir /run/ro; fi",
        );
    }
    // As nobody, a folder of root's cannot take it.
    let out = as_nobody(
        &lab,
        &[
            "--user",
            "--pid-file",
            "/run/real/c.pid",
            "--hook",
            "touch /run/hooked",
            "--",
            "true",
        ],
    );
    assert_eq!(out.code(), 125, "{out:?}");
    assert_eq!(
        one_line(&out),
        "nsrun: cannot write the pid file /run/real/c.pid: permission denied \
         (run as root or with CAP_NET_ADMIN)"
    );

    // A stale pid file of ours is replaced, and links that only their
    // owner could have made are followed.
    for (plant, path) in [
        (
            format!("echo {dead} > /run/shared/c.pid"),
            "/run/shared/c.pid",
        ),
        (
            format!("printf {dead} > /run/real/c.pid"),
            "/run/trusted/c.pid",
        ),
        (
            "ln -s /run/real /run/shared/mine".to_string(),
            "/run/shared/mine/c.pid",
        ),
    ] {
        lab.sh_ok(&plant);
        let out = with_pid_file(&lab, path, &[]).expect_ok(&plant);
        assert_eq!(out.stdout, "holds-my-pid\n", "{plant}");
        assert!(!exists(&lab, path), "{plant}: the pid file was left");
        lab.sh_ok("rm -f /run/hooked /run/ran /run/shared/mine");
        assert_eq!(
            lab.sh_ok("ls -A /run/shared /run/real"),
            "/run/real:\n\n/run/shared:\n"
        );
    }

    // The pid file of a running nsrun is refused, and stays.
    let mut first = lab.spawn(
        "exec nsrun --net --pid-file /run/shared/c.pid -- sh -c 'echo running; exec sleep 1000'",
    );
    assert_eq!(first.line(), "running");
    let held = read_file(&lab, "/run/shared/c.pid");
    let out = with_pid_file(&lab, "/run/shared/c.pid", &[]);
    assert_eq!(out.code(), 125, "{out:?}");
    assert_eq!(
        one_line(&out),
        format!(
            "nsrun: cannot write the pid file /run/shared/c.pid: it holds the PID {} of a \
             running process (is another nsrun using it?)",
            held.trim()
        )
    );
    assert_eq!(read_file(&lab, "/run/shared/c.pid"), held);
    first.signal(Signal::SIGTERM);
    assert_eq!(first.wait().code(), Some(143));
    assert!(
        !exists(&lab, "/run/shared/c.pid"),
        "the first pid file was left"
    );

    // What replaced the pid file meanwhile is not nsrun's to remove.
    let out = with_pid_file(
        &lab,
        "/run/shared/c.pid",
        &[
            "--hook",
            "echo other > /run/shared/new && mv /run/shared/new /run/shared/c.pid",
        ],
    );
    assert_eq!(
        out.stdout, "",
        "the replacement was taken for the pid file: {out:?}"
    );
    assert_eq!(read_file(&lab, "/run/shared/c.pid"), "other\n");

    lab.sh_ok("rm -rf /run/shared /run/real /run/trusted /run/victim /run/hooked /run/ran");
    lab.assert_unchanged(&before);
}

#[test]
fn a_failing_hook_stops_everything_and_cleans_up() {
    let lab = lab!();
    let before = lab.snapshot();
    for (hook, how) in [
        ("exit 3", "failed with exit status 3"),
        ("kill -9 $$", "was killed by SIGKILL"),
    ] {
        lab.sh_ok("rm -f /run/log /run/child");
        let out = nsrun(
            &lab,
            &[
                "--net",
                "--pid",
                "--hook",
                "echo $NSRUN_PID > /run/child",
                "--hook",
                hook,
                "--hook",
                "echo later-hook >> /run/log",
                "--on-exit",
                "echo on-exit >> /run/log",
                "--",
                "sh",
                "-c",
                "echo command >> /run/log",
            ],
        );
        assert_eq!(out.code(), 125, "{out:?}");
        assert_eq!(one_line(&out), format!("nsrun: hook '{hook}' {how}"));
        assert_eq!(read_file(&lab, "/run/log"), "on-exit\n");
        let child = read_file(&lab, "/run/child");
        assert!(
            !lab.proc(child.trim().parse().unwrap()).exists(),
            "the child {} is still there (zombie or orphan)",
            child.trim()
        );
    }
    lab.sh_ok("rm -f /run/log /run/child");
    lab.assert_unchanged(&before);
}

#[test]
fn on_exit_hooks_run_in_every_case() {
    let lab = lab!();
    lab.sh_ok("echo plain > /run/plain && chmod 644 /run/plain");
    let cases: [(&str, &[&str], i32); 6] = [
        ("a normal exit", &["--", "sh", "-c", "exit 0"], 0),
        ("an exit status", &["--", "sh", "-c", "exit 42"], 42),
        ("a death by signal", &["--", "sh", "-c", "kill -9 $$"], 137),
        ("a command not found", &["--", "nsrun-no-such-command"], 127),
        ("a command not executable", &["--", "/run/plain"], 126),
        ("a failed hook", &["--hook", "exit 1", "--", "true"], 125),
    ];
    for (case, args, code) in cases {
        lab.sh_ok("rm -f /run/onexit");
        let mut all = vec![
            "--net",
            "--on-exit",
            "echo first $NSRUN_PID >> /run/onexit",
            "--on-exit",
            "echo second >> /run/onexit",
        ];
        all.extend_from_slice(args);
        let out = nsrun(&lab, &all);
        assert_eq!(out.code(), code, "{case}: {out:?}");
        let log = read_file(&lab, "/run/onexit");
        let lines: Vec<&str> = log.lines().collect();
        assert_eq!(lines.len(), 2, "{case}: {log}");
        assert!(lines[0].starts_with("first "), "{case}: {log}");
        assert_eq!(lines[1], "second", "{case}");
    }
    let out = nsrun(&lab, &["--net", "--", "nsrun-no-such-command"]);
    assert_eq!(
        one_line(&out),
        "nsrun: cannot run nsrun-no-such-command: command not found"
    );
    let out = nsrun(&lab, &["--net", "--", "/run/plain"]);
    assert_eq!(
        one_line(&out),
        "nsrun: cannot run /run/plain: permission denied"
    );
    // A failing on-exit hook is reported and does not change the status.
    let out = nsrun(
        &lab,
        &["--net", "--on-exit", "exit 4", "--", "sh", "-c", "exit 9"],
    );
    assert_eq!(out.code(), 9);
    assert_eq!(
        one_line(&out),
        "nsrun: on-exit hook 'exit 4' failed with exit status 4"
    );
    // Every failure of the teardown is reported, each on a line of its own:
    // the on-exit hooks', and the pid file's on a file system a hook made
    // read-only. (A pid file a hook replaced is not nsrun's to remove.)
    let spoil = "mount -o remount,ro /run && exit 5";
    let out = nsrun(
        &lab,
        &[
            "--net",
            "--pid-file",
            "/run/c.pid",
            "--on-exit",
            "exit 4",
            "--on-exit",
            spoil,
            "--",
            "sh",
            "-c",
            "exit 9",
        ],
    );
    lab.sh_ok("mount -o remount,rw /run && rm /run/c.pid");
    assert_eq!(out.code(), 9);
    assert_eq!(
        out.stderr,
        format!(
            "nsrun: on-exit hook 'exit 4' failed with exit status 4\n\
             nsrun: on-exit hook '{spoil}' failed with exit status 5\n\
             nsrun: cannot remove the pid file /run/c.pid: read-only file system\n"
        )
    );
}

#[test]
fn on_exit_hooks_run_when_nsrun_gets_term_int_or_hup() {
    let lab = lab!();
    let before = lab.snapshot();
    for signal in [Signal::SIGTERM, Signal::SIGINT, Signal::SIGHUP] {
        lab.sh_ok("rm -f /run/onexit");
        let mut bg = lab.spawn(
            "exec nsrun --net --pid-file /run/c.pid --on-exit 'echo ran >> /run/onexit' \
             -- sh -c 'echo running; exec sleep 1000'",
        );
        assert_eq!(bg.line(), "running");
        bg.signal(signal);
        let status = bg.wait();
        assert_eq!(status.code(), Some(128 + signal as i32), "{signal}");
        assert_eq!(read_file(&lab, "/run/onexit"), "ran\n", "{signal}");
        assert!(!exists(&lab, "/run/c.pid"), "{signal}: pid file left");
    }
    lab.sh_ok("rm -f /run/onexit");
    lab.assert_unchanged(&before);
}

#[test]
fn a_signal_during_the_hooks_stops_the_start() {
    let lab = lab!();
    let before = lab.snapshot();
    // A hook's stdout is nsrun's stderr; this one reaches the test through
    // nsrun's stdout instead, to say it is running.
    let mut bg = lab.spawn(
        "exec nsrun --net --hook 'echo hooking > /proc/$PPID/fd/1; exec sleep 1000' \
         --on-exit 'echo on-exit >> /run/log' -- sh -c 'echo command >> /run/log'",
    );
    assert_eq!(bg.line(), "hooking");
    bg.signal(Signal::SIGTERM);
    assert_eq!(bg.wait().code(), Some(143));
    assert_eq!(read_file(&lab, "/run/log"), "on-exit\n");
    lab.sh_ok("rm /run/log");
    lab.assert_unchanged(&before);
}

/// Starts nsrun in the background, waits for the command to say
/// `running`, SIGKILLs nsrun, and returns once the command has ended too
/// (the lab's init inherits and reaps it).
fn kill_nsrun_and_wait_for_the_command(lab: &Lab, args: &[&str]) {
    lab.sh_ok("rm -f /run/c.pid");
    let mut full = vec!["nsrun", "--pid-file", "/run/c.pid"];
    full.extend_from_slice(args);
    let mut bg = lab.spawn_command(lab.command(&full));
    assert_eq!(bg.line(), "running");
    let child: i32 = read_file(lab, "/run/c.pid").trim().parse().expect("a pid");
    bg.signal(Signal::SIGKILL);
    bg.wait();
    lab.wait_exit(child);
}

#[test]
fn the_command_dies_with_a_sigkilled_nsrun() {
    let lab = lab!();
    let before = lab.snapshot();
    kill_nsrun_and_wait_for_the_command(
        &lab,
        &["--net", "--", "sh", "-c", "echo running; exec sleep 1000"],
    );
    lab.sh_ok("rm -f /run/c.pid");
    lab.assert_unchanged(&before);
    // With --pid the whole tree goes: the kernel kills every process of a
    // PID namespace whose init dies.
    kill_nsrun_and_wait_for_the_command(
        &lab,
        &[
            "--net",
            "--pid",
            "--",
            "sh",
            "-c",
            "sleep 1000 & echo running; wait",
        ],
    );
    lab.sh_ok("rm -f /run/c.pid");
    lab.assert_unchanged(&before);
}

#[test]
fn a_child_held_at_the_hand_off_dies_with_a_sigkilled_nsrun() {
    let lab = lab!();
    let before = lab.snapshot();
    // The hook says `running` on nsrun's stdout and keeps the child held.
    kill_nsrun_and_wait_for_the_command(
        &lab,
        &[
            "--net",
            "--hook",
            "echo $$ > /run/hook.pid; echo running > /proc/$PPID/fd/1; exec sleep 1000",
            "--",
            "touch",
            "/run/ran",
        ],
    );
    assert!(!exists(&lab, "/run/ran"), "the command ran");
    // The hook outlives nsrun (hooks are ordinary processes); end it here.
    let hook: i32 = read_file(&lab, "/run/hook.pid").trim().parse().unwrap();
    lab.kill(hook, Signal::SIGKILL);
    lab.wait_exit(hook);
    lab.sh_ok("rm -f /run/c.pid /run/hook.pid");
    lab.assert_unchanged(&before);
}

#[test]
fn exit_statuses_follow_the_command() {
    let lab = lab!();
    for (script, code) in [
        ("exit 0", 0),
        ("exit 1", 1),
        ("exit 125", 125),
        ("exit 255", 255),
        ("kill -TERM $$", 143),
        ("kill -KILL $$", 137),
        ("kill -USR1 $$", 138),
    ] {
        let out = nsrun(&lab, &["--net", "--", "sh", "-c", script]);
        assert_eq!(out.code(), code, "{script}");
        assert_eq!(out.stderr, "", "{script}");
    }
}

/// Traps every forwarded signal and says its name. The shell waits on a
/// background sleep (`wait` returns at once for a trapped signal); the
/// sleep is ended with SIGKILL, which, unlike SIGTERM, cannot be lost in
/// the moment between its fork and its exec.
const TRAPS: &str = "for s in INT TERM QUIT USR1 USR2 WINCH; do trap \"echo $s\" $s; done; \
    trap 'echo HUP; kill -9 $s; exit 7' HUP; \
    sleep 1000 & s=$!; echo ready; while :; do wait $s; done";

#[test]
fn all_seven_signals_reach_the_command_once() {
    let lab = lab!();
    for pid_ns in [false, true] {
        let flags = if pid_ns { "--net --pid" } else { "--net" };
        let mut args: Vec<&str> = vec!["nsrun"];
        args.extend(flags.split(' '));
        args.extend(["--", "sh", "-c", TRAPS]);
        let mut bg = lab.spawn_command(lab.command(&args));
        assert_eq!(bg.line(), "ready");
        for signal in [
            Signal::SIGINT,
            Signal::SIGTERM,
            Signal::SIGQUIT,
            Signal::SIGUSR1,
            Signal::SIGUSR2,
            Signal::SIGWINCH,
            Signal::SIGHUP,
        ] {
            bg.signal(signal);
            let name = signal.as_str().trim_start_matches("SIG");
            assert_eq!(bg.line(), name, "{flags}");
        }
        assert_eq!(bg.wait().code(), Some(7), "{flags}");
        assert_eq!(bg.rest(), "", "{flags}: a signal arrived twice");
    }
}

/// A pseudo-terminal driving a program as its controlling terminal.
struct Pty {
    master: std::fs::File,
    seen: Arc<(Mutex<String>, Condvar)>,
    child: std::process::Child,
}

impl Pty {
    /// Starts `argv` in the lab with a new pty as its controlling
    /// terminal (`setsid --ctty`), the pty's foreground group its own.
    fn start(lab: &Lab, argv: &[&str]) -> Pty {
        let pty = nix::pty::openpty(None, None).expect("opening a pty");
        let mut full = vec!["setsid", "--ctty"];
        full.extend_from_slice(argv);
        let mut cmd = lab.command(&full);
        let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("dup of the pty"));
        cmd.stdin(slave(&pty.slave))
            .stdout(slave(&pty.slave))
            .stderr(slave(&pty.slave));
        let child = cmd.spawn().expect("starting under a pty");
        drop(pty.slave);
        let master = std::fs::File::from(pty.master);
        let mut reader = master.try_clone().expect("dup of the master");
        let seen = Arc::new((Mutex::new(String::new()), Condvar::new()));
        let shared = Arc::clone(&seen);
        std::thread::spawn(move || {
            let mut buf = [0u8; 4096];
            // EIO once every slave end is closed: the session is over.
            while let Ok(n @ 1..) = reader.read(&mut buf) {
                let (text, ready) = &*shared;
                text.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
                ready.notify_all();
            }
        });
        Pty {
            master,
            seen,
            child,
        }
    }

    fn type_in(&mut self, text: &str) {
        self.master.write_all(text.as_bytes()).expect("typing");
    }

    /// Waits until `marker` has appeared after byte `from` of the output;
    /// returns where it ends.
    fn expect(&self, from: usize, marker: &str) -> usize {
        let (text, ready) = &*self.seen;
        let mut text = text.lock().unwrap();
        loop {
            if let Some(at) = text[from..].find(marker) {
                return from + at + marker.len();
            }
            let (t, timeout) = ready.wait_timeout(text, HANG).unwrap();
            text = t;
            assert!(
                !timeout.timed_out(),
                "'{marker}' never appeared; the terminal shows:\n{}",
                &*text
            );
        }
    }

    fn transcript(&self) -> String {
        self.seen.0.lock().unwrap().clone()
    }

    fn pid(&self) -> Pid {
        Pid::from_raw(self.child.id() as i32)
    }

    fn wait(self) -> std::process::ExitStatus {
        let Pty {
            mut child, seen, ..
        } = self;
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait().expect("waiting"));
        });
        rx.recv_timeout(HANG).unwrap_or_else(|_| {
            panic!(
                "the program under the pty did not end; the terminal shows:\n{}",
                seen.0.lock().unwrap()
            )
        })
    }
}

#[test]
fn ctrl_c_reaches_the_command_once_and_is_not_forwarded_too() {
    let lab = lab!();
    // A command in nsrun's (foreground) group gets Ctrl-C from the terminal.
    let mut pty = Pty::start(
        &lab,
        &[
            "nsrun",
            "--net",
            "--on-exit",
            "echo on-exit=$((6*7))",
            "--",
            "sh",
            "-c",
            "echo ready=$((3*4)); exec sleep 1000",
        ],
    );
    let at = pty.expect(0, "ready=12");
    pty.type_in("\x03");
    pty.expect(at, "on-exit=42");
    assert_eq!(pty.wait().code(), Some(130));
    // nsrun itself gets that Ctrl-C too and must not pass it on: a command
    // outside the terminal's foreground group (its own session) shows it.
    let script = "trap 'echo INT' INT; trap 'echo USR1; kill -9 $s; exit 0' USR1; \
                  sleep 1000 & s=$!; echo ready=$((2*5)); while :; do wait $s; done";
    let mut pty = Pty::start(
        &lab,
        &["nsrun", "--net", "--", "setsid", "sh", "-c", script],
    );
    let at = pty.expect(0, "ready=10");
    pty.type_in("\x03");
    // The echo of ^C comes after the terminal has signalled its group.
    let at = pty.expect(at, "^C");
    nix::sys::signal::kill(pty.pid(), Signal::SIGUSR1).expect("signalling nsrun");
    pty.expect(at, "USR1");
    let transcript = pty.transcript();
    assert_eq!(pty.wait().code(), Some(0));
    let after_ready = &transcript[transcript.find("ready=10").unwrap()..];
    assert!(
        !after_ready.contains("INT"),
        "nsrun forwarded the terminal's SIGINT: {transcript}"
    );
}

#[test]
fn an_interactive_shell_keeps_ctrl_c_and_job_control_under_a_pty() {
    let lab = lab!();
    let mut pty = Pty::start(&lab, &["nsrun", "--net", "--", "sh", "-i"]);
    pty.type_in("echo start=$((1+1))\n");
    let at = pty.expect(0, "start=2");
    // Ctrl-C ends the foreground job, once, and the shell lives on.
    pty.type_in("sh -c 'echo ready=$((3*3)); exec sleep 1000'\n");
    let at = pty.expect(at, "ready=9");
    pty.type_in("\x03");
    pty.type_in("echo code=$?\n");
    let at = pty.expect(at, "code=130");
    // Ctrl-Z stops the foreground job and gives the terminal back: the
    // shell has job control.
    pty.type_in("sh -c 'echo again=$((4*4)); exec sleep 1000'\n");
    let at = pty.expect(at, "again=16");
    pty.type_in("\x1a");
    pty.type_in("echo stopped=$?\n");
    let at = pty.expect(at, "stopped=148");
    // `bg` resumes it as a job; killed and reaped before `exit`, or the
    // shell would refuse to leave a stopped job.
    pty.type_in("bg %1 >/dev/null; kill -9 %1; wait %1; echo cleaned=$?\n");
    pty.expect(at, "cleaned=137");
    pty.type_in("exit 3\n");
    let transcript = pty.transcript();
    assert_eq!(pty.wait().code(), Some(3), "{transcript}");
}

#[test]
fn stdio_passes_through_untouched() {
    let lab = lab!();
    let out = lab
        .run_with_stdin(&argv(&["--net", "--", "cat"]), "hi\n")
        .expect_ok("cat");
    assert_eq!(out.stdout, "hi\n");
    let mega: String = (0..(1 << 20) / 16).map(|i| format!("{i:015x}\n")).collect();
    assert_eq!(mega.len(), 1 << 20);
    let out = lab
        .run_with_stdin(&argv(&["--net", "--pid", "--", "cat"]), &mega)
        .expect_ok("a megabyte through stdout");
    assert!(out.stdout == mega, "stdout differs");
    let out = lab
        .run_with_stdin(&argv(&["--net", "--", "sh", "-c", "cat >&2"]), &mega)
        .expect_ok("a megabyte through stderr");
    assert!(
        out.stderr == mega && out.stdout.is_empty(),
        "stderr differs"
    );
    // Hooks neither read the command's input nor write into its output.
    let out = lab
        .run_with_stdin(
            &argv(&[
                "--net",
                "--hook",
                "cat; echo from-hook",
                "--on-exit",
                "echo from-on-exit",
                "--",
                "cat",
            ]),
            "for the command\n",
        )
        .expect_ok("hooks and stdio");
    assert_eq!(out.stdout, "for the command\n");
    assert_eq!(out.stderr, "from-hook\nfrom-on-exit\n");
}

#[test]
fn no_descriptor_of_nsrun_leaks_into_the_command() {
    let lab = lab!();
    // ls lists its own descriptors: those it inherited plus the one it
    // reads the folder with; run directly and through nsrun, the same.
    let direct = lab.run(&["ls", "/proc/self/fd"]).expect_ok("ls").stdout;
    for flags in [
        &["--net"][..],
        &[
            "--net",
            "--mount",
            "--pid",
            "--mount-proc",
            "--user",
            "--map-root",
            "--pid-file",
            "/run/c.pid",
            "--hook",
            "true",
            "--on-exit",
            "true",
        ][..],
    ] {
        let mut args = flags.to_vec();
        args.extend(["--", "ls", "/proc/self/fd"]);
        let inside = nsrun(&lab, &args).expect_ok("listing fds").stdout;
        assert_eq!(inside, direct, "nsrun {flags:?}");
    }
}

#[test]
fn bad_input_is_one_line_125_and_leaves_nothing() {
    let lab = lab!();
    let before = lab.snapshot();
    let marker = "--hook=touch /run/hooked";
    let cases: [(&[&str], &str); 7] = [
        (&[marker, "--", "true"], "nsrun: no namespace given"),
        (
            &["--net", "--bogus", marker, "--", "true"],
            "nsrun: unexpected argument '--bogus'",
        ),
        (
            &["--net", marker],
            "nsrun: the following required arguments were not provided: <COMMAND>",
        ),
        (
            &[
                "--net",
                "--map-root",
                marker,
                "--pid-file=/run/bad.pid",
                "--",
                "true",
            ],
            "nsrun: --map-root needs --user",
        ),
        (
            &[
                "--net",
                "--pid-file",
                "/run/no/such/dir",
                marker,
                "--",
                "true",
            ],
            "nsrun: cannot write the pid file /run/no/such/dir: no such file or directory",
        ),
        (
            &[
                "--net",
                "--pid-file",
                "/proc/nsrun.pid",
                marker,
                "--",
                "true",
            ],
            "nsrun: cannot write the pid file /proc/nsrun.pid:",
        ),
        (
            &[
                "--hostname",
                "an-overly-long-hostname-that-the-kernel-refuses-because-it-is-long",
                marker,
                "--",
                "true",
            ],
            "nsrun: invalid hostname",
        ),
    ];
    for (args, start) in cases {
        let out = nsrun(&lab, args);
        assert_eq!(out.code(), 125, "{args:?}: {out:?}");
        assert!(out.stdout.is_empty(), "{args:?}");
        assert!(one_line(&out).starts_with(start), "{args:?}: {out:?}");
        assert!(!exists(&lab, "/run/hooked"), "{args:?}: a hook ran");
        assert!(
            !exists(&lab, "/run/bad.pid"),
            "{args:?}: a pid file was made"
        );
    }
    lab.assert_unchanged(&before);
}
