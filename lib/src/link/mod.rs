//! Plans: what to do to links, addresses and routes, as a list of typed
//! steps. A plan is plain data, rendered two ways: the rtnetlink requests
//! that a run sends in-process, one acknowledged request per step, and the
//! `ip` commands that do the same, printed for `--dry-run` as a script.
//!
//! A step names each link by name for the script and by index for the
//! kernel: a link that existed when the plan was made carries the index it
//! had then, a link the plan creates gets the index the kernel echoes when
//! it is made. So a step never reaches a same-named link that someone else
//! made meanwhile. When the kernel refuses a step, the failure names that
//! step and its errno, and the steps that succeeded are undone in reverse,
//! each by index.

pub mod bridge;
pub mod inside;
pub mod lock;
pub mod state;
pub mod veth;

use crate::cidr::HostCidr;
use crate::error::{Context, Error};
use crate::name::IfName;
use crate::netlink::{request, Socket};
use crate::netns::Netns;
use crate::run::{shell_quote, Mode};
use ipnet::IpNet;
use netlink_packet_route::RouteNetlinkMessage;
use nix::errno::Errno;
use std::fmt;
use std::net::IpAddr;

/// The ownership mark: the interface alias of every veth and bridge that
/// vethup creates, shown by `ip -d link` / `ip link` as `alias nsnet:vethup`.
/// vethdown decides by this mark, never by a name pattern.
pub const MARK: &str = "nsnet:vethup";

/// The longest alias, and so the longest mark, the kernel keeps: its
/// buffer is 256 bytes (`IFALIASZ`), and the length it is given counts
/// the terminating NUL, which must still leave one byte free.
pub const MAX_ALIAS: usize = 254;

/// FNV-1a, 64 bits: a hash that stays the same across builds and
/// versions, so what one version derives from a name the next derives too.
pub fn fnv1a(bytes: impl IntoIterator<Item = u8>) -> u64 {
    bytes.into_iter().fold(0xcbf2_9ce4_8422_2325, |hash, byte| {
        (hash ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01b3)
    })
}

/// A link-layer address, given to a link as it is made.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Mac(pub [u8; 6]);

impl Mac {
    /// A locally administered unicast address from 40 bits of `seed`.
    pub fn local(seed: u64) -> Mac {
        let b = seed.to_be_bytes();
        Mac([0x02, b[3], b[4], b[5], b[6], b[7]])
    }
}

impl fmt::Display for Mac {
    /// `02:4a:80:14:0d:cd`, as `ip link` writes it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// A link a step acts on: its name (for the script and for errors) and,
/// when it existed before the plan, the index it has.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dev {
    /// As the kernel has it: a link found on the host may have a name that
    /// nsnet itself would not give.
    pub name: String,
    /// `None`: an earlier step of the plan creates it.
    pub index: Option<u32>,
}

impl Dev {
    /// A link that exists, with its index.
    pub fn known(name: &str, index: u32) -> Dev {
        Dev {
            name: name.to_string(),
            index: Some(index),
        }
    }

    /// A link that an earlier step of the same plan creates.
    pub fn made(name: &IfName) -> Dev {
        Dev {
            name: name.to_string(),
            index: None,
        }
    }
}

