//! The links of one attachment: a veth pair whose peer is made directly in
//! the container's namespace, its host end attached to the network's
//! bridge or, point-to-point, given the gateway's address and a route to
//! the container. Everything is found again by its mark, the host end's
//! alias `nsnet:cni:NETWORK:CONTAINERID:IFNAME`, so nothing of the plugin's
//! state lives outside the kernel (and the IPAM plugin's own files).
//!
//! The host end's name and the MACs follow from the attachment (a hash of
//! network, container ID and interface name): DEL finds the host end by
//! name and deletes it only when its mark matches; results need no read.
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
use crate::link::state::{Link, State};
use crate::link::{address_args, Plan};
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

/// FNV-1a, 64 bits: a hash that stays the same across builds and
/// versions, so a name made by one version is found by the next.
fn fnv1a(parts: &[&str]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for part in parts {
        for byte in part.bytes().chain([0]) {
            hash ^= u64::from(byte);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    }
    hash
}

/// A locally administered unicast MAC from a hash.
fn mac(hash: u64) -> String {
    let b = hash.to_be_bytes();
    format!(
        "02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        b[3], b[4], b[5], b[6], b[7]
    )
}

/// The host end's name: `nsc` and 12 hex digits.
pub fn host_name(net: &str, a: &Attachment) -> IfName {
    let hash = fnv1a(&[net, a.container.as_str(), a.ifname.as_str()]);
    format!("nsc{:012x}", hash >> 16)
        .parse()
        .expect("15 bytes of letters and digits")
}

fn host_mac(net: &str, a: &Attachment) -> String {
    mac(fnv1a(&[
        "host",
        net,
        a.container.as_str(),
        a.ifname.as_str(),
    ]))
}

fn peer_mac(net: &str, a: &Attachment) -> String {
    mac(fnv1a(&[
        "peer",
        net,
        a.container.as_str(),
        a.ifname.as_str(),
    ]))
}

/// The bridge keeps one MAC whatever ports come and go, so the
/// containers' neighbour entries for the gateway stay right.
fn bridge_mac(net: &str) -> String {
    mac(fnv1a(&["bridge", net]))
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
            match ip.gateway {
                Some(gw) if !addr.net().contains(&gw) || gw == addr.addr() => {
                    Err(Error::failed(format!(
                        "the IPAM plugin gave {addr} the gateway {gw}, which is not another address of its subnet"
                    )))
                }
                None if point_to_point => Err(Error::failed(format!(
                    "the IPAM plugin gave {addr} no gateway (point-to-point needs one; \
                     give the range a \"gateway\" or use a \"bridge\")"
                ))),
                gateway => Ok(Allotted { addr, gateway }),
            }
        })
        .collect()
}

