//! The iptables backend: natctl's chains `NSNET-POSTROUTING` (table nat)
//! and `NSNET-FORWARD` (table filter), each reached by one jump inserted at
//! the top of the built-in chain, every rule marked
//! `-m comment --comment "nsnet:SUBNET"`. IPv6 uses ip6tables.
//!
//! For SUBNET S, add installs:
//!
//! ```text
//! NSNET-FORWARD (inserted first)  ! -s S -d S -m conntrack ! --ctstate RELATED,ESTABLISHED -j DROP
//! NSNET-FORWARD (appended)        -d S -m conntrack --ctstate RELATED,ESTABLISHED -j ACCEPT
//! NSNET-FORWARD (appended)        -s S -j ACCEPT
//! NSNET-POSTROUTING               -s S ! -d S [-o IFACE] -j MASQUERADE
//! ```
//!
//! Drops go first so that one subnet's accept can never let a new
//! connection into another subnet. When nft holds the masquerade and the
//! iptables FORWARD policy is DROP (as Docker leaves it), the two accepts
//! alone are installed here: a drop in any base chain is final, so nft's
//! table cannot let the traffic through on its own.
//!
//! Changes go through `iptables-restore --noflush`, one COMMIT per table.
//! Existing chains are never declared in that input: `--noflush` flushes a
//! declared chain, and built-in chain lines would set a policy.

use super::{parse_tag, tag, Backend, Entry, Family, Masquerade, NatBackend, Seen, Transaction};
use crate::cidr::Subnet;
use crate::error::Error;
use crate::name::IfName;
use crate::run::{self, Command, Program};

pub const POSTROUTING_CHAIN: &str = "NSNET-POSTROUTING";
pub const FORWARD_CHAIN: &str = "NSNET-FORWARD";

/// One of natctl's two chains: where it hangs, and what it holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OurChain {
    pub table: &'static str,
    pub builtin: &'static str,
    pub name: &'static str,
    pub exists: bool,
    /// How many `-A BUILTIN -j NAME` jumps lead to it.
    pub jumps: usize,
    pub rules: Vec<IptRule>,
}

/// One rule of natctl's chains, as iptables-save prints it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptRule {
    /// The rule after `-A CHAIN `.
    pub spec: String,
    pub subnet: Option<Subnet>,
    pub out: Option<IfName>,
    pub target: String,
    pub established: bool,
}

/// natctl's iptables chains of one family, and the FORWARD policy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IptTables {
    family: Family,
    forward_drops: bool,
    nat: OurChain,
    filter: OurChain,
}

