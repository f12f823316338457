//! What natctl keeps: masquerades and published ports, who owns them, and
//! the one line `natctl list` prints for each — which `natctl add -` and
//! `natctl del -` read back (the round trip).

use super::owner::Owner;
use super::Backend;
use crate::cidr::Subnet;
use crate::error::Error;
use crate::name::IfName;
use crate::port::{Dest, PortRange, Proto};
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;

/// What `natctl add` asks for: masquerade SUBNET, leaving through `out` only
/// when given.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Masquerade {
    pub subnet: Subnet,
    pub out: Option<IfName>,
}

/// Which published ports: a protocol, the host address they are published
/// on (`None`: every address of the host), and the host port or range.
/// `natctl unpublish` names an entry by this.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PortKey {
    pub proto: Proto,
    pub host: Option<IpAddr>,
    pub ports: PortRange,
}

/// What `natctl publish` asks for: connections to the host's ports reach
/// `dest`, port to port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Publish {
    pub key: PortKey,
    pub dest: Dest,
}

impl Publish {
    /// A publish as asked for, checked: the host and destination ranges
    /// have the same length, and every address is of one family.
    pub fn new(key: PortKey, dest: Dest) -> Result<Publish, Error> {
        if key.ports.len() != dest.ports.len() {
            return Err(Error::usage(format!(
                "cannot map {} to {}: ranges of different lengths ({} and {} ports)",
                key.ports,
                dest.ports,
                key.ports.len(),
                dest.ports.len()
            )));
        }
        if let Some(host) = key.host {
            if host.is_ipv4() != dest.addr.is_ipv4() {
                return Err(Error::usage(format!(
                    "cannot publish on {host} to {}: the host address and the destination are of different address families",
                    dest.addr
                )));
            }
        }
        Ok(Publish { key, dest })
    }

    pub fn is_ipv4(&self) -> bool {
        self.dest.addr.is_ipv4()
    }

    /// The destination port of each host port.
    pub fn port_map(&self) -> impl Iterator<Item = (u16, u16)> + '_ {
        self.key
            .ports
            .ports()
            .map(|p| (p, self.key.ports.map_to(&self.dest.ports, p)))
    }
}

/// One thing natctl keeps.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Rule {
    Masquerade(Masquerade),
    Publish(Publish),
}

/// What names a rule for `del`/`unpublish`: its subnet or its ports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Key {
    Subnet(Subnet),
    Ports(PortKey),
}

impl Rule {
    pub fn key(&self) -> Key {
        match self {
            Rule::Masquerade(m) => Key::Subnet(m.subnet),
            Rule::Publish(p) => Key::Ports(p.key),
        }
    }

    pub fn is_ipv4(&self) -> bool {
        match self {
            Rule::Masquerade(m) => m.subnet.is_ipv4(),
            Rule::Publish(p) => p.is_ipv4(),
        }
    }
}

impl fmt::Display for PortKey {
    /// `tcp 8080 host=any`: how errors name published ports.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} host={}",
            self.proto,
            self.ports,
            host_word(&self.host)
        )
    }
}

impl fmt::Display for Key {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Key::Subnet(s) => write!(f, "{s}"),
            Key::Ports(k) => write!(f, "{k}"),
        }
    }
}

fn host_word(host: &Option<IpAddr>) -> String {
    host.map_or("any".to_string(), |h| h.to_string())
}

impl fmt::Display for Rule {
    /// The list line without backend and owners:
    /// `10.0.0.0/24 masquerade out=any`,
    /// `publish tcp 8080 -> 10.0.0.2:80 host=any`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rule::Masquerade(m) => write!(
                f,
                "{} masquerade out={}",
                m.subnet,
                m.out.as_ref().map_or("any", IfName::as_str)
            ),
            Rule::Publish(p) => write!(
                f,
                "publish {} {} -> {} host={}",
                p.key.proto,
                p.key.ports,
                p.dest,
                host_word(&p.key.host)
            ),
        }
    }
}

/// One line of `natctl list`: a rule, the backend that holds it, and its
/// owners (none: it stays until a plain `del` or `flush`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Entry {
    pub rule: Rule,
    pub backend: Backend,
    pub owners: Vec<Owner>,
}

impl Entry {
    /// An entry whose owners have all exited: `gc` removes it.
    pub fn is_orphaned(&self) -> bool {
        !self.owners.is_empty() && !self.owners.iter().any(Owner::is_alive)
    }
}

