//! Link events of this thread's network namespace (`RTMGRP_LINK`): a link
//! appeared, changed, or went; and namespace id events (`RTNLGRP_NSID`): a
//! peer namespace got an id or lost it, as a dead namespace does when the
//! kernel starts to dismantle it. A subscriber sleeps in `poll` until the
//! kernel says something or its deadline passes; nothing polls in a loop.
//!
//! Subscribe *before* looking at the state the events would change, so a
//! change between the look and the wait still wakes the waiter.

use super::{Link, BUFFER};
use crate::error::Error;
use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
use netlink_packet_route::RouteNetlinkMessage;
use netlink_sys::{protocols::NETLINK_ROUTE, SocketAddr};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags, PollTimeout};
use std::os::fd::{AsFd, BorrowedFd};
use std::time::{Duration, Instant};

/// The rtnetlink multicast groups of link and namespace id events, as
/// bits: `RTMGRP_LINK`, and `1 << (RTNLGRP_NSID - 1)`.
const GROUPS: u32 = 1 | 1 << (28 - 1);

/// One thing the kernel said about a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LinkEvent {
    /// A link appeared or changed (`RTM_NEWLINK`).
    New(Link),
    /// A link went (`RTM_DELLINK`).
    Deleted(Link),
    /// A namespace got an id here or lost it (`RTM_NEWNSID`,
    /// `RTM_DELNSID`).
    Namespace,
    /// The kernel dropped events (the socket overran): anything may have
    /// happened, look again.
    Lost,
}

/// A subscription to the link and namespace id events of this thread's
/// namespace.
#[derive(Debug)]
pub struct LinkEvents {
    socket: netlink_sys::Socket,
}

impl LinkEvents {
    pub fn subscribe() -> Result<LinkEvents, Error> {
        let open = || -> std::io::Result<netlink_sys::Socket> {
            let mut socket = netlink_sys::Socket::new(NETLINK_ROUTE)?;
            socket.bind(&SocketAddr::new(0, GROUPS))?;
            socket.set_non_blocking(true)?;
            Ok(socket)
        };
        let socket = open().map_err(|e| Error::io("cannot watch the network interfaces", &e))?;
        Ok(LinkEvents { socket })
    }

    /// The events that arrive before `deadline`: those already waiting, or
    /// else the first ones to come. Empty when the deadline passed first.
    pub fn next(&mut self, deadline: Instant) -> Result<Vec<LinkEvent>, Error> {
        loop {
            let events = self.pending()?;
            if !events.is_empty() {
                return Ok(events);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(events);
            }
            let mut fds = [PollFd::new(self.socket.as_fd(), PollFlags::POLLIN)];
            match poll(&mut fds, poll_timeout(left)) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(e) => return Err(Error::os("cannot wait for the network interfaces", e)),
            }
        }
    }

    /// Waits until the kernel has said that each link of `indexes` went,
    /// or until `over` hangs up (the read end of a pipe whose writer is
    /// dropped when the removal is over, done or failed). The kernel says
    /// a link went once it has unlisted it, its addresses and routes gone
    /// with it, before it waits out the grace period that ends the removal.
    /// Lost events, or a socket that fails, leave `over` alone to decide;
    /// only a `poll` of that alone that fails returns early.
    pub fn wait_gone(&mut self, indexes: &[u32], over: BorrowedFd<'_>) {
        let mut left: Vec<u32> = indexes.to_vec();
        let mut watching = true;
        while !left.is_empty() {
            let mut fds = vec![PollFd::new(over, PollFlags::POLLIN)];
            if watching {
                fds.push(PollFd::new(self.socket.as_fd(), PollFlags::POLLIN));
            }
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) | Err(Errno::EINTR) => {}
                Err(_) if watching => {
                    watching = false;
                    continue;
                }
                Err(_) => return,
            }
            if fds[0].any().unwrap_or(true) {
                return;
            }
            match self.pending() {
                Ok(events) => {
                    for event in events {
                        match event {
                            LinkEvent::Deleted(link) => left.retain(|i| *i != link.index),
                            LinkEvent::Lost => watching = false,
                            _ => {}
                        }
                    }
                }
                Err(_) => watching = false,
            }
        }
    }

    /// Every event already waiting.
    fn pending(&mut self) -> Result<Vec<LinkEvent>, Error> {
        let mut events = Vec::new();
        let mut buffer = vec![0u8; BUFFER];
        loop {
            let len = match self.socket.recv(&mut &mut buffer[..], 0) {
                Ok(len) => len.min(BUFFER),
                Err(e) if e.raw_os_error() == Some(Errno::EAGAIN as i32) => return Ok(events),
                Err(e) if e.raw_os_error() == Some(Errno::EINTR as i32) => continue,
                Err(e) if e.raw_os_error() == Some(Errno::ENOBUFS as i32) => {
                    events.push(LinkEvent::Lost);
                    continue;
                }
                Err(e) => return Err(Error::io("cannot read the network interfaces' events", &e)),
            };
            let mut data = &buffer[..len];
            while !data.is_empty() {
                let length = super::header_length(data);
                if length == 0 || length > data.len() {
                    break;
                }
                if let Ok(message) = NetlinkMessage::<RouteNetlinkMessage>::deserialize(data) {
                    match message.payload {
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::NewLink(l)) => {
                            events.extend(Link::parse(&l).map(LinkEvent::New))
                        }
                        NetlinkPayload::InnerMessage(RouteNetlinkMessage::DelLink(l)) => {
                            events.extend(Link::parse(&l).map(LinkEvent::Deleted))
                        }
                        NetlinkPayload::InnerMessage(
                            RouteNetlinkMessage::NewNsId(_) | RouteNetlinkMessage::DelNsId(_),
                        ) => events.push(LinkEvent::Namespace),
                        _ => {}
                    }
                }
                data = &data[super::align(length).min(data.len())..];
            }
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
}
