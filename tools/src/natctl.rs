//! natctl: NAT so a subnet reaches the outside, on nftables or iptables,
//! owning only its own rules. Parses, calls the library's `nat` layer, reports.

use crate::cli::Cli;
use clap::{Parser, Subcommand};
use nsnet::cidr::Subnet;
use nsnet::exit::Tool;
use nsnet::name::IfName;
use nsnet::nat::{self, Choice, Masquerade};
use nsnet::operand::{self, Operand};
use nsnet::run::Mode;
use nsnet::Error;
use std::process::ExitCode;

const CLI: Cli = Cli::new(
    Tool::admin("natctl"),
    include_str!("../../man/src/natctl.1"),
);

#[derive(Parser, Debug)]
#[command(
    name = "natctl",
    version,
    about = "NAT so a subnet reaches the outside, on nftables or iptables",
    long_about = "NAT so a subnet reaches the outside, on nftables or iptables.\n\n\
        add masquerades a subnet's traffic to anywhere outside it, lets its \
        forwarded traffic out and the replies back in, drops new connections \
        routed into it from elsewhere, and turns on forwarding. Each change is \
        one transaction; adding a subnet again changes nothing. natctl only \
        touches what it made: nft tables 'ip nsnet' and 'ip6 nsnet', iptables \
        chains NSNET-POSTROUTING and NSNET-FORWARD, rules marked \
        'nsnet:SUBNET'. del, list and flush see both backends."
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Masquerade SUBNET to the outside and isolate it from inbound connections
    Add {
        /// The subnet, like 10.0.0.0/24 or fd00:10::/64 (no host bits)
        subnet: Subnet,
        /// Masquerade only traffic leaving through this interface
        #[arg(long, value_name = "IFACE")]
        out: Option<IfName>,
        /// Where to put the rules (default: $NATCTL_BACKEND, else auto: nft when it works)
        #[arg(long, value_name = "BACKEND", value_parser = backend_choice())]
        backend: Option<Choice>,
        /// Print the nft script or iptables-restore input instead of running it
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove the rules of each SUBNET from both backends
    Del {
        /// Subnets to remove; '-' reads them from stdin, the first word of each line (so list's output works)
        #[arg(required = true, value_name = "SUBNET")]
        subnets: Vec<Operand<Subnet>>,
        /// A subnet natctl has no rules for is not an error
        #[arg(long)]
        if_exists: bool,
        /// Print what would be run instead of running it
        #[arg(long)]
        dry_run: bool,
    },
    /// Print each masqueraded subnet: 'SUBNET masquerade out=IFACE|any backend=nft|iptables'
    List,
    /// Remove everything natctl made, in both backends, and nothing else
    Flush {
        /// Print what would be run instead of running it
        #[arg(long)]
        dry_run: bool,
    },
}

/// `--backend`: auto, nft or iptables, listed in `--help`.
fn backend_choice() -> impl clap::builder::TypedValueParser<Value = Choice> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["auto", "nft", "iptables"])
        .map(|text| text.parse::<Choice>().expect("one of the listed values"))
}

fn run() -> Result<u8, Error> {
    let Some(args) = CLI.parse::<Args>()? else {
        return Ok(0);
    };
    match args.command {
        Cmd::Add {
            subnet,
            out,
            backend,
            dry_run,
        } => {
            subnet.check_masquerade()?;
            nat::add(
                &Masquerade { subnet, out },
                Choice::resolve(backend)?,
                Mode::from_dry_run(dry_run),
            )?
        }
        Cmd::Del {
            subnets,
            if_exists,
            dry_run,
        } => {
            let subnets = operand::expand(&subnets, std::io::stdin().lock())?;
            nat::del(&subnets, if_exists, Mode::from_dry_run(dry_run))?
        }
        Cmd::List => nat::print_list()?,
        Cmd::Flush { dry_run } => nat::flush(Mode::from_dry_run(dry_run))?,
    }
    Ok(0)
}

pub fn main() -> ExitCode {
    CLI.main(run)
}
