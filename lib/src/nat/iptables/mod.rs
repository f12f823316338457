//! The iptables backend (ip6tables for IPv6): natctl's chains, each reached
//! by one jump inserted at the top of a built-in chain, and its rules,
//! every one marked `-m comment --comment "nsnet:…"` with what it is for:
//!
//! ```text
//! filter NSNET-FORWARD (FORWARD)        ! -s S -d S ! --ctstate RELATED,ESTABLISHED,DNAT DROP   "nsnet:S isolate" (first)
//!                                       -d S --ctstate RELATED,ESTABLISHED,DNAT ACCEPT          "nsnet:S accept"
//!                                       -s S ACCEPT                                             "nsnet:S accept"
//! nat NSNET-POSTROUTING (POSTROUTING)   -s S -d S --ctstate DNAT MASQUERADE                    "nsnet:S hairpin"
//!                                       -s S ! -d S [-o IFACE] MASQUERADE                       "nsnet:S masquerade out=IFACE"
//! nat NSNET-PREROUTING, NSNET-OUTPUT    -p tcp (-m addrtype --dst-type LOCAL | -d HOST) --dport A[:B]
//!                                           DNAT --to-destination D:X[-Y/A]                     "nsnet:publish …"
//! nat NSNET-POSTROUTING (IPv4)          -s 127.0.0.0/8 --ctstate DNAT MASQUERADE                "nsnet:localhost"
//! filter NSNET-INPUT (INPUT, IPv4)      ! -i lo -d 127.0.0.0/8 ! --ctstate DNAT DROP            "nsnet:loopback"
//! filter NSNET-OWNERS (no jump)         RETURN                                                  "nsnet:owner PID:START KEY"
//! ```
//!
//! iptables has no maps: here every subnet is five rules, every published
//! port range two, every owner one, and every change reads natctl's chains
//! before it writes them with one `iptables-restore --noflush`, the one
//! program a change starts. With nft-based iptables the read is done
//! in-process from nf_tables (`netlink`); with legacy iptables, or when
//! iptables-nft's tables hold what it cannot show, with `iptables-save`:
//! a second program. When nft holds the masquerade and the FORWARD policy is
//! DROP (as Docker leaves it), the two accepts alone are made here: a drop
//! in any base chain is final, so nft's table cannot let the traffic
//! through on its own.
//!
//! Rules are found by their comment and deleted by position, so a rule of
//! another program in one of these chains is left alone, and keeps the
//! chain.

use super::entry::{Key, Line, LineRule, Masquerade, Publish, Rule};
use super::owner::Owner;
use super::{Family, MARK};
use crate::cidr::Subnet;
use crate::error::Error;
use crate::run::{self, Command, Program};
use std::collections::BTreeMap;

pub mod netlink;

/// One of natctl's chains: its table, the built-in chain that jumps to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct Chain {
    pub table: &'static str,
    pub builtin: Option<&'static str>,
    pub name: &'static str,
}

pub const FORWARD: Chain = Chain {
    table: "filter",
    builtin: Some("FORWARD"),
    name: "NSNET-FORWARD",
};
pub const INPUT: Chain = Chain {
    table: "filter",
    builtin: Some("INPUT"),
    name: "NSNET-INPUT",
};
pub const OWNERS: Chain = Chain {
    table: "filter",
    builtin: None,
    name: "NSNET-OWNERS",
};
pub const PREROUTING: Chain = Chain {
    table: "nat",
    builtin: Some("PREROUTING"),
    name: "NSNET-PREROUTING",
};
pub const OUTPUT: Chain = Chain {
    table: "nat",
    builtin: Some("OUTPUT"),
    name: "NSNET-OUTPUT",
};
pub const POSTROUTING: Chain = Chain {
    table: "nat",
    builtin: Some("POSTROUTING"),
    name: "NSNET-POSTROUTING",
};

pub const CHAINS: [Chain; 6] = [FORWARD, INPUT, OWNERS, PREROUTING, OUTPUT, POSTROUTING];

/// What one of natctl's chains holds: whether it exists, how many jumps
/// lead to it, and each rule's comment in order (`None`: not natctl's).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainState {
    pub exists: bool,
    pub jumps: usize,
    pub rules: Vec<Option<String>>,
}

