//! What a TARGET means — a PID, a path to a network namespace file, or a
//! NAME under /run/netns — and the checks made on it before anything is
//! done: it must be a live network namespace, and not this host's own.
//!
//! The path found here is what `ip` is given (`netns /proc/42/ns/net`), so
//! the peer of a veth is created directly inside the target namespace and
//! a printed plan names the same namespace as a run does.

use crate::error::{errno_words, io_words, Error};
use nix::errno::Errno;
use std::fmt;
use std::fs::File;
use std::os::fd::AsRawFd;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

/// Where `ip netns add NAME` keeps its namespaces.
pub const NETNS_DIR: &str = "/run/netns";

/// A network namespace as the user named it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// All digits: the namespace of that process (`/proc/PID/ns/net`).
    Pid(u32),
    /// Anything with a `/`: a namespace file (`/proc/PID/ns/net`,
    /// `/run/netns/NAME`, a bind mount elsewhere).
    Path(PathBuf),
    /// Anything else: `/run/netns/NAME`.
    Name(String),
}

impl FromStr for Target {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let bad = |why: &str| {
            Err(Error::usage(format!(
                "invalid target '{}': {why}",
                text.escape_debug()
            )))
        };
        if text.is_empty() {
            bad("it is empty (give a PID, a namespace file or a name under /run/netns)")
        } else if text.bytes().all(|b| b.is_ascii_digit()) {
            match text.parse::<u32>() {
                Ok(pid) if pid > 0 && pid <= i32::MAX as u32 => Ok(Target::Pid(pid)),
                _ => bad("not a valid PID"),
            }
        } else if text.contains('/') {
            Ok(Target::Path(PathBuf::from(text)))
        } else if text == "." || text == ".." {
            bad("'.' and '..' are not namespace names")
        } else if text.contains('\0') {
            bad("it contains a NUL byte")
        } else {
            Ok(Target::Name(text.to_string()))
        }
    }
}

impl Target {
    /// The namespace file this target stands for.
    pub fn path(&self) -> PathBuf {
        match self {
            Target::Pid(pid) => PathBuf::from(format!("/proc/{pid}/ns/net")),
            Target::Path(path) => path.clone(),
            Target::Name(name) => Path::new(NETNS_DIR).join(name),
        }
    }

    /// Checks that the target is a live network namespace other than this
    /// process's own, and returns it.
    pub fn open(&self) -> Result<Netns, Error> {
        let path = self.path();
        let file = File::open(&path).map_err(|e| self.open_error(e))?;
        let kind = what_is_open(&file);
        if namespace_kind(&kind) != Some("net") {
            let subject = match self {
                Target::Path(_) => "it".to_string(),
                _ => path.display().to_string(),
            };
            return Err(Error::failed(format!(
                "cannot use {self}: {subject} is {}, not a network namespace",
                kind_words(&kind, &file)
            )));
        }
        let id = NsId::of(&file).map_err(|e| self.open_error(e))?;
        if id == NsId::own()? {
            return Err(Error::failed(format!(
                "cannot use {self}: it is this host's own network namespace \
                 (the target must be a container's)"
            )));
        }
        Ok(Netns {
            target: self.clone(),
            path,
            id,
        })
    }

    fn open_error(&self, e: std::io::Error) -> Error {
        let why = match (self, e.kind()) {
            (Target::Pid(pid), std::io::ErrorKind::NotFound) => {
                if Path::new(&format!("/proc/{pid}")).exists() {
                    "the process has exited".to_string()
                } else {
                    "no such process".to_string()
                }
            }
            (Target::Name(_), std::io::ErrorKind::NotFound) => {
                format!("no such namespace in {NETNS_DIR} (see 'ip netns list')")
            }
            (Target::Path(_), std::io::ErrorKind::NotFound) => "no such file".to_string(),
            // A refusal gets errno_words' hint: who may open it may use it.
            _ => match e.raw_os_error() {
                Some(raw) => errno_words(Errno::from_raw(raw)),
                None => io_words(&e),
            },
        };
        let error = Error::failed(format!("cannot use {self}: {why}"));
        match e.raw_os_error() {
            Some(raw) => error.with_errno(Errno::from_raw(raw)),
            None => error,
        }
    }
}

impl fmt::Display for Target {
    /// `the network namespace of PID 42`, `… named c1`, `… /path`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Pid(pid) => write!(f, "the network namespace of PID {pid}"),
            Target::Path(path) => write!(f, "the network namespace {}", path.display()),
            Target::Name(name) => write!(f, "the network namespace named {name}"),
        }
    }
}

/// What an open file is: `net:[4026532281]` for a network namespace,
/// `mnt:[…]` for another kind, else its path. A namespace file opened
/// through /proc names itself so; one bind-mounted (as `ip netns add` does)
/// reads as its mount point instead, and the namespace is then found as the
/// root of that nsfs mount in /proc/self/mountinfo.
fn what_is_open(file: &File) -> String {
    let fd = file.as_raw_fd();
    let link = std::fs::read_link(format!("/proc/self/fd/{fd}"))
        .map(|p| p.to_string_lossy().into_owned())
        .unwrap_or_default();
    if namespace_kind(&link).is_some() {
        return link;
    }
    let mount = std::fs::read_to_string(format!("/proc/self/fdinfo/{fd}"))
        .ok()
        .and_then(|info| {
            info.lines()
                .find_map(|l| l.strip_prefix("mnt_id:"))
                .map(|id| id.trim().to_string())
        });
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    mount
        .and_then(|id| nsfs_root(&mountinfo, &id))
        .unwrap_or(link)
}

