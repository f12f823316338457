//! rtnetlink in-process: a blocking socket of one network namespace, the
//! reads (links, addresses, routes, one link by name or index) and the
//! acknowledged changes that everything else in nsnet does to links,
//! addresses and routes. No program is started and no other parser sees a
//! name: it reaches the kernel as the bytes it is.
//!
//! - [`Socket::here`] talks to this thread's namespace; [`Socket::in_netns`]
//!   to the namespace of an open nsfs file (a socket belongs for life to
//!   the namespace it was made in, so it is made in a short-lived thread
//!   that has entered that namespace).
//! - Every change is sent with `NLM_F_ACK` and waits for its answer: a
//!   refusal is an [`Error`] carrying the errno (and the kernel's own words
//!   when it gave some), so callers decide on [`Error::errno`].
//! - Dumps are read again when the kernel marks them interrupted
//!   (`NLM_F_DUMP_INTR`: a change happened while it was read).
//! - [`events`] subscribes to link events.
//!
//! The requests themselves are built in [`request`].

pub mod events;
pub mod request;

use crate::error::Error;
use ipnet::IpNet;
use netlink_packet_core::{
    ErrorMessage, NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP,
    NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use netlink_packet_route::address::{AddressAttribute, AddressMessage};
use netlink_packet_route::link::{InfoKind, LinkAttribute, LinkFlags, LinkInfo, LinkMessage, Prop};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, SocketAddr};
use nix::errno::Errno;
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// How often a dump is read again when changes keep interrupting it.
const DUMP_TRIES: u32 = 10;
/// Room for one datagram of answers; the kernel fills dumps up to 32 KiB.
const BUFFER: usize = 64 * 1024;
/// The error attribute that carries the kernel's words (`NLMSGERR_ATTR_MSG`).
const NLMSGERR_ATTR_MSG: u16 = 1;

/// A link as the kernel describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// The link type (`veth`, `bridge`…); `None` for a plain device (`lo`).
    pub kind: Option<String>,
    /// The interface alias; vethup's mark lives here.
    pub alias: Option<String>,
    /// The index of the bridge (or other master) it is a port of.
    pub master: Option<u32>,
    pub mtu: Option<u32>,
    pub altnames: Vec<String>,
    /// Administratively up.
    pub up: bool,
    /// For a veth: its peer's index, in the peer's namespace.
    pub peer_index: Option<u32>,
    /// For a veth whose peer is in another namespace: that namespace's id
    /// as this namespace knows it (`IFLA_LINK_NETNSID`); negative when the
    /// kernel could not give it one (the namespace is being dismantled).
    pub peer_netnsid: Option<i32>,
    /// Its device group (`ip link set … group N`; 0 by default).
    pub group: u32,
}

impl Link {
    /// Whether the link is of type `kind` (`veth`, `bridge`).
    pub fn is(&self, kind: &str) -> bool {
        self.kind.as_deref() == Some(kind)
    }

    /// Whether the link carries `mark` as its alias.
    pub fn marked(&self, mark: &str) -> bool {
        self.alias.as_deref() == Some(mark)
    }

    /// `a veth`, `an ifb`, `a device without a link type`.
    pub fn kind_words(&self) -> String {
        match &self.kind {
            None => "a device without a link type".to_string(),
            Some(k) if k.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {k}"),
            Some(k) => format!("a {k}"),
        }
    }

    /// A link with just these properties, as tests describe a host.
    pub fn made(
        index: u32,
        name: &str,
        kind: &str,
        alias: Option<&str>,
        master: Option<u32>,
    ) -> Link {
        Link {
            index,
            name: name.into(),
            kind: Some(kind.into()),
            alias: alias.map(Into::into),
            master,
            mtu: Some(1500),
            altnames: Vec::new(),
            up: false,
            peer_index: None,
            peer_netnsid: None,
            group: 0,
        }
    }

