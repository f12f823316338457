//! The host's firewall as netcheck sees it: every chain of nftables and of
//! iptables (legacy or nf_tables) read into one model of conditions and
//! actions, and the two questions netcheck asks of it — would this flow be
//! dropped on its way through the forward hook, and would it be
//! masqueraded on its way out.
//!
//! Only reading happens here ([`Firewall::read`]: `nft -j list ruleset`,
//! `iptables-save`, `ip6tables-save`); the parsers ([`nft`], [`iptables`])
//! and the evaluation are pure. A condition netcheck does not understand
//! (a mark, a `fib` lookup, an xtables match) is neither true nor false:
//! the evaluation then takes the branch that does not blame the firewall,
//! so a FAIL names a rule only when the rule surely applies.

pub mod iptables;
pub mod nft;

use crate::nat::Family;
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;

/// IANA protocol numbers of the flows netcheck evaluates.
pub const ICMP: u8 = 1;
pub const TCP: u8 = 6;
pub const UDP: u8 = 17;
pub const ICMPV6: u8 = 58;

/// A connection tracking state, as rules match it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CtState {
    New,
    Established,
    Related,
    Invalid,
    Untracked,
}

impl CtState {
    fn parse(word: &str) -> Option<CtState> {
        Some(match word.to_ascii_lowercase().as_str() {
            "new" => CtState::New,
            "established" => CtState::Established,
            "related" => CtState::Related,
            "invalid" => CtState::Invalid,
            "untracked" => CtState::Untracked,
            _ => return None,
        })
    }
}

/// One packet of a connection crossing the host, as far as rules look at it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Flow {
    pub src: IpAddr,
    pub dst: IpAddr,
    pub proto: u8,
    pub sport: Option<u16>,
    pub dport: Option<u16>,
    pub icmp_type: Option<u8>,
    pub iif: String,
    pub oif: String,
    pub state: CtState,
}

impl Flow {
    pub fn family(&self) -> Family {
        if self.src.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    /// The answer to this packet: addresses, ports and interfaces swapped,
    /// an echo request answered by an echo reply, and conntrack's state
    /// `established`.
    pub fn reply(&self) -> Flow {
        Flow {
            src: self.dst,
            dst: self.src,
            proto: self.proto,
            sport: self.dport,
            dport: self.sport,
            icmp_type: self.icmp_type.map(|t| match t {
                8 => 0,
                128 => 129,
                other => other,
            }),
            iif: self.oif.clone(),
            oif: self.iif.clone(),
            state: CtState::Established,
        }
    }

    /// `udp 10.0.0.2 -> 203.0.113.53:53 (veth0 -> up0)`, for messages.
    pub fn words(&self) -> String {
        let proto = match self.proto {
            ICMP | ICMPV6 => "icmp",
            TCP => "tcp",
            UDP => "udp",
            _ => "ip",
        };
        let port = self.dport.map(|p| format!(":{p}")).unwrap_or_default();
        format!(
            "{proto} {} -> {}{port} ({} -> {})",
            self.src, self.dst, self.iif, self.oif
        )
    }
}

/// What a condition compares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Source,
    Destination,
}

/// An address condition's right-hand side.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AddrElem {
    Net(IpNet),
    Range(IpAddr, IpAddr),
}

impl AddrElem {
    fn contains(&self, addr: &IpAddr) -> bool {
        match self {
            AddrElem::Net(net) => net.contains(addr),
            AddrElem::Range(lo, hi) => lo <= addr && addr <= hi,
        }
    }
}

