//! What netcheck reads before it probes: the links, addresses and routes
//! of TARGET's namespace and of the host, the host's sysctls and counters
//! that decide forwarding and reverse-path filtering, and the resolv.conf
//! the namespace's processes see. Reading only; nothing here writes.

use super::report::ResolvFile;
use crate::error::Error;
use crate::netns::Target;
use ipnet::IpNet;
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use crate::netlink::Socket;
pub use crate::netlink::{Address, Link, Route};

/// The main routing table's number.
pub const MAIN: u32 = 254;

/// The links, addresses and routes of one namespace.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Net {
    pub links: Vec<Link>,
    pub addresses: Vec<Address>,
    pub routes: Vec<Route>,
}

impl Net {
    pub fn link(&self, name: &str) -> Option<&Link> {
        self.links.iter().find(|l| l.name == name)
    }

    pub fn by_index(&self, index: u32) -> Option<&Link> {
        self.links.iter().find(|l| l.index == index)
    }

    /// The addresses of a link, as address/prefix.
    pub fn addrs_of(&self, link: &Link) -> Vec<IpNet> {
        self.addresses
            .iter()
            .filter(|a| a.index == link.index)
            .filter_map(|a| IpNet::new(a.addr, a.prefix).ok())
            .collect()
    }

    /// The link holding `addr`.
    pub fn holder_of(&self, addr: IpAddr) -> Option<&Link> {
        self.addresses
            .iter()
            .find(|a| a.addr == addr)
            .and_then(|a| self.by_index(a.index))
    }

    /// The route the main table gives for `dst`: the longest prefix, then
    /// the lowest metric. Policy rules are not followed.
    pub fn route_to(&self, dst: IpAddr) -> Option<&Route> {
        self.routes
            .iter()
            .filter(|r| r.table == MAIN && r.destination.contains(&dst))
            .max_by_key(|r| {
                (
                    r.destination.prefix_len(),
                    std::cmp::Reverse(r.metric.unwrap_or(0)),
                )
            })
    }

    /// The default route of a family in the main table.
    pub fn default_route(&self, v6: bool) -> Option<&Route> {
        self.routes.iter().find(|r| {
            r.table == MAIN
                && r.unicast
                && r.destination.prefix_len() == 0
                && r.destination.addr().is_ipv6() == v6
        })
    }

    /// Reads the links, addresses and routes of the namespace `socket`
    /// belongs to.
    pub fn read(socket: &mut Socket) -> Result<Net, Error> {
        Ok(Net {
            links: socket.links()?,
            addresses: socket.addresses()?,
            routes: socket.routes()?,
        })
    }

    /// The name of the link a route leaves through.
    pub fn oif_name(&self, route: &Route) -> Option<String> {
        route
            .oif
            .and_then(|i| self.by_index(i))
            .map(|l| l.name.clone())
    }
}

/// The host's sysctls that decide forwarding and reverse-path filtering.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Sysctls {
    /// `net.ipv4.conf.NAME.forwarding` by NAME (`all` too).
    pub v4_forwarding: BTreeMap<String, bool>,
    /// `net.ipv6.conf.NAME.forwarding` by NAME.
    pub v6_forwarding: BTreeMap<String, bool>,
    /// `net.ipv4.conf.NAME.rp_filter` by NAME (`all` too).
    pub rp_filter: BTreeMap<String, u8>,
}

impl Sysctls {
    /// Reads the forwarding and rp_filter switches of `names` and `all`,
    /// as this (the host's) namespace has them.
    pub fn read(names: &[String]) -> Sysctls {
        let read = |path: String| {
            std::fs::read_to_string(path)
                .ok()
                .and_then(|v| v.trim().parse::<u8>().ok())
        };
        let mut s = Sysctls::default();
        for name in names.iter().map(String::as_str).chain(["all"]) {
            if let Some(v) = read(format!("/proc/sys/net/ipv4/conf/{name}/forwarding")) {
                s.v4_forwarding.insert(name.into(), v == 1);
            }
            if let Some(v) = read(format!("/proc/sys/net/ipv6/conf/{name}/forwarding")) {
                s.v6_forwarding.insert(name.into(), v == 1);
            }
            if let Some(v) = read(format!("/proc/sys/net/ipv4/conf/{name}/rp_filter")) {
                s.rp_filter.insert(name.into(), v);
            }
        }
        s
    }

