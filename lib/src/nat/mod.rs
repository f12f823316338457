//! NAT for containers (natctl): masquerade a subnet to the outside, let its
//! forwarded traffic out and the replies back in, drop new connections
//! routed into it from elsewhere; publish a host port to an address behind
//! it; remember who owns each entry, and clear what dead owners left.
//!
//! This module owns the operations, as plain functions with typed requests
//! and results ([`add`], [`remove`], [`publish`], [`unpublish`], [`gc`],
//! [`list`], [`flush`]): the tool and the CNI plugin call them alike. Two
//! backends keep the state in the kernel: [`nft`] (tables `ip nsnet` and
//! `ip6 nsnet`, whose rules are fixed and whose sets and maps hold the
//! subnets, ports and owners) and [`iptables`] (chains `NSNET-*`, a rule
//! per subnet and port, marked by comments).
//!
//! Changes are serialised by a lock file ([`LOCK`]): natctl reads what
//! it needs, plans, and applies while holding it, so two concurrent adds of
//! one subnet cannot both add it. A plan is plain data: printed for
//! `--dry-run`, compared in unit tests, executed by [`Transaction::apply`].

pub mod entry;
pub mod iptables;
pub mod nft;
mod nftnl;
pub mod owner;
mod route;

pub use entry::{Entry, Key, Line, LineRule, Masquerade, PortKey, Publish, Rule};
pub use owner::{Leaving, Owner};

use crate::cidr::Subnet;
use crate::error::Error;
use crate::name::IfName;
use crate::run::{Command, Mode};
use iptables::IptState;
use nft::{NftState, Op};
use nftnl::Nl;
use std::fmt;
use std::str::FromStr;

/// The lock that serialises natctl's read-plan-apply cycles, in
/// [`crate::lockfile::DIR`]: `/run/nsnet/natctl.lock`.
/// Every rule, chain comment and element comment of natctl's, in both
/// backends, begins so.
pub const MARK: &str = "nsnet:";
pub const LOCK: &str = "natctl.lock";

/// The environment variable that picks a backend when `--backend` is absent.
pub const BACKEND_ENV: &str = "NATCTL_BACKEND";

/// An address family: natctl keeps IPv4 and IPv6 in separate tables, as
/// the kernel and both firewall tools do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Family {
    V4,
    V6,
}

impl Family {
    pub const ALL: [Family; 2] = [Family::V4, Family::V6];

    pub fn of(subnet: &Subnet) -> Family {
        if subnet.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    fn of_rule(rule: &Rule) -> Family {
        if rule.is_ipv4() {
            Family::V4
        } else {
            Family::V6
        }
    }

    /// The families a key may be held in: ports published on every
    /// address may be so in both.
    fn of_key(key: &Key) -> Vec<Family> {
        match key {
            Key::Subnet(s) => vec![Family::of(s)],
            Key::Ports(k) => match k.host {
                Some(h) if h.is_ipv6() => vec![Family::V6],
                Some(_) => vec![Family::V4],
                None => Family::ALL.to_vec(),
            },
        }
    }

    /// The nft family, which is also its address match keyword: `ip`, `ip6`.
    pub fn nft(self) -> &'static str {
        match self {
            Family::V4 => "ip",
            Family::V6 => "ip6",
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Family::V4 => "IPv4",
            Family::V6 => "IPv6",
        }
    }

    /// The per-namespace switch that lets the kernel forward this family.
    pub fn forwarding_sysctl(self) -> &'static str {
        match self {
            Family::V4 => "/proc/sys/net/ipv4/ip_forward",
            Family::V6 => "/proc/sys/net/ipv6/conf/all/forwarding",
        }
    }
}

/// Where an entry lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Backend {
    Nft,
    Iptables,
}

impl fmt::Display for Backend {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Backend::Nft => "nft",
            Backend::Iptables => "iptables",
        })
    }
}

/// The backend asked for: `--backend`, else `NATCTL_BACKEND`, else auto.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Choice {
    /// nft when it works, else iptables
    #[default]
    Auto,
    /// tables ip nsnet and ip6 nsnet
    Nft,
    /// chains NSNET-* (ip6tables for IPv6)
    Iptables,
}

impl FromStr for Choice {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "auto" => Ok(Choice::Auto),
            "nft" => Ok(Choice::Nft),
            "iptables" => Ok(Choice::Iptables),
            _ => Err(Error::usage(format!(
                "invalid backend '{text}': expected auto, nft or iptables"
            ))),
        }
    }
}

impl Choice {
    /// The flag's choice, else the environment's, else auto.
    pub fn resolve(flag: Option<Choice>) -> Result<Choice, Error> {
        if let Some(choice) = flag {
            return Ok(choice);
        }
        match std::env::var(BACKEND_ENV) {
            Ok(text) if !text.is_empty() => text
                .parse()
                .map_err(|e: Error| e.context(format!("invalid {BACKEND_ENV}"))),
            _ => Ok(Choice::Auto),
        }
    }

    fn backend(self) -> Option<Backend> {
        match self {
            Choice::Auto => None,
            Choice::Nft => Some(Backend::Nft),
            Choice::Iptables => Some(Backend::Iptables),
        }
    }
}

impl From<Backend> for Choice {
    fn from(b: Backend) -> Choice {
        match b {
            Backend::Nft => Choice::Nft,
            Backend::Iptables => Choice::Iptables,
        }
    }
}

/// What a change did, for callers that care (the CNI plugin).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The rule was made.
    Created,
    /// A rule of the same key whose owners had all exited was replaced.
    TookOver(Rule),
    /// It was there as asked; nothing changed.
    Unchanged,
    /// The owner was added (and exited owners dropped).
    OwnerAdded,
    /// An owned rule became permanent (a plain add).
    MadePermanent,
    /// The rule was removed.
    Removed,
    /// The owner was removed; other live owners keep the rule.
    OwnerRemoved,
    /// The owner's del left a permanent rule alone.
    Permanent,
    /// Nothing to remove (`--if-exists`).
    Absent,
}

