//! Bridges for vethup: a missing `--bridge` is made, marked, addressed and
//! brought up in the same plan as the pair; an existing one is used as it
//! is. A marked bridge goes when its last port goes.

use super::state::{Link, State};
use super::{address_args, Plan, MARK};
use crate::cidr::HostCidr;
use crate::name::IfName;

/// Adds the steps that create bridge `name` with its mark, `addrs` and
/// `mtu`, and bring it up.
pub fn create(plan: &mut Plan, name: &IfName, addrs: &[HostCidr], mtu: Option<u32>) {
    let br = name.as_str();
    let mut add = vec!["link", "add", br];
    let mtu_text = mtu.map(|m| m.to_string());
    if let Some(m) = &mtu_text {
        add.extend(["mtu", m]);
    }
    add.extend(["type", "bridge"]);
    plan.creates(format!("create the bridge {br}"), add, ["link", "del", br]);
    plan.step(
        format!("mark {br} as vethup's"),
        ["link", "set", br, "alias", MARK],
    );
    for addr in addrs {
        plan.step(format!("add {addr} to {br}"), address_args(addr, br));
    }
    plan.step(format!("bring {br} up"), ["link", "set", br, "up"]);
}

/// A bridge vethup made.
pub fn is_ours(link: &Link) -> bool {
    link.is("bridge") && link.marked(MARK)
}

/// vethup's bridges that have no port left once the links named in
/// `leaving` are gone. A bridge that still holds a port of someone else's
/// stays: removing it would change that port.
pub fn emptied<'a>(state: &'a State, leaving: &[&str]) -> Vec<&'a Link> {
    state
        .links
        .iter()
        .filter(|l| is_ours(l))
        .filter(|br| state.ports(br).all(|p| leaving.contains(&p.name.as_str())))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

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
            "ip link add nsbr0 mtu 1400 type bridge\n\
             ip link set nsbr0 alias nsnet:vethup\n\
             ip addr add 10.0.0.1/24 dev nsbr0\n\
             ip addr add fd00::1/64 dev nsbr0 nodad\n\
             ip link set nsbr0 up\n"
        );
        assert_eq!(
            plan.steps()[0].undo,
            Some(vec!["link".into(), "del".into(), "nsbr0".into()])
        );
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
        assert_eq!(names(emptied(&state, &["c1"])), ["nsbr1"]);
        assert_eq!(names(emptied(&state, &["c1", "c2"])), ["nsbr0", "nsbr1"]);
        assert_eq!(
            names(emptied(&state, &["c1", "c2", "foreign"])),
            ["nsbr0", "nsbr1", "nsbr2"]
        );
    }
}
