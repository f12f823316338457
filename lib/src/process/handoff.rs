//! The hand-off: a child cloned straight into its new namespaces that,
//! when held, stops before it execs its command until the parent releases
//! it. Two pipes, both close-on-exec, carry it:
//!
//! - *gate* (parent → child): `M` once the id maps are written (only with a
//!   user namespace), then, when held, `G` to go. End of file means the
//!   parent is gone or gave up: the child exits without running anything.
//! - *report* (child → parent): when held, `R` once the child has set
//!   itself up inside; `E` + step + errno when a step failed, exec
//!   included. Close-on-exec closes it when the exec succeeds, so once the
//!   child has been reaped the pipe tells how its exec went.
//!
//! A child is held only when something must happen between its birth and
//! its command (hooks, the pid file): otherwise it goes straight on, and
//! nsrun costs little more than `unshare --fork`.
//!
//! Every wait is a blocking read: no sleeps, no polling. The child never
//! allocates (it is a copy of a process that may have other threads, or
//! borrows its memory), so all it needs is prepared before the clone.

use super::namespaces::{Namespaces, Step};
use crate::error::{may_suggest_root, Error};
use nix::errno::Errno;
use nix::fcntl::OFlag;
use nix::sched::CloneFlags;
use nix::sys::signal::{kill, SigSet, Signal};
use nix::sys::wait::{waitpid, WaitPidFlag, WaitStatus};
use nix::unistd::Pid;
use std::ffi::{CString, OsString};
use std::os::fd::{AsFd, AsRawFd, OwnedFd, RawFd};
use std::os::raw::c_char;
use std::os::unix::ffi::OsStrExt;

/// The child's stack. It only runs a few system calls and exec; the pages
/// it does not touch are never backed by memory.
const STACK_SIZE: usize = 256 * 1024;

const MAPS_WRITTEN: u8 = b'M';
const GO: u8 = b'G';
const READY: u8 = b'R';
const FAILED: u8 = b'E';

/// A command line ready for execvp(3) without allocating: the strings and
/// the NULL-terminated pointer array into them.
#[derive(Debug)]
pub struct Argv {
    strings: Vec<CString>,
    pointers: Vec<*const c_char>,
}

impl Argv {
    pub fn new(argv: &[OsString]) -> Result<Argv, Error> {
        if argv.is_empty() {
            return Err(Error::usage("no command given"));
        }
        let strings = argv
            .iter()
            .map(|a| CString::new(a.as_bytes()))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| Error::usage("an argument of the command contains a NUL byte"))?;
        let mut pointers: Vec<*const c_char> = strings.iter().map(|s| s.as_ptr()).collect();
        pointers.push(std::ptr::null());
        Ok(Argv { strings, pointers })
    }

    /// The command's name as typed, for messages.
    pub fn name(&self) -> String {
        self.strings[0].to_string_lossy().into_owned()
    }
}

/// A child in its new namespaces, waiting at the gate.
#[derive(Debug)]
pub struct Held {
    pid: Pid,
    gate: Option<OwnedFd>,
    report: OwnedFd,
    reaped: Option<WaitStatus>,
    hold: bool,
    released: bool,
}

/// What the child says on the report pipe.
#[derive(Debug, PartialEq, Eq)]
enum Report {
    Ready,
    Failed(Step, Errno),
    /// End of file: after `G` the exec succeeded; before, the child died.
    Closed,
}