/// natctl's chains of one family, and the FORWARD policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptState {
    pub family: Family,
    pub forward_drops: bool,
    pub chains: BTreeMap<&'static str, ChainState>,
}

pub fn programs(family: Family) -> (Program, Program) {
    match family {
        Family::V4 => (run::IPTABLES_SAVE, run::IPTABLES_RESTORE),
        Family::V6 => (run::IP6TABLES_SAVE, run::IP6TABLES_RESTORE),
    }
}

/// `iptables` or `ip6tables`, for messages.
pub fn tool(family: Family) -> &'static str {
    match family {
        Family::V4 => "iptables",
        Family::V6 => "ip6tables",
    }
}

/// Splits an iptables-save line into words, honouring double quotes
/// (netcheck reads every rule with it too).
pub(crate) fn words(line: &str) -> Vec<String> {
    let mut words = Vec::new();
    let mut word = String::new();
    let mut in_word = false;
    let mut quoted = false;
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                quoted = !quoted;
                in_word = true;
            }
            '\\' if quoted => word.extend(chars.next()),
            c if c.is_whitespace() && !quoted => {
                if in_word {
                    words.push(std::mem::take(&mut word));
                    in_word = false;
                }
            }
            c => {
                word.push(c);
                in_word = true;
            }
        }
    }
    if in_word {
        words.push(word);
    }
    words
}

/// The first comment of one saved rule.
fn comment(spec: &str) -> Option<String> {
    let w = words(spec);
    let at = w.iter().position(|x| x == "--comment")?;
    w.get(at + 1).cloned()
}

/// What natctl reads of the rule set, as iptables-save shows it, however
/// it was read (its text, or nf_tables in-process).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Saved {
    /// `:NAME POLICY`: a chain of a table, and whether its policy is DROP.
    Chain {
        table: String,
        name: String,
        drops: bool,
    },
    /// `-A CHAIN SPEC`: a rule; `jump` is the target when SPEC is exactly
    /// `-j TARGET`, `comment` the text of its first comment.
    Rule {
        table: String,
        chain: String,
        jump: Option<String>,
        comment: Option<String>,
    },
}

/// What a comment of natctl's says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Mark {
    /// A rule of a subnet's; the masquerade rule says the out interface.
    Subnet {
        subnet: Subnet,
        role: String,
        out: Option<String>,
    },
    Publish(Publish),
    Owner(Owner, Key),
    /// `localhost`, `loopback`: there while anything is published.
    Fixed(String),
}

impl Mark {
    pub fn parse(comment: &str) -> Option<Mark> {
        let text = comment.strip_prefix(MARK)?;
        if let Some(rest) = text.strip_prefix("owner ") {
            let (owner, key) = rest.split_once(' ')?;
            return Some(Mark::Owner(owner.parse().ok()?, parse_key(key)?));
        }
        if text.starts_with("publish ") {
            let line: Line = text.parse().ok()?;
            return match line.rule {
                LineRule::Rule(Rule::Publish(p)) => Some(Mark::Publish(p)),
                _ => None,
            };
        }
        let mut w = text.split_whitespace();
        let first = w.next()?;
        match first.parse::<Subnet>() {
            Ok(subnet) => {
                // A bare `nsnet:S` is an older natctl's: its role is in
                // the rule, not the comment; taken as the masquerade.
                let role = w.next().unwrap_or("masquerade").to_string();
                let out = w
                    .find_map(|x| x.strip_prefix("out="))
                    .filter(|o| *o != "any")
                    .map(str::to_string);
                Some(Mark::Subnet { subnet, role, out })
            }
            Err(_) => Some(Mark::Fixed(first.to_string())),
        }
    }
}

/// An entry's key as an owner comment writes it: `10.0.0.0/24` or
/// `tcp 8080 host=any`.
fn parse_key(text: &str) -> Option<Key> {
    if let Ok(subnet) = text.parse::<Subnet>() {
        return Some(Key::Subnet(subnet));
    }
    let w: Vec<&str> = text.split_whitespace().collect();
    let [proto, ports, host] = w.as_slice() else {
        return None;
    };
    let host = match host.strip_prefix("host=")? {
        "any" => None,
        h => Some(h.parse().ok()?),
    };
    Some(Key::Ports(super::entry::PortKey {
        proto: proto.parse().ok()?,
        host,
        ports: ports.parse().ok()?,
    }))
}

