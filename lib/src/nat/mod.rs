//! NAT for a subnet (natctl): masquerade it to the outside, let its
//! forwarded traffic out and the replies back in, drop new connections
//! routed into it from elsewhere. This module owns what natctl's rules are,
//! how they are found again, and how every change becomes one transaction
//! per program (`nft -f -`, `iptables-restore --noflush`).
//!
//! Two backends implement [`NatBackend`]: [`nft::NftTable`] (tables
//! `ip nsnet` and `ip6 nsnet`) and [`iptables::IptTables`] (chains
//! `NSNET-POSTROUTING` and `NSNET-FORWARD`). Every rule carries the comment
//! `nsnet:SUBNET`: that mark, not a position, is how natctl finds its rules.
//!
//! Changes are serialised by a lock file ([`LOCK_PATH`]): natctl reads what
//! is installed, plans, and applies while holding it, so two concurrent adds
//! of one subnet cannot both add it. A plan is plain data: printed for
//! `--dry-run`, compared in unit tests, executed by [`crate::run`].

pub mod iptables;
pub mod nft;

use crate::cidr::Subnet;
use crate::error::Error;
use crate::name::IfName;
use crate::run::{Command, Mode};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// The comment every natctl rule carries is this followed by its subnet.
pub const TAG_PREFIX: &str = "nsnet:";

/// The lock that serialises natctl's read-plan-apply cycles. /run is a
/// tmpfs, so a lock left by a killed natctl vanishes at the next boot and
/// never blocks anyone (flock dies with its holder anyway).
pub const LOCK_PATH: &str = "/run/nsnet/natctl.lock";

/// The environment variable that picks a backend when `--backend` is absent.
pub const BACKEND_ENV: &str = "NATCTL_BACKEND";

/// The mark of a subnet's rules: `nsnet:10.0.0.0/24`.
pub fn tag(subnet: &Subnet) -> String {
    format!("{TAG_PREFIX}{subnet}")
}

/// The subnet a rule comment names, if it is one of natctl's marks.
pub fn parse_tag(comment: &str) -> Option<Subnet> {
    comment.strip_prefix(TAG_PREFIX)?.parse().ok()
}

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

/// Where a subnet's rules live.
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
    /// chains NSNET-POSTROUTING and NSNET-FORWARD (ip6tables for IPv6)
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

/// What `natctl add` asks for: masquerade SUBNET, leaving through `out` only
/// when given.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Masquerade {
    pub subnet: Subnet,
    pub out: Option<IfName>,
}

/// One line of `natctl list`: `10.0.0.0/24 masquerade out=any backend=nft`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub subnet: Subnet,
    pub out: Option<IfName>,
    pub backend: Backend,
}

impl fmt::Display for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let out = self.out.as_ref().map_or("any", IfName::as_str);
        write!(
            f,
            "{} masquerade out={out} backend={}",
            self.subnet, self.backend
        )
    }
}

/// One program run that the kernel applies as one transaction: an nft
/// script on `nft -f -`, or one table's input on `iptables-restore`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Transaction {
    /// What it does, for errors: `cannot <what>: <why>`.
    pub what: String,
    pub command: Command,
}

