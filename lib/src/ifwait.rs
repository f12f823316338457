//! Waiting for a network interface to appear in this process's network
//! namespace, as a hook in another namespace (vethup) creates it.
//!
//! The wait subscribes to the kernel's link events ([`LinkEvents`])
//! *before* it first looks, then looks again after every event: it reacts
//! as soon as the interface is created, moved in or renamed, and sleeps in
//! `poll` otherwise. It looks by asking this namespace's rtnetlink for the
//! name; `/sys/class/net` would show the namespace of whoever mounted sysfs.

use crate::error::{Context, Error};
use crate::name::IfName;
use crate::netlink::events::LinkEvents;
use crate::netlink::Socket;
use std::time::{Duration, Instant};

/// An interface that exists in this network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Present {
    pub index: u32,
    /// Whether it was administratively up when found.
    pub up: bool,
}

/// Waits up to `timeout` for `name` to exist in the namespace of `socket`
/// (which must be this thread's). `Ok(None)` when it did not appear in
/// time; an error only when the wait itself could not be set up.
pub fn wait_for(
    socket: &mut Socket,
    name: &IfName,
    timeout: Duration,
) -> Result<Option<Present>, Error> {
    let deadline = Instant::now() + timeout;
    // Subscribed before the first look, so an interface created between
    // the look and the wait still wakes us.
    let mut events =
        LinkEvents::subscribe().with_context(|| format!("cannot watch for {name} to appear"))?;
    loop {
        if let Some(present) = look(socket, name)? {
            return Ok(Some(present));
        }
        if events
            .next(deadline)
            .with_context(|| format!("cannot wait for {name} to appear"))?
            .is_empty()
        {
            return Ok(None);
        }
    }
}

/// Whether `name` exists now, and its state.
pub fn look(socket: &mut Socket, name: &IfName) -> Result<Option<Present>, Error> {
    Ok(socket.link(name.as_str())?.map(|link| Present {
        index: link.index,
        up: link.up,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_is_always_there_and_a_stranger_never() {
        let mut socket = Socket::here().unwrap();
        let lo: IfName = "lo".parse().unwrap();
        assert_eq!(look(&mut socket, &lo).unwrap().map(|p| p.index), Some(1));
        let ghost: IfName = "nsnet-ghost0".parse().unwrap();
        assert_eq!(wait_for(&mut socket, &ghost, Duration::ZERO).unwrap(), None);
    }
}