    pub(crate) fn parse(message: &LinkMessage) -> Option<Link> {
        let mut link = Link {
            index: message.header.index,
            name: String::new(),
            kind: None,
            alias: None,
            master: None,
            mtu: None,
            altnames: Vec::new(),
            up: message.header.flags.contains(LinkFlags::Up),
            peer_index: None,
            peer_netnsid: None,
            group: 0,
        };
        for attribute in &message.attributes {
            match attribute {
                LinkAttribute::IfName(name) => link.name = name.clone(),
                LinkAttribute::IfAlias(alias) if !alias.is_empty() => {
                    link.alias = Some(alias.clone())
                }
                LinkAttribute::Controller(index) => link.master = Some(*index),
                LinkAttribute::Mtu(mtu) => link.mtu = Some(*mtu),
                LinkAttribute::Link(index) => link.peer_index = Some(*index),
                LinkAttribute::LinkNetNsId(id) => link.peer_netnsid = Some(*id),
                LinkAttribute::Group(group) => link.group = *group,
                LinkAttribute::PropList(props) => {
                    link.altnames = props
                        .iter()
                        .filter_map(|p| match p {
                            Prop::AltIfName(name) => Some(name.clone()),
                            _ => None,
                        })
                        .collect()
                }
                LinkAttribute::LinkInfo(infos) => {
                    link.kind = infos.iter().find_map(|i| match i {
                        LinkInfo::Kind(kind) => Some(kind_name(kind)),
                        _ => None,
                    })
                }
                _ => {}
            }
        }
        Some(link).filter(|l| !l.name.is_empty())
    }
}

fn kind_name(kind: &InfoKind) -> String {
    kind.to_string()
}

/// An address assigned to a link.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Address {
    /// The link's index.
    pub index: u32,
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Address {
    /// For IPv4 the local address is IFA_LOCAL (IFA_ADDRESS is the peer on
    /// point-to-point links); IPv6 has only IFA_ADDRESS unless a peer is set.
    fn parse(message: &AddressMessage) -> Option<Address> {
        let find = |local: bool| {
            message.attributes.iter().find_map(|a| match a {
                AddressAttribute::Local(ip) if local => Some(*ip),
                AddressAttribute::Address(ip) if !local => Some(*ip),
                _ => None,
            })
        };
        Some(Address {
            index: message.header.index,
            addr: find(true).or_else(|| find(false))?,
            prefix: message.header.prefix_len,
        })
    }
}

/// A route, of any table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Route {
    /// Where it leads; `0.0.0.0/0` or `::/0` for a default route.
    pub destination: IpNet,
    pub gateway: Option<IpAddr>,
    /// The index of the link it leaves through.
    pub oif: Option<u32>,
    pub table: u32,
    pub metric: Option<u32>,
    /// A route that forwards (`unicast`), as opposed to the kernel's
    /// `local`, `broadcast` and `multicast` routes or a `blackhole`.
    pub unicast: bool,
}

impl Route {
    pub fn is_default(&self) -> bool {
        self.destination.prefix_len() == 0
    }

    fn parse(message: &RouteMessage) -> Option<Route> {
        let v4 = match message.header.address_family {
            AddressFamily::Inet => true,
            AddressFamily::Inet6 => false,
            _ => return None,
        };
        let ip = |a: &RouteAddress| match a {
            RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
            RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
            _ => None,
        };
        let mut route = Route {
            destination: if v4 {
                IpNet::V4(Default::default())
            } else {
                IpNet::V6(Default::default())
            },
            gateway: None,
            oif: None,
            table: u32::from(message.header.table),
            metric: None,
            unicast: message.header.kind == RouteType::Unicast,
        };
        let prefix = message.header.destination_prefix_length;
        for attribute in &message.attributes {
            match attribute {
                RouteAttribute::Destination(a) => {
                    route.destination = IpNet::new(ip(a)?, prefix).ok()?;
                }
                RouteAttribute::Gateway(a) => route.gateway = ip(a),
                RouteAttribute::Oif(index) => route.oif = Some(*index),
                RouteAttribute::Table(table) => route.table = *table,
                RouteAttribute::Priority(metric) => route.metric = Some(*metric),
                _ => {}
            }
        }
        Some(route)
    }
}