    /// The reverse-path filter the kernel applies on `iface`: the larger
    /// of `all` and the interface's own (0 off, 1 strict, 2 loose).
    pub fn rp_filter(&self, iface: &str) -> u8 {
        let get = |n: &str| self.rp_filter.get(n).copied().unwrap_or(0);
        get("all").max(get(iface))
    }
}

/// Counters read before and after probing: packets the host dropped by
/// reverse-path filtering, and packets each host link received.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    pub rp_dropped: u64,
    pub received: BTreeMap<String, u64>,
}

impl Counters {
    /// Reads this namespace's counters (`/proc/net` of the calling thread).
    pub fn read() -> Counters {
        let netstat = std::fs::read_to_string("/proc/thread-self/net/netstat").unwrap_or_default();
        let dev = std::fs::read_to_string("/proc/thread-self/net/dev").unwrap_or_default();
        Counters {
            rp_dropped: netstat_value(&netstat, "TcpExt:", "IPReversePathFilter").unwrap_or(0),
            received: dev_received(&dev),
        }
    }
}

/// A value of /proc/net/netstat, whose sections come as a line of names
/// and a line of values.
fn netstat_value(text: &str, section: &str, name: &str) -> Option<u64> {
    let mut lines = text.lines().filter(|l| l.starts_with(section));
    let names = lines.next()?;
    let values = lines.next()?;
    let at = names.split_whitespace().position(|n| n == name)?;
    values.split_whitespace().nth(at)?.parse().ok()
}

/// Packets received per link, from /proc/net/dev.
fn dev_received(text: &str) -> BTreeMap<String, u64> {
    text.lines()
        .skip(2)
        .filter_map(|l| {
            let (name, rest) = l.split_once(':')?;
            let packets = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((name.trim().to_string(), packets))
        })
        .collect()
}

/// The PID behind a target, when it names a process: `4242`,
/// `/proc/4242/ns/net`.
fn target_pid(target: &Target) -> Option<u32> {
    match target {
        Target::Pid(pid) => Some(*pid),
        Target::Path(path) => {
            let rest = path.strip_prefix("/proc").ok()?;
            let mut parts = rest.components();
            let pid = parts.next()?.as_os_str().to_str()?.parse().ok()?;
            (parts.as_path() == Path::new("ns/net")).then_some(pid)
        }
        Target::Name(_) => None,
    }
}

/// The name of a target under /run/netns, for `ip netns exec`'s
/// /etc/netns/NAME/resolv.conf.
fn target_name(target: &Target) -> Option<String> {
    match target {
        Target::Name(name) => Some(name.clone()),
        Target::Path(path) => path
            .strip_prefix(crate::netns::NETNS_DIR)
            .ok()
            .and_then(|p| p.to_str())
            .filter(|p| !p.contains('/'))
            .map(String::from),
        Target::Pid(_) => None,
    }
}

/// The name servers and lines of a resolv.conf text.
pub fn parse_resolv(text: &str) -> (Vec<String>, Vec<IpAddr>) {
    let lines: Vec<String> = text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with(['#', ';']))
        .map(String::from)
        .collect();
    let servers = lines
        .iter()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            (w.next() == Some("nameserver"))
                .then(|| w.next())
                .flatten()
                .and_then(|a| a.split('%').next())
                .and_then(|a| a.parse().ok())
        })
        .collect();
    (lines, servers)
}

/// The most of a resolv.conf that is read (the resolver reads far less).
const RESOLV_MAX: u64 = 64 * 1024;

/// What was found at a resolv.conf path.
#[derive(Debug)]
struct Found {
    text: String,
    /// Reached without a symbolic link: a fix may rewrite it in place.
    direct: bool,
    /// Its identity, to tell the host's own file.
    id: (u64, u64),
}