impl IptState {
    /// Nothing installed, FORWARD accepting.
    pub fn empty(family: Family) -> IptState {
        IptState {
            family,
            forward_drops: false,
            chains: CHAINS
                .iter()
                .map(|c| (c.name, ChainState::default()))
                .collect(),
        }
    }

    /// Reads natctl's chains and the FORWARD policy. With nft-based
    /// iptables, whose tables are nf_tables', in-process (see
    /// [`netlink::read`]); with legacy iptables, or when the tables hold
    /// what iptables-nft would not show as it stores it, with one
    /// `iptables-save` (`ip6tables-save`).
    pub fn read(family: Family) -> Result<IptState, Error> {
        let (save, _) = programs(family);
        if !is_legacy(save) {
            if let Some(state) = netlink::read(family)? {
                return Ok(state);
            }
        }
        let out = Command::new(save, Vec::<String>::new()).output()?;
        if out.success {
            Ok(IptState::parse(family, &out.stdout))
        } else {
            Err(Error::failed(format!(
                "cannot read the {} rules: {}",
                save.name,
                super::failure_words(&out.stderr)
            )))
        }
    }

    /// Parses iptables-save output.
    pub fn parse(family: Family, text: &str) -> IptState {
        let mut saved = Vec::new();
        let mut table = "";
        for line in text.lines().map(str::trim_end) {
            if let Some(name) = line.strip_prefix('*') {
                table = name;
            } else if let Some(decl) = line.strip_prefix(':') {
                let mut w = decl.split_whitespace();
                let (name, policy) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
                saved.push(Saved::Chain {
                    table: table.into(),
                    name: name.into(),
                    drops: policy == "DROP",
                });
            } else if let Some(rule) = line.strip_prefix("-A ") {
                let (chain, spec) = rule.split_once(' ').unwrap_or((rule, ""));
                saved.push(Saved::Rule {
                    table: table.into(),
                    chain: chain.into(),
                    jump: spec.strip_prefix("-j ").map(str::to_string),
                    comment: comment(spec),
                });
            }
        }
        IptState::build(family, saved)
    }

    /// natctl's chains out of what iptables-save shows: the FORWARD
    /// policy, which of natctl's chains exist, the bare jumps to each from
    /// its built-in chain, and each rule's comment when it is natctl's.
    pub fn build(family: Family, saved: impl IntoIterator<Item = Saved>) -> IptState {
        let mut state = IptState::empty(family);
        for s in saved {
            match s {
                Saved::Chain { table, name, drops } => {
                    if table == "filter" && name == "FORWARD" {
                        state.forward_drops = drops;
                    }
                    if let Some(c) = CHAINS.iter().find(|c| c.table == table && c.name == name) {
                        state.chain_mut(c).exists = true;
                    }
                }
                Saved::Rule {
                    table,
                    chain,
                    jump,
                    comment,
                } => {
                    for c in CHAINS.iter().filter(|c| c.table == table) {
                        if c.builtin == Some(chain.as_str()) && jump.as_deref() == Some(c.name) {
                            state.chain_mut(c).jumps += 1;
                        }
                        if c.name == chain {
                            let ours = comment.clone().filter(|c| c.starts_with(MARK));
                            state.chain_mut(c).rules.push(ours);
                        }
                    }
                }
            }
        }
        state
    }

    fn chain_mut(&mut self, chain: &Chain) -> &mut ChainState {
        self.chains.entry(chain.name).or_default()
    }

    pub fn chain(&self, chain: &Chain) -> &ChainState {
        static NONE: ChainState = ChainState {
            exists: false,
            jumps: 0,
            rules: Vec::new(),
        };
        self.chains.get(chain.name).unwrap_or(&NONE)
    }