/// A blocking rtnetlink socket of one network namespace.
#[derive(Debug)]
pub struct Socket {
    socket: netlink_sys::Socket,
    seq: u32,
}

impl Socket {
    /// A socket of the network namespace this thread is in.
    pub fn here() -> Result<Socket, Error> {
        let open = || -> std::io::Result<netlink_sys::Socket> {
            let mut socket = netlink_sys::Socket::new(NETLINK_ROUTE)?;
            socket.bind_auto()?;
            socket.connect(&SocketAddr::new(0, 0))?;
            Ok(socket)
        };
        let socket = open().map_err(|e| Error::io("cannot open a netlink socket", &e))?;
        // The kernel's words for a refusal, and no copy of the request in
        // it; a kernel without them still answers with the errno.
        let _ = socket.set_ext_ack(true);
        let _ = socket.set_cap_ack(true);
        Ok(Socket { socket, seq: 0 })
    }

    /// A socket of the network namespace of `netns`, an open nsfs file.
    /// Entering a network namespace is per thread: a thread of our own
    /// enters it, makes the socket and ends, and the socket stays there.
    pub fn in_netns(netns: BorrowedFd<'_>) -> Result<Socket, Error> {
        std::thread::scope(|scope| {
            scope
                .spawn(|| {
                    nix::sched::setns(netns, nix::sched::CloneFlags::CLONE_NEWNET)
                        .map_err(|e| Error::os("cannot enter the network namespace", e))?;
                    Socket::here()
                })
                .join()
                .unwrap_or_else(|_| Err(Error::failed("cannot enter the network namespace")))
        })
    }

    fn send(&mut self, message: RouteNetlinkMessage, flags: u16) -> Result<u32, Error> {
        self.seq = self.seq.wrapping_add(1);
        let mut header = NetlinkHeader::default();
        header.flags = NLM_F_REQUEST | flags;
        header.sequence_number = self.seq;
        let mut packet = NetlinkMessage::new(header, NetlinkPayload::from(message));
        packet.finalize();
        let mut buffer = vec![0; packet.buffer_len()];
        packet.serialize(&mut buffer);
        self.socket
            .send(&buffer, 0)
            .map_err(|e| Error::io("cannot send to the kernel", &e))?;
        Ok(self.seq)
    }

    /// Reads answers to `seq` and hands each to `each` until it says the
    /// answer is complete (`true`).
    fn receive(
        &mut self,
        seq: u32,
        mut each: impl FnMut(&NetlinkHeader, NetlinkPayload<RouteNetlinkMessage>) -> Result<bool, Error>,
    ) -> Result<(), Error> {
        let mut buffer = vec![0u8; BUFFER];
        loop {
            let len = self
                .socket
                .recv(&mut &mut buffer[..], 0)
                .map_err(|e| Error::io("cannot read the kernel's answer", &e))?;
            let mut data = &buffer[..len.min(BUFFER)];
            while !data.is_empty() {
                let message = NetlinkMessage::<RouteNetlinkMessage>::deserialize(data);
                let length = header_length(data);
                if length == 0 || length > data.len() {
                    break;
                }
                data = &data[align(length).min(data.len())..];
                let message = match message {
                    Ok(message) => message,
                    // One answer this library cannot decode (a name that is
                    // not UTF-8, say): not one of ours, and not a reason to
                    // stop reading the rest.
                    Err(_) => continue,
                };
                if message.header.sequence_number != seq {
                    continue;
                }
                if each(&message.header, message.payload)? {
                    return Ok(());
                }
            }
        }
    }

