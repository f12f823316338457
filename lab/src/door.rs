//! The lab's door: how a command a test starts gets inside the lab — into
//! the lab's PID namespace (so the lab sees it and it dies with the lab),
//! the host's mount namespace (the lab's /run and /proc) and a network
//! namespace — and how a test then signals it without ever hitting a
//! process it did not start.
//!
//! A process cannot move itself into a PID namespace, only its future
//! children, so the door is two processes. The test's child enters the
//! namespaces and forks: its child, inside, becomes the command; it stays
//! outside as the command's *keeper*. The keeper holds nothing of the
//! test's (no pipe, no terminal), passes every signal it gets on to the
//! command, and ends as the command ended (its exit code, or death by the
//! same signal), so to the test it looks like the command itself. The
//! command gets SIGKILL if its keeper dies first.
//!
//! Everything between the fork of the test's child and the exec of the
//! command runs in a copy of a multi-threaded process, so it only makes
//! system calls: no allocation, no lock.

#![allow(unsafe_code)]

use nix::libc;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::Arc;

/// The namespaces a command enters, as open files.
#[derive(Debug, Clone)]
pub(crate) struct Namespaces {
    pub pid: Arc<OwnedFd>,
    pub mnt: Arc<OwnedFd>,
    pub net: Arc<OwnedFd>,
}

/// Makes `cmd` start inside `ns`, kept by a keeper that stands in for it.
pub(crate) fn enter(cmd: &mut Command, ns: Namespaces) {
    let steps: [(RawFd, libc::c_int); 3] = [
        (ns.net.as_raw_fd(), libc::CLONE_NEWNET),
        (ns.mnt.as_raw_fd(), libc::CLONE_NEWNS),
        (ns.pid.as_raw_fd(), libc::CLONE_NEWPID),
    ];
    // SAFETY: the closure runs in the forked child before exec and only
    // makes system calls (setns, sigprocmask, fork, prctl, close_range,
    // sigwaitinfo, waitpid, kill, setrlimit, signal, _exit) on values it
    // owns or that live in this copy of the parent's memory; it never
    // allocates, takes a lock or unwinds. `ns` moves into the closure, so
    // the namespace files stay open for as long as the command may start.
    unsafe {
        cmd.pre_exec(move || {
            let _open = &ns;
            open_door(&steps)
        });
    }
}

/// Runs in the test's child: enters, forks, and either returns (in the
/// command, which std then execs) or keeps the command until it ends.
unsafe fn open_door(steps: &[(RawFd, libc::c_int)]) -> io::Result<()> {
    for &(fd, kind) in steps {
        if libc::setns(fd, kind) != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    // Every signal waits from here on: none sent to the keeper before it
    // listens is lost, and none kills it.
    let mut all: libc::sigset_t = std::mem::zeroed();
    let mut before: libc::sigset_t = std::mem::zeroed();
    libc::sigfillset(&mut all);
    libc::sigprocmask(libc::SIG_BLOCK, &all, &mut before);
    match libc::fork() {
        -1 => Err(io::Error::last_os_error()),
        0 => {
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL);
            // The keeper is outside this PID namespace, where getppid()
            // says 0; a keeper already dead has left the command to the
            // lab's init (1), and the death signal would never come.
            if libc::getppid() != 0 {
                libc::_exit(125);
            }
            libc::sigprocmask(libc::SIG_SETMASK, &before, std::ptr::null_mut());
            Ok(())
        }
        command => keep(command, &all),
    }
}

/// The keeper's life: pass signals on until the command ends, then end
/// the same way.
unsafe fn keep(command: libc::pid_t, all: &libc::sigset_t) -> ! {
    // Nothing of the test's stays open here: not its pipes (std's report
    // of the exec among them, so spawn() returns once the command has
    // exec'd), not the command's standard streams.
    libc::syscall(libc::SYS_close_range, 0u32, u32::MAX, 0u32);
    loop {
        let signal = libc::sigwaitinfo(all, std::ptr::null_mut());
        if signal == libc::SIGCHLD {
            let mut status = 0;
            match libc::waitpid(command, &mut status, libc::WNOHANG) {
                0 => {}
                -1 => libc::_exit(125),
                _ => end_as(status),
            }
        } else if signal > 0 {
            libc::kill(command, signal);
        }
    }
}

/// Ends this process with the exit code, or by the signal, of `status`.
unsafe fn end_as(status: libc::c_int) -> ! {
    if libc::WIFSIGNALED(status) {
        let signal = libc::WTERMSIG(status);
        // A copy of the test process must not leave a core file.
        let none = libc::rlimit {
            rlim_cur: 0,
            rlim_max: 0,
        };
        libc::setrlimit(libc::RLIMIT_CORE, &none);
        libc::signal(signal, libc::SIG_DFL);
        let mut only: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut only);
        libc::sigaddset(&mut only, signal);
        libc::sigprocmask(libc::SIG_UNBLOCK, &only, std::ptr::null_mut());
        libc::kill(libc::getpid(), signal);
        libc::_exit(128 + signal);
    }
    libc::_exit(libc::WEXITSTATUS(status))
}

/// A handle on one process that stays valid after it ends: a signal sent
/// through it never reaches another process that got its PID.
#[derive(Debug)]
pub(crate) struct PidFd(OwnedFd);

impl PidFd {
    /// The process `pid` (as this process sees it), if it still exists.
    pub(crate) fn open(pid: i32) -> Option<PidFd> {
        // SAFETY: pidfd_open(2) takes a PID and flags and returns a new
        // file descriptor, which is owned here from then on.
        let fd = unsafe { libc::syscall(libc::SYS_pidfd_open, pid, 0) };
        (fd >= 0).then(|| PidFd(unsafe { OwnedFd::from_raw_fd(fd as RawFd) }))
    }

    /// Sends `signal`; a process that has ended is no error.
    pub(crate) fn signal(&self, signal: nix::sys::signal::Signal) {
        // SAFETY: pidfd_send_signal(2) reads only its arguments; a null
        // info means "as kill(2) would".
        let rc = unsafe {
            libc::syscall(
                libc::SYS_pidfd_send_signal,
                self.0.as_raw_fd(),
                signal as libc::c_int,
                std::ptr::null::<libc::siginfo_t>(),
                0,
            )
        };
        let err = io::Error::last_os_error();
        assert!(
            rc == 0 || err.raw_os_error() == Some(libc::ESRCH),
            "signalling a lab process: {err}"
        );
    }
}