impl Held {
    /// Clones the child into the namespaces `ns` asks for; with `hold` it
    /// waits at the gate until [`Held::release`]. `mask` is the signal mask
    /// the command must start with. Signals must already be blocked (the
    /// child inherits the mask and keeps it until just before exec, so
    /// nothing interrupts the hand-off).
    pub fn spawn(ns: &Namespaces, argv: &Argv, mask: &SigSet, hold: bool) -> Result<Held, Error> {
        let pipes = || {
            nix::unistd::pipe2(OFlag::O_CLOEXEC).map_err(|e| Error::os("cannot create a pipe", e))
        };
        let (gate_in, gate_out) = pipes()?;
        let (report_in, report_out) = pipes()?;
        // Without a new PID namespace the child sees nsrun as its parent;
        // inside one its parent is outside its world and getppid() says 0.
        let parent = if ns.pid {
            Pid::from_raw(0)
        } else {
            nix::unistd::getpid()
        };
        let child = Child {
            gate: gate_in.as_raw_fd(),
            report: report_out.as_raw_fd(),
            parent_ends: [gate_out.as_raw_fd(), report_in.as_raw_fd()],
            parent,
            hold,
            ns,
            argv,
            mask,
        };
        let mut stack = vec![0u8; STACK_SIZE];
        let mut flags = ns.clone_flags();
        // A child that goes straight on (not held, no id maps to wait for)
        // borrows this process's memory until it execs, as posix_spawn's
        // children do: no page tables to copy, and this process sleeps
        // until the exec. It is what keeps nsrun close to `unshare --fork`.
        let borrows_memory = !hold && !ns.needs_id_maps();
        if borrows_memory {
            flags |= CloneFlags::CLONE_VM | CloneFlags::CLONE_VFORK;
        }
        // SAFETY: the child runs `Child::run` on `stack`, a region of its
        // own, and the callback only borrows `child`. Without CLONE_VM it
        // has a copy of this address space, like fork(2). With CLONE_VM it
        // shares this one, but CLONE_VFORK suspends this process until the
        // child has exec'd or exited, so nothing the child writes (its
        // stack, errno in this thread's TLS) is in use meanwhile; it never
        // waits at the gate in that case (no hold, no id maps), so the
        // suspension ends. Either way the child only makes system calls on
        // prepared data: no allocation and no locks (sound even if this
        // process had other threads, and the heap is left as it was), its
        // descriptor and signal-handler tables are its own copies (no
        // CLONE_FILES, no CLONE_SIGHAND), it stays well within STACK_SIZE,
        // and it ends in exec or _exit, never returning into code that would
        // unwind or run destructors.
        let pid = unsafe {
            nix::sched::clone(
                Box::new(|| child.run()),
                &mut stack,
                flags,
                Some(Signal::SIGCHLD as i32),
            )
        }
        .map_err(|e| {
            Error::failed(format!(
                "cannot create the namespaces: {}",
                clone_errno_words(e)
            ))
            .with_errno(e)
        })?;
        drop(gate_in);
        drop(report_out);
        Ok(Held {
            pid,
            gate: Some(gate_out),
            report: report_in,
            reaped: None,
            hold,
            released: false,
        })
    }

    /// The child's PID as this process sees it.
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// Lets the child set itself up inside (after writing its id maps when
    /// it has a user namespace) and, when it is held, waits until it has.
    pub fn prepare(&mut self, ns: &Namespaces) -> Result<(), Error> {
        if ns.needs_id_maps() {
            ns.write_id_maps(self.pid)?;
            self.send(MAPS_WRITTEN)?;
        }
        if !self.hold {
            return Ok(());
        }
        match self.read_report()? {
            Report::Ready => Ok(()),
            Report::Failed(step, errno) => Err(step_error(step, errno, ns, None)),
            Report::Closed => Err(self.died_early()),
        }
    }

    /// Releases a held child to exec its command. From here on the
    /// supervisor waits for it; once it has been reaped,
    /// [`Held::exec_result`] tells whether the command ran.
    pub fn release(&mut self) -> Result<(), Error> {
        if self.hold {
            self.send(GO)?;
        }
        self.gate = None;
        self.released = true;
        Ok(())
    }

    /// After the child has been reaped: whether its command ran, or the
    /// error (125 for a step inside, 126, 127 for the exec) if it did not.
    /// Never blocks then: every write end of the report pipe is closed.
    pub fn exec_result(&self, ns: &Namespaces, argv: &Argv) -> Result<(), Error> {
        match self.read_report()? {
            Report::Closed => Ok(()),
            Report::Failed(step, errno) => Err(step_error(step, errno, ns, Some(argv))),
            Report::Ready => Err(Error::failed("the child broke the hand-off protocol")),
        }
    }

