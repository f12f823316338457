//! vethup and vethdown: a veth pair from the host into a namespace, and
//! away again.
//!
//! Up: the peer is created directly inside the target namespace in the same
//! request as the host end (moving a device costs the kernel 16–40 ms), left
//! down for netinit; the host end is marked, addressed and brought up, or
//! attached to a bridge. Everything is one [`Plan`], run by one
//! `ip -batch -` process, undone if the kernel refuses a step.
//!
//! Down: removes pairs carrying the mark (the peer goes with the host end)
//! and any bridge of vethup's left without ports, deciding by the mark and
//! the link type, never by a name.

use super::state::{Link, State};
use super::{address_args, bridge, Failure, Plan, MARK};
use crate::cidr::HostCidr;
use crate::error::Error;
use crate::name::IfName;
use crate::netns::Target;
use crate::run::Mode;

/// The host end's address when no `--addr` is given (SPEC's default world).
pub const DEFAULT_ADDR: &str = "10.0.0.1/24";
/// The container end's name when no `--ifname` is given.
pub const DEFAULT_IFNAME: &str = "eth0";
/// How often vethup plans afresh when a concurrent vethup or vethdown
/// created or removed the bridge between its look and its act.
const TRIES: usize = 5;

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

    /// The plan for this request, given what the host has now. Refuses,
    /// before anything is done, what would fail or trample on someone
    /// else's interface.
    pub fn plan(&self, state: &State) -> Result<Plan, Error> {
        let host = self.host.as_str();
        if state.link(host).is_some() {
            return Err(Error::failed(format!(
                "cannot create {host}: an interface with that name already exists"
            )));
        }
        let mut plan = Plan::new();
        let addrs = self.addresses();
        let master = match &self.bridge {
            Some(br) => {
                match state.link(br.as_str()) {
                    Some(link) if !link.is("bridge") => {
                        return Err(Error::failed(format!(
                            "cannot attach {host} to {br}: {br} is {}, not a bridge",
                            link.kind_words()
                        )));
                    }
                    Some(_) => {} // used as it is
                    None => {
                        check_free(state, &addrs, br.as_str())?;
                        bridge::create(&mut plan, br, &addrs, self.mtu);
                    }
                }
                Some(br.as_str())
            }
            None => {
                check_free(state, &addrs, host)?;
                None
            }
        };
        let mtu = self.mtu.map(|m| m.to_string());
        let netns = self.target.path().to_string_lossy().into_owned();
        let mut add = vec!["link", "add", host];
        if let Some(m) = &mtu {
            add.extend(["mtu", m]);
        }
        if let Some(br) = master {
            add.extend(["master", br]);
        }
        add.extend(["type", "veth", "peer", "name", self.ifname.as_str()]);
        if let Some(m) = &mtu {
            add.extend(["mtu", m]);
        }
        add.extend(["netns", &netns]);
        plan.creates(
            format!(
                "create {host} with its peer {} in {}",
                self.ifname, self.target
            ),
            add,
            ["link", "del", host],
        );
        plan.step(
            format!("mark {host} as vethup's"),
            ["link", "set", host, "alias", MARK],
        );
        if master.is_none() {
            for addr in &addrs {
                plan.step(format!("add {addr} to {host}"), address_args(addr, host));
            }
        }
        plan.step(format!("bring {host} up"), ["link", "set", host, "up"]);
        Ok(plan)
    }

    /// Words for a refused plan that say more than the kernel's.
    fn explain(&self, plan: &Plan, failure: Failure, after: Option<&State>) -> Error {
        let creating_pair = failure
            .step()
            .map(|i| plan.steps()[i].args[..3] == ["link", "add", self.host.as_str()])
            .unwrap_or(false);
        if creating_pair && failure.already_exists() {
            let host_is_there = after.is_some_and(|s| s.link(self.host.as_str()).is_some());
            if !host_is_there {
                return Error::failed(format!(
                    "cannot create {} in {}: an interface with that name already exists there",
                    self.ifname, self.target
                ));
            }
            return Error::failed(format!(
                "cannot create {}: an interface with that name already exists",
                self.host
            ));
        }
        if let Some(br) = &self.bridge {
            let bridge_is_there = after.is_some_and(|s| s.link(br.as_str()).is_some());
            if failure.no_such_device() && !bridge_is_there {
                return Error::failed(format!(
                    "cannot attach {} to {br}: the bridge kept vanishing \
                     (is a vethdown removing it?)",
                    self.host
                ));
            }
        }
        failure.into()
    }

    /// Whether the bridge appeared, vanished or was replaced since
    /// `before`: a concurrent vethup or vethdown, not a reason to fail.
    fn bridge_changed(&self, before: &State, after: &State) -> bool {
        self.bridge.as_ref().is_some_and(|br| {
            let index = |s: &State| s.link(br.as_str()).map(|l| l.index);
            index(before) != index(after)
        })
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
fn look(request: &Up) -> Result<State, Error> {
    if let Some(br) = &request.bridge {
        let some = State::read_links(&[request.host.as_str(), br.as_str()])?;
        if some.link(br.as_str()).is_some() {
            return Ok(some);
        }
    }
    State::read()
}

/// vethup: checks the request and the target, then plans and runs (or
/// prints) the setup.
pub fn up(request: &Up, mode: Mode) -> Result<(), Error> {
    request.validate()?;
    request.target.open()?;
    let mut tries = 0;
    loop {
        tries += 1;
        let before = look(request)?;
        let plan = request.plan(&before)?;
        if mode == Mode::DryRun {
            return plan.execute(mode);
        }
        let failure = match plan.try_execute() {
            Ok(()) => return Ok(()),
            Err(failure) => failure,
        };
        let after = State::read().ok();
        let raced = after
            .as_ref()
            .is_some_and(|after| request.bridge_changed(&before, after));
        if raced && tries < TRIES {
            continue;
        }
        return Err(request.explain(&plan, failure, after.as_ref()));
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
        let mut leaving: Vec<&str> = Vec::new();
        if self.all {
            leaving.extend(
                state
                    .links
                    .iter()
                    .filter(|l| is_ours(l))
                    .map(|l| l.name.as_str()),
            );
        } else {
            for name in &self.names {
                let name = name.as_str();
                if leaving.contains(&name) {
                    continue;
                }
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
                    Some(_) => leaving.push(name),
                }
            }
        }
        let mut plan = Plan::new();
        for name in &leaving {
            plan.step(format!("remove {name}"), ["link", "del", name]);
        }
        plan.extend(remove_bridges(bridge::emptied(state, &leaving)));
        Ok(plan)
    }
}