impl fmt::Display for Entry {
    /// `10.0.0.0/24 masquerade out=any backend=nft`, then
    /// `owners=PID:START,...` when it has owners.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} backend={}", self.rule, self.backend)?;
        if !self.owners.is_empty() {
            let owners: Vec<String> = self.owners.iter().map(Owner::to_string).collect();
            write!(f, " owners={}", owners.join(","))?;
        }
        Ok(())
    }
}

/// A line given to `natctl add -` or `natctl del -`: a bare subnet, or a
/// whole line of `natctl list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    pub rule: LineRule,
    pub backend: Option<Backend>,
    pub owners: Vec<Owner>,
}

/// A bare subnet says nothing of `out`; a list line says all.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineRule {
    Subnet(Subnet),
    Rule(Rule),
}

impl LineRule {
    pub fn key(&self) -> Key {
        match self {
            LineRule::Subnet(s) => Key::Subnet(*s),
            LineRule::Rule(r) => r.key(),
        }
    }
}

impl FromStr for Backend {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text {
            "nft" => Ok(Backend::Nft),
            "iptables" => Ok(Backend::Iptables),
            _ => Err(Error::usage(format!(
                "invalid backend '{text}': expected nft or iptables"
            ))),
        }
    }
}

/// The `key=value` words after a list line's fixed part.
struct Words<'a> {
    pairs: Vec<(&'a str, &'a str)>,
}

impl<'a> Words<'a> {
    fn parse(words: &[&'a str], line: &str) -> Result<Words<'a>, Error> {
        let mut pairs = Vec::new();
        for w in words {
            let (k, v) = w.split_once('=').ok_or_else(|| {
                Error::usage(format!("invalid line '{line}': '{w}' is not KEY=VALUE"))
            })?;
            if pairs.iter().any(|(seen, _)| *seen == k) {
                return Err(Error::usage(format!(
                    "invalid line '{line}': {k}= is given twice"
                )));
            }
            pairs.push((k, v));
        }
        Ok(Words { pairs })
    }

    fn take(&mut self, key: &str) -> Option<&'a str> {
        let at = self.pairs.iter().position(|(k, _)| *k == key)?;
        Some(self.pairs.remove(at).1)
    }

    /// Unknown words are refused: a line that says more than natctl
    /// understands must not be re-created as something less.
    fn done(self, line: &str) -> Result<(), Error> {
        match self.pairs.first() {
            None => Ok(()),
            Some((k, _)) => Err(Error::usage(format!(
                "invalid line '{line}': unknown word {k}="
            ))),
        }
    }
}

fn parse_host(text: &str) -> Result<Option<IpAddr>, Error> {
    if text == "any" {
        return Ok(None);
    }
    text.parse().map(Some).map_err(|_| {
        Error::usage(format!(
            "invalid host address '{text}': not an IP address (or any)"
        ))
    })
}

impl FromStr for Line {
    type Err = Error;

