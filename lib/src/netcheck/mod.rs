//! netcheck: why can't this namespace reach there? It reads the state of
//! TARGET's network namespace and of the host, probes from inside TARGET
//! toward its gateway, its name servers and each `--dest` only, and says
//! per check, in the order packets travel, `ok` or `FAIL … (fix: …)`.
//! It changes nothing: no sysctl, link, route, rule, file or mount.
//!
//! - [`facts`]: what is read (links, addresses, routes, sysctls,
//!   counters, resolv.conf); [`firewall`]: nft's and iptables' rules.
//! - [`probe`]: echoes, DNS queries and path MTU probes from inside;
//!   [`dns`]: the wire format they speak.
//! - [`checks`]: from facts and probes to findings (pure);
//!   [`report`]: the findings, their fixes, and the text printed.

pub mod checks;
pub mod dns;
pub mod facts;
pub mod firewall;
pub mod probe;
pub mod report;

use crate::error::Error;
use crate::name::IfName;
use crate::netlink::Socket;
use crate::netns::Target;
use checks::{Dest, DestHeard, Facts, Heard, ServerHeard};
use facts::{Counters, Net, Sysctls};
use firewall::Firewall;
use probe::PathMtu;
use report::{Ctx, Report};
use std::net::IpAddr;
use std::os::fd::BorrowedFd;

/// What the command line asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub target: Target,
    /// The interface inside; by default the one of the default route.
    pub iface: Option<IfName>,
    pub dests: Vec<Dest>,
}

/// The interface netinit configures when told nothing else.
const DEFAULT_IFACE: &str = "eth0";

/// The interface to check: the one asked for, else the one the default
/// route leaves by, else eth0.
fn pick_iface(inside: &Net, asked: Option<&IfName>) -> String {
    if let Some(name) = asked {
        return name.as_str().to_string();
    }
    [false, true]
        .into_iter()
        .filter_map(|v6| inside.default_route(v6))
        .find_map(|r| inside.oif_name(r))
        .unwrap_or_else(|| DEFAULT_IFACE.to_string())
}

/// One probe's result.
enum Probed {
    Ping(probe::Heard),
    Dns(probe::DnsHeard),
    Mtu(PathMtu),
}

type Probe<'a> = Box<dyn FnOnce() -> Result<Probed, Error> + Send + 'a>;

/// The addresses of a `--dest` to probe: one per family the namespace
/// has, from `servers`' answers for a name.
fn dest_addrs(dest: &Dest, servers: &[ServerHeard], families: &[bool]) -> Vec<IpAddr> {
    let found = checks::addresses(dest, servers);
    families
        .iter()
        .filter_map(|v6| found.iter().copied().find(|a| a.is_ipv6() == *v6))
        .collect()
}

/// Runs the probes of `plan` and `dests` inside `netns`, all at once:
/// gateways, name servers (echo, `. NS`, and each `--dest` name), the
/// path MTU toward each `--dest` address; then toward the addresses the
/// names resolved to. The host's counters are read around them.
fn listen(
    netns: BorrowedFd<'_>,
    plan: &checks::Plan,
    dests: &[Dest],
    families: &[bool],
) -> Result<Heard, Error> {
    let mut heard = Heard {
        before: Counters::read(),
        ..Heard::default()
    };
    let mtu = |addrs: &[IpAddr], probes: &mut Vec<Probe>| {
        for addr in addrs.iter().copied() {
            let first_hop = plan.first_hop;
            probes.push(Box::new(move || {
                probe::path_mtu(addr, first_hop).map(Probed::Mtu)
            }));
        }
    };
    let mut probes: Vec<Probe> = Vec::new();
    for (gw, _) in &plan.gateways {
        let gw = *gw;
        probes.push(Box::new(move || probe::ping(gw).map(Probed::Ping)));
    }
    for server in &plan.servers {
        let server = *server;
        probes.push(Box::new(move || probe::ping(server).map(Probed::Ping)));
        probes.push(Box::new(move || {
            probe::dns_query(server, ".", dns::NS).map(Probed::Dns)
        }));
        for (name, qtype) in &plan.names {
            let (name, qtype) = (name.clone(), *qtype);
            probes.push(Box::new(move || {
                probe::dns_query(server, &name, qtype).map(Probed::Dns)
            }));
        }
    }
    // Addresses are probed at once; names once the servers have answered.
    let mut targets: Vec<Vec<IpAddr>> = dests
        .iter()
        .map(|d| match d {
            Dest::Addr(_) => dest_addrs(d, &[], families),
            Dest::Name(_) => Vec::new(),
        })
        .collect();
    for addrs in &targets {
        mtu(addrs, &mut probes);
    }
    let mut results = probe::run_inside(netns, probes)?.into_iter();
    for (gw, _) in &plan.gateways {
        if let Some(Probed::Ping(echo)) = results.next() {
            heard.gateways.push((*gw, echo));
        }
    }
    for server in &plan.servers {
        let ping = match results.next() {
            Some(Probed::Ping(h)) => h,
            _ => probe::Heard::Silence,
        };
        let dns = |r: Option<Probed>| match r {
            Some(Probed::Dns(h)) => h,
            _ => probe::DnsHeard::Silence,
        };
        let query = dns(results.next());
        let names = plan
            .names
            .iter()
            .map(|(name, _)| (name.clone(), dns(results.next())))
            .collect();
        heard.servers.push(ServerHeard {
            server: *server,
            ping,
            query,
            names,
        });
    }
    // The first round probed the addresses given; the names' addresses
    // are probed now that the name servers have answered.
    let mut by_addr = mtus(results);
    let mut probes: Vec<Probe> = Vec::new();
    for (dest, addrs) in dests.iter().zip(targets.iter_mut()) {
        if let Dest::Name(_) = dest {
            *addrs = dest_addrs(dest, &heard.servers, families);
            mtu(addrs, &mut probes);
        }
    }
    let mut by_name = mtus(probe::run_inside(netns, probes)?.into_iter());
    for (dest, addrs) in dests.iter().zip(targets) {
        let answers: &mut dyn Iterator<Item = PathMtu> = match dest {
            Dest::Addr(_) => &mut by_addr,
            Dest::Name(_) => &mut by_name,
        };
        let probes = addrs.into_iter().zip(answers).collect();
        heard.dests.push(DestHeard {
            dest: dest.clone(),
            probes,
        });
    }
    heard.after = Counters::read();
    Ok(heard)
}

