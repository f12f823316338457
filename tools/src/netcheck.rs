//! netcheck: why can't this namespace reach there? Parses, calls the
//! library's `netcheck`, prints its report, and exits 0 when every check
//! is ok, 1 when one fails.

use crate::cli::Cli;
use clap::Parser;
use nsnet::exit::Tool;
use nsnet::name::IfName;
use nsnet::netcheck::checks::Dest;
use nsnet::netcheck::{self, Request};
use nsnet::netns::Target;
use nsnet::Error;
use std::process::ExitCode;

const CLI: Cli = Cli::new(
    Tool::admin("netcheck"),
    include_str!("../../man/src/netcheck.1"),
);

/// Why can't this namespace reach there?
#[derive(Parser, Debug)]
#[command(
    name = "netcheck",
    version,
    about = "Check why a network namespace cannot reach there, changing nothing",
    long_about = "Why can't this namespace reach there? netcheck reads the state of \
TARGET's network namespace and of the host, probes from inside TARGET toward its \
gateway, its name servers and each --dest only, and prints one line per check in \
the order packets travel: 'ok   what' or 'FAIL what: why (fix: command)'. It \
changes nothing. Exit status 0 when every check is ok, 1 when one fails.\n\n\
TARGET is a PID, a network namespace file (/proc/PID/ns/net, /run/netns/NAME) or a \
NAME under /run/netns."
)]
struct Args {
    /// An address or host name to reach from inside (repeatable): its path
    /// through the host is checked, and it is pinged with don't-fragment
    /// probes to find the path MTU
    #[arg(long = "dest", value_name = "ADDR|NAME")]
    dests: Vec<Dest>,

    /// The interface inside TARGET [default: the default route's, else eth0]
    #[arg(long, value_name = "NAME")]
    iface: Option<IfName>,

    /// The network namespace: PID, namespace file or NAME under /run/netns
    #[arg(value_name = "TARGET")]
    target: Target,
}

fn run() -> Result<u8, Error> {
    let Some(args) = CLI.parse::<Args>()? else {
        return Ok(0);
    };
    let report = netcheck::check(&Request {
        target: args.target,
        iface: args.iface,
        dests: args.dests,
    })?;
    print!("{}", report.text());
    Ok(report.status())
}

pub fn main() -> ExitCode {
    CLI.main(run)
}