    /// Every natctl rule: its chain, its position (from 1) and its mark.
    fn marks(&self) -> impl Iterator<Item = (Chain, usize, Mark)> + '_ {
        CHAINS.into_iter().flat_map(move |c| {
            self.chain(&c)
                .rules
                .iter()
                .enumerate()
                .filter_map(move |(i, comment)| Some((c, i + 1, Mark::parse(comment.as_deref()?)?)))
        })
    }

    /// The masquerades and publishes held here, with their owners: one
    /// pass over the marks, whatever their number.
    pub fn rules(&self) -> Vec<(Rule, Option<Vec<Owner>>)> {
        let mut rules: Vec<Rule> = Vec::new();
        let mut owners: BTreeMap<Key, Vec<Owner>> = BTreeMap::new();
        for (chain, _, mark) in self.marks() {
            match mark {
                Mark::Owner(o, k) => owners.entry(k).or_default().push(o),
                mark => rules.extend(held(chain, mark)),
            }
        }
        rules.sort();
        rules.dedup();
        rules
            .into_iter()
            .map(|r| {
                let owners = owners.get(&r.key()).cloned();
                (r, owners)
            })
            .collect()
    }

    /// Whether FORWARD's DROP policy would eat an nft-masqueraded subnet's
    /// traffic because natctl's accepts for it are missing.
    pub fn needs_accept(&self, subnet: &Subnet) -> bool {
        self.forward_drops
            && !(self.chain(&FORWARD).jumps > 0
                && self.marks().filter(|(c, _, m)| {
                    *c == FORWARD
                        && matches!(m, Mark::Subnet { subnet: s, role, .. } if s == subnet && role == "accept")
                })
                .count()
                    >= 2)
    }
}

/// The rule a mark in `chain` stands for: a subnet's masquerade rule, or
/// a publish's DNAT in PREROUTING (its other rules say the same again).
fn held(chain: Chain, mark: Mark) -> Option<Rule> {
    match mark {
        Mark::Subnet { subnet, role, out } if chain == POSTROUTING && role == "masquerade" => {
            Some(Rule::Masquerade(Masquerade {
                subnet,
                out: out.and_then(|o| o.parse().ok()),
            }))
        }
        Mark::Publish(p) if chain == PREROUTING => Some(Rule::Publish(p)),
        _ => None,
    }
}

/// A change to natctl's chains of one family, rendered as one
/// `iptables-restore --noflush` input.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Change {
    /// Positions to delete, per chain.
    deletes: BTreeMap<Chain, Vec<usize>>,
    /// Rules to add, per chain, in order: (insert first?, rule).
    adds: BTreeMap<Chain, Vec<(bool, String)>>,
}

impl Change {
    pub fn is_empty(&self) -> bool {
        self.deletes.values().all(Vec::is_empty) && self.adds.values().all(Vec::is_empty)
    }

    fn append(&mut self, chain: Chain, rule: String) {
        self.adds.entry(chain).or_default().push((false, rule));
    }

    fn insert(&mut self, chain: Chain, rule: String) {
        self.adds.entry(chain).or_default().push((true, rule));
    }

    fn delete(&mut self, chain: Chain, position: usize) {
        let d = self.deletes.entry(chain).or_default();
        if !d.contains(&position) {
            d.push(position);
        }
    }

    /// The restore input: per table, new chains, deletions (last first, so
    /// positions hold), additions, new jumps, then chains left empty go
    /// with their jumps. Filter before nat when adding, so isolation is in
    /// place before the masquerade; nat first when only removing.
    pub fn render(&self, state: &IptState) -> String {
        let removing_only = self.adds.values().all(Vec::is_empty);
        let tables: [&str; 2] = if removing_only {
            ["nat", "filter"]
        } else {
            ["filter", "nat"]
        };
        let mut input = String::new();
        for table in tables {
            let mut lines = Vec::new();
            for c in CHAINS.iter().filter(|c| c.table == table) {
                let have = state.chain(c);
                let adds = self.adds.get(c).map(Vec::as_slice).unwrap_or(&[]);
                if !adds.is_empty() && !have.exists {
                    lines.push(format!(":{} - [0:0]", c.name));
                }
                let mut deletes = self.deletes.get(c).cloned().unwrap_or_default();
                deletes.sort_unstable_by(|a, b| b.cmp(a));
                lines.extend(deletes.iter().map(|p| format!("-D {} {p}", c.name)));
                for (first, rule) in adds {
                    let how = if *first {
                        format!("-I {} 1", c.name)
                    } else {
                        format!("-A {}", c.name)
                    };
                    lines.push(format!("{how} {rule}"));
                }
                if let Some(builtin) = c.builtin {
                    if !adds.is_empty() && have.jumps == 0 {
                        lines.push(format!("-I {builtin} 1 -j {}", c.name));
                    }
                }
                let left = have.rules.len() - deletes.len() + adds.len();
                if have.exists && left == 0 && !deletes.is_empty() {
                    if let Some(builtin) = c.builtin {
                        for _ in 0..have.jumps {
                            lines.push(format!("-D {builtin} -j {}", c.name));
                        }
                    }
                    lines.push(format!("-X {}", c.name));
                }
            }
            if !lines.is_empty() {
                input.push_str(&format!("*{table}\n"));
                for l in lines {
                    input.push_str(&l);
                    input.push('\n');
                }
                input.push_str("COMMIT\n");
            }
        }
        input
    }
}