/// How a transaction is applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// nf_tables messages sent from natctl as one atomic batch.
    Batch { family: Family, ops: Vec<Op> },
    /// One program run that the kernel applies as one transaction: an nft
    /// script on `nft -f -`, or an `iptables-restore` input.
    Program(Command),
    /// A switch under /proc/sys turned on.
    Sysctl(String),
}

/// One step of a plan, and what it does (for errors: `cannot <what>: <why>`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    pub what: String,
    pub step: Step,
}

impl Transaction {
    /// The transaction as shell text: what `--dry-run` prints.
    pub fn script(&self) -> String {
        match &self.step {
            Step::Batch { family, ops } => {
                let text: String = ops.iter().map(|o| o.text(*family)).collect();
                Command::new(crate::run::NFT, ["-f", "-"])
                    .with_stdin(text)
                    .to_shell()
            }
            Step::Program(c) => c.to_shell(),
            Step::Sysctl(path) => format!("echo 1 > {path}"),
        }
    }

    pub fn apply(&self) -> Result<(), Error> {
        match &self.step {
            Step::Batch { family, ops } => {
                let requests: Vec<nftnl::Request> =
                    ops.iter().map(|o| o.request(*family)).collect();
                let mut nl = Nl::open()?;
                nl.batch(&requests, &self.what).map_err(|r| {
                    let at = ops
                        .get(r.index)
                        .map(|o| format!(" ({})", o.text(*family).trim_end()))
                        .unwrap_or_default();
                    Error::os(format!("cannot {}{at}", self.what), r.errno)
                })
            }
            Step::Program(command) => {
                let out = command.output()?;
                if out.success {
                    Ok(())
                } else {
                    Err(Error::failed(format!(
                        "cannot {}: {}",
                        self.what,
                        failure_words(&out.stderr)
                    )))
                }
            }
            Step::Sysctl(path) => {
                if sysctl_on(path) {
                    return Ok(());
                }
                std::fs::write(path, "1\n")
                    .map_err(|e| Error::io(format!("cannot {}: {path}", self.what), &e))
            }
        }
    }
}

/// One line of plain words from nft's or iptables-restore's stderr: the
/// error itself, without the echoed script line, carets, usage advice or
/// version banner, and with the failing input line when one is named.
pub fn failure_words(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    let line = lines
        .iter()
        .find(|l| l.contains("Error:") || l.contains("): "))
        .or(lines.first())
        .copied()
        .unwrap_or("");
    let mut words = match (line.find("Error: "), line.find("): ")) {
        (Some(at), _) => &line[at + "Error: ".len()..],
        (None, Some(at)) => &line[at + "): ".len()..],
        (None, None) => line,
    }
    .to_string();
    if let Some(n) = lines
        .iter()
        .find_map(|l| l.strip_prefix("Error occurred at line: "))
    {
        words = format!("{words} (input line {n})");
    }
    crate::run::plain_words(&words)
}

/// What one natctl command does: transactions in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub transactions: Vec<Transaction>,
}

impl Plan {
    fn push(&mut self, what: impl Into<String>, step: Step) {
        self.transactions.push(Transaction {
            what: what.into(),
            step,
        });
    }

    /// A transaction that applies `change` to natctl's chains of `ipt`'s
    /// family with one iptables-restore.
    fn push_ipt(&mut self, what: impl Into<String>, ipt: &IptState, change: &iptables::Change) {
        self.push(
            what,
            Step::Program(iptables::command(ipt.family, change.render(ipt))),
        );
    }

    fn extend(&mut self, other: Plan) {
        self.transactions.extend(other.transactions);
    }

    /// The plan as a shell script, one transaction after the other; a
    /// switch already on is left out.
    pub fn script(&self) -> String {
        self.transactions
            .iter()
            .filter(|t| !matches!(&t.step, Step::Sysctl(p) if sysctl_on(p)))
            .map(|t| t.script() + "\n")
            .collect()
    }

    /// All or nothing (add, publish): applies the transactions in order;
    /// when one fails, `undo` removes what was made.
    fn execute(&self, mode: Mode, undo: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
        if mode == Mode::DryRun {
            print!("{}", self.script());
            return Ok(());
        }
        let result = self.transactions.iter().try_for_each(Transaction::apply);
        result.map_err(|e| match undo() {
            Ok(()) => e,
            Err(u) => Error::failed(format!("{e} (and undoing it failed: {u})")),
        })
    }

    /// Best effort (del, flush, gc): applies every transaction even when one
    /// fails, so teardown removes all it can, and reports every failure.
    fn execute_all(&self, mode: Mode) -> Result<(), Error> {
        if mode == Mode::DryRun {
            print!("{}", self.script());
            return Ok(());
        }
        Error::all(self.transactions.iter().filter_map(|t| t.apply().err()))
    }
}

/// What natctl could see of one backend for one family.
#[derive(Debug)]
enum Seen<T> {
    /// The program is not on PATH: no rules can be there that natctl made.
    NotInstalled,
    /// The program is there but the rules could not be read (no
    /// permission, a kernel without the tables).
    Unusable(Error),
    Read(T),
}

impl<T> Seen<T> {
    fn read(&self) -> Option<&T> {
        match self {
            Seen::Read(t) => Some(t),
            _ => None,
        }
    }
}

const NEITHER: &str =
    "neither nft nor iptables is installed (install the nftables or iptables package)";

/// Both backends' view of one family, and the socket the nft side reads
/// through.
#[derive(Debug)]
struct View {
    family: Family,
    nl: Option<Nl>,
    nft: Seen<NftState>,
    ipt: Seen<IptState>,
}

/// One rule as found: where, and its owners (`None`: permanent).
#[derive(Debug, Clone, PartialEq, Eq)]
struct Found {
    rule: Rule,
    backend: Backend,
    owners: Option<Vec<Owner>>,
}

