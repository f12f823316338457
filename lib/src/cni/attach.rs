//! The links of one attachment: a veth pair whose peer is made directly in
//! the container's namespace, its host end attached to the network's
//! bridge or, point-to-point, given the gateway's address and a route to
//! the container. Links are found again by their mark, the host end's
//! alias `nsnet:cni:NETWORK:CONTAINERID:IFNAME` (a bridge the plugin made:
//! `nsnet:cni:NETWORK`).
//!
//! Everything that names an attachment follows from one hash of network,
//! container ID and interface name ([`identity`]): the host end's name,
//! the MACs of both ends, and its owner record in natctl's rules. So DEL
//! finds the host end by name (and deletes it only when its mark
//! matches), and results need no read.
//!
//! Point-to-point is routed like the CNI `ptp` plugin: the host end holds
//! the gateway address as a host address (/32, /128; many host ends may
//! hold it) and a host route to each container address; inside, the
//! subnet is reached through the gateway, so containers of one network
//! reach each other through the host.

use super::config::Config;
use super::env::Attachment;
use super::result::{CniResult, Interface, IpConfig, Route};
use crate::cidr::HostCidr;
use crate::error::Error;
use crate::link::bridge::{self, NewBridge};
use crate::link::inside::LOOPBACK_INDEX;
use crate::link::state::{Link, State};
use crate::link::{fnv1a, Dev, Mac, Plan, Step};
use crate::name::IfName;
use crate::netns::Netns;
use ipnet::IpNet;
use std::net::IpAddr;

/// The start of every mark the plugin sets.
pub const MARK_PREFIX: &str = "nsnet:cni:";

/// The mark of a bridge the plugin made for network `net`.
pub fn bridge_mark(net: &str) -> String {
    format!("{MARK_PREFIX}{net}")
}

/// The mark of the host end of an attachment.
pub fn mark(net: &str, a: &Attachment) -> String {
    format!("{MARK_PREFIX}{net}:{}:{}", a.container, a.ifname)
}

/// The attachment a host end's alias names, when it is of network `net`.
pub fn parse_mark(net: &str, alias: &str) -> Option<Attachment> {
    let rest = alias
        .strip_prefix(MARK_PREFIX)?
        .strip_prefix(net)?
        .strip_prefix(':')?;
    let (container, ifname) = rest.split_once(':')?;
    Some(Attachment {
        container: container.parse().ok()?,
        ifname: ifname.parse().ok()?,
    })
}

/// The hash of `parts`, each ended by a NUL (so no two lists of parts
/// hash alike by their concatenation alone): stable across versions, so a
/// name made by one version is found by the next.
fn hash(parts: &[&str]) -> u64 {
    fnv1a(parts.iter().flat_map(|p| p.bytes().chain([0])))
}

/// The attachment's identity: its host end is named by it, and natctl
/// records it as the owner (`cni:` and 16 hex digits) of the rules it
/// holds.
pub fn identity(net: &str, a: &Attachment) -> u64 {
    hash(&[net, a.container.as_str(), a.ifname.as_str()])
}

/// The host end's name: `nsc` and the first 12 hex digits of the
/// identity, so `natctl list`'s `cni:0123456789abcdef` is the owner of
/// `nsc0123456789ab`.
pub fn host_name(net: &str, a: &Attachment) -> IfName {
    format!("nsc{:012x}", identity(net, a) >> 16)
        .parse()
        .expect("15 bytes of letters and digits")
}

fn end_mac(end: &str, net: &str, a: &Attachment) -> Mac {
    Mac::local(hash(&[end, net, a.container.as_str(), a.ifname.as_str()]))
}

/// One address the IPAM plugin allotted, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Allotted {
    pub addr: HostCidr,
    pub gateway: Option<IpAddr>,
}

/// Checks the IPAM plugin's addresses: each a host address of its subnet,
/// each gateway inside it; point-to-point needs a gateway for each.
pub fn allotted(ipam: &CniResult, point_to_point: bool) -> Result<Vec<Allotted>, Error> {
    ipam.ips
        .iter()
        .map(|ip| {
            let addr: HostCidr = ip.address.to_string().parse().map_err(|e: Error| {
                Error::failed(format!("the IPAM plugin allotted {}: {}", ip.address, e.message()))
            })?;
            // The gateway becomes the bridge's own address: a host address
            // of the subnet, not its network or broadcast address.
            let host = |gw: IpAddr| {
                gw != addr.addr()
                    && addr.net().contains(&gw)
                    && format!("{gw}/{}", addr.net().prefix_len())
                        .parse::<HostCidr>()
                        .is_ok()
            };
            match ip.gateway {
                Some(gw) if !host(gw) => Err(Error::failed(format!(
                    "the IPAM plugin gave {addr} the gateway {gw}, which is not another host address of its subnet"
                ))),
                None if point_to_point => Err(Error::failed(format!(
                    "the IPAM plugin gave {addr} no gateway (point-to-point needs one; \
                     give the range a \"gateway\" or use a \"bridge\")"
                ))),
                gateway => Ok(Allotted { addr, gateway }),
            }
        })
        .collect()
}