fn programs(family: Family) -> (Program, Program) {
    match family {
        Family::V4 => (run::IPTABLES_SAVE, run::IPTABLES_RESTORE),
        Family::V6 => (run::IP6TABLES_SAVE, run::IP6TABLES_RESTORE),
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

impl IptRule {
    fn parse(spec: &str) -> IptRule {
        let w = words(spec);
        let after = |flag: &str| {
            w.iter()
                .position(|x| x == flag)
                .and_then(|i| w.get(i + 1))
                .cloned()
        };
        let negated = |flag: &str| {
            w.iter()
                .position(|x| x == flag)
                .is_some_and(|i| i > 0 && w[i - 1] == "!")
        };
        IptRule {
            spec: spec.to_string(),
            subnet: after("--comment").as_deref().and_then(parse_tag),
            out: after("-o")
                .filter(|_| !negated("-o"))
                .and_then(|o| o.parse().ok()),
            target: after("-j").unwrap_or_default(),
            established: after("--ctstate").is_some() && !negated("--ctstate"),
        }
    }
}

impl OurChain {
    fn new(table: &'static str, builtin: &'static str, name: &'static str) -> OurChain {
        OurChain {
            table,
            builtin,
            name,
            exists: false,
            jumps: 0,
            rules: Vec::new(),
        }
    }

    fn jump(&self) -> String {
        format!("{} -j {}", self.builtin, self.name)
    }

    fn of<'a>(&'a self, subnets: &'a [Subnet]) -> impl Iterator<Item = &'a IptRule> + 'a {
        self.rules
            .iter()
            .filter(|r| r.subnet.is_some_and(|s| subnets.contains(&s)))
    }

    /// The lines that create the chain and its jump, where missing.
    fn ensure(&self, lines: &mut Vec<String>) {
        if !self.exists {
            lines.push(format!(":{} - [0:0]", self.name));
        }
        if self.jumps == 0 {
            lines.push(format!("-I {} 1 -j {}", self.builtin, self.name));
        }
    }

    /// The lines that delete the subnets' rules, and the chain with its
    /// jumps when no marked rule would be left.
    fn removal(&self, subnets: &[Subnet], lines: &mut Vec<String>) {
        let doomed: Vec<&IptRule> = self.of(subnets).collect();
        let marked = self.rules.iter().filter(|r| r.subnet.is_some()).count();
        if doomed.is_empty() {
            return;
        }
        if marked == doomed.len() {
            self.teardown(lines);
            return;
        }
        for rule in &doomed {
            lines.push(format!("-D {} {}", self.name, rule.spec));
        }
    }

    /// The lines that remove the chain whatever it holds, and its jumps.
    fn teardown(&self, lines: &mut Vec<String>) {
        if self.exists {
            lines.push(format!("-F {}", self.name));
        }
        for _ in 0..self.jumps {
            lines.push(format!("-D {}", self.jump()));
        }
        if self.exists {
            lines.push(format!("-X {}", self.name));
        }
    }
}

impl IptTables {
    /// Nothing installed, FORWARD accepting.
    pub fn empty(family: Family) -> IptTables {
        IptTables {
            family,
            forward_drops: false,
            nat: OurChain::new("nat", "POSTROUTING", POSTROUTING_CHAIN),
            filter: OurChain::new("filter", "FORWARD", FORWARD_CHAIN),
        }
    }

    /// Reads every table with one `iptables-save` (`ip6tables-save`).
    pub fn load(family: Family) -> Seen<IptTables> {
        let (save, restore) = programs(family);
        if !save.is_installed() || !restore.is_installed() {
            return Seen::NotInstalled;
        }
        match Command::new(save, Vec::<String>::new()).output() {
            Err(e) => Seen::Unusable(e),
            Ok(out) if out.success => Seen::Read(IptTables::parse(family, &out.stdout)),
            Ok(out) => Seen::Unusable(Error::failed(format!(
                "cannot read the {} rules: {}",
                save.name,
                super::failure_words(&out.stderr)
            ))),
        }
    }

    /// Parses iptables-save output.
    pub fn parse(family: Family, text: &str) -> IptTables {
        let mut state = IptTables::empty(family);
        let mut table = "";
        for line in text.lines().map(str::trim_end) {
            if let Some(name) = line.strip_prefix('*') {
                table = if name == "nat" || name == "filter" {
                    name
                } else {
                    ""
                };
                continue;
            }
            let chain = match table {
                "nat" => &mut state.nat,
                "filter" => &mut state.filter,
                _ => continue,
            };
            if let Some(decl) = line.strip_prefix(':') {
                let mut w = decl.split_whitespace();
                let (name, policy) = (w.next().unwrap_or(""), w.next().unwrap_or(""));
                if name == chain.name {
                    chain.exists = true;
                } else if table == "filter" && name == "FORWARD" {
                    state.forward_drops = policy == "DROP";
                }
            } else if let Some(rule) = line.strip_prefix("-A ") {
                if rule == chain.jump() {
                    chain.jumps += 1;
                } else if let Some(spec) = rule
                    .strip_prefix(chain.name)
                    .and_then(|r| r.strip_prefix(' '))
                {
                    chain.rules.push(IptRule::parse(spec));
                }
            }
        }
        state
    }

    /// Whether the built-in FORWARD chain's policy is DROP.
    pub fn forward_drops(&self) -> bool {
        self.forward_drops
    }

    /// Whether NSNET-FORWARD already accepts the subnet both ways.
    pub fn has_forward_accept(&self, subnet: &Subnet) -> bool {
        let rules: Vec<&IptRule> = self.filter.of(std::slice::from_ref(subnet)).collect();
        let accepts = |established: bool| {
            rules
                .iter()
                .any(|r| r.target == "ACCEPT" && r.established == established)
        };
        self.filter.jumps > 0 && accepts(true) && accepts(false)
    }

    /// The accepts that let an nft-masqueraded subnet through a FORWARD DROP
    /// policy (replacing any rule of the subnet in NSNET-FORWARD).
    pub fn forward_accept(&self, subnet: &Subnet) -> Transaction {
        let mut filter = Vec::new();
        self.filter.ensure(&mut filter);
        for old in self.filter.of(std::slice::from_ref(subnet)) {
            filter.push(format!("-D {FORWARD_CHAIN} {}", old.spec));
        }
        filter.extend(accept_lines(subnet));
        self.transaction(
            format!(
                "let {subnet} through the {} FORWARD chain",
                self.save_name()
            ),
            &[("filter", filter)],
        )
    }

    fn save_name(&self) -> &'static str {
        match self.family {
            Family::V4 => "iptables",
            Family::V6 => "ip6tables",
        }
    }

    fn transaction(&self, what: String, tables: &[(&str, Vec<String>)]) -> Transaction {
        let mut input = String::new();
        for (table, lines) in tables.iter().filter(|(_, l)| !l.is_empty()) {
            input.push_str(&format!("*{table}\n"));
            for line in lines {
                input.push_str(line);
                input.push('\n');
            }
            input.push_str("COMMIT\n");
        }
        Transaction {
            what,
            // -w: wait for the xtables lock that legacy iptables shares
            // with other programs (Docker, firewalld) instead of failing.
            command: Command::new(programs(self.family).1, ["-w", "--noflush"]).with_stdin(input),
        }
    }
}

