//! natctl's chains read in-process from nf_tables, where nft-based
//! iptables (`iptables-nft`, Debian's default) keeps its tables: what
//! [`IptState::parse`] makes of `iptables-save`'s text, made of the
//! kernel's answers instead, so that a change starts no `iptables-save`.
//!
//! How iptables-nft (1.8.9) stores what natctl reads, as
//! `nft --debug=netlink list ruleset` shows it:
//!
//! - `-m comment --comment X` is an xt match expression `comment` whose
//!   info is a `struct xt_comment_info` (X, NUL-terminated). A comment in
//!   the rule's user data (`NFTNL_UDATA_RULE_COMMENT`, as nft writes it)
//!   is shown by iptables-save after the rule's matches, as
//!   `-m comment --comment X` too.
//! - `-j CHAIN` alone is a counter and an immediate jump to CHAIN.
//! - iptables-save leaves out a whole table that holds a rule with an
//!   expression it does not know (`# Table 'filter' is incompatible`), and
//!   the base chains that are not its built-in ones. Rather than guess what
//!   it would show then, [`read`] answers `None` and natctl runs it.

use super::{tool, IptState, Saved, CHAINS};
use crate::error::Error;
use crate::nat::nftnl::{c_text, comment, Nl};
use crate::nat::Family;
use netlink_packet_core::{DefaultNla, Nla, NLA_TYPE_MASK};
use netlink_packet_netfilter::nftables::{
    ChainAttribute, ChainMessage, DataAttribute, ExpressionAttribute, Expressions, GenAttribute,
    GenMessage, Hook, HookNumber, Immediate, InetHookNumber, ListAttribute, NfTablesMessage,
    RuleAttribute, RuleMessage, Verdict, VerdictAttribute,
};

/// The expressions iptables-nft shows (its `supported_exprs`). It shows
/// some `limit` and `log` expressions too; a table with any is read with
/// iptables-save.
const SHOWN: [&str; 10] = [
    "match",
    "target",
    "payload",
    "meta",
    "cmp",
    "bitwise",
    "counter",
    "immediate",
    "lookup",
    "range",
];

/// A built-in chain as iptables-nft makes it: a base chain of the type
/// named like its table.
struct Builtin {
    table: &'static str,
    name: &'static str,
    hook: InetHookNumber,
    priority: i32,
}

/// The built-in chains of the tables natctl uses.
const BUILTINS: [Builtin; 7] = [
    Builtin {
        table: "filter",
        name: "INPUT",
        hook: InetHookNumber::LocalIn,
        priority: 0,
    },
    Builtin {
        table: "filter",
        name: "FORWARD",
        hook: InetHookNumber::Forward,
        priority: 0,
    },
    Builtin {
        table: "filter",
        name: "OUTPUT",
        hook: InetHookNumber::LocalOut,
        priority: 0,
    },
    Builtin {
        table: "nat",
        name: "PREROUTING",
        hook: InetHookNumber::PreRouting,
        priority: -100,
    },
    Builtin {
        table: "nat",
        name: "INPUT",
        hook: InetHookNumber::LocalIn,
        priority: 100,
    },
    Builtin {
        table: "nat",
        name: "OUTPUT",
        hook: InetHookNumber::LocalOut,
        priority: -100,
    },
    Builtin {
        table: "nat",
        name: "POSTROUTING",
        hook: InetHookNumber::PostRouting,
        priority: 100,
    },
];

/// `NF_DROP`, a base chain's policy.
const NF_DROP: u32 = 0;
/// The attributes of an xt match expression: `NFTA_MATCH_NAME`,
/// `NFTA_MATCH_INFO`.
const MATCH_NAME: u16 = 1;
const MATCH_INFO: u16 = 3;
/// Reads are done again when the rule set changed while they ran, up to
/// this many times.
const TRIES: usize = 8;

/// The tables natctl's chains are in.
fn tables() -> impl Iterator<Item = &'static str> {
    let mut tables: Vec<&str> = CHAINS.iter().map(|c| c.table).collect();
    tables.dedup();
    tables.into_iter()
}

