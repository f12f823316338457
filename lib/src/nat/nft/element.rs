//! Set and map elements of natctl's nft tables, typed, and written two
//! ways: as nft text (for `--dry-run` and for `nft -f`) and as the bytes
//! nf_tables keeps (for the in-process batch and for reading back).
//!
//! A key is a concatenation of fields, each padded to 4-byte registers as
//! the kernel stores them; in an interval set every element also has an end
//! key (a subnet is a range of addresses, a name one exact value).

use super::super::nftnl::{comment, UDATA_COMMENT};
use crate::name::IfName;
use crate::port::Proto;
use ipnet::IpNet;
use netlink_packet_core::DefaultNla;
use netlink_packet_netfilter::nftables::{DataAttribute, SetElementAttribute};
use std::fmt::Write as _;
use std::net::IpAddr;

/// `NFTA_DATA_VALUE`, inside a key or data attribute.
const NFTA_DATA_VALUE: u16 = 1;
/// The kernel's interface name size (IFNAMSIZ), NUL included.
const IFNAMSIZ: usize = 16;

/// One field of a key or of a map's data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Field {
    Addr(IpAddr),
    /// Every address of a subnet: a range in an interval set.
    Net(IpNet),
    Proto(Proto),
    Port(u16),
    Name(IfName),
    Mark(u32),
}

fn pad(bytes: &mut Vec<u8>) {
    while bytes.len() % 4 != 0 {
        bytes.push(0);
    }
}

fn addr_bytes(addr: IpAddr) -> Vec<u8> {
    match addr {
        IpAddr::V4(a) => a.octets().to_vec(),
        IpAddr::V6(a) => a.octets().to_vec(),
    }
}

impl Field {
    /// The field's bytes, padded; `end` picks a range's last value.
    fn bytes(&self, end: bool, out: &mut Vec<u8>) {
        match self {
            Field::Addr(a) => out.extend(addr_bytes(*a)),
            Field::Net(n) => out.extend(addr_bytes(if end { n.broadcast() } else { n.network() })),
            Field::Proto(p) => out.push(p.number()),
            Field::Port(p) => out.extend(p.to_be_bytes()),
            Field::Name(n) => {
                let mut name = n.as_str().as_bytes().to_vec();
                name.resize(IFNAMSIZ, 0);
                out.extend(name);
            }
            // Marks are kept in the host's byte order.
            Field::Mark(m) => out.extend(m.to_ne_bytes()),
        }
        pad(out);
    }

    fn text(&self) -> String {
        match self {
            Field::Addr(a) => a.to_string(),
            Field::Net(n) => n.to_string(),
            Field::Proto(p) => p.to_string(),
            Field::Port(p) => p.to_string(),
            Field::Name(n) => format!("\"{n}\""),
            Field::Mark(m) => m.to_string(),
        }
    }
}

/// One element: its key, its data when the set is a map, and its comment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Element {
    pub key: Vec<Field>,
    pub data: Vec<Field>,
    pub comment: Option<String>,
}

fn concat(fields: &[Field], end: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for f in fields {
        f.bytes(end, &mut out);
    }
    out
}

fn value(bytes: Vec<u8>) -> DataAttribute {
    DataAttribute::Value(bytes)
}

impl Element {
    pub fn new(key: Vec<Field>) -> Element {
        Element {
            key,
            data: Vec::new(),
            comment: None,
        }
    }

    pub fn with_data(mut self, data: Vec<Field>) -> Element {
        self.data = data;
        self
    }

    pub fn with_comment(mut self, comment: impl Into<String>) -> Element {
        self.comment = Some(comment.into());
        self
    }

    /// The element as nft writes it: `tcp . 8080 comment "8080" : 10.0.0.2 . 80`.
    pub fn text(&self) -> String {
        let fields = |fs: &[Field]| fs.iter().map(Field::text).collect::<Vec<_>>().join(" . ");
        let mut text = fields(&self.key);
        if let Some(c) = &self.comment {
            let _ = write!(text, " comment \"{c}\"");
        }
        if !self.data.is_empty() {
            let _ = write!(text, " : {}", fields(&self.data));
        }
        text
    }

    /// The key's bytes, the end key's (interval sets only), the data's.
    pub fn bytes(&self, interval: bool) -> (Vec<u8>, Option<Vec<u8>>, Option<Vec<u8>>) {
        let key = concat(&self.key, false);
        let end = interval.then(|| concat(&self.key, true));
        let data = (!self.data.is_empty()).then(|| concat(&self.data, false));
        (key, end, data)
    }

