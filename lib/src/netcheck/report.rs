//! What netcheck prints: one finding per check, `ok   what` or
//! `FAIL what: why (fix: command)`, under header lines that say what was
//! checked. Every way a check can fail is a [`Problem`] variant, and each
//! variant has its words and its fix by construction: a FAIL line without a
//! fix cannot be written.

use super::firewall::{Decider, Origin};
use super::probe::{DnsHeard, Heard};
use crate::cidr::Subnet;
use crate::nat::Family;
use crate::run::shell_quote;
use std::fmt::Write as _;
use std::net::IpAddr;
use std::path::PathBuf;

/// What a fix needs to know about the namespace checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ctx {
    /// The namespace file, for `nsenter --net=…`.
    pub netns: PathBuf,
    /// TARGET as given, for a `vethup` command line.
    pub target: String,
    /// The resolv.conf the namespace's processes read.
    pub resolv: ResolvFile,
}

impl Ctx {
    /// `nsenter --net=/proc/42/ns/net ip link set eth0 up`.
    fn inside(&self, command: &str) -> String {
        format!(
            "nsenter --net={} {command}",
            shell_quote(&self.netns.to_string_lossy())
        )
    }
}

/// The resolv.conf a namespace sees, and where a fix may write it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvFile {
    /// Where it was read: `/proc/42/root/etc/resolv.conf`.
    pub path: PathBuf,
    /// Its lines.
    pub lines: Vec<String>,
    /// The name servers it lists.
    pub servers: Vec<IpAddr>,
    /// Whether it is the host's own file (the container has no private
    /// one), which a fix must not rewrite.
    pub hosts_own: bool,
    /// Whether a fix may rewrite it in place: a regular file of the
    /// namespace's own, reached without a symbolic link (one could lead a
    /// rewrite elsewhere).
    pub in_place: bool,
    /// Why it could not be read, if it could not (not a regular file…).
    pub unreadable: Option<String>,
    /// Name servers of the host's own resolv.conf that are not loopback:
    /// what a fix may suggest when the namespace has none that works.
    pub host_servers: Vec<IpAddr>,
}

impl ResolvFile {
    /// The command that leaves only the working servers (or, when none
    /// works, the host's) in the namespace's resolv.conf. The file is
    /// rewritten in place (`>`), as a bind-mounted file must be.
    fn keep_only(&self, good: &[IpAddr], ctx: &Ctx) -> String {
        let bad = |line: &str| {
            let mut w = line.split_whitespace();
            w.next() == Some("nameserver")
                && w.next()
                    .and_then(|a| a.parse::<IpAddr>().ok())
                    .is_some_and(|a| !good.contains(&a))
        };
        let mut lines: Vec<String> = self.lines.iter().filter(|l| !bad(l)).cloned().collect();
        if good.is_empty() {
            let servers: Vec<String> = if self.host_servers.is_empty() {
                vec!["ADDRESS".into()]
            } else {
                self.host_servers.iter().map(ToString::to_string).collect()
            };
            lines.splice(0..0, servers.iter().map(|s| format!("nameserver {s}")));
        }
        if !self.in_place {
            let dns: String = lines
                .iter()
                .filter_map(|l| l.strip_prefix("nameserver "))
                .map(|s| format!(" --dns {s}"))
                .collect();
            // The host's own file is the host's business, and a file
            // reached by a link may be anyone's: the container gets one of
            // its own when it starts.
            return format!(
                "start the container with its own: nsrun --net --mount … -- netinit{dns} … (target {})",
                ctx.target
            );
        }
        let words: Vec<String> = lines.iter().map(|l| shell_quote(l)).collect();
        format!(
            "printf '%s\\n' {} > {}",
            words.join(" "),
            shell_quote(&self.path.to_string_lossy())
        )
    }
}

/// How the host side of the container's link stands, for the gateway.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HostEnd {
    /// No host interface holds the gateway's address; `peer` is the host
    /// interface the container's link is paired with (its bridge, if it is
    /// a port of one).
    NotHeld { peer: Option<String> },
    /// The interface holding it is down.
    Down(String),
    /// It is held by an interface that is up.
    Up(String),
}