impl View {
    fn load(family: Family) -> View {
        let mut nl = None;
        let nft = if !crate::run::NFT.is_installed() {
            Seen::NotInstalled
        } else {
            match Nl::open().and_then(|mut n| {
                let state = NftState::read(&mut n, family)?;
                nl = Some(n);
                Ok(state)
            }) {
                Ok(state) => Seen::Read(state),
                Err(e) => Seen::Unusable(e),
            }
        };
        let (save, restore) = iptables::programs(family);
        let ipt = if !save.is_installed() || !restore.is_installed() {
            Seen::NotInstalled
        } else {
            match IptState::read(family) {
                Ok(s) => Seen::Read(s),
                Err(e) => Seen::Unusable(e),
            }
        };
        View {
            family,
            nl,
            nft,
            ipt,
        }
    }

    /// Both backends must be readable for commands that must see every
    /// rule (del, list, flush, gc).
    fn check_all(&self) -> Result<(), Error> {
        if let Seen::Unusable(e) = &self.nft {
            return Err(e.clone());
        }
        if let Seen::Unusable(e) = &self.ipt {
            return Err(e.clone());
        }
        if matches!(
            (&self.nft, &self.ipt),
            (Seen::NotInstalled, Seen::NotInstalled)
        ) {
            return Err(Error::failed(NEITHER));
        }
        Ok(())
    }

    fn nl(&mut self) -> &mut Nl {
        self.nl.as_mut().expect("nft was read through it")
    }

    /// The backend `add` uses for a new rule: the one asked for, or for
    /// auto nft when it can be read, else iptables.
    fn pick(&self, choice: Choice) -> Result<Backend, Error> {
        fn usable<T>(seen: &Seen<T>, backend: Backend, package: &str) -> Result<Backend, Error> {
            match seen {
                Seen::Read(_) => Ok(backend),
                Seen::Unusable(e) => Err(e.clone()),
                Seen::NotInstalled => Err(Error::failed(format!(
                    "cannot use the {backend} backend: {backend} is not installed (install the {package} package)"
                ))),
            }
        }
        match choice {
            Choice::Nft => usable(&self.nft, Backend::Nft, "nftables"),
            Choice::Iptables => usable(&self.ipt, Backend::Iptables, "iptables"),
            Choice::Auto => match (&self.nft, &self.ipt) {
                (Seen::Read(_), _) => Ok(Backend::Nft),
                (_, Seen::Read(_)) => Ok(Backend::Iptables),
                (Seen::Unusable(e), _) | (_, Seen::Unusable(e)) => Err(e.clone()),
                (Seen::NotInstalled, Seen::NotInstalled) => Err(Error::failed(NEITHER)),
            },
        }
    }

    /// The rule that stands where `wanted` would go in `backend`, with its
    /// owners, when no rule holds its key (see [`View::find_key`]): a rule
    /// it collides with. Published ports of one protocol and address
    /// collide in both backends (both would translate them); subnets
    /// overlap only in nft, whose sets hold disjoint ranges.
    fn find_colliding(&mut self, wanted: &Rule, backend: Backend) -> Result<Option<Found>, Error> {
        let family = self.family;
        if self.nft.read().is_some_and(|s| s.table) {
            let nl = self.nl();
            let rule = match wanted {
                Rule::Masquerade(m) if backend == Backend::Nft => {
                    nft::find_masquerade(nl, family, m.subnet.net())?.map(Rule::Masquerade)
                }
                Rule::Masquerade(_) => None,
                Rule::Publish(p) => {
                    let mut hit = None;
                    for port in p.key.ports.ports() {
                        if let Some(found) = nft::find_publish(nl, family, &p.key, port)? {
                            hit = Some(Rule::Publish(found));
                            break;
                        }
                    }
                    hit
                }
            };
            if let Some(rule) = rule {
                let owners = nft::owners(self.nl(), family, &rule.key())?;
                return Ok(Some(Found {
                    rule,
                    backend: Backend::Nft,
                    owners,
                }));
            }
        }
        if let (Some(ipt), Rule::Publish(_)) = (self.ipt.read(), wanted) {
            let hit = ipt.rules().into_iter().find(|(r, _)| collides(r, wanted));
            if let Some((rule, owners)) = hit {
                return Ok(Some(Found {
                    rule,
                    backend: Backend::Iptables,
                    owners,
                }));
            }
        }
        Ok(None)
    }

    /// The rule held under exactly `key`, with its owners.
    fn find_key(&mut self, key: &Key) -> Result<Option<Found>, Error> {
        let family = self.family;
        if self.nft.read().is_some_and(|s| s.table) {
            let nl = self.nl();
            let rule = match key {
                Key::Subnet(s) => nft::find_masquerade(nl, family, s.net())?
                    .filter(|m| &m.subnet == s)
                    .map(Rule::Masquerade),
                Key::Ports(k) => nft::find_publish(nl, family, k, k.ports.first())?
                    .filter(|p| &p.key == k)
                    .map(Rule::Publish),
            };
            if let Some(rule) = rule {
                let owners = nft::owners(self.nl(), family, key)?;
                return Ok(Some(Found {
                    rule,
                    backend: Backend::Nft,
                    owners,
                }));
            }
        }
        if let Some(ipt) = self.ipt.read() {
            if let Some((rule, owners)) = ipt.rules().into_iter().find(|(r, _)| r.key() == *key) {
                return Ok(Some(Found {
                    rule,
                    backend: Backend::Iptables,
                    owners,
                }));
            }
        }
        Ok(None)
    }

