//! The nft backend: natctl's own tables `ip nsnet` and `ip6 nsnet`, whose
//! rules never change once made. Subnets and published ports are elements
//! of the table's sets and maps, so adding one is adding elements, and the
//! rule count stays what it is with none or thousands:
//!
//! ```text
//! set nets       { type ipv4_addr . ipv4_addr; flags interval; }   S . S for every subnet
//! set masq       { type ipv4_addr . ipv4_addr; flags interval; }   S . S, masqueraded out of any interface
//! set masq_out   { type ipv4_addr . ifname; flags interval; }      S . IFACE, masqueraded out of IFACE only
//! map ports      { type inet_proto . inet_service : ipv4_addr . inet_service; }
//! map hostports  { type inet_proto . ipv4_addr . inet_service : ipv4_addr . inet_service; }
//! set owners_KEY { type mark . mark . mark; }                      PID . start (high, low), per owned entry
//!
//! prerouting, output (nat):  fib daddr type local dnat ip to meta l4proto [. ip daddr] . th dport map @[host]ports
//! postrouting (nat):         ct status dnat ip saddr 127.0.0.0/8 masquerade          (IPv4: 127.0.0.1 reaches a published port)
//!                            ct status dnat ip saddr . ip daddr @nets masquerade     (hairpin: replies come back through the host)
//!                            ip saddr . ip daddr @nets return                        (inside a subnet: no masquerade)
//!                            ip saddr . oifname @masq_out masquerade
//!                            ip saddr . ip saddr @masq masquerade
//! forward (filter):          ct state ! established,related ct status ! dnat ip daddr . ip daddr @nets ip saddr . ip daddr != @nets drop
//! input (filter, IPv4):      iifname != "lo" ip daddr 127.0.0.0/8 ct status ! dnat drop
//! ```
//!
//! Keys that hold a subnet are concatenations even where one field would
//! do: the kernel keeps concatenated intervals in one element with a start
//! and an end, which natctl writes and reads back as they are.
//!
//! Every rule carries a comment `nsnet:ROLE`; a rule without it in one of
//! these chains is another program's and is never removed. The table is
//! created by `nft -f` (the one time it needs rules written); everything
//! else — reading, adding and removing elements, tearing down — is sent as
//! one netlink batch from natctl itself (`nftnl`).

mod element;
pub mod json;

pub use element::{Element, Field, Found};

use super::entry::{Key, Masquerade, PortKey, Publish, Rule};
use super::nftnl::{Nl, Request};
use super::owner::Owner;
use super::{Family, MARK};
use crate::error::Error;
use crate::port::{Dest, PortRange, Proto};
use ipnet::IpNet;
use netlink_packet_core::{DefaultNla, NLM_F_CREATE};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, ListAttribute, NfTablesMessage, RuleAttribute, RuleMessage,
    SetAttribute, SetElementAttribute, SetElementList, SetElementMessage, SetFlags, SetMessage,
    TableAttribute, TableMessage,
};
use std::fmt::Write as _;
use std::net::IpAddr;

/// The name of natctl's table in both families.
pub const TABLE: &str = "nsnet";
/// Owner sets are named this, then the entry's key.
pub const OWNERS: &str = "owners_";

/// natctl's sets and maps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Set {
    Nets,
    Masq,
    MasqOut,
    Ports,
    HostPorts,
}

impl Set {
    pub const ALL: [Set; 5] = [
        Set::Nets,
        Set::Masq,
        Set::MasqOut,
        Set::Ports,
        Set::HostPorts,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Set::Nets => "nets",
            Set::Masq => "masq",
            Set::MasqOut => "masq_out",
            Set::Ports => "ports",
            Set::HostPorts => "hostports",
        }
    }

    pub fn interval(self) -> bool {
        matches!(self, Set::Nets | Set::Masq | Set::MasqOut)
    }

    /// `set` or `map`, and the body that declares it.
    fn declaration(self, family: Family) -> (&'static str, String) {
        let a = addr_type(family);
        match self {
            Set::Nets | Set::Masq => ("set", format!("{{ type {a} . {a}; flags interval; }}")),
            Set::MasqOut => ("set", format!("{{ type {a} . ifname; flags interval; }}")),
            Set::Ports => (
                "map",
                format!("{{ type inet_proto . inet_service : {a} . inet_service; }}"),
            ),
            Set::HostPorts => (
                "map",
                format!("{{ type inet_proto . {a} . inet_service : {a} . inet_service; }}"),
            ),
        }
    }
}

