//! vethup and vethdown: a veth pair from the host into a namespace, and
//! away again.
//!
//! Up: the peer is created directly inside the target namespace, the one
//! of the file opened when TARGET was checked, in the same request as the
//! host end (moving a device between namespaces costs the kernel far more
//! than making it there), and left down for
//! netinit; the host end is marked, addressed and brought up, or attached
//! to a bridge in that same request. Everything is one [`Plan`] of
//! acknowledged rtnetlink requests, undone if the kernel refuses a step.
//!
//! Down: removes pairs carrying the mark (the peer goes with the host end)
//! and any bridge of vethup's left without ports, deciding by the mark and
//! the link type, never by a name, and removing by index.
//!
//! Both hold the host's [`LinkLock`] from their look to their last act, so
//! no concurrent vethup or vethdown acts on what they saw in between.
//!
//! Again at once: a marked pair in the way (HOSTIF's name, or an address
//! to assign) whose peer's namespace is being dismantled — its container
//! has just exited, and the kernel would remove the pair a moment later —
//! is removed first, by its index. The kernel says a namespace is dying
//! only once its last reference is gone, a grace period after its last
//! process. A pair whose peer's namespace a process or a mount still holds
//! is a live container's, refused at once; for any other, vethup waits for
//! the kernel's word, event-driven and bounded (`DYING_GRACE`).

use super::lock::LinkLock;
use super::state::{Link, State};
use super::{bridge, gone, Dev, Failure, Plan, Step, MARK};
use crate::cidr::HostCidr;
use crate::error::Error;
use crate::name::IfName;
use crate::netlink::events::{LinkEvent, LinkEvents};
use crate::netlink::{request, Socket};
use crate::netns::{Netns, Target};
use crate::run::Mode;
use nix::errno::Errno;
use std::time::{Duration, Instant};

/// The host end's address when no `--addr` is given (SPEC's default world).
pub const DEFAULT_ADDR: &str = "10.0.0.1/24";
/// The container end's name when no `--ifname` is given.
pub const DEFAULT_IFNAME: &str = "eth0";

/// What `vethup` is asked to make.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Up {
    /// HOSTIF: the host end.
    pub host: IfName,
    pub target: Target,
    /// The end inside the target (`--ifname`).
    pub ifname: IfName,
    /// `--addr`: for the host end, or for a bridge vethup creates; empty
    /// means [`DEFAULT_ADDR`].
    pub addrs: Vec<HostCidr>,
    pub bridge: Option<IfName>,
    pub mtu: Option<u32>,
}

impl Up {
    /// A request with the defaults: `eth0` inside, `10.0.0.1/24` outside.
    pub fn new(host: IfName, target: Target) -> Up {
        Up {
            host,
            target,
            ifname: DEFAULT_IFNAME.parse().expect("the default name is valid"),
            addrs: Vec::new(),
            bridge: None,
            mtu: None,
        }
    }

    /// The addresses to assign: those given, or the default.
    pub fn addresses(&self) -> Vec<HostCidr> {
        if self.addrs.is_empty() {
            vec![DEFAULT_ADDR.parse().expect("the default address is valid")]
        } else {
            self.addrs.clone()
        }
    }

    /// The checks that need nothing but the request (usage errors).
    pub fn validate(&self) -> Result<(), Error> {
        let addrs = self.addresses();
        for (i, a) in addrs.iter().enumerate() {
            if addrs[..i].iter().any(|b| b.addr() == a.addr()) {
                return Err(Error::usage(format!("--addr {} is given twice", a.addr())));
            }
        }
        if self.bridge.as_ref() == Some(&self.host) {
            return Err(Error::usage(format!(
                "the bridge and the host end cannot both be named {}",
                self.host
            )));
        }
        if let Some(mtu) = self.mtu {
            super::check_mtu(mtu, &addrs)?;
        }
        Ok(())
    }