    /// The transactions that make `rule` in `backend` (the masquerade, the
    /// published ports, its owners), for a table or chains that may not
    /// exist yet.
    fn make(
        &self,
        backend: Backend,
        rule: &Rule,
        owners: &[Owner],
        replacing: Option<&Found>,
    ) -> Plan {
        let mut plan = Plan::default();
        let family = self.family;
        match backend {
            Backend::Nft => {
                // A rule taken over goes in the same batch as the new one
                // comes: there is no moment without either.
                let mut ops = replacing.map_or_else(Vec::new, |old| remove_ops(&old.rule));
                let name = nft::owners_set(&rule.key());
                let old_set = replacing
                    .filter(|old| old.owners.is_some())
                    .map(|old| nft::owners_set(&old.rule.key()));
                match &old_set {
                    Some(old) if *old == name && !owners.is_empty() => ops.push(Op::DelElements {
                        set: name.clone(),
                        interval: false,
                        elements: replacing
                            .and_then(|r| r.owners.as_ref())
                            .map(|os| os.iter().map(nft::owner_element).collect())
                            .unwrap_or_default(),
                    }),
                    Some(old) => ops.push(Op::DelSet { name: old.clone() }),
                    None => {}
                }
                ops.extend(add_ops(rule));
                if !owners.is_empty() {
                    if old_set.as_deref() != Some(name.as_str()) {
                        ops.push(Op::AddOwners { name: name.clone() });
                    }
                    ops.push(Op::AddElements {
                        set: name,
                        interval: false,
                        elements: owners.iter().map(nft::owner_element).collect(),
                    });
                }
                plan.extend(self.nft_step(format!("add {} with nft", rule.key()), ops));
                // A FORWARD DROP policy (Docker's) needs iptables' own
                // accept too: a drop in any base chain is final. It comes
                // after the entry, so a natctl killed in between leaves an
                // entry that list shows and del removes, never an accept
                // that nothing lists (an add again makes the accept).
                if let (Rule::Masquerade(m), Some(ipt)) = (rule, self.ipt.read()) {
                    if ipt.needs_accept(&m.subnet) {
                        plan.extend(accept(family, ipt, &m.subnet));
                    }
                }
            }
            Backend::Iptables => {
                let ipt = self.ipt.read().expect("picked because it was read");
                let mut change = iptables::Change::default();
                if let Some(old) = replacing {
                    ipt.remove(
                        &old.rule.key(),
                        matches!(rule, Rule::Publish(_)),
                        &mut change,
                    );
                }
                ipt.add(rule, owners, &mut change);
                plan.push_ipt(
                    format!("add {} with {}", rule.key(), iptables::tool(family)),
                    ipt,
                    &change,
                );
            }
        }
        plan
    }

    /// The nft ops as one transaction: a batch when the table is complete,
    /// else `nft -f` with the table made complete first.
    fn nft_step(&self, what: String, ops: Vec<Op>) -> Plan {
        let mut plan = Plan::default();
        let state = self.nft.read().expect("nft was read");
        if state.complete() {
            plan.push(
                what,
                Step::Batch {
                    family: self.family,
                    ops,
                },
            );
        } else {
            plan.push(
                what,
                Step::Program(
                    Command::new(crate::run::NFT, ["-f", "-"]).with_stdin(state.create(&ops)),
                ),
            );
        }
        plan
    }

    /// The transactions that remove each of `found` whole, with its owner
    /// records, and the table or chains they leave empty.
    ///
    /// The iptables side goes first: the rules themselves, or an nft
    /// subnet's accepts. So a natctl killed in between leaves the nft
    /// entry, which list shows and del removes, never an accept that
    /// nothing lists any more.
    fn unmake(&self, found: &[&Found]) -> Result<Plan, Error> {
        let family = self.family;
        let mut plan = Plan::default();
        if let Some(ipt) = self.ipt.read() {
            let mut change = iptables::Change::default();
            for f in found {
                ipt.remove(&f.rule.key(), false, &mut change);
            }
            if !change.is_empty() {
                let names: Vec<String> = found.iter().map(|f| f.rule.key().to_string()).collect();
                plan.push_ipt(
                    format!(
                        "remove {} from {}",
                        names.join(", "),
                        iptables::tool(family)
                    ),
                    ipt,
                    &change,
                );
            }
        }
        let gone: Vec<&Rule> = found
            .iter()
            .filter(|f| f.backend == Backend::Nft)
            .map(|f| &f.rule)
            .collect();
        if !gone.is_empty() {
            let names: Vec<String> = gone.iter().map(|r| r.key().to_string()).collect();
            let ops = if self.nft_left_empty(&gone)? {
                // The sets go whole with the table: no element is removed.
                let state = self.nft.read().expect("nft was read");
                state.teardown(&mut Nl::open()?)?
            } else {
                let mut ops: Vec<Op> = gone.iter().flat_map(|r| remove_ops(r)).collect();
                for f in found
                    .iter()
                    .filter(|f| f.backend == Backend::Nft && f.owners.is_some())
                {
                    ops.push(Op::DelSet {
                        name: nft::owners_set(&f.rule.key()),
                    });
                }
                ops
            };
            plan.push(
                format!("remove {} from nft", names.join(", ")),
                Step::Batch { family, ops },
            );
        }
        Ok(plan)
    }

    /// Whether removing `rules` leaves natctl's nft table without subnets
    /// and ports.
    fn nft_left_empty(&self, rules: &[&Rule]) -> Result<bool, Error> {
        for set in [nft::Set::Nets, nft::Set::Ports, nft::Set::HostPorts] {
            let leaving: Vec<nft::Element> = rules
                .iter()
                .flat_map(|r| nft::rule_elements(r))
                .filter(|(s, _)| *s == set)
                .flat_map(|(_, e)| e)
                .collect();
            if nft::holds_other(self.family, set, &leaving)? {
                return Ok(false);
            }
        }
        Ok(true)
    }
}

/// The accepts an nft subnet needs in iptables' FORWARD (DROP policy).
fn accept(family: Family, ipt: &IptState, subnet: &Subnet) -> Plan {
    let mut change = iptables::Change::default();
    ipt.add_accept(subnet, &mut change);
    let mut plan = Plan::default();
    plan.push_ipt(
        format!(
            "let {subnet} through the {} FORWARD chain",
            iptables::tool(family)
        ),
        ipt,
        &change,
    );
    plan
}