fn addr_type(family: Family) -> &'static str {
    match family {
        Family::V4 => "ipv4_addr",
        Family::V6 => "ipv6_addr",
    }
}

/// natctl's chains of a family and how each is hooked.
fn chains(family: Family) -> Vec<(&'static str, &'static str)> {
    let mut chains = vec![
        (
            "prerouting",
            "type nat hook prerouting priority dstnat; policy accept;",
        ),
        // The output hook takes no named nat priority: dstnat is -100.
        (
            "output",
            "type nat hook output priority -100; policy accept;",
        ),
        (
            "postrouting",
            "type nat hook postrouting priority srcnat; policy accept;",
        ),
        (
            "forward",
            "type filter hook forward priority filter; policy accept;",
        ),
    ];
    if family == Family::V4 {
        chains.push((
            "input",
            "type filter hook input priority filter; policy accept;",
        ));
    }
    chains
}

/// natctl's rules of a family, in order: chain, comment, rule.
pub fn rules(family: Family) -> Vec<(&'static str, String, String)> {
    let f = family.nft();
    let mut rules = Vec::new();
    for chain in ["prerouting", "output"] {
        // The kernel cannot send ::1 anywhere but the host itself: left
        // alone, a client of [::1]:PORT is refused at once (and curl
        // moves on to 127.0.0.1) instead of waiting for a lost packet.
        let local = if family == Family::V6 && chain == "output" {
            "ip6 daddr != ::1 fib daddr type local"
        } else {
            "fib daddr type local"
        };
        rules.push((
            chain,
            "publish-host",
            format!("{local} dnat {f} to meta l4proto . {f} daddr . th dport map @hostports"),
        ));
        rules.push((
            chain,
            "publish",
            format!("{local} dnat {f} to meta l4proto . th dport map @ports"),
        ));
    }
    if family == Family::V4 {
        rules.push((
            "postrouting",
            "localhost",
            "ct status dnat ip saddr 127.0.0.0/8 masquerade".to_string(),
        ));
    }
    rules.push((
        "postrouting",
        "hairpin",
        format!("ct status dnat {f} saddr . {f} daddr @nets masquerade"),
    ));
    rules.push((
        "postrouting",
        "inside",
        format!("{f} saddr . {f} daddr @nets return"),
    ));
    rules.push((
        "postrouting",
        "masquerade-out",
        format!("{f} saddr . oifname @masq_out masquerade"),
    ));
    rules.push((
        "postrouting",
        "masquerade",
        format!("{f} saddr . {f} saddr @masq masquerade"),
    ));
    rules.push((
        "forward",
        "isolate",
        format!(
            "ct state ! established,related ct status ! dnat {f} daddr . {f} daddr @nets {f} saddr . {f} daddr != @nets drop"
        ),
    ));
    if family == Family::V4 {
        // 127.0.0.1 reaching a published port needs route_localnet on the
        // destination's interface; this keeps that interface from letting
        // anything else reach the host's loopback.
        rules.push((
            "input",
            "loopback",
            "iifname != \"lo\" ip daddr 127.0.0.0/8 ct status ! dnat drop".to_string(),
        ));
    }
    rules
        .into_iter()
        .map(|(chain, role, rule)| (chain, format!("{MARK}{role}"), rule))
        .collect()
}

/// One rule of natctl's table as the kernel holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub chain: String,
    pub handle: u64,
    /// Its comment, when it has one.
    pub comment: Option<String>,
}