    /// Sends one change and waits for its acknowledgement. Returns what the
    /// kernel echoed (the new link, for `NLM_F_ECHO`), or the refusal.
    pub fn change(
        &mut self,
        request: RouteNetlinkMessage,
    ) -> Result<Vec<RouteNetlinkMessage>, Refusal> {
        let flags = request::flags(&request);
        let seq = self
            .send(request, flags | NLM_F_ACK)
            .map_err(Refusal::from)?;
        let mut echoed = Vec::new();
        let mut refusal = None;
        self.receive(seq, |header, payload| match payload {
            NetlinkPayload::Error(e) => {
                refusal = Refusal::of(header.flags, &e);
                Ok(true)
            }
            NetlinkPayload::InnerMessage(m) => {
                echoed.push(m);
                Ok(false)
            }
            _ => Ok(false),
        })
        .map_err(Refusal::from)?;
        match refusal {
            Some(r) => Err(r),
            None => Ok(echoed),
        }
    }

    /// Sends one `GET` request and returns its single answer; `Ok(None)`
    /// when the kernel says there is no such object (ENODEV).
    fn get(
        &mut self,
        request: RouteNetlinkMessage,
    ) -> Result<Option<RouteNetlinkMessage>, Refusal> {
        let seq = self.send(request, 0).map_err(Refusal::from)?;
        let mut answer = None;
        let mut refusal = None;
        self.receive(seq, |header, payload| {
            match payload {
                NetlinkPayload::Error(e) => refusal = Refusal::of(header.flags, &e),
                NetlinkPayload::InnerMessage(m) => answer = Some(m),
                _ => {}
            }
            Ok(true)
        })
        .map_err(Refusal::from)?;
        match refusal {
            Some(r) if r.errno == Errno::ENODEV => Ok(None),
            Some(r) => Err(r),
            None => Ok(answer),
        }
    }

    /// Every answer to a dump request, read again when interrupted.
    fn dump(
        &mut self,
        request: RouteNetlinkMessage,
        what: &str,
    ) -> Result<Vec<RouteNetlinkMessage>, Error> {
        for _ in 0..DUMP_TRIES {
            let seq = self.send(request.clone(), NLM_F_DUMP)?;
            let mut answers = Vec::new();
            let mut interrupted = false;
            self.receive(seq, |header, payload| {
                interrupted |= header.flags & NLM_F_DUMP_INTR != 0;
                match payload {
                    NetlinkPayload::Done(_) => Ok(true),
                    NetlinkPayload::Error(e) => match e.code {
                        Some(code) => Err(Error::os(
                            format!("cannot read the {what}"),
                            Errno::from_raw(-code.get()),
                        )),
                        None => Ok(true),
                    },
                    NetlinkPayload::InnerMessage(m) => {
                        answers.push(m);
                        Ok(false)
                    }
                    _ => Ok(false),
                }
            })?;
            if !interrupted {
                return Ok(answers);
            }
        }
        Err(Error::failed(format!(
            "cannot read the {what}: they kept changing while they were read"
        )))
    }

