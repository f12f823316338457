//! netinit's whole job, from its command line to the exec of COMMAND:
//! check everything, wait for the interface, give the container its
//! resolv.conf, configure the network in one `ip -batch -`, then exec
//! COMMAND (or, with `--init`, stay PID 1 and supervise it).
//!
//! Nothing is changed before every argument and COMMAND itself have been
//! checked; a step that fails undoes the ones before it, and COMMAND never
//! starts after an error.

use crate::cidr::HostCidr;
use crate::error::Error;
use crate::exit::Tool;
use crate::ifwait;
use crate::link::inside::{Gateways, Inside};
use crate::name::IfName;
use crate::process::{self, Reap};
use crate::resolv::{self, Domain, Resolv};
use crate::run::Mode;
use std::ffi::OsString;
use std::fmt;
use std::net::IpAddr;
use std::str::FromStr;
use std::time::Duration;

pub const TOOL: Tool = Tool::wrapper("netinit");

const ABOUT: &str = "Configure a container's network from inside it, then exec a command";

const LONG_ABOUT: &str = "\
Configure a container's network from inside it, then exec a command.

Run inside the container's network namespace (typically exec'd by nsrun), \
netinit waits for the interface (eth0) to appear, brings loopback up, gives \
the interface every CIDR (IPv6 ones without duplicate-address detection, so \
they are usable at once), brings it up, adds default routes, and then execs \
COMMAND, which keeps netinit's PID. The whole configuration is one \
`ip -batch -`; if any step fails, the steps done are undone and COMMAND never \
starts.

The default gateway of each family is the first host of its first subnet: \
10.0.0.1 for 10.0.0.2/24.";

const AFTER_HELP: &str = "\
Exit status: COMMAND's own; 128+N if it died of signal N; 125 if netinit \
itself failed; 126 if COMMAND cannot be executed; 127 if it was not found.

Example:
  nsrun --net --mount --hook 'vethup veth0 $NSRUN_PID' \\
        -- netinit --dns 192.0.2.53 10.0.0.2/24 -- sh";

/// netinit's command line.
#[derive(Debug, clap::Parser)]
#[command(
    name = "netinit",
    version,
    about = ABOUT,
    long_about = LONG_ABOUT,
    after_help = AFTER_HELP,
    override_usage = "netinit [OPTIONS] CIDR... -- COMMAND [ARG]..."
)]
pub struct Args {
    /// The interface to configure
    #[arg(long, value_name = "NAME", default_value = "eth0")]
    pub iface: IfName,

    /// Default route via IP instead of the first host of the subnet (once per family)
    #[arg(long, value_name = "IP")]
    pub gateway: Vec<IpAddr>,

    /// Add no default route
    #[arg(long, conflicts_with = "gateway")]
    pub no_gateway: bool,

    /// Give the container its own resolv.conf with this nameserver (repeatable)
    #[arg(long, value_name = "IP")]
    pub dns: Vec<IpAddr>,

    /// Add DOMAIN to the search line of the container's resolv.conf (repeatable)
    #[arg(long, value_name = "DOMAIN")]
    pub search: Vec<Domain>,

    /// Set the interface's MTU
    // A negative number is a bad value, not an unknown option.
    #[arg(
        long,
        value_name = "N",
        value_parser = crate::link::parse_mtu,
        allow_negative_numbers = true
    )]
    pub mtu: Option<u32>,

    /// Wait up to SECS seconds for the interface to appear
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        allow_negative_numbers = true
    )]
    pub wait: Seconds,

    /// Stay PID 1: run COMMAND as a child, forward signals, reap every zombie
    #[arg(long)]
    pub init: bool,

    /// The container's addresses, like 10.0.0.2/24 or fd00:10::2/64
    #[arg(value_name = "CIDR")]
    pub addrs: Vec<HostCidr>,

    /// The command to exec once the network is up, after `--`
    #[arg(last = true, value_name = "COMMAND")]
    pub command: Vec<OsString>,
}

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

