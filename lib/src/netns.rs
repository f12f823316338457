//! What a TARGET means — a PID, a path to a network namespace file, or a
//! NAME under /run/netns — and the checks made on it before anything is
//! done: it must be a live network namespace, and not this host's own.
//!
//! A checked target stays open ([`Netns`]): the peer of a veth is created
//! in the namespace of that file descriptor, so a PID reused or a name
//! rebound after the check cannot redirect it. Its path is what a printed
//! plan names (`netns /proc/42/ns/net`).

use crate::error::Error;
use nix::errno::Errno;
use std::fmt;
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::sync::Arc;

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
    /// Anything else of printable ASCII: `/run/netns/NAME`.
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
        } else if !text.bytes().all(|b| b == b' ' || b.is_ascii_graphic()) {
            bad("it contains a byte that is not printable ASCII")
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
    /// process's own, and returns it, open: the namespace used later is the
    /// one checked now, even if a PID is reused or a name rebound meanwhile.
    ///
    /// The file is first opened with `O_PATH`, which neither blocks (a
    /// FIFO) nor has a side effect (a device), and must be on nsfs; only
    /// then is it opened for use, through `/proc/self/fd`.
    pub fn open(&self) -> Result<Netns, Error> {
        use nix::fcntl::{open, OFlag};
        use nix::sys::stat::Mode;
        let path = self.path();
        let handle = open(&path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
            .map_err(|e| self.open_error(e))?;
        let on_nsfs = nix::sys::statfs::fstatfs(&handle)
            .map(|fs| fs.filesystem_type() == nix::sys::statfs::NSFS_MAGIC)
            .map_err(|e| Error::os(format!("cannot use {self}"), e))?;
        let stat = nix::sys::stat::fstat(&handle)
            .map_err(|e| Error::os(format!("cannot use {self}"), e))?;
        let kind = if on_nsfs {
            what_is_open(handle.as_raw_fd())
        } else {
            String::new()
        };
        if namespace_kind(&kind) != Some("net") {
            let subject = match self {
                Target::Path(_) => "it".to_string(),
                _ => path.display().to_string(),
            };
            return Err(Error::failed(format!(
                "cannot use {self}: {subject} is {}, not a network namespace",
                kind_words(&kind, stat.st_mode)
            )));
        }
        let id = NsId {
            dev: stat.st_dev,
            ino: stat.st_ino,
        };
        if id == NsId::own()? {
            return Err(Error::failed(format!(
                "cannot use {self}: it is this host's own network namespace \
                 (the target must be a container's)"
            )));
        }
        let file = open(
            format!("/proc/self/fd/{}", handle.as_raw_fd()).as_str(),
            OFlag::O_RDONLY | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(|e| Error::os(format!("cannot open {self}"), e))?;
        Ok(Netns {
            target: self.clone(),
            path,
            id,
            file: Arc::new(file),
        })
    }

    fn open_error(&self, errno: Errno) -> Error {
        let why = match (self, errno) {
            (Target::Pid(pid), Errno::ENOENT) => {
                if Path::new(&format!("/proc/{pid}")).exists() {
                    "the process has exited".to_string()
                } else {
                    "no such process".to_string()
                }
            }
            (Target::Name(_), Errno::ENOENT) => {
                format!("no such namespace in {NETNS_DIR} (see 'ip netns list')")
            }
            (Target::Path(_), Errno::ENOENT) => "no such file".to_string(),
            _ => return Error::os(format!("cannot use {self}"), errno),
        };
        Error::os_said(format!("cannot use {self}"), errno, &why)
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

/// Every network namespace that something visible still holds, but this
/// process's own: the namespace of each live process in /proc, and each
/// one bind-mounted somewhere (as `ip netns add` and container runtimes
/// do), one open file each. A namespace whose last process has exited and
/// that nothing mounts is not among them, even while the kernel still
/// dismantles it. (A namespace held only by an open file descriptor is
/// not found either.) Processes and mounts that vanish meanwhile are
/// skipped.
pub fn held() -> Vec<std::fs::File> {
    let own = NsId::own().ok();
    let mut seen: Vec<NsId> = own.into_iter().collect();
    let mut files = Vec::new();
    let processes = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
        })
        .map(|e| e.path().join("ns/net"));
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mounts = net_mounts(&mountinfo).into_iter().map(PathBuf::from);
    for path in processes.chain(mounts) {
        let Ok(meta) = std::fs::metadata(&path) else {
            continue;
        };
        let id = NsId {
            dev: meta.dev(),
            ino: meta.ino(),
        };
        if seen.contains(&id) {
            continue;
        }
        if let Ok(file) = std::fs::File::open(&path) {
            seen.push(id);
            files.push(file);
        }
    }
    files
}

/// The mount points of network namespaces in `mountinfo` (its escapes of
/// blanks and backslashes undone).
fn net_mounts(mountinfo: &str) -> Vec<String> {
    mountinfo
        .lines()
        .filter_map(|line| {
            let (before, after) = line.split_once(" - ")?;
            let fields: Vec<&str> = before.split_whitespace().collect();
            let is_net = after.split_whitespace().next() == Some("nsfs")
                && fields
                    .get(3)
                    .is_some_and(|root| namespace_kind(root) == Some("net"));
            is_net.then(|| unescape_mount(fields.get(4)?)).flatten()
        })
        .collect()
}

/// A mountinfo path with its octal escapes (`\040` for a blank) undone.
fn unescape_mount(field: &str) -> Option<String> {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'\\' && bytes.len() >= i + 4 {
            let code = std::str::from_utf8(&bytes[i + 1..i + 4]).ok()?;
            out.push(u8::from_str_radix(code, 8).ok()?);
            i += 4;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// What an open file is: `net:[4026532281]` for a network namespace,
/// `mnt:[…]` for another kind, else its path. A namespace file opened
/// through /proc names itself so; one bind-mounted (as `ip netns add` does)
/// reads as its mount point instead, and the namespace is then found as the
/// root of that nsfs mount in /proc/self/mountinfo.
fn what_is_open(fd: RawFd) -> String {
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

/// What a file that is not a network namespace is, in words.
fn kind_words(kind: &str, mode: nix::libc::mode_t) -> String {
    use nix::sys::stat::SFlag;
    if let Some(ns) = namespace_kind(kind) {
        return format!("a {ns} namespace");
    }
    let words = match SFlag::from_bits_truncate(mode) & SFlag::S_IFMT {
        SFlag::S_IFDIR => "a directory",
        SFlag::S_IFREG => "a plain file",
        SFlag::S_IFIFO => "a FIFO",
        SFlag::S_IFSOCK => "a socket",
        SFlag::S_IFCHR => "a character device",
        SFlag::S_IFBLK => "a block device",
        _ => "something else",
    };
    words.to_string()
}

/// A namespace's identity: the device and inode of its nsfs file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NsId {
    pub dev: u64,
    pub ino: u64,
}

impl NsId {
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

/// A target that passed the checks, held open.
#[derive(Debug, Clone)]
pub struct Netns {
    target: Target,
    path: PathBuf,
    id: NsId,
    file: Arc<OwnedFd>,
}

impl PartialEq for Netns {
    fn eq(&self, other: &Netns) -> bool {
        (&self.target, &self.path, self.id) == (&other.target, &other.path, other.id)
    }
}

impl Eq for Netns {}

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

    /// The open namespace file: what a veth's peer is created in.
    pub fn fd(&self) -> BorrowedFd<'_> {
        self.file.as_fd()
    }

    /// A stand-in for plans in unit tests: `target` as if it were open
    /// (it holds this process's own namespace, which a plan only names).
    #[cfg(test)]
    pub(crate) fn for_plans(target: Target) -> Netns {
        let file = std::fs::File::open("/proc/self/ns/net").expect("our own namespace");
        Netns {
            path: target.path(),
            target,
            id: NsId::own().expect("our own namespace"),
            file: Arc::new(file.into()),
        }
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
        for bad in ["", "0", "99999999999", ".", "..", "a\tb", "\u{1b}x", "é"] {
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
    fn mounted_network_namespaces_are_found_with_their_escapes_undone() {
        let mountinfo = "22 1 0:21 / /run rw - tmpfs tmpfs rw\n\
                         65 64 0:4 net:[4026532318] /run/netns/c1 rw shared:2 - nsfs nsfs rw\n\
                         66 64 0:4 mnt:[4026532319] /run/m rw shared:2 - nsfs nsfs rw\n\
                         67 64 0:4 net:[4026532320] /run/netns/a\\040b rw - nsfs nsfs rw\n";
        assert_eq!(net_mounts(mountinfo), ["/run/netns/c1", "/run/netns/a b"]);
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
