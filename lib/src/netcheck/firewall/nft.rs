//! nftables' rules read from `nft -j list ruleset` into netcheck's model.
//!
//! The JSON names every expression; netcheck understands the ones that
//! decide whether a container's traffic passes or is masqueraded (addresses
//! with prefixes, ranges and sets — named ones included —, interface names,
//! protocols, ports, ICMP types, connection states) and keeps any other as
//! an unknown condition, never as a guess.

use super::{
    Action, AddrElem, Atom, Chain, Cond, CtState, Family, Field, Hook, Origin, Rule, Side,
};
use crate::error::Error;
use crate::run::{self, Command};
use serde_json::Value;
use std::collections::HashMap;
use std::net::IpAddr;

/// Reads the whole ruleset: nft's version and every chain. `None` when nft
/// is not installed.
pub fn read() -> Result<Option<(String, Vec<Chain>)>, Error> {
    if !run::NFT.is_installed() {
        return Ok(None);
    }
    let out = Command::new(run::NFT, ["-j", "list", "ruleset"]).output()?;
    if !out.success {
        return Err(Error::failed(format!(
            "cannot read the nft ruleset: {}",
            crate::nat::failure_words(&out.stderr)
        )));
    }
    parse(&out.stdout).map(Some)
}

/// (family, table, set name) → the set's elements.
type Sets = HashMap<(String, String, String), Vec<Value>>;