impl RuleInfo {
    pub fn ours(&self) -> bool {
        self.comment.as_deref().is_some_and(|c| c.starts_with(MARK))
    }
}

/// What natctl's table of one family holds besides elements: whether it
/// exists, its chains, its rules, and which of natctl's sets are there.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NftState {
    pub family: Family,
    pub table: bool,
    pub chains: Vec<String>,
    pub rules: Vec<RuleInfo>,
    pub sets: Vec<Set>,
}

fn text_of(attrs: &[TableAttribute]) -> Option<&str> {
    attrs.iter().find_map(|a| match a {
        TableAttribute::Name(n) => Some(n.as_str()),
        _ => None,
    })
}

fn table_attr() -> SetElementList {
    SetElementList::Table(TABLE.to_string())
}

impl NftState {
    /// An absent table.
    pub fn empty(family: Family) -> NftState {
        NftState {
            family,
            table: false,
            chains: Vec::new(),
            rules: Vec::new(),
            sets: Vec::new(),
        }
    }

    /// Reads the table's chains, rules and natctl's sets: a few requests
    /// whose answers do not grow with the subnets or ports held.
    pub fn read(nl: &mut Nl, family: Family) -> Result<NftState, Error> {
        let what = format!("read nft table {} {TABLE}", family.nft());
        let mut state = NftState::empty(family);
        let table = nl.get(
            family,
            NfTablesMessage::GetTable(TableMessage {
                attributes: vec![TableAttribute::Name(TABLE.into())],
            }),
            &what,
        )?;
        state.table = matches!(&table, Some(NfTablesMessage::NewTable(t)) if text_of(&t.attributes) == Some(TABLE));
        if !state.table {
            return Ok(state);
        }
        for m in nl.dump(
            family,
            NfTablesMessage::GetChain(ChainMessage { attributes: vec![] }),
            &what,
        )? {
            if let NfTablesMessage::NewChain(c) = m {
                let mut table = None;
                let mut name = None;
                for a in c.attributes {
                    match a {
                        ChainAttribute::Table(t) => table = Some(t),
                        ChainAttribute::Name(n) => name = Some(n),
                        _ => {}
                    }
                }
                if table.as_deref() == Some(TABLE) {
                    state.chains.extend(name);
                }
            }
        }
        let rules = NfTablesMessage::GetRule(RuleMessage {
            attributes: vec![RuleAttribute::Table(TABLE.into())],
        });
        for m in nl.dump(family, rules, &what)? {
            if let NfTablesMessage::NewRule(r) = m {
                let mut info = RuleInfo {
                    chain: String::new(),
                    handle: 0,
                    comment: None,
                };
                let mut table = None;
                for a in r.attributes {
                    match a {
                        RuleAttribute::Table(t) => table = Some(t),
                        RuleAttribute::Chain(c) => info.chain = c,
                        RuleAttribute::Handle(h) => info.handle = h,
                        RuleAttribute::UserData(u) => info.comment = super::nftnl::comment(&u),
                        _ => {}
                    }
                }
                if table.as_deref() == Some(TABLE) {
                    state.rules.push(info);
                }
            }
        }
        for set in Set::ALL {
            if set_exists(nl, family, set.name(), &what)? {
                state.sets.push(set);
            }
        }
        Ok(state)
    }

    /// Whether every chain, rule and set of natctl's is there.
    pub fn complete(&self) -> bool {
        self.table
            && chains(self.family)
                .iter()
                .all(|(c, _)| self.chains.iter().any(|have| have == c))
            && self.sets.len() == Set::ALL.len()
            && rules(self.family).iter().all(|(chain, mark, _)| {
                self.rules
                    .iter()
                    .filter(|r| r.chain == *chain && r.comment.as_deref() == Some(mark.as_str()))
                    .count()
                    == 1
            })
    }

