//! netinit: configure a container's network from inside it, then exec a
//! command. The command line is here; the job is `nsnet::netinit`.

use crate::cli::Cli;
use nsnet::cidr::HostCidr;
use nsnet::exit::Tool;
use nsnet::link::inside::Gateways;
use nsnet::name::IfName;
use nsnet::netinit::{Job, Request, Seconds};
use nsnet::resolv::Domain;
use nsnet::Error;
use std::ffi::OsString;
use std::net::IpAddr;
use std::process::ExitCode;

const CLI: Cli = Cli::new(
    Tool::wrapper("netinit"),
    include_str!("../../man/src/netinit.1"),
);

const ABOUT: &str = "Configure a container's network from inside it, then exec a command";

const LONG_ABOUT: &str = "\
Configure a container's network from inside it, then exec a command.

Run inside the container's network namespace (typically exec'd by nsrun), \
netinit waits for the interface (eth0) to appear, brings loopback up, gives \
the interface every CIDR (IPv6 ones without duplicate-address detection, so \
they are usable at once), brings it up, adds default routes, and then execs \
COMMAND, which keeps netinit's PID. Each step is an rtnetlink request of \
netinit's own, acknowledged by the kernel; if any step fails, the error names it, \
the steps done are undone and COMMAND never starts.

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
struct Args {
    /// The interface to configure
    #[arg(long, value_name = "NAME", default_value = "eth0")]
    iface: IfName,

    /// Default route via IP instead of the first host of the subnet (once per family)
    #[arg(long, value_name = "IP")]
    gateway: Vec<IpAddr>,

    /// Add no default route
    #[arg(long, conflicts_with = "gateway")]
    no_gateway: bool,

    /// Give the container its own resolv.conf with this nameserver (repeatable)
    #[arg(long, value_name = "IP")]
    dns: Vec<IpAddr>,

    /// Add DOMAIN to the search line of the container's resolv.conf (repeatable)
    #[arg(long, value_name = "DOMAIN")]
    search: Vec<Domain>,

    /// Set the interface's MTU
    // A negative number is a bad value, not an unknown option.
    #[arg(
        long,
        value_name = "N",
        value_parser = nsnet::link::parse_mtu,
        allow_negative_numbers = true
    )]
    mtu: Option<u32>,

    /// Wait up to SECS seconds for the interface to appear
    #[arg(
        long,
        value_name = "SECS",
        default_value = "10",
        allow_negative_numbers = true
    )]
    wait: Seconds,

    /// Stay PID 1: run COMMAND as a child that dies with netinit, forward signals, reap every zombie
    #[arg(long)]
    init: bool,

    /// The container's addresses, like 10.0.0.2/24 or fd00:10::2/64
    #[arg(value_name = "CIDR")]
    addrs: Vec<HostCidr>,

    /// The command to exec once the network is up, after `--`
    #[arg(last = true, value_name = "COMMAND")]
    command: Vec<OsString>,
}

/// Parses netinit's command line (`None` when it asked for help, the
/// version or generated text). Without `--`, the command would be read as
/// addresses, so its absence is named first.
fn parse_args(argv: Vec<OsString>) -> Result<Option<Args>, Error> {
    let rest = argv.get(1..).unwrap_or_default();
    let asks_info = crate::cli::asks_generate(rest)
        || rest
            .iter()
            .any(|a| matches!(a.to_str(), Some("-h" | "--help" | "-V" | "--version")));
    if !asks_info && !rest.iter().any(|a| a == "--") {
        return Err(Error::usage(
            "missing '--' before the command (netinit [OPTIONS] CIDR... -- COMMAND [ARG]...)",
        ));
    }
    CLI.parse_from(argv)
}

impl Args {
    fn into_request(self) -> Request {
        let gateways = if self.no_gateway {
            Gateways::None
        } else if self.gateway.is_empty() {
            Gateways::Default
        } else {
            Gateways::Given(self.gateway)
        };
        Request {
            iface: self.iface,
            addrs: self.addrs,
            gateways,
            dns: self.dns,
            search: self.search,
            mtu: self.mtu,
            wait: self.wait,
            init: self.init,
            command: self.command,
        }
    }
}

fn run() -> Result<u8, Error> {
    let Some(args) = parse_args(std::env::args_os().collect())? else {
        return Ok(0);
    };
    Job::new(args.into_request())?.run()
}

pub fn main() -> ExitCode {
    CLI.main(run)
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;
    use std::time::Duration;

    fn parse(words: &[&str]) -> Result<Job, String> {
        let argv = std::iter::once("netinit")
            .chain(words.iter().copied())
            .map(OsString::from)
            .collect();
        parse_args(argv)
            .and_then(|args| Job::new(args.expect("a run, not help").into_request()))
            .map_err(|e| CLI.tool.line(&e))
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
        assert_eq!(job.wait, "10".parse::<Seconds>().unwrap());
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
}