    fn from_str(line: &str) -> Result<Self, Error> {
        let words: Vec<&str> = line.split_whitespace().collect();
        let short = || Error::usage(format!("invalid line '{line}': too short"));
        let (rule, mut rest) = match words.as_slice() {
            [subnet] => (LineRule::Subnet(subnet.parse()?), Words { pairs: vec![] }),
            ["publish", proto, ports, "->", dest, more @ ..] => {
                let mut rest = Words::parse(more, line)?;
                let host = parse_host(rest.take("host").unwrap_or("any"))?;
                let key = PortKey {
                    proto: proto.parse()?,
                    host,
                    ports: ports.parse()?,
                };
                let publish = Publish::new(key, dest.parse()?)?;
                (LineRule::Rule(Rule::Publish(publish)), rest)
            }
            ["publish", ..] => return Err(short()),
            [subnet, "masquerade", more @ ..] => {
                let mut rest = Words::parse(more, line)?;
                let out = match rest.take("out") {
                    None | Some("any") => None,
                    Some(name) => Some(name.parse()?),
                };
                let m = Masquerade {
                    subnet: subnet.parse()?,
                    out,
                };
                (LineRule::Rule(Rule::Masquerade(m)), rest)
            }
            _ => {
                return Err(Error::usage(format!(
                    "invalid line '{line}': expected a subnet or a line of natctl list"
                )))
            }
        };
        let backend = rest.take("backend").map(str::parse).transpose()?;
        let owners = match rest.take("owners") {
            None => Vec::new(),
            Some(list) => list.split(',').map(str::parse).collect::<Result<_, _>>()?,
        };
        rest.done(line)?;
        Ok(Line {
            rule,
            backend,
            owners,
        })
    }
}

/// The lines of a reader, as `natctl add -`/`del -` take them: blank lines
/// and `#` comments skipped, a bad line named by its number.
pub fn read_lines(input: impl std::io::BufRead) -> Result<Vec<Line>, Error> {
    let mut lines = Vec::new();
    for (n, text) in input.lines().enumerate() {
        let text = text.map_err(|e| Error::io("cannot read stdin", &e))?;
        let trimmed = text.trim();
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        lines.push(
            trimmed
                .parse()
                .map_err(|e: Error| e.context(format!("stdin line {}", n + 1)))?,
        );
    }
    Ok(lines)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn publish(text: &str) -> Rule {
        match text.parse::<Line>().unwrap().rule {
            LineRule::Rule(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn list_lines_are_the_documented_ones_and_read_back() {
        let lines = [
            "10.0.0.0/24 masquerade out=any backend=nft",
            "fd00:10::/64 masquerade out=up0 backend=iptables owners=4242:99,4243:100",
            "publish tcp 8080 -> 10.0.0.2:80 host=any backend=nft",
            "publish udp 5300-5310 -> [fd00:10::2]:53-63 host=2001:db8:100::2 backend=iptables",
        ];
        for text in lines {
            let line: Line = text.parse().unwrap();
            let LineRule::Rule(rule) = line.rule else {
                panic!("{text}")
            };
            let entry = Entry {
                rule,
                backend: line.backend.unwrap(),
                owners: line.owners,
            };
            assert_eq!(entry.to_string(), text);
        }
    }

    #[test]
    fn a_bare_subnet_is_a_line_too() {
        let line: Line = "10.0.1.0/24".parse().unwrap();
        assert_eq!(line.rule, LineRule::Subnet("10.0.1.0/24".parse().unwrap()));
        assert_eq!(line.backend, None);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        for (text, why) in [
            ("10.0.0.1/24", "host bits are set"),
            (
                "10.0.0.0/24 masquerade out=any backend=pf",
                "invalid backend 'pf'",
            ),
            ("10.0.0.0/24 masquerade colour=red", "unknown word colour="),
            ("10.0.0.0/24 masquerade out=a out=b", "out= is given twice"),
            (
                "10.0.0.0/24 nat",
                "expected a subnet or a line of natctl list",
            ),
            ("publish tcp 8080", "too short"),
            (
                "publish tcp 8080 -> 10.0.0.2:80-81",
                "ranges of different lengths",
            ),
            (
                "publish sctp 8080 -> 10.0.0.2:80",
                "invalid protocol 'sctp'",
            ),
            ("publish tcp 0 -> 10.0.0.2:80", "invalid port '0'"),
            (
                "publish tcp 80 -> 10.0.0.2:80 host=::1",
                "different address families",
            ),
            ("10.0.0.0/24 masquerade owners=12", "expected PID:START"),
        ] {
            let e = text.parse::<Line>().unwrap_err();
            assert_eq!(e.kind(), crate::Kind::Usage, "{text}");
            assert!(e.to_string().contains(why), "{text}: {e}");
        }
    }

    #[test]
    fn ranges_map_port_to_port() {
        let Rule::Publish(p) = publish("publish tcp 8000-8002 -> 10.0.0.2:9000-9002") else {
            panic!()
        };
        assert_eq!(
            p.port_map().collect::<Vec<_>>(),
            [(8000, 9000), (8001, 9001), (8002, 9002)]
        );
    }

    #[test]
    fn stdin_lines_skip_blanks_and_comments_and_name_a_bad_one() {
        let text = "# saved\n\n10.0.0.0/24 masquerade out=any backend=nft\nbogus\n";
        let e = read_lines(text.as_bytes()).unwrap_err();
        assert!(e.to_string().starts_with("stdin line 4: "), "{e}");
        let ok = read_lines("10.0.0.0/24\n# x\n".as_bytes()).unwrap();
        assert_eq!(ok.len(), 1);
    }
}