    /// The `nft -f` script that makes the table complete, adding `first`'s
    /// elements in the same transaction. Rules already there are removed
    /// and written again, so their order is natctl's.
    pub fn create(&self, first: &[Op]) -> String {
        let f = self.family.nft();
        let mut s = String::new();
        let _ = writeln!(s, "add table {f} {TABLE}");
        for set in Set::ALL {
            let (kind, body) = set.declaration(self.family);
            let _ = writeln!(s, "add {kind} {f} {TABLE} {} {body}", set.name());
        }
        for (chain, hook) in chains(self.family) {
            let _ = writeln!(s, "add chain {f} {TABLE} {chain} {{ {hook} }}");
        }
        for r in self.rules.iter().filter(|r| r.ours()) {
            let _ = writeln!(s, "delete rule {f} {TABLE} {} handle {}", r.chain, r.handle);
        }
        for (chain, mark, rule) in rules(self.family) {
            let _ = writeln!(s, "add rule {f} {TABLE} {chain} {rule} comment \"{mark}\"");
        }
        for op in first {
            s.push_str(&op.text(self.family));
        }
        s
    }

    /// The batch that removes natctl's table, or as much of it as holds
    /// nothing of another program: natctl's rules, sets and owner sets,
    /// then each chain left empty, then the table if nothing else is in it.
    pub fn teardown(&self, nl: &mut Nl) -> Result<Vec<Op>, Error> {
        if !self.table {
            return Ok(Vec::new());
        }
        let what = format!("read nft table {} {TABLE}", self.family.nft());
        let mut ops: Vec<Op> = self
            .rules
            .iter()
            .filter(|r| r.ours())
            .map(|r| Op::DelRule {
                chain: r.chain.clone(),
                handle: r.handle,
            })
            .collect();
        let mut foreign_sets = false;
        let sets = NfTablesMessage::GetSet(SetMessage {
            attributes: vec![SetAttribute::Table(TABLE.into())],
        });
        for m in nl.dump(self.family, sets, &what)? {
            if let NfTablesMessage::NewSet(s) = m {
                let name = s.attributes.iter().find_map(|a| match a {
                    SetAttribute::Name(n) => Some(n.clone()),
                    _ => None,
                });
                let table = s.attributes.iter().find_map(|a| match a {
                    SetAttribute::Table(t) => Some(t.clone()),
                    _ => None,
                });
                match (table.as_deref(), name) {
                    (Some(TABLE), Some(name))
                        if name.starts_with(OWNERS)
                            || Set::ALL.iter().any(|s| s.name() == name) =>
                    {
                        ops.push(Op::DelSet { name })
                    }
                    (Some(TABLE), Some(_)) => foreign_sets = true,
                    _ => {}
                }
            }
        }
        let ours: Vec<&str> = chains(self.family).iter().map(|(c, _)| *c).collect();
        let mut foreign_chains = false;
        for chain in &self.chains {
            let foreign_rules = self.rules.iter().any(|r| &r.chain == chain && !r.ours());
            if ours.contains(&chain.as_str()) && !foreign_rules {
                ops.push(Op::DelChain {
                    name: chain.clone(),
                });
            } else {
                foreign_chains = true;
            }
        }
        if !foreign_sets && !foreign_chains && !self.holds_objects(nl, &what)? {
            ops.push(Op::DelTable);
        }
        Ok(ops)
    }

    /// Whether the table holds stateful objects or flowtables (another
    /// program's: natctl makes none).
    fn holds_objects(&self, nl: &mut Nl, what: &str) -> Result<bool, Error> {
        // NFTA_OBJ_TABLE and NFTA_FLOWTABLE_TABLE are both attribute 1.
        let table = || vec![DefaultNla::new(1, format!("{TABLE}\0").into_bytes())];
        let objects = nl.dump(self.family, NfTablesMessage::GetObject(table()), what)?;
        let flowtables = nl.dump(self.family, NfTablesMessage::GetFlowTable(table()), what)?;
        Ok(!objects.is_empty() || !flowtables.is_empty())
    }
}