/// Whether published ports stand in the way of `wanted`: the same
/// protocol and host address, and a port in common.
fn collides(have: &Rule, wanted: &Rule) -> bool {
    match (have, wanted) {
        (Rule::Publish(a), Rule::Publish(b)) => {
            a.key.proto == b.key.proto
                && a.key.host == b.key.host
                && a.key.ports.overlaps(&b.key.ports)
        }
        _ => false,
    }
}

fn add_ops(rule: &Rule) -> Vec<Op> {
    nft::rule_elements(rule)
        .into_iter()
        .map(|(set, elements)| Op::AddElements {
            set: set.name().into(),
            interval: set.interval(),
            elements,
        })
        .collect()
}

fn remove_ops(rule: &Rule) -> Vec<Op> {
    nft::rule_elements(rule)
        .into_iter()
        .map(|(set, elements)| Op::DelElements {
            set: set.name().into(),
            interval: set.interval(),
            elements,
        })
        .collect()
}

/// What to do about an existing rule when `wanted` is added.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Decision {
    Create,
    /// The rule in the way has only exited owners: remove it, then create.
    TakeOver,
    Unchanged,
    /// Record the owner (when new) and forget owners that have exited.
    Own {
        add: Option<Owner>,
        drop: Vec<Owner>,
    },
    MakePermanent,
}

fn conflict(have: &Rule, wanted: &Rule, owners: &Option<Vec<Owner>>) -> Error {
    let held = match owners {
        Some(list) => {
            let live: Vec<String> = list
                .iter()
                .filter(|o| o.is_alive())
                .map(Owner::to_string)
                .collect();
            format!(", owned by {}", live.join(","))
        }
        None => String::new(),
    };
    match (have, wanted) {
        (Rule::Masquerade(a), Rule::Masquerade(b)) if a.subnet == b.subnet => Error::failed(format!(
            "cannot add {}: it is already masqueraded with out={}{held} (natctl del it first to change that)",
            b.subnet,
            a.out.as_ref().map_or("any", IfName::as_str)
        )),
        (Rule::Masquerade(a), Rule::Masquerade(b)) => Error::failed(format!(
            "cannot add {}: it overlaps {}, which natctl already masquerades{held} (natctl del it first)",
            b.subnet, a.subnet
        )),
        (Rule::Publish(a), Rule::Publish(b)) => Error::failed(format!(
            "cannot publish {} {}: it is already published ({}{held}; natctl unpublish it first)",
            b.key.proto,
            b.key.ports,
            Rule::Publish(*a)
        )),
        _ => Error::failed(format!("cannot add {wanted}: {have} is in the way")),
    }
}

fn decide(
    existing: Option<&Found>,
    wanted: &Rule,
    owner: Option<&Owner>,
) -> Result<Decision, Error> {
    let Some(found) = existing else {
        return Ok(Decision::Create);
    };
    if &found.rule != wanted {
        return match &found.owners {
            Some(list) if !list.iter().any(Owner::is_alive) => Ok(Decision::TakeOver),
            owners => Err(conflict(&found.rule, wanted, owners)),
        };
    }
    Ok(match (&found.owners, owner) {
        // A permanent rule stays permanent, whoever else adds it.
        (None, _) => Decision::Unchanged,
        (Some(_), None) => Decision::MakePermanent,
        (Some(list), Some(o)) => {
            let drop: Vec<Owner> = list
                .iter()
                .filter(|x| *x != o && !x.is_alive())
                .copied()
                .collect();
            let add = (!list.contains(o)).then_some(*o);
            if add.is_none() && drop.is_empty() {
                Decision::Unchanged
            } else {
                Decision::Own { add, drop }
            }
        }
    })
}

/// Adds one rule: masquerades a subnet or publishes ports, for `owner` or
/// for good. Adding what is there already changes nothing (or records
/// the owner); a rule in the way whose owners have all exited is taken
/// over; anything else in the way is refused, naming it.
pub fn add(
    rule: &Rule,
    owner: Option<Owner>,
    choice: Choice,
    mode: Mode,
) -> Result<Outcome, Error> {
    let _lock = lock(mode)?;
    add_locked(rule, owner.as_ref(), &[], choice, mode)
}