    /// The plan for this request into `netns`, given what the host has
    /// now. Refuses, before anything is done, what would fail or trample
    /// on someone else's interface.
    pub fn plan(&self, state: &State, netns: &Netns) -> Result<Plan, Error> {
        let host = self.host.as_str();
        if state.link(host).is_some() {
            return Err(Error::failed(format!(
                "cannot create {host}: an interface with that name already exists"
            )));
        }
        let mut plan = Plan::new();
        let addrs = self.addresses();
        let master = match &self.bridge {
            Some(br) => Some(match bridge::existing(state, br, host)? {
                Some(dev) => dev,
                None => {
                    check_free(state, &addrs, br.as_str())?;
                    bridge::create(
                        &mut plan,
                        br,
                        bridge::NewBridge {
                            addrs: &addrs,
                            mtu: self.mtu,
                            mark: MARK,
                        },
                    );
                    Dev::made(br)
                }
            }),
            None => {
                check_free(state, &addrs, host)?;
                None
            }
        };
        let attached = master.is_some();
        plan.undoable(Step::CreateVeth {
            name: self.host.clone(),
            mtu: self.mtu,
            master,
            mac: None,
            peer: self.ifname.clone(),
            peer_mac: None,
            netns: netns.clone(),
        });
        let dev = Dev::made(&self.host);
        plan.step(Step::SetAlias {
            dev: dev.clone(),
            alias: MARK.into(),
        });
        if !attached {
            for addr in &addrs {
                plan.step(Step::AddAddress {
                    dev: dev.clone(),
                    addr: *addr,
                    prefix_route: true,
                });
            }
        }
        plan.step(Step::SetUp { dev, up: true });
        Ok(plan)
    }

    /// Words for a refused plan that say more than the kernel's: which end
    /// of the pair has a name that is taken.
    fn explain(&self, plan: &Plan, failure: Failure, socket: &mut Socket) -> Error {
        let creating_pair = matches!(plan.entries()[failure.step].step, Step::CreateVeth { .. });
        if creating_pair && failure.error.errno() == Some(Errno::EEXIST) {
            let host_is_there = socket.link(self.host.as_str()).ok().flatten().is_some();
            return if host_is_there {
                Error::failed(format!(
                    "cannot create {}: an interface with that name already exists",
                    self.host
                ))
            } else {
                Error::failed(format!(
                    "cannot create {} in {}: an interface with that name already exists there",
                    self.ifname, self.target
                ))
            };
        }
        failure.into()
    }

    /// vethup's pairs in the way of this request: named HOSTIF, or holding
    /// an address to assign; each once.
    fn ours_in_the_way(&self, state: &State) -> Vec<Link> {
        let mut links: Vec<&Link> = state.link(self.host.as_str()).into_iter().collect();
        let assigns = match &self.bridge {
            Some(br) => state.link(br.as_str()).is_none(),
            None => true,
        };
        if assigns {
            links.extend(
                self.addresses()
                    .iter()
                    .filter_map(|a| state.holder_of(a.addr())),
            );
        }
        let mut ours: Vec<Link> = Vec::new();
        for link in links {
            if is_ours(link) && !ours.iter().any(|l| l.index == link.index) {
                ours.push(link.clone());
            }
        }
        ours
    }
}

/// Refuses addresses that another interface already has.
fn check_free(state: &State, addrs: &[HostCidr], dev: &str) -> Result<(), Error> {
    for addr in addrs {
        if let Some(holder) = state.holder_of(addr.addr()) {
            return Err(Error::failed(format!(
                "cannot add {addr} to {dev}: {} is already assigned to {}",
                addr.addr(),
                holder.name
            )));
        }
    }
    Ok(())
}

/// What the plan for `request` needs to know. With an existing bridge that
/// is HOSTIF and the bridge alone, asked for by name: a host with hundreds
/// of containers on the bridge is then as quick to check as an empty one.
/// Otherwise (a bridge to create, or an address for HOSTIF) every address
/// of the host is checked, so everything is read.
fn look(request: &Up, socket: &mut Socket) -> Result<State, Error> {
    if let Some(br) = &request.bridge {
        let some = State::read_links(socket, &[request.host.as_str(), br.as_str()])?;
        if some.link(br.as_str()).is_some() {
            return Ok(some);
        }
    }
    State::read(socket)
}

