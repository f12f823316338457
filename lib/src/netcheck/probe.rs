//! Probes sent from inside TARGET's network namespace: ICMP echo toward an
//! address, a DNS query toward a name server, and don't-fragment echoes of
//! many sizes toward a destination to find its path MTU.
//!
//! Each probe runs in a thread of its own that has entered the namespace
//! with setns(2): sockets belong to the namespace of the thread that makes
//! them, and nothing else of this process moves. Only the network
//! namespace is entered, so nothing of the container's is mounted, written
//! or changed; the packets are what a process inside would send.
//!
//! ICMP goes through raw sockets: the unprivileged ICMP datagram socket is
//! off in a fresh namespace (`ping_group_range` is `1 0` there). IPv4
//! probes carry their own header, so the don't-fragment bit is set and the
//! kernel neither fragments them nor sizes them by a path MTU it cached
//! from an earlier probe.

use super::dns;
use crate::error::{errno_words, Error};
use nix::errno::Errno;
use nix::poll::{poll, PollFd, PollFlags};
use nix::sys::socket::{
    recvfrom, sendto, setsockopt, socket, sockopt, AddressFamily, MsgFlags, SockFlag, SockProtocol,
    SockType, SockaddrIn, SockaddrIn6, SockaddrStorage,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, UdpSocket};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd};
use std::sync::atomic::{AtomicU16, Ordering};
use std::time::{Duration, Instant};

/// How long an echo is waited for, and how many are sent in that time.
const ECHO_WAIT: Duration = Duration::from_millis(1000);
const ECHO_TRIES: u32 = 3;
/// A name server gets longer: a recursive resolver may have to ask on.
const DNS_WAIT: Duration = Duration::from_millis(2000);
const DNS_TRIES: u32 = 2;
/// How long one round of path MTU probes is waited for.
const MTU_WAIT: Duration = Duration::from_millis(1000);
/// Bytes of IP and ICMP header in an echo request.
const V4_HEADERS: usize = 20 + 8;
const V6_HEADERS: usize = 40 + 8;
/// The smallest MTU each family must carry (RFC 791, RFC 8200).
pub const MIN_MTU_V4: u32 = 68;
pub const MIN_MTU_V6: u32 = 1280;
/// MTUs found on real paths (PPPoE, tunnels, VPNs…), tried first.
const COMMON_MTUS: [u32; 19] = [
    1500, 1492, 1480, 1472, 1460, 1450, 1440, 1420, 1400, 1380, 1360, 1320, 1280, 1200, 1100, 1000,
    800, 576, 296,
];

/// Runs `probes` at once, each in a thread that has entered `netns`, and
/// returns what each heard, in order.
pub fn run_inside<T: Send>(
    netns: BorrowedFd<'_>,
    probes: Vec<Box<dyn FnOnce() -> Result<T, Error> + Send + '_>>,
) -> Result<Vec<T>, Error> {
    std::thread::scope(|scope| {
        let threads: Vec<_> = probes
            .into_iter()
            .map(|probe| {
                scope.spawn(move || {
                    nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(|e| Error::os("cannot enter the namespace to probe from it", e))?;
                    probe()
                })
            })
            .collect();
        threads
            .into_iter()
            .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
            .collect()
    })
}

/// An ICMP error about one of our probes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IcmpError {
    NetUnreachable,
    HostUnreachable,
    PortUnreachable,
    /// A firewall on the way rejects it.
    Prohibited,
    /// Too big for a link on the way, whose MTU is given (0: unknown).
    TooBig(u32),
    TimeExceeded,
    Other(u8, u8),
}

impl IcmpError {
    fn v4(kind: u8, code: u8, mtu: u16) -> IcmpError {
        match (kind, code) {
            (3, 0 | 6 | 11) => IcmpError::NetUnreachable,
            (3, 1 | 7 | 12) => IcmpError::HostUnreachable,
            (3, 3) => IcmpError::PortUnreachable,
            (3, 4) => IcmpError::TooBig(mtu.into()),
            (3, 9 | 10 | 13) => IcmpError::Prohibited,
            (11, _) => IcmpError::TimeExceeded,
            (kind, code) => IcmpError::Other(kind, code),
        }
    }

    fn v6(kind: u8, code: u8, mtu: u32) -> IcmpError {
        match (kind, code) {
            (1, 0) => IcmpError::NetUnreachable,
            (1, 3) => IcmpError::HostUnreachable,
            (1, 4) => IcmpError::PortUnreachable,
            (1, 1 | 5 | 6) => IcmpError::Prohibited,
            (2, _) => IcmpError::TooBig(mtu),
            (3, _) => IcmpError::TimeExceeded,
            (kind, code) => IcmpError::Other(kind, code),
        }
    }

