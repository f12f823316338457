//! A container's network as netinit sets it up from inside: loopback up,
//! the interface's addresses (IPv6 without duplicate-address detection, so
//! they are usable at once), the interface up, default routes, the MTU.
//! Everything is checked when [`Inside`] is made, before anything is done;
//! [`Inside::plan`] is then a plan that rolls back on failure.

use super::{Dev, Plan, Step};
use crate::cidr::HostCidr;
use crate::error::Error;
use crate::name::IfName;
use std::net::IpAddr;

/// Where the default routes go.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Gateways {
    /// The first host of the first subnet of each family
    /// (`10.0.0.1` for `10.0.0.2/24`).
    Default,
    /// These (at most one per family); a family without one gets its default.
    Given(Vec<IpAddr>),
    /// No default route at all.
    None,
}

/// A checked description of the inside of a container's network.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inside {
    iface: IfName,
    addrs: Vec<HostCidr>,
    gateways: Vec<IpAddr>,
    mtu: Option<u32>,
}

fn family(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "IPv4"
    } else {
        "IPv6"
    }
}

impl Inside {
    /// Checks everything that can be checked without touching the kernel.
    pub fn new(
        iface: IfName,
        addrs: Vec<HostCidr>,
        gateways: Gateways,
        mtu: Option<u32>,
    ) -> Result<Inside, Error> {
        if addrs.is_empty() {
            return Err(Error::usage(
                "no address given (like: netinit 10.0.0.2/24 -- COMMAND)",
            ));
        }
        for (i, a) in addrs.iter().enumerate() {
            if addrs[..i].iter().any(|b| b.addr() == a.addr()) {
                return Err(Error::usage(format!(
                    "invalid address '{a}': {} is given twice",
                    a.addr()
                )));
            }
        }
        let gateways = match gateways {
            Gateways::None => vec![],
            Gateways::Default => defaults(&addrs, &[])?,
            Gateways::Given(given) => {
                for (i, gw) in given.iter().enumerate() {
                    if given[..i].iter().any(|g| g.is_ipv4() == gw.is_ipv4()) {
                        return Err(Error::usage(format!(
                            "invalid gateway {gw}: a second {} gateway (one per family)",
                            family(gw)
                        )));
                    }
                    check_gateway(gw, &addrs)?;
                }
                let mut all = given.clone();
                all.extend(defaults(&addrs, &given)?);
                all.sort_by_key(|g| !g.is_ipv4());
                all
            }
        };
        if let Some(mtu) = mtu {
            super::check_mtu(mtu, &addrs)?;
        }
        Ok(Inside {
            iface,
            addrs,
            gateways,
            mtu,
        })
    }

    pub fn iface(&self) -> &IfName {
        &self.iface
    }

    pub fn addrs(&self) -> &[HostCidr] {
        &self.addrs
    }

    /// The default routes' gateways, IPv4 first.
    pub fn gateways(&self) -> &[IpAddr] {
        &self.gateways
    }

    /// The steps, in the order the SPEC gives, for the interface with
    /// `index`; `iface_was_up` says whether a rollback must leave it up.
    /// The MTU comes last: nothing after it can fail, so it never needs
    /// undoing (and the old value need not be read).
    pub fn plan(&self, index: u32, iface_was_up: bool) -> Plan {
        let dev = Dev::known(self.iface.as_str(), index);
        let mut plan = Plan::new();
        // Loopback stays up even on failure: it is the first step of the
        // SPEC's order and harmless.
        plan.step(Step::SetUp {
            dev: Dev::known("lo", LOOPBACK_INDEX),
            up: true,
        });
        for addr in &self.addrs {
            plan.undoable(Step::AddAddress {
                dev: dev.clone(),
                addr: *addr,
                prefix_route: true,
            });
        }
        let up = Step::SetUp {
            dev: dev.clone(),
            up: true,
        };
        if iface_was_up {
            plan.step(up);
        } else {
            plan.undoable(up);
        }
        for gw in &self.gateways {
            plan.undoable(Step::AddRoute {
                dev: dev.clone(),
                to: super::anywhere(gw),
                via: Some(*gw),
            });
        }
        if let Some(mtu) = self.mtu {
            plan.step(Step::SetMtu { dev, mtu });
        }
        plan
    }
}

