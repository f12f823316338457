//! Which interface of this host reaches an address directly (no gateway):
//! one route lookup and one link lookup over rtnetlink, whatever the number
//! of interfaces. Publishing asks it, to let `127.0.0.1` through to a
//! destination behind that interface (`route_localnet`).

use crate::error::Error;
use netlink_packet_core::{
    NetlinkHeader, NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_REQUEST,
};
use netlink_packet_route::link::{LinkAttribute, LinkMessage};
use netlink_packet_route::route::{RouteAddress, RouteAttribute, RouteMessage};
use netlink_packet_route::{AddressFamily, RouteNetlinkMessage};
use netlink_sys::{protocols::NETLINK_ROUTE, Socket, SocketAddr};
use std::net::IpAddr;

fn ask(
    socket: &Socket,
    request: RouteNetlinkMessage,
) -> Result<Option<RouteNetlinkMessage>, Error> {
    let what = "cannot look up a route";
    let mut header = NetlinkHeader::default();
    header.flags = NLM_F_REQUEST | NLM_F_ACK;
    header.sequence_number = 1;
    let mut msg = NetlinkMessage::new(header, NetlinkPayload::InnerMessage(request));
    msg.finalize();
    let mut buf = vec![0; msg.buffer_len()];
    msg.serialize(&mut buf);
    socket.send(&buf, 0).map_err(|e| Error::io(what, &e))?;
    let mut answer = None;
    loop {
        let mut data = Vec::with_capacity(16 * 1024);
        let n = socket.recv(&mut data, 0).map_err(|e| Error::io(what, &e))?;
        let mut rest = &data[..n];
        while !rest.is_empty() {
            let msg = NetlinkMessage::<RouteNetlinkMessage>::deserialize(rest)
                .map_err(|e| Error::failed(format!("{what}: unreadable answer ({e})")))?;
            let len = msg.header.length as usize;
            match msg.payload {
                NetlinkPayload::InnerMessage(m) => answer = Some(m),
                // An unreachable address is no error here: nothing reaches it.
                NetlinkPayload::Error(e) => {
                    return Ok(if e.code.is_some() { None } else { answer })
                }
                NetlinkPayload::Done(_) => return Ok(answer),
                _ => {}
            }
            rest = &rest[((len + 3) & !3).min(rest.len())..];
        }
    }
}

/// The name of the interface through which `addr` is reached directly,
/// `None` when it is reached through a gateway or not at all.
pub fn interface_toward(addr: IpAddr) -> Result<Option<String>, Error> {
    let mut socket =
        Socket::new(NETLINK_ROUTE).map_err(|e| Error::io("cannot look up a route", &e))?;
    socket
        .bind_auto()
        .and_then(|_| socket.connect(&SocketAddr::new(0, 0)))
        .map_err(|e| Error::io("cannot look up a route", &e))?;
    let mut route = RouteMessage::default();
    route.header.address_family = if addr.is_ipv4() {
        AddressFamily::Inet
    } else {
        AddressFamily::Inet6
    };
    route.header.destination_prefix_length = if addr.is_ipv4() { 32 } else { 128 };
    route
        .attributes
        .push(RouteAttribute::Destination(RouteAddress::from(addr)));
    let Some(RouteNetlinkMessage::NewRoute(found)) =
        ask(&socket, RouteNetlinkMessage::GetRoute(route))?
    else {
        return Ok(None);
    };
    if found
        .attributes
        .iter()
        .any(|a| matches!(a, RouteAttribute::Gateway(_)))
    {
        return Ok(None);
    }
    let Some(index) = found.attributes.iter().find_map(|a| match a {
        RouteAttribute::Oif(i) => Some(*i),
        _ => None,
    }) else {
        return Ok(None);
    };
    let mut link = LinkMessage::default();
    link.header.index = index;
    let Some(RouteNetlinkMessage::NewLink(link)) =
        ask(&socket, RouteNetlinkMessage::GetLink(link))?
    else {
        return Ok(None);
    };
    Ok(link.attributes.into_iter().find_map(|a| match a {
        LinkAttribute::IfName(name) => Some(name),
        _ => None,
    }))
}