    pub fn words(&self) -> String {
        match self {
            IcmpError::NetUnreachable => "network unreachable".into(),
            IcmpError::HostUnreachable => "host unreachable".into(),
            IcmpError::PortUnreachable => "port unreachable".into(),
            IcmpError::Prohibited => "administratively prohibited (a firewall rejects it)".into(),
            IcmpError::TooBig(0) => "too big for the next link".into(),
            IcmpError::TooBig(mtu) => format!("too big for the next link (MTU {mtu})"),
            IcmpError::TimeExceeded => "time exceeded (a routing loop?)".into(),
            IcmpError::Other(kind, code) => format!("ICMP type {kind} code {code}"),
        }
    }
}

/// What came back for a probe.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Heard {
    Reply,
    /// An ICMP error from `from` (a router on the way, or the destination).
    Icmp {
        from: IpAddr,
        error: IcmpError,
    },
    /// The kernel of the namespace refused to send it (no route…).
    Local(Errno),
    Silence,
}

impl Heard {
    /// `no answer within 1s`, `198.51.100.1 says network unreachable`.
    pub fn words(&self) -> String {
        match self {
            Heard::Reply => "answered".into(),
            Heard::Icmp { from, error } => format!("{from} says {}", error.words()),
            Heard::Local(errno) => format!("cannot send: {}", errno_words(*errno)),
            Heard::Silence => format!("no answer within {}s", ECHO_WAIT.as_secs()),
        }
    }
}

/// ICMP identifiers of this run: distinct per probe, so that each probe
/// knows its own answers among those every raw socket sees.
fn next_id() -> u16 {
    static NEXT: AtomicU16 = AtomicU16::new(0);
    let base = (std::process::id() as u16).wrapping_mul(251);
    base.wrapping_add(NEXT.fetch_add(1, Ordering::Relaxed))
}

/// One event a raw ICMP socket delivered about our probes.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    Reply {
        seq: u16,
    },
    Error {
        seq: u16,
        from: IpAddr,
        error: IcmpError,
    },
}

/// Raw ICMP sockets of one family: one to send echo requests, one (the
/// same, for IPv6) to hear replies and errors.
struct Pinger {
    v6: bool,
    send: OwnedFd,
    hear: OwnedFd,
    id: u16,
}

fn cannot(what: &str, errno: Errno) -> Error {
    Error::os(format!("cannot {what} inside the namespace"), errno)
}

impl Pinger {
    fn new(v6: bool) -> Result<Pinger, Error> {
        let raw = |family, proto| {
            socket(family, SockType::Raw, SockFlag::SOCK_CLOEXEC, proto)
                .map_err(|e| cannot("open a raw ICMP socket", e))
        };
        if v6 {
            let fd = raw(AddressFamily::Inet6, SockProtocol::IcmpV6)?;
            setsockopt(&fd, sockopt::Ipv6DontFrag, &true)
                .map_err(|e| cannot("set don't-fragment", e))?;
            Ok(Pinger {
                v6,
                send: fd
                    .try_clone()
                    .map_err(|e| Error::io("cannot duplicate a socket", &e))?,
                hear: fd,
                id: next_id(),
            })
        } else {
            Ok(Pinger {
                v6,
                // IPPROTO_RAW: the packet carries its own IP header.
                send: raw(AddressFamily::Inet, SockProtocol::Raw)?,
                hear: raw(AddressFamily::Inet, SockProtocol::Icmp)?,
                id: next_id(),
            })
        }
    }

    /// Sends echo request `seq` of `size` bytes in all (IP header
    /// included), with don't-fragment set.
    fn send(&self, dst: IpAddr, seq: u16, size: usize) -> Result<(), Errno> {
        let packet = echo_request(dst, self.id, seq, size);
        let fd = self.send.as_raw_fd();
        match dst {
            IpAddr::V4(a) => sendto(
                fd,
                &packet,
                &SockaddrIn::from(std::net::SocketAddrV4::new(a, 0)),
                MsgFlags::empty(),
            ),
            IpAddr::V6(a) => sendto(
                fd,
                &packet,
                &SockaddrIn6::from(std::net::SocketAddrV6::new(a, 0, 0, 0)),
                MsgFlags::empty(),
            ),
        }
        .map(drop)
    }