/// `addr` alone: /32 or /128.
fn host_net(addr: IpAddr) -> IpNet {
    IpNet::from(addr)
}

/// What one ADD makes, all of it known before anything is done.
#[derive(Debug, Clone)]
pub struct Setup<'a> {
    pub config: &'a Config,
    pub attachment: &'a Attachment,
    pub netns: &'a Netns,
    pub ips: Vec<Allotted>,
    pub routes: Vec<Route>,
}

impl Setup<'_> {
    fn net(&self) -> &str {
        &self.config.name
    }

    pub fn host(&self) -> IfName {
        host_name(self.net(), self.attachment)
    }

    fn host_mac(&self) -> Mac {
        end_mac("host", self.net(), self.attachment)
    }

    fn peer_mac(&self) -> Mac {
        end_mac("peer", self.net(), self.attachment)
    }

    fn point_to_point(&self) -> bool {
        self.config.bridge.is_none()
    }

    fn gateway_of(&self, v4: bool) -> Option<IpAddr> {
        self.ips
            .iter()
            .filter(|a| a.addr.is_ipv4() == v4)
            .find_map(|a| a.gateway)
    }

    /// The host side: the bridge when missing, the pair (its peer made in
    /// the container), its mark, and for point-to-point the gateway
    /// addresses and the routes to the container. Refuses a host end that
    /// exists, or a "bridge" that is something else. A failure undoes the
    /// pair and a bridge it made, and with them everything else.
    pub fn host_plan(&self, state: &State) -> Result<Plan, Error> {
        let host = self.host();
        let h = host.as_str();
        if state.link(h).is_some() {
            return Err(Error::failed(format!(
                "cannot create {h}, the host end of {}: an interface with that name already exists",
                self.attachment
            )));
        }
        let mtu = self.config.mtu;
        let mut plan = Plan::new();
        let master = match &self.config.bridge {
            None => None,
            Some(br) => Some(match bridge::existing(state, br, h)? {
                Some(dev) => dev,
                None => {
                    let gateways: Vec<HostCidr> = self
                        .ips
                        .iter()
                        .filter_map(|a| {
                            let gw = a.gateway?;
                            Some(
                                format!("{gw}/{}", a.addr.net().prefix_len())
                                    .parse()
                                    .expect("a gateway inside its subnet"),
                            )
                        })
                        .collect();
                    bridge::create(
                        &mut plan,
                        br,
                        NewBridge {
                            addrs: &gateways,
                            mtu,
                            mark: &bridge_mark(self.net()),
                        },
                    );
                    Dev::made(br)
                }
            }),
        };
        plan.undoable(Step::CreateVeth {
            name: host.clone(),
            mtu,
            master,
            mac: Some(self.host_mac()),
            peer: self.attachment.ifname.clone(),
            peer_mac: Some(self.peer_mac()),
            netns: self.netns.clone(),
        });
        let dev = Dev::made(&host);
        plan.step(Step::SetAlias {
            dev: dev.clone(),
            alias: mark(self.net(), self.attachment),
        });
        if self.point_to_point() {
            for v4 in [true, false] {
                if let Some(gw) = self.gateway_of(v4) {
                    plan.step(Step::AddAddress {
                        dev: dev.clone(),
                        addr: host_net(gw).to_string().parse().expect("a host address"),
                        prefix_route: true,
                    });
                }
            }
        }
        plan.step(Step::SetUp {
            dev: dev.clone(),
            up: true,
        });
        if self.point_to_point() {
            for a in &self.ips {
                plan.step(Step::AddRoute {
                    dev: dev.clone(),
                    to: host_net(a.addr.addr()),
                    via: None,
                });
            }
        }
        Ok(plan)
    }

    /// Inside the container, on its interface with `index`: loopback up,
    /// the addresses, the interface up, the routes. Nothing here needs
    /// undoing: whatever fails, removing the host end removes it all.
    pub fn inside_plan(&self, index: u32) -> Plan {
        let dev = Dev::known(self.attachment.ifname.as_str(), index);
        let p2p = self.point_to_point();
        let mut plan = Plan::new();
        plan.step(Step::SetUp {
            dev: Dev::known("lo", LOOPBACK_INDEX),
            up: true,
        });
        for a in &self.ips {
            plan.step(Step::AddAddress {
                dev: dev.clone(),
                addr: a.addr,
                prefix_route: !p2p,
            });
        }
        plan.step(Step::SetUp {
            dev: dev.clone(),
            up: true,
        });
        if p2p {
            for a in &self.ips {
                let gw = a.gateway.expect("checked by allotted");
                plan.step(Step::AddRoute {
                    dev: dev.clone(),
                    to: host_net(gw),
                    via: None,
                });
                plan.step(Step::AddRoute {
                    dev: dev.clone(),
                    to: a.addr.net().trunc(),
                    via: Some(gw),
                });
            }
        }
        for r in &self.routes {
            let via = r.gw.or_else(|| self.gateway_of(r.dst.addr().is_ipv4()));
            plan.step(Step::AddRoute {
                dev: dev.clone(),
                to: r.dst,
                via,
            });
        }
        plan
    }

    /// The result: what came before, then the bridge (when it is one),
    /// the host end, the container's interface, its addresses and routes.
    pub fn result(&self, prev: Option<&CniResult>, dns: super::result::Dns) -> CniResult {
        let mut result = prev.cloned().unwrap_or_default();
        let mtu = self.config.mtu;
        if let Some(br) = &self.config.bridge {
            result.interfaces.push(Interface {
                name: br.to_string(),
                mac: Some(bridge::address_for(br).to_string()),
                ..Interface::default()
            });
        }
        result.interfaces.push(Interface {
            name: self.host().to_string(),
            mac: Some(self.host_mac().to_string()),
            mtu,
            ..Interface::default()
        });
        let inside = result.interfaces.len();
        result.interfaces.push(Interface {
            name: self.attachment.ifname.to_string(),
            mac: Some(self.peer_mac().to_string()),
            mtu,
            sandbox: Some(self.netns.path().to_string_lossy().into_owned()),
            ..Interface::default()
        });
        result.ips.extend(self.ips.iter().map(|a| IpConfig {
            address: a.addr.net(),
            gateway: a.gateway,
            interface: Some(inside),
        }));
        result.routes.extend(self.routes.iter().cloned());
        if result.dns.is_empty() {
            result.dns = dns;
        }
        result
    }
}

