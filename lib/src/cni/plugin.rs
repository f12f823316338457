//! The plugin's commands: ADD, DEL, CHECK, GC, STATUS and VERSION, from a
//! read environment and configuration to a result or an error.

use super::attach::{self, Setup};
use super::config::{self, Config};
use super::env::{Attachment, Command, Env};
use super::error::{code, CniError};
use super::firewall;
use super::ipam::Ipam;
use super::record::Records;
use super::result::CniResult;
use super::version::Version;
use crate::error::Error;
use crate::link::lock::LinkLock;
use crate::link::state::{Link, State};
use crate::link::{self, gone, Dev, Plan, Step};
use crate::nat::{self, Choice, Family, Owner};
use crate::netlink::events::LinkEvents;
use crate::netlink::Socket;
use crate::netns::{Netns, Target};
use nix::fcntl::OFlag;
use std::collections::BTreeSet;
use std::os::fd::AsFd;
use std::thread::ScopedJoinHandle;

/// What the plugin prints on stdout, and whether it succeeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub stdout: String,
    pub success: bool,
}

/// Does one run of the plugin. Errors are written in the configuration's
/// version when it could be read.
pub fn handle(env: Result<Env, CniError>, stdin: &[u8]) -> Reply {
    match run(env, stdin) {
        Ok(stdout) => Reply {
            stdout,
            success: true,
        },
        Err(e) => Reply {
            stdout: e.to_json(config::version_of(stdin)),
            success: false,
        },
    }
}

fn run(env: Result<Env, CniError>, stdin: &[u8]) -> Result<String, CniError> {
    let env = env?;
    if env.command == Command::Version {
        return Ok(version(stdin));
    }
    let config = config::parse(stdin)?;
    match env.command {
        Command::Add => Ok(add(&env, &config)?.to_json(config.version).to_string()),
        Command::Del => del(&env, &config).map(|()| String::new()),
        Command::Check => check(&env, &config).map(|()| String::new()),
        Command::Status => {
            needs_1_1(&config, Command::Status)?;
            status(&env, &config).map(|()| String::new())
        }
        Command::Gc => {
            needs_1_1(&config, Command::Gc)?;
            gc(&env, &config).map(|()| String::new())
        }
        Command::Version => unreachable!("answered above"),
    }
}

/// VERSION: every version nsnet speaks, in the version asked about when
/// it is one of them.
fn version(stdin: &[u8]) -> String {
    let asked = config::version_of(stdin).unwrap_or(Version::LATEST);
    let all: Vec<&str> = Version::ALL.iter().map(|v| v.as_str()).collect();
    serde_json::json!({"cniVersion": asked.as_str(), "supportedVersions": all}).to_string()
}

fn needs_1_1(config: &Config, command: Command) -> Result<(), CniError> {
    if config.version.has_status_and_gc() {
        Ok(())
    } else {
        Err(CniError::new(
            code::INCOMPATIBLE_VERSION,
            format!(
                "{} needs cniVersion 1.1.0 (the configuration is {})",
                command.as_str(),
                config.version
            ),
        ))
    }
}

fn open_netns(env: &Env) -> Result<Netns, Error> {
    let path = env
        .netns
        .clone()
        .expect("ADD and CHECK are read with CNI_NETNS");
    Target::Path(path).open()
}

/// A failure, with the failures of undoing it in its details.
fn undone(e: CniError, undo: Vec<CniError>) -> CniError {
    if undo.is_empty() {
        return e;
    }
    let mut details: Vec<String> = Vec::new();
    if !e.details.is_empty() {
        details.push(e.details.clone());
    }
    details.extend(undo.iter().map(|u| format!("and undoing it failed: {u}")));
    e.with_details(details.join("; "))
}

/// The first of `errors`, with the others in its details.
fn all(errors: Vec<CniError>) -> Result<(), CniError> {
    let mut errors = errors.into_iter();
    match errors.next() {
        None => Ok(()),
        Some(first) => {
            let mut details: Vec<String> = Vec::new();
            if !first.details.is_empty() {
                details.push(first.details.clone());
            }
            details.extend(errors.map(|e| e.to_string()));
            Err(first.with_details(details.join("; ")))
        }
    }
}

/// The attachment's owner in natctl's rules.
fn owner(config: &Config, a: &Attachment) -> Owner {
    Owner::Attachment(attach::identity(&config.name, a))
}