/// One way a check fails. Each has its words ([`Problem::why`]) and its
/// fix ([`Problem::fix`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Problem {
    LoopbackDown,
    NoInterface {
        iface: String,
        /// A host interface name that is free, for vethup.
        hostif: String,
    },
    InterfaceDown {
        iface: String,
    },
    /// Up, but its veth peer on the host is down.
    NoCarrier {
        iface: String,
        peer: String,
    },
    NoAddress {
        iface: String,
        /// The family it lacks, when it has the other.
        family: Option<Family>,
        /// An address that would fit the host side's subnet.
        suggest: Option<String>,
    },
    NoDefaultRoute {
        family: Family,
        iface: String,
        via: Option<IpAddr>,
    },
    GatewaySilent {
        gateway: IpAddr,
        /// The container's prefix length, for the address to add.
        prefix: u8,
        heard: Heard,
        host: HostEnd,
    },
    ForwardingOff {
        family: Family,
        /// `net.ipv4.ip_forward`, `net.ipv4.conf.veth0.forwarding`…
        sysctl: String,
    },
    NoHostRoute {
        dest: IpAddr,
    },
    ForwardDropped {
        by: Decider,
        /// The first flow it drops, in words.
        flow: String,
        subnet: Subnet,
    },
    NoMasquerade {
        source: IpAddr,
        dest: IpAddr,
        subnet: Subnet,
    },
    /// The host's route back to the container leaves elsewhere.
    RouteBackStolen {
        subnet: Subnet,
        /// `10.0.0.0/25 via 198.51.100.1 dev up0`, as `ip route` takes it.
        route: String,
        /// `main`, or another table's number.
        table: String,
    },
    NoRouteBack {
        subnet: Subnet,
        /// The host end of the container's link (its bridge if a port).
        peer: Option<String>,
        peer_down: bool,
        /// The container's gateway, when no host interface holds it.
        gateway: Option<IpAddr>,
    },
    ReversePathDrops {
        iface: String,
        dropped: u64,
        /// Already loose (2): the interface has no IPv4 address, or the
        /// host no route at all to the sender.
        loose: bool,
    },
    NoNameServer,
    DnsUnreachable {
        server: IpAddr,
        heard: DnsHeard,
        good: Vec<IpAddr>,
    },
    DnsNotAnswering {
        server: IpAddr,
        heard: DnsHeard,
        good: Vec<IpAddr>,
    },
    /// The server answered about a `--dest` name, but not with an address.
    DnsCannotResolve {
        server: IpAddr,
        name: String,
        said: String,
        good: Vec<IpAddr>,
    },
    /// No name server gave an address for a `--dest` name.
    Unresolved {
        name: String,
    },
    DestSilent {
        dest: IpAddr,
        heard: Heard,
    },
    MtuBlackHole {
        dest: IpAddr,
        iface: String,
        first_hop: u32,
        mtu: u32,
    },
    /// A probe failed, and an earlier check on its way failed too: that
    /// one is the cause, and its fix is this one's.
    Upstream {
        heard: String,
        cause: String,
        fix: Box<Problem>,
    },
    FirewallUnreadable {
        why: String,
    },
}

fn family_ip(family: Family) -> &'static str {
    match family {
        Family::V4 => "ip",
        Family::V6 => "ip -6",
    }
}

