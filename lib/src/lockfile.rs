//! nsnet's lock files, in [`DIR`]: each serialises one kind of
//! check-then-act (links, natctl's rules) between concurrent runs. An
//! exclusive `flock` is held until dropped; the kernel releases it when
//! the holder exits, however it dies, so a killed run never leaves anyone
//! waiting, and the empty file says nothing by existing.
//!
//! Neither the directory nor the file is followed when it is a symbolic
//! link: a lock is never taken on, nor a file created at, a place someone
//! pointed it to.

use crate::error::Error;
use nix::errno::Errno;
use nix::fcntl::{open, Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;
use std::fs::File;

/// The directory of nsnet's lock files; on a tmpfs, so none survives a boot.
pub const DIR: &str = "/run/nsnet";

/// Waits for the lock `DIR/name` and takes it.
pub fn take(name: &str) -> Result<Flock<File>, Error> {
    let cannot = |e: Errno| Error::os(format!("cannot lock {DIR}/{name}"), e);
    match nix::unistd::mkdir(DIR, Mode::from_bits_truncate(0o755)) {
        Ok(()) | Err(Errno::EEXIST) => {}
        Err(e) => return Err(cannot(e)),
    }
    let dir = open(
        DIR,
        OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(cannot)?;
    // Opened for writing, so only who may change what it guards can hold it.
    let fd = nix::fcntl::openat(
        &dir,
        name,
        OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
        Mode::from_bits_truncate(0o600),
    )
    .map_err(|e| match e {
        Errno::ELOOP => Error::os_said(
            format!("cannot lock {DIR}/{name}"),
            e,
            "a symbolic link is there, which nsnet never follows (remove it)",
        ),
        e => cannot(e),
    })?;
    Flock::lock(File::from(fd), FlockArg::LockExclusive).map_err(|(_, e)| cannot(e))
}