impl Transaction {
    fn apply(&self) -> Result<(), Error> {
        let out = self.command.output()?;
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

/// The rules one backend holds for one family, and the transactions that
/// change them. Implementations read the kernel's state once, then plan.
pub trait NatBackend {
    /// The subnets this backend masquerades.
    fn entries(&self) -> Vec<Entry>;
    /// Whether any rule here carries the subnet's mark.
    fn has_rules_for(&self, subnet: &Subnet) -> bool;
    /// Installs the masquerade with its forwarding rules (and clears any
    /// leftover rule of the same subnet) in one transaction.
    fn install(&self, rule: &Masquerade) -> Transaction;
    /// Removes every rule marked for these subnets, and natctl's tables or
    /// chains that would be left without a marked rule.
    fn remove(&self, subnets: &[Subnet]) -> Option<Transaction>;
    /// Removes everything natctl made here.
    fn flush(&self) -> Option<Transaction>;
}

/// What natctl could see of one backend for one family.
#[derive(Debug)]
pub enum Seen<T> {
    /// The program is not on PATH: no rules can be there that natctl made.
    NotInstalled,
    /// The program is there but could not read the rules (no permission, a
    /// kernel without the tables).
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

/// Both backends' view of one family.
#[derive(Debug)]
pub struct Sides {
    pub family: Family,
    pub nft: Seen<nft::NftTable>,
    pub iptables: Seen<iptables::IptTables>,
}

const NEITHER: &str =
    "neither nft nor iptables is installed (install the nftables or iptables package)";

impl Sides {
    pub fn load(family: Family) -> Sides {
        Sides {
            family,
            nft: nft::NftTable::load(family),
            iptables: iptables::IptTables::load(family),
        }
    }

    /// Every installed backend, for commands that must see all rules (del,
    /// list, flush): one that cannot be read is an error.
    fn all(&self) -> Result<Vec<&dyn NatBackend>, Error> {
        let mut all: Vec<&dyn NatBackend> = Vec::new();
        match &self.nft {
            Seen::Read(t) => all.push(t),
            Seen::Unusable(e) => return Err(e.clone()),
            Seen::NotInstalled => {}
        }
        match &self.iptables {
            Seen::Read(t) => all.push(t),
            Seen::Unusable(e) => return Err(e.clone()),
            Seen::NotInstalled => {}
        }
        if all.is_empty() {
            return Err(Error::failed(NEITHER));
        }
        Ok(all)
    }

    fn entries(&self) -> Vec<Entry> {
        let mut entries = Vec::new();
        if let Some(t) = self.nft.read() {
            entries.extend(t.entries());
        }
        if let Some(t) = self.iptables.read() {
            entries.extend(t.entries());
        }
        entries
    }

    /// The backend `add` uses: the one asked for, or for auto nft when it
    /// can be read, else iptables.
    pub fn pick(&self, choice: Choice) -> Result<Backend, Error> {
        fn usable<T>(seen: &Seen<T>, backend: Backend, package: &str) -> Result<(), Error> {
            match seen {
                Seen::Read(_) => Ok(()),
                Seen::Unusable(e) => Err(e.clone()),
                Seen::NotInstalled => Err(Error::failed(format!(
                    "cannot use the {backend} backend: {backend} is not installed (install the {package} package)"
                ))),
            }
        }
        match choice {
            Choice::Nft => usable(&self.nft, Backend::Nft, "nftables").map(|_| Backend::Nft),
            Choice::Iptables => {
                usable(&self.iptables, Backend::Iptables, "iptables").map(|_| Backend::Iptables)
            }
            Choice::Auto => match (&self.nft, &self.iptables) {
                (Seen::Read(_), _) => Ok(Backend::Nft),
                (_, Seen::Read(_)) => Ok(Backend::Iptables),
                (Seen::Unusable(e), _) | (_, Seen::Unusable(e)) => Err(e.clone()),
                (Seen::NotInstalled, Seen::NotInstalled) => Err(Error::failed(NEITHER)),
            },
        }
    }
}

/// What one natctl command does: firewall transactions in order, then
/// perhaps turning forwarding on.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    pub transactions: Vec<Transaction>,
    /// The family whose forwarding `add` turns on.
    pub forwarding: Option<Family>,
}

impl Plan {
    fn push(&mut self, transaction: Option<Transaction>) {
        self.transactions.extend(transaction);
    }

    /// The plan as a shell script: each transaction with its input as a
    /// here-document, then the forwarding switch if it is off.
    pub fn script(&self) -> String {
        let mut text = String::new();
        for t in &self.transactions {
            text.push_str(&t.command.to_shell());
            text.push('\n');
        }
        if let Some(family) = self.forwarding {
            if !forwarding_is_on(family) {
                text.push_str(&format!("echo 1 > {}\n", family.forwarding_sysctl()));
            }
        }
        text
    }

    /// All or nothing (add): applies the transactions in order, then turns
    /// forwarding on; when a step fails, `undo` removes what was installed
    /// (also by the failed step: iptables-restore commits table by table).
    fn execute(&self, mode: Mode, undo: impl FnOnce() -> Result<(), Error>) -> Result<(), Error> {
        if mode == Mode::DryRun {
            print!("{}", self.script());
            return Ok(());
        }
        let result = self
            .transactions
            .iter()
            .try_for_each(Transaction::apply)
            .and_then(|()| self.forwarding.map_or(Ok(()), enable_forwarding));
        result.map_err(|e| match undo() {
            Ok(()) => e,
            Err(u) => Error::failed(format!("{e} (and undoing it failed: {u})")),
        })
    }

    /// Best effort (del, flush): applies every transaction even when one
    /// fails, so teardown removes all it can, and reports every failure.
    fn execute_all(&self, mode: Mode) -> Result<(), Error> {
        if mode == Mode::DryRun {
            print!("{}", self.script());
            return Ok(());
        }
        let errors: Vec<String> = self
            .transactions
            .iter()
            .filter_map(|t| t.apply().err())
            .map(|e| e.to_string())
            .collect();
        if errors.is_empty() {
            Ok(())
        } else {
            Err(Error::failed(errors.join("; ")))
        }
    }
}

/// Plans `add` from what both backends hold (pure, for unit tests).
pub fn plan_add(sides: &Sides, choice: Choice, rule: &Masquerade) -> Result<Plan, Error> {
    let subnet = &rule.subnet;
    let mut plan = Plan {
        transactions: Vec::new(),
        forwarding: Some(sides.family),
    };
    let existing = sides.entries().into_iter().find(|e| &e.subnet == subnet);
    if let Some(entry) = existing {
        if entry.out != rule.out {
            let out = entry.out.as_ref().map_or("any", IfName::as_str);
            return Err(Error::failed(format!(
                "cannot add {subnet}: it is already masqueraded with out={out} (natctl del it first to change that)"
            )));
        }
        if let Some(asked) = choice.backend().filter(|b| *b != entry.backend) {
            return Err(Error::failed(format!(
                "cannot add {subnet} with the {asked} backend: it is already masqueraded by the {} backend (natctl del it first to move it)",
                entry.backend
            )));
        }
        // Already there. A FORWARD DROP policy set since (Docker started
        // later) still needs the iptables-side accept.
        if entry.backend == Backend::Nft {
            if let Some(ipt) = sides.iptables.read() {
                if ipt.forward_drops() && !ipt.has_forward_accept(subnet) {
                    plan.push(Some(ipt.forward_accept(subnet)));
                }
            }
        }
        return Ok(plan);
    }
    match sides.pick(choice)? {
        Backend::Nft => {
            let nft = sides.nft.read().expect("picked because it was read");
            if let Some(ipt) = sides.iptables.read() {
                // A drop in any base chain is final: nft's accept cannot
                // overrule iptables' FORWARD DROP policy, so iptables gets an
                // accept of its own (first, so isolation never lags).
                if ipt.forward_drops() {
                    plan.push(Some(ipt.forward_accept(subnet)));
                } else {
                    plan.push(ipt.remove(std::slice::from_ref(subnet)));
                }
            }
            plan.push(Some(nft.install(rule)));
        }
        Backend::Iptables => {
            let ipt = sides.iptables.read().expect("picked because it was read");
            if let Some(nft) = sides.nft.read() {
                plan.push(nft.remove(std::slice::from_ref(subnet)));
            }
            plan.push(Some(ipt.install(rule)));
        }
    }
    Ok(plan)
}

/// `natctl add`: masquerades the subnet (see [`plan_add`]) and turns on
/// forwarding for its family, in one transaction per program; a failure
/// half-way removes what was installed.
pub fn add(rule: &Masquerade, choice: Choice, mode: Mode) -> Result<(), Error> {
    if let Some(out) = &rule.out {
        check_out(out)?;
    }
    let family = Family::of(&rule.subnet);
    let _lock = lock(mode)?;
    let sides = Sides::load(family);
    let plan = plan_add(&sides, choice, rule)?;
    // An add that only completes an existing subnet must not undo it.
    let fresh = !sides.entries().iter().any(|e| e.subnet == rule.subnet);
    plan.execute(mode, || {
        if fresh {
            undo_add(family, &rule.subnet)
        } else {
            Ok(())
        }
    })
}

/// Removes every rule of a subnet that a failed add left, from freshly read
/// state (the failed step may or may not have been committed).
fn undo_add(family: Family, subnet: &Subnet) -> Result<(), Error> {
    let sides = Sides::load(family);
    let mut plan = Plan::default();
    for side in sides.all()? {
        if side.has_rules_for(subnet) {
            plan.push(side.remove(std::slice::from_ref(subnet)));
        }
    }
    plan.execute_all(Mode::Run)
}

/// Plans `del` from what both backends hold, per family; subnets with no
/// rules are returned apart.
pub fn plan_del(sides: &[Sides], subnets: &[Subnet]) -> Result<(Plan, Vec<Subnet>), Error> {
    let mut plan = Plan::default();
    let mut missing = Vec::new();
    for side in sides {
        let backends = side.all()?;
        let mine: BTreeSet<Subnet> = subnets
            .iter()
            .filter(|s| Family::of(s) == side.family)
            .copied()
            .collect();
        let present: Vec<Subnet> = mine
            .iter()
            .filter(|s| backends.iter().any(|b| b.has_rules_for(s)))
            .copied()
            .collect();
        missing.extend(mine.iter().filter(|s| !present.contains(s)));
        for backend in backends {
            plan.push(backend.remove(&present));
        }
    }
    Ok((plan, missing))
}

/// `natctl del`: removes the subnets' rules from both backends. A subnet
/// without rules is an error unless `if_exists`; nothing is changed then.
pub fn del(subnets: &[Subnet], if_exists: bool, mode: Mode) -> Result<(), Error> {
    let _lock = lock(mode)?;
    let families: BTreeSet<Family> = subnets.iter().map(Family::of).collect();
    let sides: Vec<Sides> = families.into_iter().map(Sides::load).collect();
    let (plan, missing) = plan_del(&sides, subnets)?;
    if !missing.is_empty() && !if_exists {
        let names: Vec<String> = missing.iter().map(Subnet::to_string).collect();
        return Err(Error::failed(format!(
            "cannot delete {}: natctl has no rules for {} (see natctl list)",
            names.join(", "),
            if names.len() == 1 { "it" } else { "them" }
        )));
    }
    plan.execute_all(mode)
}

/// `natctl list`: every masqueraded subnet of both backends and families,
/// sorted by subnet (IPv4 first), then backend.
pub fn list() -> Result<Vec<Entry>, Error> {
    let mut entries = Vec::new();
    for family in Family::ALL {
        let sides = Sides::load(family);
        for backend in sides.all()? {
            entries.extend(backend.entries());
        }
    }
    entries.sort();
    entries.dedup();
    Ok(entries)
}

/// Prints `natctl list` on stdout; a reader that went away is no error.
pub fn print_list() -> Result<(), Error> {
    use std::io::Write;
    let text: String = list()?.iter().map(|e| format!("{e}\n")).collect();
    let mut out = std::io::stdout().lock();
    match out.write_all(text.as_bytes()).and_then(|()| out.flush()) {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => {
            Err(Error::io("cannot write the list", &e))
        }
        _ => Ok(()),
    }
}

/// `natctl flush`: removes everything natctl made, in both backends and
/// families, and nothing else.
pub fn flush(mode: Mode) -> Result<(), Error> {
    let _lock = lock(mode)?;
    let mut plan = Plan::default();
    for family in Family::ALL {
        let sides = Sides::load(family);
        for backend in sides.all()? {
            plan.push(backend.flush());
        }
    }
    plan.execute_all(mode)
}

/// Refuses an `--out` interface that does not exist in this namespace, or
/// whose name a firewall rule cannot match exactly (iptables reads a
/// trailing `+` as a wildcard, nft a `*`; quotes would break the script).
fn check_out(out: &IfName) -> Result<(), Error> {
    if let Some(c) = out
        .as_str()
        .chars()
        .find(|c| matches!(c, '"' | '\'' | '\\' | '*' | '+') || c.is_control())
    {
        return Err(Error::usage(format!(
            "invalid interface for --out '{}': a firewall rule cannot match '{}' exactly",
            out.as_str().escape_debug(),
            c.escape_debug()
        )));
    }
    // /proc/net is this namespace's view (unlike /sys, which shows the
    // namespace that mounted it).
    let dev = std::fs::read_to_string("/proc/net/dev")
        .map_err(|e| Error::io("cannot list interfaces", &e))?;
    if interfaces(&dev).any(|name| name == out.as_str()) {
        Ok(())
    } else {
        Err(Error::failed(format!(
            "cannot use --out {out}: no such interface (see ip link)"
        )))
    }
}

/// The interface names in /proc/net/dev.
fn interfaces(dev: &str) -> impl Iterator<Item = &str> {
    dev.lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(name, _)| name.trim())
        .filter(|name| !name.contains('|'))
}

fn forwarding_is_on(family: Family) -> bool {
    std::fs::read_to_string(family.forwarding_sysctl()).is_ok_and(|v| v.trim() == "1")
}

/// Turns forwarding on for the family, in this network namespace only.
/// Left on by del: other containers or programs may rely on it.
fn enable_forwarding(family: Family) -> Result<(), Error> {
    if forwarding_is_on(family) {
        return Ok(());
    }
    std::fs::write(family.forwarding_sysctl(), "1\n").map_err(|e| {
        Error::io(
            format!(
                "cannot turn on {} forwarding: {}",
                family.name(),
                family.forwarding_sysctl()
            ),
            &e,
        )
    })
}

/// Holds natctl's lock until dropped; none in dry-run mode, which changes
/// nothing.
fn lock(mode: Mode) -> Result<Option<nix::fcntl::Flock<std::fs::File>>, Error> {
    use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
    if mode == Mode::DryRun {
        return Ok(None);
    }
    let fail = |e: &std::io::Error| Error::io(format!("cannot lock {LOCK_PATH}"), e);
    let dir = std::path::Path::new(LOCK_PATH)
        .parent()
        .expect("the lock has a folder");
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(0o755)
        .create(dir)
        .map_err(|e| fail(&e))?;
    // Opened for writing, so only who may change the firewall can hold it.
    let file = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(LOCK_PATH)
        .map_err(|e| fail(&e))?;
    nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map(Some)
        .map_err(|(_, errno)| Error::os(format!("cannot lock {LOCK_PATH}"), errno))
}

#[cfg(test)]
mod tests;
