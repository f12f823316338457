//! What the kernel says right now about the links and addresses of the
//! network namespace this process is in, read over rtnetlink in-process.
//!
//! The checks a tool makes before it acts (does HOSTIF exist, is BR a
//! bridge, who holds 10.0.0.1, which veths carry our mark) cost no `ip`
//! process this way, and parse no `ip` output whose format may change. Only
//! reading happens here; every change goes through a [`super::Plan`].

use crate::error::Error;
use nix::sys::socket::{
    recv, sendto, socket, AddressFamily, MsgFlags, NetlinkAddr, SockFlag, SockProtocol, SockType,
};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::os::fd::{AsRawFd, OwnedFd};

// Netlink and rtnetlink numbers (linux/netlink.h, linux/rtnetlink.h,
// linux/if_link.h, linux/if_addr.h): kernel ABI, fixed forever.
const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const NLM_F_REQUEST: u16 = 0x1;
const NLM_F_DUMP_INTR: u16 = 0x10;
const NLM_F_DUMP: u16 = 0x300;
const RTM_NEWLINK: u16 = 16;
const RTM_GETLINK: u16 = 18;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const IFLA_IFNAME: u16 = 3;
const IFLA_MTU: u16 = 4;
const IFLA_MASTER: u16 = 10;
const IFLA_LINKINFO: u16 = 18;
const IFLA_IFALIAS: u16 = 20;
const IFLA_PROP_LIST: u16 = 52;
const IFLA_ALT_IFNAME: u16 = 53;
const IFLA_INFO_KIND: u16 = 1;
const IFA_ADDRESS: u16 = 1;
const IFA_LOCAL: u16 = 2;
const AF_UNSPEC: u8 = 0;
const AF_INET: u8 = 2;
const AF_INET6: u8 = 10;
const NLA_TYPE_MASK: u16 = 0x3fff;
const HEADER: usize = 16;
/// Dumps come in datagrams of at most 32 KiB; twice that never truncates.
const BUFFER: usize = 64 * 1024;
/// A dump the kernel marks as interrupted by a concurrent change is read
/// again, up to this many times.
const DUMP_TRIES: usize = 8;

/// One network interface, as much of it as the tools decide on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// The link type (`veth`, `bridge`, `ifb`…); `None` for plain devices
    /// such as loopback.
    pub kind: Option<String>,
    /// The interface alias: where nsnet keeps its ownership mark.
    pub alias: Option<String>,
    /// The index of the bridge (or bond) this link is a port of.
    pub master: Option<u32>,
    pub mtu: Option<u32>,
    /// Alternative names (`ip link property add … altname`): the kernel
    /// refuses a new interface named like one of them too.
    pub altnames: Vec<String>,
}

impl Link {
    pub fn is(&self, kind: &str) -> bool {
        self.kind.as_deref() == Some(kind)
    }

    /// Whether this link carries the ownership `mark` in its alias.
    pub fn marked(&self, mark: &str) -> bool {
        self.alias.as_deref() == Some(mark)
    }

    /// `a veth`, `a bridge`, `an ifb`, `a device` — for messages.
    pub fn kind_words(&self) -> String {
        match self.kind.as_deref() {
            None => "a device without a link type".to_string(),
            Some(kind) if kind.starts_with(['a', 'e', 'i', 'o', 'u']) => format!("an {kind}"),
            Some(kind) => format!("a {kind}"),
        }
    }
}

#[cfg(test)]
impl Link {
    /// A link for the unit tests of plans: `kind` with an optional alias
    /// and master.
    pub(crate) fn made(
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
            mtu: None,
            altnames: Vec::new(),
        }
    }
}

/// One address on one interface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Address {
    pub index: u32,
    pub addr: IpAddr,
    pub prefix: u8,
}

/// The links and addresses of this process's network namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
}

