//! The checks: from what netcheck read ([`Facts`]) and what its probes
//! heard ([`Heard`]) to one finding per check, in the order packets
//! travel — out of the namespace (loopback, interface, route, gateway),
//! through the host (forwarding, route out, forward filter, masquerade),
//! back (reverse-path filter, route back), and end to end (name servers,
//! destinations). Pure: unit-tested without root.
//!
//! A probe that failed while an earlier check on its way failed too is
//! blamed on that check ([`Problem::Upstream`]), so the first FAIL is the
//! cause and its fix is what every later line on that way points to.

use super::facts::{Counters, Link, Net, Sysctls};
use super::firewall::{CtState, Decider, Firewall, Flow, ICMP, ICMPV6, TCP, UDP};
use super::probe::{DnsHeard, Heard as Echo, PathMtu};
use super::report::{Finding, HostEnd, Problem};
use crate::cidr::Subnet;
use crate::nat::Family;
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A `--dest`: an address, or a name the namespace's name servers resolve.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Dest {
    Addr(IpAddr),
    Name(String),
}

impl FromStr for Dest {
    type Err = crate::Error;

    fn from_str(text: &str) -> Result<Dest, crate::Error> {
        if let Ok(addr) = text.parse::<IpAddr>() {
            if addr.is_unspecified() || addr.is_multicast() {
                return Err(crate::Error::usage(format!(
                    "invalid destination '{text}': not an address one can reach"
                )));
            }
            return Ok(Dest::Addr(addr));
        }
        let name_ok = super::dns::is_name(text)
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
            && text.bytes().any(|b| b.is_ascii_alphabetic());
        if name_ok && !text.starts_with('.') {
            Ok(Dest::Name(text.to_string()))
        } else {
            Err(crate::Error::usage(format!(
                "invalid destination '{}': neither an IP address nor a host name",
                text.escape_debug()
            )))
        }
    }
}

impl fmt::Display for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Dest::Addr(a) => write!(f, "{a}"),
            Dest::Name(n) => f.write_str(n),
        }
    }
}

/// Everything read before probing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Facts {
    pub inside: Net,
    pub host: Net,
    /// The interface checked inside.
    pub iface: String,
    pub sysctls: Sysctls,
    pub firewall: Firewall,
    /// The name servers of the namespace's resolv.conf.
    pub servers: Vec<IpAddr>,
}

/// What the probe toward one name server heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerHeard {
    pub server: IpAddr,
    pub ping: Echo,
    /// The answer to a query every recursive server answers (`. NS`).
    pub query: DnsHeard,
    /// The answers about each `--dest` name, per query type.
    pub names: Vec<(String, DnsHeard)>,
}

/// What the probes toward one `--dest` heard.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DestHeard {
    pub dest: Dest,
    /// Its path MTU probes, per address probed.
    pub probes: Vec<(IpAddr, PathMtu)>,
}

/// Everything the probes heard, and the host's counters around them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Heard {
    /// Each gateway and what its echo heard.
    pub gateways: Vec<(IpAddr, Echo)>,
    pub servers: Vec<ServerHeard>,
    pub dests: Vec<DestHeard>,
    pub before: Counters,
    pub after: Counters,
}

/// Addresses only evaluated against the host's routes and rules when no
/// probe goes beyond the host (documentation addresses; never probed).
const SOMEWHERE_V4: &str = "192.0.2.1";
const SOMEWHERE_V6: &str = "2001:db8::1";

#[derive(Debug)]
/// The container's side as found: its link, its addresses, and the host
/// interfaces its traffic enters by.
pub struct View<'a> {
    facts: &'a Facts,
    pub link: Option<&'a Link>,
    /// The link's addresses that reach beyond it (not link-local).
    pub addrs: Vec<IpNet>,
    /// The host end of its veth pair.
    pub peer: Option<&'a Link>,
}

impl<'a> View<'a> {
    pub fn new(facts: &'a Facts) -> View<'a> {
        let link = facts.inside.link(&facts.iface);
        let addrs = link
            .map(|l| facts.inside.addrs_of(l))
            .unwrap_or_default()
            .into_iter()
            .filter(|n| match n.addr() {
                IpAddr::V6(a) => (a.segments()[0] & 0xffc0) != 0xfe80,
                IpAddr::V4(a) => !a.is_loopback(),
            })
            .collect();
        // The peer is the host link whose index the inside link names and
        // which names the inside link back.
        let peer = link.and_then(|l| {
            let host = facts.host.by_index(l.peer_index?)?;
            (host.peer_index == Some(l.index) && host.is("veth")).then_some(host)
        });
        View {
            facts,
            link,
            addrs,
            peer,
        }
    }

    /// The families the container has an address of.
    pub fn families(&self) -> Vec<Family> {
        Family::ALL
            .into_iter()
            .filter(|f| self.addr(*f).is_some())
            .collect()
    }

    pub fn addr(&self, family: Family) -> Option<IpNet> {
        self.addrs
            .iter()
            .copied()
            .find(|a| a.addr().is_ipv6() == (family == Family::V6))
    }

    /// The gateway of the container's default route of a family.
    pub fn gateway(&self, family: Family) -> Option<IpAddr> {
        self.facts
            .inside
            .default_route(family == Family::V6)
            .and_then(|r| r.gateway)
    }

    /// The host interface the container's packets arrive on at layer 3:
    /// the one holding the gateway, else the peer's bridge, else the peer.
    pub fn host_end(&self, family: Family) -> Option<&'a Link> {
        let host = &self.facts.host;
        self.gateway(family)
            .and_then(|g| host.holder_of(g))
            .or_else(|| {
                let peer = self.peer?;
                peer.master.and_then(|m| host.by_index(m)).or(Some(peer))
            })
    }

    /// The host link the peer hangs on (its bridge if it is a port).
    fn peer_l3(&self) -> Option<&'a Link> {
        let peer = self.peer?;
        peer.master
            .and_then(|m| self.facts.host.by_index(m))
            .or(Some(peer))
    }

    /// Whether `addr` is reached without the host forwarding it: the
    /// namespace itself, its own subnet, or the host's own addresses.
    pub fn is_near(&self, addr: IpAddr) -> bool {
        addr.is_loopback()
            || self.addrs.iter().any(|n| n.contains(&addr))
            || self.facts.host.holder_of(addr).is_some()
    }
}