fn set_exists(nl: &mut Nl, family: Family, name: &str, what: &str) -> Result<bool, Error> {
    let found = nl.get(
        family,
        NfTablesMessage::GetSet(SetMessage {
            attributes: vec![
                SetAttribute::Table(TABLE.into()),
                SetAttribute::Name(name.into()),
            ],
        }),
        what,
    )?;
    Ok(found.is_some())
}

fn elements_of(m: NfTablesMessage) -> Vec<Found> {
    let NfTablesMessage::NewSetElement(m) = m else {
        return Vec::new();
    };
    let mut found = Vec::new();
    for attr in m.attributes {
        if let SetElementList::Elements(list) = attr {
            for item in list {
                if let ListAttribute::Element(attrs) = item {
                    found.push(Found::from_attributes(&attrs));
                }
            }
        }
    }
    found
}

/// The element of `set` that holds `element`'s key (for an interval set,
/// the one whose range holds its start), if any.
pub fn lookup(
    nl: &mut Nl,
    family: Family,
    set: &str,
    interval: bool,
    element: &Element,
) -> Result<Option<Found>, Error> {
    let request = NfTablesMessage::GetSetElement(SetElementMessage {
        attributes: vec![
            table_attr(),
            SetElementList::Set(set.into()),
            SetElementList::Elements(vec![ListAttribute::Element(
                element.attributes(interval, true),
            )]),
        ],
    });
    let what = format!("read nft set {} {TABLE} {set}", family.nft());
    Ok(nl
        .get(family, request, &what)?
        .and_then(|m| elements_of(m).into_iter().next()))
}

/// Every element of a set; `None` when there is no such set.
pub fn elements(nl: &mut Nl, family: Family, set: &str) -> Result<Option<Vec<Found>>, Error> {
    let what = format!("read nft set {} {TABLE} {set}", family.nft());
    if !set_exists(nl, family, set, &what)? {
        return Ok(None);
    }
    let request = NfTablesMessage::GetSetElement(SetElementMessage {
        attributes: vec![table_attr(), SetElementList::Set(set.into())],
    });
    Ok(Some(
        nl.dump(family, request, &what)?
            .into_iter()
            .flat_map(elements_of)
            .collect(),
    ))
}

/// Whether a set holds an element that is not one of `leaving`. Stops at
/// the first such element, so the cost does not grow with the set.
pub fn holds_other(family: Family, set: Set, leaving: &[Element]) -> Result<bool, Error> {
    let what = format!("read nft set {} {TABLE} {}", family.nft(), set.name());
    let request = NfTablesMessage::GetSetElement(SetElementMessage {
        attributes: vec![table_attr(), SetElementList::Set(set.name().into())],
    });
    Nl::any(family, request, &what, |m| {
        elements_of(m.clone())
            .iter()
            .any(|f| !leaving.iter().any(|e| f.is(e, set.interval())))
    })
}

/// One change to natctl's table, written two ways: nft text and a netlink
/// request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Op {
    AddElements {
        set: String,
        interval: bool,
        elements: Vec<Element>,
    },
    DelElements {
        set: String,
        interval: bool,
        elements: Vec<Element>,
    },
    /// An owner set for one entry.
    AddOwners {
        name: String,
    },
    DelSet {
        name: String,
    },
    DelRule {
        chain: String,
        handle: u64,
    },
    DelChain {
        name: String,
    },
    DelTable,
}

/// The user data nft gives a `type mark . mark . mark` set: its key's byte
/// order and how to print it, so `nft list` shows what nft itself would.
const OWNERS_UDATA: [u8; 16] = [0, 4, 0, 0, 0, 0, 3, 8, 0, 4, 13, 0, 0, 0, 1, 0];
/// nft's type number of `mark . mark . mark` (three 6-bit type ids of
/// `mark`, 19) and its length.
const OWNERS_KEY_TYPE: u32 = (19 << 12) | (19 << 6) | 19;
const OWNERS_KEY_LEN: u32 = 12;