/// ADD: checks, records the attachment, asks the IPAM plugin for
/// addresses, makes the links, then holds the firewall rules; on any
/// failure, undoes what it did in reverse.
fn add(env: &Env, config: &Config) -> Result<CniResult, CniError> {
    let a = env.attachment();
    let netns = open_netns(env)?;
    let ifname = a.ifname.as_str();
    let mut inside = Socket::in_netns(netns.fd())?;
    if inside.link(ifname)?.is_some() {
        return Err(CniError::new(
            code::FAILED,
            format!(
                "cannot create {ifname} in {}: an interface with that name already exists there",
                netns.target()
            ),
        ));
    }
    let ipam = Ipam::find(&config.ipam, &env.path)?;
    let records = Records::new(&config.data_dir, &config.name);
    records.write(a, &[])?;
    let forget = |e: CniError| {
        undone(
            e,
            records
                .remove(a)
                .err()
                .map(CniError::from)
                .into_iter()
                .collect(),
        )
    };
    let allotment = ipam.add(config).map_err(forget)?;
    attach(config, a, &netns, &mut inside, &allotment, &records).map_err(|e| {
        let mut undo: Vec<CniError> = ipam.del(config, None).err().into_iter().collect();
        if undo.is_empty() {
            undo.extend(records.remove(a).err().map(CniError::from));
        }
        undone(e, undo)
    })
}

/// The links (the host side under the link lock, as vethup makes them),
/// then inside the container, then the firewall rules, recorded first; on
/// a failure, the host end goes again, and everything inside with it.
fn attach(
    config: &Config,
    a: &Attachment,
    netns: &Netns,
    inside: &mut Socket,
    allotment: &CniResult,
    records: &Records,
) -> Result<CniResult, CniError> {
    let setup = Setup {
        config,
        attachment: a,
        netns,
        ips: attach::allotted(allotment, config.bridge.is_none())?,
        routes: allotment.routes.clone(),
    };
    let rules = firewall::rules(config, &setup.ips)?;
    {
        let _lock = LinkLock::take()?;
        let mut socket = Socket::here()?;
        let names = link_names(config, a);
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let before = State::read_links(&mut socket, &names)?;
        setup
            .host_plan(&before)?
            .run(&mut socket)
            .map_err(Error::from)?;
    }
    let ifname = a.ifname.as_str();
    let done = inside
        .link(ifname)
        .and_then(|link| {
            link.ok_or_else(|| {
                Error::failed(format!(
                    "cannot find {ifname} in {}: it vanished as it was made",
                    netns.target()
                ))
            })
        })
        .and_then(|link| Ok(setup.inside_plan(link.index).run(inside)?))
        .and_then(|()| records.write(a, &rules))
        .and_then(|()| firewall::hold(&rules, owner(config, a)));
    if let Err(e) = done {
        let undo = LinkLock::take()
            .and_then(|lock| unlink(&lock, config, &[a]))
            .err()
            .map(CniError::from);
        return Err(undone(e.into(), undo.into_iter().collect()));
    }
    let dns = if allotment.dns.is_empty() {
        config.dns.clone()
    } else {
        allotment.dns.clone()
    };
    Ok(setup.result(config.prev_result.as_ref(), dns))
}

/// The host end of `a` and the network's bridge: what an attachment's
/// host side is checked against.
fn link_names(config: &Config, a: &Attachment) -> Vec<String> {
    let mut names = vec![attach::host_name(&config.name, a).to_string()];
    if let Some(br) = &config.bridge {
        names.push(br.to_string());
    }
    names
}

/// Removes the links of `leaving` (see [`doomed`]) in one batch, under the
/// link lock, held until they are gone, so that no ADD attaches to the
/// bridge in between. Whatever is already gone is no failure.
fn unlink(_lock: &LinkLock, config: &Config, leaving: &[&Attachment]) -> Result<(), Error> {
    let mut socket = Socket::here()?;
    let (state, indexes) = doomed(&mut socket, config, leaving)?;
    remove(&mut socket, &state, &indexes)
}

/// The links that go with `leaving`: the host end of each that carries
/// its attachment's mark (its peer goes with it), and the network's bridge
/// if that leaves it without ports; by index, as found in the state read.
fn doomed(
    socket: &mut Socket,
    config: &Config,
    leaving: &[&Attachment],
) -> Result<(State, Vec<u32>), Error> {
    let state = State {
        links: socket.links()?,
        addresses: Vec::new(),
    };
    let mut indexes: Vec<u32> = leaving
        .iter()
        .filter_map(|a| {
            let host = attach::host_name(&config.name, a);
            state
                .link(host.as_str())
                .filter(|l| l.marked(&attach::mark(&config.name, a)))
                .map(|l| l.index)
        })
        .collect();
    if let Some(br) = &config.bridge {
        let emptied = attach::emptied_bridge(&state, &config.name, br, &indexes);
        indexes.extend(emptied.map(|l| l.index));
    }
    Ok((state, indexes))
}

