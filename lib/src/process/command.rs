//! The command a wrapper runs: finding it the way `execvp` will, so a
//! wrapper can refuse with 126/127 before it changes anything; starting it
//! as a child that dies with its supervisor; and giving it back the
//! SIGPIPE disposition Rust's runtime took away.

use super::exec_error;
use crate::error::Error;
use nix::errno::Errno;
use nix::sys::signal::{signal, sigprocmask, SigHandler, SigSet, SigmaskHow, Signal};
use nix::unistd::{access, AccessFlags, Pid};
use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::Path;

/// glibc's search path for `execvp` when PATH is unset.
const DEFAULT_PATH: &str = "/bin:/usr/bin";

/// Checks that `program` would be found and executed by `execvp`:
/// `NotFound` (127) when it is nowhere, `CannotExecute` (126) when what is
/// there cannot be executed. The same errors as [`super::exec`] gives.
pub fn check_command(program: &OsStr) -> Result<(), Error> {
    let name = program.to_string_lossy();
    if program.is_empty() {
        return Err(exec_error(&name, Errno::ENOENT));
    }
    if program.as_bytes().contains(&b'/') {
        return executable(Path::new(program)).map_err(|e| exec_error(&name, e));
    }
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    // Like execvp: a match that cannot be executed is remembered, and the
    // search goes on for one that can.
    let mut problem = Errno::ENOENT;
    for dir in std::env::split_paths(&path) {
        let dir = if dir.as_os_str().is_empty() {
            Path::new(".").to_path_buf()
        } else {
            dir
        };
        match executable(&dir.join(program)) {
            Ok(()) => return Ok(()),
            Err(Errno::EACCES) => problem = Errno::EACCES,
            Err(_) => {}
        }
    }
    Err(exec_error(&name, problem))
}

/// Whether `path` is a file this process may execute, as `execve` judges.
fn executable(path: &Path) -> Result<(), Errno> {
    let meta = std::fs::metadata(path)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(Errno::ENOENT as i32)))?;
    if !meta.is_file() {
        return Err(Errno::EACCES);
    }
    access(path, AccessFlags::X_OK)
}

/// Starts `argv` as a child with the environment and the standard
/// streams, SIGPIPE at its default action, and `mask` as its signal mask
/// (the one [`super::block_supervised_signals`] returned: the supervisor's
/// blocked signals must not stay blocked in the command); it dies with this
/// process (`with_death_signal`). Returns its PID; errors are those of
/// [`super::exec`].
pub fn spawn(argv: &[OsString], mask: &SigSet) -> Result<Pid, Error> {
    let Some((program, args)) = argv.split_first() else {
        return Err(Error::usage("no command given"));
    };
    let mut command = std::process::Command::new(program);
    command.args(args);
    with_signal_mask(&mut command, *mask);
    with_death_signal(&mut command);
    match command.spawn() {
        Ok(child) => Ok(Pid::from_raw(child.id() as i32)),
        Err(e) => Err(match e.raw_os_error() {
            Some(raw) => exec_error(&program.to_string_lossy(), Errno::from_raw(raw)),
            None => Error::io(format!("cannot run {}", program.to_string_lossy()), &e),
        }),
    }
}

/// Makes the child of `command` start with `mask` as its signal mask:
/// `std::process::Command` passes on the spawning thread's mask, and a
/// supervisor's blocked signals must not stay blocked in what it runs (a
/// SIGTERM passed on would never land).
pub(super) fn with_signal_mask(command: &mut std::process::Command, mask: SigSet) {
    // SAFETY: the closure runs in the forked child before exec and only
    // calls sigprocmask, which is async-signal-safe; it allocates nothing
    // and touches no lock (an error is a plain errno).
    unsafe {
        command.pre_exec(move || {
            sigprocmask(SigmaskHow::SIG_SETMASK, Some(&mask), None).map_err(std::io::Error::from)
        });
    }
}

