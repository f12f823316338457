//! Bridges for vethup: a missing `--bridge` is made, marked, addressed and
//! brought up in the same plan as the pair; an existing one is used as it
//! is. A marked bridge goes when its last port goes.

use super::state::{Link, State};
use super::{Dev, Plan, Step, MARK};
use crate::cidr::HostCidr;
use crate::name::IfName;

/// Adds the steps that create bridge `name` with its mark, `addrs` and
/// `mtu`, and bring it up. Undoing the creation undoes them all.
pub fn create(plan: &mut Plan, name: &IfName, addrs: &[HostCidr], mtu: Option<u32>) {
    plan.undoable(Step::CreateBridge {
        name: name.clone(),
        mtu,
        address: address_for(name),
    });
    let dev = Dev::made(name);
    plan.step(Step::SetAlias {
        dev: dev.clone(),
        alias: MARK,
    });
    for addr in addrs {
        plan.step(Step::AddAddress {
            dev: dev.clone(),
            addr: *addr,
        });
    }
    plan.step(Step::SetUp { dev, up: true });
}

/// The Ethernet address of bridge `name`: locally administered, unicast,
/// and the same every time the bridge is made (FNV-1a of its name), so a
/// printed plan is the plan that runs and a bridge made again keeps the
/// address its containers' neighbour caches hold.
pub fn address_for(name: &IfName) -> [u8; 6] {
    let hash = name
        .as_str()
        .bytes()
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3)
        });
    let b = hash.to_be_bytes();
    [0x02, b[3], b[4], b[5], b[6], b[7]]
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
        assert_eq!(a[0] & 0b11, 0b10, "locally administered, unicast: {a:02x?}");
    }

    #[test]
    fn a_new_bridge_is_marked_addressed_and_up() {
        let mut plan = Plan::new();
        let addrs = [
            "10.0.0.1/24".parse().unwrap(),
            "fd00::1/64".parse().unwrap(),
        ];
        create(&mut plan, &"nsbr0".parse().unwrap(), &addrs, Some(1400));
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
