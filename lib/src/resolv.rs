//! A container's own `/etc/resolv.conf`, visible in its mount namespace
//! only; the file the host sees is never written.
//!
//! How: the text lives on a small tmpfs of its own and is bind-mounted over
//! `/etc/resolv.conf`. The tmpfs is mounted over `/etc` only for the moment
//! it takes to write the file and bind it onto the real `/etc/resolv.conf`
//! (reached through an `O_PATH` descriptor, since the tmpfs hides it), then
//! detached: the bind mount alone keeps the file alive, through exec and
//! for as long as the namespace lives, with nothing left on any disk.
//!
//! The mount must reach no one else, so it is made in a mount namespace of
//! netinit's own, always: whether the caller's namespace is shared with
//! anyone cannot be told from inside (comparing with the parent's namespace
//! is fooled by `nsenter`, and by a parent outside our PID namespace), and
//! one `unshare` costs little. Its mounts are made slaves: nothing mounted
//! in it propagates back, while mounts the caller's side makes later still
//! arrive, as they would have without netinit.

use crate::error::Error;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};
use nix::sys::stat::{fstat, Mode, SFlag};
use std::fmt;
use std::net::IpAddr;
use std::os::fd::AsRawFd;
use std::os::unix::fs::PermissionsExt;
use std::str::FromStr;

const RESOLV_CONF: &str = "/etc/resolv.conf";

/// A DNS search domain: letters, digits, `-`, `_` and `.`, at most 253
/// bytes, no empty label but the root's (`.` alone or a trailing dot).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Domain(String);

impl FromStr for Domain {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let why = if text.is_empty() {
            Some("it is empty")
        } else if text.len() > 253 {
            Some("longer than 253 bytes")
        } else if !text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        {
            Some("only letters, digits, '-', '_' and '.' are allowed")
        } else if text != "."
            && text
                .strip_suffix('.')
                .unwrap_or(text)
                .split('.')
                .any(str::is_empty)
        {
            // Only the root may be empty: "." alone, or the trailing dot.
            Some("a label is empty (a leading '.' or '..')")
        } else if text.split('.').any(|label| label.len() > 63) {
            Some("a label is longer than 63 bytes")
        } else {
            None
        };
        match why {
            None => Ok(Domain(text.to_string())),
            Some(why) => Err(Error::usage(format!(
                "invalid search domain '{}': {why}",
                text.escape_debug()
            ))),
        }
    }
}

impl fmt::Display for Domain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What the container's resolv.conf says: exactly these lines.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Resolv {
    pub nameservers: Vec<IpAddr>,
    pub search: Vec<Domain>,
}

impl Resolv {
    /// Nothing asked for: the container keeps the resolv.conf it sees.
    pub fn is_empty(&self) -> bool {
        self.nameservers.is_empty() && self.search.is_empty()
    }

    /// The file: one `nameserver` line each, then one `search` line (the
    /// resolver honours only the last `search` line, so all go on one).
    pub fn text(&self) -> String {
        let mut text: String = self
            .nameservers
            .iter()
            .map(|ns| format!("nameserver {ns}\n"))
            .collect();
        if !self.search.is_empty() {
            let domains: Vec<String> = self.search.iter().map(ToString::to_string).collect();
            text += &format!("search {}\n", domains.join(" "));
        }
        text
    }
}

/// `what: why`, keeping the errno; in plain words, since the network
/// hint of `Error::os` does not fit a mount.
fn failed(what: &str, errno: Errno) -> Error {
    Error::io(what, &errno.into())
}

/// Gives this process (and what it execs or starts) `conf` as its
/// /etc/resolv.conf, in a mount namespace of its own.
pub fn install(conf: &Resolv) -> Result<(), Error> {
    unshare(CloneFlags::CLONE_NEWNS).map_err(|e| {
        failed(
            "cannot make a mount namespace for the container's resolv.conf",
            e,
        )
    })?;
    // A new namespace keeps shared propagation: without this, the mounts
    // below would appear wherever the copied mounts have peers.
    mount(
        None::<&str>,
        "/",
        None::<&str>,
        MsFlags::MS_REC | MsFlags::MS_SLAVE,
        None::<&str>,
    )
    .map_err(|e| failed("cannot keep the container's mounts from propagating", e))?;
    bind_text(&conf.text()).map_err(|e| e.context("cannot give the container its own resolv.conf"))
}