    /// Reaps the child if it has ended (on SIGCHLD); its status if so.
    pub fn try_reap(&mut self) -> Option<WaitStatus> {
        if self.reaped.is_none() {
            if let Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) =
                waitpid(self.pid, Some(WaitPidFlag::WNOHANG))
            {
                self.reaped = Some(status);
            }
        }
        self.reaped
    }

    /// Ends a child that will not run its command: closes the gate (it
    /// exits on its own if it can still read), kills it, and reaps it, so
    /// neither a zombie nor an orphan is left.
    pub fn abort(&mut self) {
        self.gate = None;
        if self.try_reap().is_some() {
            return;
        }
        let _ = kill(self.pid, Signal::SIGKILL);
        loop {
            match waitpid(self.pid, None) {
                Err(Errno::EINTR) => continue,
                Ok(status @ (WaitStatus::Exited(..) | WaitStatus::Signaled(..))) => {
                    self.reaped = Some(status);
                    return;
                }
                Ok(_) => continue,
                Err(_) => return,
            }
        }
    }

    fn send(&self, byte: u8) -> Result<(), Error> {
        let Some(gate) = &self.gate else {
            return Err(Error::failed("the hand-off is already over"));
        };
        loop {
            match nix::unistd::write(gate.as_fd(), &[byte]) {
                Ok(_) => return Ok(()),
                Err(Errno::EINTR) => continue,
                // The child is gone (nsrun ignores SIGPIPE to learn so).
                Err(Errno::EPIPE) => return Err(self.died_early()),
                Err(e) => return Err(Error::os("cannot write to the command's process", e)),
            }
        }
    }

    fn read_report(&self) -> Result<Report, Error> {
        let mut tag = [0u8; 1];
        if read_full(&self.report, &mut tag)? == 0 {
            return Ok(Report::Closed);
        }
        match tag[0] {
            READY => Ok(Report::Ready),
            FAILED => {
                let mut rest = [0u8; 5];
                if read_full(&self.report, &mut rest)? < rest.len() {
                    return Ok(Report::Closed);
                }
                let step = Step::from_byte(rest[0])
                    .ok_or_else(|| Error::failed("the child broke the hand-off protocol"))?;
                let errno = i32::from_ne_bytes([rest[1], rest[2], rest[3], rest[4]]);
                Ok(Report::Failed(step, Errno::from_raw(errno)))
            }
            _ => Err(Error::failed("the child broke the hand-off protocol")),
        }
    }

    fn died_early(&self) -> Error {
        Error::failed("the command's process ended before it could start the command")
    }
}

impl Drop for Held {
    /// A child that never became its command is never left behind,
    /// whatever path the parent took.
    fn drop(&mut self) {
        if !self.released {
            self.abort();
        }
    }
}

/// Reads until `buf` is full or end of file; the number of bytes read.
fn read_full(fd: &OwnedFd, buf: &mut [u8]) -> Result<usize, Error> {
    let mut done = 0;
    while done < buf.len() {
        match nix::unistd::read(fd.as_fd(), &mut buf[done..]) {
            Ok(0) => break,
            Ok(n) => done += n,
            Err(Errno::EINTR) => continue,
            Err(e) => return Err(Error::os("cannot read from the command's process", e)),
        }
    }
    Ok(done)
}

/// The error for a step the child could not take.
fn step_error(step: Step, errno: Errno, ns: &Namespaces, argv: Option<&Argv>) -> Error {
    if step == Step::Exec {
        if let Some(argv) = argv {
            return super::exec_error(&argv.name(), errno);
        }
    }
    let words = errno.desc().to_lowercase();
    let denied = matches!(errno, Errno::EPERM | Errno::EACCES);
    let hint = if denied && step == Step::MountProc && ns.user && !ns.pid {
        " (in a user namespace, /proc can only be mounted for a new PID namespace: add --pid)"
    } else if denied && !ns.user {
        not_permitted_hint()
    } else {
        ""
    };
    Error::failed(format!("{}: {words}{hint}", step.describe(ns))).with_errno(errno)
}

/// The way out of a refusal to make namespaces: a user namespace, and
/// root for those who are not (see `may_suggest_root`).
fn not_permitted_hint() -> &'static str {
    if may_suggest_root() {
        " (run as root, or add --user --map-root)"
    } else {
        " (add --user --map-root)"
    }
}

/// Words for a failed clone, with the hints that help.
fn clone_errno_words(errno: Errno) -> String {
    let words = errno.desc().to_lowercase();
    match errno {
        Errno::EPERM => format!("{words}{}", not_permitted_hint()),
        Errno::ENOSPC | Errno::EUSERS => {
            format!("{words} (the limit in /proc/sys/user/ is reached)")
        }
        Errno::EINVAL => format!("{words} (does this kernel support these namespaces?)"),
        _ => words,
    }
}

/// What the cloned child runs: everything here was prepared by the parent
/// and is only read.
struct Child<'a> {
    gate: RawFd,
    report: RawFd,
    parent_ends: [RawFd; 2],
    parent: Pid,
    hold: bool,
    ns: &'a Namespaces,
    argv: &'a Argv,
    mask: &'a SigSet,
}

