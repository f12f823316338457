//! Addresses with a prefix, parsed with `ipnet` and checked once
//! (docs/contract.md, "Names, addresses, operands"), and the one rule on
//! which addresses make no sense for what they are meant to be
//! ([`Special`], [`Purpose`]).

use crate::error::Error;
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A host address with its prefix, like `10.0.0.2/24`: the address of one
/// end of a link (a container's, a veth's host end, a bridge's). Not the
/// network address of its subnet, nor (IPv4) its broadcast address, and
/// neither it nor its subnet is in a range [`Purpose::Host`] refuses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostCidr(IpNet);

/// A subnet with no host bits set, like `10.0.0.0/24`. Any such subnet
/// parses (rules made earlier must still be named to be removed); one meant
/// to be masqueraded is checked with [`Subnet::check_masquerade`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet(IpNet);

/// An address range with a meaning of its own, for which a host address or
/// a masquerade subnet makes no sense.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Special {
    /// `127.0.0.0/8`, `::1`.
    Loopback,
    /// `224.0.0.0/4`, `ff00::/8`.
    Multicast,
    /// `255.255.255.255`.
    Broadcast,
    /// `0.0.0.0`, `::`.
    Unspecified,
    /// `0.0.0.0/8` (RFC 1122).
    ThisNetwork,
    /// `169.254.0.0/16`, `fe80::/10`.
    LinkLocal,
    /// `::ffff:0:0/96`.
    Ipv4Mapped,
}

/// What an address or subnet is meant to be: each refuses the special
/// ranges that make no sense for it ([`Purpose::refuses`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Purpose {
    /// The address of one end of a link (netinit's CIDRs, vethup's
    /// `--addr` for the host end or a bridge), and the subnet its prefix
    /// makes.
    Host,
    /// A subnet of containers whose traffic is masqueraded to the outside
    /// (natctl add).
    Masquerade,
}

impl Special {
    /// Every special range, in the order a subnet that takes in several is
    /// reported.
    const RANGES: [(Special, &'static str); 11] = [
        (Special::Loopback, "127.0.0.0/8"),
        (Special::Loopback, "::1/128"),
        (Special::Multicast, "224.0.0.0/4"),
        (Special::Multicast, "ff00::/8"),
        (Special::Broadcast, "255.255.255.255/32"),
        // Before "this network", which takes it in.
        (Special::Unspecified, "0.0.0.0/32"),
        (Special::Unspecified, "::/128"),
        (Special::ThisNetwork, "0.0.0.0/8"),
        (Special::LinkLocal, "169.254.0.0/16"),
        (Special::LinkLocal, "fe80::/10"),
        (Special::Ipv4Mapped, "::ffff:0:0/96"),
    ];

    fn ranges() -> impl Iterator<Item = (Special, IpNet)> {
        Special::RANGES
            .iter()
            .map(|(s, net)| (*s, net.parse().expect("the special ranges are valid")))
    }

    /// The special range `addr` is in, if any.
    pub fn of(addr: IpAddr) -> Option<Special> {
        Special::ranges()
            .find(|(_, net)| net.contains(&addr))
            .map(|(s, _)| s)
    }

    /// The range as an adjective: `127.0.0.0/8 is loopback`.
    pub fn name(self) -> &'static str {
        match self {
            Special::Loopback => "loopback",
            Special::Multicast => "multicast",
            Special::Broadcast => "the limited broadcast address",
            Special::Unspecified => "unspecified",
            Special::ThisNetwork => "'this network'",
            Special::LinkLocal => "link-local",
            Special::Ipv4Mapped => "IPv4-mapped",
        }
    }

    /// One address of the range as a noun: `127.0.0.2 is a loopback address`.
    pub fn noun(self) -> &'static str {
        match self {
            Special::Loopback => "a loopback address",
            Special::Multicast => "a multicast address",
            Special::Broadcast => "the limited broadcast address",
            Special::Unspecified => "the unspecified address",
            Special::ThisNetwork => "in 0.0.0.0/8, 'this network'",
            Special::LinkLocal => "a link-local address",
            Special::Ipv4Mapped => "an IPv4-mapped address",
        }
    }

    /// Why the range makes no sense where it is refused.
    pub fn why(self) -> &'static str {
        match self {
            Special::Loopback => "only lo carries loopback addresses",
            Special::Multicast => "it names a group, not one host",
            Special::Broadcast => "it names every host of a link",
            Special::Unspecified => "it means 'any address', not one host",
            Special::ThisNetwork => "it is never the address of a host on a link",
            Special::LinkLocal => "link-local traffic is never forwarded",
            Special::Ipv4Mapped => "IPv4-mapped addresses never appear on a link",
        }
    }
}