    /// Our events until `until`, or until `enough` says so.
    fn hear(&self, until: Instant, events: &mut Vec<Event>, enough: &dyn Fn(&[Event]) -> bool) {
        let mut buffer = [0u8; 2048];
        while !enough(events) {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return;
            }
            let millis = u16::try_from(left.as_millis().max(1)).unwrap_or(u16::MAX);
            let mut fds = [PollFd::new(self.hear.as_fd(), PollFlags::POLLIN)];
            if !matches!(poll(&mut fds, millis), Ok(n) if n > 0) {
                continue;
            }
            let Ok((len, from)) = recvfrom::<SockaddrStorage>(self.hear.as_raw_fd(), &mut buffer)
            else {
                continue;
            };
            let from = from.and_then(|a| {
                a.as_sockaddr_in()
                    .map(|s| IpAddr::V4(s.ip()))
                    .or_else(|| a.as_sockaddr_in6().map(|s| IpAddr::V6(s.ip())))
            });
            let event = if self.v6 {
                from.and_then(|f| parse_v6(&buffer[..len], f, self.id))
            } else {
                parse_v4(&buffer[..len], self.id)
            };
            events.extend(event);
        }
    }
}

/// The ones' complement sum of RFC 1071.
fn checksum(data: &[u8]) -> u16 {
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], *c.get(1).unwrap_or(&0)])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// An echo request of `size` bytes in all: for IPv4 with its IP header
/// (don't-fragment set; the kernel fills in length, id, source and header
/// checksum), for IPv6 the ICMPv6 message alone (the kernel adds the header
/// and the checksum).
fn echo_request(dst: IpAddr, id: u16, seq: u16, size: usize) -> Vec<u8> {
    let (headers, kind) = match dst {
        IpAddr::V4(_) => (V4_HEADERS, 8u8),
        IpAddr::V6(_) => (V6_HEADERS, 128u8),
    };
    let mut icmp = vec![kind, 0, 0, 0];
    icmp.extend_from_slice(&id.to_be_bytes());
    icmp.extend_from_slice(&seq.to_be_bytes());
    icmp.extend((0..size.saturating_sub(headers)).map(|i| (i % 251) as u8));
    match dst {
        IpAddr::V4(a) => {
            let sum = checksum(&icmp);
            icmp[2..4].copy_from_slice(&sum.to_be_bytes());
            let mut packet = vec![0x45, 0, 0, 0, 0, 0, 0x40, 0, 64, 1, 0, 0, 0, 0, 0, 0];
            packet.extend_from_slice(&a.octets());
            packet.extend(icmp);
            packet
        }
        IpAddr::V6(_) => icmp,
    }
}