/// Removes the links of `indexes` all in one batch; if that fails, one by
/// one, where what vanished meanwhile is no failure.
fn remove(socket: &mut Socket, state: &State, indexes: &[u32]) -> Result<(), Error> {
    let links: Vec<&Link> = indexes
        .iter()
        .filter_map(|i| state.links.iter().find(|l| l.index == *i))
        .collect();
    if link::removal(&links, state).run(socket).is_ok() {
        return Ok(());
    }
    let mut plan = Plan::new();
    for link in links {
        plan.step(Step::DeleteLink {
            dev: Dev::known(&link.name, link.index),
        });
    }
    Error::all(
        plan.run_all(socket)
            .into_iter()
            .filter(|f| !f.error.errno().is_some_and(gone))
            .map(Error::from),
    )
}

/// How a teardown reaches the IPAM plugin: as the runtime's own DEL (its
/// environment passed on), or for another attachment (GC).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Whose {
    Ours,
    Stale,
}

/// Undoes what ADD did for each of `leaving`: the links (and the bridge
/// they leave empty), the firewall rules it recorded, the addresses, then
/// the record. Best effort: what is gone already is fine; every failure is
/// reported, and an attachment whose address could not be released keeps
/// its record, for a later DEL or GC.
///
/// The links go in a thread of their own. The kernel takes a link off the
/// host (its addresses and routes go with it) at once, then waits out a
/// grace period (`rcu_barrier`, ~20 ms for a veth) before the removal
/// returns. As soon as the kernel says the links went, the rules are let
/// go of, then the addresses, while the removal waits: so a DEL killed
/// after an address was released has left no link, route or rule that
/// holds it. The rules wait for that word too because the commit of a
/// deleted nf_tables element queues work for a grace period of its own:
/// committed beside the start of the veth's removal, it made DEL about
/// 10 ms slower under podman.
///
/// The link lock is taken first and held until the links are gone and the
/// rules released, and an ADD makes its host end, then its rules, only
/// after taking it: so an address released by a concurrent DEL and handed
/// out again at once is not put on a link, nor routed, before the link
/// that held it is gone, and a port published anew for it does not meet
/// the old one.
fn teardown(
    config: &Config,
    ipam: &Ipam,
    leaving: &[&Attachment],
    whose: Whose,
) -> Result<(), CniError> {
    let records = Records::new(&config.data_dir, &config.name);
    let mut errors: Vec<CniError> = Vec::new();
    let lock = LinkLock::take();
    // Subscribed before the look, so no word of a link's going is missed.
    let mut events = LinkEvents::subscribe().ok();
    let found = lock.as_ref().map_err(Error::clone).and_then(|_| {
        let mut socket = Socket::here()?;
        let (state, indexes) = doomed(&mut socket, config, leaving)?;
        Ok((socket, state, indexes))
    });
    let indexes = found.as_ref().map(|f| f.2.clone()).unwrap_or_default();
    let (unlinked, released) = std::thread::scope(|scope| {
        // The read end hangs up when the removal is over, done or failed.
        let (over, removing) = nix::unistd::pipe2(OFlag::O_CLOEXEC).ok().unzip();
        let links = scope.spawn(move || {
            let _removing = removing;
            let (mut socket, state, indexes) = found?;
            remove(&mut socket, &state, &indexes)
        });
        let join = |links: ScopedJoinHandle<'_, Result<(), Error>>| {
            links
                .join()
                .unwrap_or_else(|panic| std::panic::resume_unwind(panic))
        };
        let (mut links, mut unlinked) = (Some(links), None);
        match (events.as_mut(), over.as_ref()) {
            (Some(events), Some(over)) => events.wait_gone(&indexes, over.as_fd()),
            // Without the kernel's word, the removal's end.
            _ => unlinked = links.take().map(join),
        }
        for a in leaving {
            let released = records
                .read(a)
                .and_then(|rules| firewall::release(&rules.unwrap_or_default(), owner(config, a)));
            errors.extend(released.err().map(CniError::from));
        }
        let released: Vec<Result<(), CniError>> = leaving
            .iter()
            .map(|a| match whose {
                Whose::Ours => ipam.del(config, None),
                Whose::Stale => ipam.del(config, Some(a)),
            })
            .collect();
        let unlinked = unlinked.or_else(|| links.map(join));
        (unlinked.expect("the removal joined"), released)
    });
    drop(lock);
    errors.extend(unlinked.err().map(CniError::from));
    for (a, released) in leaving.iter().zip(released) {
        match released {
            Ok(()) => errors.extend(records.remove(a).err().map(CniError::from)),
            Err(e) => errors.push(e),
        }
    }
    all(errors)
}