fn is_ours(link: &Link) -> bool {
    link.is("veth") && link.marked(MARK)
}

fn remove_bridges(bridges: Vec<&Link>) -> Plan {
    let mut plan = Plan::new();
    for br in bridges {
        plan.step(
            format!("remove the bridge {}, which has no ports left", br.name),
            ["link", "del", &br.name],
        );
    }
    plan
}

/// vethdown: checks every name, then removes (or prints the removal of)
/// the pairs and the bridges they leave empty. Teardown carries on past a
/// failed removal and reports it; an interface that vanished meanwhile (its
/// namespace died, another vethdown got there first) is no failure.
pub fn down(request: &Down, mode: Mode) -> Result<(), Error> {
    let state = State::read()?;
    let plan = request.plan(&state)?;
    let failures = plan.execute_all(mode)?;
    if mode == Mode::DryRun {
        return Ok(());
    }
    let mut errors: Vec<Error> = failures
        .into_iter()
        .filter(|f| !f.no_such_device())
        .map(Error::from)
        .collect();
    // Two vethdowns removing the last two ports of a bridge each saw the
    // other's port still there; whoever looks now removes it.
    let now = State::read()?;
    let late = remove_bridges(bridge::emptied(&now, &[]));
    errors.extend(
        late.execute_all(mode)?
            .into_iter()
            .filter(|f| !f.no_such_device())
            .map(Error::from),
    );
    let count = errors.len();
    match errors.into_iter().next() {
        None => Ok(()),
        Some(first) if count == 1 => Err(first),
        Some(first) => Err(Error::failed(format!(
            "{first} (and {} more failures)",
            count - 1
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::link::state::Address;

    fn host() -> State {
        State {
            links: vec![
                Link {
                    index: 1,
                    name: "lo".into(),
                    kind: None,
                    alias: None,
                    master: None,
                    mtu: Some(65536),
                    altnames: vec!["loopback".into()],
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

    fn script(args: &str, state: &State) -> String {
        let request = up(args);
        request.validate().unwrap();
        request.plan(state).unwrap().script()
    }

    fn refusal(args: &str, state: &State) -> String {
        let request = up(args);
        match request.validate() {
            Err(e) => e.to_string(),
            Ok(()) => request.plan(state).unwrap_err().to_string(),
        }
    }

    #[test]
    fn the_default_pair() {
        assert_eq!(
            script("veth0 4242", &host()),
            "ip link add veth0 type veth peer name eth0 netns /proc/4242/ns/net\n\
             ip link set veth0 alias nsnet:vethup\n\
             ip addr add 10.0.0.1/24 dev veth0\n\
             ip link set veth0 up\n"
        );
    }

    #[test]
    fn every_option_on_a_pair() {
        assert_eq!(
            script(
                "v1 c1 --ifname net0 --mtu 1400 --addr 10.1.0.1/24 --addr fd00:1::1/64",
                &host()
            ),
            "ip link add v1 mtu 1400 type veth peer name net0 mtu 1400 netns /run/netns/c1\n\
             ip link set v1 alias nsnet:vethup\n\
             ip addr add 10.1.0.1/24 dev v1\n\
             ip addr add fd00:1::1/64 dev v1 nodad\n\
             ip link set v1 up\n"
        );
    }

    #[test]
    fn only_the_creation_has_an_undo() {
        let plan = up("veth0 4242").plan(&host()).unwrap();
        let undos: Vec<_> = plan.steps().iter().map(|s| s.undo.clone()).collect();
        assert_eq!(
            undos[0],
            Some(vec!["link".into(), "del".into(), "veth0".into()])
        );
        assert!(undos[1..].iter().all(Option::is_none));
    }

    #[test]
    fn a_missing_bridge_is_created_with_the_addresses() {
        assert_eq!(
            script("c1 /run/netns/a --bridge nsbr0 --mtu 1400", &host()),
            "ip link add nsbr0 mtu 1400 type bridge\n\
             ip link set nsbr0 alias nsnet:vethup\n\
             ip addr add 10.0.0.1/24 dev nsbr0\n\
             ip link set nsbr0 up\n\
             ip link add c1 mtu 1400 master nsbr0 type veth peer name eth0 mtu 1400 netns /run/netns/a\n\
             ip link set c1 alias nsnet:vethup\n\
             ip link set c1 up\n"
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
            "ip link add c2 master nsbr0 type veth peer name eth0 netns /proc/77/ns/net\n\
             ip link set c2 alias nsnet:vethup\n\
             ip link set c2 up\n"
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
            "ip link del veth0\n"
        );
        assert_eq!(down(&["c1"], false, false).unwrap(), "ip link del c1\n");
        assert_eq!(
            down(&["c1", "c2", "c1"], false, false).unwrap(),
            "ip link del c1\nip link del c2\nip link del nsbr0\n"
        );
    }

    #[test]
    fn down_all_takes_exactly_what_is_marked() {
        assert_eq!(
            down(&[], false, true).unwrap(),
            "ip link del c1\nip link del c2\nip link del veth0\nip link del nsbr0\n"
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