/// One change to links, addresses or routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    /// A veth pair: `name` here, `peer` made directly inside `netns`.
    CreateVeth {
        name: IfName,
        mtu: Option<u32>,
        /// The bridge to attach `name` to, in the same request.
        master: Option<Dev>,
        /// The link-layer addresses of `name` and `peer`; the kernel's
        /// random ones when `None`.
        mac: Option<Mac>,
        peer: IfName,
        peer_mac: Option<Mac>,
        netns: Netns,
    },
    /// A bridge with an address of its own: without one the kernel gives
    /// it the lowest of its ports' and changes it as ports come and go, and
    /// every container behind it then loses its gateway's neighbour entry.
    CreateBridge {
        name: IfName,
        mtu: Option<u32>,
        mac: Mac,
    },
    SetAlias {
        dev: Dev,
        alias: String,
    },
    /// IPv6 addresses skip duplicate address detection (`nodad`), so they
    /// are usable at once instead of staying tentative for a second or more.
    /// Without `prefix_route` the kernel adds no route to the address's
    /// subnet (`noprefixroute`): the plan routes it itself.
    AddAddress {
        dev: Dev,
        addr: HostCidr,
        prefix_route: bool,
    },
    SetUp {
        dev: Dev,
        up: bool,
    },
    /// A route in the main table to `to` (the default route when its
    /// prefix is 0) out of `dev`: through the gateway `via`, or, without
    /// one, to a destination on the link itself.
    AddRoute {
        dev: Dev,
        to: IpNet,
        via: Option<IpAddr>,
    },
    SetMtu {
        dev: Dev,
        mtu: u32,
    },
    DeleteLink {
        dev: Dev,
    },
    /// Puts a link in device group `group` (from `was`): the links of one
    /// group are removed together by [`Step::DeleteGroup`].
    SetGroup {
        dev: Dev,
        group: u32,
        was: u32,
    },
    /// Removes every link of device group `group` as one batch, which
    /// costs the kernel one grace period instead of one per link.
    DeleteGroup {
        group: u32,
    },
}

impl Step {
    /// What the step does, for errors: `cannot <what>: <why>`.
    pub fn what(&self) -> String {
        match self {
            Step::CreateVeth {
                name, peer, netns, ..
            } => format!("create {name} with its peer {peer} in {}", netns.target()),
            Step::CreateBridge { name, .. } => format!("create the bridge {name}"),
            Step::SetAlias { dev, alias } => format!("mark {} as {alias}", dev.name),
            Step::AddAddress { dev, addr, .. } => format!("add {addr} to {}", dev.name),
            Step::SetUp { dev, up: true } => format!("bring {} up", dev.name),
            Step::SetUp { dev, up: false } => format!("bring {} down", dev.name),
            Step::AddRoute { dev, to, via } => {
                format!("add the {} on {}", route_words(to, via), dev.name)
            }
            Step::SetMtu { dev, mtu } => format!("set the MTU of {} to {mtu}", dev.name),
            Step::DeleteLink { dev } => format!("remove {}", dev.name),
            Step::SetGroup { dev, group, .. } => {
                format!("put {} in device group {group}", dev.name)
            }
            Step::DeleteGroup { group } => format!("remove the links of device group {group}"),
        }
    }

    /// The arguments after `ip` that do the same. Every name follows a
    /// keyword that takes the next word as it is (`name`, `dev`,
    /// `master`), so no name is ever read as a keyword of `ip`'s own.
    pub fn ip_args(&self) -> Vec<String> {
        let mut args: Vec<String> = Vec::new();
        let mut push = |words: &[&str]| args.extend(words.iter().map(|w| w.to_string()));
        match self {
            Step::CreateVeth {
                name,
                mtu,
                master,
                mac,
                peer,
                peer_mac,
                netns,
            } => {
                push(&["link", "add", "name", name.as_str()]);
                if let Some(mtu) = mtu {
                    push(&["mtu", &mtu.to_string()]);
                }
                if let Some(mac) = mac {
                    push(&["address", &mac.to_string()]);
                }
                if let Some(br) = master {
                    push(&["master", &br.name]);
                }
                push(&["type", "veth", "peer", "name", peer.as_str()]);
                if let Some(mtu) = mtu {
                    push(&["mtu", &mtu.to_string()]);
                }
                if let Some(mac) = peer_mac {
                    push(&["address", &mac.to_string()]);
                }
                push(&["netns", &netns.path().to_string_lossy()]);
            }
            Step::CreateBridge { name, mtu, mac } => {
                push(&["link", "add", "name", name.as_str()]);
                if let Some(mtu) = mtu {
                    push(&["mtu", &mtu.to_string()]);
                }
                push(&["address", &mac.to_string()]);
                push(&["type", "bridge"]);
            }
            Step::SetAlias { dev, alias } => {
                push(&["link", "set", "dev", &dev.name, "alias", alias])
            }
            Step::AddAddress {
                dev,
                addr,
                prefix_route,
            } => {
                push(&["addr", "add", &addr.to_string(), "dev", &dev.name]);
                if !addr.is_ipv4() {
                    push(&["nodad"]);
                }
                if !prefix_route {
                    push(&["noprefixroute"]);
                }
            }
            Step::SetUp { dev, up } => push(&[
                "link",
                "set",
                "dev",
                &dev.name,
                if *up { "up" } else { "down" },
            ]),
            Step::AddRoute { dev, to, via } => {
                let to = if to.prefix_len() == 0 {
                    "default".to_string()
                } else {
                    to.trunc().to_string()
                };
                push(&["route", "add", &to]);
                if let Some(via) = via {
                    push(&["via", &via.to_string()]);
                }
                push(&["dev", &dev.name]);
            }
            Step::SetMtu { dev, mtu } => {
                push(&["link", "set", "dev", &dev.name, "mtu", &mtu.to_string()])
            }
            Step::DeleteLink { dev } => push(&["link", "del", "dev", &dev.name]),
            Step::SetGroup { dev, group, .. } => {
                push(&["link", "set", "dev", &dev.name, "group", &group.to_string()])
            }
            Step::DeleteGroup { group } => push(&["link", "del", "group", &group.to_string()]),
        }
        args
    }