/// Reads `path` as a process whose root is `root` would: symbolic links
/// are resolved inside `root` (an absolute one cannot lead to the host's
/// files, as it would through /proc/PID/root), and what is not a regular
/// file (a FIFO, a device) is refused without blocking. `None` when there
/// is no such file.
fn read_in_root(root: &Path, path: &str) -> Result<Option<Found>, Error> {
    use nix::fcntl::{openat2, OFlag, OpenHow, ResolveFlag};
    use nix::sys::stat::{fstat, Mode, SFlag};
    use std::io::Read;
    let shown = root.join(path);
    let cannot = |e: nix::errno::Errno| Error::os(format!("cannot read {}", shown.display()), e);
    let dir = nix::fcntl::open(
        root,
        OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC,
        Mode::empty(),
    )
    .map_err(cannot)?;
    let open = |resolve: ResolveFlag| {
        let how = OpenHow::new()
            .flags(OFlag::O_RDONLY | OFlag::O_NONBLOCK | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS | resolve);
        openat2(&dir, path, how)
    };
    let (fd, direct) = match open(ResolveFlag::RESOLVE_NO_SYMLINKS) {
        Ok(fd) => (fd, true),
        Err(nix::errno::Errno::ELOOP) => match open(ResolveFlag::empty()) {
            Ok(fd) => (fd, false),
            Err(nix::errno::Errno::ENOENT) => return Ok(None),
            Err(e) => return Err(cannot(e)),
        },
        Err(nix::errno::Errno::ENOENT) => return Ok(None),
        Err(e) => return Err(cannot(e)),
    };
    let stat = fstat(&fd).map_err(cannot)?;
    if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
        return Err(Error::failed(format!(
            "cannot read {}: not a regular file",
            shown.display()
        )));
    }
    let mut text = String::new();
    std::fs::File::from(fd)
        .take(RESOLV_MAX)
        .read_to_string(&mut text)
        .map_err(|e| Error::io(format!("cannot read {}", shown.display()), &e))?;
    Ok(Some(Found {
        text,
        direct,
        id: (stat.st_dev, stat.st_ino),
    }))
}