/// One condition of a rule. `negate` inverts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cond {
    /// The packet is of this family (`ip saddr` in an inet table implies it).
    Family(Family),
    Addr {
        side: Side,
        negate: bool,
        elems: Vec<AddrElem>,
    },
    /// An interface name; a trailing `*` (nft) or `+` (iptables) is a
    /// prefix wildcard.
    Iface {
        side: Side,
        negate: bool,
        names: Vec<String>,
    },
    Proto {
        negate: bool,
        protos: Vec<u8>,
    },
    /// Ports of `proto` (TCP or UDP; `None`: either, as nft's `th`).
    Port {
        side: Side,
        proto: Option<u8>,
        negate: bool,
        ranges: Vec<(u16, u16)>,
    },
    IcmpType {
        negate: bool,
        types: Vec<u8>,
    },
    CtState {
        negate: bool,
        states: Vec<CtState>,
    },
    /// Several fields matched together against a set of tuples
    /// (`ip saddr . oifname @masq_out`): some tuple matches every field.
    Tuple {
        negate: bool,
        fields: Vec<Field>,
        tuples: Vec<Vec<Atom>>,
    },
    /// `ct status dnat`: whether the connection was destination-NATed,
    /// which a container's own connections out never are.
    Dnat {
        negate: bool,
    },
    /// Something netcheck cannot evaluate, in the rule's own words.
    Unknown(String),
}

/// One field of a [`Cond::Tuple`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Addr(Side),
    Iface(Side),
    Proto,
    /// A TCP or UDP port (`None`: either).
    Port(Side, Option<u8>),
}

/// One value of a tuple, for the field at its place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Atom {
    Addr(AddrElem),
    Name(String),
    Proto(u8),
    Ports(u16, u16),
}

impl Field {
    fn matches(&self, atom: &Atom, flow: &Flow) -> bool {
        match (self, atom) {
            (Field::Addr(side), Atom::Addr(e)) => e.contains(match side {
                Side::Source => &flow.src,
                Side::Destination => &flow.dst,
            }),
            (Field::Iface(side), Atom::Name(pattern)) => iface_matches(
                pattern,
                match side {
                    Side::Source => &flow.iif,
                    Side::Destination => &flow.oif,
                },
            ),
            (Field::Proto, Atom::Proto(p)) => *p == flow.proto,
            (Field::Port(side, proto), Atom::Ports(lo, hi)) => {
                let port = match side {
                    Side::Source => flow.sport,
                    Side::Destination => flow.dport,
                };
                has_ports(*proto, flow.proto) && port.is_some_and(|p| *lo <= p && p <= *hi)
            }
            _ => false,
        }
    }
}

/// Whether a flow of `proto` has the ports of `want` (`None`: TCP or
/// UDP, as nft's `th`).
fn has_ports(want: Option<u8>, proto: u8) -> bool {
    match want {
        Some(p) => p == proto,
        None => proto == TCP || proto == UDP,
    }
}

/// Three-valued truth: a rule with a condition netcheck cannot read
/// may or may not apply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Truth {
    Yes,
    No,
    Maybe,
}

fn truth(b: bool) -> Truth {
    if b {
        Truth::Yes
    } else {
        Truth::No
    }
}

fn iface_matches(pattern: &str, name: &str) -> bool {
    match pattern
        .strip_suffix('*')
        .or_else(|| pattern.strip_suffix('+'))
    {
        Some(prefix) => name.starts_with(prefix),
        None => pattern == name,
    }
}

impl Cond {
    fn test(&self, flow: &Flow) -> Truth {
        let (negate, hit) = match self {
            Cond::Family(family) => (false, *family == flow.family()),
            Cond::Addr {
                side,
                negate,
                elems,
            } => {
                let addr = match side {
                    Side::Source => &flow.src,
                    Side::Destination => &flow.dst,
                };
                // `ip saddr` never matches an IPv6 packet, negated or not.
                let same_family = elems.iter().all(|e| match e {
                    AddrElem::Net(n) => n.addr().is_ipv4() == addr.is_ipv4(),
                    AddrElem::Range(lo, _) => lo.is_ipv4() == addr.is_ipv4(),
                });
                if !same_family {
                    return Truth::No;
                }
                (*negate, elems.iter().any(|e| e.contains(addr)))
            }
            Cond::Iface {
                side,
                negate,
                names,
            } => {
                let name = match side {
                    Side::Source => &flow.iif,
                    Side::Destination => &flow.oif,
                };
                if name.is_empty() {
                    return Truth::Maybe;
                }
                (*negate, names.iter().any(|p| iface_matches(p, name)))
            }
            Cond::Proto { negate, protos } => (*negate, protos.contains(&flow.proto)),
            Cond::Port {
                side,
                proto,
                negate,
                ranges,
            } => {
                let port = match side {
                    Side::Source => flow.sport,
                    Side::Destination => flow.dport,
                };
                // `udp dport != 53` does not match a TCP packet either.
                let Some(port) = port.filter(|_| has_ports(*proto, flow.proto)) else {
                    return Truth::No;
                };
                (
                    *negate,
                    ranges.iter().any(|(lo, hi)| *lo <= port && port <= *hi),
                )
            }
            Cond::IcmpType { negate, types } => match flow.icmp_type {
                Some(t) => (*negate, types.contains(&t)),
                None => return Truth::No,
            },
            Cond::CtState { negate, states } => (*negate, states.contains(&flow.state)),
            Cond::Tuple {
                negate,
                fields,
                tuples,
            } => {
                if fields.iter().any(|f| matches!(f, Field::Iface(_)))
                    && (flow.iif.is_empty() || flow.oif.is_empty())
                {
                    return Truth::Maybe;
                }
                let hit = tuples.iter().any(|t| {
                    t.len() == fields.len() && fields.iter().zip(t).all(|(f, a)| f.matches(a, flow))
                });
                (*negate, hit)
            }
            Cond::Dnat { negate } => (*negate, false),
            Cond::Unknown(_) => return Truth::Maybe,
        };
        truth(hit != negate)
    }
}