impl Problem {
    /// Why the check failed, in plain words.
    pub fn why(&self) -> String {
        match self {
            Problem::LoopbackDown => "lo is down (local services and 127.0.0.1 fail)".into(),
            Problem::NoInterface { iface, .. } => {
                format!("there is no {iface} in the namespace (did vethup run for it?)")
            }
            Problem::InterfaceDown { iface } => format!("{iface} is down"),
            Problem::NoCarrier { iface, peer } => {
                format!("{iface} has no carrier: its peer {peer} on the host is down")
            }
            Problem::NoAddress {
                iface,
                family: None,
                ..
            } => format!("{iface} has no address"),
            Problem::NoAddress {
                iface,
                family: Some(f),
                ..
            } => format!("{iface} has no {} address", f.name()),
            Problem::NoDefaultRoute { family, iface, .. } => {
                format!("no {} default route through {iface}", family.name())
            }
            Problem::GatewaySilent {
                gateway,
                heard,
                host,
                ..
            } => {
                let host = match host {
                    HostEnd::NotHeld { peer: Some(p) } => {
                        format!("no host interface has {gateway} (the container's link is paired with {p})")
                    }
                    HostEnd::NotHeld { peer: None } => format!("no host interface has {gateway}"),
                    HostEnd::Down(name) => format!("the host's {name} holding it is down"),
                    HostEnd::Up(name) => format!("the host's {name} holds it and is up"),
                };
                format!("{}; {host}", heard.words())
            }
            Problem::ForwardingOff { family, sysctl } => {
                format!(
                    "the host does not forward {} ({sysctl} is 0)",
                    family.name()
                )
            }
            Problem::NoHostRoute { dest } => format!("the host has no route to {dest}"),
            Problem::ForwardDropped { by, flow, .. } => format!("{by} drops {flow}"),
            Problem::NoMasquerade { source, dest, .. } => format!(
                "nothing masquerades {source} toward {dest}: answers cannot find their way back"
            ),
            Problem::RouteBackStolen { route, table, .. } => {
                format!("the host route {route} (table {table}) takes the answers elsewhere")
            }
            Problem::NoRouteBack { subnet, .. } => {
                format!("the host has no route back to {subnet}")
            }
            Problem::ReversePathDrops {
                iface,
                dropped,
                loose,
            } => format!(
                "the host dropped {dropped} answer{} arriving on {iface} by reverse-path \
                 filtering ({})",
                if *dropped == 1 { "" } else { "s" },
                if *loose {
                    "loose rp_filter, yet the interface has no IPv4 address or the host no route to the sender"
                } else {
                    "strict rp_filter: the host's route back to the sender leaves by another interface"
                }
            ),
            Problem::NoNameServer => {
                "resolv.conf names no name server (the resolver then asks 127.0.0.1)".into()
            }
            Problem::DnsUnreachable { heard, .. } => {
                format!("it answers neither ping nor DNS ({})", heard.words())
            }
            Problem::DnsNotAnswering { heard, .. } => {
                format!("it answers ping but not DNS: {}", heard.words())
            }
            Problem::DnsCannotResolve { name, said, .. } => format!("asked for {name}, it {said}"),
            Problem::Unresolved { name } => {
                format!("no name server of the namespace gives an address for {name}")
            }
            Problem::DestSilent { heard, .. } => heard.words(),
            Problem::MtuBlackHole { first_hop, mtu, .. } => format!(
                "packets over {mtu} bytes vanish (the interface sends up to {first_hop}) and no \
                 ICMP 'fragmentation needed' comes back: a path MTU black hole"
            ),
            Problem::Upstream { heard, cause, .. } => {
                format!("{heard}, because of '{cause}'")
            }
            Problem::FirewallUnreadable { why } => why.clone(),
        }
    }

