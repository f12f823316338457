//! The rtnetlink requests nsnet sends, one function each, and the flags
//! each kind of request goes with. Links are named by index once they
//! exist, so a request never reaches a same-named link made meanwhile.

use ipnet::IpNet;
use netlink_packet_core::{NLM_F_CREATE, NLM_F_ECHO, NLM_F_EXCL};
use netlink_packet_route::address::{
    AddressAttribute, AddressFlags as KernelAddressFlags, AddressHeaderFlags, AddressMessage,
};
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
    /// Its link-layer address; the kernel picks one when `None`.
    pub mac: Option<[u8; 6]>,
}

/// The attributes of a new link, its kind's `info` last when given.
fn new_link(name: &str, options: NewLink, info: Option<Vec<LinkInfo>>) -> LinkMessage {
    let mut message = LinkMessage::default();
    message
        .attributes
        .push(LinkAttribute::IfName(name.to_string()));
    if let Some(mac) = options.mac {
        message
            .attributes
            .push(LinkAttribute::Address(mac.to_vec()));
    }
    if let Some(mtu) = options.mtu {
        message.attributes.push(LinkAttribute::Mtu(mtu));
    }
    if let Some(master) = options.master {
        message.attributes.push(LinkAttribute::Controller(master));
    }
    if let Some(info) = info {
        message.attributes.push(LinkAttribute::LinkInfo(info));
    }
    message
}

/// A veth pair: `name` here, its peer `peer` made directly in the
/// namespace of the nsfs file `peer_netns`.
pub fn new_veth(
    name: &str,
    options: NewLink,
    peer: &str,
    peer_options: NewLink,
    peer_netns: BorrowedFd<'_>,
) -> RouteNetlinkMessage {
    let mut peer_message = new_link(peer, peer_options, None);
    peer_message
        .attributes
        .push(LinkAttribute::NetNsFd(peer_netns.as_raw_fd()));
    RouteNetlinkMessage::NewLink(new_link(
        name,
        options,
        Some(vec![
            LinkInfo::Kind(InfoKind::Veth),
            LinkInfo::Data(InfoData::Veth(InfoVeth::Peer(peer_message))),
        ]),
    ))
}

/// A bridge.
pub fn new_bridge(name: &str, options: NewLink) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewLink(new_link(
        name,
        options,
        Some(vec![LinkInfo::Kind(InfoKind::Bridge)]),
    ))
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

pub fn set_group(index: u32, group: u32) -> RouteNetlinkMessage {
    set_link(index, |m| m.attributes.push(LinkAttribute::Group(group)))
}

/// Deletes every link of device group `group` in one go: the kernel
/// unregisters them as one batch, and waits for its grace period once.
pub fn delete_group(group: u32) -> RouteNetlinkMessage {
    let mut message = LinkMessage::default();
    message.attributes.push(LinkAttribute::Group(group));
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

/// How a new address is added.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AddressFlags {
    /// IPv6: usable at once, without duplicate address detection.
    pub nodad: bool,
    /// The kernel adds the route to the address's subnet (else
    /// `noprefixroute`).
    pub prefix_route: bool,
}

impl AddressFlags {
    /// What a removal names: no flags.
    const NONE: AddressFlags = AddressFlags {
        nodad: false,
        prefix_route: true,
    };
}

/// An address as `ip addr add` sends it: IPv4 with its local address,
/// and the flags asked for.
fn address(index: u32, net: IpNet, flags: AddressFlags) -> AddressMessage {
    let mut message = AddressMessage::default();
    message.header.family = family(&net.addr());
    message.header.prefix_len = net.prefix_len();
    message.header.index = index;
    if flags.nodad {
        message.header.flags = AddressHeaderFlags::Nodad;
    }
    if !flags.prefix_route {
        // Only the 32-bit flags attribute has room for this flag.
        let mut all = KernelAddressFlags::Noprefixroute;
        if flags.nodad {
            all |= KernelAddressFlags::Nodad;
        }
        message.attributes.push(AddressAttribute::Flags(all));
    }
    if net.addr().is_ipv4() {
        message.attributes.push(AddressAttribute::Local(net.addr()));
    }
    message
        .attributes
        .push(AddressAttribute::Address(net.addr()));
    message
}

pub fn add_address(index: u32, net: IpNet, flags: AddressFlags) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewAddress(address(index, net, flags))
}

pub fn delete_address(index: u32, net: IpNet) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelAddress(address(index, net, AddressFlags::NONE))
}

/// A route to `to` out of link `index`, in the main table, as `ip route
/// add TO [via GATEWAY] dev NAME` makes it: through a gateway it reaches
/// the universe, without one it is on the link.
fn route(index: u32, to: IpNet, gateway: Option<IpAddr>) -> RouteMessage {
    let mut message = RouteMessage::default();
    message.header.address_family = family(&to.addr());
    message.header.destination_prefix_length = to.prefix_len();
    message.header.table = RouteHeader::RT_TABLE_MAIN;
    message.header.protocol = RouteProtocol::Boot;
    message.header.scope = if gateway.is_some() {
        RouteScope::Universe
    } else {
        RouteScope::Link
    };
    message.header.kind = RouteType::Unicast;
    if to.prefix_len() > 0 {
        message
            .attributes
            .push(RouteAttribute::Destination(to.network().into()));
    }
    if let Some(gateway) = gateway {
        message
            .attributes
            .push(RouteAttribute::Gateway(gateway.into()));
    }
    message.attributes.push(RouteAttribute::Oif(index));
    message
}

pub fn add_route(index: u32, to: IpNet, gateway: Option<IpAddr>) -> RouteNetlinkMessage {
    RouteNetlinkMessage::NewRoute(route(index, to, gateway))
}

pub fn delete_route(index: u32, to: IpNet, gateway: Option<IpAddr>) -> RouteNetlinkMessage {
    RouteNetlinkMessage::DelRoute(route(index, to, gateway))
}
