//! The values of `natctl publish`, checked once when parsed: a protocol, a
//! port or a range of ports (`8080`, `8000-8010`), and a destination
//! (`10.0.0.2:80`, `[fd00::2]:80-90`).

use crate::error::Error;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// The transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Proto {
    Tcp,
    Udp,
}

impl Proto {
    /// The IP protocol number (`/etc/protocols`).
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => 6,
            Proto::Udp => 17,
        }
    }

    pub fn from_number(n: u8) -> Option<Proto> {
        match n {
            6 => Some(Proto::Tcp),
            17 => Some(Proto::Udp),
            _ => None,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Proto::Tcp => "tcp",
            Proto::Udp => "udp",
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Proto {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            _ => Err(Error::usage(format!(
                "invalid protocol '{text}': expected tcp or udp"
            ))),
        }
    }
}

/// One port or an inclusive range of ports, all in 1..=65535:
/// `8080` or `8000-8010`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortRange {
    first: u16,
    last: u16,
}

impl PortRange {
    /// The range `first..=last`, or `None` when it is empty or holds port 0.
    pub fn new(first: u16, last: u16) -> Option<PortRange> {
        (first >= 1 && first <= last).then_some(PortRange { first, last })
    }

    pub fn single(port: u16) -> Option<PortRange> {
        PortRange::new(port, port)
    }

    pub fn first(&self) -> u16 {
        self.first
    }

    pub fn last(&self) -> u16 {
        self.last
    }

    /// How many ports: 1 for a single port (a range is never empty).
    #[allow(clippy::len_without_is_empty)]
    pub fn len(&self) -> u32 {
        u32::from(self.last - self.first) + 1
    }

    pub fn is_single(&self) -> bool {
        self.first == self.last
    }

    pub fn overlaps(&self, other: &PortRange) -> bool {
        self.first <= other.last && other.first <= self.last
    }

    pub fn ports(&self) -> impl Iterator<Item = u16> {
        self.first..=self.last
    }

    /// The port at the same offset in `other` as `port` is in this range
    /// (a range maps port to port).
    pub fn map_to(&self, other: &PortRange, port: u16) -> u16 {
        other.first + (port - self.first)
    }
}

fn parse_port(text: &str, whole: &str) -> Result<u16, Error> {
    let bad = |why: &str| Error::usage(format!("invalid port '{whole}': {why}"));
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad("not a number"));
    }
    match text.parse::<u32>() {
        Ok(n) if (1..=65535).contains(&n) => Ok(n as u16),
        _ => Err(bad("ports are 1 to 65535")),
    }
}

impl FromStr for PortRange {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let (first, last) = match text.split_once('-') {
            Some((a, b)) => (parse_port(a, text)?, parse_port(b, text)?),
            None => {
                let p = parse_port(text, text)?;
                (p, p)
            }
        };
        PortRange::new(first, last).ok_or_else(|| {
            Error::usage(format!(
                "invalid port range '{text}': {first} is above {last}"
            ))
        })
    }
}

impl fmt::Display for PortRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_single() {
            write!(f, "{}", self.first)
        } else {
            write!(f, "{}-{}", self.first, self.last)
        }
    }
}

/// Where published connections go: an address and its port or ports,
/// `10.0.0.2:80`, `10.0.0.2:9000-9010`, `[fd00:10::2]:80`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dest {
    pub addr: IpAddr,
    pub ports: PortRange,
}

impl FromStr for Dest {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| Error::usage(format!("invalid destination '{text}': {why}"));
        let (host, ports) = if let Some(rest) = text.strip_prefix('[') {
            let (host, ports) = rest
                .split_once("]:")
                .ok_or_else(|| bad("expected [IPv6]:PORT, like [fd00::2]:80"))?;
            (host, ports)
        } else {
            text.rsplit_once(':')
                .ok_or_else(|| bad("expected ADDRESS:PORT, like 10.0.0.2:80"))?
        };
        if host.contains(':') && !text.starts_with('[') {
            return Err(bad("write an IPv6 address in brackets, like [fd00::2]:80"));
        }
        let addr: IpAddr = host.parse().map_err(|_| bad("not an IP address"))?;
        if text.starts_with('[') && addr.is_ipv4() {
            return Err(bad("brackets are for IPv6 addresses"));
        }
        if let Some(why) = not_a_destination(&addr) {
            return Err(bad(why));
        }
        let ports = ports
            .parse()
            .map_err(|e: Error| e.context(format!("invalid destination '{text}'")))?;
        Ok(Dest { addr, ports })
    }
}