/// Private (and link-local and shared) sources need a masquerade to be
/// answered from outside; public ones need routes, which netcheck cannot see.
fn needs_masquerade(addr: IpAddr) -> bool {
    match addr {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_private() || a.is_link_local() || (o[0] == 100 && (o[1] & 0xc0) == 64)
        }
        IpAddr::V6(a) => (a.segments()[0] & 0xfe00) == 0xfc00,
    }
}

fn family_of(addr: IpAddr) -> Family {
    if addr.is_ipv6() {
        Family::V6
    } else {
        Family::V4
    }
}

/// What probes go where: gateways, name servers, names to resolve, and
/// the interface MTU for path MTU probes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// Gateway and the index of the link it is reached on (for IPv6
    /// link-local gateways).
    pub gateways: Vec<(IpAddr, u32)>,
    pub servers: Vec<IpAddr>,
    /// Names to ask each server about, with the query type.
    pub names: Vec<(String, u16)>,
    pub first_hop: u32,
}

/// The probes for these facts and destinations.
pub fn plan(facts: &Facts, dests: &[Dest]) -> Plan {
    let view = View::new(facts);
    let families = view.families();
    let index = view.link.map_or(0, |l| l.index);
    let mut names = Vec::new();
    for dest in dests {
        if let Dest::Name(name) = dest {
            for family in &families {
                let qtype = match family {
                    Family::V4 => super::dns::A,
                    Family::V6 => super::dns::AAAA,
                };
                names.push((name.clone(), qtype));
            }
        }
    }
    Plan {
        gateways: families
            .iter()
            .filter_map(|f| view.gateway(*f))
            .map(|g| (g, index))
            .collect(),
        servers: facts.servers.clone(),
        names,
        first_hop: view.link.and_then(|l| l.mtu).unwrap_or(1500),
    }
}

/// The addresses a `--dest` stands for, from the name servers' answers.
pub fn addresses(dest: &Dest, servers: &[ServerHeard]) -> Vec<IpAddr> {
    match dest {
        Dest::Addr(a) => vec![*a],
        Dest::Name(name) => {
            let mut found: Vec<IpAddr> = Vec::new();
            for s in servers {
                for (n, heard) in &s.names {
                    if let (true, DnsHeard::Answer(a)) = (n == name, heard) {
                        for addr in &a.addrs {
                            if !found.contains(addr) {
                                found.push(*addr);
                            }
                        }
                    }
                }
            }
            found
        }
    }
}

/// One probe destination beyond the host, and why it is probed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Purpose {
    Dns,
    Ping,
    /// Not probed: evaluated only, when nothing else goes beyond the host.
    Anything,
}

/// The findings being made, and for each address beyond the host the
/// checks on its way that failed, for the probes to blame.
struct Work<'a> {
    view: View<'a>,
    findings: Vec<Finding>,
    /// A failed check on the way to everything (the interface…).
    everywhere: Vec<(String, Problem)>,
    /// Per family: failed checks on the way to anything beyond the host.
    beyond: BTreeMap<Family, Vec<(String, Problem)>>,
    /// Per address: failed checks on the way to it alone.
    toward: BTreeMap<IpAddr, Vec<(String, Problem)>>,
    /// Per family: the host's route back, when it failed.
    back: BTreeMap<Family, (String, Problem)>,
}

impl<'a> Work<'a> {
    fn push(&mut self, finding: Finding) {
        self.findings.push(finding);
    }

    /// The first failed check on the way to `addr`.
    fn cause(&self, addr: IpAddr) -> Option<&(String, Problem)> {
        let family = family_of(addr);
        let near = self.view.is_near(addr);
        self.everywhere
            .iter()
            .filter(|_| !addr.is_loopback())
            .chain(
                self.beyond
                    .get(&family)
                    .into_iter()
                    .flatten()
                    .filter(|_| !near),
            )
            .chain(self.toward.get(&addr).into_iter().flatten())
            .next()
    }

    fn upstream(&self, addr: IpAddr, heard: String) -> Option<Problem> {
        self.cause(addr)
            .map(|(subject, problem)| Problem::Upstream {
                heard,
                cause: subject.clone(),
                fix: Box::new(problem.clone()),
            })
    }
}

/// Every finding, in the order packets travel.
pub fn evaluate(facts: &Facts, dests: &[Dest], heard: &Heard) -> Vec<Finding> {
    let mut work = Work {
        view: View::new(facts),
        findings: Vec::new(),
        everywhere: Vec::new(),
        beyond: BTreeMap::new(),
        toward: BTreeMap::new(),
        back: BTreeMap::new(),
    };
    loopback(facts, &mut work);
    interface(facts, &mut work);
    if work.view.link.is_some() {
        let families = match work.view.families() {
            f if f.is_empty() => vec![Family::V4],
            f => f,
        };
        let backs: Vec<(Family, Finding)> = families
            .iter()
            .filter_map(|f| Some((*f, route_back(facts, &work, *f)?)))
            .collect();
        for (family, back) in &backs {
            if let Some(p) = back.problem() {
                work.back.insert(*family, (back.subject.clone(), p.clone()));
            }
        }
        for family in &families {
            default_route(facts, &mut work, *family);
        }
        for family in &families {
            gateway(facts, heard, &mut work, *family);
        }
        let targets = beyond_the_host(facts, dests, heard, &work.view);
        for family in &families {
            forwarding(facts, &mut work, *family);
        }
        for family in &families {
            route_out(facts, &mut work, *family, &targets);
        }
        for family in &families {
            forward_filter(facts, &mut work, *family, &targets);
        }
        for family in &families {
            masquerade(facts, &mut work, *family, &targets);
        }
        reverse_path(facts, heard, &mut work, &targets);
        for (family, back) in backs {
            if let Some(p) = back.problem() {
                work.beyond
                    .entry(family)
                    .or_default()
                    .push((back.subject.clone(), p.clone()));
            }
            work.push(back);
        }
    }
    name_servers(facts, heard, &mut work);
    destinations(heard, &mut work);
    work.findings
}

fn loopback(facts: &Facts, work: &mut Work) {
    let subject = "loopback lo";
    match facts.inside.link("lo") {
        Some(lo) if lo.up => work.push(Finding::ok(subject, "is up")),
        _ => {
            work.push(Finding::fail(subject, Problem::LoopbackDown));
        }
    }
}