fn mark_words(text: &str) -> String {
    format!("-m comment --comment \"{MARK}{text}\"")
}

fn ct(negate: bool, states: &str) -> String {
    format!(
        "-m conntrack {}--ctstate {states}",
        if negate { "! " } else { "" }
    )
}

/// The two accepts that let a subnet (and what is published into it)
/// through a FORWARD DROP policy.
fn accept_rules(s: &Subnet) -> [String; 2] {
    let m = mark_words(&format!("{s} accept"));
    [
        format!(
            "-d {s} {} {m} -j ACCEPT",
            ct(false, "RELATED,ESTABLISHED,DNAT")
        ),
        format!("-s {s} {m} -j ACCEPT"),
    ]
}

fn owner_rule(o: &Owner, key: &Key) -> String {
    format!("{} -j RETURN", mark_words(&format!("owner {o} {key}")))
}

/// The DNAT rule of a publish, in PREROUTING or OUTPUT.
fn dnat_rule(p: &Publish, chain: Chain) -> String {
    let k = &p.key;
    let to_host = match k.host {
        Some(h) => format!("-d {h}"),
        // ::1 cannot be sent anywhere: a client of it is refused at once
        // instead of waiting for a lost packet.
        None if chain == OUTPUT && !p.is_ipv4() => {
            "! -d ::1/128 -m addrtype --dst-type LOCAL".to_string()
        }
        None => "-m addrtype --dst-type LOCAL".to_string(),
    };
    let dport = if k.ports.is_single() {
        k.ports.first().to_string()
    } else {
        format!("{}:{}", k.ports.first(), k.ports.last())
    };
    let addr = match p.dest.addr {
        std::net::IpAddr::V4(a) => a.to_string(),
        std::net::IpAddr::V6(a) => format!("[{a}]"),
    };
    // A range maps port to port: the kernel shifts each port by the
    // distance from the base (`/A`).
    let to = if k.ports.is_single() {
        format!("{addr}:{}", p.dest.ports.first())
    } else {
        format!(
            "{addr}:{}-{}/{}",
            p.dest.ports.first(),
            p.dest.ports.last(),
            k.ports.first()
        )
    };
    let rule = Rule::Publish(*p);
    format!(
        "-p {} {to_host} --dport {dport} {} -j DNAT --to-destination {to}",
        k.proto,
        mark_words(&rule.to_string())
    )
}

