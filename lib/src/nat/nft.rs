//! The nft backend: natctl's own tables `ip nsnet` and `ip6 nsnet`, each
//! with a `postrouting` chain (masquerade) and a `forward` chain
//! (isolation), every rule marked `comment "nsnet:SUBNET"`.
//!
//! For SUBNET S (`ip` becomes `ip6` for IPv6), add installs:
//!
//! ```text
//! forward:     ip daddr S ip saddr != S ct state ! established,related drop
//! postrouting: ip saddr S ip daddr != S [oifname "IFACE"] masquerade
//! ```
//!
//! No accept rules: in nftables an accept ends only the chain it is in, so
//! accepting here would not help against another table's drop, and a drop
//! (final everywhere) is order-independent between subnets.

use super::{parse_tag, tag, Backend, Entry, Family, Masquerade, NatBackend, Seen, Transaction};
use crate::cidr::Subnet;
use crate::error::Error;
use crate::name::IfName;
use crate::run::{self, Command};
use std::fmt::Write as _;

/// The name of natctl's table in both families.
pub const TABLE: &str = "nsnet";
pub const POSTROUTING: &str = "postrouting";
pub const FORWARD: &str = "forward";

/// One rule of natctl's table, as `nft -a list table` shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftRule {
    pub chain: String,
    pub handle: u64,
    /// The subnet its `nsnet:` comment names.
    pub subnet: Option<Subnet>,
    pub out: Option<IfName>,
    pub masquerade: bool,
}

/// natctl's table of one family, as read from the kernel.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftTable {
    family: Family,
    exists: bool,
    chains: Vec<String>,
    rules: Vec<NftRule>,
}

/// The text between `key "` and the next quote: `comment "nsnet:…"`.
fn quoted_after<'a>(line: &'a str, key: &str) -> Option<&'a str> {
    let start = line.find(key)? + key.len();
    let rest = &line[start..];
    Some(&rest[..rest.find('"')?])
}

impl NftTable {
    /// An absent table: nothing installed yet.
    pub fn empty(family: Family) -> NftTable {
        NftTable {
            family,
            exists: false,
            chains: Vec::new(),
            rules: Vec::new(),
        }
    }

    /// Reads the table with one `nft -a list table`. An absent table is
    /// read as empty; nft missing or failing otherwise says so.
    pub fn load(family: Family) -> Seen<NftTable> {
        if !run::NFT.is_installed() {
            return Seen::NotInstalled;
        }
        let out = Command::new(run::NFT, ["-a", "list", "table", family.nft(), TABLE]).output();
        match out {
            Err(e) => Seen::Unusable(e),
            Ok(out) if out.success => Seen::Read(NftTable::parse(family, &out.stdout)),
            Ok(out) if out.stderr.contains("No such file or directory") => {
                Seen::Read(NftTable::empty(family))
            }
            Ok(out) => Seen::Unusable(Error::failed(format!(
                "cannot read nft table {} {TABLE}: {}",
                family.nft(),
                super::failure_words(&out.stderr)
            ))),
        }
    }

    /// Parses `nft -a list table FAMILY nsnet` output.
    pub fn parse(family: Family, text: &str) -> NftTable {
        let mut table = NftTable::empty(family);
        let mut chain: Option<String> = None;
        for line in text.lines().map(str::trim) {
            if line.starts_with("table ") {
                table.exists = true;
            } else if let Some(rest) = line.strip_prefix("chain ") {
                let name = rest.split_whitespace().next().unwrap_or_default();
                table.chains.push(name.to_string());
                chain = Some(name.to_string());
            } else if line == "}" || line.starts_with("type ") {
                continue;
            } else if let (Some(chain), Some((rule, handle))) =
                (&chain, line.rsplit_once("# handle "))
            {
                let Ok(handle) = handle.trim().parse() else {
                    continue;
                };
                table.rules.push(NftRule {
                    chain: chain.clone(),
                    handle,
                    subnet: quoted_after(rule, "comment \"").and_then(parse_tag),
                    out: quoted_after(rule, "oifname \"").and_then(|n| n.parse().ok()),
                    masquerade: rule.split_whitespace().any(|w| w == "masquerade"),
                });
            }
        }
        table
    }