/// The index of loopback, the same in every namespace (the kernel makes it
/// first, with this index, when it makes the namespace).
pub const LOOPBACK_INDEX: u32 = 1;

/// A given gateway must be a host of one of the subnets, and not ours.
fn check_gateway(gw: &IpAddr, addrs: &[HostCidr]) -> Result<(), Error> {
    let invalid = |why: String| Err(Error::usage(format!("invalid gateway {gw}: {why}")));
    if addrs.iter().any(|a| a.addr() == *gw) {
        return invalid("it is the container's own address".into());
    }
    let Some(home) = addrs.iter().find(|a| a.net().contains(gw)) else {
        let subnets: Vec<String> = addrs
            .iter()
            .filter(|a| a.is_ipv4() == gw.is_ipv4())
            .map(|a| a.subnet().to_string())
            .collect();
        return invalid(if subnets.is_empty() {
            format!("no {} address is given for it to be reached by", family(gw))
        } else {
            format!(
                "outside every subnet of the container ({})",
                subnets.join(", ")
            )
        });
    };
    let net = home.net();
    if net.prefix_len() + 1 < net.max_prefix_len() {
        if *gw == net.network() {
            return invalid(format!("it is the network address of {}", home.subnet()));
        }
        if gw.is_ipv4() && *gw == net.broadcast() {
            return invalid(format!("it is the broadcast address of {}", home.subnet()));
        }
    }
    Ok(())
}

