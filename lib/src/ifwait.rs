//! Waiting for a network interface to appear in this process's network
//! namespace, as a hook in another namespace (vethup) creates it.
//!
//! The wait subscribes to the kernel's link notifications (rtnetlink,
//! `RTMGRP_LINK`) *before* it first looks, then looks again after every
//! notification: it reacts as soon as the interface is created, moved in or
//! renamed, and sleeps in `poll` otherwise. It looks by `if_nametoindex`,
//! which asks this network namespace; `/sys/class/net` would show the
//! namespace of whoever mounted sysfs instead.

use crate::error::{errno_words, Error};
use crate::name::IfName;
use nix::errno::Errno;
use nix::ifaddrs::getifaddrs;
use nix::net::if_::{if_nametoindex, InterfaceFlags};
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use nix::sys::socket::{
    bind, recv, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::time::{Duration, Instant};

/// The rtnetlink multicast group of link events (`RTMGRP_LINK`).
const RTMGRP_LINK: u32 = 1;

/// An interface that exists in this network namespace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Present {
    pub index: u32,
    /// Whether it was administratively up when found.
    pub up: bool,
}

/// Waits up to `timeout` for `name` to exist in this network namespace.
/// `Ok(None)` when it did not appear in time; an error only when the wait
/// itself could not be set up.
pub fn wait_for(name: &IfName, timeout: Duration) -> Result<Option<Present>, Error> {
    let deadline = Instant::now() + timeout;
    // Subscribed before the first look, so an interface created between
    // the look and the poll still wakes us.
    let events = subscribe().map_err(|e| {
        Error::failed(format!(
            "cannot watch for {name} to appear: {}",
            errno_words(e)
        ))
    })?;
    loop {
        if let Some(present) = look(name)? {
            return Ok(Some(present));
        }
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Ok(None);
        }
        let mut fds = [PollFd::new(events.as_fd(), PollFlags::POLLIN)];
        match poll(&mut fds, poll_timeout(left)) {
            Ok(_) | Err(Errno::EINTR) => {}
            Err(e) => {
                return Err(Error::failed(format!(
                    "cannot wait for {name} to appear: {}",
                    errno_words(e)
                )))
            }
        }
        drain(&events);
    }
}

/// Whether `name` exists now, and its state.
pub fn look(name: &IfName) -> Result<Option<Present>, Error> {
    match if_nametoindex(name.as_str()) {
        Ok(index) => Ok(Some(Present {
            index,
            up: is_up(name),
        })),
        Err(Errno::ENODEV) => Ok(None),
        Err(e) => Err(Error::failed(format!(
            "cannot look for {name}: {}",
            errno_words(e)
        ))),
    }
}

/// Whether the interface is administratively up; false when unknown.
fn is_up(name: &IfName) -> bool {
    getifaddrs().is_ok_and(|mut all| {
        all.any(|a| a.interface_name == name.as_str() && a.flags.contains(InterfaceFlags::IFF_UP))
    })
}

fn subscribe() -> Result<OwnedFd, Errno> {
    let fd = socket(
        AddressFamily::Netlink,
        SockType::Raw,
        SockFlag::SOCK_CLOEXEC | SockFlag::SOCK_NONBLOCK,
        SockProtocol::NetlinkRoute,
    )?;
    bind(fd.as_raw_fd(), &NetlinkAddr::new(0, RTMGRP_LINK))?;
    Ok(fd)
}

/// Reads every pending notification. Their contents do not matter: each
/// only says "look again". An overrun (ENOBUFS) means the same.
fn drain(events: &OwnedFd) {
    let mut buf = [0u8; 8192];
    loop {
        match recv(events.as_raw_fd(), &mut buf, MsgFlags::MSG_DONTWAIT) {
            Ok(0) => return,
            Ok(_) | Err(Errno::EINTR) | Err(Errno::ENOBUFS) => continue,
            Err(_) => return,
        }
    }
}

/// Milliseconds for poll, rounded up so the last fraction of a millisecond
/// is slept rather than spun.
fn poll_timeout(left: Duration) -> PollTimeout {
    let ms = left.as_micros().div_ceil(1000).min(i32::MAX as u128) as i32;
    PollTimeout::try_from(ms).unwrap_or(PollTimeout::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn poll_timeouts_round_up() {
        assert_eq!(i32::from(poll_timeout(Duration::from_micros(1))), 1);
        assert_eq!(i32::from(poll_timeout(Duration::from_millis(1500))), 1500);
        assert_eq!(
            i32::from(poll_timeout(Duration::from_secs(u64::MAX))),
            i32::MAX
        );
    }

    #[test]
    fn loopback_is_always_there_and_a_stranger_never() {
        let lo: IfName = "lo".parse().unwrap();
        assert!(look(&lo).unwrap().is_some());
        let ghost: IfName = "nsnet-ghost0".parse().unwrap();
        assert_eq!(wait_for(&ghost, Duration::ZERO).unwrap(), None);
    }
}
