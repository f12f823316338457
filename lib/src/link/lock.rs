//! The host's link lock: what makes each check of vethup and vethdown and
//! the action that depends on it one step, as seen by every other vethup
//! and vethdown.
//!
//! Without it, two vethups given the same `--addr` could both see it free
//! and both assign it, and a vethdown that saw a bridge of vethup's
//! without ports could remove it just after a concurrent vethup attached
//! its pair. So each takes an exclusive `flock` on [`PATH`] before it looks
//! and holds it until it has acted. The kernel releases the lock when the
//! holder exits, however it dies, so a killed run never leaves anyone
//! waiting; the file itself stays, empty, and says nothing by existing.
//! Dry runs change nothing and take no lock.

use crate::error::Error;
use nix::errno::Errno;
use nix::fcntl::{open, Flock, FlockArg, OFlag};
use nix::sys::stat::Mode;
use std::fs::File;

/// The directory of nsnet's lock files; on a tmpfs, so none survives a boot.
pub const DIR: &str = "/run/nsnet";
/// The lock file of links.
pub const PATH: &str = "/run/nsnet/link.lock";

/// The lock, held until dropped.
#[derive(Debug)]
pub struct LinkLock {
    _lock: Flock<File>,
}

impl LinkLock {
    /// Waits for the lock and takes it. Neither the directory nor the file
    /// is followed when it is a symbolic link.
    pub fn take() -> Result<LinkLock, Error> {
        let cannot = |e: Errno| Error::os(format!("cannot lock {PATH}"), e);
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
        let fd = nix::fcntl::openat(
            &dir,
            "link.lock",
            OFlag::O_RDWR | OFlag::O_CREAT | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(cannot)?;
        let lock =
            Flock::lock(File::from(fd), FlockArg::LockExclusive).map_err(|(_, e)| cannot(e))?;
        Ok(LinkLock { _lock: lock })
    }
}