fn be16(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

/// An IPv4 packet from a raw ICMP socket (IP header included), if it
/// answers one of ours: an echo reply, or an error quoting our request.
fn parse_v4(data: &[u8], id: u16) -> Option<Event> {
    let ihl = usize::from(data.first()? & 0xf) * 4;
    let from = IpAddr::V4(Ipv4Addr::new(
        *data.get(12)?,
        *data.get(13)?,
        *data.get(14)?,
        *data.get(15)?,
    ));
    let icmp = data.get(ihl..)?;
    let (kind, code) = (*icmp.first()?, *icmp.get(1)?);
    if kind == 0 {
        return (be16(icmp, 4)? == id).then_some(Event::Reply {
            seq: be16(icmp, 6)?,
        });
    }
    if !matches!(kind, 3 | 11 | 12) {
        return None;
    }
    let quoted = icmp.get(8..)?;
    let inner_ihl = usize::from(quoted.first()? & 0xf) * 4;
    let inner = quoted.get(inner_ihl..)?;
    let ours = *quoted.get(9)? == 1 && *inner.first()? == 8 && be16(inner, 4)? == id;
    ours.then_some(Event::Error {
        seq: be16(inner, 6)?,
        from,
        error: IcmpError::v4(kind, code, be16(icmp, 6)?),
    })
}

/// An ICMPv6 message (no IP header) from `from`, if it answers one of ours.
fn parse_v6(icmp: &[u8], from: IpAddr, id: u16) -> Option<Event> {
    let (kind, code) = (*icmp.first()?, *icmp.get(1)?);
    if kind == 129 {
        return (be16(icmp, 4)? == id).then_some(Event::Reply {
            seq: be16(icmp, 6)?,
        });
    }
    if !matches!(kind, 1..=4) {
        return None;
    }
    let quoted = icmp.get(8..)?;
    let inner = quoted.get(40..)?;
    let ours = *quoted.get(6)? == 58 && *inner.first()? == 128 && be16(inner, 4)? == id;
    let mtu = u32::from_be_bytes(icmp.get(4..8)?.try_into().ok()?);
    ours.then_some(Event::Error {
        seq: be16(inner, 6)?,
        from,
        error: IcmpError::v6(kind, code, mtu),
    })
}

/// Pings `dst` with a small packet a few times over `ECHO_WAIT`: a reply
/// counts at once; an error counts only when no reply follows it (the
/// first echo may meet a neighbour still being resolved, or a carrier
/// still coming up).
pub fn ping(dst: IpAddr) -> Result<Heard, Error> {
    let pinger = Pinger::new(dst.is_ipv6())?;
    let size = if dst.is_ipv6() {
        V6_HEADERS
    } else {
        V4_HEADERS
    } + 56;
    let start = Instant::now();
    let mut events = Vec::new();
    let mut local = None;
    let replied = |e: &[Event]| e.iter().any(|e| matches!(e, Event::Reply { .. }));
    for seq in 0..ECHO_TRIES {
        if let Err(errno) = pinger.send(dst, seq as u16, size) {
            local = Some(errno);
        }
        let until = start + ECHO_WAIT * (seq + 1) / ECHO_TRIES;
        pinger.hear(until, &mut events, &replied);
        if replied(&events) {
            return Ok(Heard::Reply);
        }
    }
    let error = events.iter().rev().find_map(|e| match e {
        Event::Error { from, error, .. } => Some(Heard::Icmp {
            from: *from,
            error: *error,
        }),
        Event::Reply { .. } => None,
    });
    Ok(error.or(local.map(Heard::Local)).unwrap_or(Heard::Silence))
}

/// What a name server did with one query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DnsHeard {
    Answer(dns::Answer),
    /// Nothing listens on port 53 there (ICMP port unreachable).
    Refused,
    /// An error the kernel reported for the socket, or could not send.
    Failed(Errno),
    Silence,
}

impl DnsHeard {
    pub fn words(&self) -> String {
        match self {
            DnsHeard::Answer(a) => format!("answered {}", a.rcode),
            DnsHeard::Refused => "nothing answers on port 53 there (port unreachable)".into(),
            DnsHeard::Failed(errno) => errno_words(*errno),
            DnsHeard::Silence => format!("no DNS answer within {}s", DNS_WAIT.as_secs()),
        }
    }
}

/// Asks `server` for `name` of type `qtype` over UDP, as a stub resolver.
pub fn dns_query(server: IpAddr, name: &str, qtype: u16) -> Result<DnsHeard, Error> {
    let id = next_id();
    let Some(query) = dns::query(id, name, qtype) else {
        return Err(Error::failed(format!(
            "cannot ask for '{name}': not a DNS name"
        )));
    };
    let any: SocketAddr = match server {
        IpAddr::V4(_) => (Ipv4Addr::UNSPECIFIED, 0).into(),
        IpAddr::V6(_) => (Ipv6Addr::UNSPECIFIED, 0).into(),
    };
    let errno = |e: &std::io::Error| Errno::from_raw(e.raw_os_error().unwrap_or(0));
    let socket = UdpSocket::bind(any).map_err(|e| Error::io("cannot open a UDP socket", &e))?;
    if let Err(e) = socket.connect((server, 53)) {
        return Ok(DnsHeard::Failed(errno(&e)));
    }
    let start = Instant::now();
    let mut buffer = [0u8; 1500];
    for attempt in 1..=DNS_TRIES {
        if let Err(e) = socket.send(&query) {
            if e.kind() == std::io::ErrorKind::ConnectionRefused {
                return Ok(DnsHeard::Refused);
            }
            return Ok(DnsHeard::Failed(errno(&e)));
        }
        let until = start + DNS_WAIT * attempt / DNS_TRIES;
        loop {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                break;
            }
            let _ = socket.set_read_timeout(Some(left));
            match socket.recv(&mut buffer) {
                Ok(len) => {
                    if let Some(answer) = dns::parse(&buffer[..len]).filter(|a| a.id == id) {
                        return Ok(DnsHeard::Answer(answer));
                    }
                }
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionRefused => {
                    return Ok(DnsHeard::Refused)
                }
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) =>
                {
                    break
                }
                Err(e) => return Ok(DnsHeard::Failed(errno(&e))),
            }
        }
    }
    Ok(DnsHeard::Silence)
}