    /// The step as one line of shell.
    pub fn script_line(&self) -> String {
        let words: Vec<String> = self.ip_args().iter().map(|w| shell_quote(w)).collect();
        format!("ip {}\n", words.join(" "))
    }

    /// The name of the link this step creates, if it creates one.
    fn creates(&self) -> Option<&IfName> {
        match self {
            Step::CreateVeth { name, .. } | Step::CreateBridge { name, .. } => Some(name),
            _ => None,
        }
    }

    /// The request that does the step, its links found by `index`.
    fn request(&self, index: &Indexes) -> Result<RouteNetlinkMessage, Error> {
        let options =
            |mtu: &Option<u32>, master: Option<&Dev>, mac: &Option<Mac>| -> Result<_, Error> {
                Ok(request::NewLink {
                    mtu: *mtu,
                    master: master.map(|m| index.of(m)).transpose()?,
                    mac: mac.map(|m| m.0),
                })
            };
        Ok(match self {
            Step::CreateVeth {
                name,
                mtu,
                master,
                mac,
                peer,
                peer_mac,
                netns,
            } => request::new_veth(
                name.as_str(),
                options(mtu, master.as_ref(), mac)?,
                peer.as_str(),
                options(mtu, None, peer_mac)?,
                netns.fd(),
            ),
            Step::CreateBridge { name, mtu, mac } => {
                request::new_bridge(name.as_str(), options(mtu, None, &Some(*mac))?)
            }
            Step::SetAlias { dev, alias } => request::set_alias(index.of(dev)?, alias),
            Step::AddAddress {
                dev,
                addr,
                prefix_route,
            } => request::add_address(
                index.of(dev)?,
                addr.net(),
                request::AddressFlags {
                    nodad: !addr.is_ipv4(),
                    prefix_route: *prefix_route,
                },
            ),
            Step::SetUp { dev, up } => request::set_up(index.of(dev)?, *up),
            Step::AddRoute { dev, to, via } => request::add_route(index.of(dev)?, *to, *via),
            Step::SetMtu { dev, mtu } => request::set_mtu(index.of(dev)?, *mtu),
            Step::DeleteLink { dev } => request::delete_link(index.of(dev)?),
            Step::SetGroup { dev, group, .. } => request::set_group(index.of(dev)?, *group),
            Step::DeleteGroup { group } => request::delete_group(*group),
        })
    }