/// What a rule does when it matches.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Nothing final: counters, logs, marks.
    Continue,
    Accept,
    Drop,
    Reject,
    Return,
    Jump(String),
    Goto(String),
    Masquerade,
    Snat,
    /// A verdict netcheck does not know (a queue to user space…).
    Unknown(String),
}

/// One rule: conditions that must all hold, then an action.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// nft's handle; `None` for iptables rules.
    pub handle: Option<u64>,
    /// The rule as iptables-save prints it after `-A CHAIN `; nft rules
    /// have none (nft names them by handle).
    pub spec: Option<String>,
    pub conds: Vec<Cond>,
    pub action: Action,
}

impl Rule {
    fn test(&self, flow: &Flow) -> Truth {
        let mut all = Truth::Yes;
        for cond in &self.conds {
            match cond.test(flow) {
                Truth::No => return Truth::No,
                Truth::Maybe => all = Truth::Maybe,
                Truth::Yes => {}
            }
        }
        all
    }
}

/// Which program's chain, and so how it is named and changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// An nft chain in a table of this family (`ip`, `ip6`, `inet`…).
    Nft { family: String },
    /// An iptables (or ip6tables) chain.
    Iptables(Family),
}

/// The hook a base chain hangs on, as far as netcheck cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hook {
    Forward,
    /// NAT on the way out (`type nat hook postrouting`, iptables' nat
    /// POSTROUTING).
    SourceNat,
    Other,
}

/// One chain of one table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Chain {
    pub origin: Origin,
    pub table: String,
    pub name: String,
    /// Set for base chains: where they hang, their priority, and whether
    /// their policy is drop.
    pub hook: Option<Hook>,
    pub priority: i32,
    pub policy_drops: bool,
    pub rules: Vec<Rule>,
}

impl Chain {
    /// Whether packets of `family` pass through this chain at all.
    fn sees(&self, family: Family) -> bool {
        match &self.origin {
            Origin::Iptables(f) => *f == family,
            Origin::Nft { family: f } => match f.as_str() {
                "ip" => family == Family::V4,
                "ip6" => family == Family::V6,
                "inet" => true,
                _ => false,
            },
        }
    }

    /// Whether natctl made this chain: its nft table `nsnet` or its
    /// iptables chains `NSNET-*`.
    pub fn is_natctls(&self) -> bool {
        match self.origin {
            Origin::Nft { .. } => self.table == crate::nat::nft::TABLE,
            Origin::Iptables(_) => self.name.starts_with("NSNET-"),
        }
    }

    /// `table inet filter chain forward`, `iptables chain FORWARD`.
    pub fn words(&self) -> String {
        match &self.origin {
            Origin::Nft { family } => {
                format!("table {family} {} chain {}", self.table, self.name)
            }
            Origin::Iptables(family) => {
                format!("{} chain {}", iptables::program(*family), self.name)
            }
        }
    }
}

