//! Processes: exec with the env(1) statuses, and supervising a child —
//! forwarding signals to it, reaping, and reporting how it ended; starting a
//! command in new namespaces behind a hand-off ([`namespaces`], [`handoff`]),
//! the hooks around it ([`hooks`]) and nsrun's whole run ([`nsrun`]). All of
//! nsnet's `unsafe` lives under this module, each block saying why it is
//! sound.

#![allow(unsafe_code)]

pub mod handoff;
pub mod hooks;
pub mod namespaces;
pub mod nsrun;

use crate::error::{Error, Kind};
use nix::errno::Errno;
use nix::sys::signal::{kill, SigSet, SigmaskHow, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::ffi::{CString, OsString};
use std::os::unix::ffi::OsStrExt;

mod command;
pub use command::{check_command, ignore_sigpipe, restore_sigpipe, spawn};

/// The signals a wrapper passes on to the command it runs (nsrun(1),
/// netinit(1)).
pub const FORWARDED: [Signal; 7] = [
    Signal::SIGINT,
    Signal::SIGTERM,
    Signal::SIGHUP,
    Signal::SIGQUIT,
    Signal::SIGUSR1,
    Signal::SIGUSR2,
    Signal::SIGWINCH,
];

/// The forwarded signals plus SIGCHLD: what a supervisor waits for.
pub fn supervised_signals() -> SigSet {
    let mut set = SigSet::empty();
    for signal in FORWARDED {
        set.add(signal);
    }
    set.add(Signal::SIGCHLD);
    set
}

/// Blocks the supervised signals so they queue for [`supervise`] instead of
/// killing this process; returns the mask to restore in a child before exec.
pub fn block_supervised_signals() -> Result<SigSet, Error> {
    let mut old = SigSet::empty();
    nix::sys::signal::sigprocmask(
        SigmaskHow::SIG_BLOCK,
        Some(&supervised_signals()),
        Some(&mut old),
    )
    .map_err(|e| Error::os("cannot block signals", e))?;
    Ok(old)
}

/// Replaces this process with `argv[0]`, looked up on PATH, keeping the
/// environment. Returns only on failure: `NotFound` (127) when there is no
/// such command, `CannotExecute` (126) when it cannot be executed.
pub fn exec(argv: &[OsString]) -> Error {
    let Some(program) = argv.first() else {
        return Error::usage("no command given");
    };
    let args: Result<Vec<CString>, _> = argv.iter().map(|a| CString::new(a.as_bytes())).collect();
    let Ok(args) = args else {
        return Error::usage("an argument of the command contains a NUL byte");
    };
    let errno = match nix::unistd::execvp(&args[0], &args) {
        Err(errno) => errno,
        Ok(never) => match never {},
    };
    exec_error(&program.to_string_lossy(), errno)
}

/// The error for a failed exec of `name`: 127 not found, 126 otherwise.
fn exec_error(name: &str, errno: Errno) -> Error {
    // An empty name would read "cannot run : command not found".
    let name = if name.is_empty() { "''" } else { name };
    match errno {
        Errno::ENOENT | Errno::ENOTDIR => Error::new(
            Kind::NotFound,
            format!("cannot run {name}: command not found"),
        )
        .with_errno(errno),
        // Plain words: the hint of errno_words is about networks.
        other => {
            Error::io(format!("cannot run {name}"), &other.into()).with_kind(Kind::CannotExecute)
        }
    }
}

/// The status a wrapper reports for a child that ended this way: its exit
/// code, or 128+N when signal N killed it.
pub fn status_code(status: WaitStatus) -> Option<u8> {
    match status {
        WaitStatus::Exited(_, code) => Some(code as u8),
        WaitStatus::Signaled(_, signal, _) => Some(128u8.wrapping_add(signal as u8)),
        _ => None,
    }
}

/// Who a supervisor reaps besides its own child.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reap {
    /// Only the supervised child.
    Child,
    /// Every child, as PID 1 must (orphans are re-parented to it).
    All,
}

/// A signal taken from the queue, and whether a process sent it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    pub signal: Signal,
    /// Sent by a process (`kill`, `sigqueue`, `tgkill`), not by the kernel.
    pub from_process: bool,
}