/// The resolv.conf the target's processes read: the process's own view
/// through /proc/PID/root for a PID (netinit gives a container a private
/// one in its mount namespace), `ip netns exec`'s /etc/netns/NAME for a
/// named namespace that has one, else the host's. One that cannot be read
/// (not a regular file…) is read as naming no server, and says why.
pub fn resolv_for(target: &Target) -> ResolvFile {
    let host = read_in_root(Path::new("/"), "etc/resolv.conf")
        .ok()
        .flatten();
    let (root, path) = match (target_pid(target), target_name(target)) {
        (Some(pid), _) => (
            PathBuf::from(format!("/proc/{pid}/root")),
            "etc/resolv.conf".to_string(),
        ),
        (None, Some(name)) if Path::new(&format!("/etc/netns/{name}/resolv.conf")).exists() => {
            (PathBuf::from("/"), format!("etc/netns/{name}/resolv.conf"))
        }
        _ => (PathBuf::from("/"), "etc/resolv.conf".to_string()),
    };
    let (found, unreadable) = match read_in_root(&root, &path) {
        Ok(found) => (found, None),
        Err(e) => (None, Some(e.to_string())),
    };
    let (lines, servers) = parse_resolv(found.as_ref().map_or("", |f| f.text.as_str()));
    let hosts_own = match (&found, &host) {
        (Some(f), Some(h)) => f.id == h.id,
        _ => false,
    };
    ResolvFile {
        path: root.join(&path),
        lines,
        servers,
        in_place: found.is_some_and(|f| f.direct) && !hosts_own,
        hosts_own,
        unreadable,
        host_servers: host
            .map(|h| parse_resolv(&h.text).1)
            .unwrap_or_default()
            .into_iter()
            .filter(|a| !a.is_loopback())
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(dst: &str, gw: Option<&str>, oif: u32, metric: u32) -> Route {
        Route {
            destination: dst.parse().unwrap(),
            gateway: gw.map(|g| g.parse().unwrap()),
            oif: Some(oif),
            table: MAIN,
            metric: Some(metric),
            unicast: true,
        }
    }

    #[test]
    fn the_longest_prefix_then_the_lowest_metric_wins() {
        let net = Net {
            routes: vec![
                route("0.0.0.0/0", Some("198.51.100.1"), 2, 0),
                route("10.0.0.0/24", None, 3, 0),
                route("10.0.0.0/25", Some("198.51.100.1"), 2, 0),
                route("10.0.0.128/25", None, 4, 100),
                route("10.0.0.128/25", None, 5, 10),
            ],
            ..Net::default()
        };
        let via = |a: &str| net.route_to(a.parse().unwrap()).and_then(|r| r.oif);
        assert_eq!(via("10.0.0.2"), Some(2));
        assert_eq!(via("10.0.0.200"), Some(5));
        assert_eq!(via("203.0.113.10"), Some(2));
        assert_eq!(via("2001:db8::1"), None);
        assert_eq!(net.default_route(false).unwrap().oif, Some(2));
        assert!(net.default_route(true).is_none());
    }

    #[test]
    fn rp_filter_is_the_larger_of_all_and_the_interface() {
        let mut s = Sysctls::default();
        s.rp_filter.insert("all".into(), 1);
        s.rp_filter.insert("up1".into(), 2);
        s.rp_filter.insert("up0".into(), 0);
        assert_eq!(s.rp_filter("up0"), 1);
        assert_eq!(s.rp_filter("up1"), 2);
        assert_eq!(s.rp_filter("nosuch"), 1);
    }

    #[test]
    fn counters_are_read_from_proc_net() {
        let netstat = "TcpExt: SyncookiesSent IPReversePathFilter PruneCalled\n\
                       TcpExt: 0 17 3\n\
                       IpExt: InNoRoutes\nIpExt: 0\n";
        assert_eq!(
            netstat_value(netstat, "TcpExt:", "IPReversePathFilter"),
            Some(17)
        );
        assert_eq!(netstat_value(netstat, "IpExt:", "Nothing"), None);
        let dev = "Inter-|   Receive |  Transmit\n face |bytes packets errs\n\
                       lo: 100 2 0 0 0 0 0 0 100 2 0 0 0 0 0 0\n  up1: 9000 42 0 0 0 0 0 0 0 0 0 0 0 0 0 0\n";
        let rx = dev_received(dev);
        assert_eq!(rx.get("up1"), Some(&42));
        assert_eq!(rx.get("lo"), Some(&2));
        // This process can read its own.
        assert!(Counters::read().received.contains_key("lo"));
    }

    #[test]
    fn resolv_conf_lines_and_servers() {
        let (lines, servers) = parse_resolv(
            "# made by hand\nnameserver 203.0.113.53\n\nnameserver fe80::1%eth0\nsearch lab.test\nnameserver bogus\n",
        );
        assert_eq!(lines.len(), 4);
        assert_eq!(
            servers,
            [
                "203.0.113.53".parse::<IpAddr>().unwrap(),
                "fe80::1".parse().unwrap()
            ]
        );
    }

    #[test]
    fn resolv_conf_is_read_inside_its_root_and_only_as_a_regular_file() {
        let dir = std::env::temp_dir().join(format!("nsnet-resolv-{}", std::process::id()));
        let etc = dir.join("etc");
        std::fs::create_dir_all(&etc).unwrap();
        std::fs::write(etc.join("real"), "nameserver 203.0.113.53\n").unwrap();
        std::fs::write(etc.join("resolv.conf"), "nameserver 192.0.2.53\n").unwrap();
        let found = read_in_root(&dir, "etc/resolv.conf").unwrap().unwrap();
        assert!(found.direct);
        assert_eq!(found.text, "nameserver 192.0.2.53\n");
        // An absolute link leads inside the root, not to the host's file,
        // and a file reached by a link is not rewritten in place.
        std::fs::remove_file(etc.join("resolv.conf")).unwrap();
        std::os::unix::fs::symlink("/etc/real", etc.join("resolv.conf")).unwrap();
        let found = read_in_root(&dir, "etc/resolv.conf").unwrap().unwrap();
        assert!(!found.direct);
        assert_eq!(found.text, "nameserver 203.0.113.53\n");
        // A FIFO is refused, never waited on.
        std::fs::remove_file(etc.join("resolv.conf")).unwrap();
        nix::unistd::mkfifo(&etc.join("resolv.conf"), nix::sys::stat::Mode::S_IRWXU).unwrap();
        let e = read_in_root(&dir, "etc/resolv.conf")
            .unwrap_err()
            .to_string();
        assert!(e.ends_with("etc/resolv.conf: not a regular file"), "{e}");
        std::fs::remove_file(etc.join("resolv.conf")).unwrap();
        assert!(read_in_root(&dir, "etc/resolv.conf").unwrap().is_none());
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_target_names_its_process_or_its_namespace() {
        assert_eq!(target_pid(&Target::Pid(42)), Some(42));
        assert_eq!(
            target_pid(&Target::Path("/proc/42/ns/net".into())),
            Some(42)
        );
        assert_eq!(target_pid(&Target::Path("/proc/42/ns/mnt".into())), None);
        assert_eq!(
            target_name(&Target::Name("c1".into())).as_deref(),
            Some("c1")
        );
        assert_eq!(
            target_name(&Target::Path("/run/netns/c1".into())).as_deref(),
            Some("c1")
        );
        assert_eq!(target_name(&Target::Path("/tmp/c1".into())), None);
    }
}