impl Op {
    /// The op as a line (or lines) of an nft script.
    pub fn text(&self, family: Family) -> String {
        let f = family.nft();
        let elements = |es: &[Element]| es.iter().map(Element::text).collect::<Vec<_>>().join(", ");
        match self {
            Op::AddElements {
                set, elements: es, ..
            } => {
                format!("add element {f} {TABLE} {set} {{ {} }}\n", elements(es))
            }
            Op::DelElements {
                set, elements: es, ..
            } => {
                // A deletion names keys only.
                let keys: Vec<Element> = es.iter().map(|e| Element::new(e.key.clone())).collect();
                format!(
                    "delete element {f} {TABLE} {set} {{ {} }}\n",
                    elements(&keys)
                )
            }
            Op::AddOwners { name } => {
                format!("add set {f} {TABLE} {name} {{ type mark . mark . mark; }}\n")
            }
            Op::DelSet { name } => format!("delete set {f} {TABLE} {name}\n"),
            Op::DelRule { chain, handle } => {
                format!("delete rule {f} {TABLE} {chain} handle {handle}\n")
            }
            Op::DelChain { name } => format!("delete chain {f} {TABLE} {name}\n"),
            Op::DelTable => format!("delete table {f} {TABLE}\n"),
        }
    }

    fn elements_message(
        set: &str,
        interval: bool,
        elements: &[Element],
        keys_only: bool,
    ) -> SetElementMessage {
        SetElementMessage {
            attributes: vec![
                table_attr(),
                SetElementList::Set(set.into()),
                SetElementList::Elements(
                    elements
                        .iter()
                        .map(|e| {
                            let mut attrs = e.attributes(interval, false);
                            if keys_only {
                                attrs.retain(|a| {
                                    matches!(
                                        a,
                                        SetElementAttribute::Key(_)
                                            | SetElementAttribute::KeyEnd(_)
                                    )
                                });
                            }
                            ListAttribute::Element(attrs)
                        })
                        .collect(),
                ),
            ],
        }
    }

    pub fn request(&self, family: Family) -> Request {
        let (message, flags) = match self {
            Op::AddElements {
                set,
                interval,
                elements,
            } => (
                NfTablesMessage::NewSetElement(Op::elements_message(
                    set, *interval, elements, false,
                )),
                NLM_F_CREATE,
            ),
            Op::DelElements {
                set,
                interval,
                elements,
            } => (
                NfTablesMessage::DeleteSetElement(Op::elements_message(
                    set, *interval, elements, true,
                )),
                0,
            ),
            Op::AddOwners { name } => (
                NfTablesMessage::NewSet(SetMessage {
                    attributes: vec![
                        SetAttribute::Table(TABLE.into()),
                        SetAttribute::Name(name.clone()),
                        SetAttribute::Flags(SetFlags::empty()),
                        SetAttribute::KeyType(OWNERS_KEY_TYPE),
                        SetAttribute::KeyLen(OWNERS_KEY_LEN),
                        SetAttribute::Id(1),
                        SetAttribute::UserData(OWNERS_UDATA.to_vec()),
                    ],
                }),
                NLM_F_CREATE,
            ),
            Op::DelSet { name } => (
                NfTablesMessage::DeleteSet(SetMessage {
                    attributes: vec![
                        SetAttribute::Table(TABLE.into()),
                        SetAttribute::Name(name.clone()),
                    ],
                }),
                0,
            ),
            Op::DelRule { chain, handle } => (
                NfTablesMessage::DeleteRule(RuleMessage {
                    attributes: vec![
                        RuleAttribute::Table(TABLE.into()),
                        RuleAttribute::Chain(chain.clone()),
                        RuleAttribute::Handle(*handle),
                    ],
                }),
                0,
            ),
            Op::DelChain { name } => (
                NfTablesMessage::DeleteChain(ChainMessage {
                    attributes: vec![
                        ChainAttribute::Table(TABLE.into()),
                        ChainAttribute::Name(name.clone()),
                    ],
                }),
                0,
            ),
            Op::DelTable => (
                NfTablesMessage::DeleteTable(TableMessage {
                    attributes: vec![TableAttribute::Name(TABLE.into())],
                }),
                0,
            ),
        };
        Request {
            family,
            message,
            flags,
        }
    }
}