    /// The command that fixes it.
    pub fn fix(&self, ctx: &Ctx) -> String {
        match self {
            Problem::LoopbackDown => ctx.inside("ip link set lo up"),
            Problem::NoInterface { iface, hostif } => format!(
                "vethup --ifname {} {} {}",
                shell_quote(iface),
                shell_quote(hostif),
                shell_quote(&ctx.target)
            ),
            Problem::InterfaceDown { iface } => {
                ctx.inside(&format!("ip link set {} up", shell_quote(iface)))
            }
            Problem::NoCarrier { peer, .. } => format!("ip link set {} up", shell_quote(peer)),
            Problem::NoAddress { iface, suggest, .. } => ctx.inside(&format!(
                "ip addr add {} dev {}",
                suggest.as_deref().unwrap_or("ADDRESS/PREFIX"),
                shell_quote(iface)
            )),
            Problem::NoDefaultRoute { family, iface, via } => ctx.inside(&format!(
                "{} route add default via {} dev {}",
                family_ip(*family),
                via.map_or("GATEWAY".to_string(), |v| v.to_string()),
                shell_quote(iface)
            )),
            Problem::GatewaySilent {
                gateway,
                prefix,
                host,
                ..
            } => match host {
                HostEnd::NotHeld { peer } => format!(
                    "ip addr add {gateway}/{prefix} dev {}",
                    peer.as_deref().map_or("HOSTIF".to_string(), shell_quote)
                ),
                HostEnd::Down(name) => format!("ip link set {} up", shell_quote(name)),
                // The host is there but silent: its input firewall is the
                // likely cause, and the place to look.
                HostEnd::Up(_) => "nft list ruleset | grep -B3 -A20 'hook input'".into(),
            },
            Problem::ForwardingOff { sysctl, .. } => {
                format!("sysctl -w {}", shell_quote(&format!("{sysctl}=1")))
            }
            Problem::NoHostRoute { dest } => format!("ip route add {dest} via ROUTER"),
            Problem::ForwardDropped { by, subnet, .. } => forward_fix(by, subnet),
            Problem::NoMasquerade { subnet, .. } => format!("natctl add {subnet}"),
            Problem::RouteBackStolen { route, table, .. } => {
                format!("ip route del {route} table {table}")
            }
            Problem::NoRouteBack {
                subnet,
                peer,
                peer_down,
                gateway,
            } => {
                let dev = peer.as_deref().map_or("HOSTIF".to_string(), shell_quote);
                match (peer_down, gateway) {
                    (true, _) => format!("ip link set {dev} up"),
                    (false, Some(g)) => {
                        format!("ip addr add {g}/{} dev {dev}", subnet.net().prefix_len())
                    }
                    (false, None) => format!("ip route add {subnet} dev {dev}"),
                }
            }
            // Loose mode (2) wins over a strict `all` (the kernel uses the
            // larger of the two) and still drops sources it cannot route.
            Problem::ReversePathDrops {
                iface,
                loose: false,
                ..
            } => format!(
                "sysctl -w {}",
                shell_quote(&format!("{}=2", conf_key(iface, "rp_filter")))
            ),
            Problem::ReversePathDrops {
                iface, loose: true, ..
            } => {
                format!(
                    "sysctl -w net.ipv4.conf.all.rp_filter=0 {}",
                    shell_quote(&format!("{}=0", conf_key(iface, "rp_filter")))
                )
            }
            Problem::NoNameServer => ctx.resolv.keep_only(&[], ctx),
            Problem::DnsUnreachable { good, .. }
            | Problem::DnsNotAnswering { good, .. }
            | Problem::DnsCannotResolve { good, .. } => ctx.resolv.keep_only(good, ctx),
            // The name is wrong or unknown there: check it, or check the
            // rest with its address.
            Problem::Unresolved { .. } => {
                format!("netcheck --dest ADDRESS {}", shell_quote(&ctx.target))
            }
            Problem::DestSilent { dest, .. } => ctx.inside(&format!("tracepath -n {dest}")),
            Problem::MtuBlackHole { iface, mtu, .. } => {
                ctx.inside(&format!("ip link set {} mtu {mtu}", shell_quote(iface)))
            }
            Problem::Upstream { fix, .. } => fix.fix(ctx),
            Problem::FirewallUnreadable { .. } => {
                "run netcheck as root (it reads nft list ruleset and iptables-save)".into()
            }
        }
    }
}

/// The sysctl `net.ipv4.conf.IFACE.LEAF`, in the slash form when the
/// interface's name has a dot (`eth0.100`), which sysctl would split.
pub fn conf_key(iface: &str, leaf: &str) -> String {
    if iface.contains('.') {
        format!("net/ipv4/conf/{iface}/{leaf}")
    } else {
        format!("net.ipv4.conf.{iface}.{leaf}")
    }
}