/// What don't-fragment probes of many sizes found toward a destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PathMtu {
    /// The MTU of the namespace's interface toward it: the largest probe.
    pub first_hop: u32,
    /// The largest probe (whole IP packet) that was answered.
    pub answered: Option<u32>,
    /// A router's (or the kernel's own) word that a size was too big:
    /// who said it and the MTU it gave; `None` when nobody said so.
    pub told: Option<(Option<IpAddr>, u32)>,
    /// What the smallest probe heard, when nothing was answered.
    pub heard: Heard,
}

impl PathMtu {
    /// A black hole: big packets vanish and nobody says why.
    pub fn black_hole(&self) -> bool {
        self.answered.is_some_and(|a| a < self.first_hop) && self.told.is_none()
    }
}

/// Sends don't-fragment echoes of every size in `sizes` at once (twice
/// each, in case one is lost) and waits for the round's answers.
fn probe_round(
    pinger: &Pinger,
    dst: IpAddr,
    sizes: &[u32],
    seq0: u16,
    result: &mut PathMtu,
    events: &mut Vec<Event>,
) {
    let start = Instant::now();
    for pass in 0..2u16 {
        for (i, size) in sizes.iter().enumerate() {
            let seq = seq0 + i as u16;
            match pinger.send(dst, seq.wrapping_add(pass * 0x4000), *size as usize) {
                // The kernel already knows a smaller path MTU (IPv6).
                Err(Errno::EMSGSIZE) if result.told.is_none() => {
                    result.told = Some((None, size - 1));
                }
                Err(errno) if i == 0 && pass == 0 => result.heard = Heard::Local(errno),
                _ => {}
            }
        }
        let until = start + MTU_WAIT * u32::from(pass + 1) / 2;
        let everyone = |e: &[Event]| {
            let answered = |s: u16| {
                e.iter()
                    .any(|e| matches!(e, Event::Reply { seq } if seq & 0x3fff == s))
            };
            (0..sizes.len()).all(|i| answered(seq0 + i as u16))
        };
        pinger.hear(until, events, &everyone);
    }
    for event in events.iter() {
        match event {
            Event::Reply { seq } => {
                if let Some(size) = (seq & 0x3fff)
                    .checked_sub(seq0)
                    .and_then(|i| sizes.get(usize::from(i)))
                {
                    result.answered = result.answered.max(Some(*size));
                }
            }
            Event::Error {
                from,
                error: IcmpError::TooBig(mtu),
                ..
            } => {
                result.told = Some((Some(*from), *mtu));
            }
            Event::Error { from, error, .. } if result.answered.is_none() => {
                result.heard = Heard::Icmp {
                    from: *from,
                    error: *error,
                };
            }
            _ => {}
        }
    }
}