impl State {
    /// Reads every link and address of the current network namespace.
    pub fn read() -> Result<State, Error> {
        let socket = Socket::open()?;
        let links = socket
            .dump(RTM_GETLINK, &link_request())?
            .iter()
            .filter(|(kind, _)| *kind == RTM_NEWLINK)
            .filter_map(|(_, body)| parse_link(body))
            .collect();
        let addresses = socket
            .dump(RTM_GETADDR, &[AF_UNSPEC, 0, 0, 0, 0, 0, 0, 0])?
            .iter()
            .filter(|(kind, _)| *kind == RTM_NEWADDR)
            .filter_map(|(_, body)| parse_address(body))
            .collect();
        Ok(State { links, addresses })
    }

    /// Only the links called `names` (by name or altname), each asked for
    /// by name, and no addresses: enough for a check about those links,
    /// at a cost that does not grow with the host's interfaces (a full
    /// [`State::read`] beside 500 containers' veths takes ~1.5 ms).
    pub fn read_links(names: &[&str]) -> Result<State, Error> {
        let socket = Socket::open()?;
        let mut links: Vec<Link> = Vec::new();
        for name in names {
            if let Some(link) = socket.get_link(name)? {
                if !links.iter().any(|l| l.index == link.index) {
                    links.push(link);
                }
            }
        }
        Ok(State {
            links,
            addresses: Vec::new(),
        })
    }

    /// The link called `name`, by its name or one of its altnames.
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links
            .iter()
            .find(|l| l.name == name || l.altnames.iter().any(|a| a == name))
    }

    pub fn by_index(&self, index: u32) -> Option<&Link> {
        self.links.iter().find(|l| l.index == index)
    }

    /// The links whose master is `bridge`.
    pub fn ports<'a>(&'a self, bridge: &'a Link) -> impl Iterator<Item = &'a Link> + 'a {
        self.links
            .iter()
            .filter(move |l| l.master == Some(bridge.index))
    }

    /// The link that has `addr` assigned, whatever its prefix.
    pub fn holder_of(&self, addr: IpAddr) -> Option<&Link> {
        self.addresses
            .iter()
            .find(|a| a.addr == addr)
            .and_then(|a| self.by_index(a.index))
    }
}

/// An rtnetlink socket of the current network namespace.
struct Socket {
    fd: OwnedFd,
}

impl Socket {
    fn open() -> Result<Socket, Error> {
        let fd = socket(
            AddressFamily::Netlink,
            SockType::Raw,
            SockFlag::SOCK_CLOEXEC,
            SockProtocol::NetlinkRoute,
        )
        .map_err(|e| read_error(&format!("cannot open a netlink socket: {}", e.desc())))?;
        Ok(Socket { fd })
    }

    fn send(&self, message: &[u8]) -> Result<(), Error> {
        sendto(
            self.fd.as_raw_fd(),
            message,
            &NetlinkAddr::new(0, 0),
            MsgFlags::empty(),
        )
        .map(drop)
        .map_err(|e| read_error(&format!("cannot ask the kernel: {}", e.desc())))
    }

    /// One datagram of answers into `buffer`; its length.
    fn receive(&self, buffer: &mut [u8]) -> Result<usize, Error> {
        recv(self.fd.as_raw_fd(), buffer, MsgFlags::empty())
            .map_err(|e| read_error(&format!("cannot read the answer: {}", e.desc())))
    }

    /// The link called `name`, asked for alone; the kernel finds it by an
    /// altname too. `None` when there is none.
    fn get_link(&self, name: &str) -> Result<Option<Link>, Error> {
        const SEQ: u32 = 1;
        let mut body = link_request();
        let len = (4 + name.len() + 1) as u16;
        body.extend_from_slice(&len.to_ne_bytes());
        body.extend_from_slice(&IFLA_IFNAME.to_ne_bytes());
        body.extend_from_slice(name.as_bytes());
        body.push(0);
        body.resize(align(body.len()), 0);
        self.send(&frame(RTM_GETLINK, NLM_F_REQUEST, SEQ, &body))?;
        let mut buffer = vec![0u8; BUFFER];
        loop {
            let len = self.receive(&mut buffer)?;
            for message in split(&buffer[..len]) {
                if message.seq != SEQ {
                    continue;
                }
                match message.kind {
                    RTM_NEWLINK => return Ok(parse_link(message.body)),
                    NLMSG_ERROR => {
                        let code = message.body.get(..4).map(ne_i32).unwrap_or(0);
                        let errno = nix::errno::Errno::from_raw(-code);
                        if errno == nix::errno::Errno::ENODEV {
                            return Ok(None);
                        }
                        return Err(read_error(&crate::error::errno_words(errno)));
                    }
                    _ => {}
                }
            }
        }
    }