/// Which rule (or policy) of which chain decided.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decider {
    pub chain: Chain,
    /// The index of the deciding rule in `chain.rules`; `None` when the
    /// chain's policy decided.
    pub rule: Option<usize>,
}

impl Decider {
    pub fn rule(&self) -> Option<&Rule> {
        self.rule.and_then(|i| self.chain.rules.get(i))
    }

    /// `the policy drop of table inet filter chain forward`,
    /// `rule handle 5 of table inet foreign chain fw`,
    /// `iptables rule '-A FORWARD -s 10.0.0.0/24 -j DROP'`.
    pub fn words(&self) -> String {
        match self.rule() {
            None => format!("the drop policy of {}", self.chain.words()),
            Some(Rule {
                spec: Some(spec), ..
            }) => format!(
                "{} rule '-A {} {spec}'",
                match &self.chain.origin {
                    Origin::Iptables(f) => iptables::program(*f),
                    Origin::Nft { .. } => "nft",
                },
                self.chain.name
            ),
            Some(rule) => format!(
                "rule handle {} of {}",
                rule.handle.unwrap_or_default(),
                self.chain.words()
            ),
        }
    }
}

impl fmt::Display for Decider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.words())
    }
}

/// How one chain ended for a flow.
#[derive(Debug, Clone, PartialEq, Eq)]
enum End {
    /// Fell off the end or returned: the caller carries on.
    Through,
    Accept,
    Drop(Option<usize>, String),
    Nat(Option<usize>, String),
}

/// Every chain of every table the host has.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ruleset {
    pub chains: Vec<Chain>,
}

/// Chains call each other at most this deep (the kernel's own limit is
/// higher, but a deeper ruleset is a loop here).
const MAX_DEPTH: usize = 16;

impl Ruleset {
    fn chain(&self, like: &Chain, name: &str) -> Option<&Chain> {
        self.chains
            .iter()
            .find(|c| c.origin == like.origin && c.table == like.table && c.name == name)
    }

    /// The base chains on `hook` that see `family`, in the kernel's order.
    fn base_chains(&self, hook: Hook, family: Family) -> Vec<&Chain> {
        let mut chains: Vec<&Chain> = self
            .chains
            .iter()
            .filter(|c| c.hook == Some(hook) && c.sees(family))
            .collect();
        chains.sort_by_key(|c| c.priority);
        chains
    }

    /// Runs `flow` through `chain`. Where a rule may or may not match, the
    /// branch that `favours` is taken: netcheck blames only what surely
    /// applies.
    fn walk(
        &self,
        chain: &Chain,
        flow: &Flow,
        favours: &dyn Fn(&End) -> bool,
        depth: usize,
    ) -> End {
        if depth > MAX_DEPTH {
            return End::Through;
        }
        for (i, rule) in chain.rules.iter().enumerate() {
            let truth = rule.test(flow);
            if truth == Truth::No {
                continue;
            }
            let end = match &rule.action {
                Action::Continue | Action::Unknown(_) => continue,
                Action::Accept => End::Accept,
                Action::Drop | Action::Reject => End::Drop(Some(i), chain.name.clone()),
                Action::Masquerade | Action::Snat => End::Nat(Some(i), chain.name.clone()),
                Action::Return => End::Through,
                Action::Jump(target) | Action::Goto(target) => {
                    let Some(sub) = self.chain(chain, target) else {
                        continue;
                    };
                    match self.walk(sub, flow, favours, depth + 1) {
                        End::Through if matches!(rule.action, Action::Jump(_)) => continue,
                        end => end,
                    }
                }
            };
            if truth == Truth::Yes || favours(&end) {
                return end;
            }
        }
        End::Through
    }

    fn decider(&self, base: &Chain, rule: Option<usize>, in_chain: &str) -> Decider {
        let chain = self.chain(base, in_chain).unwrap_or(base).clone();
        Decider { chain, rule }
    }