    pub fn rules(&self) -> &[NftRule] {
        &self.rules
    }

    fn marked(&self) -> impl Iterator<Item = &NftRule> {
        self.rules.iter().filter(|r| r.subnet.is_some())
    }

    fn of<'a>(&'a self, subnets: &'a [Subnet]) -> impl Iterator<Item = &'a NftRule> + 'a {
        self.rules
            .iter()
            .filter(|r| r.subnet.is_some_and(|s| subnets.contains(&s)))
    }

    fn transaction(what: String, script: String) -> Transaction {
        Transaction {
            what,
            command: Command::new(run::NFT, ["-f", "-"]).with_stdin(script),
        }
    }
}

impl NatBackend for NftTable {
    fn entries(&self) -> Vec<Entry> {
        self.marked()
            .filter(|r| r.chain == POSTROUTING && r.masquerade)
            .map(|r| Entry {
                subnet: r.subnet.expect("marked"),
                out: r.out.clone(),
                backend: Backend::Nft,
            })
            .collect()
    }

    fn has_rules_for(&self, subnet: &Subnet) -> bool {
        self.of(std::slice::from_ref(subnet)).next().is_some()
    }

    fn install(&self, rule: &Masquerade) -> Transaction {
        let f = self.family.nft();
        let s = &rule.subnet;
        let mark = tag(s);
        let mut script = String::new();
        if !self.exists {
            let _ = writeln!(script, "add table {f} {TABLE}");
        }
        if !self.chains.iter().any(|c| c == POSTROUTING) {
            let _ = writeln!(
                script,
                "add chain {f} {TABLE} {POSTROUTING} {{ type nat hook postrouting priority srcnat; policy accept; }}"
            );
        }
        if !self.chains.iter().any(|c| c == FORWARD) {
            let _ = writeln!(
                script,
                "add chain {f} {TABLE} {FORWARD} {{ type filter hook forward priority filter; policy accept; }}"
            );
        }
        for old in self.of(std::slice::from_ref(s)) {
            let _ = writeln!(
                script,
                "delete rule {f} {TABLE} {} handle {}",
                old.chain, old.handle
            );
        }
        let _ = writeln!(
            script,
            "add rule {f} {TABLE} {FORWARD} {f} daddr {s} {f} saddr != {s} ct state ! established,related drop comment \"{mark}\""
        );
        let oif = rule
            .out
            .as_ref()
            .map(|o| format!(" oifname \"{o}\""))
            .unwrap_or_default();
        let _ = writeln!(
            script,
            "add rule {f} {TABLE} {POSTROUTING} {f} saddr {s} {f} daddr != {s}{oif} masquerade comment \"{mark}\""
        );
        NftTable::transaction(format!("add {s} with nft"), script)
    }

    fn remove(&self, subnets: &[Subnet]) -> Option<Transaction> {
        let doomed: Vec<&NftRule> = self.of(subnets).collect();
        if doomed.is_empty() {
            return None;
        }
        let f = self.family.nft();
        let names: Vec<String> = subnets
            .iter()
            .filter(|s| self.has_rules_for(s))
            .map(Subnet::to_string)
            .collect();
        let what = format!("remove {} from nft", names.join(", "));
        // The last marked rule takes the table with it.
        if self.marked().count() == doomed.len() {
            return Some(NftTable::transaction(
                what,
                format!("delete table {f} {TABLE}\n"),
            ));
        }
        let script = doomed
            .iter()
            .map(|r| format!("delete rule {f} {TABLE} {} handle {}\n", r.chain, r.handle))
            .collect();
        Some(NftTable::transaction(what, script))
    }

    fn flush(&self) -> Option<Transaction> {
        self.exists.then(|| {
            NftTable::transaction(
                format!("delete nft table {} {TABLE}", self.family.nft()),
                format!("delete table {} {TABLE}\n", self.family.nft()),
            )
        })
    }
}