    /// Sends one dump request and collects every answer as (type, body),
    /// reading again when the kernel says a change interrupted the dump.
    fn dump(&self, request: u16, body: &[u8]) -> Result<Vec<(u16, Vec<u8>)>, Error> {
        for seq in 1..=DUMP_TRIES as u32 {
            self.send(&frame(request, NLM_F_REQUEST | NLM_F_DUMP, seq, body))?;
            let mut answers = Vec::new();
            let mut interrupted = false;
            let mut buffer = vec![0u8; BUFFER];
            'reading: loop {
                let len = self.receive(&mut buffer)?;
                for message in split(&buffer[..len]) {
                    if message.seq != seq {
                        continue;
                    }
                    interrupted |= message.flags & NLM_F_DUMP_INTR != 0;
                    match message.kind {
                        NLMSG_DONE => break 'reading,
                        NLMSG_ERROR => {
                            let code = message.body.get(..4).map(ne_i32).unwrap_or(0);
                            if code != 0 {
                                let errno = nix::errno::Errno::from_raw(-code);
                                return Err(read_error(&crate::error::errno_words(errno)));
                            }
                            break 'reading;
                        }
                        kind => answers.push((kind, message.body.to_vec())),
                    }
                }
            }
            if !interrupted {
                return Ok(answers);
            }
        }
        Err(read_error(
            "the interfaces kept changing while they were read",
        ))
    }
}

fn read_error(why: &str) -> Error {
    Error::failed(format!("cannot read the network interfaces: {why}"))
}

/// An `ifinfomsg` asking for every link.
fn link_request() -> Vec<u8> {
    let mut body = vec![0u8; 16];
    body[0] = AF_UNSPEC;
    body
}

fn frame(kind: u16, flags: u16, seq: u32, body: &[u8]) -> Vec<u8> {
    let len = (HEADER + body.len()) as u32;
    let mut message = Vec::with_capacity(len as usize);
    message.extend_from_slice(&len.to_ne_bytes());
    message.extend_from_slice(&kind.to_ne_bytes());
    message.extend_from_slice(&flags.to_ne_bytes());
    message.extend_from_slice(&seq.to_ne_bytes());
    message.extend_from_slice(&0u32.to_ne_bytes());
    message.extend_from_slice(body);
    message
}

fn align(len: usize) -> usize {
    (len + 3) & !3
}

fn ne_u16(b: &[u8]) -> u16 {
    u16::from_ne_bytes([b[0], b[1]])
}

fn ne_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

fn ne_i32(b: &[u8]) -> i32 {
    i32::from_ne_bytes([b[0], b[1], b[2], b[3]])
}

struct Message<'a> {
    kind: u16,
    flags: u16,
    seq: u32,
    body: &'a [u8],
}

/// The netlink messages in one datagram; a malformed tail is dropped.
fn split(mut data: &[u8]) -> Vec<Message<'_>> {
    let mut messages = Vec::new();
    while data.len() >= HEADER {
        let len = ne_u32(&data[0..4]) as usize;
        if len < HEADER || len > data.len() {
            break;
        }
        messages.push(Message {
            kind: ne_u16(&data[4..6]),
            flags: ne_u16(&data[6..8]),
            seq: ne_u32(&data[8..12]),
            body: &data[HEADER..len],
        });
        data = &data[align(len).min(data.len())..];
    }
    messages
}