/// The elements that make a masquerade: in which sets, which elements.
pub fn masquerade_elements(m: &Masquerade) -> Vec<(Set, Element)> {
    let net = m.subnet.net();
    let mut nets = Element::new(vec![Field::Net(net), Field::Net(net)]);
    if let Some(out) = &m.out {
        nets = nets.with_comment(format!("out={out}"));
    }
    let way = match &m.out {
        None => (
            Set::Masq,
            Element::new(vec![Field::Net(net), Field::Net(net)]),
        ),
        Some(out) => (
            Set::MasqOut,
            Element::new(vec![Field::Net(net), Field::Name(out.clone())]),
        ),
    };
    vec![(Set::Nets, nets), way]
}

/// The map a publish lives in, and the key of one of its host ports.
fn port_key(key: &PortKey, port: u16) -> (Set, Vec<Field>) {
    match key.host {
        None => (Set::Ports, vec![Field::Proto(key.proto), Field::Port(port)]),
        Some(host) => (
            Set::HostPorts,
            vec![
                Field::Proto(key.proto),
                Field::Addr(host),
                Field::Port(port),
            ],
        ),
    }
}

/// The elements that make a publish: one per host port, each with the
/// range it belongs to as its comment (how the entry is found again).
pub fn publish_elements(p: &Publish) -> (Set, Vec<Element>) {
    let set = port_key(&p.key, p.key.ports.first()).0;
    let elements = p
        .port_map()
        .map(|(host, dest)| {
            Element::new(port_key(&p.key, host).1)
                .with_comment(p.key.ports.to_string())
                .with_data(vec![Field::Addr(p.dest.addr), Field::Port(dest)])
        })
        .collect();
    (set, elements)
}

/// Every (set, elements) of a rule.
pub fn rule_elements(rule: &Rule) -> Vec<(Set, Vec<Element>)> {
    match rule {
        Rule::Masquerade(m) => masquerade_elements(m)
            .into_iter()
            .map(|(s, e)| (s, vec![e]))
            .collect(),
        Rule::Publish(p) => vec![publish_elements(p)],
    }
}

/// The name of an entry's owner set: `owners_10.0.0.0_24`,
/// `owners_tcp_8080`, `owners_udp_53_198.51.100.2`; IPv6 addresses in hex,
/// since nft names cannot hold ':'.
pub fn owners_set(key: &Key) -> String {
    fn addr(a: IpAddr) -> String {
        match a {
            IpAddr::V4(a) => a.to_string(),
            IpAddr::V6(a) => a.octets().iter().map(|b| format!("{b:02x}")).collect(),
        }
    }
    match key {
        Key::Subnet(s) => format!(
            "{OWNERS}{}_{}",
            addr(s.net().network()),
            s.net().prefix_len()
        ),
        Key::Ports(k) => {
            let mut name = format!("{OWNERS}{}_{}", k.proto, k.ports.first());
            if let Some(h) = k.host {
                let _ = write!(name, "_{}", addr(h));
            }
            name
        }
    }
}

/// An owner as an element of an owner set: a process's PID, then its
/// start time's high and low 32 bits; an attachment's 0 (no process has
/// PID 0), then its identity's high and low 32 bits.
pub fn owner_element(o: &Owner) -> Element {
    let (first, wide) = match *o {
        Owner::Process { pid, start } => (pid, start),
        Owner::Attachment(id) => (0, id),
    };
    Element::new(vec![
        Field::Mark(first),
        Field::Mark((wide >> 32) as u32),
        Field::Mark(wide as u32),
    ])
}

/// An owner from the three marks of its element.
pub fn owner_from_marks(first: u32, high: u32, low: u32) -> Owner {
    let wide = (u64::from(high) << 32) | u64::from(low);
    match first {
        0 => Owner::Attachment(wide),
        pid => Owner::Process { pid, start: wide },
    }
}

