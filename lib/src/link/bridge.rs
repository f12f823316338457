//! Bridges for vethup and the CNI plugin: a missing bridge is made,
//! marked, addressed and brought up in the same plan as the pair; an
//! existing one is used as it is. A marked bridge goes when its last port
//! goes.

use super::state::{Link, State};
use super::{Dev, Mac, Plan, Step, MARK};
use crate::cidr::HostCidr;
use crate::error::Error;
use crate::name::IfName;

/// The bridge `br` that `host` is to be attached to, as the host has it
/// now: `Some` when it exists (used as it is), `None` when it is to be
/// made; refused when something that is not a bridge has its name.
pub fn existing(state: &State, br: &IfName, host: &str) -> Result<Option<Dev>, Error> {
    match state.link(br.as_str()) {
        Some(link) if !link.is("bridge") => Err(Error::failed(format!(
            "cannot attach {host} to {br}: {br} is {}, not a bridge",
            link.kind_words()
        ))),
        Some(link) => Ok(Some(Dev::known(br.as_str(), link.index))),
        None => Ok(None),
    }
}

/// What a new bridge is made with besides its name (and its address,
/// [`address_for`] the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NewBridge<'a> {
    pub addrs: &'a [HostCidr],
    pub mtu: Option<u32>,
    /// Its alias, the mark of whoever made it.
    pub mark: &'a str,
}

/// Adds the steps that create bridge `name` as `new` says, and bring it
/// up. Undoing the creation undoes them all.
pub fn create(plan: &mut Plan, name: &IfName, new: NewBridge<'_>) {
    plan.undoable(Step::CreateBridge {
        name: name.clone(),
        mtu: new.mtu,
        mac: address_for(name),
    });
    let dev = Dev::made(name);
    plan.step(Step::SetAlias {
        dev: dev.clone(),
        alias: new.mark.into(),
    });
    for addr in new.addrs {
        plan.step(Step::AddAddress {
            dev: dev.clone(),
            addr: *addr,
            prefix_route: true,
        });
    }
    plan.step(Step::SetUp { dev, up: true });
}

/// The Ethernet address of bridge `name`: locally administered, unicast,
/// and the same every time the bridge is made (FNV-1a of its name), so a
/// printed plan is the plan that runs and a bridge made again keeps the
/// address its containers' neighbour caches hold.
pub fn address_for(name: &IfName) -> Mac {
    Mac::local(super::fnv1a(name.as_str().bytes()))
}

/// A bridge vethup made.
pub fn is_ours(link: &Link) -> bool {
    link.is("bridge") && link.marked(MARK)
}

/// vethup's bridges that have no port left once the links with the
/// indexes in `leaving` are gone. A bridge that still holds a port of
/// someone else's stays: removing it would change that port.
pub fn emptied<'a>(state: &'a State, leaving: &[u32]) -> Vec<&'a Link> {
    state
        .links
        .iter()
        .filter(|l| is_ours(l))
        .filter(|br| state.ports(br).all(|p| leaving.contains(&p.index)))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bridge_address_is_local_unicast_and_its_names_own() {
        let a = address_for(&"nsbr0".parse().unwrap());
        assert_eq!(a, address_for(&"nsbr0".parse().unwrap()));
        assert_ne!(a, address_for(&"nsbr1".parse().unwrap()));
        assert_eq!(a.0[0] & 0b11, 0b10, "locally administered, unicast: {a}");
    }

    #[test]
    fn a_new_bridge_is_marked_addressed_and_up() {
        let mut plan = Plan::new();
        let addrs = [
            "10.0.0.1/24".parse().unwrap(),
            "fd00::1/64".parse().unwrap(),
        ];
        create(
            &mut plan,
            &"nsbr0".parse().unwrap(),
            NewBridge {
                addrs: &addrs,
                mtu: Some(1400),
                mark: MARK,
            },
        );
        assert_eq!(
            plan.script(),
            "ip link add name nsbr0 mtu 1400 address 02:88:7c:b1:22:9e type bridge\n\
             ip link set dev nsbr0 alias nsnet:vethup\n\
             ip addr add 10.0.0.1/24 dev nsbr0\n\
             ip addr add fd00::1/64 dev nsbr0 nodad\n\
             ip link set dev nsbr0 up\n"
        );
        let undone: Vec<bool> = plan.entries().iter().map(|e| e.undone_on_failure).collect();
        assert_eq!(undone, [true, false, false, false, false]);
    }

    #[test]
    fn only_our_bridges_without_other_ports_are_emptied() {
        let state = State {
            links: vec![
                Link::made(1, "nsbr0", "bridge", Some(MARK), None),
                Link::made(2, "c1", "veth", Some(MARK), Some(1)),
                Link::made(3, "c2", "veth", Some(MARK), Some(1)),
                Link::made(4, "br-x", "bridge", None, None),
                Link::made(5, "nsbr1", "bridge", Some(MARK), None),
                Link::made(6, "nsbr2", "bridge", Some(MARK), None),
                Link::made(7, "foreign", "veth", None, Some(6)),
            ],
            addresses: vec![],
        };
        let names = |v: Vec<&Link>| v.into_iter().map(|l| l.name.clone()).collect::<Vec<_>>();
        assert_eq!(names(emptied(&state, &[2])), ["nsbr1"]);
        assert_eq!(names(emptied(&state, &[2, 3])), ["nsbr0", "nsbr1"]);
        assert_eq!(
            names(emptied(&state, &[2, 3, 7])),
            ["nsbr0", "nsbr1", "nsbr2"]
        );
    }
}