/// natctl's chains of `family` and the FORWARD policy, as iptables-save
/// would show them; `None` when it would not show them as stored (see the
/// module's doc). When natctl has no chain, a lookup of each by name and
/// of FORWARD; otherwise one chain dump and one rule dump per table, each
/// rule read as it comes, between two reads of the rule set's generation,
/// so that they agree.
pub fn read(family: Family) -> Result<Option<IptState>, Error> {
    let what = format!("read the {} rules", tool(family));
    let mut nl = Nl::open()?;
    if let Some(forward_drops) = none_of_ours(&mut nl, family, &what)? {
        return Ok(Some(IptState {
            forward_drops,
            ..IptState::empty(family)
        }));
    }
    for _ in 0..TRIES {
        let before = generation(&mut nl, family, &what)?;
        let mut reading = Reading::default();
        let mut whole = nl.each(
            family,
            NfTablesMessage::GetChain(ChainMessage { attributes: vec![] }),
            &what,
            |m| reading.add(&m),
        )?;
        for table in tables() {
            whole &= nl.each(
                family,
                NfTablesMessage::GetRule(RuleMessage {
                    attributes: vec![RuleAttribute::Table(table.into())],
                }),
                &what,
                |m| reading.add(&m),
            )?;
        }
        if whole && generation(&mut nl, family, &what)? == before {
            return Ok(reading.state(family));
        }
    }
    Err(Error::failed(format!(
        "cannot {what}: the rules kept changing while natctl read them"
    )))
}

/// Whether FORWARD's policy drops, when none of natctl's chains exists
/// (the common case, nft holding natctl's rules); `None` when one does.
/// Without a chain of natctl's there is no rule of its, nor a jump to one:
/// the policy is all there is to know, and a lookup of each chain by name
/// finds it out without reading the chains and rules of every other
/// program, which on a host with many is what a read would cost.
fn none_of_ours(nl: &mut Nl, family: Family, what: &str) -> Result<Option<bool>, Error> {
    let mut get = |table: &str, chain: &str| {
        nl.get(
            family,
            NfTablesMessage::GetChain(ChainMessage {
                attributes: vec![
                    ChainAttribute::Table(table.into()),
                    ChainAttribute::Name(chain.into()),
                ],
            }),
            what,
        )
    };
    for c in CHAINS {
        if get(c.table, c.name)?.is_some() {
            return Ok(None);
        }
    }
    let forward = match get("filter", "FORWARD")? {
        Some(NfTablesMessage::NewChain(c)) => chain(&c),
        _ => None,
    };
    Ok(Some(matches!(
        forward,
        Some(Some(Saved::Chain { drops: true, .. }))
    )))
}

/// The rule set's generation, which every committed change moves on.
fn generation(nl: &mut Nl, family: Family, what: &str) -> Result<Option<u32>, Error> {
    let answer = nl.get(
        family,
        NfTablesMessage::GetGen(GenMessage { attributes: vec![] }),
        what,
    )?;
    Ok(match answer {
        Some(NfTablesMessage::NewGen(g)) => g.attributes.iter().find_map(|a| match a {
            GenAttribute::Id(id) => Some(*id),
            _ => None,
        }),
        _ => None,
    })
}

/// The kernel's answers (chains and rules of the family, in its order)
/// as iptables-save would show them, as they come.
#[derive(Debug, Default)]
struct Reading {
    saved: Vec<Saved>,
    /// Something iptables-save would not show as stored was seen.
    hidden: bool,
}

impl Reading {
    fn add(&mut self, m: &NfTablesMessage) {
        let shown = match m {
            NfTablesMessage::NewChain(c) => chain(c),
            NfTablesMessage::NewRule(r) => rule(r),
            _ => Some(None),
        };
        match shown {
            Some(s) => self.saved.extend(s),
            None => self.hidden = true,
        }
    }

    /// natctl's chains, unless something iptables-save would not show as
    /// stored was seen.
    fn state(self, family: Family) -> Option<IptState> {
        (!self.hidden).then(|| IptState::build(family, self.saved))
    }
}

fn in_our_tables(table: &str) -> bool {
    CHAINS.iter().any(|c| c.table == table)
}

/// A chain as iptables-save shows it: `Some(None)` when not in natctl's
/// tables, `None` when it is a base chain iptables-nft does not show.
fn chain(c: &ChainMessage) -> Option<Option<Saved>> {
    let (mut table, mut name, mut kind, mut policy) = ("", "", "", None);
    let (mut hook, mut priority) = (None, None);
    for a in &c.attributes {
        match a {
            ChainAttribute::Table(t) => table = t,
            ChainAttribute::Name(n) => name = n,
            ChainAttribute::Type(t) => kind = t,
            ChainAttribute::Policy(p) => policy = Some(*p),
            ChainAttribute::Hook(h) => {
                for h in h {
                    match h {
                        Hook::Number(HookNumber::Inet(n)) => hook = Some(*n),
                        Hook::Priority(p) => priority = Some(*p as i32),
                        _ => {}
                    }
                }
            }
            _ => {}
        }
    }
    if !in_our_tables(table) {
        return Some(None);
    }
    if let Some(hook) = hook {
        let builtin = BUILTINS.iter().any(|b| {
            b.table == table
                && b.name == name
                && b.hook == hook
                && Some(b.priority) == priority
                && kind == table
        });
        if !builtin {
            return None;
        }
    }
    Some(Some(Saved::Chain {
        table: table.into(),
        name: name.into(),
        drops: policy == Some(NF_DROP),
    }))
}