/// The host ends of network `net`, with the attachment each belongs to.
pub fn attachments<'a>(
    state: &'a State,
    net: &'a str,
) -> impl Iterator<Item = (&'a Link, Attachment)> + 'a {
    state
        .links
        .iter()
        .filter(|l| l.is("veth"))
        .filter_map(move |l| Some((l, parse_mark(net, l.alias.as_deref()?)?)))
}

/// The bridge of network `net` that the plugin made, when it has no port
/// left once the links with the indexes in `leaving` are gone.
pub fn emptied_bridge<'a>(
    state: &'a State,
    net: &str,
    bridge: &IfName,
    leaving: &[u32],
) -> Option<&'a Link> {
    state
        .link(bridge.as_str())
        .filter(|br| br.is("bridge") && br.marked(&bridge_mark(net)))
        .filter(|br| state.ports(br).all(|p| leaving.contains(&p.index)))
}

/// The addresses of ours in a result: those on the interface named
/// `ifname` inside a sandbox (a chain may hold others, like loopback's).
pub fn ours(result: &CniResult, ifname: &IfName) -> Vec<IpNet> {
    result
        .ips
        .iter()
        .filter(|ip| {
            ip.interface
                .and_then(|i| result.interfaces.get(i))
                .is_some_and(|i| i.name == ifname.as_str() && i.sandbox.is_some())
        })
        .map(|ip| ip.address)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ipam(address: &str, gateway: &str) -> CniResult {
        CniResult::from_value(&json!({"ips": [{"address": address, "gateway": gateway}]})).unwrap()
    }

    #[test]
    fn a_gateway_is_another_host_address_of_the_subnet() {
        let ok = allotted(&ipam("10.1.0.2/24", "10.1.0.1"), false).unwrap();
        assert_eq!(ok[0].gateway, Some("10.1.0.1".parse().unwrap()));
        for gw in ["10.1.0.0", "10.1.0.255", "10.1.0.2", "10.2.0.1"] {
            let e = allotted(&ipam("10.1.0.2/24", gw), false).unwrap_err();
            assert!(
                e.message()
                    .ends_with("which is not another host address of its subnet"),
                "{gw}: {}",
                e.message()
            );
        }
    }
}