/// The default gateway of each family that has addresses but is not in
/// `given`: the first host of its first subnet. A family whose first subnet
/// has no such host (/31, /32, /127, /128) gets no default route.
fn defaults(addrs: &[HostCidr], given: &[IpAddr]) -> Result<Vec<IpAddr>, Error> {
    let mut out = Vec::new();
    for v4 in [true, false] {
        if given.iter().any(|g| g.is_ipv4() == v4) {
            continue;
        }
        let Some(first) = addrs.iter().find(|a| a.is_ipv4() == v4) else {
            continue;
        };
        let Some(gw) = first.first_host() else {
            continue;
        };
        if addrs.iter().any(|a| a.addr() == gw) {
            return Err(Error::usage(format!(
                "the default gateway {gw} is the container's own address \
                 (give --gateway or --no-gateway)"
            )));
        }
        out.push(gw);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn inside(addrs: &[&str], gateways: Gateways, mtu: Option<u32>) -> Result<Inside, String> {
        let addrs = addrs.iter().map(|a| a.parse().unwrap()).collect();
        Inside::new("eth0".parse().unwrap(), addrs, gateways, mtu).map_err(|e| e.to_string())
    }

    fn given(gws: &[&str]) -> Gateways {
        Gateways::Given(gws.iter().map(|g| g.parse().unwrap()).collect())
    }

    #[test]
    fn the_seed_tutorial() {
        let plan = inside(&["10.0.0.2/24"], Gateways::Default, None)
            .unwrap()
            .plan(2, false);
        assert_eq!(
            plan.script(),
            "ip link set dev lo up\n\
             ip addr add 10.0.0.2/24 dev eth0\n\
             ip link set dev eth0 up\n\
             ip route add default via 10.0.0.1 dev eth0\n"
        );
        let undo: Vec<_> = plan.entries().iter().map(|e| e.undone_on_failure).collect();
        assert_eq!(undo, [false, true, true, true]);
        assert_eq!(
            plan.entries()[3].step.what(),
            "add the default route via 10.0.0.1 on eth0"
        );
    }

    #[test]
    fn ipv6_skips_dad_and_gets_its_own_default_route() {
        let plan = inside(
            &["10.0.0.2/24", "fd00:10::2/64", "10.1.0.2/16"],
            Gateways::Default,
            Some(1400),
        )
        .unwrap()
        .plan(2, true);
        assert_eq!(
            plan.script(),
            "ip link set dev lo up\n\
             ip addr add 10.0.0.2/24 dev eth0\n\
             ip addr add fd00:10::2/64 dev eth0 nodad\n\
             ip addr add 10.1.0.2/16 dev eth0\n\
             ip link set dev eth0 up\n\
             ip route add default via 10.0.0.1 dev eth0\n\
             ip route add default via fd00:10::1 dev eth0\n\
             ip link set dev eth0 mtu 1400\n"
        );
        // An interface that was up already is left up by a rollback.
        assert!(!plan.entries()[4].undone_on_failure);
        assert!(!plan.entries()[7].undone_on_failure);
    }

    #[test]
    fn given_gateways_replace_the_default_of_their_family_only() {
        let i = inside(
            &["10.0.0.2/24", "fd00:10::2/64"],
            given(&["10.0.0.254"]),
            None,
        )
        .unwrap();
        let gws: Vec<String> = i.gateways().iter().map(ToString::to_string).collect();
        assert_eq!(gws, ["10.0.0.254", "fd00:10::1"]);
        let i = inside(
            &["10.0.0.2/24", "fd00:10::2/64"],
            given(&["fd00:10::fe", "10.0.0.254"]),
            None,
        )
        .unwrap();
        let gws: Vec<String> = i.gateways().iter().map(ToString::to_string).collect();
        assert_eq!(gws, ["10.0.0.254", "fd00:10::fe"]);
        let i = inside(&["10.0.0.2/24"], Gateways::None, None).unwrap();
        assert!(i.gateways().is_empty());
        assert!(!i.plan(2, false).script().contains("route"));
    }

    #[test]
    fn subnets_without_a_first_host_get_no_default_route() {
        let i = inside(&["10.0.0.7/32", "10.0.0.2/24"], Gateways::Default, None).unwrap();
        assert!(i.gateways().is_empty());
    }

    #[test]
    fn bad_gateways_are_refused_before_anything_is_done() {
        assert_eq!(
            inside(&["10.0.0.2/24"], given(&["192.168.1.1"]), None).unwrap_err(),
            "invalid gateway 192.168.1.1: outside every subnet of the container (10.0.0.0/24)"
        );
        assert_eq!(
            inside(&["10.0.0.2/24"], given(&["10.0.0.2"]), None).unwrap_err(),
            "invalid gateway 10.0.0.2: it is the container's own address"
        );
        assert_eq!(
            inside(&["10.0.0.2/24"], given(&["10.0.0.0"]), None).unwrap_err(),
            "invalid gateway 10.0.0.0: it is the network address of 10.0.0.0/24"
        );
        assert_eq!(
            inside(&["10.0.0.2/24"], given(&["10.0.0.255"]), None).unwrap_err(),
            "invalid gateway 10.0.0.255: it is the broadcast address of 10.0.0.0/24"
        );
        assert_eq!(
            inside(&["10.0.0.2/24"], given(&["fd00::1"]), None).unwrap_err(),
            "invalid gateway fd00::1: no IPv6 address is given for it to be reached by"
        );
        assert!(
            inside(&["10.0.0.2/24"], given(&["10.0.0.1", "10.0.0.3"]), None)
                .unwrap_err()
                .contains("a second IPv4 gateway")
        );
        assert_eq!(
            inside(&["10.0.0.1/24"], Gateways::Default, None).unwrap_err(),
            "the default gateway 10.0.0.1 is the container's own address \
             (give --gateway or --no-gateway)"
        );
        assert!(inside(&["10.0.0.1/24"], Gateways::None, None).is_ok());
    }

    #[test]
    fn addresses_and_mtus_are_checked() {
        assert!(inside(&[], Gateways::Default, None)
            .unwrap_err()
            .starts_with("no address given"));
        assert_eq!(
            inside(&["10.0.0.2/24", "10.0.0.2/16"], Gateways::Default, None).unwrap_err(),
            "invalid address '10.0.0.2/16': 10.0.0.2 is given twice"
        );
        assert_eq!(
            inside(&["10.0.0.2/24"], Gateways::Default, Some(67)).unwrap_err(),
            "invalid MTU '67': give a number from 68 to 65535"
        );
        assert!(inside(&["10.0.0.2/24"], Gateways::Default, Some(68)).is_ok());
        assert_eq!(
            inside(&["fd00::2/64"], Gateways::Default, Some(1279)).unwrap_err(),
            "--mtu 1279 is too small for the IPv6 address fd00::2/64 (IPv6 needs at least 1280)"
        );
    }
}