impl Purpose {
    /// Whether an address or subnet meant for this may not touch
    /// `special`. A host address may be link-local: a fixed gateway like
    /// `fe80::1` or `169.254.1.1` is common practice, and the kernel serves
    /// it like any other. A masquerade subnet may not: link-local traffic
    /// never leaves its link, so there is nothing to masquerade. Everything
    /// else is refused for both.
    pub fn refuses(self, special: Special) -> bool {
        !(self == Purpose::Host && special == Special::LinkLocal)
    }

    /// Why `net` makes no sense for this purpose, if it does not: its
    /// address (a host's) or the whole subnet (a masquerade's) lies in a
    /// refused range, or its subnet takes one in; a prefix length of 0
    /// takes in every address.
    pub fn misuse(self, net: &IpNet) -> Option<String> {
        let subnet = net.trunc();
        let refused = || Special::ranges().filter(|(s, _)| self.refuses(*s));
        match self {
            Purpose::Host => {
                if let Some(special) = Special::of(net.addr()).filter(|s| self.refuses(*s)) {
                    return Some(format!(
                        "{} is {}: {}",
                        net.addr(),
                        special.noun(),
                        special.why()
                    ));
                }
            }
            Purpose::Masquerade => {
                if let Some((special, _)) = refused().find(|(_, range)| range.contains(&subnet)) {
                    return Some(format!("{subnet} is {}: {}", special.name(), special.why()));
                }
            }
        }
        if subnet.prefix_len() == 0 {
            return Some(
                "a prefix length of 0 takes in every address (a subnet of containers is \
                 usually a /24 or a /64)"
                    .to_string(),
            );
        }
        let (special, range) = refused().find(|(_, range)| subnet.contains(&range.network()))?;
        let what = match self {
            Purpose::Host => format!("its subnet {subnet}"),
            Purpose::Masquerade => "it".to_string(),
        };
        Some(format!(
            "{what} takes in {range}, which is {} (is the prefix length too short?)",
            special.name()
        ))
    }
}

fn parse_net(text: &str) -> Result<IpNet, Error> {
    text.parse::<IpNet>().map_err(|_| {
        let why = if text.contains('/') {
            "not an address with a prefix length"
        } else {
            "the prefix length is missing (like 10.0.0.2/24)"
        };
        Error::usage(format!("invalid address '{text}': {why}"))
    })
}

/// Whether a subnet of this prefix has distinct network/broadcast addresses
/// (point-to-point /31 and /127 and single hosts do not).
fn has_reserved_ends(net: &IpNet) -> bool {
    net.prefix_len() + 1 < net.max_prefix_len()
}

impl HostCidr {
    pub fn addr(&self) -> IpAddr {
        self.0.addr()
    }

    pub fn net(&self) -> IpNet {
        self.0
    }

    pub fn subnet(&self) -> Subnet {
        Subnet(self.0.trunc())
    }

    pub fn is_ipv4(&self) -> bool {
        self.0.addr().is_ipv4()
    }

    /// The first host of the subnet: the conventional gateway
    /// (`10.0.0.1` for `10.0.0.2/24`).
    pub fn first_host(&self) -> Option<IpAddr> {
        if !has_reserved_ends(&self.0) {
            return None;
        }
        Some(match self.0.network() {
            IpAddr::V4(n) => IpAddr::V4((u32::from(n) + 1).into()),
            IpAddr::V6(n) => IpAddr::V6((u128::from(n) + 1).into()),
        })
    }
}

impl FromStr for HostCidr {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let net = parse_net(text)?;
        if let Some(why) = Purpose::Host.misuse(&net) {
            return Err(Error::usage(format!("invalid address '{text}': {why}")));
        }
        if has_reserved_ends(&net) {
            if net.addr() == net.network() {
                return Err(Error::usage(format!(
                    "invalid address '{text}': {} is the network address of {}, not a host",
                    net.addr(),
                    net.trunc()
                )));
            }
            if net.addr().is_ipv4() && net.addr() == net.broadcast() {
                return Err(Error::usage(format!(
                    "invalid address '{text}': {} is the broadcast address of {}, not a host",
                    net.addr(),
                    net.trunc()
                )));
            }
        }
        Ok(HostCidr(net))
    }
}

impl Subnet {
    /// The subnet an address with its prefix lies in (`10.0.0.0/24` for
    /// `10.0.0.2/24`).
    pub fn of(net: IpNet) -> Subnet {
        Subnet(net.trunc())
    }

    pub fn net(&self) -> IpNet {
        self.0
    }

    pub fn is_ipv4(&self) -> bool {
        matches!(self.0, IpNet::V4(_))
    }

    pub fn contains(&self, addr: &IpAddr) -> bool {
        self.0.contains(addr)
    }

