//! The rtnetlink requests nsnet sends, one function each, and the flags
//! each kind of request goes with. Links are named by index once they
//! exist, so a request never reaches a same-named link made meanwhile.

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL};
use netlink_packet_route::address::{AddressAttribute, AddressHeaderFlags, AddressMessage};
use netlink_packet_route::link::{
    InfoData, InfoKind, InfoVeth, LinkAttribute, LinkFlags, LinkInfo, LinkMessage,
};
use netlink_packet_route::route::{
    RouteAddress, RouteAttribute, RouteHeader, RouteMessage, RouteProtocol, RouteScope, RouteType,
};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use std::net::IpAddr;
use std::os::fd::{AsRawFd, BorrowedFd};

/// The flags that go with a change: new objects are created, never
/// replaced (`NLM_F_EXCL`), and a new link is echoed back so its index is
/// known exactly, whatever else is made meanwhile.
pub(super) fn flags(request: &RouteNetlinkMessage) -> u16 {
    match request {
        RouteNetlinkMessage::NewLink(_) => NLM_F_CREATE | NLM_F_EXCL | NLM_F_ECHO,
        RouteNetlinkMessage::NewAddress(_) | RouteNetlinkMessage::NewRoute(_) => {
            NLM_F_CREATE | NLM_F_EXCL
        }
        _ => 0,
    }
}

/// What a new link is made of besides its name and kind.
#[derive(Debug, Clone, Copy, Default)]
pub struct NewLink {
    pub mtu: Option<u32>,
    /// The index of the bridge to attach it to, in the same request.
    pub master: Option<u32>,
}

fn new_link(name: &str, options: NewLink, info: Vec<LinkInfo>) -> LinkMessage {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    if let Some(mtu) = options.mtu {
        message.attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(master) = options.master {
        message.attributes.push(LinkAttribute::Controller(master));
    }
    message.attributes.push(LinkAttribute::LinkInfo(info));
    message
}

/// A veth pair: `name` here, its peer `peer` made directly in the
/// namespace of the nsfs file `peer_netns`.
pub fn new_veth(
    name: &str,
    options: NewLink,
    peer: &str,
    peer_mtu: Option<u32>,
    peer_netns: BorrowedFd<'_>,
) -> RouteNetlinkMessage {
    let mut peer_message = LinkMessage::default();
    peer_message
        .attributes
        .push(LinkAttribute::IfName(peer.to_string()));
    if let Some(mtu) = peer_mtu {
        peer_message.attributes.push(LinkAttribute::Mtu(mtu));
    }
    peer_message
        .attributes
        .push(LinkAttribute::NetNsFd(peer_netns.as_raw_fd()));
    RouteNetlinkMessage::NewLink(new_link(
        name,
        options,
        vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_message))),
        ],
    ))
}

/// A bridge with the Ethernet address `address`.
pub fn new_bridge(name: &str, options: NewLink, address: [u8; 6]) -> RouteNetlinkMessage {
    let mut message = new_link(name, options, vec![LinkInfo::Kind(InfoKind::Bridge)]);
    message
        .attributes
        .push(LinkAttribute::Address(address.to_vec()));
    RouteNetlinkMessage::NewLink(message)
}

fn set_link(index: u32, change: impl FnOnce(&mut LinkMessage)) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index;
    change(&mut message);
    RouteNetlinkMessage::SetLink(message)
}

pub fn set_alias(index: u32, alias: &str) -> RouteNetlinkMessage {
    set_link(index, |m| {
        m.attributes.push(LinkAttribute::IfAlias(alias.to_string()))
    })
}

pub fn set_up(index: u32, up: bool) -> RouteNetlinkMessage {
    set_link(index, |m| {
        m.header.change_mask = LinkFlags::Up;
        if up {
            m.header.flags = LinkFlags::Up;
        }
    })
}

pub fn set_mtu(index: u32, mtu: u32) -> RouteNetlinkMessage {
    set_link(index, |m| m.attributes.push(LinkAttribute::Mtu(mtu)))
}

pub fn delete_link(index: u32) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index;
    RouteNetlinkMessage::DelLink(message)
}

/// `GET` of the link called `name` (or with that altname).
pub fn get_link_by_name(name: &str) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    RouteNetlinkMessage::GetLink(message)
}

/// `GET` of the link with `index`, in this namespace or in the one with
/// id `nsid` as this namespace knows it.
pub fn get_link_by_index(index: u32, nsid: Option<i32>) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.header.index = index;
    if let Some(nsid) = nsid {
        message.attributes.push(LinkAttribute::IfNetnsId(nsid));
    }
    RouteNetlinkMessage::GetLink(message)
}

/// `GET` of the route the kernel would take to `addr` (`ip route get`).
pub fn get_route(addr: IpAddr) -> RouteNetlinkMessage {
    let mut message = RouteMessage::default();
    message.header.address_family = family(&addr);
    message.header.destination_prefix_length = if addr.is_ipv4() { 32 } else { 128 };
    message
        .attributes
        .push(RouteAttribute::Destination(RouteAddress::from(addr)));
    RouteNetlinkMessage::GetRoute(message)
}

fn family(addr: &IpAddr) -> AddressFamily {
    match addr {
        IpAddr::V4(_) => AddressFamily::Inet,
        IpAddr::V6(_) => AddressFamily::Inet6,
    }
}

/// An address as `ip addr add` sends it: IPv4 with its local address
/// and, IPv6, without duplicate address detection when `nodad`.
fn address(index: u32, net: IpNet, nodad: bool) -> AddressMessage {
    let mut message = AddressMessage::default();
    message.header.family = family(&net.addr());
    message.header.prefix_len = net.prefix_len();
    message.header.index = index;
    if nodad {
        message.header.flags = AddressHeaderFlags::Nodad;
    }
    if net.addr().is_ipv4() {
        message.attributes.push(AddressAttribute::Local(net.addr()));
    }
    message
        .attributes
        .push(AddressAttribute::Address(net.addr()));
    message
}

pub fn add_address(index: u32, net: IpNet, nodad: bool) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewAddress(address(index, net, nodad))
}

pub fn delete_address(index: u32, net: IpNet) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelAddress(address(index, net, false))
}

/// A default route via `gateway` out of link `index`, in the main table,
/// as `ip route add default via GATEWAY dev NAME` makes it.
fn default_route(index: u32, gateway: IpAddr) -> RouteMessage {
    let mut message = RouteMessage::default();
    message.header.address_family = family(&gateway);
    message.header.table = RouteHeader::RT_TABLE_MAIN;
    message.header.protocol = RouteProtocol::Boot;
    message.header.scope = RouteScope::Universe;
    message.header.kind = RouteType::Unicast;
    message
        .attributes
        .push(RouteAttribute::Gateway(gateway.into()));
    message.attributes.push(RouteAttribute::Oif(index));
    message
}

pub fn add_default_route(index: u32, gateway: IpAddr) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewRoute(default_route(index, gateway))
}

pub fn delete_default_route(index: u32, gateway: IpAddr) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelRoute(default_route(index, gateway))
}