    /// Every link of the namespace.
    pub fn links(&mut self) -> Result<Vec<Link>, Error> {
        let answers = self.dump(
            RouteNetlinkMessage::GetLink(LinkMessage::default()),
            "network interfaces",
        )?;
        Ok(answers
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(l) => Link::parse(l),
                _ => None,
            })
            .collect())
    }

    /// The link called `name` (its name or an altname), asked for alone.
    pub fn link(&mut self, name: &str) -> Result<Option<Link>, Error> {
        let answer = self
            .get(request::get_link_by_name(name))
            .map_err(|r| r.error(format!("cannot look for {name}")))?;
        Ok(answer.as_ref().and_then(link_of))
    }

    /// The link with index `index`.
    pub fn link_by_index(&mut self, index: u32) -> Result<Option<Link>, Error> {
        let answer = self
            .get(request::get_link_by_index(index, None))
            .map_err(|r| r.error(format!("cannot look for the interface with index {index}")))?;
        Ok(answer.as_ref().and_then(link_of))
    }

    /// Whether the peer of `veth` is in a namespace that is being
    /// dismantled (its last process is gone): a pair that will vanish on
    /// its own. The kernel gives a namespace no id once its last reference
    /// went (`peernet2id_alloc`), and refuses to look into one that has an
    /// id but no reference left (`get_net_ns_by_id` → EINVAL). A peer that
    /// is no longer there goes with its pair. A peer in a live namespace,
    /// or in this one, is not dying.
    pub fn peer_is_dying(&mut self, veth: &Link) -> Result<bool, Error> {
        let (Some(nsid), Some(peer)) = (veth.peer_netnsid, veth.peer_index) else {
            return Ok(false);
        };
        if nsid < 0 {
            return Ok(true);
        }
        match self.get(request::get_link_by_index(peer, Some(nsid))) {
            Ok(peer) => Ok(peer.is_none()),
            Err(r) if r.errno == Errno::EINVAL => Ok(true),
            Err(r) => Err(r.error(format!("cannot look at the peer of {}", veth.name))),
        }
    }

    /// The id this namespace knows the namespace of `netns` (an open nsfs
    /// file) by; `None` when it has given it none.
    pub fn nsid_of(&mut self, netns: BorrowedFd<'_>) -> Result<Option<i32>, Error> {
        use netlink_packet_route::nsid::{NsidAttribute, NsidMessage};
        let mut message = NsidMessage::default();
        let fd = u32::try_from(netns.as_raw_fd()).expect("an open descriptor is not negative");
        message.attributes.push(NsidAttribute::Fd(fd));
        let answer = self
            .get(RouteNetlinkMessage::GetNsId(message))
            .map_err(|r| r.error("cannot ask for a namespace's id"))?;
        Ok(match answer {
            Some(RouteNetlinkMessage::NewNsId(m)) => m.attributes.iter().find_map(|a| match a {
                NsidAttribute::Id(id) if *id >= 0 => Some(*id),
                _ => None,
            }),
            _ => None,
        })
    }

    /// Every address of the namespace, both families.
    pub fn addresses(&mut self) -> Result<Vec<Address>, Error> {
        let answers = self.dump(
            RouteNetlinkMessage::GetAddress(AddressMessage::default()),
            "addresses",
        )?;
        Ok(answers
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => Address::parse(a),
                _ => None,
            })
            .collect())
    }

    /// The route the kernel would take to `addr` (`ip route get`), `None`
    /// when nothing reaches it.
    pub fn route_to(&mut self, addr: IpAddr) -> Result<Option<Route>, Error> {
        match self.get(request::get_route(addr)) {
            Ok(answer) => Ok(answer.and_then(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => Route::parse(&r),
                _ => None,
            })),
            // Unreachable: no route, which is an answer here.
            Err(r) if matches!(r.errno, Errno::ENETUNREACH | Errno::EHOSTUNREACH) => Ok(None),
            Err(r) => Err(r.error(format!("cannot look up the route to {addr}"))),
        }
    }

    /// Every route of the namespace, of every table and both families.
    pub fn routes(&mut self) -> Result<Vec<Route>, Error> {
        let mut message = RouteMessage::default();
        message.header.table = RouteHeader::RT_TABLE_UNSPEC;
        let answers = self.dump(RouteNetlinkMessage::GetRoute(message), "routes")?;
        Ok(answers
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewRoute(r) => Route::parse(r),
                _ => None,
            })
            .collect())
    }
}

fn link_of(message: &RouteNetlinkMessage) -> Option<Link> {
    match message {
        RouteNetlinkMessage::NewLink(l) => Link::parse(l),
        _ => None,
    }
}

/// The kernel said no to a change: its errno and, when it gave them, its
/// own words (the extended acknowledgement, e.g. `IPv6 is disabled on this
/// device` for an EACCES).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub errno: Errno,
    pub said: Option<String>,
}

impl Refusal {
    /// The refusal an error message carries, in a message with `flags`;
    /// `None` for an acknowledgement.
    fn of(flags: u16, e: &ErrorMessage) -> Option<Refusal> {
        e.code.map(|code| Refusal {
            errno: Errno::from_raw(-code.get()),
            said: extack_message(flags, &e.header),
        })
    }