/// A rule as iptables-save shows it: `Some(None)` when not in natctl's
/// tables, `None` when it holds an expression iptables-nft does not show.
fn rule(r: &RuleMessage) -> Option<Option<Saved>> {
    let (mut table, mut chain) = ("", "");
    let mut user_comment = None;
    let mut expressions: &[ListAttribute<ExpressionAttribute>] = &[];
    for a in &r.attributes {
        match a {
            RuleAttribute::Table(t) => table = t,
            RuleAttribute::Chain(c) => chain = c,
            RuleAttribute::UserData(u) => user_comment = comment(u),
            RuleAttribute::Expressions(e) => expressions = e,
            _ => {}
        }
    }
    if !in_our_tables(table) {
        return Some(None);
    }
    let mut match_comment = None;
    let mut target = None;
    let mut others = 0;
    for e in expressions {
        let ListAttribute::Element(attrs) = e else {
            return None;
        };
        let mut name = "";
        let mut data = None;
        for a in attrs {
            match a {
                ExpressionAttribute::Name(n) => name = n,
                ExpressionAttribute::Data(d) => data = Some(d),
                _ => {}
            }
        }
        if !SHOWN.contains(&name) {
            return None;
        }
        match (name, data) {
            ("counter", _) => {}
            ("immediate", Some(Expressions::Immediate(i))) if target.is_none() => match jump(i) {
                Some(t) => target = Some(t),
                None => others += 1,
            },
            ("match", Some(Expressions::Other { attributes, .. })) => {
                others += 1;
                if match_comment.is_none() {
                    match_comment = xt_comment(attributes);
                }
            }
            _ => others += 1,
        }
    }
    // iptables-save shows the user data's comment after the matches.
    let comment = match_comment.or(user_comment);
    let bare = others == 0 && comment.is_none();
    Some(Some(Saved::Rule {
        table: table.into(),
        chain: chain.into(),
        jump: target.filter(|_| bare).map(str::to_string),
        comment,
    }))
}

/// The chain an immediate expression jumps to, if it is a jump.
fn jump(immediate: &[Immediate]) -> Option<&str> {
    immediate.iter().find_map(|i| match i {
        Immediate::Data(DataAttribute::Verdict(v)) => {
            if !v.contains(&VerdictAttribute::Code(Verdict::Jump)) {
                return None;
            }
            v.iter().find_map(|a| match a {
                VerdictAttribute::Chain(c) => Some(c.as_str()),
                _ => None,
            })
        }
        _ => None,
    })
}