/// Reads an owner back from an owner set's element.
pub fn owner_of(found: &Found) -> Option<Owner> {
    let mark = |i: usize| -> Option<u32> {
        Some(u32::from_ne_bytes(
            found.key.get(i * 4..i * 4 + 4)?.try_into().ok()?,
        ))
    };
    Some(owner_from_marks(mark(0)?, mark(1)?, mark(2)?))
}

/// The owners of an entry: `None` when it has no owner set (permanent).
pub fn owners(nl: &mut Nl, family: Family, key: &Key) -> Result<Option<Vec<Owner>>, Error> {
    Ok(elements(nl, family, &owners_set(key))?
        .map(|found| found.iter().filter_map(owner_of).collect()))
}

fn addr_len(family: Family) -> usize {
    match family {
        Family::V4 => 4,
        Family::V6 => 16,
    }
}

/// The masquerade whose subnet holds `subnet`'s first address, as found
/// in `nets` (its out interface is the element's comment).
pub fn find_masquerade(
    nl: &mut Nl,
    family: Family,
    subnet: IpNet,
) -> Result<Option<Masquerade>, Error> {
    let probe = Element::new(vec![
        Field::Addr(subnet.network()),
        Field::Addr(subnet.network()),
    ]);
    let Some(found) = lookup(nl, family, Set::Nets.name(), true, &probe)? else {
        return Ok(None);
    };
    Ok(masquerade_from(family, &found))
}

/// A masquerade from its `nets` element.
pub fn masquerade_from(family: Family, found: &Found) -> Option<Masquerade> {
    let n = addr_len(family);
    let first = element::read_addr(found.key.get(..n)?)?;
    let last = element::read_addr(found.end.as_ref()?.get(..n)?)?;
    let net = range_net(first, last)?;
    let out = match found
        .comment
        .as_deref()
        .and_then(|c| c.strip_prefix("out="))
    {
        Some(name) => Some(name.parse().ok()?),
        None => None,
    };
    Some(Masquerade {
        subnet: net.to_string().parse().ok()?,
        out,
    })
}

/// The subnet spanning exactly `first..=last`, if there is one.
fn range_net(first: IpAddr, last: IpAddr) -> Option<IpNet> {
    let bits = match (first, last) {
        (IpAddr::V4(a), IpAddr::V4(b)) => 32 - (u32::from(a) ^ u32::from(b)).count_ones(),
        (IpAddr::V6(a), IpAddr::V6(b)) => 128 - (u128::from(a) ^ u128::from(b)).count_ones(),
        _ => return None,
    };
    let net = IpNet::new(first, bits as u8).ok()?;
    (net.network() == first && net.broadcast() == last).then_some(net)
}

/// The publish that holds host port `port` of `key`'s protocol and host,
/// as found in its map (its range is the element's comment).
pub fn find_publish(
    nl: &mut Nl,
    family: Family,
    key: &PortKey,
    port: u16,
) -> Result<Option<Publish>, Error> {
    let (set, fields) = port_key(key, port);
    let Some(found) = lookup(nl, family, set.name(), false, &Element::new(fields))? else {
        return Ok(None);
    };
    Ok(publish_from(family, key.proto, key.host, port, &found))
}

/// A publish from the element of host port `port`.
pub fn publish_from(
    family: Family,
    proto: Proto,
    host: Option<IpAddr>,
    port: u16,
    found: &Found,
) -> Option<Publish> {
    let n = addr_len(family);
    let data = found.data.as_ref()?;
    let addr = element::read_addr(data.get(..n)?)?;
    let dest_port = u16::from_be_bytes(data.get(n..n + 2)?.try_into().ok()?);
    let ports: PortRange = found.comment.as_deref()?.parse().ok()?;
    let offset = port.checked_sub(ports.first())?;
    let first = dest_port.checked_sub(offset)?;
    let dest = Dest {
        addr,
        ports: PortRange::new(first, first.checked_add((ports.len() - 1) as u16)?)?,
    };
    Publish::new(PortKey { proto, host, ports }, dest).ok()
}