/// A line as it may reach a terminal: control characters (a name or a
/// resolv.conf line of the container's may hold an escape sequence) are
/// written as escapes.
fn printable(line: &str) -> String {
    line.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// The fix for a drop in the forward hook: natctl's accepts for iptables'
/// FORWARD policy (natctl adds them when it sees that policy), accepts
/// inserted first into another nft chain whose policy drops, and the
/// removal of a rule that drops.
fn forward_fix(by: &Decider, subnet: &Subnet) -> String {
    match (&by.chain.origin, by.rule()) {
        (Origin::Iptables(_), None) => format!("natctl add {subnet}"),
        (Origin::Iptables(family), Some(rule)) => format!(
            "{} -t {} -D {} {}",
            super::firewall::iptables::program(*family),
            shell_quote(&by.chain.table),
            shell_quote(&by.chain.name),
            rule.spec.as_deref().unwrap_or_default()
        ),
        (Origin::Nft { family }, None) => {
            let ip = if subnet.is_ipv4() { "ip" } else { "ip6" };
            let chain = format!(
                "{family} {} {}",
                shell_quote(&by.chain.table),
                shell_quote(&by.chain.name)
            );
            format!(
                "nft insert rule {chain} {ip} daddr {subnet} ct state established,related accept \
                 && nft insert rule {chain} {ip} saddr {subnet} accept"
            )
        }
        (Origin::Nft { family }, Some(rule)) => format!(
            "nft delete rule {family} {} {} handle {}",
            shell_quote(&by.chain.table),
            shell_quote(&by.chain.name),
            rule.handle.unwrap_or_default()
        ),
    }
}

/// How one check came out.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Passed; the words say what was found.
    Ok(String),
    Fail(Problem),
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was checked: `interface eth0`, `DNS server 203.0.113.53`.
    pub subject: String,
    pub outcome: Outcome,
}

impl Finding {
    pub fn ok(subject: impl Into<String>, words: impl Into<String>) -> Finding {
        Finding {
            subject: subject.into(),
            outcome: Outcome::Ok(words.into()),
        }
    }

    pub fn fail(subject: impl Into<String>, problem: Problem) -> Finding {
        Finding {
            subject: subject.into(),
            outcome: Outcome::Fail(problem),
        }
    }

    pub fn problem(&self) -> Option<&Problem> {
        match &self.outcome {
            Outcome::Fail(p) => Some(p),
            Outcome::Ok(_) => None,
        }
    }

    /// `ok   gateway 10.0.0.1 answers ping`,
    /// `FAIL gateway 10.0.0.1: no answer within 1s; … (fix: …)`.
    pub fn line(&self, ctx: &Ctx) -> String {
        let one = |s: String| s.replace('\n', " ");
        match &self.outcome {
            Outcome::Ok(words) => one(format!("ok   {} {words}", self.subject)),
            Outcome::Fail(p) => one(format!(
                "FAIL {}: {} (fix: {})",
                self.subject,
                p.why(),
                p.fix(ctx)
            )),
        }
    }
}