    /// Refuses, as a usage error, a subnet that makes no sense to
    /// masquerade ([`Purpose::Masquerade`]): `0.0.0.0/0`, loopback,
    /// multicast, link-local, or one that takes any of them in.
    pub fn check_masquerade(&self) -> Result<(), Error> {
        match Purpose::Masquerade.misuse(&self.0) {
            Some(why) => Err(Error::usage(format!("invalid subnet '{self}': {why}"))),
            None => Ok(()),
        }
    }
}

impl FromStr for Subnet {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let net = parse_net(text)?;
        if net.addr() != net.network() {
            return Err(Error::usage(format!(
                "invalid subnet '{text}': host bits are set (did you mean {}?)",
                net.trunc()
            )));
        }
        Ok(Subnet(net))
    }
}

impl fmt::Display for HostCidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl fmt::Display for Subnet {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(text: &str) -> Result<HostCidr, String> {
        text.parse::<HostCidr>().map_err(|e| e.to_string())
    }

    #[test]
    fn hosts_of_both_families() {
        assert_eq!(host("10.0.0.2/24").unwrap().to_string(), "10.0.0.2/24");
        assert_eq!(host("fd00:10::2/64").unwrap().to_string(), "fd00:10::2/64");
        assert_eq!(host("10.0.0.0/31").unwrap().to_string(), "10.0.0.0/31");
        assert_eq!(host("10.0.0.7/32").unwrap().to_string(), "10.0.0.7/32");
    }

    #[test]
    fn network_and_broadcast_are_refused() {
        assert_eq!(
            host("10.0.0.0/24").unwrap_err(),
            "invalid address '10.0.0.0/24': 10.0.0.0 is the network address of 10.0.0.0/24, not a host"
        );
        assert_eq!(
            host("10.0.0.255/24").unwrap_err(),
            "invalid address '10.0.0.255/24': 10.0.0.255 is the broadcast address of 10.0.0.0/24, not a host"
        );
        assert!(host("fd00:10::/64")
            .unwrap_err()
            .contains("network address"));
    }

    #[test]
    fn malformed_addresses_say_why() {
        assert!(host("10.0.0.2")
            .unwrap_err()
            .contains("prefix length is missing"));
        assert!(host("10.0.0.300/24")
            .unwrap_err()
            .contains("not an address"));
        assert!(host("10.0.0.2/33").unwrap_err().contains("not an address"));
        assert!(host("bogus/24").unwrap_err().contains("not an address"));
    }

    #[test]
    fn gateway_is_the_first_host() {
        let h = host("10.0.0.2/24").unwrap();
        assert_eq!(h.first_host().unwrap().to_string(), "10.0.0.1");
        assert_eq!(h.subnet().to_string(), "10.0.0.0/24");
        let h6 = host("fd00:10::2/64").unwrap();
        assert_eq!(h6.first_host().unwrap().to_string(), "fd00:10::1");
        assert_eq!(host("10.0.0.1/32").unwrap().first_host(), None);
    }

    #[test]
    fn subnets_refuse_host_bits_and_suggest_the_network() {
        assert_eq!(
            "10.0.0.0/24".parse::<Subnet>().unwrap().to_string(),
            "10.0.0.0/24"
        );
        assert_eq!(
            "10.0.0.1/24".parse::<Subnet>().unwrap_err().to_string(),
            "invalid subnet '10.0.0.1/24': host bits are set (did you mean 10.0.0.0/24?)"
        );
        assert!("fd00:10::/64".parse::<Subnet>().is_ok());
    }