/// Makes the child of `command` die by SIGKILL when this process dies, as
/// nsrun's child dies with nsrun: a supervisor killed by SIGKILL (netinit
/// `--init` under a SIGKILLed nsrun) leaves no orphan behind. The signal is
/// armed in the child, after the fork; a parent that died before that is
/// caught by comparing the child's parent with the one expected (a PID
/// namespace's init is its own expected parent: its children see it as 1,
/// and so does it), so the command never starts as an orphan.
fn with_death_signal(command: &mut std::process::Command) {
    let parent = nix::unistd::getpid();
    // SAFETY: the closure runs in the forked child before exec and only
    // calls prctl and getppid, both async-signal-safe; it allocates
    // nothing and touches no lock (errors are plain errnos).
    unsafe {
        command.pre_exec(move || {
            nix::sys::prctl::set_pdeathsig(Signal::SIGKILL).map_err(std::io::Error::from)?;
            if nix::unistd::getppid() != parent {
                return Err(std::io::Error::from(Errno::ESRCH));
            }
            Ok(())
        });
    }
}

/// Gives SIGPIPE back its default action. Rust's runtime ignores SIGPIPE,
/// and an ignored signal stays ignored across exec: without this, `yes |
/// head` behind a wrapper would see EPIPE instead of dying quietly, and a
/// tool whose reader went away would fail its next write instead of ending.
pub fn restore_sigpipe() -> Result<(), Error> {
    set_sigpipe(SigHandler::SigDfl)
}

/// Ignores SIGPIPE, so that a write to a pipe whose reader is gone fails
/// with EPIPE instead of ending this process: how nsrun learns that its
/// child died before the hand-off, and carries on to its on-exit hooks.
pub fn ignore_sigpipe() -> Result<(), Error> {
    set_sigpipe(SigHandler::SigIgn)
}

fn set_sigpipe(action: SigHandler) -> Result<(), Error> {
    // SAFETY: SIG_DFL and SIG_IGN install no handler of ours, so no code
    // can run in a signal context; changing a disposition is sound in any
    // thread.
    unsafe { signal(Signal::SIGPIPE, action) }
        .map(drop)
        .map_err(|e| Error::os("cannot set the action of SIGPIPE", e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn commands_are_found_like_execvp_finds_them() {
        assert!(check_command(OsStr::new("sh")).is_ok());
        assert!(check_command(OsStr::new("/bin/sh")).is_ok());
        let e = check_command(OsStr::new("nsnet-no-such-command")).unwrap_err();
        assert_eq!(e.kind(), Kind::NotFound);
        assert_eq!(
            e.to_string(),
            "cannot run nsnet-no-such-command: command not found"
        );
        assert_eq!(
            check_command(OsStr::new("")).unwrap_err().kind(),
            Kind::NotFound
        );
        assert_eq!(
            check_command(OsStr::new("/nonexistent/x"))
                .unwrap_err()
                .kind(),
            Kind::NotFound
        );
        let e = check_command(OsStr::new("/")).unwrap_err();
        assert_eq!(e.kind(), Kind::CannotExecute);
        assert_eq!(e.to_string(), "cannot run /: permission denied");
    }

    #[test]
    fn a_file_without_execute_permission_is_126() {
        let dir = std::env::temp_dir().join(format!("nsnet-check-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("plain");
        std::fs::write(&file, "echo hi\n").unwrap();
        let e = check_command(file.as_os_str()).unwrap_err();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(e.kind(), Kind::CannotExecute);
    }

    #[test]
    fn spawn_errors_match_exec_errors() {
        let mask = SigSet::empty();
        let e = spawn(&["nsnet-no-such-command".into()], &mask).unwrap_err();
        assert_eq!(e.kind(), Kind::NotFound);
        assert_eq!(spawn(&[], &mask).unwrap_err().kind(), Kind::Usage);
    }
}