fn interface(facts: &Facts, work: &mut Work) {
    let iface = facts.iface.clone();
    let subject = format!("interface {iface}");
    let view = &work.view;
    let problem = match view.link {
        None => {
            let hostif = (0..)
                .map(|n| format!("veth{n}"))
                .find(|n| facts.host.link(n).is_none())
                .unwrap_or_default();
            Some(Problem::NoInterface {
                iface: iface.clone(),
                hostif,
            })
        }
        Some(link) if !link.up => Some(Problem::InterfaceDown {
            iface: iface.clone(),
        }),
        Some(_) if view.peer.is_some_and(|p| !p.up) => Some(Problem::NoCarrier {
            iface: iface.clone(),
            peer: view.peer.map(|p| p.name.clone()).unwrap_or_default(),
        }),
        Some(_) if view.addrs.is_empty() => {
            // An address that fits the host side: one past the host's own.
            let suggest = view
                .peer_l3()
                .and_then(|l| {
                    facts
                        .host
                        .addrs_of(l)
                        .into_iter()
                        .find(|n| n.addr().is_ipv4())
                })
                .and_then(|n| {
                    let IpAddr::V4(a) = n.addr() else { return None };
                    let next = IpAddr::V4((u32::from(a) + 1).into());
                    n.contains(&next)
                        .then(|| format!("{next}/{}", n.prefix_len()))
                });
            Some(Problem::NoAddress {
                iface: iface.clone(),
                family: None,
                suggest,
            })
        }
        Some(_) => None,
    };
    match problem {
        Some(p) => {
            work.everywhere.push((subject.clone(), p.clone()));
            work.push(Finding::fail(subject, p));
        }
        None => {
            let link = view.link.expect("checked above");
            let addrs: Vec<String> = view.addrs.iter().map(ToString::to_string).collect();
            let peer = view
                .peer
                .map(|p| format!(", peer {} on the host", p.name))
                .unwrap_or_default();
            let words = format!(
                "is up with {} (mtu {}{peer})",
                addrs.join(", "),
                link.mtu.unwrap_or(0)
            );
            work.push(Finding::ok(subject, words));
        }
    }
}

fn default_route(facts: &Facts, work: &mut Work, family: Family) {
    let subject = format!("default route ({})", family.name());
    let view = &work.view;
    let route = facts.inside.default_route(family == Family::V6);
    match (route, view.link) {
        (Some(r), Some(link)) if r.oif == Some(link.index) => {
            let via = r.gateway.map(|g| format!("via {g} ")).unwrap_or_default();
            work.push(Finding::ok(subject, format!("{via}dev {}", link.name)));
        }
        _ => {
            // The host's own address in the container's subnet, else the
            // subnet's first host (netinit's default).
            let mine = view.addr(family);
            let via = mine.and_then(|net| {
                let held = view
                    .peer_l3()
                    .map(|l| facts.host.addrs_of(l))
                    .unwrap_or_default()
                    .into_iter()
                    .map(|n| n.addr())
                    .find(|a| net.contains(a) && *a != net.addr());
                held.or_else(|| {
                    crate::cidr::HostCidr::from_str(&net.to_string())
                        .ok()
                        .and_then(|c| c.first_host())
                })
            });
            let p = Problem::NoDefaultRoute {
                family,
                iface: facts.iface.clone(),
                via,
            };
            work.beyond
                .entry(family)
                .or_default()
                .push((subject.clone(), p.clone()));
            work.push(Finding::fail(subject, p));
        }
    }
}

fn gateway(facts: &Facts, heard: &Heard, work: &mut Work, family: Family) {
    let Some(gw) = work.view.gateway(family) else {
        return;
    };
    let subject = format!("gateway {gw}");
    let Some((_, echo)) = heard.gateways.iter().find(|(g, _)| *g == gw) else {
        return;
    };
    if *echo == Echo::Reply {
        work.push(Finding::ok(subject, "answers ping"));
        return;
    }
    if answered_beyond(heard, &work.view, family) {
        work.push(Finding::ok(
            subject,
            "forwards, though it does not answer ping (its input firewall drops pings?)",
        ));
        return;
    }
    let held_and_up = facts.host.holder_of(gw).is_some_and(|l| l.up);
    // The host has the gateway, but its answers leave by another way.
    let lost = work
        .back
        .get(&family)
        .filter(|_| held_and_up)
        .map(|(subject, p)| Problem::Upstream {
            heard: echo.words(),
            cause: subject.clone(),
            fix: Box::new(p.clone()),
        });
    let problem = work.upstream(gw, echo.words()).or(lost).unwrap_or_else(|| {
        let host = match facts.host.holder_of(gw) {
            Some(l) if l.up => HostEnd::Up(l.name.clone()),
            Some(l) => HostEnd::Down(l.name.clone()),
            None => HostEnd::NotHeld {
                peer: work.view.peer_l3().map(|l| l.name.clone()),
            },
        };
        Problem::GatewaySilent {
            gateway: gw,
            prefix: work.view.addr(family).map_or(24, |n| n.prefix_len()),
            heard: echo.clone(),
            host,
        }
    });
    work.beyond
        .entry(family)
        .or_default()
        .push((subject.clone(), problem.clone()));
    work.push(Finding::fail(subject, problem));
}

/// Whether anything beyond the host answered a probe of this family:
/// then the gateway forwards, whatever it does with its own pings.
fn answered_beyond(heard: &Heard, view: &View, family: Family) -> bool {
    let far = |a: IpAddr| family_of(a) == family && !view.is_near(a);
    heard
        .servers
        .iter()
        .any(|s| far(s.server) && (s.ping == Echo::Reply || matches!(s.query, DnsHeard::Answer(_))))
        || heard
            .dests
            .iter()
            .flat_map(|d| &d.probes)
            .any(|(a, m)| far(*a) && m.answered.is_some())
}

/// The addresses beyond the host per family, and what goes to each:
/// name servers, `--dest`s, or (when neither) a stand-in.
fn beyond_the_host(
    facts: &Facts,
    dests: &[Dest],
    heard: &Heard,
    view: &View,
) -> BTreeMap<Family, Vec<(IpAddr, Purpose)>> {
    let mut targets: BTreeMap<Family, Vec<(IpAddr, Purpose)>> = BTreeMap::new();
    let mut add = |addr: IpAddr, purpose: Purpose| {
        if view.is_near(addr) {
            return;
        }
        let list = targets.entry(family_of(addr)).or_default();
        if !list.contains(&(addr, purpose)) {
            list.push((addr, purpose));
        }
    };
    for server in &facts.servers {
        add(*server, Purpose::Dns);
    }
    for dest in dests {
        for addr in addresses(dest, &heard.servers) {
            add(addr, Purpose::Ping);
        }
    }
    for family in view.families() {
        let list = targets.entry(family).or_default();
        if list.is_empty() {
            let somewhere = match family {
                Family::V4 => SOMEWHERE_V4,
                Family::V6 => SOMEWHERE_V6,
            };
            list.push((somewhere.parse().expect("an address"), Purpose::Anything));
        }
    }
    targets
}

