//! Addresses with a prefix, parsed with `ipnet` and checked once
//! (docs/contract.md, "Names, addresses, operands").

use crate::error::Error;
use ipnet::IpNet;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// A host address with its prefix, like `10.0.0.2/24`: not the network
/// address of its subnet, nor (IPv4) its broadcast address.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct HostCidr(IpNet);

/// A subnet with no host bits set, like `10.0.0.0/24`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Subnet(IpNet);

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
}