fn host_prefix(addr: IpAddr) -> u8 {
    if addr.is_ipv4() {
        32
    } else {
        128
    }
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

    fn gateway_of(&self, v4: bool) -> Option<IpAddr> {
        self.ips
            .iter()
            .filter(|a| a.addr.is_ipv4() == v4)
            .find_map(|a| a.gateway)
    }

    /// The host side: the bridge when missing, the pair, its mark, the
    /// gateway addresses and routes of point-to-point. Refuses a host end
    /// that exists, or a "bridge" that is something else.
    pub fn host_plan(&self, state: &State) -> Result<Plan, Error> {
        let host = self.host();
        let h = host.as_str();
        if state.link(h).is_some() {
            return Err(Error::failed(format!(
                "cannot create {h}, the host end of {}: an interface with that name already exists",
                self.attachment
            )));
        }
        let mtu = self.config.mtu.map(|m| m.to_string());
        let mut plan = Plan::new();
        if let Some(br) = &self.config.bridge {
            let b = br.as_str();
            match state.link(b) {
                Some(link) if !link.is("bridge") => {
                    return Err(Error::failed(format!(
                        "cannot attach {h} to {b}: {b} is {}, not a bridge",
                        link.kind_words()
                    )))
                }
                Some(_) => {}
                None => {
                    let mac = bridge_mac(self.net());
                    let mut add = vec!["link", "add", b, "address", &mac];
                    if let Some(m) = &mtu {
                        add.extend(["mtu", m]);
                    }
                    add.extend(["type", "bridge"]);
                    plan.creates(format!("create the bridge {b}"), add, ["link", "del", b]);
                    let mark = bridge_mark(self.net());
                    plan.step(
                        format!("mark {b} as network {}'s", self.net()),
                        ["link", "set", b, "alias", &mark],
                    );
                    for a in &self.ips {
                        if let Some(gw) = a.gateway {
                            let cidr: HostCidr = format!("{gw}/{}", a.addr.net().prefix_len())
                                .parse()
                                .expect("a gateway inside its subnet");
                            plan.step(format!("add {cidr} to {b}"), address_args(&cidr, b));
                        }
                    }
                    plan.step(format!("bring {b} up"), ["link", "set", b, "up"]);
                }
            }
        }
        let netns = self.netns.path().to_string_lossy().into_owned();
        let (hmac, pmac) = (
            host_mac(self.net(), self.attachment),
            peer_mac(self.net(), self.attachment),
        );
        let peer = self.attachment.ifname.as_str();
        let mut add = vec!["link", "add", h, "address", &hmac];
        if let Some(m) = &mtu {
            add.extend(["mtu", m]);
        }
        if let Some(br) = &self.config.bridge {
            add.extend(["master", br.as_str()]);
        }
        add.extend(["type", "veth", "peer", "name", peer, "address", &pmac]);
        if let Some(m) = &mtu {
            add.extend(["mtu", m]);
        }
        add.extend(["netns", &netns]);
        plan.creates(
            format!("create {h} with its peer {peer} in {}", self.netns.target()),
            add,
            ["link", "del", h],
        );
        let mark = mark(self.net(), self.attachment);
        plan.step(
            format!("mark {h} as {}'s", self.attachment),
            ["link", "set", h, "alias", &mark],
        );
        if self.config.bridge.is_none() {
            for v4 in [true, false] {
                if let Some(gw) = self.gateway_of(v4) {
                    let cidr: HostCidr = format!("{gw}/{}", host_prefix(gw))
                        .parse()
                        .expect("a host address");
                    plan.step(format!("add {cidr} to {h}"), address_args(&cidr, h));
                }
            }
        }
        plan.step(format!("bring {h} up"), ["link", "set", h, "up"]);
        if self.config.bridge.is_none() {
            for a in &self.ips {
                let to = format!("{}/{}", a.addr.addr(), host_prefix(a.addr.addr()));
                plan.step(
                    format!("route {to} to {h}"),
                    ["route", "add", &to, "dev", h],
                );
            }
        }
        Ok(plan)
    }

    /// Inside the container: addresses, the interface up, the routes.
    pub fn inside_plan(&self) -> Plan {
        let dev = self.attachment.ifname.as_str();
        let p2p = self.config.bridge.is_none();
        let mut plan = Plan::new();
        plan.step("bring lo up", ["link", "set", "dev", "lo", "up"]);
        for a in &self.ips {
            let mut args = address_args(&a.addr, dev);
            if p2p {
                args.push("noprefixroute".into());
            }
            plan.step(format!("add {} to {dev}", a.addr), args);
        }
        plan.step(format!("bring {dev} up"), ["link", "set", "dev", dev, "up"]);
        if p2p {
            for a in &self.ips {
                let gw = a.gateway.expect("checked by allotted").to_string();
                let subnet = a.addr.subnet().to_string();
                plan.step(
                    format!("route the gateway {gw} to {dev}"),
                    ["route", "add", &gw, "dev", dev, "scope", "link"],
                );
                plan.step(
                    format!("route {subnet} via {gw}"),
                    ["route", "add", &subnet, "via", &gw, "dev", dev],
                );
            }
        }
        for r in &self.routes {
            let dst = r.dst.to_string();
            let gw = r.gw.or_else(|| self.gateway_of(r.dst.addr().is_ipv4()));
            let mut args = vec!["route".to_string(), "add".into(), dst.clone()];
            if let Some(gw) = gw {
                args.extend(["via".into(), gw.to_string()]);
            }
            args.extend(["dev".into(), dev.into()]);
            plan.step(format!("add the route to {dst}"), args);
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
                ..Interface::default()
            });
        }
        result.interfaces.push(Interface {
            name: self.host().to_string(),
            mac: Some(host_mac(self.net(), self.attachment)),
            mtu,
            ..Interface::default()
        });
        let inside = result.interfaces.len();
        result.interfaces.push(Interface {
            name: self.attachment.ifname.to_string(),
            mac: Some(peer_mac(self.net(), self.attachment)),
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

/// The bridge of network `net` that the plugin made, when it has no port.
pub fn empty_bridge<'a>(state: &'a State, net: &str, bridge: &IfName) -> Option<&'a Link> {
    state
        .link(bridge.as_str())
        .filter(|br| br.is("bridge") && br.marked(&bridge_mark(net)))
        .filter(|br| state.ports(br).next().is_none())
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