fn forwarding(facts: &Facts, work: &mut Work, family: Family) {
    let subject = format!("host forwarding ({})", family.name());
    let s = &facts.sysctls;
    let host_end = work.view.host_end(family).map(|l| l.name.clone());
    let off = match family {
        Family::V4 => {
            if s.v4_forwarding.get("all") == Some(&false) {
                Some("net.ipv4.ip_forward".to_string())
            } else {
                // IPv4 forwards by the switch of the interface a packet
                // came in by.
                host_end
                    .filter(|n| s.v4_forwarding.get(n) == Some(&false))
                    .map(|n| super::report::conf_key(&n, "forwarding"))
            }
        }
        Family::V6 => (s.v6_forwarding.get("all") == Some(&false))
            .then(|| "net.ipv6.conf.all.forwarding".to_string()),
    };
    match off {
        None => {
            let words = match family {
                Family::V4 => "is on (net.ipv4.ip_forward=1)",
                Family::V6 => "is on (net.ipv6.conf.all.forwarding=1)",
            };
            work.push(Finding::ok(subject, words));
        }
        Some(sysctl) => {
            let p = Problem::ForwardingOff { family, sysctl };
            work.beyond
                .entry(family)
                .or_default()
                .push((subject.clone(), p.clone()));
            work.push(Finding::fail(subject, p));
        }
    }
}

fn route_out(
    facts: &Facts,
    work: &mut Work,
    family: Family,
    targets: &BTreeMap<Family, Vec<(IpAddr, Purpose)>>,
) {
    let subject = format!("host route out ({})", family.name());
    let mut via: Vec<String> = Vec::new();
    let mut missing = None;
    for (addr, _) in targets.get(&family).into_iter().flatten() {
        match facts.host.route_to(*addr).filter(|r| r.unicast) {
            Some(r) => {
                let dev = facts.host.oif_name(r).unwrap_or_default();
                let gw = r.gateway.map(|g| format!(" via {g}")).unwrap_or_default();
                let line = format!("dev {dev}{gw}");
                if !via.contains(&line) {
                    via.push(line);
                }
            }
            None if missing.is_none() => missing = Some(*addr),
            None => {}
        }
    }
    match missing {
        None => work.push(Finding::ok(
            subject,
            format!("leaves by {}", via.join(", ")),
        )),
        Some(dest) => {
            let p = Problem::NoHostRoute { dest };
            work.toward
                .entry(dest)
                .or_default()
                .push((subject.clone(), p.clone()));
            work.push(Finding::fail(subject, p));
        }
    }
}

/// The packet that goes to `addr` for `purpose`, as the host's forward
/// hook sees it.
fn flow(work: &Work, facts: &Facts, addr: IpAddr, purpose: Purpose) -> Option<Flow> {
    let family = family_of(addr);
    let src = work.view.addr(family)?.addr();
    let iif = work
        .view
        .host_end(family)
        .map(|l| l.name.clone())
        .unwrap_or_default();
    let oif = facts
        .host
        .route_to(addr)
        .and_then(|r| facts.host.oif_name(r))
        .unwrap_or_default();
    let icmp = if family == Family::V6 { ICMPV6 } else { ICMP };
    let (proto, dport, icmp_type) = match purpose {
        Purpose::Dns => (UDP, Some(53), None),
        Purpose::Ping => (icmp, None, Some(if icmp == ICMP { 8 } else { 128 })),
        Purpose::Anything => (TCP, Some(443), None),
    };
    Some(Flow {
        src,
        dst: addr,
        proto,
        sport: dport.map(|_| 40000),
        dport,
        icmp_type,
        iif,
        oif,
        state: CtState::New,
    })
}

fn programs(firewall: &Firewall) -> String {
    if firewall.programs.is_empty() {
        "no firewall program installed".into()
    } else {
        firewall.programs.join(", ")
    }
}

fn forward_filter(
    facts: &Facts,
    work: &mut Work,
    family: Family,
    targets: &BTreeMap<Family, Vec<(IpAddr, Purpose)>>,
) {
    let subject = format!("forward filter ({})", family.name());
    let Some(subnet) = work.view.addr(family).map(Subnet::of) else {
        return;
    };
    for why in &facts.firewall.unreadable {
        work.push(Finding::fail(
            subject.clone(),
            Problem::FirewallUnreadable { why: why.clone() },
        ));
    }
    // One finding per rule (or policy) that drops something, naming the
    // first flow it drops.
    let mut drops: Vec<(Decider, String)> = Vec::new();
    let mut passed: Vec<String> = Vec::new();
    for (addr, purpose) in targets.get(&family).into_iter().flatten() {
        let Some(out) = flow(work, facts, *addr, *purpose) else {
            continue;
        };
        let mut dropped = false;
        for f in [out.clone(), out.reply()] {
            if let Some(by) = facts.firewall.rules.forward_drop(&f) {
                dropped = true;
                let p = Problem::ForwardDropped {
                    by: by.clone(),
                    flow: f.words(),
                    subnet,
                };
                work.toward
                    .entry(*addr)
                    .or_default()
                    .push((subject.clone(), p));
                if !drops.iter().any(|(d, _)| *d == by) {
                    drops.push((by, f.words()));
                }
            }
        }
        if !dropped {
            passed.push(out.words());
        }
    }
    if drops.is_empty() {
        work.push(Finding::ok(
            subject.clone(),
            format!(
                "lets {} and the answers through ({})",
                passed.join(", "),
                programs(&facts.firewall)
            ),
        ));
    }
    for (by, flow) in drops {
        work.push(Finding::fail(
            subject.clone(),
            Problem::ForwardDropped { by, flow, subnet },
        ));
    }
}