/// Puts `text` on a tmpfs of its own and binds it over /etc/resolv.conf.
fn bind_text(text: &str) -> Result<(), Error> {
    let target = open(RESOLV_CONF, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty()).map_err(
        |e| match e {
            Errno::ENOENT => Error::failed(format!(
                "{RESOLV_CONF} does not exist (a bind mount needs a file to cover)"
            ))
            .with_errno(e),
            e => failed(&format!("cannot open {RESOLV_CONF}"), e),
        },
    )?;
    let kind = fstat(&target)
        .map(|st| SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT)
        .map_err(|e| failed(&format!("cannot look at {RESOLV_CONF}"), e))?;
    if kind != SFlag::S_IFREG {
        return Err(Error::failed(format!(
            "{RESOLV_CONF} is not a regular file"
        )));
    }
    let target_path = format!("/proc/self/fd/{}", target.as_raw_fd());
    mount(
        Some("nsnet-resolv"),
        "/etc",
        Some("tmpfs"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some("mode=0755,size=64k"),
    )
    .map_err(|e| failed("cannot mount a tmpfs for it", e))?;
    let bound = write_and_bind(text, &target_path);
    // Only the bind mount is to stay; the tmpfs over /etc goes either way.
    let detached = umount2("/etc", MntFlags::MNT_DETACH);
    bound?;
    detached.map_err(|e| failed("cannot detach its tmpfs from /etc", e))
}

fn write_and_bind(text: &str, target_path: &str) -> Result<(), Error> {
    std::fs::write(RESOLV_CONF, text)
        .and_then(|()| {
            std::fs::set_permissions(RESOLV_CONF, std::fs::Permissions::from_mode(0o644))
        })
        .map_err(|e| Error::io("cannot write it", &e))?;
    mount(
        Some(RESOLV_CONF),
        target_path,
        None::<&str>,
        MsFlags::MS_BIND,
        None::<&str>,
    )
    .map_err(|e| failed(&format!("cannot bind it over {RESOLV_CONF}"), e))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn domain(text: &str) -> Result<Domain, String> {
        text.parse::<Domain>().map_err(|e| e.to_string())
    }

    #[test]
    fn the_text_has_exactly_the_lines_asked_for() {
        let conf = Resolv {
            nameservers: vec!["203.0.113.53".parse().unwrap(), "fd00::53".parse().unwrap()],
            search: vec![domain("lab.test").unwrap(), domain("example.test").unwrap()],
        };
        assert_eq!(
            conf.text(),
            "nameserver 203.0.113.53\nnameserver fd00::53\nsearch lab.test example.test\n"
        );
        let only_dns = Resolv {
            nameservers: vec!["192.0.2.53".parse().unwrap()],
            search: vec![],
        };
        assert_eq!(only_dns.text(), "nameserver 192.0.2.53\n");
        assert!(Resolv::default().is_empty());
        assert!(!only_dns.is_empty());
    }

    #[test]
    fn domains_are_checked() {
        assert_eq!(
            domain("corp.example.").unwrap().to_string(),
            "corp.example."
        );
        assert_eq!(
            domain("a b").unwrap_err(),
            "invalid search domain 'a b': only letters, digits, '-', '_' and '.' are allowed"
        );
        assert!(domain("").unwrap_err().ends_with("it is empty"));
        assert!(domain("x#y").is_err());
        for empty_label in ["a..b", ".a", ".."] {
            assert!(
                domain(empty_label)
                    .unwrap_err()
                    .ends_with("a label is empty (a leading '.' or '..')"),
                "{empty_label}"
            );
        }
        assert!(domain(".").is_ok());
        assert!(domain(&"a".repeat(64)).unwrap_err().contains("63 bytes"));
        assert!(domain(&"a.".repeat(130)).unwrap_err().contains("253 bytes"));
    }
}