/// The attributes in `data` as (type, payload); a malformed tail is dropped.
fn attributes(mut data: &[u8]) -> Vec<(u16, &[u8])> {
    let mut found = Vec::new();
    while data.len() >= 4 {
        let len = ne_u16(&data[0..2]) as usize;
        if len < 4 || len > data.len() {
            break;
        }
        found.push((ne_u16(&data[2..4]) & NLA_TYPE_MASK, &data[4..len]));
        data = &data[align(len).min(data.len())..];
    }
    found
}

fn string(payload: &[u8]) -> String {
    let end = payload
        .iter()
        .position(|b| *b == 0)
        .unwrap_or(payload.len());
    String::from_utf8_lossy(&payload[..end]).into_owned()
}

/// A link from the body of an RTM_NEWLINK message.
fn parse_link(body: &[u8]) -> Option<Link> {
    let index = ne_u32(body.get(4..8)?);
    let mut link = Link {
        index,
        name: String::new(),
        kind: None,
        alias: None,
        master: None,
        mtu: None,
        altnames: Vec::new(),
    };
    for (kind, payload) in attributes(body.get(16..)?) {
        match kind {
            IFLA_IFNAME => link.name = string(payload),
            IFLA_IFALIAS => link.alias = Some(string(payload)).filter(|a| !a.is_empty()),
            IFLA_MASTER if payload.len() >= 4 => link.master = Some(ne_u32(payload)),
            IFLA_MTU if payload.len() >= 4 => link.mtu = Some(ne_u32(payload)),
            IFLA_PROP_LIST => {
                link.altnames = attributes(payload)
                    .into_iter()
                    .filter(|(k, _)| *k == IFLA_ALT_IFNAME)
                    .map(|(_, p)| string(p))
                    .collect();
            }
            IFLA_LINKINFO => {
                link.kind = attributes(payload)
                    .into_iter()
                    .find(|(k, _)| *k == IFLA_INFO_KIND)
                    .map(|(_, p)| string(p));
            }
            _ => {}
        }
    }
    Some(link).filter(|l| !l.name.is_empty())
}