/// `add` with the lock held; `restored` are owners from a saved line
/// (recorded as they are, alive or not).
fn add_locked(
    rule: &Rule,
    owner: Option<&Owner>,
    restored: &[Owner],
    choice: Choice,
    mode: Mode,
) -> Result<Outcome, Error> {
    if let Rule::Masquerade(m) = rule {
        m.subnet.check_masquerade()?;
        if let Some(out) = &m.out {
            check_out(out)?;
        }
    }
    let family = Family::of_rule(rule);
    let mut view = View::load(family);
    let existing = match view.find_key(&rule.key())? {
        Some(found) => Some(found),
        None => {
            let backend = view.pick(choice)?;
            view.find_colliding(rule, backend)?
        }
    };
    if let (Some(found), Some(asked)) = (&existing, choice.backend()) {
        if found.rule == *rule && found.backend != asked {
            return Err(Error::failed(format!(
                "cannot add {} with the {asked} backend: it is already {} by the {} backend (natctl del it first to move it)",
                rule.key(),
                match rule {
                    Rule::Masquerade(_) => "masqueraded",
                    Rule::Publish(_) => "published",
                },
                found.backend
            )));
        }
    }
    let decision = decide(existing.as_ref(), rule, owner)?;
    let mut plan = Plan::default();
    let mut made = None;
    let outcome = match decision {
        Decision::Create | Decision::TakeOver => {
            let backend = view.pick(choice)?;
            let mut owners: Vec<Owner> = owner.into_iter().copied().collect();
            for r in restored {
                if !owners.contains(r) {
                    owners.push(*r);
                }
            }
            let replacing = match (&decision, &existing) {
                (Decision::TakeOver, Some(found)) if found.backend == backend => Some(found),
                (Decision::TakeOver, Some(found)) => {
                    // From one backend to the other: out of the old first.
                    plan.extend(view.unmake(&[found])?);
                    if let Seen::Read(state) = &mut view.nft {
                        // Its table may have gone with the old rule.
                        state.rules.retain(|r| !r.ours());
                        state.sets.clear();
                    }
                    None
                }
                _ => None,
            };
            plan.extend(view.make(backend, rule, &owners, replacing));
            made = Some(backend);
            match (&decision, &existing) {
                (Decision::TakeOver, Some(found)) => Outcome::TookOver(found.rule.clone()),
                _ => Outcome::Created,
            }
        }
        Decision::Unchanged => {
            // A FORWARD DROP policy set since (Docker started later) still
            // needs the iptables-side accept of an nft subnet.
            let found = existing.as_ref().expect("unchanged from something");
            if let (Backend::Nft, Rule::Masquerade(m), Some(ipt)) =
                (found.backend, rule, view.ipt.read())
            {
                if ipt.needs_accept(&m.subnet) {
                    plan.extend(accept(family, ipt, &m.subnet));
                }
            }
            Outcome::Unchanged
        }
        Decision::MakePermanent => {
            let found = existing.as_ref().expect("made permanent from something");
            plan.extend(forget_owners(&view, found));
            Outcome::MadePermanent
        }
        Decision::Own { add, drop } => {
            let found = existing.as_ref().expect("owned from something");
            plan.extend(change_owners(&view, found, add.as_ref(), &drop));
            Outcome::OwnerAdded
        }
    };
    plan.push(
        format!("turn on {} forwarding", family.name()),
        Step::Sysctl(family.forwarding_sysctl().to_string()),
    );
    if let Rule::Publish(p) = rule {
        if let Some(path) = localnet_switch(p)? {
            plan.push("let 127.0.0.1 reach the published port", Step::Sysctl(path));
        }
    }
    plan.execute(mode, || match made {
        // What a failed add made is removed again, from what is there now.
        Some(_) => undo(rule),
        None => Ok(()),
    })?;
    Ok(outcome)
}

/// Removes a rule a failed add may have left (half-committed or not).
fn undo(rule: &Rule) -> Result<(), Error> {
    let mut view = View::load(Family::of_rule(rule));
    let key = rule.key();
    let mut plan = Plan::default();
    if let Some(found) = view.find_key(&key)? {
        plan.extend(view.unmake(&[&found])?);
    } else if let Some(ipt) = view.ipt.read() {
        let mut change = iptables::Change::default();
        ipt.remove(&key, false, &mut change);
        if !change.is_empty() {
            plan.push_ipt(
                format!("remove {key} from {}", iptables::tool(view.family)),
                ipt,
                &change,
            );
        }
    }
    plan.execute_all(Mode::Run)
}

/// Drops every owner record of `found`: it becomes permanent.
fn forget_owners(view: &View, found: &Found) -> Plan {
    let key = found.rule.key();
    let mut plan = Plan::default();
    match found.backend {
        Backend::Nft => plan.push(
            format!("make {key} permanent"),
            Step::Batch {
                family: view.family,
                ops: vec![Op::DelSet {
                    name: nft::owners_set(&key),
                }],
            },
        ),
        Backend::Iptables => {
            let ipt = view.ipt.read().expect("found there");
            let mut change = iptables::Change::default();
            for o in found.owners.iter().flatten() {
                ipt.drop_owner(&key, o, &mut change);
            }
            plan.push_ipt(format!("make {key} permanent"), ipt, &change);
        }
    }
    plan
}

/// Adds one owner record and drops others.
fn change_owners(view: &View, found: &Found, add: Option<&Owner>, drop: &[Owner]) -> Plan {
    let key = found.rule.key();
    let what = format!("change the owners of {key}");
    let mut plan = Plan::default();
    match found.backend {
        Backend::Nft => {
            let set = nft::owners_set(&key);
            let mut ops = Vec::new();
            if !drop.is_empty() {
                ops.push(Op::DelElements {
                    set: set.clone(),
                    interval: false,
                    elements: drop.iter().map(nft::owner_element).collect(),
                });
            }
            if let Some(o) = add {
                ops.push(Op::AddElements {
                    set,
                    interval: false,
                    elements: vec![nft::owner_element(o)],
                });
            }
            plan.push(
                what,
                Step::Batch {
                    family: view.family,
                    ops,
                },
            );
        }
        Backend::Iptables => {
            let ipt = view.ipt.read().expect("found there");
            let mut change = iptables::Change::default();
            for o in drop {
                ipt.drop_owner(&key, o, &mut change);
            }
            if let Some(o) = add {
                ipt.add_owner(&key, o, &mut change);
            }
            plan.push_ipt(what, ipt, &change);
        }
    }
    plan
}

/// The route_localnet switch a publish needs so that `127.0.0.1` reaches
/// its destination: on the interface that reaches the destination
/// directly, for IPv4 publishes on every address or on a loopback one.
fn localnet_switch(p: &Publish) -> Result<Option<String>, Error> {
    let on_loopback = p.key.host.map_or(true, |h| h.is_loopback());
    if !p.is_ipv4() || !on_loopback {
        return Ok(None);
    }
    Ok(route::interface_toward(p.dest.addr)?
        .map(|name| format!("/proc/sys/net/ipv4/conf/{name}/route_localnet")))
}

/// What `del` and `unpublish` do with a rule when `owner` leaves it.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Removal {
    Remove,
    /// Other owners live on: forget this one (and those that exited).
    DropOwner(Vec<Owner>),
    /// An owner's leaving does not touch a permanent rule.
    Permanent,
    NotOwner,
}

fn decide_removal(owners: Option<&[Owner]>, owner: Option<Leaving>) -> Removal {
    match (owner, owners) {
        (None, _) => Removal::Remove,
        (Some(_), None) => Removal::Permanent,
        (Some(leaving), Some(list)) => {
            if !list.iter().any(|o| leaving.is(o)) {
                return Removal::NotOwner;
            }
            // The owner's records go, and so do those of owners that exited.
            let (gone, others): (Vec<Owner>, Vec<Owner>) =
                list.iter().partition(|o| leaving.is(o) || !o.is_alive());
            if others.is_empty() {
                Removal::Remove
            } else {
                Removal::DropOwner(gone)
            }
        }
    }
}