/// DEL: everything of the attachment, also when its namespace is gone;
/// a second DEL finds nothing left and succeeds.
fn del(env: &Env, config: &Config) -> Result<(), CniError> {
    let ipam = Ipam::find(&config.ipam, &env.path)?;
    teardown(config, &ipam, &[env.attachment()], Whose::Ours)
}

/// One CHECK failure: `CHECK of c1/eth0: WHY`.
fn missing(a: &Attachment, why: String) -> CniError {
    CniError::new(code::FAILED, format!("CHECK of {a}: {why}"))
}

/// CHECK: everything the previous result lists for this attachment is
/// there: the host end (on its bridge), the container's interface, its
/// addresses, the routes, the firewall rules it holds, and the IPAM
/// plugin's reservation.
fn check(env: &Env, config: &Config) -> Result<(), CniError> {
    let a = env.attachment();
    let prev = config.prev_result.as_ref().ok_or_else(|| {
        CniError::config("CHECK needs \"prevResult\", the result of the ADD being checked")
    })?;
    let netns = open_netns(env)?;
    let host = attach::host_name(&config.name, a);
    let names = link_names(config, a);
    let names: Vec<&str> = names.iter().map(String::as_str).collect();
    let state = State::read_links(&mut Socket::here()?, &names)?;
    let link = state
        .link(host.as_str())
        .filter(|l| l.marked(&attach::mark(&config.name, a)))
        .ok_or_else(|| missing(a, format!("its host end {host} is missing")))?;
    if let Some(br) = &config.bridge {
        let on = state.link(br.as_str()).map(|b| b.index);
        if on.is_none() || link.master != on {
            return Err(missing(
                a,
                format!("{host} is not attached to the bridge {br}"),
            ));
        }
    }
    let ifname = a.ifname.as_str();
    let mut socket = Socket::in_netns(netns.fd())?;
    let inside = State::read(&mut socket)?;
    let routes: Vec<ipnet::IpNet> = socket
        .routes()?
        .into_iter()
        .filter(|r| r.unicast)
        .map(|r| r.destination)
        .collect();
    let iface: &Link = inside
        .link(ifname)
        .ok_or_else(|| missing(a, format!("{ifname} is missing from {}", netns.target())))?;
    for ip in attach::ours(prev, &a.ifname) {
        let there = inside
            .addresses
            .iter()
            .any(|x| x.index == iface.index && x.addr == ip.addr() && x.prefix == ip.prefix_len());
        if !there {
            return Err(missing(
                a,
                format!("the address {ip} is missing from {ifname}"),
            ));
        }
    }
    for route in &prev.routes {
        if !routes.contains(&route.dst) {
            return Err(missing(a, format!("the route to {} is missing", route.dst)));
        }
    }
    let rules = Records::new(&config.data_dir, &config.name)
        .read(a)?
        .ok_or_else(|| missing(a, "nsnet has no record of it".into()))?;
    if let Some(why) = firewall::missing(&rules, owner(config, a))? {
        return Err(missing(a, format!("{why} (see natctl list)")));
    }
    Ipam::find(&config.ipam, &env.path)?.check(config)
}

/// GC: tears down every attachment of the network that is not in the
/// valid list — those with a record (also when their namespace and links
/// are gone) and those with a marked host end — and a bridge of the
/// plugin's left without ports, then passes GC on to the IPAM plugin.
/// Carries on past failures and reports them all.
fn gc(env: &Env, config: &Config) -> Result<(), CniError> {
    let valid: BTreeSet<&Attachment> = config.valid_attachments.iter().collect();
    let ipam = Ipam::find(&config.ipam, &env.path)?;
    let state = State {
        links: Socket::here()?.links()?,
        addresses: Vec::new(),
    };
    let mut stale: BTreeSet<Attachment> = Records::new(&config.data_dir, &config.name)
        .list()?
        .into_iter()
        .collect();
    stale.extend(attach::attachments(&state, &config.name).map(|(_, a)| a));
    let leaving: Vec<&Attachment> = stale.iter().filter(|a| !valid.contains(a)).collect();
    let mut errors: Vec<CniError> = teardown(config, &ipam, &leaving, Whose::Stale)
        .err()
        .into_iter()
        .collect();
    errors.extend(ipam.gc(config).err());
    all(errors)
}

/// STATUS: ready when the IPAM plugin is, and — for `ipMasq` — a
/// firewall backend works.
fn status(env: &Env, config: &Config) -> Result<(), CniError> {
    let unavailable = |e: CniError| CniError {
        code: code::NOT_AVAILABLE,
        ..e
    };
    Ipam::find(&config.ipam, &env.path)
        .map_err(unavailable)?
        .status(config)?;
    if config.ip_masq {
        nat::usable(Family::V4, Choice::Auto).map_err(|e| unavailable(CniError::from(e)))?;
    }
    Ok(())
}
