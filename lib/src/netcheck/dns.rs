//! The little of the DNS wire format netcheck speaks (RFC 1035): one
//! question out, and from the answer its code and the addresses it gives.
//! A real query, the way the container's resolver would ask, is the only
//! proof that a name server answers.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub const A: u16 = 1;
pub const NS: u16 = 2;
pub const AAAA: u16 = 28;
const CLASS_IN: u16 = 1;
/// Recursion desired: ask as a stub resolver does.
const FLAG_RD: u16 = 0x0100;
const FLAG_QR: u16 = 0x8000;

/// A name as DNS labels, or `None` when it is not a valid DNS name.
fn labels(name: &str) -> Option<Vec<u8>> {
    let name = name.strip_suffix('.').unwrap_or(name);
    let mut wire = Vec::new();
    if !name.is_empty() {
        for label in name.split('.') {
            if label.is_empty() || label.len() > 63 {
                return None;
            }
            wire.push(label.len() as u8);
            wire.extend_from_slice(label.as_bytes());
        }
    }
    wire.push(0);
    (wire.len() <= 255).then_some(wire)
}

/// Whether `name` can be asked for: DNS labels of 1 to 63 bytes.
pub fn is_name(name: &str) -> bool {
    labels(name).is_some()
}

/// A query for `name` (`.` is the root) of type `qtype`, with `id`.
pub fn query(id: u16, name: &str, qtype: u16) -> Option<Vec<u8>> {
    let mut wire = Vec::with_capacity(64);
    wire.extend_from_slice(&id.to_be_bytes());
    wire.extend_from_slice(&FLAG_RD.to_be_bytes());
    for count in [1u16, 0, 0, 0] {
        wire.extend_from_slice(&count.to_be_bytes());
    }
    wire.extend(labels(name)?);
    wire.extend_from_slice(&qtype.to_be_bytes());
    wire.extend_from_slice(&CLASS_IN.to_be_bytes());
    Some(wire)
}

/// A response code (RFC 1035 4.1.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Rcode {
    NoError,
    FormErr,
    ServFail,
    NxDomain,
    NotImp,
    Refused,
    Other(u8),
}

impl Rcode {
    fn of(code: u8) -> Rcode {
        match code {
            0 => Rcode::NoError,
            1 => Rcode::FormErr,
            2 => Rcode::ServFail,
            3 => Rcode::NxDomain,
            4 => Rcode::NotImp,
            5 => Rcode::Refused,
            n => Rcode::Other(n),
        }
    }
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rcode::NoError => f.write_str("NOERROR"),
            Rcode::FormErr => f.write_str("FORMERR"),
            Rcode::ServFail => f.write_str("SERVFAIL"),
            Rcode::NxDomain => f.write_str("NXDOMAIN"),
            Rcode::NotImp => f.write_str("NOTIMP"),
            Rcode::Refused => f.write_str("REFUSED"),
            Rcode::Other(n) => write!(f, "RCODE {n}"),
        }
    }
}

/// What a response said.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub id: u16,
    pub rcode: Rcode,
    /// The A and AAAA records of the answer section, in order.
    pub addrs: Vec<IpAddr>,
}

fn u16_at(data: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*data.get(at)?, *data.get(at + 1)?]))
}

/// The offset just past the (possibly compressed) name at `at`.
fn skip_name(data: &[u8], mut at: usize) -> Option<usize> {
    loop {
        let len = *data.get(at)?;
        match len {
            0 => return Some(at + 1),
            l if l & 0xc0 == 0xc0 => return Some(at + 2),
            l => at += 1 + l as usize,
        }
    }
}

/// Reads a response; `None` when it is not one (too short, or a query).
pub fn parse(data: &[u8]) -> Option<Answer> {
    let id = u16_at(data, 0)?;
    let flags = u16_at(data, 2)?;
    if flags & FLAG_QR == 0 {
        return None;
    }
    let questions = u16_at(data, 4)?;
    let answers = u16_at(data, 6)?;
    let mut at = 12;
    for _ in 0..questions {
        at = skip_name(data, at)? + 4;
    }
    let mut addrs = Vec::new();
    for _ in 0..answers {
        at = skip_name(data, at)?;
        let (kind, len) = (u16_at(data, at)?, u16_at(data, at + 8)? as usize);
        let rdata = data.get(at + 10..at + 10 + len)?;
        match (kind, len) {
            (A, 4) => addrs.push(IpAddr::V4(Ipv4Addr::from(<[u8; 4]>::try_from(rdata).ok()?))),
            (AAAA, 16) => addrs.push(IpAddr::V6(Ipv6Addr::from(
                <[u8; 16]>::try_from(rdata).ok()?,
            ))),
            _ => {}
        }
        at += 10 + len;
    }
    Some(Answer {
        id,
        rcode: Rcode::of((flags & 0xf) as u8),
        addrs,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_query_is_what_a_stub_resolver_sends() {
        let q = query(0x1234, "example.test", A).unwrap();
        assert_eq!(
            q,
            [
                0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0, 7, b'e', b'x', b'a', b'm', b'p',
                b'l', b'e', 4, b't', b'e', b's', b't', 0, 0, 1, 0, 1
            ]
        );
        assert_eq!(query(1, ".", NS).unwrap()[12..], [0, 0, 2, 0, 1]);
        assert_eq!(query(1, "example.test.", A), query(1, "example.test", A));
        assert!(query(1, "a..b", A).is_none());
        assert!(!is_name(&"x".repeat(64)));
        assert!(!is_name(&"abc.".repeat(70)));
        assert!(is_name("example.test"));
    }

    #[test]
    fn an_answer_with_a_compressed_name_gives_its_address() {
        // What dnsmasq answered in the lab for example.test A.
        let mut r = query(0x1234, "example.test", A).unwrap();
        r[2..4].copy_from_slice(&0x8580u16.to_be_bytes());
        r[6..8].copy_from_slice(&1u16.to_be_bytes());
        r.extend_from_slice(&[0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 0, 0, 4, 203, 0, 113, 10]);
        let a = parse(&r).unwrap();
        assert_eq!((a.id, a.rcode), (0x1234, Rcode::NoError));
        assert_eq!(a.addrs, ["203.0.113.10".parse::<IpAddr>().unwrap()]);
    }

    #[test]
    fn codes_and_non_answers() {
        let mut r = query(7, ".", NS).unwrap();
        r[2..4].copy_from_slice(&0x8185u16.to_be_bytes());
        let a = parse(&r).unwrap();
        assert_eq!(a.rcode, Rcode::Refused);
        assert_eq!(a.rcode.to_string(), "REFUSED");
        assert!(a.addrs.is_empty());
        // A query is not an answer; a truncated answer is none either.
        assert_eq!(parse(&query(7, ".", NS).unwrap()), None);
        r[6..8].copy_from_slice(&1u16.to_be_bytes());
        assert_eq!(parse(&r), None);
        assert_eq!(parse(&[0x12]), None);
    }
}