/// How long a marked pair in the way, whose peer's namespace nothing
/// visible holds but the kernel has not yet called dying, is given to show
/// that it is dying. A namespace whose last process has exited keeps its
/// last references for one RCU grace period (its sockets are freed that
/// late), and only then does the kernel say it is dying; a grace period is
/// milliseconds, this bound is generous. A pair still there when it passes
/// (its namespace held by an open descriptor alone) is refused. The lock
/// is not held meanwhile.
const DYING_GRACE: Duration = Duration::from_millis(500);

/// Removes those of `links` whose containers have exited (see the
/// module's words), by index; returns the others.
fn remove_dying(links: Vec<Link>, socket: &mut Socket) -> Result<(bool, Vec<Link>), Error> {
    let mut removed = false;
    let mut alive = Vec::new();
    for link in links {
        if !socket.peer_is_dying(&link)? {
            alive.push(link);
            continue;
        }
        match socket.change(request::delete_link(link.index)) {
            Ok(_) => {}
            Err(r) if gone(r.errno) => {}
            Err(r) => {
                return Err(r.error(format!(
                    "cannot remove {}, whose container has exited",
                    link.name
                )))
            }
        }
        removed = true;
    }
    Ok((removed, alive))
}

/// Whether a live process or a mount holds the namespace of `link`'s peer:
/// a container that lives, not one on its way out. Asked only when a pair
/// is in the way, so the walk through /proc costs nothing on the way of a
/// setup without conflict.
fn peer_is_held(link: &Link, socket: &mut Socket) -> Result<bool, Error> {
    let Some(nsid) = link.peer_netnsid.filter(|id| *id >= 0) else {
        return Ok(false);
    };
    for netns in crate::netns::held() {
        if socket.nsid_of(std::os::fd::AsFd::as_fd(&netns))? == Some(nsid) {
            return Ok(true);
        }
    }
    Ok(false)
}

/// Waits, for at most [`DYING_GRACE`], until the kernel says the peer of
/// each of `links` is dying or the link is gone, woken by its events.
fn wait_for_dying(links: &[Link], socket: &mut Socket) -> Result<(), Error> {
    // Subscribed before the first look, so that the kernel's word between
    // the look and the wait still wakes us.
    let mut events = LinkEvents::subscribe()?;
    let deadline = Instant::now() + DYING_GRACE;
    for link in links {
        while !socket.peer_is_dying(link)? {
            let said = events.next(deadline)?;
            if said.is_empty() {
                return Ok(());
            }
            if said
                .iter()
                .any(|e| matches!(e, LinkEvent::Deleted(l) if l.index == link.index))
            {
                break;
            }
        }
    }
    Ok(())
}

/// vethup: checks the request and the target, then plans and runs (or
/// prints) the setup.
pub fn up(request: &Up, mode: Mode) -> Result<(), Error> {
    request.validate()?;
    let netns = request.target.open()?;
    let mut socket = Socket::here()?;
    if mode == Mode::DryRun {
        let plan = request.plan(&look(request, &mut socket)?, &netns)?;
        return plan.execute(mode, &mut socket);
    }
    let mut waited = false;
    loop {
        let lock = LinkLock::take()?;
        let mut state = look(request, &mut socket)?;
        let (removed, alive) = remove_dying(request.ours_in_the_way(&state), &mut socket)?;
        // A failure to tell is no verdict: the bounded wait decides then.
        let live = waited
            || alive
                .iter()
                .any(|l| peer_is_held(l, &mut socket).unwrap_or(false));
        if alive.is_empty() || live {
            if removed {
                state = look(request, &mut socket)?;
            }
            let plan = request.plan(&state, &netns)?;
            return plan
                .run(&mut socket)
                .map_err(|failure| request.explain(&plan, failure, &mut socket));
        }
        // Pairs of ours in the way whose namespaces nothing holds but the
        // kernel has not yet called dying: wait for its word without holding
        // up other runs, then look again.
        drop(lock);
        wait_for_dying(&alive, &mut socket)?;
        waited = true;
    }
}