    /// The request that undoes the step once done, and what it does.
    fn undo(&self, index: &Indexes) -> Result<Option<(String, RouteNetlinkMessage)>, Error> {
        Ok(match self {
            Step::CreateVeth { name, .. } | Step::CreateBridge { name, .. } => Some((
                format!("remove {name}"),
                request::delete_link(index.of(&Dev::made(name))?),
            )),
            Step::AddAddress { dev, addr, .. } => Some((
                format!("remove {addr} from {}", dev.name),
                request::delete_address(index.of(dev)?, addr.net()),
            )),
            Step::SetUp { dev, up } => Some((
                format!("bring {} {}", dev.name, if *up { "down" } else { "up" }),
                request::set_up(index.of(dev)?, !up),
            )),
            Step::AddRoute { dev, to, via } => Some((
                format!("remove the {} on {}", route_words(to, via), dev.name),
                request::delete_route(index.of(dev)?, *to, *via),
            )),
            Step::SetGroup { dev, group, was } => Some((
                format!("put {} back from device group {group} in {was}", dev.name),
                request::set_group(index.of(dev)?, *was),
            )),
            Step::SetAlias { .. }
            | Step::SetMtu { .. }
            | Step::DeleteLink { .. }
            | Step::DeleteGroup { .. } => None,
        })
    }
}

/// Every address of `like`'s family: the destination of a default route.
pub fn anywhere(like: &IpAddr) -> IpNet {
    match like {
        IpAddr::V4(_) => IpNet::V4(Default::default()),
        IpAddr::V6(_) => IpNet::V6(Default::default()),
    }
}

/// `default route via 10.0.0.1`, `route to 10.0.0.2/32`, `route to
/// 10.1.0.0/24 via 10.1.0.1`.
fn route_words(to: &IpNet, via: &Option<IpAddr>) -> String {
    let mut words = if to.prefix_len() == 0 {
        "default route".to_string()
    } else {
        format!("route to {}", to.trunc())
    };
    if let Some(via) = via {
        words += &format!(" via {via}");
    }
    words
}

/// The indexes of the links a plan created so far, by name.
#[derive(Debug, Default)]
struct Indexes {
    made: Vec<(String, u32)>,
}

impl Indexes {
    fn of(&self, dev: &Dev) -> Result<u32, Error> {
        dev.index
            .or_else(|| {
                self.made
                    .iter()
                    .rev()
                    .find(|(name, _)| *name == dev.name)
                    .map(|(_, i)| *i)
            })
            .ok_or_else(|| {
                Error::failed(format!(
                    "cannot find {}: no step of the plan made it",
                    dev.name
                ))
            })
    }
}

/// A step of a plan, and whether a failure later in the plan undoes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub step: Step,
    pub undone_on_failure: bool,
}

/// An ordered list of steps, all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    entries: Vec<Entry>,
}

/// Why a plan stopped: the index of the refused step and the error, which
/// carries the kernel's errno. Turns into an [`Error`] with `?`.
#[derive(Debug, Clone)]
pub struct Failure {
    pub step: usize,
    pub error: Error,
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        failure.error
    }
}

impl Plan {
    pub fn new() -> Self {
        Plan::default()
    }

    /// Adds a step that a later failure leaves as it is (it changes only
    /// what an earlier step created, or nothing that matters).
    pub fn step(&mut self, step: Step) -> &mut Self {
        self.entries.push(Entry {
            step,
            undone_on_failure: false,
        });
        self
    }

