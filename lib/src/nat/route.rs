//! Which interface of this host reaches an address directly (no gateway):
//! one route lookup and one link lookup over rtnetlink, whatever the number
//! of interfaces. Publishing asks it, to let `127.0.0.1` through to a
//! destination behind that interface (`route_localnet`).

use crate::error::Error;
use crate::netlink::Socket;
use std::net::IpAddr;

/// The name of the interface through which `addr` is reached directly,
/// `None` when it is reached through a gateway or not at all.
pub fn interface_toward(addr: IpAddr) -> Result<Option<String>, Error> {
    let mut socket = Socket::here()?;
    let Some(route) = socket.route_to(addr)? else {
        return Ok(None);
    };
    let (None, Some(oif)) = (route.gateway, route.oif) else {
        return Ok(None);
    };
    Ok(socket.link_by_index(oif)?.map(|link| link.name))
}