/// Removes rules by key (subnets for `del`, ports for `unpublish`), or,
/// with `owner` (a PID, which has usually exited by then, or an owner
/// exactly), that owner's hold on them: the rule goes with its last live
/// owner. A key with no
/// rule, or without that owner, is an error unless `if_exists` or the
/// owner is a process that has exited; then nothing is changed.
pub fn remove(
    keys: &[Key],
    owner: Option<Leaving>,
    if_exists: bool,
    mode: Mode,
) -> Result<Vec<Outcome>, Error> {
    let _lock = lock(mode)?;
    let targets: Vec<(Key, Vec<Family>)> = keys.iter().map(|k| (*k, Family::of_key(k))).collect();
    remove_locked(&targets, owner, if_exists, mode)
}

/// Removes the rules of lines of `natctl list` (or bare subnets), each in
/// its own family (see [`remove`]).
pub fn remove_lines(
    lines: &[Line],
    owner: Option<Leaving>,
    if_exists: bool,
    mode: Mode,
) -> Result<Vec<Outcome>, Error> {
    let _lock = lock(mode)?;
    let targets: Vec<(Key, Vec<Family>)> = lines
        .iter()
        .map(|l| {
            let family = match &l.rule {
                LineRule::Subnet(s) => Family::of(s),
                LineRule::Rule(r) => Family::of_rule(r),
            };
            (l.rule.key(), vec![family])
        })
        .collect();
    remove_locked(&targets, owner, if_exists, mode)
}

fn remove_locked(
    targets: &[(Key, Vec<Family>)],
    owner: Option<Leaving>,
    if_exists: bool,
    mode: Mode,
) -> Result<Vec<Outcome>, Error> {
    let mut views: Vec<View> = Vec::new();
    let mut missing = Vec::new();
    let mut not_owned = Vec::new();
    let mut work: Vec<(usize, Found, Removal)> = Vec::new();
    let mut outcomes = Vec::new();
    for (key, families) in targets {
        let mut hits = Vec::new();
        for family in families {
            let at = match views.iter().position(|v| v.family == *family) {
                Some(at) => at,
                None => {
                    let v = View::load(*family);
                    v.check_all()?;
                    views.push(v);
                    views.len() - 1
                }
            };
            if let Some(found) = views[at].find_key(key)? {
                hits.push((at, found));
            }
        }
        if hits.is_empty() {
            missing.push(*key);
            outcomes.push(Outcome::Absent);
            continue;
        }
        for (at, found) in hits {
            let removal = decide_removal(found.owners.as_deref(), owner);
            if removal == Removal::NotOwner {
                not_owned.push(*key);
                outcomes.push(Outcome::Absent);
                continue;
            }
            outcomes.push(match &removal {
                Removal::Remove => Outcome::Removed,
                Removal::DropOwner(_) => Outcome::OwnerRemoved,
                Removal::Permanent => Outcome::Permanent,
                Removal::NotOwner => Outcome::Absent,
            });
            if !work
                .iter()
                .any(|(v, f, _)| *v == at && f.rule.key() == *key)
            {
                work.push((at, found, removal));
            }
        }
    }
    // An owner that exited holds nothing: another owner's del (or gc, or an
    // add taking the entry over) may have dropped its record, or the whole
    // entry, already. Containers that stop together each run their own
    // del, and every one of them has then done what it asked.
    let done = owner.is_some_and(|leaving| leaving.has_exited());
    if !if_exists && !done {
        if !missing.is_empty() {
            let names: Vec<String> = missing.iter().map(Key::to_string).collect();
            return Err(Error::failed(format!(
                "cannot delete {}: natctl has no rules for {} (see natctl list)",
                names.join(", "),
                if names.len() == 1 { "it" } else { "them" }
            )));
        }
        if let (Some(leaving), Some(key)) = (owner, not_owned.first()) {
            return Err(Error::failed(format!(
                "cannot delete {key} for owner {leaving}: {} not one of its owners (see natctl list)",
                match leaving {
                    Leaving::Pid(_) => "that process is",
                    Leaving::Owner(_) => "it is",
                }
            )));
        }
    }
    let mut plan = Plan::default();
    for (at, view) in views.iter().enumerate() {
        let mine: Vec<&(usize, Found, Removal)> =
            work.iter().filter(|(v, _, _)| *v == at).collect();
        let gone: Vec<&Found> = mine
            .iter()
            .filter(|(_, _, r)| *r == Removal::Remove)
            .map(|(_, f, _)| f)
            .collect();
        if !gone.is_empty() {
            plan.extend(view.unmake(&gone)?);
        }
        for (_, found, removal) in mine {
            if let Removal::DropOwner(left) = removal {
                plan.extend(change_owners(view, found, None, left));
            }
        }
    }
    plan.execute_all(mode)?;
    Ok(outcomes)
}

/// Publishes host ports to `p.dest` (see [`add`]).
pub fn publish(
    p: &Publish,
    owner: Option<Owner>,
    choice: Choice,
    mode: Mode,
) -> Result<Outcome, Error> {
    add(&Rule::Publish(*p), owner, choice, mode)
}

/// Removes published ports (see [`remove`]).
pub fn unpublish(
    keys: &[PortKey],
    owner: Option<Leaving>,
    if_exists: bool,
    mode: Mode,
) -> Result<Vec<Outcome>, Error> {
    let keys: Vec<Key> = keys.iter().map(|k| Key::Ports(*k)).collect();
    remove(&keys, owner, if_exists, mode)
}

/// Masquerades a subnet (see [`add`]).
pub fn masquerade(
    m: &Masquerade,
    owner: Option<Owner>,
    choice: Choice,
    mode: Mode,
) -> Result<Outcome, Error> {
    add(&Rule::Masquerade(m.clone()), owner, choice, mode)
}