    /// The rule (or policy) that drops `flow` in the forward hook, if one
    /// surely does. Every base chain sees the packet in turn: an accept
    /// ends only its own chain, a drop is final.
    pub fn forward_drop(&self, flow: &Flow) -> Option<Decider> {
        let not_dropped = |end: &End| !matches!(end, End::Drop(..));
        for base in self.base_chains(Hook::Forward, flow.family()) {
            match self.walk(base, flow, &not_dropped, 0) {
                End::Drop(rule, name) => return Some(self.decider(base, rule, &name)),
                End::Through if base.policy_drops => {
                    return Some(Decider {
                        chain: base.clone(),
                        rule: None,
                    })
                }
                _ => {}
            }
        }
        None
    }

    /// The rule that masquerades (or source-NATs) `flow` on its way out,
    /// if any may: nat chains are walked in order until one translates.
    pub fn source_nat(&self, flow: &Flow) -> Option<Decider> {
        let translates = |end: &End| matches!(end, End::Nat(..));
        for base in self.base_chains(Hook::SourceNat, flow.family()) {
            if let End::Nat(rule, name) = self.walk(base, flow, &translates, 0) {
                return Some(self.decider(base, rule, &name));
            }
        }
        None
    }
}

/// What netcheck could read of the firewall: the rules, and what it could
/// not read (a program missing or refusing), in plain words.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Firewall {
    pub rules: Ruleset,
    /// `nft 1.0.6`, `iptables 1.8.9 (nf_tables)`: for the report's header.
    pub programs: Vec<String>,
    pub unreadable: Vec<String>,
}

