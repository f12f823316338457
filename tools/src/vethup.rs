//! vethup: create a veth pair from the host into a network namespace.

use crate::cli::Cli;
use clap::Parser;
use nsnet::cidr::HostCidr;
use nsnet::exit::Tool;
use nsnet::link::veth::{self, Up};
use nsnet::name::IfName;
use nsnet::netns::Target;
use nsnet::run::Mode;
use nsnet::Error;
use std::process::ExitCode;

const CLI: Cli = Cli::new(
    Tool::admin("vethup"),
    include_str!("../../man/src/vethup.1"),
);

/// Create a veth pair with one end inside a network namespace.
#[derive(Parser, Debug)]
#[command(
    name = "vethup",
    version,
    about = "Create a veth pair with one end inside a network namespace",
    long_about = "Create a veth pair: HOSTIF on the host, addressed and up, and its peer \
created directly inside TARGET's network namespace, left down for the container to \
configure (netinit does). With --bridge, HOSTIF is attached to a bridge instead, \
created when missing. Everything vethup creates carries the alias nsnet:vethup, \
by which vethdown knows it. Every step is an rtnetlink request of vethup's own, \
acknowledged by the kernel; when the kernel refuses one, the error names it and what \
was already done is undone. vethup and vethdown hold /run/nsnet/link.lock from \
their first look to their last change. A pair of vethup's in the way whose \
container has just exited is removed first.\n\n\
TARGET is a PID, a network namespace file (/proc/PID/ns/net, /run/netns/NAME) or a \
NAME under /run/netns."
)]
struct Args {
    /// Address of the host end, or of a bridge vethup creates
    /// (repeatable; IPv4 or IPv6) [default: 10.0.0.1/24]
    #[arg(long = "addr", value_name = "CIDR")]
    addrs: Vec<HostCidr>,

    /// Name of the end inside TARGET
    #[arg(long, value_name = "NAME", default_value = veth::DEFAULT_IFNAME)]
    ifname: IfName,

    /// Attach HOSTIF to bridge BR (created with the --addr addresses when
    /// missing, used as it is when present) instead of addressing HOSTIF
    #[arg(long, value_name = "BR")]
    bridge: Option<IfName>,

    /// MTU of both ends (and of a bridge vethup creates)
    // A negative number is a bad MTU, not an unknown option.
    #[arg(
        long,
        value_name = "N",
        value_parser = nsnet::link::parse_mtu,
        allow_negative_numbers = true
    )]
    mtu: Option<u32>,

    /// Print the equivalent ip commands as a shell script instead of acting
    #[arg(long)]
    dry_run: bool,

    /// Name of the host end
    #[arg(value_name = "HOSTIF")]
    hostif: IfName,

    /// The network namespace: PID, namespace file or NAME under /run/netns
    #[arg(value_name = "TARGET")]
    target: Target,
}

fn run() -> Result<u8, Error> {
    let Some(args) = CLI.parse::<Args>()? else {
        return Ok(0);
    };
    let request = Up {
        addrs: args.addrs,
        ifname: args.ifname,
        bridge: args.bridge,
        mtu: args.mtu,
        ..Up::new(args.hostif, args.target)
    };
    veth::up(&request, Mode::from_dry_run(args.dry_run))?;
    Ok(0)
}

pub fn main() -> ExitCode {
    CLI.main(run)
}