/// The text of an xt `comment` match (its info is `struct
/// xt_comment_info`, the text NUL-terminated); `None` for another match.
fn xt_comment(attributes: &[DefaultNla]) -> Option<String> {
    let value = |kind: u16| {
        attributes
            .iter()
            .find(|a| a.kind() & NLA_TYPE_MASK == kind)
            .map(|a| {
                let mut v = vec![0; a.value_len()];
                a.emit_value(&mut v);
                v
            })
    };
    if c_text(&value(MATCH_NAME)?) != "comment" {
        return None;
    }
    Some(c_text(&value(MATCH_INFO)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::nat::iptables::{ChainState, FORWARD, POSTROUTING};
    use netlink_packet_netfilter::nftables::{Cmp, Register};

    fn expr(name: &str, data: Expressions) -> ListAttribute<ExpressionAttribute> {
        ListAttribute::Element(vec![
            ExpressionAttribute::Name(name.into()),
            ExpressionAttribute::Data(data),
        ])
    }

    fn counter() -> ListAttribute<ExpressionAttribute> {
        expr(
            "counter",
            Expressions::Other {
                expression_type: "counter".into(),
                attributes: vec![
                    DefaultNla::new(1, vec![0; 8]),
                    DefaultNla::new(2, vec![0; 8]),
                ],
            },
        )
    }

    fn verdict(code: Verdict, chain: Option<&str>) -> ListAttribute<ExpressionAttribute> {
        let mut v = vec![VerdictAttribute::Code(code)];
        v.extend(chain.map(|c| VerdictAttribute::Chain(c.into())));
        expr(
            "immediate",
            Expressions::Immediate(vec![
                Immediate::DestinationRegister(Register::Verdict),
                Immediate::Data(DataAttribute::Verdict(v)),
            ]),
        )
    }

    fn xt(kind: &str, name: &str, info: &[u8]) -> ListAttribute<ExpressionAttribute> {
        let mut name = name.as_bytes().to_vec();
        name.push(0);
        expr(
            kind,
            Expressions::Other {
                expression_type: kind.into(),
                attributes: vec![
                    DefaultNla::new(MATCH_NAME, name),
                    DefaultNla::new(2, vec![0, 0, 0, 0]),
                    DefaultNla::new(MATCH_INFO, info.to_vec()),
                ],
            },
        )
    }

    /// `-m comment --comment TEXT`: the info is 256 bytes, NUL-padded.
    fn xt_comment_match(text: &str) -> ListAttribute<ExpressionAttribute> {
        let mut info = text.as_bytes().to_vec();
        info.resize(256, 0);
        xt("match", "comment", &info)
    }

    fn cmp() -> ListAttribute<ExpressionAttribute> {
        expr(
            "cmp",
            Expressions::Cmp(vec![Cmp::SourceRegister(Register::Reg1)]),
        )
    }

    fn user_comment(text: &str) -> RuleAttribute {
        let mut u = vec![0, text.len() as u8 + 1];
        u.extend(text.as_bytes());
        u.push(0);
        RuleAttribute::UserData(u)
    }

    fn new_rule(
        table: &str,
        chain: &str,
        exprs: Vec<ListAttribute<ExpressionAttribute>>,
        extra: Vec<RuleAttribute>,
    ) -> NfTablesMessage {
        let mut attributes = vec![
            RuleAttribute::Table(table.into()),
            RuleAttribute::Chain(chain.into()),
            RuleAttribute::Handle(7),
            RuleAttribute::Expressions(exprs),
        ];
        attributes.extend(extra);
        NfTablesMessage::NewRule(RuleMessage { attributes })
    }

    fn new_chain(
        table: &str,
        name: &str,
        base: Option<(InetHookNumber, i32, u32)>,
    ) -> NfTablesMessage {
        let mut attributes = vec![
            ChainAttribute::Table(table.into()),
            ChainAttribute::Name(name.into()),
        ];
        if let Some((hook, priority, policy)) = base {
            attributes.push(ChainAttribute::Hook(vec![
                Hook::Number(HookNumber::Inet(hook)),
                Hook::Priority(priority as u32),
            ]));
            attributes.push(ChainAttribute::Policy(policy));
            attributes.push(ChainAttribute::Type(table.into()));
        }
        NfTablesMessage::NewChain(ChainMessage { attributes })
    }

    /// The answers as they come off the wire: serialized, and read again
    /// as `Nl` reads them.
    fn wire(m: NfTablesMessage) -> NfTablesMessage {
        use netlink_packet_core::{NetlinkMessage, NetlinkPayload};
        use netlink_packet_netfilter::{NetfilterHeader, NetfilterMessage, NetfilterProtoFamily};
        let header = NetfilterHeader::new(NetfilterProtoFamily::IPv4, 0, 0);
        let mut msg = NetlinkMessage::from(NetfilterMessage::new(header, m));
        msg.finalize();
        let mut buf = vec![0; msg.buffer_len()];
        msg.serialize(&mut buf);
        let [back] = &crate::nat::nftnl::parse(&buf).unwrap()[..] else {
            panic!("one message");
        };
        match &back.payload {
            NetlinkPayload::InnerMessage(n) => match &n.inner {
                netlink_packet_netfilter::NetfilterMessageInner::NfTables(m) => m.clone(),
                other => panic!("{other:?}"),
            },
            other => panic!("{other:?}"),
        }
    }

    fn read(found: Vec<NfTablesMessage>) -> Option<IptState> {
        let mut reading = Reading::default();
        for m in found {
            reading.add(&wire(m));
        }
        reading.state(Family::V4)
    }

    #[test]
    fn a_bare_jump_is_counter_and_immediate_jump_and_nothing_else() {
        let to = |exprs, extra| {
            let s = read(vec![
                new_chain("filter", "FORWARD", Some((InetHookNumber::Forward, 0, 1))),
                new_chain("filter", "NSNET-FORWARD", None),
                new_rule("filter", "FORWARD", exprs, extra),
            ])
            .unwrap();
            s.chain(&FORWARD).jumps
        };
        let j = || verdict(Verdict::Jump, Some("NSNET-FORWARD"));
        assert_eq!(to(vec![counter(), j()], vec![]), 1);
        assert_eq!(to(vec![j()], vec![]), 1, "without a counter too");
        assert_eq!(to(vec![cmp(), counter(), j()], vec![]), 0, "with a match");
        assert_eq!(
            to(vec![xt_comment_match("x"), counter(), j()], vec![]),
            0,
            "with a comment"
        );
        assert_eq!(to(vec![counter(), j()], vec![user_comment("x")]), 0);
        assert_eq!(
            to(
                vec![counter(), verdict(Verdict::Goto, Some("NSNET-FORWARD"))],
                vec![]
            ),
            0,
            "-g is not -j"
        );
        assert_eq!(
            to(
                vec![counter(), verdict(Verdict::Jump, Some("OTHER"))],
                vec![]
            ),
            0
        );
        assert_eq!(
            to(vec![counter(), verdict(Verdict::Other(1), None)], vec![]),
            0
        );
    }

    #[test]
    fn comments_come_from_the_xt_match_or_else_the_user_data() {
        let rules = |rules: Vec<(Vec<_>, Vec<_>)>| {
            let mut found = vec![new_chain("nat", "NSNET-POSTROUTING", None)];
            for (e, x) in rules {
                found.push(new_rule("nat", "NSNET-POSTROUTING", e, x));
            }
            read(found).unwrap().chain(&POSTROUTING).clone()
        };
        let accept = || verdict(Verdict::Other(1), None);
        let got = rules(vec![
            (
                vec![
                    cmp(),
                    xt_comment_match("nsnet:10.0.0.0/24 hairpin"),
                    accept(),
                ],
                vec![],
            ),
            (vec![cmp(), accept()], vec![]),
            (
                vec![xt_comment_match("docker: it's \"q\""), accept()],
                vec![],
            ),
            (
                vec![accept()],
                vec![user_comment("nsnet:10.1.0.0/24 masquerade out=any")],
            ),
            (
                vec![xt_comment_match("other"), accept()],
                vec![user_comment("nsnet:not this")],
            ),
            (
                vec![
                    xt_comment_match("nsnet:first"),
                    xt_comment_match("nsnet:second"),
                ],
                vec![],
            ),
            (vec![xt("match", "conntrack", &[1, 2, 3]), accept()], vec![]),
            (
                vec![accept()],
                vec![RuleAttribute::UserData(vec![1, 2, b'x', 0])],
            ),
        ]);
        assert_eq!(
            got,
            ChainState {
                exists: true,
                jumps: 0,
                rules: vec![
                    Some("nsnet:10.0.0.0/24 hairpin".into()),
                    None,
                    None,
                    Some("nsnet:10.1.0.0/24 masquerade out=any".into()),
                    None,
                    Some("nsnet:first".into()),
                    None,
                    None,
                ],
            }
        );
    }

    #[test]
    fn the_forward_policy_and_other_tables_and_families_of_chains() {
        let s = read(vec![
            new_chain(
                "filter",
                "FORWARD",
                Some((InetHookNumber::Forward, 0, NF_DROP)),
            ),
            new_chain("nsnet", "forward", Some((InetHookNumber::Forward, 0, 1))),
            new_chain("mangle", "NSNET-FORWARD", None),
            new_rule("raw", "NSNET-FORWARD", vec![counter()], vec![]),
        ])
        .unwrap();
        assert!(s.forward_drops);
        assert_eq!(s.chain(&FORWARD), &ChainState::default());
        let s = read(vec![new_chain(
            "filter",
            "FORWARD",
            Some((InetHookNumber::Forward, 0, 1)),
        )])
        .unwrap();
        assert!(!s.forward_drops);
        assert_eq!(read(vec![]), Some(IptState::empty(Family::V4)));
    }

    #[test]
    fn what_iptables_nft_would_not_show_is_left_to_iptables_save() {
        let limit = expr(
            "limit",
            Expressions::Other {
                expression_type: "limit".into(),
                attributes: vec![],
            },
        );
        assert_eq!(
            read(vec![new_rule(
                "filter",
                "DOCKER",
                vec![limit.clone()],
                vec![]
            )]),
            None,
            "an expression it may not show, in any chain of the table"
        );
        assert!(read(vec![new_rule("nsnet", "x", vec![limit], vec![])]).is_some());
        for base in [
            new_chain("filter", "forward", Some((InetHookNumber::Forward, 0, 1))),
            new_chain("filter", "FORWARD", Some((InetHookNumber::Forward, 5, 1))),
            new_chain("filter", "FORWARD", Some((InetHookNumber::LocalIn, 0, 1))),
            new_chain("nat", "FORWARD", Some((InetHookNumber::Forward, 0, 1))),
        ] {
            assert_eq!(read(vec![base]), None);
        }
    }
}