    /// Adds a step that a later failure undoes.
    pub fn undoable(&mut self, step: Step) -> &mut Self {
        self.entries.push(Entry {
            step,
            undone_on_failure: true,
        });
        self
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Appends the steps of `other`, in order.
    pub fn extend(&mut self, other: Plan) -> &mut Self {
        self.entries.extend(other.entries);
        self
    }

    /// The plan as a shell script, one `ip` command per line.
    pub fn script(&self) -> String {
        self.entries.iter().map(|e| e.step.script_line()).collect()
    }

    /// Runs the plan over `socket`, or prints it in dry-run mode.
    pub fn execute(&self, mode: Mode, socket: &mut Socket) -> Result<(), Error> {
        match mode {
            Mode::DryRun => {
                print!("{}", self.script());
                Ok(())
            }
            Mode::Run => self.run(socket).map_err(Error::from),
        }
    }

    /// Runs every step in order, each acknowledged. On a refusal, undoes
    /// the steps that succeeded (those marked undoable), in reverse, and
    /// says which step failed and why.
    pub fn run(&self, socket: &mut Socket) -> Result<(), Failure> {
        let mut index = Indexes::default();
        for (i, entry) in self.entries.iter().enumerate() {
            if let Err(error) = run_step(socket, &entry.step, &mut index) {
                let undo = self.undo(socket, i, &index);
                let error = match undo {
                    Ok(()) => error,
                    Err(left) => Error::all([error, left.context("undoing what was done")])
                        .expect_err("two errors"),
                };
                return Err(Failure { step: i, error });
            }
        }
        Ok(())
    }

    /// Runs every step even when some fail, for teardown, where each
    /// removal stands on its own and nothing is undone. Returns the
    /// failures, each naming its step.
    pub fn run_all(&self, socket: &mut Socket) -> Vec<Failure> {
        let mut index = Indexes::default();
        self.entries
            .iter()
            .enumerate()
            .filter_map(|(i, entry)| {
                run_step(socket, &entry.step, &mut index)
                    .err()
                    .map(|error| Failure { step: i, error })
            })
            .collect()
    }

    /// Undoes the undoable steps among the first `done`, in reverse, best
    /// effort: an undo whose object is already gone is no failure.
    fn undo(&self, socket: &mut Socket, done: usize, index: &Indexes) -> Result<(), Error> {
        let mut errors = Vec::new();
        for entry in self.entries[..done].iter().rev() {
            if !entry.undone_on_failure {
                continue;
            }
            let (what, request) = match entry.step.undo(index) {
                Ok(Some(undo)) => undo,
                Ok(None) => continue,
                Err(e) => {
                    errors.push(e);
                    continue;
                }
            };
            if let Err(refusal) = socket.change(request) {
                if !gone(refusal.errno) {
                    errors.push(refusal.error(format!("cannot {what}")));
                }
            }
        }
        Error::all(errors)
    }
}

/// Sends one step and records the index of a link it creates. The error
/// reads `cannot <what the step does>: <why>`.
fn run_step(socket: &mut Socket, step: &Step, index: &mut Indexes) -> Result<(), Error> {
    let what = format!("cannot {}", step.what());
    let request = step.request(index).context(&what)?;
    let echoed = socket.change(request).map_err(|r| r.error(&what))?;
    if let Some(name) = step.creates() {
        let made = echoed.iter().find_map(|m| match m {
            RouteNetlinkMessage::NewLink(l) => crate::netlink::Link::parse(l)
                .filter(|l| l.name == name.as_str())
                .map(|l| l.index),
            _ => None,
        });
        // A kernel that does not echo new links (before 6.1): the link
        // just made, by name.
        let made = match made {
            Some(i) => i,
            None => socket
                .link(name.as_str())
                .context(&what)?
                .map(|l| l.index)
                .ok_or_else(|| Error::failed(format!("{what}: it vanished as it was made")))?,
        };
        index.made.push((name.to_string(), made));
    }
    Ok(())
}

/// A plan that removes `links` (found in `state`) together: a single link
/// by its index; several put in a device group that no link of `state`
/// is in, then removed as that group, so the kernel unregisters them as
/// one batch and waits for one grace period, not one per link. A failure
/// puts the groups back.
pub fn removal(links: &[&state::Link], state: &state::State) -> Plan {
    let mut plan = Plan::new();
    match links {
        [] => {}
        [link] => {
            plan.step(Step::DeleteLink {
                dev: Dev::known(&link.name, link.index),
            });
        }
        several => {
            // Far from the small numbers people give groups by hand.
            let group = (0x6e73_6e00..)
                .find(|g| !state.links.iter().any(|l| l.group == *g))
                .expect("a free device group");
            for link in several {
                plan.undoable(Step::SetGroup {
                    dev: Dev::known(&link.name, link.index),
                    group,
                    was: link.group,
                });
            }
            plan.step(Step::DeleteGroup { group });
        }
    }
    plan
}

/// The errnos by which the kernel says the object of a removal is
/// already gone: the link (ENODEV), the address (EADDRNOTAVAIL), the
/// route (ESRCH).
pub fn gone(errno: Errno) -> bool {
    matches!(errno, Errno::ENODEV | Errno::EADDRNOTAVAIL | Errno::ESRCH)
}

/// The MTUs an interface may have: from IPv4's minimum (RFC 791) up.
pub const MIN_MTU: u32 = 68;
pub const MAX_MTU: u32 = 65535;
/// Below this the kernel switches IPv6 off on a device.
pub const MIN_MTU_IPV6: u32 = 1280;

/// Parses `--mtu N`: a usage error outside what an interface accepts.
pub fn parse_mtu(text: &str) -> Result<u32, Error> {
    let invalid = || {
        Error::usage(format!(
            "invalid MTU '{}': give a number from {MIN_MTU} to {MAX_MTU}",
            text.escape_debug()
        ))
    };
    let mtu = text.parse::<u32>().map_err(|_| invalid())?;
    if (MIN_MTU..=MAX_MTU).contains(&mtu) {
        Ok(mtu)
    } else {
        Err(invalid())
    }
}

/// Checks an MTU against the range and against the addresses it is to
/// carry: IPv6 needs at least 1280.
pub fn check_mtu(mtu: u32, addrs: &[HostCidr]) -> Result<(), Error> {
    parse_mtu(&mtu.to_string())?;
    match addrs.iter().find(|a| !a.is_ipv4()) {
        Some(v6) if mtu < MIN_MTU_IPV6 => Err(Error::usage(format!(
            "--mtu {mtu} is too small for the IPv6 address {v6} \
             (IPv6 needs at least {MIN_MTU_IPV6})"
        ))),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn name(text: &str) -> IfName {
        text.parse().unwrap()
    }

    /// Every name follows a keyword that takes it as it is, and is quoted
    /// for the shell where it must be: a name that is a word of `ip`'s
    /// grammar or of the shell's stays a name.
    #[test]
    fn names_in_scripts_are_names() {
        let mut plan = Plan::new();
        plan.undoable(Step::CreateBridge {
            name: name("type"),
            mtu: None,
            mac: Mac([2, 0, 0, 0, 0, 1]),
        })
        .step(Step::SetAlias {
            dev: Dev::made(&name("type")),
            alias: MARK.into(),
        })
        .step(Step::AddAddress {
            dev: Dev::made(&name("-batch")),
            addr: "fd00::1/64".parse().unwrap(),
            prefix_route: true,
        })
        .step(Step::SetUp {
            dev: Dev::known("a;b'c", 7),
            up: false,
        })
        .step(Step::AddRoute {
            dev: Dev::known("dev", 8),
            to: "0.0.0.0/0".parse().unwrap(),
            via: Some("10.0.0.1".parse().unwrap()),
        })
        .step(Step::SetMtu {
            dev: Dev::known("42", 9),
            mtu: 1400,
        })
        .step(Step::DeleteLink {
            dev: Dev::known("help", 10),
        });
        assert_eq!(
            plan.script(),
            "ip link add name type address 02:00:00:00:00:01 type bridge\n\
             ip link set dev type alias nsnet:vethup\n\
             ip addr add fd00::1/64 dev -batch nodad\n\
             ip link set dev 'a;b'\\''c' down\n\
             ip route add default via 10.0.0.1 dev dev\n\
             ip link set dev 42 mtu 1400\n\
             ip link del dev help\n"
        );
    }

    /// What the CNI plugin asks of a plan beyond vethup's: addresses of
    /// its own choosing, an address without its subnet's route, routes
    /// with and without a gateway.
    #[test]
    fn macs_prefix_routes_and_routes_in_scripts() {
        let mac = Mac::local(0x0123_4567_89ab_cdef);
        assert_eq!(mac.to_string(), "02:67:89:ab:cd:ef");
        let mut plan = Plan::new();
        plan.undoable(Step::CreateBridge {
            name: name("br0"),
            mtu: None,
            mac,
        })
        .step(Step::AddAddress {
            dev: Dev::known("eth0", 2),
            addr: "10.1.0.2/24".parse().unwrap(),
            prefix_route: false,
        })
        .step(Step::AddRoute {
            dev: Dev::known("eth0", 2),
            to: "10.1.0.1/32".parse().unwrap(),
            via: None,
        })
        .step(Step::AddRoute {
            dev: Dev::known("eth0", 2),
            to: "10.1.0.9/24".parse().unwrap(),
            via: Some("10.1.0.1".parse().unwrap()),
        });
        assert_eq!(
            plan.script(),
            "ip link add name br0 address 02:67:89:ab:cd:ef type bridge\n\
             ip addr add 10.1.0.2/24 dev eth0 noprefixroute\n\
             ip route add 10.1.0.1/32 dev eth0\n\
             ip route add 10.1.0.0/24 via 10.1.0.1 dev eth0\n"
        );
        assert_eq!(
            plan.entries()[3].step.what(),
            "add the route to 10.1.0.0/24 via 10.1.0.1 on eth0"
        );
    }

    #[test]
    fn links_removed_together_go_as_one_unused_group() {
        let mut state = state::State::default();
        state.links = vec![
            state::Link::made(3, "c1", "veth", None, Some(5)),
            state::Link::made(5, "br0", "bridge", None, None),
        ];
        state.links[1].group = 0x6e73_6e00;
        let one = removal(&[&state.links[0]], &state);
        assert_eq!(one.script(), "ip link del dev c1\n");
        let both = removal(&[&state.links[0], &state.links[1]], &state);
        assert_eq!(
            both.script(),
            "ip link set dev c1 group 1853058561\n\
             ip link set dev br0 group 1853058561\n\
             ip link del group 1853058561\n"
        );
        let undone: Vec<bool> = both.entries().iter().map(|e| e.undone_on_failure).collect();
        assert_eq!(undone, [true, true, false]);
        assert!(removal(&[], &state).entries().is_empty());
    }

    #[test]
    fn a_made_link_is_found_by_the_index_its_step_got() {
        let mut index = Indexes::default();
        let dev = Dev::made(&name("veth0"));
        assert!(index
            .of(&dev)
            .unwrap_err()
            .to_string()
            .contains("no step of the plan made it"));
        index.made.push(("veth0".into(), 12));
        assert_eq!(index.of(&dev).unwrap(), 12);
        assert_eq!(index.of(&Dev::known("veth0", 3)).unwrap(), 3);
    }

    #[test]
    fn undoing_reverses_what_a_step_did() {
        let index = Indexes {
            made: vec![("v0".into(), 5)],
        };
        let undo = |step: Step| step.undo(&index).unwrap().map(|(what, _)| what);
        assert_eq!(
            undo(Step::CreateBridge {
                name: name("v0"),
                mtu: None,
                mac: Mac([2, 0, 0, 0, 0, 1])
            }),
            Some("remove v0".into())
        );
        assert_eq!(
            undo(Step::SetUp {
                dev: Dev::known("v0", 5),
                up: true
            }),
            Some("bring v0 down".into())
        );
        assert_eq!(
            undo(Step::AddAddress {
                dev: Dev::known("v0", 5),
                addr: "10.0.0.1/24".parse().unwrap(),
                prefix_route: true
            }),
            Some("remove 10.0.0.1/24 from v0".into())
        );
        assert_eq!(
            undo(Step::SetMtu {
                dev: Dev::known("v0", 5),
                mtu: 1400
            }),
            None
        );
    }
}