/// Everything netcheck found, with what it looked at.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Report {
    /// The header: what was checked (target, interface, addresses,
    /// servers, destinations, host, firewall programs).
    pub header: Vec<String>,
    pub findings: Vec<Finding>,
    pub ctx: Ctx,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.findings.iter().all(|f| f.problem().is_none())
    }

    /// The exit status: 0 when every check is ok, 1 when one failed.
    pub fn status(&self) -> u8 {
        if self.passed() {
            0
        } else {
            1
        }
    }

    /// The whole report, one line each, header lines starting with `# `.
    pub fn text(&self) -> String {
        let mut text = String::new();
        for line in &self.header {
            let _ = writeln!(text, "# {}", printable(line));
        }
        for finding in &self.findings {
            let _ = writeln!(text, "{}", printable(&finding.line(&self.ctx)));
        }
        text
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::super::firewall::{Action, Chain, Hook, Rule};
    use super::*;

    pub fn ctx() -> Ctx {
        Ctx {
            netns: "/proc/4242/ns/net".into(),
            target: "4242".into(),
            resolv: ResolvFile {
                path: "/proc/4242/root/etc/resolv.conf".into(),
                lines: vec![
                    "nameserver 192.0.2.53".into(),
                    "nameserver 203.0.113.53".into(),
                    "search lab.test".into(),
                ],
                servers: vec![
                    "192.0.2.53".parse().unwrap(),
                    "203.0.113.53".parse().unwrap(),
                ],
                hosts_own: false,
                in_place: true,
                unreadable: None,
                host_servers: vec![],
            },
        }
    }

    fn decider(origin: Origin, rule: Option<Rule>) -> Decider {
        Decider {
            chain: Chain {
                origin,
                table: "filter".into(),
                name: "FORWARD".into(),
                hook: Some(Hook::Forward),
                priority: 0,
                policy_drops: true,
                rules: rule.into_iter().collect(),
            },
            rule: None,
        }
    }

    /// One of every problem. The match below has no catch-all, so a new
    /// variant does not compile until it is listed here too.
    pub fn every_problem() -> Vec<Problem> {
        let a = |s: &str| s.parse::<IpAddr>().unwrap();
        let subnet: Subnet = "10.0.0.0/24".parse().unwrap();
        let ipt_rule = Rule {
            handle: None,
            spec: Some("-s 10.0.0.0/24 -j DROP".into()),
            conds: vec![],
            action: Action::Drop,
        };
        let mut ipt_drop = decider(Origin::Iptables(Family::V4), Some(ipt_rule));
        ipt_drop.rule = Some(0);
        let nft_rule = Rule {
            handle: Some(5),
            spec: None,
            conds: vec![],
            action: Action::Drop,
        };
        let mut nft_drop = decider(
            Origin::Nft {
                family: "inet".into(),
            },
            Some(nft_rule),
        );
        nft_drop.rule = Some(0);
        let dropped = |by: Decider| Problem::ForwardDropped {
            by,
            flow: "icmp 10.0.0.2 -> 203.0.113.10 (veth0 -> up0)".into(),
            subnet,
        };
        let all = vec![
            Problem::LoopbackDown,
            Problem::NoInterface {
                iface: "eth0".into(),
                hostif: "veth0".into(),
            },
            Problem::InterfaceDown {
                iface: "eth0".into(),
            },
            Problem::NoCarrier {
                iface: "eth0".into(),
                peer: "veth0".into(),
            },
            Problem::NoAddress {
                iface: "eth0".into(),
                family: None,
                suggest: Some("10.0.0.2/24".into()),
            },
            Problem::NoAddress {
                iface: "eth0".into(),
                family: Some(Family::V6),
                suggest: None,
            },
            Problem::NoDefaultRoute {
                family: Family::V4,
                iface: "eth0".into(),
                via: Some(a("10.0.0.1")),
            },
            Problem::GatewaySilent {
                gateway: a("10.0.0.1"),
                prefix: 24,
                heard: Heard::Silence,
                host: HostEnd::NotHeld {
                    peer: Some("veth0".into()),
                },
            },
            Problem::GatewaySilent {
                gateway: a("10.0.0.1"),
                prefix: 24,
                heard: Heard::Silence,
                host: HostEnd::Down("veth0".into()),
            },
            Problem::GatewaySilent {
                gateway: a("10.0.0.1"),
                prefix: 24,
                heard: Heard::Silence,
                host: HostEnd::Up("veth0".into()),
            },
            Problem::ForwardingOff {
                family: Family::V4,
                sysctl: "net.ipv4.ip_forward".into(),
            },
            Problem::NoHostRoute {
                dest: a("203.0.113.10"),
            },
            dropped(decider(Origin::Iptables(Family::V4), None)),
            dropped(ipt_drop),
            dropped(decider(
                Origin::Nft {
                    family: "inet".into(),
                },
                None,
            )),
            dropped(nft_drop),
            Problem::NoMasquerade {
                source: a("10.0.0.2"),
                dest: a("203.0.113.10"),
                subnet,
            },
            Problem::RouteBackStolen {
                subnet,
                route: "10.0.0.0/25 via 198.51.100.1 dev up0".into(),
                table: "main".into(),
            },
            Problem::NoRouteBack {
                subnet,
                peer: Some("veth0".into()),
                peer_down: false,
                gateway: Some(a("10.0.0.1")),
            },
            Problem::ReversePathDrops {
                iface: "up1".into(),
                dropped: 3,
                loose: false,
            },
            Problem::ReversePathDrops {
                iface: "up1".into(),
                dropped: 1,
                loose: true,
            },
            Problem::NoNameServer,
            Problem::DnsUnreachable {
                server: a("192.0.2.53"),
                heard: DnsHeard::Silence,
                good: vec![a("203.0.113.53")],
            },
            Problem::DnsNotAnswering {
                server: a("203.0.113.10"),
                heard: DnsHeard::Refused,
                good: vec![],
            },
            Problem::DnsCannotResolve {
                server: a("203.0.113.53"),
                name: "example.test".into(),
                said: "answered NXDOMAIN".into(),
                good: vec![],
            },
            Problem::Unresolved {
                name: "example.test".into(),
            },
            Problem::DestSilent {
                dest: a("203.0.113.10"),
                heard: Heard::Silence,
            },
            Problem::MtuBlackHole {
                dest: a("203.0.113.10"),
                iface: "eth0".into(),
                first_hop: 1500,
                mtu: 1400,
            },
            Problem::Upstream {
                heard: "no answer".into(),
                cause: "host forwarding".into(),
                fix: Box::new(Problem::ForwardingOff {
                    family: Family::V4,
                    sysctl: "net.ipv4.ip_forward".into(),
                }),
            },
            Problem::FirewallUnreadable {
                why: "cannot read the nft ruleset: permission denied".into(),
            },
        ];
        for p in &all {
            match p {
                Problem::LoopbackDown
                | Problem::NoInterface { .. }
                | Problem::InterfaceDown { .. }
                | Problem::NoCarrier { .. }
                | Problem::NoAddress { .. }
                | Problem::NoDefaultRoute { .. }
                | Problem::GatewaySilent { .. }
                | Problem::ForwardingOff { .. }
                | Problem::NoHostRoute { .. }
                | Problem::ForwardDropped { .. }
                | Problem::NoMasquerade { .. }
                | Problem::RouteBackStolen { .. }
                | Problem::NoRouteBack { .. }
                | Problem::ReversePathDrops { .. }
                | Problem::NoNameServer
                | Problem::DnsUnreachable { .. }
                | Problem::DnsNotAnswering { .. }
                | Problem::DnsCannotResolve { .. }
                | Problem::Unresolved { .. }
                | Problem::DestSilent { .. }
                | Problem::MtuBlackHole { .. }
                | Problem::Upstream { .. }
                | Problem::FirewallUnreadable { .. } => {}
            }
        }
        all
    }

    #[test]
    fn every_fail_line_ends_in_a_fix() {
        let ctx = ctx();
        let problems = every_problem();
        // Each variant is there at least once.
        let variants: std::collections::BTreeSet<String> = problems
            .iter()
            .map(|p| {
                format!("{p:?}")
                    .split([' ', '{', '('])
                    .next()
                    .unwrap()
                    .to_string()
            })
            .collect();
        assert_eq!(variants.len(), 23, "{variants:?}");
        for p in problems {
            let line = Finding::fail("subject", p.clone()).line(&ctx);
            assert!(line.starts_with("FAIL subject: "), "{line}");
            let (why, fix) = line.rsplit_once(" (fix: ").expect("a fix");
            assert!(fix.ends_with(')'), "{line}");
            let fix = fix.trim_end_matches(')');
            assert!(!fix.trim().is_empty(), "{line}");
            assert!(why.len() > "FAIL subject: ".len(), "{line}");
            assert!(!line.contains('\n'));
        }
    }

    #[test]
    fn fixes_are_commands_for_the_namespace_checked() {
        let ctx = ctx();
        let fix = |p: Problem| p.fix(&ctx);
        assert_eq!(
            fix(Problem::InterfaceDown {
                iface: "eth0".into()
            }),
            "nsenter --net=/proc/4242/ns/net ip link set eth0 up"
        );
        assert_eq!(
            fix(Problem::NoDefaultRoute {
                family: Family::V6,
                iface: "eth0".into(),
                via: Some("fd00::1".parse().unwrap())
            }),
            "nsenter --net=/proc/4242/ns/net ip -6 route add default via fd00::1 dev eth0"
        );
        // The unreachable server goes; the others and the search line stay.
        assert_eq!(
            fix(Problem::DnsUnreachable {
                server: "192.0.2.53".parse().unwrap(),
                heard: DnsHeard::Silence,
                good: vec!["203.0.113.53".parse().unwrap()],
            }),
            "printf '%s\\n' 'nameserver 203.0.113.53' 'search lab.test' > /proc/4242/root/etc/resolv.conf"
        );
    }

    #[test]
    fn the_hosts_own_resolv_conf_is_never_rewritten() {
        let mut ctx = ctx();
        ctx.resolv.hosts_own = true;
        ctx.resolv.in_place = false;
        ctx.resolv.host_servers = vec!["198.51.100.53".parse().unwrap()];
        let fix = Problem::NoNameServer.fix(&ctx);
        assert!(!fix.contains('>'), "{fix}");
        assert!(fix.contains("--dns 198.51.100.53"), "{fix}");
    }

    #[test]
    fn forward_fixes_follow_who_drops() {
        let subnet: Subnet = "10.0.0.0/24".parse().unwrap();
        let mut nft = decider(
            Origin::Nft {
                family: "inet".into(),
            },
            None,
        );
        nft.chain.table = "foreign".into();
        nft.chain.name = "fw".into();
        assert_eq!(
            forward_fix(&nft, &subnet),
            "nft insert rule inet foreign fw ip daddr 10.0.0.0/24 ct state established,related accept \
             && nft insert rule inet foreign fw ip saddr 10.0.0.0/24 accept"
        );
        assert_eq!(
            forward_fix(&decider(Origin::Iptables(Family::V4), None), &subnet),
            "natctl add 10.0.0.0/24"
        );
    }

    #[test]
    fn names_reach_fixes_quoted_and_terminals_escaped() {
        let ctx = ctx();
        assert_eq!(
            Problem::ReversePathDrops {
                iface: "eth0.100".into(),
                dropped: 1,
                loose: false
            }
            .fix(&ctx),
            "sysctl -w net/ipv4/conf/eth0.100/rp_filter=2"
        );
        assert_eq!(
            Problem::InterfaceDown {
                iface: "e$(x)".into()
            }
            .fix(&ctx),
            "nsenter --net=/proc/4242/ns/net ip link set 'e$(x)' up"
        );
        let report = Report {
            header: vec!["inside: e\u{1b}[2J".into()],
            findings: vec![Finding::ok("interface e\u{1b}[2J", "is up")],
            ctx,
        };
        assert_eq!(
            report.text(),
            "# inside: e\\u{1b}[2J\nok   interface e\\u{1b}[2J is up\n"
        );
    }

    #[test]
    fn a_report_passes_only_when_every_finding_is_ok() {
        let mut report = Report {
            header: vec!["netcheck: the network namespace of PID 4242".into()],
            findings: vec![Finding::ok("loopback lo", "is up")],
            ctx: ctx(),
        };
        assert_eq!(report.status(), 0);
        assert_eq!(
            report.text(),
            "# netcheck: the network namespace of PID 4242\nok   loopback lo is up\n"
        );
        report
            .findings
            .push(Finding::fail("loopback lo", Problem::LoopbackDown));
        assert_eq!(report.status(), 1);
    }
}
