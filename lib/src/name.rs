//! Interface names, checked once when parsed (docs/contract.md, "Names,
//! addresses, operands").
//!
//! The rule is the kernel's (`dev_valid_name`: 1–15 bytes, not `.` or
//! `..`, no `/`, `:` or whitespace), with what else the kernel does to a
//! name: it reads one with `%` as a template (`veth%d` becomes `veth0`, a
//! name other than the one given), and it cannot register `all` or
//! `default` (their settings would clash with /proc/sys/net/*/conf/all and
//! default). Narrowed to printable ASCII, so that a name prints as itself
//! in every message and script. A name that passes reaches the kernel as
//! its bytes, over rtnetlink, and names exactly one interface; one that
//! does not is refused before anything is done.

use crate::error::Error;
use std::fmt;
use std::str::FromStr;

/// The kernel's limit: IFNAMSIZ (16) less the terminating NUL.
pub const MAX_LEN: usize = 15;

/// A legal Linux interface name: 1–15 printable ASCII bytes, no `/`, `:`,
/// `%` or whitespace, not `.`, `..`, `all` or `default`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct IfName(String);

impl IfName {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn problem(name: &str) -> Option<&'static str> {
    if name.is_empty() {
        Some("it is empty")
    } else if name.len() > MAX_LEN {
        Some("longer than 15 bytes")
    } else if name == "." || name == ".." {
        Some("'.' and '..' are not allowed")
    } else if name.contains('/') {
        Some("it contains '/'")
    } else if name.contains(':') {
        Some("it contains ':'")
    } else if name.contains('%') {
        Some("it contains '%', which the kernel reads as a template for a number")
    } else if name == "all" || name == "default" {
        Some("the kernel keeps 'all' and 'default' for its settings of every interface")
    } else if name.contains('\0') {
        Some("it contains a NUL byte")
    } else if name.chars().any(char::is_whitespace) {
        Some("it contains whitespace")
    } else if !name.bytes().all(|b| b.is_ascii_graphic()) {
        Some("it contains a byte that is not printable ASCII")
    } else {
        None
    }
}

impl FromStr for IfName {
    type Err = Error;

    fn from_str(name: &str) -> Result<Self, Error> {
        match problem(name) {
            None => Ok(IfName(name.to_string())),
            Some(why) => Err(Error::usage(format!(
                "invalid interface name '{}': {why}",
                name.escape_debug()
            ))),
        }
    }
}

impl fmt::Display for IfName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for IfName {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn why(name: &str) -> String {
        name.parse::<IfName>().unwrap_err().to_string()
    }

    #[test]
    fn legal_names() {
        for ok in [
            "eth0",
            "veth0",
            "a",
            "x-y_z.1",
            "fifteen-bytes15",
            "nsbr0",
            "dev",
            "-batch",
            "42",
            "!\"#$&'()*+,-.;",
            "<=>?@[\\]^_`{|}~",
            "all0",
            "defaults",
        ] {
            assert_eq!(ok.parse::<IfName>().unwrap().as_str(), ok);
        }
    }

    #[test]
    fn illegal_names_say_why() {
        assert_eq!(why(""), "invalid interface name '': it is empty");
        assert_eq!(
            why("sixteen-bytes-16"),
            "invalid interface name 'sixteen-bytes-16': longer than 15 bytes"
        );
        assert!(why("a/b").ends_with("it contains '/'"));
        assert!(why("a:b").ends_with("it contains ':'"));
        assert!(why("a b").ends_with("it contains whitespace"));
        assert!(why("a\tb").ends_with("it contains whitespace"));
        assert!(why("a\0b").ends_with("it contains a NUL byte"));
        assert!(why("veth%d").contains("it contains '%'"));
        assert!(why("all").contains("the kernel keeps 'all' and 'default'"));
        assert!(why("default").contains("the kernel keeps 'all' and 'default'"));
        assert!(why("a\u{7f}").ends_with("not printable ASCII"));
        assert!(why("a\u{1b}[1m").ends_with("not printable ASCII"));
        assert!(why("é").ends_with("not printable ASCII"));
        assert!(why(".").ends_with("not allowed"));
        assert!(why("..").ends_with("not allowed"));
    }

    #[test]
    fn bytes_not_chars_count() {
        // 8 two-byte characters are 16 bytes.
        assert!(why("éééééééé").ends_with("longer than 15 bytes"));
    }

    #[test]
    fn names_are_usage_errors() {
        let e = "a/b".parse::<IfName>().unwrap_err();
        assert_eq!(e.kind(), crate::Kind::Usage);
    }
}
