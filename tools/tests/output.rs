//! What the tools show a user: output to a reader that went away ends a
//! tool quietly; colour and bold only on a terminal, and never with
//! `NO_COLOR`; refusals for root never suggest running as root.

use nsnet_lab::{lab, Lab, Out};
use std::io::Read;
use std::os::fd::OwnedFd;
use std::process::{Command, Stdio};

/// Runs `cmd` with its stdout a pipe whose reader is already gone, as
/// `… | head -1` leaves it once head has its line: the first write fails.
fn into_a_closed_pipe(mut cmd: Command) -> Out {
    let (reader, writer) = nix::unistd::pipe().expect("a pipe");
    drop(reader);
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::from(writer))
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting a tool");
    let out = child.wait_with_output().expect("waiting for a tool");
    Out {
        status: out.status,
        stdout: String::new(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

/// A tool cut off by its reader says nothing and ends as `cat` would: by
/// SIGPIPE (141 to a shell), or successfully.
fn assert_quiet(what: &str, out: &Out) {
    assert!(
        out.stderr.is_empty() && [0, 141].contains(&out.code()),
        "{what} into a closed pipe: status {}, stderr {:?}",
        out.code(),
        out.stderr
    );
}

#[test]
fn help_and_generated_text_into_a_closed_pipe_end_quietly() {
    for name in nsnet_lab::tools() {
        for args in [
            &["--help"][..],
            &["--version"],
            &["--generate", "man"],
            &["--generate", "complete-bash"],
        ] {
            let mut cmd = Command::new(nsnet_lab::bin(&name));
            cmd.args(args);
            assert_quiet(&format!("{name} {args:?}"), &into_a_closed_pipe(cmd));
        }
    }
}

#[test]
fn dry_runs_and_lists_into_a_closed_pipe_end_quietly() {
    let lab = lab!();
    let before = lab.snapshot();
    let container = lab.netns_holder();
    let pid = container.pid().to_string();
    lab.sh_ok(&format!("vethup veth0 {pid} && natctl add 10.0.0.0/24"));
    for args in [
        &[
            "vethup",
            "--dry-run",
            "--addr",
            "10.1.0.1/24",
            "veth1",
            &pid,
        ][..],
        &["vethdown", "--dry-run", "veth0"],
        &["vethdown", "--dry-run", "--all"],
        &["natctl", "add", "--dry-run", "10.9.0.0/24"],
        &["natctl", "del", "--dry-run", "10.0.0.0/24"],
        &["natctl", "flush", "--dry-run"],
        &["natctl", "list"],
    ] {
        assert_quiet(&format!("{args:?}"), &into_a_closed_pipe(lab.command(args)));
    }
    // And as a user types it, under pipefail: only head's line comes out.
    let out = lab
        .run(&[
            "bash",
            "-c",
            "set -o pipefail; natctl flush --dry-run | head -1; echo status=$?",
        ])
        .expect_ok("natctl flush --dry-run | head -1");
    assert!(out.stderr.is_empty(), "{out:?}");
    assert_eq!(out.stdout.lines().count(), 2, "{out:?}");
    // natctl leaves forwarding on (others may need it): off again here.
    lab.sh_ok("natctl del 10.0.0.0/24 && echo 0 > /proc/sys/net/ipv4/ip_forward");
    drop(container);
    lab.assert_settles(&before);
}

/// Runs a tool with a new pty as its stdout and stderr, and returns what
/// the terminal got.
fn on_a_terminal(name: &str, args: &[&str], no_color: bool) -> String {
    let pty = nix::pty::openpty(None, None).expect("a pty");
    let slave = |fd: &OwnedFd| Stdio::from(fd.try_clone().expect("a dup of the pty"));
    let mut cmd = Command::new(nsnet_lab::bin(name));
    cmd.args(args)
        .env_remove("NO_COLOR")
        .env_remove("CLICOLOR_FORCE")
        .env_remove("CLICOLOR")
        .env("TERM", "xterm")
        .stdin(Stdio::null())
        .stdout(slave(&pty.slave))
        .stderr(slave(&pty.slave));
    if no_color {
        cmd.env("NO_COLOR", "1");
    }
    let mut child = cmd.spawn().expect("starting a tool on a pty");
    drop(pty.slave);
    drop(cmd);
    let mut master = std::fs::File::from(pty.master);
    let mut seen = Vec::new();
    // The read ends with EIO once the last writer has gone.
    let _ = master.read_to_end(&mut seen);
    child.wait().expect("waiting for a tool");
    String::from_utf8_lossy(&seen).into_owned()
}

const ESC: char = '\u{1b}';

#[test]
fn colour_only_on_a_terminal_and_never_with_no_color() {
    for name in nsnet_lab::tools() {
        let styled = on_a_terminal(&name, &["--help"], false);
        assert!(styled.contains("Usage"), "{name}: {styled}");
        assert!(
            styled.contains(ESC),
            "{name} --help on a terminal is plain, so this test could not see colour"
        );
        let plain = on_a_terminal(&name, &["--help"], true);
        assert!(
            !plain.contains(ESC),
            "{name} --help with NO_COLOR: {plain:?}"
        );
        let piped = Command::new(nsnet_lab::bin(&name))
            .arg("--help")
            .output()
            .unwrap();
        assert!(
            !String::from_utf8_lossy(&piped.stdout).contains(ESC),
            "{name}"
        );
        // An error is one plain line, even on a terminal.
        let error = on_a_terminal(&name, &["--no-such-option"], false);
        assert!(error.starts_with(&format!("{name}: ")), "{name}: {error:?}");
        assert!(!error.contains(ESC), "{name}: {error:?}");
    }
}

/// Runs `script` in the lab with the capabilities of `who`.
fn as_user(lab: &Lab, who: &str, script: &str) -> Out {
    let setpriv = match who {
        // Root, but without a single capability: root can be refused too.
        "root" => "setpriv --bounding-set=-all --inh-caps=-all",
        _ => "setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all",
    };
    lab.run(&["sh", "-c", &format!("{setpriv} sh -c '{script}'")])
}

#[test]
fn refusals_suggest_root_only_to_those_who_are_not() {
    let lab = lab!();
    let before = lab.snapshot();
    let container = lab.netns_holder();
    let pid = container.pid();
    let refused = [
        (format!("vethup veth0 {pid}"), 1),
        ("natctl add 10.0.0.0/24".to_string(), 1),
        ("natctl add --backend iptables 10.0.0.0/24".to_string(), 1),
        ("nsrun --net -- true".to_string(), 125),
        (
            "netinit --wait 0 --iface up0 192.0.2.9/24 -- true".to_string(),
            125,
        ),
    ];
    for (command, status) in &refused {
        let out = as_user(&lab, "root", command);
        assert_eq!(out.code(), *status, "{command} as root: {out:?}");
        assert_eq!(out.stderr.lines().count(), 1, "{command}: {out:?}");
        assert!(
            !out.stderr.contains("as root") && !out.stderr.contains("be root"),
            "{command}: root is told to be root: {}",
            out.stderr
        );
    }
    let out = as_user(&lab, "root", "nsrun --net -- true");
    assert!(out.stderr.ends_with("(add --user --map-root)\n"), "{out:?}");
    // Someone who is not root is told what would help.
    for (command, hint) in [
        (
            format!("vethup veth0 {pid}"),
            "(run as root or with CAP_NET_ADMIN)",
        ),
        (
            "nsrun --net -- true".to_string(),
            "(run as root, or add --user --map-root)",
        ),
    ] {
        let out = as_user(&lab, "nobody", &command);
        assert!(!out.ok(), "{command}");
        assert!(out.stderr.contains(hint), "{command}: {out:?}");
    }
    drop(container);
    lab.assert_settles(&before);
}