fn text(v: &Value, key: &str) -> String {
    v.get(key)
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// Parses `nft -j list ruleset`: the version and the chains with their rules.
pub fn parse(json: &str) -> Result<(String, Vec<Chain>), Error> {
    let doc: Value = serde_json::from_str(json).map_err(|e| {
        Error::failed(format!(
            "cannot read the nft ruleset: nft printed no JSON ({e})"
        ))
    })?;
    let items = doc
        .get("nftables")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut version = String::from("nft");
    let mut sets: Sets = HashMap::new();
    let mut chains: Vec<Chain> = Vec::new();
    for item in &items {
        if let Some(meta) = item.get("metainfo") {
            version = format!("nft {}", text(meta, "version"));
        } else if let Some(set) = item.get("set") {
            let key = (text(set, "family"), text(set, "table"), text(set, "name"));
            let elems = set
                .get("elem")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            sets.insert(key, elems);
        } else if let Some(c) = item.get("chain") {
            let kind = text(c, "type");
            let hook = c.get("hook").and_then(Value::as_str).map(|h| match h {
                "forward" => Hook::Forward,
                "postrouting" if kind == "nat" => Hook::SourceNat,
                _ => Hook::Other,
            });
            chains.push(Chain {
                origin: Origin::Nft {
                    family: text(c, "family"),
                },
                table: text(c, "table"),
                name: text(c, "name"),
                hook,
                priority: c
                    .get("prio")
                    .and_then(Value::as_i64)
                    .unwrap_or_default()
                    .try_into()
                    .unwrap_or_default(),
                policy_drops: hook.is_some() && text(c, "policy") == "drop",
                rules: Vec::new(),
            });
        }
    }
    for item in &items {
        let Some(r) = item.get("rule") else { continue };
        let (family, table, name) = (text(r, "family"), text(r, "table"), text(r, "chain"));
        let rule = parse_rule(r, &family, &table, &sets);
        if let Some(chain) = chains.iter_mut().find(|c| {
            c.table == table
                && c.name == name
                && c.origin
                    == Origin::Nft {
                        family: family.clone(),
                    }
        }) {
            chain.rules.push(rule);
        }
    }
    Ok((version, chains))
}

fn parse_rule(r: &Value, family: &str, table: &str, sets: &Sets) -> Rule {
    let mut conds = Vec::new();
    let mut action = Action::Continue;
    let exprs = r
        .get("expr")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for expr in &exprs {
        let Some((key, body)) = expr.as_object().and_then(|o| o.iter().next()) else {
            continue;
        };
        match key.as_str() {
            "match" => conds.extend(parse_match(body, family, table, sets)),
            "accept" => action = Action::Accept,
            "drop" => action = Action::Drop,
            "reject" => action = Action::Reject,
            "return" => action = Action::Return,
            "jump" => action = Action::Jump(text(body, "target")),
            "goto" => action = Action::Goto(text(body, "target")),
            "masquerade" => action = Action::Masquerade,
            "snat" => action = Action::Snat,
            "xt" => match (text(body, "type").as_str(), text(body, "name").as_str()) {
                ("target", "MASQUERADE") => action = Action::Masquerade,
                ("target", "SNAT") => action = Action::Snat,
                ("target", name) => action = Action::Unknown(name.to_string()),
                (_, name) => conds.push(Cond::Unknown(format!("xt match {name}"))),
            },
            // Statements that change nothing about the verdict.
            "counter" | "log" | "comment" | "mangle" | "notrack" | "set" | "map" | "dup"
            | "fwd" | "ct helper" | "meta" | "ct" => {}
            // A limit or quota decides whether the rest applies: unknown.
            "limit" | "quota" | "ct count" | "last" => conds.push(Cond::Unknown(key.clone())),
            other => action = Action::Unknown(other.to_string()),
        }
    }
    Rule {
        handle: r.get("handle").and_then(Value::as_u64),
        spec: None,
        conds,
        action,
    }
}

/// The values a right-hand side stands for: a set's elements (a named set
/// looked up in the rule's table), a list's items, or the value itself.
fn values(right: &Value, family: &str, table: &str, sets: &Sets) -> Option<Vec<Value>> {
    let unwrap = |v: &Value| {
        v.get("elem")
            .and_then(|e| e.get("val"))
            .unwrap_or(v)
            .clone()
    };
    if let Some(name) = right.as_str().and_then(|s| s.strip_prefix('@')) {
        let key = (family.to_string(), table.to_string(), name.to_string());
        return sets.get(&key).map(|e| e.iter().map(unwrap).collect());
    }
    if let Some(set) = right.get("set") {
        return match set.as_array() {
            Some(items) => Some(items.iter().map(unwrap).collect()),
            None => Some(vec![unwrap(set)]),
        };
    }
    if let Some(items) = right.as_array() {
        return Some(items.iter().map(unwrap).collect());
    }
    Some(vec![right.clone()])
}

fn addr_elem(v: &Value) -> Option<AddrElem> {
    if let Some(s) = v.as_str() {
        return s.parse::<IpAddr>().ok().map(|a| AddrElem::Net(a.into()));
    }
    if let Some(p) = v.get("prefix") {
        let addr: IpAddr = p.get("addr")?.as_str()?.parse().ok()?;
        let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
        return ipnet::IpNet::new(addr, len).ok().map(AddrElem::Net);
    }
    let range = v.get("range")?.as_array()?;
    let lo: IpAddr = range.first()?.as_str()?.parse().ok()?;
    let hi: IpAddr = range.get(1)?.as_str()?.parse().ok()?;
    Some(AddrElem::Range(lo, hi))
}

fn port_range(v: &Value) -> Option<(u16, u16)> {
    if let Some(n) = v.as_u64() {
        let p = u16::try_from(n).ok()?;
        return Some((p, p));
    }
    let range = v.get("range")?.as_array()?;
    let lo = u16::try_from(range.first()?.as_u64()?).ok()?;
    let hi = u16::try_from(range.get(1)?.as_u64()?).ok()?;
    Some((lo, hi))
}

/// An IP protocol by nft's name or number.
pub(super) fn proto_number(v: &Value) -> Option<u8> {
    if let Some(n) = v.as_u64() {
        return u8::try_from(n).ok();
    }
    Some(match v.as_str()? {
        "icmp" => super::ICMP,
        "tcp" => super::TCP,
        "udp" => super::UDP,
        "ipv6-icmp" | "icmpv6" => super::ICMPV6,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "sctp" => 132,
        _ => return None,
    })
}

/// An ICMP or ICMPv6 type by nft's name or number.
pub(super) fn icmp_type(v: &Value, v6: bool) -> Option<u8> {
    if let Some(n) = v.as_u64() {
        return u8::try_from(n).ok();
    }
    let name = v.as_str()?;
    Some(match (name, v6) {
        ("echo-reply", false) => 0,
        ("destination-unreachable", false) => 3,
        ("echo-request", false) => 8,
        ("time-exceeded", false) => 11,
        ("parameter-problem", false) => 12,
        ("destination-unreachable", true) => 1,
        ("packet-too-big", true) => 2,
        ("time-exceeded", true) => 3,
        ("parameter-problem", true) => 4,
        ("echo-request", true) => 128,
        ("echo-reply", true) => 129,
        _ => return None,
    })
}

fn family_of_payload(protocol: &str) -> Option<Family> {
    match protocol {
        "ip" | "icmp" => Some(Family::V4),
        "ip6" | "icmpv6" => Some(Family::V6),
        _ => None,
    }
}

/// Every value converted, or `None` when one cannot be.
fn all<T>(values: &[Value], f: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
    values.iter().map(f).collect()
}

/// A field of a concatenation, with the conditions it implies
/// (`ip saddr`: IPv4), or `None` when netcheck does not read it.
fn field(left: &Value, implied: &mut Vec<Cond>) -> Option<Field> {
    if let Some(p) = left.get("payload") {
        let (protocol, f) = (text(p, "protocol"), text(p, "field"));
        if let Some(family) = family_of_payload(&protocol) {
            implied.push(Cond::Family(family));
        }
        let side = |f: &str| match f {
            "saddr" | "sport" => Some(Side::Source),
            "daddr" | "dport" => Some(Side::Destination),
            _ => None,
        };
        return match protocol.as_str() {
            "ip" | "ip6" => Some(Field::Addr(side(&f)?)),
            "tcp" => Some(Field::Port(side(&f)?, Some(super::TCP))),
            "udp" => Some(Field::Port(side(&f)?, Some(super::UDP))),
            "th" => Some(Field::Port(side(&f)?, None)),
            _ => None,
        };
    }
    match text(left.get("meta")?, "key").as_str() {
        "iifname" | "iif" => Some(Field::Iface(Side::Source)),
        "oifname" | "oif" => Some(Field::Iface(Side::Destination)),
        "l4proto" => Some(Field::Proto),
        _ => None,
    }
}

fn atom(field: &Field, v: &Value) -> Option<Atom> {
    match field {
        Field::Addr(_) => addr_elem(v).map(Atom::Addr),
        Field::Iface(_) => v.as_str().map(|s| Atom::Name(s.to_string())),
        Field::Proto => proto_number(v).map(Atom::Proto),
        Field::Port(..) => port_range(v).map(|(lo, hi)| Atom::Ports(lo, hi)),
    }
}

/// A match of a concatenation against a set of tuples.
fn tuple(parts: &[Value], negate: bool, values: &[Value]) -> Option<Vec<Cond>> {
    let mut conds = Vec::new();
    let fields = parts
        .iter()
        .map(|p| field(p, &mut conds))
        .collect::<Option<Vec<Field>>>()?;
    let tuples = values
        .iter()
        .map(|v| {
            let items = v.get("concat")?.as_array()?;
            (items.len() == fields.len()).then_some(())?;
            fields
                .iter()
                .zip(items)
                .map(|(f, i)| atom(f, i))
                .collect::<Option<Vec<Atom>>>()
        })
        .collect::<Option<Vec<Vec<Atom>>>>()?;
    conds.push(Cond::Tuple {
        negate,
        fields,
        tuples,
    });
    Some(conds)
}

/// The conditions of one `match` expression: what it tests, plus the
/// family or protocol its field implies (`ip saddr` only ever matches
/// IPv4, `udp dport` only UDP).
fn parse_match(body: &Value, family: &str, table: &str, sets: &Sets) -> Vec<Cond> {
    let unknown = || vec![Cond::Unknown(body.to_string())];
    let op = text(body, "op");
    let (Some(left), Some(right)) = (body.get("left"), body.get("right")) else {
        return unknown();
    };
    let negate = match op.as_str() {
        "==" | "in" => false,
        "!=" | "!" => true,
        _ => {
            // `tcp dport < 1024`: a port range, the only ordering netcheck needs.
            return ordered_ports(left, &op, right).unwrap_or_else(unknown);
        }
    };
    let Some(values) = values(right, family, table, sets) else {
        return unknown();
    };
    if let Some(parts) = left.get("concat").and_then(Value::as_array) {
        return tuple(parts, negate, &values).unwrap_or_else(unknown);
    }
    let mut conds = Vec::new();
    let cond = if let Some(p) = left.get("payload") {
        let (protocol, field) = (text(p, "protocol"), text(p, "field"));
        if let Some(f) = family_of_payload(&protocol) {
            conds.push(Cond::Family(f));
        }
        match (protocol.as_str(), field.as_str()) {
            ("ip" | "ip6", "saddr" | "daddr") => all(&values, addr_elem).map(|elems| Cond::Addr {
                side: if field == "saddr" {
                    Side::Source
                } else {
                    Side::Destination
                },
                negate,
                elems,
            }),
            ("ip", "protocol") | ("ip6", "nexthdr") => {
                all(&values, proto_number).map(|protos| Cond::Proto { negate, protos })
            }
            ("tcp" | "udp" | "th", "sport" | "dport") => {
                all(&values, port_range).map(|ranges| Cond::Port {
                    side: if field == "sport" {
                        Side::Source
                    } else {
                        Side::Destination
                    },
                    proto: match protocol.as_str() {
                        "tcp" => Some(super::TCP),
                        "udp" => Some(super::UDP),
                        _ => None,
                    },
                    negate,
                    ranges,
                })
            }
            ("icmp" | "icmpv6", "type") => {
                let v6 = protocol == "icmpv6";
                conds.push(Cond::Proto {
                    negate: false,
                    protos: vec![if v6 { super::ICMPV6 } else { super::ICMP }],
                });
                all(&values, |v| icmp_type(v, v6)).map(|types| Cond::IcmpType { negate, types })
            }
            _ => None,
        }
    } else if let Some(m) = left.get("meta") {
        match text(m, "key").as_str() {
            key @ ("iifname" | "oifname" | "iif" | "oif") => {
                all(&values, |v| v.as_str().map(String::from)).map(|names| Cond::Iface {
                    side: if key.starts_with('i') {
                        Side::Source
                    } else {
                        Side::Destination
                    },
                    negate,
                    names,
                })
            }
            "l4proto" => all(&values, proto_number).map(|protos| Cond::Proto { negate, protos }),
            "nfproto" => match values.as_slice() {
                [v] => match (v.as_str(), negate) {
                    (Some("ipv4"), false) | (Some("ipv6"), true) => Some(Cond::Family(Family::V4)),
                    (Some("ipv6"), false) | (Some("ipv4"), true) => Some(Cond::Family(Family::V6)),
                    _ => None,
                },
                _ => None,
            },
            _ => None,
        }
    } else if left.get("ct").is_some_and(|c| text(c, "key") == "status") {
        // Only `dnat` is known: a container's connection out has none.
        match values.as_slice() {
            [v] if v.as_str() == Some("dnat") => Some(Cond::Dnat { negate }),
            _ => None,
        }
    } else if left.get("ct").is_some_and(|c| text(c, "key") == "state") {
        all(&values, |v| v.as_str().and_then(CtState::parse))
            .map(|states| Cond::CtState { negate, states })
    } else {
        None
    };
    match cond {
        Some(c) => {
            conds.push(c);
            conds
        }
        None => unknown(),
    }
}

fn ordered_ports(left: &Value, op: &str, right: &Value) -> Option<Vec<Cond>> {
    let p = left.get("payload")?;
    let (protocol, field) = (text(p, "protocol"), text(p, "field"));
    let proto = match protocol.as_str() {
        "tcp" => Some(super::TCP),
        "udp" => Some(super::UDP),
        "th" => None,
        _ => return None,
    };
    let n = u16::try_from(right.as_u64()?).ok()?;
    let range = match op {
        "<" => (0, n.checked_sub(1)?),
        "<=" => (0, n),
        ">" => (n.checked_add(1)?, u16::MAX),
        ">=" => (n, u16::MAX),
        _ => return None,
    };
    let side = match field.as_str() {
        "sport" => Side::Source,
        "dport" => Side::Destination,
        _ => return None,
    };
    Some(vec![Cond::Port {
        side,
        proto,
        negate: false,
        ranges: vec![range],
    }])
}

#[cfg(test)]
mod tests {
    use super::super::tests::flow;
    use super::super::{Flow, Ruleset, ICMP, UDP};
    use super::*;

    /// What `nft -j list ruleset` printed in the lab for natctl's table, a
    /// Docker-style iptables-nft FORWARD DROP, and a foreign inet table
    /// with a drop rule, a named set and a jump (trimmed to one line each).
    const RULESET: &str = r#"{"nftables": [
{"metainfo": {"version": "1.0.6", "release_name": "Lester Gooch #5", "json_schema_version": 1}},
{"table": {"family": "ip", "name": "nsnet", "handle": 7}},
{"chain": {"family": "ip", "table": "nsnet", "name": "postrouting", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}},
{"chain": {"family": "ip", "table": "nsnet", "name": "forward", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
{"rule": {"family": "ip", "table": "nsnet", "chain": "postrouting", "handle": 4, "comment": "nsnet:10.0.0.0/24", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 24}}}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 24}}}}, {"masquerade": null}]}},
{"rule": {"family": "ip", "table": "nsnet", "chain": "forward", "handle": 3, "comment": "nsnet:10.0.0.0/24", "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 24}}}}, {"match": {"op": "!=", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"prefix": {"addr": "10.0.0.0", "len": 24}}}}, {"match": {"op": "!", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"drop": null}]}},
{"table": {"family": "inet", "name": "foreign", "handle": 5}},
{"set": {"family": "inet", "name": "s", "table": "foreign", "type": "ipv4_addr", "handle": 4, "flags": ["interval"], "elem": [{"prefix": {"addr": "10.0.0.0", "len": 24}}, {"range": ["10.5.0.1", "10.5.0.9"]}]}},
{"chain": {"family": "inet", "table": "foreign", "name": "fw", "handle": 1, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
{"chain": {"family": "inet", "table": "foreign", "name": "other", "handle": 8}},
{"rule": {"family": "inet", "table": "foreign", "chain": "fw", "handle": 3, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": {"set": [{"prefix": {"addr": "10.0.0.0", "len": 24}}, "10.8.0.1", {"range": ["10.9.0.1", "10.9.0.7"]}]}}}, {"match": {"op": "==", "left": {"payload": {"protocol": "udp", "field": "dport"}}, "right": 53}}, {"match": {"op": "in", "left": {"ct": {"key": "state"}}, "right": ["established", "new"]}}, {"drop": null}]}},
{"rule": {"family": "inet", "table": "foreign", "chain": "fw", "handle": 5, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "saddr"}}, "right": "@s"}}, {"match": {"op": "==", "left": {"meta": {"key": "iifname"}}, "right": "veth*"}}, {"match": {"op": "==", "left": {"meta": {"key": "l4proto"}}, "right": "icmp"}}, {"reject": {"type": "icmp", "expr": "admin-prohibited"}}]}},
{"rule": {"family": "inet", "table": "foreign", "chain": "fw", "handle": 10, "expr": [{"match": {"op": "==", "left": {"meta": {"key": "oifname"}}, "right": "up0"}}, {"match": {"op": "==", "left": {"payload": {"protocol": "ip", "field": "daddr"}}, "right": {"prefix": {"addr": "203.0.113.0", "len": 24}}}}, {"goto": {"target": "other"}}]}},
{"rule": {"family": "inet", "table": "foreign", "chain": "other", "handle": 9, "expr": [{"match": {"op": "==", "left": {"payload": {"protocol": "icmp", "field": "type"}}, "right": "echo-request"}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}},
{"rule": {"family": "inet", "table": "foreign", "chain": "other", "handle": 11, "expr": [{"match": {"op": "<", "left": {"payload": {"protocol": "tcp", "field": "dport"}}, "right": 1024}}, {"drop": null}]}},
{"table": {"family": "ip", "name": "filter", "handle": 1}},
{"chain": {"family": "ip", "table": "filter", "name": "FORWARD", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "drop"}},
{"rule": {"family": "ip", "table": "filter", "chain": "FORWARD", "handle": 6, "expr": [{"xt": {"type": "match", "name": "conntrack"}}, {"counter": {"packets": 0, "bytes": 0}}, {"accept": null}]}}
]}"#;

    fn ruleset() -> (String, Ruleset) {
        let (version, chains) = parse(RULESET).unwrap();
        (version, Ruleset { chains })
    }

    #[test]
    fn chains_rules_and_sets_are_read() {
        let (version, rules) = ruleset();
        assert_eq!(version, "nft 1.0.6");
        let names: Vec<String> = rules.chains.iter().map(Chain::words).collect();
        assert_eq!(
            names,
            [
                "table ip nsnet chain postrouting",
                "table ip nsnet chain forward",
                "table inet foreign chain fw",
                "table inet foreign chain other",
                "table ip filter chain FORWARD"
            ]
        );
        let fw = &rules.chains[2];
        assert_eq!(fw.hook, Some(Hook::Forward));
        assert_eq!(fw.rules.len(), 3);
        // The named set @s is resolved into its prefix and range.
        assert!(fw.rules[1].conds.contains(&Cond::Addr {
            side: Side::Source,
            negate: false,
            elems: vec![
                AddrElem::Net("10.0.0.0/24".parse().unwrap()),
                AddrElem::Range("10.5.0.1".parse().unwrap(), "10.5.0.9".parse().unwrap())
            ],
        }));
        assert_eq!(fw.rules[1].action, Action::Reject);
        assert!(rules.chains[4].policy_drops);
        assert_eq!(
            rules.chains[4].rules[0].conds,
            [Cond::Unknown("xt match conntrack".into())]
        );
    }

    #[test]
    fn natctls_masquerade_covers_the_container_and_nothing_else() {
        let (_, rules) = ruleset();
        let out = flow("10.0.0.2", "203.0.113.10", ICMP, None);
        let nat = rules.source_nat(&out).expect("masqueraded");
        assert!(nat.chain.is_natctls());
        assert_eq!(nat.rule().unwrap().handle, Some(4));
        assert_eq!(
            rules.source_nat(&flow("10.1.0.2", "203.0.113.10", ICMP, None)),
            None
        );
        // Inside its own subnet it is not masqueraded.
        assert_eq!(
            rules.source_nat(&flow("10.0.0.2", "10.0.0.3", ICMP, None)),
            None
        );
    }

    #[test]
    fn drops_are_named_by_their_handle() {
        let (_, rules) = ruleset();
        let dns = flow("10.0.0.2", "203.0.113.53", UDP, Some(53));
        let d = rules.forward_drop(&dns).unwrap();
        assert_eq!(d.words(), "rule handle 3 of table inet foreign chain fw");
        // ICMP from the set, coming in on a veth: rejected by handle 5.
        let ping = flow("10.0.0.2", "203.0.113.10", ICMP, None);
        assert_eq!(
            rules.forward_drop(&ping).unwrap().rule().unwrap().handle,
            Some(5)
        );
        // Not on a veth: the goto to `other` accepts the echo request, and
        // the iptables-nft policy drop is saved by its unknown accept.
        let ping = Flow {
            iif: "br0".into(),
            ..ping
        };
        assert_eq!(rules.forward_drop(&ping), None);
        // TCP to a low port goes to `other` and meets `tcp dport < 1024 drop`.
        let web = Flow {
            iif: "br0".into(),
            ..flow("10.0.0.2", "203.0.113.10", super::super::TCP, Some(443))
        };
        let d = rules.forward_drop(&web).unwrap();
        assert_eq!(
            d.words(),
            "rule handle 11 of table inet foreign chain other"
        );
    }

    #[test]
    fn natctls_isolation_drop_does_not_touch_replies() {
        let (_, rules) = ruleset();
        let reply = flow("10.0.0.2", "198.51.100.7", UDP, Some(53)).reply();
        assert_eq!(rules.forward_drop(&reply), None);
        let intruder = Flow {
            state: CtState::New,
            ..reply
        };
        let d = rules.forward_drop(&intruder).unwrap();
        assert!(d.chain.is_natctls(), "{d}");
    }

    /// natctl's table as the sets-and-maps natctl makes it (branch
    /// natctl): a subnet is an element, the rules never change.
    const SETS: &str = r#"{"nftables": [
{"metainfo": {"version": "1.0.6", "json_schema_version": 1}},
{"set": {"family": "ip", "name": "nets", "table": "nsnet", "type": ["ipv4_addr", "ipv4_addr"], "flags": ["interval"], "elem": [{"concat": [{"prefix": {"addr": "10.0.0.0", "len": 24}}, {"prefix": {"addr": "10.0.0.0", "len": 24}}]}]}},
{"set": {"family": "ip", "name": "masq", "table": "nsnet", "type": ["ipv4_addr", "ipv4_addr"], "flags": ["interval"], "elem": [{"elem": {"val": {"concat": [{"prefix": {"addr": "10.0.0.0", "len": 24}}, {"prefix": {"addr": "10.0.0.0", "len": 24}}]}, "comment": "x"}}]}},
{"set": {"family": "ip", "name": "masq_out", "table": "nsnet", "type": ["ipv4_addr", "ifname"], "flags": ["interval"], "elem": [{"concat": [{"prefix": {"addr": "10.2.0.0", "len": 24}}, "up1"]}]}},
{"chain": {"family": "ip", "table": "nsnet", "name": "postrouting", "handle": 1, "type": "nat", "hook": "postrouting", "prio": 100, "policy": "accept"}},
{"chain": {"family": "ip", "table": "nsnet", "name": "forward", "handle": 2, "type": "filter", "hook": "forward", "prio": 0, "policy": "accept"}},
{"rule": {"family": "ip", "table": "nsnet", "chain": "postrouting", "handle": 5, "expr": [{"match": {"op": "in", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "ip", "field": "daddr"}}]}, "right": "@nets"}}, {"masquerade": null}]}},
{"rule": {"family": "ip", "table": "nsnet", "chain": "postrouting", "handle": 6, "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "ip", "field": "daddr"}}]}, "right": "@nets"}}, {"return": null}]}},
{"rule": {"family": "ip", "table": "nsnet", "chain": "postrouting", "handle": 7, "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"meta": {"key": "oifname"}}]}, "right": "@masq_out"}}, {"masquerade": null}]}},
{"rule": {"family": "ip", "table": "nsnet", "chain": "postrouting", "handle": 8, "expr": [{"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "ip", "field": "saddr"}}]}, "right": "@masq"}}, {"masquerade": null}]}},
{"rule": {"family": "ip", "table": "nsnet", "chain": "forward", "handle": 9, "expr": [{"match": {"op": "!", "left": {"ct": {"key": "state"}}, "right": ["established", "related"]}}, {"match": {"op": "!", "left": {"ct": {"key": "status"}}, "right": "dnat"}}, {"match": {"op": "==", "left": {"concat": [{"payload": {"protocol": "ip", "field": "daddr"}}, {"payload": {"protocol": "ip", "field": "daddr"}}]}, "right": "@nets"}}, {"match": {"op": "!=", "left": {"concat": [{"payload": {"protocol": "ip", "field": "saddr"}}, {"payload": {"protocol": "ip", "field": "daddr"}}]}, "right": "@nets"}}, {"drop": null}]}}
]}"#;

    #[test]
    fn natctls_sets_are_read_by_what_they_hold() {
        let (_, chains) = parse(SETS).unwrap();
        let rules = Ruleset { chains };
        let out = flow("10.0.0.2", "203.0.113.10", ICMP, None);
        let nat = rules.source_nat(&out).expect("masqueraded by @masq");
        assert_eq!(nat.rule().unwrap().handle, Some(8));
        assert!(nat.chain.is_natctls());
        // Inside its own subnet: returned before any masquerade.
        assert_eq!(
            rules.source_nat(&flow("10.0.0.2", "10.0.0.3", ICMP, None)),
            None
        );
        // 10.2.0.0/24 only out of up1; 10.1.0.0/24 not at all.
        assert_eq!(
            rules.source_nat(&flow("10.2.0.2", "203.0.113.10", ICMP, None)),
            None
        );
        let up1 = Flow {
            oif: "up1".into(),
            ..flow("10.2.0.2", "203.0.113.10", ICMP, None)
        };
        assert_eq!(
            rules.source_nat(&up1).unwrap().rule().unwrap().handle,
            Some(7)
        );
        assert_eq!(
            rules.source_nat(&flow("10.1.0.2", "203.0.113.10", ICMP, None)),
            None
        );
        // The isolation drops a new connection in, not the answers out.
        assert_eq!(rules.forward_drop(&out), None);
        assert_eq!(rules.forward_drop(&out.reply()), None);
        let intruder = Flow {
            state: CtState::New,
            ..out.reply()
        };
        assert!(rules.forward_drop(&intruder).unwrap().chain.is_natctls());
    }

    #[test]
    fn unreadable_json_is_an_error_in_words() {
        let e = parse("not json").unwrap_err().to_string();
        assert!(
            e.starts_with("cannot read the nft ruleset: nft printed no JSON"),
            "{e}"
        );
        assert_eq!(parse(r#"{"nftables": []}"#).unwrap().1, vec![]);
    }
}