/// Why an address cannot receive published connections, if it cannot.
fn not_a_destination(addr: &IpAddr) -> Option<&'static str> {
    if addr.is_unspecified() {
        Some("the unspecified address is nobody's")
    } else if addr.is_multicast() {
        Some("a multicast address is not one host")
    } else if addr.is_loopback() {
        Some("a loopback address is this host itself, not a container")
    } else if *addr == IpAddr::V4(std::net::Ipv4Addr::BROADCAST) {
        Some("the broadcast address is not one host")
    } else {
        None
    }
}

impl fmt::Display for Dest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.addr {
            IpAddr::V4(a) => write!(f, "{a}:{}", self.ports),
            IpAddr::V6(a) => write!(f, "[{a}]:{}", self.ports),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> PortRange {
        text.parse().unwrap()
    }

    #[test]
    fn ports_and_ranges_round_trip() {
        for text in ["1", "80", "65535", "8000-8010", "7-7"] {
            let r = range(text);
            let shown = r.to_string();
            assert_eq!(shown.parse::<PortRange>().unwrap(), r);
        }
        assert_eq!(range("7-7").to_string(), "7");
        assert_eq!(range("8000-8010").len(), 11);
        assert_eq!(range("8000-8010").map_to(&range("9000-9010"), 8003), 9003);
        assert!(range("10-20").overlaps(&range("20-30")));
        assert!(!range("10-19").overlaps(&range("20-30")));
    }

    #[test]
    fn bad_ports_are_usage_errors_that_say_why() {
        for (text, why) in [
            ("0", "invalid port '0': ports are 1 to 65535"),
            ("65536", "invalid port '65536': ports are 1 to 65535"),
            (
                "99999999999",
                "invalid port '99999999999': ports are 1 to 65535",
            ),
            ("http", "invalid port 'http': not a number"),
            ("", "invalid port '': not a number"),
            ("+80", "invalid port '+80': not a number"),
            ("80-", "invalid port '80-': not a number"),
            ("0-10", "invalid port '0-10': ports are 1 to 65535"),
            ("90-80", "invalid port range '90-80': 90 is above 80"),
        ] {
            let e = text.parse::<PortRange>().unwrap_err();
            assert_eq!(e.kind(), crate::Kind::Usage);
            assert_eq!(e.to_string(), why);
        }
    }

    #[test]
    fn destinations_are_address_and_ports() {
        let d: Dest = "10.0.0.2:80".parse().unwrap();
        assert_eq!(d.to_string(), "10.0.0.2:80");
        let d: Dest = "[fd00:10::2]:9000-9010".parse().unwrap();
        assert_eq!(d.to_string(), "[fd00:10::2]:9000-9010");
        assert_eq!(d.ports.len(), 11);
        for (text, why) in [
            ("10.0.0.2", "expected ADDRESS:PORT"),
            ("host:80", "not an IP address"),
            ("fd00::2:80", "write an IPv6 address in brackets"),
            ("[10.0.0.2]:80", "brackets are for IPv6 addresses"),
            ("[fd00::2]80", "expected [IPv6]:PORT"),
            ("0.0.0.0:80", "the unspecified address"),
            ("224.0.0.1:80", "multicast"),
            ("127.0.0.1:80", "loopback"),
            ("[::1]:80", "loopback"),
            (
                "10.0.0.2:0",
                "invalid destination '10.0.0.2:0': invalid port '0'",
            ),
        ] {
            let e = text.parse::<Dest>().unwrap_err();
            assert_eq!(e.kind(), crate::Kind::Usage);
            assert!(e.to_string().contains(why), "{text}: {e}");
            assert!(e.to_string().starts_with("invalid destination"), "{e}");
        }
    }

    #[test]
    fn protocols_have_names_and_numbers() {
        assert_eq!("tcp".parse::<Proto>().unwrap().number(), 6);
        assert_eq!(Proto::from_number(17), Some(Proto::Udp));
        assert!("icmp".parse::<Proto>().is_err());
    }
}