fn masquerade(
    facts: &Facts,
    work: &mut Work,
    family: Family,
    targets: &BTreeMap<Family, Vec<(IpAddr, Purpose)>>,
) {
    let Some(net) = work.view.addr(family) else {
        return;
    };
    let source = net.addr();
    let subject = format!("masquerade of {source}");
    if !needs_masquerade(source) {
        work.push(Finding::ok(
            subject,
            "is not needed (a public address: the network must route it back here)",
        ));
        return;
    }
    let mut by: Vec<String> = Vec::new();
    let mut missing = None;
    for (addr, purpose) in targets.get(&family).into_iter().flatten() {
        let Some(out) = flow(work, facts, *addr, *purpose) else {
            continue;
        };
        match facts.firewall.rules.source_nat(&out) {
            Some(d) => {
                let mut words = d.words();
                if d.chain.is_natctls() {
                    words.push_str(" (natctl's)");
                }
                if !by.contains(&words) {
                    by.push(words);
                }
            }
            None => {
                let p = Problem::NoMasquerade {
                    source,
                    dest: *addr,
                    subnet: Subnet::of(net),
                };
                work.toward
                    .entry(*addr)
                    .or_default()
                    .push((subject.clone(), p.clone()));
                missing.get_or_insert(p);
            }
        }
    }
    match missing {
        None => work.push(Finding::ok(subject, format!("by {}", by.join(", ")))),
        Some(p) => work.push(Finding::fail(subject, p)),
    }
}

fn reverse_path(
    facts: &Facts,
    heard: &Heard,
    work: &mut Work,
    targets: &BTreeMap<Family, Vec<(IpAddr, Purpose)>>,
) {
    let subject = "reverse-path filter";
    let probed: Vec<IpAddr> = targets
        .get(&Family::V4)
        .into_iter()
        .flatten()
        .filter(|(_, p)| *p != Purpose::Anything)
        .map(|(a, _)| *a)
        .collect();
    if probed.is_empty() {
        return;
    }
    let dropped = heard
        .after
        .rp_dropped
        .saturating_sub(heard.before.rp_dropped);
    let strict: Vec<&Link> = facts
        .host
        .links
        .iter()
        .filter(|l| l.name != "lo" && facts.sysctls.rp_filter(&l.name) == 1)
        .collect();
    if dropped == 0 {
        let words = if strict.is_empty() {
            "dropped no answer (it is not strict anywhere)".to_string()
        } else {
            let names: Vec<&str> = strict.iter().map(|l| l.name.as_str()).collect();
            format!("dropped no answer (strict on {})", names.join(", "))
        };
        work.push(Finding::ok(subject, words));
        return;
    }
    // Where the answers came in: a filtering link that received packets
    // while netcheck probed, and by which the host would not route back.
    let host_end = work.view.host_end(Family::V4).map(|l| l.index);
    let arrived = |l: &&Link| {
        let count = |c: &Counters| c.received.get(&l.name).copied().unwrap_or(0);
        count(&heard.after) > count(&heard.before)
    };
    let asymmetric = |l: &&Link| {
        probed
            .iter()
            .any(|a| facts.host.route_to(*a).and_then(|r| r.oif) != Some(l.index))
    };
    let (iface, mode) = facts
        .host
        .links
        .iter()
        .filter(|l| l.name != "lo" && Some(l.index) != host_end)
        .filter(|l| facts.sysctls.rp_filter(&l.name) != 0)
        .find(|l| arrived(l) && asymmetric(l))
        .map_or(("all".to_string(), 1), |l| {
            (l.name.clone(), facts.sysctls.rp_filter(&l.name))
        });
    let p = Problem::ReversePathDrops {
        iface,
        dropped,
        loose: mode == 2,
    };
    work.beyond
        .entry(Family::V4)
        .or_default()
        .push((subject.to_string(), p.clone()));
    work.push(Finding::fail(subject, p));
}

/// The host's route back to the container's subnet: through the host end
/// of its link, not elsewhere. The finding, and its problem if it failed,
/// are returned: the gateway's check needs them before they are printed
/// (the gateway's answers take that route too).
fn route_back(facts: &Facts, work: &Work, family: Family) -> Option<Finding> {
    let net = work.view.addr(family)?;
    let subnet = Subnet::of(net);
    let subject = format!("host route back to {subnet}");
    let ends: Vec<u32> = [
        work.view.host_end(family),
        work.view.peer_l3(),
        work.view.peer,
    ]
    .into_iter()
    .flatten()
    .map(|l| l.index)
    .collect();
    // A route less specific than the subnet (the default) is no way back:
    // the container's own route is missing.
    let route = facts
        .host
        .route_to(net.addr())
        .filter(|r| r.unicast && r.destination.prefix_len() >= net.prefix_len());
    let problem = match route {
        Some(r) if r.oif.is_some_and(|o| ends.contains(&o)) => {
            let dev = facts.host.oif_name(r).unwrap_or_default();
            return Some(Finding::ok(subject, format!("leaves by {dev}")));
        }
        Some(r) => {
            let mut words = r.destination.to_string();
            if let Some(g) = r.gateway {
                words.push_str(&format!(" via {g}"));
            }
            if let Some(dev) = facts.host.oif_name(r) {
                words.push_str(&format!(" dev {}", crate::run::shell_quote(&dev)));
            }
            if let Some(m) = r.metric.filter(|m| *m != 0) {
                words.push_str(&format!(" metric {m}"));
            }
            Problem::RouteBackStolen {
                subnet,
                route: words,
                table: if r.table == super::facts::MAIN {
                    "main".into()
                } else {
                    r.table.to_string()
                },
            }
        }
        None => {
            let peer = work.view.peer_l3();
            let gateway = work
                .view
                .gateway(family)
                .filter(|g| facts.host.holder_of(*g).is_none());
            Problem::NoRouteBack {
                subnet,
                peer: peer.map(|l| l.name.clone()),
                peer_down: peer.is_some_and(|l| !l.up),
                gateway,
            }
        }
    };
    Some(Finding::fail(subject, problem))
}