    fn masquerade(text: &str) -> Result<(), String> {
        text.parse::<Subnet>()
            .and_then(|s| s.check_masquerade())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn host_addresses_that_make_no_sense_are_refused_saying_why() {
        for (text, why) in [
            (
                "127.0.0.2/8",
                "127.0.0.2 is a loopback address: only lo carries loopback addresses",
            ),
            ("::1/128", "::1 is a loopback address"),
            (
                "224.0.0.5/24",
                "224.0.0.5 is a multicast address: it names a group, not one host",
            ),
            ("ff02::1/64", "ff02::1 is a multicast address"),
            (
                "0.0.0.0/24",
                "0.0.0.0 is the unspecified address: it means 'any address'",
            ),
            ("::/128", ":: is the unspecified address"),
            ("0.1.2.3/8", "0.1.2.3 is in 0.0.0.0/8, 'this network'"),
            (
                "255.255.255.255/32",
                "255.255.255.255 is the limited broadcast address",
            ),
            (
                "::ffff:10.0.0.2/120",
                "::ffff:10.0.0.2 is an IPv4-mapped address",
            ),
            ("10.0.0.2/0", "a prefix length of 0 takes in every address"),
            (
                "2001:db8::2/0",
                "a prefix length of 0 takes in every address",
            ),
            (
                "10.0.0.2/1",
                "its subnet 0.0.0.0/1 takes in 127.0.0.0/8, which is loopback \
                 (is the prefix length too short?)",
            ),
            (
                "128.0.0.1/1",
                "its subnet 128.0.0.0/1 takes in 224.0.0.0/4, which is multicast",
            ),
            (
                "10.0.0.2/4",
                "its subnet 0.0.0.0/4 takes in 0.0.0.0/32, which is unspecified",
            ),
            (
                "::2/64",
                "its subnet ::/64 takes in ::1/128, which is loopback",
            ),
            (
                "f000::1/4",
                "its subnet f000::/4 takes in ff00::/8, which is multicast",
            ),
        ] {
            let e = host(text).unwrap_err();
            assert!(
                e.starts_with(&format!("invalid address '{text}': {why}")),
                "{text}: {e}"
            );
        }
    }

    #[test]
    fn ordinary_and_link_local_host_addresses_are_accepted() {
        for text in [
            "10.0.0.2/24",
            "192.168.1.2/16",
            "100.64.0.2/10",
            "8.0.0.1/5",
            "240.0.0.2/24",
            "169.254.1.1/32",
            "169.254.1.2/16",
            "169.0.0.2/8",
            "fe80::1/64",
            "2001:db8::2/64",
            "fd00::2/8",
            "4000::1/2",
        ] {
            assert!(host(text).is_ok(), "{text}: {:?}", host(text));
        }
    }

    #[test]
    fn masquerade_subnets_that_make_no_sense_are_refused_saying_why() {
        for (text, why) in [
            ("0.0.0.0/0", "a prefix length of 0 takes in every address"),
            ("::/0", "a prefix length of 0 takes in every address"),
            (
                "127.0.0.0/8",
                "127.0.0.0/8 is loopback: only lo carries loopback addresses",
            ),
            ("127.1.0.0/16", "127.1.0.0/16 is loopback"),
            ("::1/128", "::1/128 is loopback"),
            ("224.0.0.0/4", "224.0.0.0/4 is multicast: it names a group"),
            ("ff00::/8", "ff00::/8 is multicast"),
            ("0.0.0.0/8", "0.0.0.0/8 is 'this network'"),
            ("0.0.0.0/32", "0.0.0.0/32 is unspecified"),
            (
                "169.254.0.0/16",
                "169.254.0.0/16 is link-local: link-local traffic is never forwarded",
            ),
            ("fe80::/64", "fe80::/64 is link-local"),
            ("::ffff:0.0.0.0/96", "::ffff:0.0.0.0/96 is IPv4-mapped"),
            ("0.0.0.0/1", "it takes in 127.0.0.0/8, which is loopback"),
            ("128.0.0.0/1", "it takes in 224.0.0.0/4, which is multicast"),
            (
                "169.0.0.0/8",
                "it takes in 169.254.0.0/16, which is link-local",
            ),
            ("::/64", "it takes in ::1/128, which is loopback"),
            ("fe80::/9", "it takes in fe80::/10, which is link-local"),
        ] {
            let e = masquerade(text).unwrap_err();
            assert!(
                e.starts_with(&format!("invalid subnet '{text}': {why}")),
                "{text}: {e}"
            );
        }
        for text in [
            "10.0.0.0/24",
            "10.0.0.0/8",
            "100.64.0.0/10",
            "fd00::/8",
            "2001:db8::/32",
        ] {
            assert_eq!(masquerade(text), Ok(()), "{text}");
        }
    }

    #[test]
    fn the_rule_is_one_table_read_per_purpose() {
        for special in [
            Special::Loopback,
            Special::Multicast,
            Special::Broadcast,
            Special::Unspecified,
            Special::ThisNetwork,
            Special::Ipv4Mapped,
        ] {
            assert!(Purpose::Host.refuses(special), "{special:?}");
            assert!(Purpose::Masquerade.refuses(special), "{special:?}");
        }
        assert!(!Purpose::Host.refuses(Special::LinkLocal));
        assert!(Purpose::Masquerade.refuses(Special::LinkLocal));
        assert_eq!(
            Special::of("0.0.0.0".parse().unwrap()),
            Some(Special::Unspecified)
        );
        assert_eq!(
            Special::of("0.0.0.1".parse().unwrap()),
            Some(Special::ThisNetwork)
        );
        assert_eq!(Special::of("10.0.0.1".parse().unwrap()), None);
        // A lone address (a destination, say) is checked as a /32 or /128.
        let lone = IpNet::from("203.0.113.5".parse::<IpAddr>().unwrap());
        assert_eq!(Purpose::Host.misuse(&lone), None);
    }
}