impl IptState {
    /// The rules that make `rule`, and a record of each of its owners.
    pub fn add(&self, rule: &Rule, owners: &[Owner], change: &mut Change) {
        match rule {
            Rule::Masquerade(m) => {
                let s = &m.subnet;
                change.insert(
                    FORWARD,
                    format!(
                        "! -s {s} -d {s} {} {} -j DROP",
                        ct(true, "RELATED,ESTABLISHED,DNAT"),
                        mark_words(&format!("{s} isolate"))
                    ),
                );
                for a in accept_rules(s) {
                    change.append(FORWARD, a);
                }
                change.insert(
                    POSTROUTING,
                    format!(
                        "-s {s} -d {s} {} {} -j MASQUERADE",
                        ct(false, "DNAT"),
                        mark_words(&format!("{s} hairpin"))
                    ),
                );
                let (out, out_word) = match &m.out {
                    Some(o) => (format!(" -o {o}"), o.to_string()),
                    None => (String::new(), "any".to_string()),
                };
                change.append(
                    POSTROUTING,
                    format!(
                        "-s {s} ! -d {s}{out} {} -j MASQUERADE",
                        mark_words(&format!("{s} masquerade out={out_word}"))
                    ),
                );
            }
            Rule::Publish(p) => {
                change.append(PREROUTING, dnat_rule(p, PREROUTING));
                change.append(OUTPUT, dnat_rule(p, OUTPUT));
                let publishes = self
                    .marks()
                    .any(|(c, _, m)| c == PREROUTING && matches!(m, Mark::Publish(_)));
                if self.family == Family::V4 && !publishes {
                    change.append(
                        POSTROUTING,
                        format!(
                            "-s 127.0.0.0/8 {} {} -j MASQUERADE",
                            ct(false, "DNAT"),
                            mark_words("localhost")
                        ),
                    );
                    change.append(
                        INPUT,
                        format!(
                            "! -i lo -d 127.0.0.0/8 {} {} -j DROP",
                            ct(true, "DNAT"),
                            mark_words("loopback")
                        ),
                    );
                }
            }
        }
        for o in owners {
            self.add_owner(&rule.key(), o, change);
        }
    }

    /// Records one owner of `key`.
    pub fn add_owner(&self, key: &Key, owner: &Owner, change: &mut Change) {
        change.append(OWNERS, owner_rule(owner, key));
    }

    /// The accepts an nft-masqueraded subnet needs under a DROP policy.
    pub fn add_accept(&self, subnet: &Subnet, change: &mut Change) {
        for (c, pos, m) in self.marks() {
            if c == FORWARD && matches!(&m, Mark::Subnet { subnet: s, .. } if s == subnet) {
                change.delete(c, pos);
            }
        }
        for a in accept_rules(subnet) {
            change.append(FORWARD, a);
        }
    }

    /// Deletes every rule of `key` (and its owner records); the fixed
    /// rules of publishing go with the last publish, unless `another`
    /// publish takes its place.
    pub fn remove(&self, key: &Key, another: bool, change: &mut Change) {
        for (c, pos, m) in self.marks() {
            let hit = match (&m, key) {
                (Mark::Subnet { subnet, .. }, Key::Subnet(s)) => subnet == s,
                (Mark::Publish(p), Key::Ports(k)) => &p.key == k,
                (Mark::Owner(_, k), _) => k == key,
                _ => false,
            };
            if hit {
                change.delete(c, pos);
            }
        }
        if matches!(key, Key::Ports(_)) && !another {
            let left = self.marks().any(|(c, pos, m)| {
                c == PREROUTING
                    && matches!(&m, Mark::Publish(_))
                    && !change.deletes.get(&c).is_some_and(|d| d.contains(&pos))
            });
            if !left {
                for (c, pos, m) in self.marks() {
                    if matches!(m, Mark::Fixed(_)) {
                        change.delete(c, pos);
                    }
                }
            }
        }
    }

    /// Deletes one owner record of `key`.
    pub fn drop_owner(&self, key: &Key, owner: &Owner, change: &mut Change) {
        for (c, pos, m) in self.marks() {
            if matches!(&m, Mark::Owner(o, k) if k == key && o == owner) {
                change.delete(c, pos);
            }
        }
    }

    /// Deletes every rule natctl made here.
    pub fn flush(&self, change: &mut Change) {
        for (c, pos, _) in self.marks() {
            change.delete(c, pos);
        }
    }
}

/// Whether the iptables on PATH is the legacy one (its own tables, not
/// nf_tables'): `xtables-legacy-multi` behind the name.
fn is_legacy(program: Program) -> bool {
    program
        .find()
        .ok()
        .and_then(|p| std::fs::canonicalize(p).ok())
        .and_then(|p| {
            p.file_name()
                .map(|n| n.to_string_lossy().contains("legacy"))
        })
        .unwrap_or(false)
}

/// The transaction that applies a change: one `iptables-restore`.
pub fn command(family: Family, input: String) -> Command {
    // -w: wait for the xtables lock that legacy iptables shares with
    // other programs (Docker, firewalld) instead of failing.
    Command::new(programs(family).1, ["-w", "--noflush"]).with_stdin(input)
}