impl Child<'_> {
    /// The child's whole life: wait at the gate, set up inside, exec.
    fn run(&self) -> isize {
        for fd in self.parent_ends {
            let _ = nix::unistd::close(fd);
        }
        // Set before anything else waits, so nsrun dying at any later point
        // takes the child with it. If nsrun died before this line, the
        // getppid() check catches it without a PID namespace; inside one
        // (getppid() is 0 either way) the gate's end of file does, since
        // the child holds no write end of the gate itself.
        if let Err(e) = nix::sys::prctl::set_pdeathsig(Signal::SIGKILL) {
            self.fail(Step::DeathSignal, e);
        }
        if nix::unistd::getppid() != self.parent {
            exit(125);
        }
        if self.ns.needs_id_maps() && self.wait_for(MAPS_WRITTEN).is_err() {
            exit(125);
        }
        if let Err((step, errno)) = super::namespaces::set_up_inside(self.ns) {
            self.fail(step, errno);
        }
        if self.hold && (self.write(&[READY]).is_err() || self.wait_for(GO).is_err()) {
            exit(125);
        }
        if let Err(e) = nix::sys::signal::sigprocmask(
            nix::sys::signal::SigmaskHow::SIG_SETMASK,
            Some(self.mask),
            None,
        ) {
            self.fail(Step::SignalMask, e);
        }
        // SAFETY: restores the default action of SIGPIPE, which the Rust
        // runtime set to "ignore" in nsrun and which exec would otherwise
        // pass on to the command. No handler is installed.
        let _ = unsafe {
            nix::sys::signal::signal(Signal::SIGPIPE, nix::sys::signal::SigHandler::SigDfl)
        };
        // SAFETY: `pointers` is a NULL-terminated array of pointers into
        // `strings`, both alive (and unchanged) in this copy of the parent's
        // memory; execvp only reads them.
        unsafe { nix::libc::execvp(self.argv.pointers[0], self.argv.pointers.as_ptr()) };
        self.fail(Step::Exec, Errno::last())
    }

    fn wait_for(&self, byte: u8) -> Result<(), ()> {
        let mut got = [0u8; 1];
        loop {
            // SAFETY: `gate` is the child's read end of the gate pipe, open
            // for as long as the child runs.
            let gate = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.gate) };
            match nix::unistd::read(gate, &mut got) {
                Err(Errno::EINTR) => continue,
                Ok(1) if got[0] == byte => return Ok(()),
                _ => return Err(()),
            }
        }
    }

    fn write(&self, bytes: &[u8]) -> Result<(), Errno> {
        // SAFETY: `report` is the child's write end of the report pipe,
        // open until exec closes it.
        let report = unsafe { std::os::fd::BorrowedFd::borrow_raw(self.report) };
        nix::unistd::write(report, bytes).map(drop)
    }

    fn fail(&self, step: Step, errno: Errno) -> ! {
        let e = (errno as i32).to_ne_bytes();
        let _ = self.write(&[FAILED, step as u8, e[0], e[1], e[2], e[3]]);
        exit(match (step, errno) {
            (Step::Exec, Errno::ENOENT | Errno::ENOTDIR) => 127,
            (Step::Exec, _) => 126,
            _ => 125,
        })
    }
}

/// Ends the child at once: no atexit handlers, no flushing of buffers that
/// are copies of the parent's.
fn exit(code: i32) -> ! {
    // SAFETY: _exit(2) only ends the process; it touches no memory.
    unsafe { nix::libc::_exit(code) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn argv_is_null_terminated_and_refuses_nul() {
        let argv = Argv::new(&["echo".into(), "hi".into()]).unwrap();
        assert_eq!(argv.pointers.len(), 3);
        assert!(argv.pointers[2].is_null());
        assert_eq!(argv.name(), "echo");
        assert_eq!(Argv::new(&[]).unwrap_err().kind(), Kind::Usage);
        let nul = OsString::from_vec(b"a\0b".to_vec());
        assert_eq!(Argv::new(&[nul]).unwrap_err().kind(), Kind::Usage);
    }

    #[test]
    fn step_errors_read_as_words() {
        let ns = Namespaces {
            hostname: Some("box".into()),
            ..Default::default()
        };
        let e = step_error(Step::Hostname, Errno::EPERM, &ns, None);
        assert_eq!(e.errno(), Some(Errno::EPERM));
        assert_eq!(
            e.to_string(),
            format!(
                "cannot set the hostname to 'box': operation not permitted{}",
                not_permitted_hint()
            )
        );
        // Root is never told to be root.
        assert_eq!(
            not_permitted_hint().contains("run as root"),
            may_suggest_root()
        );
        let argv = Argv::new(&["nope".into()]).unwrap();
        let e = step_error(Step::Exec, Errno::ENOENT, &ns, Some(&argv));
        assert_eq!(e.kind(), Kind::NotFound);
        assert_eq!(e.to_string(), "cannot run nope: command not found");
    }

    use std::os::unix::ffi::OsStringExt;
}