/// An address from the body of an RTM_NEWADDR message. For IPv4 the local
/// address is IFA_LOCAL (IFA_ADDRESS is the peer on point-to-point links);
/// IPv6 has only IFA_ADDRESS unless a peer is set.
fn parse_address(body: &[u8]) -> Option<Address> {
    let family = *body.first()?;
    let prefix = *body.get(1)?;
    let index = ne_u32(body.get(4..8)?);
    let attrs = attributes(body.get(8..)?);
    let pick = |kind: u16| attrs.iter().find(|(k, _)| *k == kind).map(|(_, p)| *p);
    let raw = pick(IFA_LOCAL).or_else(|| pick(IFA_ADDRESS))?;
    let addr = match family {
        AF_INET => IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(raw).ok()?)),
        AF_INET6 => IpAddr::V6(Ipv6Addr::from(<[u8; 16]>::try_from(raw).ok()?)),
        _ => return None,
    };
    Some(Address {
        index,
        addr,
        prefix,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn push_attr(buffer: &mut Vec<u8>, kind: u16, payload: &[u8]) {
        let len = (4 + payload.len()) as u16;
        buffer.extend_from_slice(&len.to_ne_bytes());
        buffer.extend_from_slice(&kind.to_ne_bytes());
        buffer.extend_from_slice(payload);
        buffer.resize(align(buffer.len()), 0);
    }

    fn link_message(index: u32, attrs: &[(u16, Vec<u8>)]) -> Vec<u8> {
        let mut body = vec![0u8; 16];
        body[4..8].copy_from_slice(&index.to_ne_bytes());
        for (kind, payload) in attrs {
            push_attr(&mut body, *kind, payload);
        }
        body
    }

    fn cstr(s: &str) -> Vec<u8> {
        let mut v = s.as_bytes().to_vec();
        v.push(0);
        v
    }

    #[test]
    fn a_link_with_kind_alias_and_master() {
        let mut info = Vec::new();
        push_attr(&mut info, IFLA_INFO_KIND, &cstr("veth"));
        let mut props = Vec::new();
        push_attr(&mut props, IFLA_ALT_IFNAME, &cstr("container-one-uplink"));
        let body = link_message(
            7,
            &[
                (IFLA_IFNAME, cstr("veth0")),
                (IFLA_MTU, 1400u32.to_ne_bytes().to_vec()),
                (IFLA_MASTER, 3u32.to_ne_bytes().to_vec()),
                (IFLA_IFALIAS, cstr("nsnet:vethup")),
                (IFLA_LINKINFO | 0x8000, info),
                (IFLA_PROP_LIST | 0x8000, props),
            ],
        );
        assert_eq!(
            parse_link(&body),
            Some(Link {
                index: 7,
                name: "veth0".into(),
                kind: Some("veth".into()),
                alias: Some("nsnet:vethup".into()),
                master: Some(3),
                mtu: Some(1400),
                altnames: vec!["container-one-uplink".into()],
            })
        );
    }

    #[test]
    fn a_plain_link_has_no_kind_and_no_alias() {
        let body = link_message(1, &[(IFLA_IFNAME, cstr("lo")), (IFLA_IFALIAS, cstr(""))]);
        let link = parse_link(&body).unwrap();
        assert_eq!((&link.kind, &link.alias, link.master), (&None, &None, None));
        assert_eq!(link.kind_words(), "a device without a link type");
    }

    #[test]
    fn kinds_read_with_their_article() {
        let mut link = parse_link(&link_message(2, &[(IFLA_IFNAME, cstr("x"))])).unwrap();
        link.kind = Some("ifb".into());
        assert_eq!(link.kind_words(), "an ifb");
        link.kind = Some("bridge".into());
        assert_eq!(link.kind_words(), "a bridge");
    }

    #[test]
    fn addresses_of_both_families() {
        let mut v4 = vec![AF_INET, 24, 0, 0];
        v4.extend_from_slice(&5u32.to_ne_bytes());
        push_attr(&mut v4, IFA_ADDRESS, &[10, 0, 0, 9]);
        push_attr(&mut v4, IFA_LOCAL, &[10, 0, 0, 1]);
        assert_eq!(
            parse_address(&v4),
            Some(Address {
                index: 5,
                addr: "10.0.0.1".parse().unwrap(),
                prefix: 24
            })
        );
        let mut v6 = vec![AF_INET6, 64, 0, 0];
        v6.extend_from_slice(&6u32.to_ne_bytes());
        let fd00: Ipv6Addr = "fd00::1".parse().unwrap();
        push_attr(&mut v6, IFA_ADDRESS, &fd00.octets());
        assert_eq!(parse_address(&v6).unwrap().addr, IpAddr::V6(fd00));
    }

    #[test]
    fn messages_split_and_truncated_tails_are_dropped() {
        let mut data = frame(RTM_NEWLINK, 2, 1, &[1, 2, 3, 4]);
        data.extend(frame(NLMSG_DONE, 2, 1, &[0, 0, 0, 0]));
        data.extend_from_slice(&[40, 0, 0, 0, 1]);
        let messages = split(&data);
        assert_eq!(messages.len(), 2);
        assert_eq!(messages[0].kind, RTM_NEWLINK);
        assert_eq!(messages[0].body, [1, 2, 3, 4]);
        assert_eq!(messages[1].kind, NLMSG_DONE);
    }

    #[test]
    fn links_asked_for_by_name() {
        let state = State::read_links(&["lo", "nsnet-ghost0", "lo"]).expect("asking for lo");
        assert_eq!(state.links.len(), 1);
        assert_eq!(state.links[0].name, "lo");
        assert!(state.addresses.is_empty());
        assert_eq!(State::read().unwrap().link("lo"), state.link("lo"));
    }

    /// Reading needs no privilege: the test's own namespace has at least
    /// its loopback.
    #[test]
    fn reads_this_namespace() {
        let state = State::read().expect("reading links over netlink");
        let lo = state.link("lo").expect("a loopback");
        assert_eq!(state.by_index(lo.index), Some(lo));
    }
}
