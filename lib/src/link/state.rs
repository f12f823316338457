//! What the kernel says right now about the links and addresses of one
//! network namespace, as the checks of vethup and vethdown need it (does
//! HOSTIF exist, is BR a bridge, who holds 10.0.0.1, which veths carry our
//! mark), read over [`crate::netlink`]. Only reading happens here; every
//! change goes through a [`super::Plan`].

use crate::error::Error;
use crate::netlink::Socket;
pub use crate::netlink::{Address, Link};
use std::net::IpAddr;

/// The links and addresses of a namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct State {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
}

impl State {
    /// Every link and address.
    pub fn read(socket: &mut Socket) -> Result<State, Error> {
        Ok(State {
            links: socket.links()?,
            addresses: socket.addresses()?,
        })
    }

    /// Only the links called `names` (by name or altname), each asked for
    /// by name, and no addresses: enough for a check about those links, at
    /// a cost that does not grow with the host's interfaces.
    pub fn read_links(socket: &mut Socket, names: &[&str]) -> Result<State, Error> {
        let mut links: Vec<Link> = Vec::new();
        for name in names {
            if let Some(link) = socket.link(name)? {
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn links_asked_for_by_name() {
        let mut socket = Socket::here().expect("a netlink socket");
        let state = State::read_links(&mut socket, &["lo", "nsnet-ghost0", "lo"]).unwrap();
        assert_eq!(state.links.len(), 1);
        assert_eq!(state.links[0].name, "lo");
        assert!(state.addresses.is_empty());
        let all = State::read(&mut socket).unwrap();
        assert_eq!(all.link("lo"), state.link("lo"));
        assert_eq!(all.by_index(1), state.link("lo"));
    }

    #[test]
    fn holders_and_ports() {
        let state = State {
            links: vec![
                Link::made(1, "nsbr0", "bridge", None, None),
                Link::made(2, "c1", "veth", None, Some(1)),
                Link::made(3, "c2", "veth", None, None),
            ],
            addresses: vec![Address {
                index: 1,
                addr: "10.0.0.1".parse().unwrap(),
                prefix: 24,
            }],
        };
        let br = state.link("nsbr0").unwrap();
        let ports: Vec<&str> = state.ports(br).map(|l| l.name.as_str()).collect();
        assert_eq!(ports, ["c1"]);
        assert_eq!(
            state
                .holder_of("10.0.0.1".parse().unwrap())
                .map(|l| l.index),
            Some(1)
        );
        assert_eq!(state.holder_of("10.0.0.2".parse().unwrap()), None);
    }
}