/// `net` for `net:[4026532281]`.
fn namespace_kind(name: &str) -> Option<&str> {
    let (kind, rest) = name.split_once(":[")?;
    (rest.ends_with(']') && !kind.contains('/')).then_some(kind)
}

/// The root (`net:[…]`) of mount `id` when it is an nsfs mount.
fn nsfs_root(mountinfo: &str, id: &str) -> Option<String> {
    mountinfo.lines().find_map(|line| {
        let (before, after) = line.split_once(" - ")?;
        let fields: Vec<&str> = before.split_whitespace().collect();
        let fstype = after.split_whitespace().next()?;
        (fields.first() == Some(&id) && fstype == "nsfs")
            .then(|| fields.get(3).map(|r| r.to_string()))?
    })
}

fn kind_words(kind: &str, file: &File) -> String {
    if let Some(ns) = namespace_kind(kind) {
        return format!("a {ns} namespace");
    }
    match file.metadata() {
        Ok(m) if m.is_dir() => "a directory".to_string(),
        Ok(m) if m.is_file() => "a plain file".to_string(),
        _ => "something else".to_string(),
    }
}

/// A namespace's identity: the device and inode of its nsfs file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsId {
    pub dev: u64,
    pub ino: u64,
}

impl NsId {
    fn of(file: &File) -> std::io::Result<NsId> {
        let meta = file.metadata()?;
        Ok(NsId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }

    /// The network namespace this process is in.
    pub fn own() -> Result<NsId, Error> {
        let meta = std::fs::metadata("/proc/self/ns/net")
            .map_err(|e| Error::io("cannot read this process's network namespace", &e))?;
        Ok(NsId {
            dev: meta.dev(),
            ino: meta.ino(),
        })
    }
}

/// A target that passed the checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Netns {
    target: Target,
    path: PathBuf,
    id: NsId,
}

impl Netns {
    pub fn target(&self) -> &Target {
        &self.target
    }

    /// The namespace file, as `ip … netns PATH` takes it.
    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn id(&self) -> NsId {
        self.id
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Target, String> {
        text.parse::<Target>().map_err(|e| e.to_string())
    }

    #[test]
    fn the_three_forms() {
        assert_eq!(parse("4242").unwrap(), Target::Pid(4242));
        assert_eq!(
            parse("/proc/4242/ns/net").unwrap(),
            Target::Path("/proc/4242/ns/net".into())
        );
        assert_eq!(
            parse("./here/ns").unwrap(),
            Target::Path("./here/ns".into())
        );
        assert_eq!(parse("c1").unwrap(), Target::Name("c1".into()));
    }

    #[test]
    fn each_form_has_its_file() {
        assert_eq!(Target::Pid(7).path(), Path::new("/proc/7/ns/net"));
        assert_eq!(Target::Name("c1".into()).path(), Path::new("/run/netns/c1"));
        assert_eq!(Target::Path("/x/y".into()).path(), Path::new("/x/y"));
    }

    #[test]
    fn malformed_targets_are_usage_errors() {
        for bad in ["", "0", "99999999999", ".", ".."] {
            let e = bad.parse::<Target>().unwrap_err();
            assert_eq!(e.kind(), crate::Kind::Usage, "{bad}");
        }
        assert!(parse("").unwrap_err().contains("it is empty"));
        assert!(parse("0").unwrap_err().contains("not a valid PID"));
    }

    #[test]
    fn targets_read_in_messages() {
        assert_eq!(
            Target::Pid(42).to_string(),
            "the network namespace of PID 42"
        );
        assert_eq!(
            Target::Name("c1".into()).to_string(),
            "the network namespace named c1"
        );
    }

    #[test]
    fn a_bind_mounted_namespace_is_found_in_mountinfo() {
        let mountinfo = "22 1 0:21 / /run rw - tmpfs tmpfs rw\n\
                         65 64 0:4 net:[4026532318] /run/netns/c1 rw shared:2 - nsfs nsfs rw\n";
        assert_eq!(
            nsfs_root(mountinfo, "65").as_deref(),
            Some("net:[4026532318]")
        );
        assert_eq!(nsfs_root(mountinfo, "22"), None);
        assert_eq!(namespace_kind("net:[4026532318]"), Some("net"));
        assert_eq!(namespace_kind("/run/netns/c1"), None);
        assert_eq!(namespace_kind("/tmp/a:[b]"), None);
    }

    /// No root needed: refusals that any user can provoke.
    #[test]
    fn own_namespace_and_plain_files_are_refused() {
        let own = format!("{}", std::process::id()).parse::<Target>().unwrap();
        let e = own.open().unwrap_err().to_string();
        assert!(
            e.ends_with(
                "it is this host's own network namespace (the target must be a container's)"
            ),
            "{e}"
        );
        let e = Target::Path("/proc/self/ns/mnt".into())
            .open()
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("is a mnt namespace, not a network namespace"),
            "{e}"
        );
        let e = Target::Path("/etc/hostname".into())
            .open()
            .unwrap_err()
            .to_string();
        assert!(
            e.ends_with("is a plain file, not a network namespace"),
            "{e}"
        );
        let e = Target::Name("nsnet-surely-absent".into())
            .open()
            .unwrap_err();
        assert_eq!(e.errno(), Some(Errno::ENOENT));
        assert!(
            e.to_string().contains("no such namespace in /run/netns"),
            "{e}"
        );
    }
}