/// What `vethdown` is asked to remove.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Down {
    pub names: Vec<IfName>,
    /// An absent name is not an error.
    pub if_exists: bool,
    /// Every pair vethup made, instead of `names`.
    pub all: bool,
}

impl Down {
    /// The plan: the pairs, then vethup's bridges that are left without
    /// ports. Refuses, before anything is done, a name that is not a veth
    /// made by vethup.
    pub fn plan(&self, state: &State) -> Result<Plan, Error> {
        let mut leaving: Vec<&Link> = Vec::new();
        if self.all {
            leaving.extend(state.links.iter().filter(|l| is_ours(l)));
        } else {
            for name in &self.names {
                let name = name.as_str();
                match state.link(name) {
                    None if self.if_exists => {}
                    None => {
                        return Err(Error::failed(format!(
                            "cannot remove {name}: no such interface"
                        )))
                    }
                    Some(link) if !link.is("veth") => {
                        return Err(Error::failed(format!(
                            "refusing to remove {name}: it is {}, not a veth pair",
                            link.kind_words()
                        )))
                    }
                    Some(link) if !is_ours(link) => {
                        return Err(Error::failed(format!(
                            "refusing to remove {name}: vethup did not make it \
                             (it has no alias {MARK})"
                        )))
                    }
                    Some(link) if leaving.iter().any(|l| l.index == link.index) => {}
                    Some(link) => leaving.push(link),
                }
            }
        }
        let indexes: Vec<u32> = leaving.iter().map(|l| l.index).collect();
        let mut plan = removals(leaving);
        plan.extend(removals(bridge::emptied(state, &indexes)));
        Ok(plan)
    }
}

fn is_ours(link: &Link) -> bool {
    link.is("veth") && link.marked(MARK)
}

/// Steps that remove `links`, by index.
fn removals(links: Vec<&Link>) -> Plan {
    let mut plan = Plan::new();
    for link in links {
        plan.step(Step::DeleteLink {
            dev: Dev::known(&link.name, link.index),
        });
    }
    plan
}