/// Finds the path MTU toward `dst` with don't-fragment echoes, largest
/// first (the interface's MTU), then common MTUs below it, then every
/// size between the largest answered and the smallest lost: three rounds
/// at most, each waited for at once rather than size by size.
pub fn path_mtu(dst: IpAddr, first_hop: u32) -> Result<PathMtu, Error> {
    let pinger = Pinger::new(dst.is_ipv6())?;
    let floor = if dst.is_ipv6() {
        MIN_MTU_V6
    } else {
        MIN_MTU_V4
    };
    let mut result = PathMtu {
        first_hop,
        answered: None,
        told: None,
        heard: Heard::Silence,
    };
    let mut sizes: Vec<u32> = std::iter::once(first_hop)
        .chain(
            COMMON_MTUS
                .into_iter()
                .filter(|m| *m < first_hop && *m >= floor),
        )
        .chain(std::iter::once(floor))
        .collect();
    sizes.dedup();
    let mut seq0 = 0u16;
    for _round in 0..3 {
        let mut events = Vec::new();
        probe_round(&pinger, dst, &sizes, seq0, &mut result, &mut events);
        seq0 += sizes.len() as u16;
        let (Some(low), None) = (result.answered, result.told) else {
            break;
        };
        let high = sizes
            .iter()
            .copied()
            .filter(|s| *s > low)
            .min()
            .unwrap_or(first_hop + 1);
        if high - low <= 1 {
            break;
        }
        // At most 31 sizes evenly between, so the next gap is small.
        let step = (high - low).div_ceil(32).max(1);
        sizes = (1..)
            .map(|k| low + k * step)
            .take_while(|s| *s < high)
            .collect();
    }
    if result.answered.is_some() {
        result.heard = Heard::Reply;
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_ipv4_echo_request_carries_its_own_header_with_dont_fragment() {
        let p = echo_request("203.0.113.10".parse().unwrap(), 0x1234, 7, 1400);
        assert_eq!(p.len(), 1400);
        assert_eq!(p[0], 0x45);
        assert_eq!(p[6] & 0x40, 0x40, "DF");
        assert_eq!(p[9], 1, "ICMP");
        assert_eq!(&p[16..20], &[203, 0, 113, 10]);
        assert_eq!(&p[20..28], &[8, 0, p[22], p[23], 0x12, 0x34, 0, 7]);
        assert_eq!(checksum(&p[20..]), 0, "the ICMP checksum verifies");
        let p6 = echo_request("2001:db8::1".parse().unwrap(), 1, 2, 1280);
        assert_eq!(p6.len(), 1280 - 40);
        assert_eq!(p6[0], 128);
    }

    /// An IPv4 packet from `from` carrying `icmp`.
    fn v4_packet(from: [u8; 4], icmp: &[u8]) -> Vec<u8> {
        let mut p = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, 1, 0, 0];
        p.extend_from_slice(&from);
        p.extend_from_slice(&[10, 0, 0, 2]);
        p.extend_from_slice(icmp);
        p
    }

    #[test]
    fn replies_and_errors_about_our_probes_are_told_apart_from_others() {
        let reply = v4_packet([203, 0, 113, 10], &[0, 0, 0, 0, 0x12, 0x34, 0, 9]);
        assert_eq!(parse_v4(&reply, 0x1234), Some(Event::Reply { seq: 9 }));
        assert_eq!(parse_v4(&reply, 0x4321), None, "someone else's ping");
        // Fragmentation needed, MTU 1400, from the host, quoting our request.
        let request = echo_request("203.0.113.10".parse().unwrap(), 0x1234, 3, 1500);
        let mut icmp = vec![3, 4, 0, 0, 0, 0, 0x05, 0x78];
        icmp.extend_from_slice(&request[..28]);
        let err = v4_packet([10, 0, 0, 1], &icmp);
        assert_eq!(
            parse_v4(&err, 0x1234),
            Some(Event::Error {
                seq: 3,
                from: "10.0.0.1".parse().unwrap(),
                error: IcmpError::TooBig(1400)
            })
        );
        // Our own echo request, seen by a raw socket on loopback, is not an answer.
        assert_eq!(
            parse_v4(&v4_packet([127, 0, 0, 1], &request[20..]), 0x1234),
            None
        );
    }

    #[test]
    fn ipv6_errors_quote_the_whole_header() {
        let request = echo_request("2001:db8::1".parse().unwrap(), 0x1234, 5, 1500);
        let mut icmp = vec![2, 0, 0, 0, 0, 0, 0x05, 0x78];
        let mut header = vec![0x60, 0, 0, 0, 0, 0, 58, 64];
        header.resize(40, 0);
        icmp.extend(header);
        icmp.extend_from_slice(&request[..8]);
        let from: IpAddr = "2001:db8:100::1".parse().unwrap();
        assert_eq!(
            parse_v6(&icmp, from, 0x1234),
            Some(Event::Error {
                seq: 5,
                from,
                error: IcmpError::TooBig(1400)
            })
        );
        assert_eq!(
            parse_v6(&[129, 0, 0, 0, 0x12, 0x34, 0, 1], from, 0x1234),
            Some(Event::Reply { seq: 1 })
        );
    }

    #[test]
    fn a_black_hole_is_an_answer_below_the_first_hop_and_no_word_why() {
        let mut p = PathMtu {
            first_hop: 1500,
            answered: Some(1400),
            told: None,
            heard: Heard::Reply,
        };
        assert!(p.black_hole());
        p.told = Some((Some("10.0.0.1".parse().unwrap()), 1400));
        assert!(!p.black_hole());
        p.told = None;
        p.answered = Some(1500);
        assert!(!p.black_hole());
        p.answered = None;
        assert!(
            !p.black_hole(),
            "nothing answered is unreachable, not a black hole"
        );
    }

    #[test]
    fn words_for_what_was_heard() {
        assert_eq!(
            Heard::Icmp {
                from: "198.51.100.1".parse().unwrap(),
                error: IcmpError::NetUnreachable
            }
            .words(),
            "198.51.100.1 says network unreachable"
        );
        assert_eq!(Heard::Silence.words(), "no answer within 1s");
        assert_eq!(
            DnsHeard::Refused.words(),
            "nothing answers on port 53 there (port unreachable)"
        );
    }
}