/// The path MTUs among a round's answers, in the order asked.
fn mtus(results: impl Iterator<Item = Probed>) -> std::vec::IntoIter<PathMtu> {
    results
        .filter_map(|r| match r {
            Probed::Mtu(m) => Some(m),
            _ => None,
        })
        .collect::<Vec<_>>()
        .into_iter()
}

/// The header lines: what was checked, for a reader of a bug report.
fn header(req: &Request, facts: &Facts, ctx: &Ctx, plan: &checks::Plan) -> Vec<String> {
    let kernel = std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default();
    let view = checks::View::new(facts);
    let mut lines = vec![format!(
        "netcheck {} on Linux {}: {}",
        env!("CARGO_PKG_VERSION"),
        kernel.trim(),
        req.target
    )];
    let addrs: Vec<String> = view.addrs.iter().map(ToString::to_string).collect();
    let mut inside = format!(
        "inside: {} {}",
        facts.iface,
        if addrs.is_empty() {
            "(no address)".to_string()
        } else {
            addrs.join(" ")
        }
    );
    if let Some(link) = view.link {
        inside.push_str(&format!(
            " mtu {}{}",
            link.mtu.unwrap_or(0),
            view.peer
                .map(|p| format!(", veth peer {} on the host", p.name))
                .unwrap_or_default()
        ));
    }
    for (gw, _) in &plan.gateways {
        inside.push_str(&format!(", default via {gw}"));
    }
    lines.push(inside);
    let servers: Vec<String> = facts.servers.iter().map(ToString::to_string).collect();
    lines.push(format!(
        "dns: {} (from {}{})",
        if servers.is_empty() {
            "none".to_string()
        } else {
            servers.join(" ")
        },
        ctx.resolv.path.display(),
        match (&ctx.resolv.unreadable, ctx.resolv.hosts_own) {
            (Some(why), _) => format!("; {why}"),
            (None, true) => ", the host's own".to_string(),
            (None, false) => String::new(),
        }
    ));
    let mut host = String::from("host:");
    for family in view.families() {
        if let Some(end) = view.host_end(family) {
            let a: Vec<String> = facts
                .host
                .addrs_of(end)
                .iter()
                .filter(|n| n.addr().is_ipv6() == (family == crate::nat::Family::V6))
                .map(ToString::to_string)
                .collect();
            host.push_str(&format!(" {} {};", end.name, a.join(" ")));
        }
    }
    for v6 in [false, true] {
        if let Some(r) = facts.host.default_route(v6) {
            host.push_str(&format!(
                " default{} dev {};",
                r.gateway.map(|g| format!(" via {g}")).unwrap_or_default(),
                facts.host.oif_name(r).unwrap_or_default()
            ));
        }
    }
    host.push_str(&format!(
        " firewall {}",
        if facts.firewall.programs.is_empty() {
            "none".to_string()
        } else {
            facts.firewall.programs.join(", ")
        }
    ));
    lines.push(host);
    if !req.dests.is_empty() {
        let d: Vec<String> = req.dests.iter().map(ToString::to_string).collect();
        lines.push(format!("destinations: {}", d.join(" ")));
    }
    lines
}

/// Checks TARGET's way out, and what it can reach: reads, probes, and
/// returns every finding. Errors only when it cannot look at all (TARGET
/// is not a namespace, no permission to enter it).
pub fn check(req: &Request) -> Result<Report, Error> {
    let netns = req.target.open()?;
    let inside = Socket::in_netns(netns.fd())
        .and_then(|mut socket| Net::read(&mut socket))
        .map_err(|e| e.context(format!("cannot look into {}", req.target)))?;
    let host = Socket::here().and_then(|mut socket| Net::read(&mut socket))?;
    let iface = pick_iface(&inside, req.iface.as_ref());
    let names: Vec<String> = host.links.iter().map(|l| l.name.clone()).collect();
    let resolv = facts::resolv_for(&req.target);
    let facts = Facts {
        inside,
        host,
        iface,
        sysctls: Sysctls::read(&names),
        firewall: Firewall::read(),
        servers: resolv.servers.clone(),
    };
    let ctx = Ctx {
        netns: netns.path().to_path_buf(),
        target: match &req.target {
            Target::Pid(pid) => pid.to_string(),
            Target::Path(p) => p.to_string_lossy().into_owned(),
            Target::Name(n) => n.clone(),
        },
        resolv,
    };
    let plan = checks::plan(&facts, &req.dests);
    let families: Vec<bool> = checks::View::new(&facts)
        .families()
        .iter()
        .map(|f| *f == crate::nat::Family::V6)
        .collect();
    let heard = listen(netns.fd(), &plan, &req.dests, &families)?;
    Ok(Report {
        header: header(req, &facts, &ctx, &plan),
        findings: checks::evaluate(&facts, &req.dests, &heard),
        ctx,
    })
}