/// Parses netinit's command line. Without `--`, the command would be read
/// as addresses, so its absence is named first.
pub fn parse_args(argv: Vec<OsString>) -> Result<Args, Error> {
    let rest = argv.get(1..).unwrap_or_default();
    let asks_info = crate::exit::completions_requested()
        || rest
            .iter()
            .any(|a| matches!(a.to_str(), Some("-h" | "--help" | "-V" | "--version")));
    if !asks_info && !rest.iter().any(|a| a == "--") {
        return Err(Error::usage(
            "missing '--' before the command (netinit [OPTIONS] CIDR... -- COMMAND [ARG]...)",
        ));
    }
    TOOL.parse_from(argv)
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
    pub fn new(args: Args) -> Result<Job, Error> {
        if args.command.is_empty() {
            return Err(Error::usage(
                "no command given after '--' (netinit [OPTIONS] CIDR... -- COMMAND [ARG]...)",
            ));
        }
        let gateways = if args.no_gateway {
            Gateways::None
        } else if args.gateway.is_empty() {
            Gateways::Default
        } else {
            Gateways::Given(args.gateway)
        };
        Ok(Job {
            inside: Inside::new(args.iface, args.addrs, gateways, args.mtu)?,
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
        let present = ifwait::wait_for(iface, self.wait.duration())?.ok_or_else(|| {
            Error::failed(format!(
                "{iface} did not appear within {} (did a vethup hook run for this namespace?)",
                self.wait
            ))
        })?;
        // In a mount namespace of netinit's own, which dies with it if a
        // later step fails: nothing to undo. It comes before the ip batch,
        // while this process has one thread (unshare requires it).
        if !self.resolv.is_empty() {
            resolv::install(&self.resolv)?;
        }
        self.inside.plan(present.up).execute(Mode::Run)?;
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
    nix::sys::prctl::set_child_subreaper(true).map_err(|e| {
        Error::failed(format!(
            "cannot become the reaper of orphans: {}",
            e.desc().to_lowercase()
        ))
    })?;
    // Blocked before the child exists, so no signal meant for it is lost.
    let mask = process::block_supervised_signals()?;
    let child = process::spawn(command, &mask)?;
    process::supervise(child, Reap::All)
}

/// netinit from its command line to its exit status.
pub fn main(argv: Vec<OsString>) -> Result<u8, Error> {
    Job::new(parse_args(argv)?)?.run()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    fn parse(words: &[&str]) -> Result<Job, String> {
        let argv = std::iter::once("netinit")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect();
        parse_args(argv)
            .and_then(Job::new)
            .map_err(|e| TOOL.line(&e))
    }

    #[test]
    fn clap_definition_is_sound() {
        Args::command().debug_assert();
    }

    #[test]
    fn the_command_keeps_its_own_options_and_empty_words() {
        let job = parse(&["10.0.0.2/24", "--", "printf", "", "--dns", "-x", "--"]).unwrap();
        let words: Vec<&str> = job.command.iter().map(|w| w.to_str().unwrap()).collect();
        assert_eq!(words, ["printf", "", "--dns", "-x", "--"]);
        assert!(job.resolv.is_empty());
        assert_eq!(job.inside.iface().as_str(), "eth0");
        assert_eq!(job.wait, Seconds(10.0));
        assert!(!job.init);
    }

    #[test]
    fn options_reach_the_job() {
        let job = parse(&[
            "--iface",
            "c0",
            "--gateway",
            "10.0.0.254",
            "--dns",
            "203.0.113.53",
            "--search",
            "lab.test",
            "--mtu",
            "1400",
            "--wait",
            "0.5",
            "--init",
            "10.0.0.2/24",
            "fd00::2/64",
            "--",
            "sh",
        ])
        .unwrap();
        assert_eq!(job.inside.iface().as_str(), "c0");
        assert_eq!(job.inside.addrs().len(), 2);
        let gws: Vec<String> = job
            .inside
            .gateways()
            .iter()
            .map(|g| g.to_string())
            .collect();
        assert_eq!(gws, ["10.0.0.254", "fd00::1"]);
        assert_eq!(
            job.resolv.text(),
            "nameserver 203.0.113.53\nsearch lab.test\n"
        );
        assert_eq!(job.wait.duration(), Duration::from_millis(500));
        assert!(job.init);
    }

    #[test]
    fn bad_command_lines_are_one_line_each() {
        assert_eq!(
            parse(&["10.0.0.2/24", "sh"]).unwrap_err(),
            "netinit: missing '--' before the command (netinit [OPTIONS] CIDR... -- COMMAND [ARG]...)"
        );
        assert_eq!(
            parse(&["10.0.0.2/24", "--"]).unwrap_err(),
            "netinit: no command given after '--' (netinit [OPTIONS] CIDR... -- COMMAND [ARG]...)"
        );
        assert!(parse(&["--", "sh"])
            .unwrap_err()
            .starts_with("netinit: no address given"));
        for (words, says) in [
            (
                &["10.0.0.300/24", "--", "sh"][..],
                "invalid address '10.0.0.300/24'",
            ),
            (&["10.0.0.0/24", "--", "sh"][..], "network address"),
            (&["10.0.0.255/24", "--", "sh"][..], "broadcast address"),
            (
                &["--wait=-1", "10.0.0.2/24", "--", "sh"][..],
                "invalid time '-1'",
            ),
            (
                &["--wait", "nan", "10.0.0.2/24", "--", "sh"][..],
                "invalid time 'nan'",
            ),
            (
                &["--wait", "-1", "10.0.0.2/24", "--", "sh"][..],
                "invalid time '-1'",
            ),
            (
                &["--mtu", "big", "10.0.0.2/24", "--", "sh"][..],
                "invalid MTU 'big': give a number from 68 to 65535",
            ),
            (
                &["--mtu", "-5", "10.0.0.2/24", "--", "sh"][..],
                "invalid MTU '-5'",
            ),
            (
                &["--search", "a b", "10.0.0.2/24", "--", "sh"][..],
                "invalid search domain",
            ),
            (
                &["--iface", "a/b", "10.0.0.2/24", "--", "sh"][..],
                "invalid interface name",
            ),
            (
                &[
                    "--gateway",
                    "10.0.0.1",
                    "--no-gateway",
                    "10.0.0.2/24",
                    "--",
                    "sh",
                ][..],
                "cannot be used with",
            ),
        ] {
            let line = parse(words).unwrap_err();
            assert!(line.starts_with("netinit: "), "{line}");
            assert!(line.contains(says), "{words:?}: {line}");
            assert!(!line.contains('\n'), "{line}");
        }
    }

    #[test]
    fn seconds_read_and_print_plainly() {
        assert_eq!("10".parse::<Seconds>().unwrap().to_string(), "10s");
        assert_eq!("0.5".parse::<Seconds>().unwrap().to_string(), "0.5s");
        assert_eq!("0".parse::<Seconds>().unwrap().duration(), Duration::ZERO);
        assert!("inf".parse::<Seconds>().is_err());
        assert!("1e10".parse::<Seconds>().is_err());
    }
}
