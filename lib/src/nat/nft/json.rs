//! natctl's nft table as `nft -j list table` shows it, read with serde:
//! what `natctl list` and `natctl gc` see of the nft backend. (The changes
//! themselves read only the few elements they touch, over netlink.)

use super::{Set, TABLE};
use crate::error::Error;
use crate::nat::entry::{Entry, Masquerade, PortKey, Publish, Rule};
use crate::nat::owner::Owner;
use crate::nat::{Backend, Family};
use crate::port::{Dest, PortRange, Proto};
use crate::run::{self, Command};
use serde::Deserialize;
use serde_json::Value;
use std::collections::BTreeMap;
use std::net::IpAddr;

/// `{"nftables": [ {"metainfo": …}, {"table": …}, {"set": …}, {"map": …}, … ]}`
#[derive(Debug, Deserialize)]
struct Listing {
    nftables: Vec<Object>,
}

/// One object of the listing; only sets and maps matter here.
#[derive(Debug, Deserialize)]
struct Object {
    set: Option<Named>,
    map: Option<Named>,
}

#[derive(Debug, Deserialize)]
struct Named {
    name: String,
    table: String,
    #[serde(default)]
    elem: Vec<Value>,
}

/// An element's key (or a map element's `[key, data]` pair), its comment.
fn split(elem: &Value) -> (Option<&Value>, Option<&Value>, Option<&str>) {
    let (key, data) = match elem {
        Value::Array(pair) if pair.len() == 2 => (&pair[0], Some(&pair[1])),
        other => (other, None),
    };
    // With a comment the key is wrapped: {"elem": {"val": KEY, "comment": C}}.
    match key.get("elem") {
        Some(inner) => (
            inner.get("val"),
            data,
            inner.get("comment").and_then(Value::as_str),
        ),
        None => (Some(key), data, None),
    }
}

fn concat(v: &Value) -> Option<&Vec<Value>> {
    v.get("concat")?.as_array()
}

fn addr(v: &Value) -> Option<IpAddr> {
    v.as_str()?.parse().ok()
}

/// A subnet field: `{"prefix": {"addr": A, "len": N}}`, or a plain
/// address for a single host.
fn net(v: &Value) -> Option<ipnet::IpNet> {
    if let Some(p) = v.get("prefix") {
        let a = addr(p.get("addr")?)?;
        let len = u8::try_from(p.get("len")?.as_u64()?).ok()?;
        return ipnet::IpNet::new(a, len).ok();
    }
    let a = addr(v)?;
    ipnet::IpNet::new(a, if a.is_ipv4() { 32 } else { 128 }).ok()
}

fn proto(v: &Value) -> Option<Proto> {
    match v {
        Value::String(s) => s.parse().ok(),
        Value::Number(n) => Proto::from_number(u8::try_from(n.as_u64()?).ok()?),
        _ => None,
    }
}

fn port(v: &Value) -> Option<u16> {
    u16::try_from(v.as_u64()?).ok()
}

fn number(v: &Value) -> Option<u64> {
    match v {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s
            .strip_prefix("0x")
            .map_or_else(|| s.parse().ok(), |h| u64::from_str_radix(h, 16).ok()),
        _ => None,
    }
}

fn masquerade(elem: &Value) -> Option<Masquerade> {
    let (key, _, comment) = split(elem);
    let fields = concat(key?)?;
    let subnet = net(fields.first()?)?.to_string().parse().ok()?;
    let out = match comment.and_then(|c| c.strip_prefix("out=")) {
        Some(name) => Some(name.parse().ok()?),
        None => None,
    };
    Some(Masquerade { subnet, out })
}

/// One published port: (protocol, host, host port, range, dest, dest port).
struct Port {
    proto: Proto,
    host: Option<IpAddr>,
    port: u16,
    range: PortRange,
    dest: IpAddr,
    dest_port: u16,
}

fn published(elem: &Value, with_host: bool) -> Option<Port> {
    let (key, data, comment) = split(elem);
    let key = concat(key?)?;
    let data = concat(data?)?;
    let (proto, host, p) = if with_host {
        (
            proto(key.first()?)?,
            Some(addr(key.get(1)?)?),
            port(key.get(2)?)?,
        )
    } else {
        (proto(key.first()?)?, None, port(key.get(1)?)?)
    };
    Some(Port {
        proto,
        host,
        port: p,
        range: comment?.parse().ok()?,
        dest: addr(data.first()?)?,
        dest_port: port(data.get(1)?)?,
    })
}

fn owner(elem: &Value) -> Option<Owner> {
    let (key, _, _) = split(elem);
    let f = concat(key?)?;
    let mark = |i: usize| u32::try_from(number(f.get(i)?)?).ok();
    Some(super::owner_from_marks(mark(0)?, mark(1)?, mark(2)?))
}

/// The entries of natctl's table in one family, read with one
/// `nft -j list table`.
pub fn entries(family: Family) -> Result<Vec<Entry>, Error> {
    let out = Command::new(run::NFT, ["-j", "list", "table", family.nft(), TABLE]).output()?;
    if !out.success {
        return Err(Error::failed(format!(
            "cannot read nft table {} {TABLE}: {}",
            family.nft(),
            crate::nat::failure_words(&out.stderr)
        )));
    }
    parse(&out.stdout)
}

/// The entries in one `nft -j list table` listing.
pub fn parse(text: &str) -> Result<Vec<Entry>, Error> {
    let listing: Listing = serde_json::from_str(text)
        .map_err(|e| Error::failed(format!("cannot read nft's listing: {e}")))?;
    let mut sets: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for object in listing.nftables {
        for named in [object.set, object.map].into_iter().flatten() {
            if named.table == TABLE {
                sets.insert(named.name, named.elem);
            }
        }
    }
    let elems = |set: Set| sets.get(set.name()).map(Vec::as_slice).unwrap_or(&[]);
    let mut rules: Vec<Rule> = elems(Set::Nets)
        .iter()
        .filter_map(masquerade)
        .map(Rule::Masquerade)
        .collect();
    // A range is one element per port: the entry is its first port's.
    for (set, with_host) in [(Set::Ports, false), (Set::HostPorts, true)] {
        for p in elems(set).iter().filter_map(|e| published(e, with_host)) {
            if p.port != p.range.first() {
                continue;
            }
            let dest = PortRange::new(
                p.dest_port,
                p.dest_port.saturating_add((p.range.len() - 1) as u16),
            )
            .map(|ports| Dest {
                addr: p.dest,
                ports,
            });
            let key = PortKey {
                proto: p.proto,
                host: p.host,
                ports: p.range,
            };
            if let Some(publish) = dest.and_then(|d| Publish::new(key, d).ok()) {
                rules.push(Rule::Publish(publish));
            }
        }
    }
    Ok(rules
        .into_iter()
        .map(|rule| {
            let name = super::owners_set(&rule.key());
            let owners = sets
                .get(&name)
                .map(|es| es.iter().filter_map(owner).collect())
                .unwrap_or_default();
            Entry {
                rule,
                backend: Backend::Nft,
                owners,
            }
        })
        .collect())
}