/// `natctl add -`: re-creates every line (a bare subnet is masqueraded
/// out of any interface), each with the owners and backend it names.
pub fn add_lines(
    lines: &[Line],
    owner: Option<Owner>,
    choice: Choice,
    mode: Mode,
) -> Result<(), Error> {
    let _lock = lock(mode)?;
    for line in lines {
        let rule = match &line.rule {
            LineRule::Subnet(s) => Rule::Masquerade(Masquerade {
                subnet: *s,
                out: None,
            }),
            LineRule::Rule(r) => r.clone(),
        };
        let choice = line.backend.map_or(choice, Choice::from);
        let owned = owner.as_ref().or(line.owners.first());
        let rest: Vec<Owner> = line
            .owners
            .iter()
            .filter(|o| Some(*o) != owned)
            .copied()
            .collect();
        add_locked(&rule, owned, &rest, choice, mode)
            .map_err(|e| e.context(format!("line '{}'", line_text(line))))?;
    }
    Ok(())
}

fn line_text(line: &Line) -> String {
    match &line.rule {
        LineRule::Subnet(s) => s.to_string(),
        LineRule::Rule(r) => r.to_string(),
    }
}

/// The backend a new entry of `family` would go to, or why none can
/// hold it (the CNI plugin's STATUS asks this).
pub fn usable(family: Family, choice: Choice) -> Result<Backend, Error> {
    View::load(family).pick(choice)
}

/// Every entry of both backends and families, masquerades first (by
/// subnet, IPv4 first), then publishes.
pub fn list() -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::new();
    for family in Family::ALL {
        let view = View::load(family);
        view.check_all()?;
        if let Seen::Read(state) = &view.nft {
            if state.table {
                entries.extend(nft::json::entries(family)?);
            }
        }
        if let Some(ipt) = view.ipt.read() {
            for (rule, owners) in ipt.rules() {
                entries.push(Entry {
                    rule,
                    backend: Backend::Iptables,
                    owners: owners.unwrap_or_default(),
                });
            }
        }
    }
    entries.sort();
    entries.dedup();
    Ok(entries)
}

/// Writes lines on stdout; a reader that went away is no error.
pub fn print_lines<T: fmt::Display>(items: &[T]) -> Result<(), Error> {
    use std::io::Write;
    let text: String = items.iter().map(|e| format!("{e}\n")).collect();
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("cannot write the list", &e))
        }
        _ => Ok(()),
    }
}

/// Removes every entry all of whose owners have exited, and nothing
/// else; returns what it removed (or would remove, in dry-run mode).
pub fn gc(mode: Mode) -> Result<Vec<Entry>, Error> {
    let _lock = lock(mode)?;
    let orphans: Vec<Entry> = list()?.into_iter().filter(Entry::is_orphaned).collect();
    if mode == Mode::DryRun {
        // What would go, as comments of the script that follows.
        for e in &orphans {
            println!("# gc: {e}");
        }
    }
    let targets: Vec<(Key, Vec<Family>)> = orphans
        .iter()
        .map(|e| (e.rule.key(), vec![Family::of_rule(&e.rule)]))
        .collect();
    if !targets.is_empty() {
        remove_locked(&targets, None, true, mode)?;
    }
    Ok(orphans)
}

/// Removes everything natctl made, in both backends and families, and
/// nothing else: another program's rule in one of natctl's chains keeps
/// its chain (and table).
pub fn flush(mode: Mode) -> Result<(), Error> {
    let _lock = lock(mode)?;
    let mut plan = Plan::default();
    for family in Family::ALL {
        let view = View::load(family);
        view.check_all()?;
        if let Seen::Read(state) = &view.nft {
            let mut nl = Nl::open()?;
            let ops = state.teardown(&mut nl)?;
            if !ops.is_empty() {
                plan.push(
                    format!("remove natctl's nft table {} {}", family.nft(), nft::TABLE),
                    Step::Batch { family, ops },
                );
            }
        }
        if let Some(ipt) = view.ipt.read() {
            let mut change = iptables::Change::default();
            ipt.flush(&mut change);
            if !change.is_empty() {
                plan.push_ipt(
                    format!("remove natctl's {} rules", iptables::tool(family)),
                    ipt,
                    &change,
                );
            }
        }
    }
    plan.execute_all(mode)
}

/// Refuses an `--out` interface that does not exist in this namespace, or
/// whose name a firewall rule cannot match exactly (iptables reads a
/// trailing `+` as a wildcard and a leading `!` as negation, nft a `*`;
/// quotes and backslashes would end or escape the quoted name).
pub fn check_out(out: &IfName) -> Result<(), Error> {
    let name = out.as_str();
    let bad = name
        .chars()
        .find(|c| matches!(c, '"' | '\'' | '\\' | '*' | '+') || c.is_control() || !c.is_ascii())
        .or_else(|| name.starts_with('!').then_some('!'));
    if let Some(c) = bad {
        return Err(Error::usage(format!(
            "invalid interface for --out '{}': a firewall rule cannot match '{}' exactly",
            name.escape_debug(),
            c.escape_debug()
        )));
    }
    // Asked of the kernel by name; a rule matches the name, not an altname.
    let link = crate::netlink::Socket::here()?.link(name)?;
    if link.is_some_and(|l| l.name == name) {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "cannot use --out {out}: no such interface (see ip link)"
        )))
    }
}

fn sysctl_on(path: &str) -> bool {
    std::fs::read_to_string(path).is_ok_and(|v| v.trim() == "1")
}

/// Holds natctl's lock until dropped; none in dry-run mode, which changes
/// nothing.
fn lock(mode: Mode) -> Result<Option<nix::fcntl::Flock<std::fs::File>>, Error> {
    if mode == Mode::DryRun {
        return Ok(None);
    }
    crate::lockfile::take(LOCK).map(Some)
}

#[cfg(test)]
mod tests;