fn name_servers(facts: &Facts, heard: &Heard, work: &mut Work) {
    if facts.servers.is_empty() {
        work.push(Finding::fail("DNS", Problem::NoNameServer));
        return;
    }
    let answered: Vec<IpAddr> = heard
        .servers
        .iter()
        .filter(|s| matches!(s.query, DnsHeard::Answer(_)))
        .map(|s| s.server)
        .collect();
    // For --dest names: the servers that gave an address.
    let resolved = |s: &ServerHeard| {
        s.names
            .iter()
            .any(|(_, h)| matches!(h, DnsHeard::Answer(a) if !a.addrs.is_empty()))
    };
    let resolvers: Vec<IpAddr> = heard
        .servers
        .iter()
        .filter(|s| resolved(s))
        .map(|s| s.server)
        .collect();
    for s in &heard.servers {
        let subject = format!("DNS server {}", s.server);
        let problem = match &s.query {
            DnsHeard::Answer(a) => {
                let failed_name = s
                    .names
                    .iter()
                    .find(|(_, h)| !matches!(h, DnsHeard::Answer(a) if !a.addrs.is_empty()));
                match failed_name {
                    // Another server resolves the name and this one does
                    // not: the resolver may ask this one and give up.
                    Some((name, h)) if !resolvers.is_empty() && !resolvers.contains(&s.server) => {
                        Problem::DnsCannotResolve {
                            server: s.server,
                            name: name.clone(),
                            said: h.words(),
                            good: resolvers.clone(),
                        }
                    }
                    _ => {
                        let words = match a.rcode {
                            super::dns::Rcode::NoError => "answers".to_string(),
                            code => format!(
                                "answers (with {code} for '. NS': it may resolve only names it serves)"
                            ),
                        };
                        work.push(Finding::ok(subject, words));
                        continue;
                    }
                }
            }
            query => match work.upstream(s.server, query.words()) {
                Some(p) => p,
                None if s.ping == Echo::Reply => Problem::DnsNotAnswering {
                    server: s.server,
                    heard: query.clone(),
                    good: answered.clone(),
                },
                None => Problem::DnsUnreachable {
                    server: s.server,
                    heard: query.clone(),
                    good: answered.clone(),
                },
            },
        };
        work.toward
            .entry(s.server)
            .or_default()
            .push((subject.clone(), problem.clone()));
        work.push(Finding::fail(subject, problem));
    }
}