impl Received {
    /// Whether a supervisor passes this signal on to its child.
    ///
    /// The child starts in the supervisor's process group, so a signal the
    /// terminal raises (Ctrl-C, Ctrl-\, a window resize, a hangup) already
    /// reaches the child from the kernel, which hits the whole foreground
    /// group; forwarding it too would deliver Ctrl-C twice. Only a signal a
    /// process sent to the supervisor alone is passed on. Keeping the child
    /// in that group (rather than giving it a foreground group of its own)
    /// is what keeps job control working: Ctrl-Z stops supervisor and child
    /// together, so the user's shell sees its job stop and `fg` resumes
    /// both, and an interactive shell as the command still takes the
    /// terminal for its own jobs as it would anywhere.
    pub fn is_forwarded(&self) -> bool {
        self.from_process && FORWARDED.contains(&self.signal)
    }
}

/// Whether a `si_code` says a process sent the signal: `SI_USER` (0) and
/// the other user-space codes are zero or negative; the kernel's own
/// (`SI_KERNEL`, the `CLD_*` codes of SIGCHLD) are positive.
fn sent_by_process(si_code: i32) -> bool {
    si_code <= 0
}

/// The supervised signals as a queue to read (a signalfd). They must be
/// blocked ([`block_supervised_signals`]) since before any child started,
/// so none is lost and none kills this process.
#[derive(Debug)]
pub struct Signals {
    fd: nix::sys::signalfd::SignalFd,
}

impl Signals {
    pub fn new() -> Result<Signals, Error> {
        use nix::sys::signalfd::{SfdFlags, SignalFd};
        let fd = SignalFd::with_flags(&supervised_signals(), SfdFlags::SFD_CLOEXEC)
            .map_err(|e| Error::os("cannot watch for signals", e))?;
        Ok(Signals { fd })
    }

    /// Waits for the next supervised signal.
    pub fn next(&self) -> Result<Received, Error> {
        loop {
            match self.fd.read_signal() {
                Ok(Some(info)) => {
                    let Ok(signal) = Signal::try_from(info.ssi_signo as i32) else {
                        continue;
                    };
                    return Ok(Received {
                        signal,
                        from_process: sent_by_process(info.ssi_code),
                    });
                }
                Ok(None) | Err(Errno::EINTR) => continue,
                Err(e) => return Err(Error::os("cannot wait for signals", e)),
            }
        }
    }
}

/// Waits for `child` to end while passing on every forwarded signal this
/// process receives (see [`Received::is_forwarded`]); returns the child's
/// status (128+N for signal N). The supervised signals must be blocked
/// ([`block_supervised_signals`]) since before `child` was started, so none
/// is lost.
pub fn supervise(child: Pid, reap: Reap) -> Result<u8, Error> {
    supervise_with(&Signals::new()?, child, reap)
}

/// [`supervise`] reading an existing signal queue.
pub fn supervise_with(signals: &Signals, child: Pid, reap: Reap) -> Result<u8, Error> {
    loop {
        if let Some(code) = reap_ready(child, reap)? {
            return Ok(code);
        }
        let received = signals.next()?;
        if received.is_forwarded() {
            // The child may have just exited; ESRCH then is no error.
            let _ = kill(child, received.signal);
        }
    }
}

/// Reaps whatever has ended; returns the child's status once it has.
fn reap_ready(child: Pid, reap: Reap) -> Result<Option<u8>, Error> {
    let target = match reap {
        Reap::Child => Some(child),
        Reap::All => None,
    };
    loop {
        match waitpid(target, Some(WaitPidFlag::WNOHANG)) {
            Ok(WaitStatus::StillAlive) => return Ok(None),
            Ok(status) => {
                if status.pid() == Some(child) {
                    if let Some(code) = status_code(status) {
                        return Ok(Some(code));
                    }
                }
            }
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::os("cannot wait for the command", e)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_commands_are_127_and_unexecutable_ones_126() {
        let e = exec_error("nope", Errno::ENOENT);
        assert_eq!(e.kind(), Kind::NotFound);
        assert_eq!(e.errno(), Some(Errno::ENOENT));
        assert_eq!(e.to_string(), "cannot run nope: command not found");
        let e = exec_error("/etc/hostname", Errno::EACCES);
        assert_eq!(e.kind(), Kind::CannotExecute);
        assert_eq!(e.to_string(), "cannot run /etc/hostname: permission denied");
        assert_eq!(e.errno(), Some(Errno::EACCES));
        assert_eq!(
            exec_error("", Errno::ENOENT).to_string(),
            "cannot run '': command not found"
        );
        assert_eq!(exec(&[]).kind(), Kind::Usage);
    }

    #[test]
    fn statuses_follow_the_shell() {
        let pid = Pid::from_raw(1);
        assert_eq!(status_code(WaitStatus::Exited(pid, 3)), Some(3));
        assert_eq!(
            status_code(WaitStatus::Signaled(pid, Signal::SIGKILL, false)),
            Some(137)
        );
    }
}
