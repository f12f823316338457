//! netinit's whole job, from its request to the exec of COMMAND:
//! check everything, wait for the interface, give the container its
//! resolv.conf, configure the network over rtnetlink, then exec
//! COMMAND (or, with `--init`, stay PID 1 and supervise it).
//!
//! Nothing is changed before every argument and COMMAND itself have been
//! checked; a step that fails undoes the ones before it, and COMMAND never
//! starts after an error.

use crate::cidr::HostCidr;
use crate::error::Error;
use crate::ifwait;
use crate::link::inside::{Gateways, Inside};
use crate::name::IfName;
use crate::netlink::Socket;
use crate::process::{self, Reap};
use crate::resolv::{self, Domain, Resolv};
use std::ffi::OsString;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

/// A non-negative number of seconds, whole or not (`10`, `0.5`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Seconds(f64);

/// A bound that keeps `Duration` arithmetic safe: about 31 years.
const MAX_SECONDS: f64 = 1e9;

impl Seconds {
    pub fn duration(self) -> Duration {
        Duration::from_secs_f64(self.0)
    }
}

impl FromStr for Seconds {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        match text.parse::<f64>() {
            Ok(s) if s.is_finite() && (0.0..=MAX_SECONDS).contains(&s) => Ok(Seconds(s)),
            _ => Err(Error::usage(format!(
                "invalid time '{text}': not a number of seconds (like 10 or 0.5)"
            ))),
        }
    }
}

impl fmt::Display for Seconds {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}s", self.0)
    }
}

/// What netinit is asked to do, as its command line says it.
#[derive(Debug, Clone)]
pub struct Request {
    pub iface: IfName,
    pub addrs: Vec<HostCidr>,
    pub gateways: Gateways,
    pub dns: Vec<IpAddr>,
    pub search: Vec<Domain>,
    pub mtu: Option<u32>,
    pub wait: Seconds,
    pub init: bool,
    pub command: Vec<OsString>,
}

/// Everything netinit is to do, checked.
#[derive(Debug)]
pub struct Job {
    pub inside: Inside,
    pub resolv: Resolv,
    pub wait: Seconds,
    pub init: bool,
    pub command: Vec<OsString>,
}

impl Job {
    /// Checks the arguments together; nothing is touched yet.
    pub fn new(args: Request) -> Result<Job, Error> {
        if args.command.is_empty() {
            return Err(Error::usage(
                "no command given after '--' (netinit [OPTIONS] CIDR... -- COMMAND [ARG]...)",
            ));
        }
        Ok(Job {
            inside: Inside::new(args.iface, args.addrs, args.gateways, args.mtu)?,
            resolv: Resolv {
                nameservers: args.dns,
                search: args.search,
            },
            wait: args.wait,
            init: args.init,
            command: args.command,
        })
    }

    /// Does the job; returns only on failure or, with `--init`, with
    /// COMMAND's status.
    pub fn run(self) -> Result<u8, Error> {
        // COMMAND is checked first: a missing one must leave nothing configured.
        process::check_command(&self.command[0])?;
        let iface = self.inside.iface();
        let mut socket = Socket::here()?;
        let present =
            ifwait::wait_for(&mut socket, iface, self.wait.duration())?.ok_or_else(|| {
                Error::failed(format!(
                    "{iface} did not appear within {} (did a vethup hook run for this namespace?)",
                    self.wait
                ))
            })?;
        // In a mount namespace of netinit's own, which dies with it if a
        // later step fails: nothing to undo. This process has one thread
        // (unshare requires it).
        if !self.resolv.is_empty() {
            resolv::install(&self.resolv)?;
        }
        self.inside
            .plan(present.index, present.up)
            .run(&mut socket)?;
        if self.init {
            supervise(&self.command)
        } else {
            process::restore_sigpipe()?;
            Err(process::exec(&self.command))
        }
    }
}

/// `--init`: COMMAND runs as our child; we forward signals, reap every
/// zombie (orphans come to us as PID 1, or as subreaper outside a PID
/// namespace) and return COMMAND's status.
fn supervise(command: &[OsString]) -> Result<u8, Error> {
    nix::sys::prctl::set_child_subreaper(true)
        .map_err(|e| Error::os("cannot become the reaper of orphans", e))?;
    // Blocked before the child exists, so no signal meant for it is lost.
    let mask = process::block_supervised_signals()?;
    let child = process::spawn(command, &mask)?;
    process::supervise(child, Reap::All)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_read_and_print_plainly() {
        assert_eq!("10".parse::<Seconds>().unwrap().to_string(), "10s");
        assert_eq!("0.5".parse::<Seconds>().unwrap().to_string(), "0.5s");
        assert_eq!("0".parse::<Seconds>().unwrap().duration(), Duration::ZERO);
        assert!("inf".parse::<Seconds>().is_err());
        assert!("1e10".parse::<Seconds>().is_err());
    }
}