fn destinations(heard: &Heard, work: &mut Work) {
    for d in &heard.dests {
        let subject = match &d.dest {
            Dest::Addr(a) => format!("destination {a}"),
            Dest::Name(n) => {
                let addrs: Vec<String> = d.probes.iter().map(|(a, _)| a.to_string()).collect();
                if addrs.is_empty() {
                    format!("destination {n}")
                } else {
                    format!("destination {n} ({})", addrs.join(", "))
                }
            }
        };
        if d.probes.is_empty() {
            let name = match &d.dest {
                Dest::Name(name) => name,
                Dest::Addr(addr) => {
                    // The namespace has no address of this family.
                    work.push(Finding::fail(
                        subject,
                        Problem::NoAddress {
                            iface: work.view.link.map(|l| l.name.clone()).unwrap_or_default(),
                            family: Some(family_of(*addr)),
                            suggest: None,
                        },
                    ));
                    continue;
                }
            };
            // Nobody answered DNS at all: that is the cause.
            let dns_cause = work
                .findings
                .iter()
                .find(|f| f.subject.starts_with("DNS") && f.problem().is_some());
            let problem = match dns_cause {
                Some(f)
                    if !heard
                        .servers
                        .iter()
                        .any(|s| matches!(s.query, DnsHeard::Answer(_))) =>
                {
                    Problem::Upstream {
                        heard: "cannot resolve it".into(),
                        cause: f.subject.clone(),
                        fix: Box::new(f.problem().expect("failed").clone()),
                    }
                }
                _ => Problem::Unresolved { name: name.clone() },
            };
            work.push(Finding::fail(subject, problem));
            continue;
        }
        for (addr, mtu) in &d.probes {
            let subject = if d.probes.len() > 1 {
                format!("{subject} at {addr}")
            } else {
                subject.clone()
            };
            let problem = match mtu.answered {
                None => work
                    .upstream(*addr, mtu.heard.words())
                    .unwrap_or(Problem::DestSilent {
                        dest: *addr,
                        heard: mtu.heard.clone(),
                    }),
                Some(size) if mtu.black_hole() => Problem::MtuBlackHole {
                    dest: *addr,
                    iface: work.view.link.map(|l| l.name.clone()).unwrap_or_default(),
                    first_hop: mtu.first_hop,
                    mtu: size,
                },
                Some(size) => {
                    let how = match mtu.told {
                        _ if size >= mtu.first_hop => "the interface's".to_string(),
                        Some((Some(_), m)) if m > 0 => "an ICMP 'too big' said so".to_string(),
                        _ => "the kernel already knew".to_string(),
                    };
                    let pmtu = match mtu.told {
                        Some((_, m)) if m > 0 && size < mtu.first_hop => m.max(size),
                        _ => size,
                    };
                    work.push(Finding::ok(
                        subject,
                        format!("answers ping; path MTU {pmtu} ({how})"),
                    ));
                    continue;
                }
            };
            work.push(Finding::fail(subject, problem));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::dns::{Answer, Rcode};
    use super::super::facts::{Address, Route, MAIN};
    use super::super::firewall::{Action, AddrElem, Chain, Cond, Hook, Origin, Rule, Ruleset};
    use super::super::probe::IcmpError;
    use super::*;

    fn link(index: u32, name: &str, peer: Option<u32>) -> Link {
        Link {
            up: true,
            peer_index: peer,
            kind: peer.map(|_| "veth".to_string()),
            ..Link::made(index, name, "x", None, None)
        }
    }

    fn addr(index: u32, net: &str) -> Address {
        let net: IpNet = net.parse().unwrap();
        Address {
            index,
            addr: net.addr(),
            prefix: net.prefix_len(),
        }
    }

    fn route(dst: &str, gateway: Option<&str>, oif: u32) -> Route {
        Route {
            destination: dst.parse().unwrap(),
            gateway: gateway.map(|g| g.parse().unwrap()),
            oif: Some(oif),
            table: MAIN,
            metric: None,
            unicast: true,
        }
    }

    /// The lab's world: container eth0 10.0.0.2/24 paired with the host's
    /// veth0 10.0.0.1/24, the host's uplink up0, natctl's masquerade.
    fn facts() -> Facts {
        let masquerade = Chain {
            origin: Origin::Nft {
                family: "ip".into(),
            },
            table: "nsnet".into(),
            name: "postrouting".into(),
            hook: Some(Hook::SourceNat),
            priority: 100,
            policy_drops: false,
            rules: vec![Rule {
                handle: Some(4),
                spec: None,
                conds: vec![Cond::Addr {
                    side: super::super::firewall::Side::Source,
                    negate: false,
                    elems: vec![AddrElem::Net("10.0.0.0/24".parse().unwrap())],
                }],
                action: Action::Masquerade,
            }],
        };
        let mut sysctls = Sysctls::default();
        for name in ["all", "veth0", "up0"] {
            sysctls.v4_forwarding.insert(name.into(), true);
        }
        Facts {
            inside: Net {
                links: vec![link(1, "lo", None), link(2, "eth0", Some(5))],
                addresses: vec![addr(1, "127.0.0.1/8"), addr(2, "10.0.0.2/24")],
                routes: vec![
                    route("0.0.0.0/0", Some("10.0.0.1"), 2),
                    route("10.0.0.0/24", None, 2),
                ],
            },
            host: Net {
                links: vec![
                    link(1, "lo", None),
                    link(2, "up0", Some(2)),
                    link(5, "veth0", Some(2)),
                ],
                addresses: vec![addr(2, "198.51.100.2/24"), addr(5, "10.0.0.1/24")],
                routes: vec![
                    route("0.0.0.0/0", Some("198.51.100.1"), 2),
                    route("198.51.100.0/24", None, 2),
                    route("10.0.0.0/24", None, 5),
                ],
            },
            iface: "eth0".into(),
            sysctls,
            firewall: Firewall {
                rules: Ruleset {
                    chains: vec![masquerade],
                },
                programs: vec!["nft 1.0.6".into()],
                unreadable: vec![],
            },
            servers: vec!["203.0.113.53".parse().unwrap()],
        }
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn answered(size: u32) -> PathMtu {
        PathMtu {
            first_hop: 1500,
            answered: Some(size),
            told: None,
            heard: Echo::Reply,
        }
    }

    fn silent() -> PathMtu {
        PathMtu {
            answered: None,
            heard: Echo::Silence,
            ..answered(0)
        }
    }

    /// Everything answered.
    fn heard() -> Heard {
        Heard {
            gateways: vec![(ip("10.0.0.1"), Echo::Reply)],
            servers: vec![ServerHeard {
                server: ip("203.0.113.53"),
                ping: Echo::Reply,
                query: DnsHeard::Answer(Answer {
                    id: 1,
                    rcode: Rcode::NoError,
                    addrs: vec![],
                }),
                names: vec![],
            }],
            dests: vec![DestHeard {
                dest: Dest::Addr(ip("203.0.113.10")),
                probes: vec![(ip("203.0.113.10"), answered(1500))],
            }],
            ..Heard::default()
        }
    }

    /// Nothing beyond the host answered.
    fn nothing_beyond(mut h: Heard) -> Heard {
        h.servers[0].ping = Echo::Silence;
        h.servers[0].query = DnsHeard::Silence;
        h.dests[0].probes[0].1 = silent();
        h
    }

    fn dests() -> Vec<Dest> {
        vec![Dest::Addr(ip("203.0.113.10"))]
    }

    fn lines(findings: &[Finding]) -> Vec<String> {
        let ctx = super::super::report::tests::ctx();
        findings.iter().map(|f| f.line(&ctx)).collect()
    }

    fn fails(findings: &[Finding]) -> Vec<(&str, &Problem)> {
        findings
            .iter()
            .filter_map(|f| Some((f.subject.as_str(), f.problem()?)))
            .collect()
    }

    #[test]
    fn a_healthy_namespace_is_ok_in_the_order_packets_travel() {
        let findings = evaluate(&facts(), &dests(), &heard());
        let subjects: Vec<&str> = findings.iter().map(|f| f.subject.as_str()).collect();
        assert_eq!(
            subjects,
            [
                "loopback lo",
                "interface eth0",
                "default route (IPv4)",
                "gateway 10.0.0.1",
                "host forwarding (IPv4)",
                "host route out (IPv4)",
                "forward filter (IPv4)",
                "masquerade of 10.0.0.2",
                "reverse-path filter",
                "host route back to 10.0.0.0/24",
                "DNS server 203.0.113.53",
                "destination 203.0.113.10",
            ]
        );
        assert!(fails(&findings).is_empty(), "{:#?}", lines(&findings));
        let l = lines(&findings);
        assert_eq!(
            l[1],
            "ok   interface eth0 is up with 10.0.0.2/24 (mtu 1500, peer veth0 on the host)"
        );
        assert_eq!(l[7], "ok   masquerade of 10.0.0.2 by rule handle 4 of table ip nsnet chain postrouting (natctl's)");
        assert_eq!(
            l[11],
            "ok   destination 203.0.113.10 answers ping; path MTU 1500 (the interface's)"
        );
    }

    #[test]
    fn probes_that_fail_behind_a_failed_check_are_blamed_on_it() {
        let mut f = facts();
        f.sysctls.v4_forwarding.insert("all".into(), false);
        let findings = evaluate(&f, &dests(), &nothing_beyond(heard()));
        let fails = fails(&findings);
        assert_eq!(fails.len(), 3, "{:#?}", lines(&findings));
        assert_eq!(
            fails[0].1,
            &Problem::ForwardingOff {
                family: Family::V4,
                sysctl: "net.ipv4.ip_forward".into()
            }
        );
        for (subject, p) in &fails[1..] {
            let Problem::Upstream { cause, fix, .. } = p else {
                panic!("{subject}: {p:?}")
            };
            assert_eq!(cause, "host forwarding (IPv4)");
            assert_eq!(**fix, *fails[0].1);
        }
        // The interface's own forwarding switch counts too.
        let mut f = facts();
        f.sysctls.v4_forwarding.insert("veth0".into(), false);
        let findings = evaluate(&f, &dests(), &nothing_beyond(heard()));
        assert!(lines(&findings)
            .iter()
            .any(|l| l.ends_with("(fix: sysctl -w net.ipv4.conf.veth0.forwarding=1)")));
    }

    #[test]
    fn a_host_route_over_the_subnet_takes_the_gateways_answers_too() {
        let mut f = facts();
        f.host
            .routes
            .push(route("10.0.0.0/25", Some("198.51.100.1"), 2));
        let mut h = nothing_beyond(heard());
        h.gateways[0].1 = Echo::Silence;
        let findings = evaluate(&f, &dests(), &h);
        let fails = fails(&findings);
        assert_eq!(fails[0].0, "gateway 10.0.0.1");
        let Problem::Upstream { cause, .. } = fails[0].1 else {
            panic!("{:?}", fails[0])
        };
        assert_eq!(cause, "host route back to 10.0.0.0/24");
        assert!(lines(&findings)
            .iter()
            .any(|l| l
                .ends_with("(fix: ip route del 10.0.0.0/25 via 198.51.100.1 dev up0 table main)")));
    }

    #[test]
    fn a_gateway_that_ignores_ping_but_forwards_is_ok() {
        let mut h = heard();
        h.gateways[0].1 = Echo::Silence;
        let findings = evaluate(&facts(), &dests(), &h);
        assert!(fails(&findings).is_empty(), "{:#?}", lines(&findings));
        // Silent, and nothing beyond answers: the host end is looked at.
        let mut f = facts();
        f.host.addresses.retain(|a| a.index != 5);
        f.host.routes.retain(|r| r.oif != Some(5));
        h = nothing_beyond(h);
        let findings = evaluate(&f, &dests(), &h);
        assert_eq!(
            fails(&findings)[0].1,
            &Problem::GatewaySilent {
                gateway: ip("10.0.0.1"),
                prefix: 24,
                heard: Echo::Silence,
                host: HostEnd::NotHeld {
                    peer: Some("veth0".into())
                },
            }
        );
    }

    #[test]
    fn answers_dropped_by_reverse_path_filtering_name_the_interface_they_came_by() {
        let mut f = facts();
        f.host.links.push(link(7, "up1", None));
        f.sysctls.rp_filter.insert("up1".into(), 1);
        let mut h = nothing_beyond(heard());
        h.after.rp_dropped = 4;
        h.after.received.insert("up1".into(), 4);
        let findings = evaluate(&f, &dests(), &h);
        let fails = fails(&findings);
        assert_eq!(
            fails[0].1,
            &Problem::ReversePathDrops {
                iface: "up1".into(),
                dropped: 4,
                loose: false
            }
        );
        assert!(
            matches!(fails[1].1, Problem::Upstream { cause, .. } if cause == "reverse-path filter")
        );
    }

    #[test]
    fn name_servers_that_do_not_answer_are_told_apart() {
        let mut f = facts();
        f.servers.insert(0, ip("203.0.113.10"));
        let mut h = heard();
        let good = h.servers[0].clone();
        let refusing = ServerHeard {
            server: ip("203.0.113.10"),
            ping: Echo::Reply,
            query: DnsHeard::Refused,
            names: vec![],
        };
        h.servers.insert(0, refusing.clone());
        let findings = evaluate(&f, &dests(), &h);
        assert_eq!(
            fails(&findings)[0].1,
            &Problem::DnsNotAnswering {
                server: ip("203.0.113.10"),
                heard: DnsHeard::Refused,
                good: vec![good.server],
            }
        );
        h.servers[0] = ServerHeard {
            ping: Echo::Icmp {
                from: ip("198.51.100.1"),
                error: IcmpError::NetUnreachable,
            },
            query: DnsHeard::Silence,
            ..refusing
        };
        let findings = evaluate(&f, &dests(), &h);
        assert!(matches!(
            fails(&findings)[0].1,
            Problem::DnsUnreachable { server, .. } if *server == ip("203.0.113.10")
        ));
        // No name server at all.
        f.servers.clear();
        h.servers.clear();
        let findings = evaluate(&f, &dests(), &h);
        assert_eq!(fails(&findings)[0].1, &Problem::NoNameServer);
    }

    #[test]
    fn an_mtu_black_hole_and_a_path_mtu_told_by_icmp() {
        let mut h = heard();
        h.dests[0].probes[0].1 = answered(1400);
        let findings = evaluate(&facts(), &dests(), &h);
        assert_eq!(
            fails(&findings)[0].1,
            &Problem::MtuBlackHole {
                dest: ip("203.0.113.10"),
                iface: "eth0".into(),
                first_hop: 1500,
                mtu: 1400
            }
        );
        h.dests[0].probes[0].1.told = Some((Some(ip("10.0.0.1")), 1400));
        let findings = evaluate(&facts(), &dests(), &h);
        assert!(fails(&findings).is_empty());
        assert!(lines(&findings)
            .last()
            .unwrap()
            .ends_with("path MTU 1400 (an ICMP 'too big' said so)"));
    }

    #[test]
    fn no_masquerade_is_blamed_for_every_destination_it_leaves_unanswered() {
        let mut f = facts();
        f.firewall.rules.chains.clear();
        let findings = evaluate(&f, &dests(), &nothing_beyond(heard()));
        let fails = fails(&findings);
        assert!(
            matches!(fails[0].1, Problem::NoMasquerade { dest, .. } if *dest == ip("203.0.113.53"))
        );
        assert_eq!(fails.len(), 3);
        for (_, p) in &fails[1..] {
            assert!(
                matches!(p, Problem::Upstream { fix, .. } if matches!(**fix, Problem::NoMasquerade { .. }))
            );
        }
        // A public source needs none.
        let mut f = facts();
        f.firewall.rules.chains.clear();
        f.inside.addresses[1] = addr(2, "198.18.0.2/24");
        f.inside.routes[1] = route("198.18.0.0/24", None, 2);
        let findings = evaluate(&f, &dests(), &heard());
        assert!(lines(&findings)
            .iter()
            .any(|l| l.starts_with("ok   masquerade of 198.18.0.2 is not needed")));
    }

    #[test]
    fn a_missing_interface_or_a_down_peer_is_the_first_fail() {
        let mut f = facts();
        f.iface = "eth1".into();
        let findings = evaluate(&f, &dests(), &nothing_beyond(heard()));
        assert!(matches!(
            fails(&findings)[0].1,
            Problem::NoInterface { iface, hostif } if iface == "eth1" && hostif == "veth1"
        ));
        let mut f = facts();
        f.host.links[2].up = false;
        let findings = evaluate(&f, &dests(), &nothing_beyond(heard()));
        assert_eq!(
            fails(&findings)[0].1,
            &Problem::NoCarrier {
                iface: "eth0".into(),
                peer: "veth0".into()
            }
        );
    }

    #[test]
    fn destinations_parse_as_addresses_or_names() {
        assert_eq!(
            "203.0.113.10".parse::<Dest>().unwrap(),
            Dest::Addr(ip("203.0.113.10"))
        );
        assert_eq!(
            "example.test".parse::<Dest>().unwrap(),
            Dest::Name("example.test".into())
        );
        for bad in ["0.0.0.0", "224.0.0.1", "a b", "", ".x", "1.2.3", "x..y"] {
            let e = bad.parse::<Dest>().unwrap_err();
            assert_eq!(e.kind(), crate::Kind::Usage, "{bad}");
        }
    }
}
