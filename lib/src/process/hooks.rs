//! Hooks: the shell commands nsrun runs in its own namespaces around the
//! command — `--hook` before the hand-off, `--on-exit` after the command is
//! gone — each as `/bin/sh -c CMD` with `NSRUN_PID` and `NSRUN_NETNS` in its
//! environment, and how a hook's end reads in words.
//!
//! A hook's stdin is /dev/null and its stdout goes to nsrun's stderr: the
//! command's input and output are the command's alone, so a hook can
//! neither eat the input nor mix text into the output. While a hook runs,
//! SIGINT, SIGTERM, SIGHUP and SIGQUIT sent to nsrun go to the hook (the
//! terminal's reach it directly), and the caller learns of them.

use super::{Received, Signals};
use crate::error::Error;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::unistd::Pid;
use std::os::unix::process::ExitStatusExt;
use std::process::{Command, ExitStatus, Stdio};

/// The shell every hook runs in (nsrun(1): `/bin/sh -c CMD`).
const SHELL: &str = "/bin/sh";

/// The signals that stop a start in progress.
const STOPPING: [Signal; 4] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
];

/// Which hooks: their name in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum When {
    /// `--hook`: before the command starts; a failure stops everything.
    Setup,
    /// `--on-exit`: after the command is gone; a failure is only reported.
    Exit,
}

impl When {
    fn label(self) -> &'static str {
        match self {
            When::Setup => "hook",
            When::Exit => "on-exit hook",
        }
    }
}

/// The environment hooks get: the child's PID as this process sees it and
/// the path of its network namespace.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HookEnv {
    pid: Pid,
}

impl HookEnv {
    pub fn new(pid: Pid) -> HookEnv {
        HookEnv { pid }
    }

    pub fn vars(&self) -> [(&'static str, String); 2] {
        [
            ("NSRUN_PID", self.pid.to_string()),
            ("NSRUN_NETNS", format!("/proc/{}/ns/net", self.pid)),
        ]
    }
}

/// How a hook ended, and the stopping signal nsrun got while it ran.
#[derive(Debug)]
pub struct HookEnd {
    pub error: Option<Error>,
    pub stopped_by: Option<Signal>,
}

/// Runs one hook to its end, with the signal mask `mask` (nsrun's own
/// before it blocked the supervised signals). Signals nsrun receives
/// meanwhile are read from `signals` (SIGCHLD tells the hook ended; any
/// SIGCHLD of another child is the caller's to look into afterwards).
pub fn run(command: &str, when: When, env: &HookEnv, signals: &Signals, mask: &SigSet) -> HookEnd {
    let mut stopped_by = None;
    let mut child = match start(command, env, *mask) {
        Ok(child) => child,
        Err(e) => {
            return HookEnd {
                error: Some(Error::io(
                    format!("cannot run {} '{command}'", when.label()),
                    &e,
                )),
                stopped_by,
            }
        }
    };
    let hook = Pid::from_raw(child.id() as i32);
    let status = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Ok(status),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        // Should the signal queue fail, the hook can still be waited for.
        let Ok(received) = signals.next() else {
            break child.wait();
        };
        if let Some(signal) = stopping(received) {
            stopped_by.get_or_insert(signal);
            if received.from_process {
                let _ = kill(hook, signal);
            }
        }
    };
    let error = match status {
        Ok(status) => failure(command, when, status),
        Err(e) => Some(Error::io(
            format!("cannot wait for {} '{command}'", when.label()),
            &e,
        )),
    };
    HookEnd { error, stopped_by }
}

fn start(command: &str, env: &HookEnv, mask: SigSet) -> std::io::Result<std::process::Child> {
    let stdout = std::os::fd::AsFd::as_fd(&std::io::stderr()).try_clone_to_owned()?;
    let mut shell = Command::new(SHELL);
    shell
        .arg("-c")
        .arg(command)
        .envs(env.vars())
        .stdin(Stdio::null())
        .stdout(Stdio::from(stdout));
    super::command::with_signal_mask(&mut shell, mask);
    shell.spawn()
}

fn stopping(received: Received) -> Option<Signal> {
    STOPPING
        .contains(&received.signal)
        .then_some(received.signal)
}

/// The error for a hook that ended badly, naming the hook and how.
fn failure(command: &str, when: When, status: ExitStatus) -> Option<Error> {
    let how = if let Some(code) = status.code() {
        if code == 0 {
            return None;
        }
        format!("failed with exit status {code}")
    } else {
        let signal = status.signal().unwrap_or(0);
        match Signal::try_from(signal) {
            Ok(s) => format!("was killed by {}", s.as_str()),
            Err(_) => format!("was killed by signal {signal}"),
        }
    };
    Some(Error::failed(format!("{} '{command}' {how}", when.label())))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_environment_names_the_child_and_its_netns() {
        let env = HookEnv::new(Pid::from_raw(4242));
        assert_eq!(
            env.vars(),
            [
                ("NSRUN_PID", "4242".to_string()),
                ("NSRUN_NETNS", "/proc/4242/ns/net".to_string())
            ]
        );
    }

    #[test]
    fn failures_name_the_hook_and_how_it_ended() {
        let ok = ExitStatus::from_raw(0);
        assert!(failure("true", When::Setup, ok).is_none());
        let e = failure("exit 3", When::Setup, ExitStatus::from_raw(3 << 8)).unwrap();
        assert_eq!(e.to_string(), "hook 'exit 3' failed with exit status 3");
        let e = failure("kill -9 $$", When::Exit, ExitStatus::from_raw(9)).unwrap();
        assert_eq!(
            e.to_string(),
            "on-exit hook 'kill -9 $$' was killed by SIGKILL"
        );
    }

    #[test]
    fn only_the_four_stopping_signals_stop() {
        for (signal, stops) in [
            (Signal::SIGINT, true),
            (Signal::SIGQUIT, true),
            (Signal::SIGUSR1, false),
            (Signal::SIGWINCH, false),
            (Signal::SIGCHLD, false),
        ] {
            let received = Received {
                signal,
                from_process: true,
            };
            assert_eq!(stopping(received).is_some(), stops, "{signal}");
        }
    }
}