fn mark(subnet: &Subnet) -> String {
    format!("-m comment --comment \"{}\"", tag(subnet))
}

fn accept_lines(s: &Subnet) -> [String; 2] {
    let m = mark(s);
    [
        format!(
            "-A {FORWARD_CHAIN} -d {s} -m conntrack --ctstate RELATED,ESTABLISHED {m} -j ACCEPT"
        ),
        format!("-A {FORWARD_CHAIN} -s {s} {m} -j ACCEPT"),
    ]
}

impl NatBackend for IptTables {
    fn entries(&self) -> Vec<Entry> {
        self.nat
            .rules
            .iter()
            .filter(|r| r.target == "MASQUERADE")
            .filter_map(|r| {
                Some(Entry {
                    subnet: r.subnet?,
                    out: r.out.clone(),
                    backend: Backend::Iptables,
                })
            })
            .collect()
    }

    fn has_rules_for(&self, subnet: &Subnet) -> bool {
        let one = std::slice::from_ref(subnet);
        self.nat.of(one).next().is_some() || self.filter.of(one).next().is_some()
    }

    fn install(&self, rule: &Masquerade) -> Transaction {
        let s = &rule.subnet;
        let one = std::slice::from_ref(s);
        let m = mark(s);
        let mut filter = Vec::new();
        self.filter.ensure(&mut filter);
        for old in self.filter.of(one) {
            filter.push(format!("-D {FORWARD_CHAIN} {}", old.spec));
        }
        filter.push(format!(
            "-I {FORWARD_CHAIN} 1 ! -s {s} -d {s} -m conntrack ! --ctstate RELATED,ESTABLISHED {m} -j DROP"
        ));
        filter.extend(accept_lines(s));
        let mut nat = Vec::new();
        self.nat.ensure(&mut nat);
        for old in self.nat.of(one) {
            nat.push(format!("-D {POSTROUTING_CHAIN} {}", old.spec));
        }
        let out = rule
            .out
            .as_ref()
            .map(|o| format!(" -o {o}"))
            .unwrap_or_default();
        nat.push(format!(
            "-A {POSTROUTING_CHAIN} -s {s} ! -d {s}{out} {m} -j MASQUERADE"
        ));
        // filter first: isolation is in place before the masquerade.
        self.transaction(
            format!("add {s} with {}", self.save_name()),
            &[("filter", filter), ("nat", nat)],
        )
    }

    fn remove(&self, subnets: &[Subnet]) -> Option<Transaction> {
        let mut filter = Vec::new();
        self.filter.removal(subnets, &mut filter);
        let mut nat = Vec::new();
        self.nat.removal(subnets, &mut nat);
        if filter.is_empty() && nat.is_empty() {
            return None;
        }
        let names: Vec<String> = subnets
            .iter()
            .filter(|s| self.has_rules_for(s))
            .map(Subnet::to_string)
            .collect();
        // Reverse of install: the isolation goes last.
        Some(self.transaction(
            format!("remove {} from {}", names.join(", "), self.save_name()),
            &[("nat", nat), ("filter", filter)],
        ))
    }

    fn flush(&self) -> Option<Transaction> {
        let mut filter = Vec::new();
        self.filter.teardown(&mut filter);
        let mut nat = Vec::new();
        self.nat.teardown(&mut nat);
        if filter.is_empty() && nat.is_empty() {
            return None;
        }
        Some(self.transaction(
            format!("remove natctl's {} chains", self.save_name()),
            &[("nat", nat), ("filter", filter)],
        ))
    }
}