    /// The refusal as an error of `what`: `what: the kernel's words`, else
    /// `what: the errno's words`; the errno is kept either way.
    pub fn error(&self, what: impl std::fmt::Display) -> Error {
        match &self.said {
            Some(said) => Error::os_said(what, self.errno, said),
            None => Error::os(what, self.errno),
        }
    }
}

impl From<Error> for Refusal {
    /// A failure to talk to the kernel at all, as a refusal.
    fn from(e: Error) -> Refusal {
        Refusal {
            errno: e.errno().unwrap_or(Errno::EIO),
            said: Some(e.message().to_string()),
        }
    }
}

fn header_length(data: &[u8]) -> usize {
    data.get(..4)
        .map(|b| u32::from_ne_bytes([b[0], b[1], b[2], b[3]]) as usize)
        .unwrap_or(0)
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// The kernel's words in an error message whose header has `flags`: the
/// attributes (`NLM_F_ACK_TLVS`) that follow the copy of the request, its
/// header alone when the kernel capped it (`NLM_F_CAPPED`, as the socket
/// asks), else the whole request.
fn extack_message(flags: u16, payload: &[u8]) -> Option<String> {
    use netlink_packet_core::{NlaBuffer, NlasIterator, NLM_F_ACK_TLVS, NLM_F_CAPPED};
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let skip = if flags & NLM_F_CAPPED != 0 {
        16
    } else {
        align(header_length(payload))
    };
    let attributes = payload.get(skip..)?;
    NlasIterator::new(attributes)
        .find_map(|nla: Result<NlaBuffer<&[u8]>, _>| {
            let nla = nla.ok()?;
            (nla.kind() == NLMSGERR_ATTR_MSG).then(|| {
                let value = nla.value();
                let end = value.iter().position(|b| *b == 0).unwrap_or(value.len());
                String::from_utf8_lossy(&value[..end])
                    .trim_end_matches('.')
                    .to_string()
            })
        })
        .filter(|s| !s.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_read_with_their_article() {
        let mut link = Link::made(2, "x", "ifb", None, None);
        assert_eq!(link.kind_words(), "an ifb");
        link.kind = Some("bridge".into());
        assert_eq!(link.kind_words(), "a bridge");
        link.kind = None;
        assert_eq!(link.kind_words(), "a device without a link type");
    }

    #[test]
    fn the_kernels_words_are_read_from_an_error() {
        // A copied request header of 16 bytes, then NLMSGERR_ATTR_MSG.
        let mut payload = vec![0u8; 16];
        payload[..4].copy_from_slice(&40u32.to_ne_bytes());
        let words = b"IPv6 is disabled on this device\0";
        let len = (4 + words.len()) as u16;
        payload.extend_from_slice(&len.to_ne_bytes());
        payload.extend_from_slice(&NLMSGERR_ATTR_MSG.to_ne_bytes());
        payload.extend_from_slice(words);
        payload.resize(align(payload.len()), 0);
        use netlink_packet_core::{NLM_F_ACK_TLVS, NLM_F_CAPPED};
        assert_eq!(
            extack_message(NLM_F_ACK_TLVS | NLM_F_CAPPED, &payload).as_deref(),
            Some("IPv6 is disabled on this device")
        );
        assert_eq!(extack_message(NLM_F_CAPPED, &payload), None);
        assert_eq!(
            extack_message(NLM_F_ACK_TLVS | NLM_F_CAPPED, &payload[..16]),
            None
        );
    }

    /// Reading needs no privilege: the test's own namespace has at least
    /// its loopback, at index 1, up or down.
    #[test]
    fn reads_this_namespace() {
        let mut socket = Socket::here().expect("a netlink socket");
        let links = socket.links().expect("the links");
        let lo = links.iter().find(|l| l.name == "lo").expect("a loopback");
        assert_eq!(lo.index, 1);
        assert_eq!(socket.link("lo").unwrap().as_ref(), Some(lo));
        assert_eq!(socket.link_by_index(1).unwrap().as_ref(), Some(lo));
        assert_eq!(socket.link("nsnet-ghost0").unwrap(), None);
        socket.addresses().expect("the addresses");
        socket.routes().expect("the routes");
    }
}