/// vethdown: checks every name, then removes (or prints the removal of)
/// the pairs and the bridges they leave empty. Teardown carries on past a
/// failed removal and reports them all; an interface that vanished
/// meanwhile (its namespace died) is no failure.
pub fn down(request: &Down, mode: Mode) -> Result<(), Error> {
    let mut socket = Socket::here()?;
    let _lock = match mode {
        Mode::Run => Some(LinkLock::take()?),
        Mode::DryRun => None,
    };
    let links_only = |socket: &mut Socket| -> Result<State, Error> {
        Ok(State {
            links: socket.links()?,
            addresses: Vec::new(),
        })
    };
    let plan = request.plan(&links_only(&mut socket)?)?;
    if mode == Mode::DryRun {
        return plan.execute(mode, &mut socket);
    }
    let mut errors: Vec<Error> = plan
        .run_all(&mut socket)
        .into_iter()
        .map(|f| f.error)
        .filter(|e| !e.errno().is_some_and(gone))
        .collect();
    // A port whose namespace died while we acted may have left a bridge
    // of ours empty; no vethup attaches while we hold the lock.
    let now = links_only(&mut socket)?;
    errors.extend(
        removals(bridge::emptied(&now, &[]))
            .run_all(&mut socket)
            .into_iter()
            .map(|f| f.error)
            .filter(|e| !e.errno().is_some_and(gone)),
    );
    Error::all(errors)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::state::Address;

    fn host() -> State {
        State {
            links: vec![
                Link {
                    kind: None,
                    altnames: vec!["loopback".into()],
                    ..Link::made(1, "lo", "", None, None)
                },
                Link::made(2, "up0", "veth", None, None),
                Link::made(3, "ifb0", "ifb", None, None),
            ],
            addresses: vec![Address {
                index: 2,
                addr: "198.51.100.2".parse().unwrap(),
                prefix: 24,
            }],
        }
    }

    fn up(args: &str) -> Up {
        let words: Vec<&str> = args.split_whitespace().collect();
        let mut request = Up::new(words[0].parse().unwrap(), words[1].parse().unwrap());
        let mut rest = words[2..].iter();
        while let Some(option) = rest.next() {
            let value = rest.next().unwrap();
            match *option {
                "--addr" => request.addrs.push(value.parse().unwrap()),
                "--ifname" => request.ifname = value.parse().unwrap(),
                "--bridge" => request.bridge = Some(value.parse().unwrap()),
                "--mtu" => request.mtu = Some(crate::link::parse_mtu(value).unwrap()),
                _ => panic!("{option}"),
            }
        }
        request
    }

    fn plan(request: &Up, state: &State) -> Result<Plan, Error> {
        request.plan(state, &Netns::for_plans(request.target.clone()))
    }

    fn script(args: &str, state: &State) -> String {
        let request = up(args);
        request.validate().unwrap();
        plan(&request, state).unwrap().script()
    }

    fn refusal(args: &str, state: &State) -> String {
        let request = up(args);
        match request.validate() {
            Err(e) => e.to_string(),
            Ok(()) => plan(&request, state).unwrap_err().to_string(),
        }
    }

    #[test]
    fn the_default_pair() {
        assert_eq!(
            script("veth0 4242", &host()),
            "ip link add name veth0 type veth peer name eth0 netns /proc/4242/ns/net\n\
             ip link set dev veth0 alias nsnet:vethup\n\
             ip addr add 10.0.0.1/24 dev veth0\n\
             ip link set dev veth0 up\n"
        );
    }

    #[test]
    fn every_option_on_a_pair() {
        assert_eq!(
            script(
                "v1 c1 --ifname net0 --mtu 1400 --addr 10.1.0.1/24 --addr fd00:1::1/64",
                &host()
            ),
            "ip link add name v1 mtu 1400 type veth peer name net0 mtu 1400 netns /run/netns/c1\n\
             ip link set dev v1 alias nsnet:vethup\n\
             ip addr add 10.1.0.1/24 dev v1\n\
             ip addr add fd00:1::1/64 dev v1 nodad\n\
             ip link set dev v1 up\n"
        );
    }

    #[test]
    fn only_the_creation_has_an_undo() {
        let plan = plan(&up("veth0 4242"), &host()).unwrap();
        let undone: Vec<bool> = plan.entries().iter().map(|e| e.undone_on_failure).collect();
        assert_eq!(undone, [true, false, false, false]);
    }

    #[test]
    fn a_missing_bridge_is_created_with_the_addresses() {
        assert_eq!(
            script("c1 /run/netns/a --bridge nsbr0 --mtu 1400", &host()),
            "ip link add name nsbr0 mtu 1400 address 02:88:7c:b1:22:9e type bridge\n\
             ip link set dev nsbr0 alias nsnet:vethup\n\
             ip addr add 10.0.0.1/24 dev nsbr0\n\
             ip link set dev nsbr0 up\n\
             ip link add name c1 mtu 1400 master nsbr0 type veth peer name eth0 mtu 1400 netns /run/netns/a\n\
             ip link set dev c1 alias nsnet:vethup\n\
             ip link set dev c1 up\n"
        );
    }

    #[test]
    fn an_existing_bridge_is_used_as_it_is() {
        let mut state = host();
        state
            .links
            .push(Link::made(9, "nsbr0", "bridge", None, None));
        state.addresses.push(Address {
            index: 9,
            addr: "10.0.0.1".parse().unwrap(),
            prefix: 24,
        });
        assert_eq!(
            script("c2 77 --bridge nsbr0", &state),
            "ip link add name c2 master nsbr0 type veth peer name eth0 netns /proc/77/ns/net\n\
             ip link set dev c2 alias nsnet:vethup\n\
             ip link set dev c2 up\n"
        );
    }

    #[test]
    fn refusals_before_acting() {
        let state = host();
        assert_eq!(
            refusal("up0 42", &state),
            "cannot create up0: an interface with that name already exists"
        );
        assert_eq!(
            refusal("loopback 42", &state),
            "cannot create loopback: an interface with that name already exists"
        );
        assert_eq!(
            refusal("v1 42 --addr 198.51.100.2/24", &state),
            "cannot add 198.51.100.2/24 to v1: 198.51.100.2 is already assigned to up0"
        );
        assert_eq!(
            refusal("v1 42 --bridge ifb0", &state),
            "cannot attach v1 to ifb0: ifb0 is an ifb, not a bridge"
        );
        assert_eq!(
            refusal("v1 42 --bridge br0 --addr 198.51.100.2/25", &state),
            "cannot add 198.51.100.2/25 to br0: 198.51.100.2 is already assigned to up0"
        );
    }

    #[test]
    fn usage_refusals() {
        let state = host();
        assert_eq!(
            refusal("v1 42 --addr 10.0.0.1/24 --addr 10.0.0.1/16", &state),
            "--addr 10.0.0.1 is given twice"
        );
        assert_eq!(
            refusal("v1 42 --bridge v1", &state),
            "the bridge and the host end cannot both be named v1"
        );
        assert_eq!(
            refusal("v1 42 --mtu 1000 --addr fd00::1/64", &state),
            "--mtu 1000 is too small for the IPv6 address fd00::1/64 (IPv6 needs at least 1280)"
        );
        assert_eq!(up("v1 42 --mtu 1000").validate(), Ok(()));
        for bad in ["67", "65536", "x", ""] {
            assert_eq!(
                crate::link::parse_mtu(bad).unwrap_err().kind(),
                crate::Kind::Usage
            );
        }
        assert_eq!(crate::link::parse_mtu("9000"), Ok(9000));
    }

    fn ours() -> State {
        let mut state = host();
        state.links.extend([
            Link::made(10, "nsbr0", "bridge", Some(MARK), None),
            Link::made(11, "c1", "veth", Some(MARK), Some(10)),
            Link::made(12, "c2", "veth", Some(MARK), Some(10)),
            Link::made(13, "veth0", "veth", Some(MARK), None),
            Link::made(14, "br-x", "bridge", None, None),
            Link::made(15, "other", "veth", None, Some(14)),
        ]);
        state
    }

    fn down(names: &[&str], if_exists: bool, all: bool) -> Result<String, String> {
        let request = Down {
            names: names.iter().map(|n| n.parse().unwrap()).collect(),
            if_exists,
            all,
        };
        request
            .plan(&ours())
            .map(|p| p.script())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn down_removes_the_pair_and_an_emptied_bridge() {
        assert_eq!(
            down(&["veth0"], false, false).unwrap(),
            "ip link del dev veth0\n"
        );
        assert_eq!(down(&["c1"], false, false).unwrap(), "ip link del dev c1\n");
        assert_eq!(
            down(&["c1", "c2", "c1"], false, false).unwrap(),
            "ip link del dev c1\nip link del dev c2\nip link del dev nsbr0\n"
        );
    }

    #[test]
    fn down_all_takes_exactly_what_is_marked() {
        assert_eq!(
            down(&[], false, true).unwrap(),
            "ip link del dev c1\nip link del dev c2\nip link del dev veth0\nip link del dev nsbr0\n"
        );
    }

    #[test]
    fn down_refuses_what_vethup_did_not_make() {
        assert_eq!(
            down(&["veth0", "up0"], false, false).unwrap_err(),
            "refusing to remove up0: vethup did not make it (it has no alias nsnet:vethup)"
        );
        assert_eq!(
            down(&["ifb0"], false, false).unwrap_err(),
            "refusing to remove ifb0: it is an ifb, not a veth pair"
        );
        assert_eq!(
            down(&["nsbr0"], true, false).unwrap_err(),
            "refusing to remove nsbr0: it is a bridge, not a veth pair"
        );
        assert_eq!(
            down(&["gone"], false, false).unwrap_err(),
            "cannot remove gone: no such interface"
        );
        assert_eq!(down(&["gone"], true, false).unwrap(), "");
    }
}