impl Firewall {
    /// Reads nftables and both iptables. iptables-nft keeps its tables in
    /// nftables too, with xtables expressions nft's JSON does not spell
    /// out; those tables are read from iptables-save's text instead.
    pub fn read() -> Firewall {
        let mut firewall = Firewall::default();
        let mut ipt_tables: Vec<(Family, String)> = Vec::new();
        for family in Family::ALL {
            match iptables::read(family) {
                Ok(None) => {}
                Ok(Some(read)) => {
                    if read.nf_tables {
                        ipt_tables.extend(read.tables.iter().map(|t| (family, t.clone())));
                    }
                    if !firewall.programs.contains(&read.version) {
                        firewall.programs.push(read.version);
                    }
                    firewall.rules.chains.extend(read.chains);
                }
                Err(e) => firewall.unreadable.push(e.to_string()),
            }
        }
        match nft::read() {
            Ok(None) => {}
            Ok(Some((version, chains))) => {
                firewall.programs.insert(0, version);
                firewall.rules.chains.extend(chains.into_iter().filter(|c| {
                    !ipt_tables.iter().any(|(family, table)| {
                        c.table == *table
                            && matches!(&c.origin, Origin::Nft { family: f } if f == family.nft())
                    })
                }));
            }
            Err(e) => firewall.unreadable.push(e.to_string()),
        }
        firewall
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn flow(src: &str, dst: &str, proto: u8, dport: Option<u16>) -> Flow {
        Flow {
            src: src.parse().unwrap(),
            dst: dst.parse().unwrap(),
            proto,
            sport: dport.map(|_| 40000),
            dport,
            icmp_type: (proto == ICMP).then_some(8),
            iif: "veth0".into(),
            oif: "up0".into(),
            state: CtState::New,
        }
    }

    fn net(text: &str) -> AddrElem {
        AddrElem::Net(text.parse().unwrap())
    }

    fn chain(name: &str, hook: Option<Hook>, drops: bool, rules: Vec<Rule>) -> Chain {
        Chain {
            origin: Origin::Nft {
                family: "inet".into(),
            },
            table: "t".into(),
            name: name.into(),
            hook,
            priority: 0,
            policy_drops: drops,
            rules,
        }
    }

    /// A ruleset of one forward base chain.
    fn forward(drops: bool, rules: Vec<Rule>) -> Ruleset {
        Ruleset {
            chains: vec![chain("fw", Some(Hook::Forward), drops, rules)],
        }
    }

    fn rule(conds: Vec<Cond>, action: Action) -> Rule {
        Rule {
            handle: Some(7),
            spec: None,
            conds,
            action,
        }
    }

    #[test]
    fn a_reply_swaps_everything_and_is_established() {
        let out = flow("10.0.0.2", "203.0.113.10", ICMP, None);
        let back = out.reply();
        assert_eq!(back.src, out.dst);
        assert_eq!((back.iif.as_str(), back.oif.as_str()), ("up0", "veth0"));
        assert_eq!(back.icmp_type, Some(0));
        assert_eq!(back.state, CtState::Established);
        assert_eq!(
            flow("10.0.0.2", "203.0.113.53", UDP, Some(53)).words(),
            "udp 10.0.0.2 -> 203.0.113.53:53 (veth0 -> up0)"
        );
    }

    #[test]
    fn a_policy_drop_is_found_and_an_accept_before_it_saves_the_flow() {
        let out = flow("10.0.0.2", "203.0.113.10", ICMP, None);
        let mut rules = forward(true, vec![]);
        let d = rules.forward_drop(&out).unwrap();
        assert_eq!(d.rule, None);
        assert_eq!(d.words(), "the drop policy of table inet t chain fw");
        rules.chains[0].rules.push(rule(
            vec![Cond::Addr {
                side: Side::Source,
                negate: false,
                elems: vec![net("10.0.0.0/24")],
            }],
            Action::Accept,
        ));
        assert_eq!(rules.forward_drop(&out), None);
        // The reply is not from the subnet: still dropped.
        assert!(rules.forward_drop(&out.reply()).is_some());
    }

    #[test]
    fn an_accept_in_one_base_chain_does_not_overrule_a_drop_in_another() {
        let out = flow("10.0.0.2", "203.0.113.53", UDP, Some(53));
        let rules = Ruleset {
            chains: vec![
                chain(
                    "a",
                    Some(Hook::Forward),
                    false,
                    vec![rule(vec![], Action::Accept)],
                ),
                chain(
                    "b",
                    Some(Hook::Forward),
                    false,
                    vec![rule(
                        vec![Cond::Port {
                            side: Side::Destination,
                            proto: Some(UDP),
                            negate: false,
                            ranges: vec![(53, 53)],
                        }],
                        Action::Drop,
                    )],
                ),
            ],
        };
        let d = rules.forward_drop(&out).unwrap();
        assert_eq!(d.chain.name, "b");
        assert_eq!(d.words(), "rule handle 7 of table inet t chain b");
        // ICMP to the same place passes.
        assert_eq!(
            rules.forward_drop(&flow("10.0.0.2", "203.0.113.53", ICMP, None)),
            None
        );
    }

    #[test]
    fn jumps_return_and_gotos_are_followed_and_the_rule_named_is_in_the_chain_it_is_in() {
        let out = flow("10.0.0.2", "203.0.113.10", TCP, Some(443));
        let rules = Ruleset {
            chains: vec![
                chain(
                    "fw",
                    Some(Hook::Forward),
                    false,
                    vec![
                        rule(vec![], Action::Jump("user".into())),
                        rule(vec![], Action::Goto("deny".into())),
                    ],
                ),
                chain("user", None, false, vec![rule(vec![], Action::Return)]),
                chain("deny", None, false, vec![rule(vec![], Action::Reject)]),
            ],
        };
        let d = rules.forward_drop(&out).unwrap();
        assert_eq!((d.chain.name.as_str(), d.rule), ("deny", Some(0)));
    }

    #[test]
    fn unknown_conditions_never_blame_and_never_save_a_drop_wrongly() {
        let out = flow("10.0.0.2", "203.0.113.10", ICMP, None);
        let unknown = || Cond::Unknown("meta mark 0x1".into());
        // A drop that may not apply is not blamed.
        let rules = forward(false, vec![rule(vec![unknown()], Action::Drop)]);
        assert_eq!(rules.forward_drop(&out), None);
        // An accept that may apply is given the benefit of the doubt.
        let rules = forward(true, vec![rule(vec![unknown()], Action::Accept)]);
        assert_eq!(rules.forward_drop(&out), None);
        // A sure mismatch beats an unknown condition.
        let docker0 = Cond::Iface {
            side: Side::Source,
            negate: false,
            names: vec!["docker0".into()],
        };
        let rules = forward(true, vec![rule(vec![unknown(), docker0], Action::Accept)]);
        assert!(rules.forward_drop(&out).is_some());
    }

    #[test]
    fn masquerade_is_found_by_behaviour() {
        let out = flow("10.0.0.2", "203.0.113.10", ICMP, None);
        let masq = |elems: Vec<AddrElem>, negate_dst: bool| {
            chain(
                "post",
                Some(Hook::SourceNat),
                false,
                vec![rule(
                    vec![
                        Cond::Addr {
                            side: Side::Source,
                            negate: false,
                            elems: elems.clone(),
                        },
                        Cond::Addr {
                            side: Side::Destination,
                            negate: negate_dst,
                            elems,
                        },
                        Cond::Iface {
                            side: Side::Destination,
                            negate: false,
                            names: vec!["up*".into()],
                        },
                    ],
                    Action::Masquerade,
                )],
            )
        };
        let rules = Ruleset {
            chains: vec![masq(vec![net("10.0.0.0/16")], true)],
        };
        assert!(rules.source_nat(&out).is_some());
        let other = Ruleset {
            chains: vec![masq(vec![net("172.17.0.0/16")], true)],
        };
        assert_eq!(other.source_nat(&out), None);
        // A range covers it too; an IPv6 flow never matches `ip saddr`.
        let range = Ruleset {
            chains: vec![masq(
                vec![AddrElem::Range(
                    "10.0.0.1".parse().unwrap(),
                    "10.0.0.9".parse().unwrap(),
                )],
                true,
            )],
        };
        assert!(range.source_nat(&out).is_some());
        let v6 = flow("fd00::2", "2001:db8:203::10", ICMPV6, None);
        assert_eq!(range.source_nat(&v6), None);
    }

    #[test]
    fn tuples_match_field_by_field() {
        let out = flow("10.0.0.2", "203.0.113.10", ICMP, None);
        let masq = |fields: Vec<Field>, tuples: Vec<Vec<Atom>>| Ruleset {
            chains: vec![chain(
                "post",
                Some(Hook::SourceNat),
                false,
                vec![
                    rule(vec![Cond::Dnat { negate: false }], Action::Masquerade),
                    rule(
                        vec![Cond::Tuple {
                            negate: false,
                            fields,
                            tuples,
                        }],
                        Action::Masquerade,
                    ),
                ],
            )],
        };
        let s = || Atom::Addr(net("10.0.0.0/24"));
        let saddr = Field::Addr(Side::Source);
        // natctl's `ip saddr . ip saddr @masq`.
        let r = masq(vec![saddr, saddr], vec![vec![s(), s()]]);
        assert_eq!(r.source_nat(&out).unwrap().rule, Some(1));
        assert_eq!(
            r.source_nat(&flow("10.1.0.2", "203.0.113.10", ICMP, None)),
            None
        );
        // `ip saddr . oifname @masq_out`: only out of the named interface.
        let oif = Field::Iface(Side::Destination);
        let r = masq(vec![saddr, oif], vec![vec![s(), Atom::Name("up1".into())]]);
        assert_eq!(r.source_nat(&out), None);
        let r = masq(vec![saddr, oif], vec![vec![s(), Atom::Name("up0".into())]]);
        assert!(r.source_nat(&out).is_some());
    }

    #[test]
    fn natctls_chains_are_known_by_table_and_chain_name() {
        let mut c = chain("postrouting", Some(Hook::SourceNat), false, vec![]);
        assert!(!c.is_natctls());
        c.table = "nsnet".into();
        assert!(c.is_natctls());
        let ipt = Chain {
            origin: Origin::Iptables(Family::V4),
            table: "nat".into(),
            name: "NSNET-POSTROUTING".into(),
            ..c
        };
        assert!(ipt.is_natctls());
        assert_eq!(ipt.words(), "iptables chain NSNET-POSTROUTING");
    }

    #[test]
    fn a_loop_of_jumps_ends() {
        let rules = Ruleset {
            chains: vec![
                chain(
                    "fw",
                    Some(Hook::Forward),
                    false,
                    vec![rule(vec![], Action::Jump("a".into()))],
                ),
                chain(
                    "a",
                    None,
                    false,
                    vec![rule(vec![], Action::Jump("a".into()))],
                ),
            ],
        };
        assert_eq!(
            rules.forward_drop(&flow("10.0.0.2", "1.2.3.4", ICMP, None)),
            None
        );
    }
}
