//! The host's link lock: what makes each check of vethup and vethdown and
//! the action that depends on it one step, as seen by every other vethup
//! and vethdown.
//!
//! Without it, two vethups given the same `--addr` could both see it free
//! and both assign it, and a vethdown that saw a bridge of vethup's
//! without ports could remove it just after a concurrent vethup attached
//! its pair. So each takes an exclusive `flock` on [`NAME`] before it looks
//! and holds it until it has acted. The kernel releases the lock when the
//! holder exits, however it dies ([`crate::lockfile`]). Dry runs change
//! nothing and take no lock.

use crate::error::Error;
use crate::lockfile;
use nix::fcntl::Flock;
use std::fs::File;

/// The lock file of links, in [`lockfile::DIR`]: `/run/nsnet/link.lock`.
pub const NAME: &str = "link.lock";

/// The lock, held until dropped.
#[derive(Debug)]
pub struct LinkLock {
    _lock: Flock<File>,
}

impl LinkLock {
    /// Waits for the lock and takes it (see [`lockfile::take`]).
    pub fn take() -> Result<LinkLock, Error> {
        Ok(LinkLock {
            _lock: lockfile::take(NAME)?,
        })
    }
}