    /// The netlink attributes of this element; `lookup` leaves out what a
    /// get does not match on (end key, data, comment).
    pub fn attributes(&self, interval: bool, lookup: bool) -> Vec<SetElementAttribute> {
        let (key, end, data) = self.bytes(interval);
        let mut attrs = vec![SetElementAttribute::Key(value(key))];
        if lookup {
            return attrs;
        }
        if let Some(end) = end {
            attrs.push(SetElementAttribute::KeyEnd(vec![DefaultNla::new(
                NFTA_DATA_VALUE,
                end,
            )]));
        }
        if let Some(data) = data {
            attrs.push(SetElementAttribute::Data(value(data)));
        }
        if let Some(c) = &self.comment {
            let mut udata = vec![UDATA_COMMENT, (c.len() + 1) as u8];
            udata.extend(c.as_bytes());
            udata.push(0);
            attrs.push(SetElementAttribute::UserData(udata));
        }
        attrs
    }
}

/// What the kernel answered for one element: its raw key, end key, data
/// and comment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Found {
    pub key: Vec<u8>,
    pub end: Option<Vec<u8>>,
    pub data: Option<Vec<u8>>,
    pub comment: Option<String>,
}

impl Found {
    pub fn from_attributes(attrs: &[SetElementAttribute]) -> Found {
        let mut found = Found::default();
        for a in attrs {
            match a {
                SetElementAttribute::Key(DataAttribute::Value(v)) => found.key = v.clone(),
                SetElementAttribute::Data(DataAttribute::Value(v)) => found.data = Some(v.clone()),
                SetElementAttribute::KeyEnd(nlas) => {
                    found.end = nlas
                        .iter()
                        .find(|n| n_kind(n) == NFTA_DATA_VALUE)
                        .map(n_value)
                }
                SetElementAttribute::UserData(u) => found.comment = comment(u),
                _ => {}
            }
        }
        found
    }

    /// Whether this is exactly `element` (key, end and data; not the comment).
    pub fn is(&self, element: &Element, interval: bool) -> bool {
        let (key, end, data) = element.bytes(interval);
        self.key == key && (!interval || self.end == end) && self.data == data
    }
}

fn n_kind(n: &DefaultNla) -> u16 {
    use netlink_packet_core::Nla;
    n.kind() & netlink_packet_core::NLA_TYPE_MASK
}

fn n_value(n: &DefaultNla) -> Vec<u8> {
    use netlink_packet_core::Nla;
    let mut v = vec![0; n.value_len()];
    n.emit_value(&mut v);
    v
}

/// Reads an address of `len` bytes (4 or 16) at the start of `bytes`.
pub fn read_addr(bytes: &[u8]) -> Option<IpAddr> {
    match bytes.len() {
        4 => Some(IpAddr::from(<[u8; 4]>::try_from(bytes).ok()?)),
        16 => Some(IpAddr::from(<[u8; 16]>::try_from(bytes).ok()?)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_padded_registers_and_ranges_have_ends() {
        let net: IpNet = "10.0.0.0/24".parse().unwrap();
        let e = Element::new(vec![Field::Net(net), Field::Net(net)]).with_comment("out=up0");
        assert_eq!(e.text(), "10.0.0.0/24 . 10.0.0.0/24 comment \"out=up0\"");
        let (key, end, data) = e.bytes(true);
        assert_eq!(key, [10, 0, 0, 0, 10, 0, 0, 0]);
        assert_eq!(end.unwrap(), [10, 0, 0, 255, 10, 0, 0, 255]);
        assert_eq!(data, None);
        let m = Element::new(vec![Field::Proto(Proto::Tcp), Field::Port(8080)])
            .with_comment("8080")
            .with_data(vec![
                Field::Addr("10.0.0.2".parse().unwrap()),
                Field::Port(80),
            ]);
        assert_eq!(m.text(), "tcp . 8080 comment \"8080\" : 10.0.0.2 . 80");
        let (key, end, data) = m.bytes(false);
        assert_eq!(key, [6, 0, 0, 0, 0x1f, 0x90, 0, 0]);
        assert_eq!(end, None);
        assert_eq!(data.unwrap(), [10, 0, 0, 2, 0, 80, 0, 0]);
        let o = Element::new(vec![Field::Name("up0".parse().unwrap())]);
        assert_eq!(o.bytes(false).0, b"up0\0\0\0\0\0\0\0\0\0\0\0\0\0");
    }

    #[test]
    fn answers_are_read_back() {
        let net: IpNet = "fd00:10::/64".parse().unwrap();
        let e = Element::new(vec![Field::Net(net), Field::Net(net)]).with_comment("out=up0");
        let found = Found::from_attributes(&e.attributes(true, false));
        assert!(found.is(&e, true));
        assert_eq!(found.comment.as_deref(), Some("out=up0"));
        let other: IpNet = "fd00:11::/64".parse().unwrap();
        assert!(!found.is(
            &Element::new(vec![Field::Net(other), Field::Net(other)]),
            true
        ));
        assert_eq!(
            read_addr(&found.key[..16]),
            Some("fd00:10::".parse().unwrap())
        );
    }
}
