//! natctl: NAT so a subnet reaches the outside and published ports reach
//! in, on nftables or iptables, owning only its own rules. Parses, calls
//! the library's `nat` layer, reports.

use crate::cli::Cli;
use clap::{Parser, Subcommand};
use nsnet::cidr::Subnet;
use nsnet::exit::Tool;
use nsnet::name::IfName;
use nsnet::nat::{
    self, Choice, Leaving, Line, LineRule, Masquerade, Owner, PortKey, Publish, Rule,
};
use nsnet::operand::Operand;
use nsnet::port::{Dest, PortRange, Proto};
use nsnet::run::Mode;
use nsnet::Error;
use std::net::IpAddr;
use std::process::ExitCode;

const CLI: Cli = Cli::new(
    Tool::admin("natctl"),
    include_str!("../../man/src/natctl.1"),
);

#[derive(Parser, Debug)]
#[command(
    name = "natctl",
    version,
    about = "NAT so a subnet reaches the outside and published ports reach in, on nftables or iptables",
    long_about = "NAT so a subnet reaches the outside and published ports reach in, on nftables or iptables.\n\n\
        add masquerades a subnet's traffic to anywhere outside it, lets its \
        forwarded traffic out and the replies back in, drops new connections \
        routed into it from elsewhere, and turns on forwarding. publish sends \
        connections to a host port on to an address behind the host. Each \
        change is one transaction; doing it again changes nothing. With \
        --owner PID an entry lasts while one of its owners runs: del --owner \
        lets go of it, gc clears what exited owners left. natctl only touches \
        what it made: nft tables 'ip nsnet' and 'ip6 nsnet', iptables chains \
        NSNET-*, rules marked 'nsnet:'. del, list, gc and flush see both \
        backends."
)]
struct Args {
    #[command(subcommand)]
    command: Cmd,
}

#[derive(Subcommand, Debug)]
enum Cmd {
    /// Masquerade SUBNET to the outside and isolate it from inbound connections
    Add {
        /// The subnet, like 10.0.0.0/24 or fd00:10::/64 (no host bits); '-' reads lines of natctl list (or subnets) from stdin
        #[arg(value_name = "SUBNET")]
        subnet: Operand<Subnet>,
        /// Masquerade only traffic leaving through this interface
        #[arg(long, value_name = "IFACE")]
        out: Option<IfName>,
        #[command(flatten)]
        making: Making,
    },
    /// Remove the rules of each SUBNET from both backends
    Del {
        /// Subnets to remove; '-' reads them from stdin, a subnet or a line of natctl list each (publish lines unpublish)
        #[arg(required = true, value_name = "SUBNET")]
        subnets: Vec<Operand<Subnet>>,
        #[command(flatten)]
        removing: Removing,
    },
    /// Send connections to host port(s) on to DEST:PORT, port to port
    Publish {
        /// The host port or range, like 8080 or 8000-8010
        #[arg(value_name = "HOSTPORT")]
        ports: PortRange,
        /// Where connections go, like 10.0.0.2:80, 10.0.0.2:9000-9010 or [fd00:10::2]:80
        #[arg(value_name = "DEST:PORT")]
        dest: Dest,
        /// UDP instead of TCP
        #[arg(long)]
        udp: bool,
        /// Only connections to this address of the host (default: every address)
        #[arg(long, value_name = "ADDR")]
        host: Option<IpAddr>,
        #[command(flatten)]
        making: Making,
    },
    /// Stop publishing host port(s), as publish named them
    Unpublish {
        /// Published host ports or ranges, as list shows them
        #[arg(required = true, value_name = "HOSTPORT")]
        ports: Vec<PortRange>,
        /// UDP instead of TCP
        #[arg(long)]
        udp: bool,
        /// Ports published on this address of the host only
        #[arg(long, value_name = "ADDR")]
        host: Option<IpAddr>,
        #[command(flatten)]
        removing: Removing,
    },
    /// Print every entry, a line each, as add - and del - read them
    List,
    /// Remove every entry all of whose owners have exited, printing each
    Gc {
        /// Print what would go, and the script, instead of removing it
        #[arg(long)]
        dry_run: bool,
    },
    /// Remove everything natctl made, in both backends, and nothing else
    Flush {
        /// Print what would be run instead of running it
        #[arg(long)]
        dry_run: bool,
    },
}

/// What add and publish share: who holds the entry, where it goes.
#[derive(clap::Args, Debug)]
struct Making {
    /// Hold the entry for this running process only: it goes with its last owner (see gc)
    #[arg(long, value_name = "PID")]
    owner: Option<u32>,
    /// Where to put the rules (default: $NATCTL_BACKEND, else auto: nft when it works)
    #[arg(long, value_name = "BACKEND", value_parser = backend_choice())]
    backend: Option<Choice>,
    /// Print the nft script or iptables-restore input instead of running it
    #[arg(long)]
    dry_run: bool,
}

impl Making {
    fn owner(&self) -> Result<Option<Owner>, Error> {
        self.owner.map(Owner::of).transpose()
    }

    fn choice(&self) -> Result<Choice, Error> {
        Choice::resolve(self.backend)
    }

    fn mode(&self) -> Mode {
        Mode::from_dry_run(self.dry_run)
    }
}

/// What del and unpublish share.
#[derive(clap::Args, Debug)]
struct Removing {
    /// Let go of the entries for this owner only: they go when no other owner runs
    #[arg(long, value_name = "PID")]
    owner: Option<u32>,
    /// An entry natctl does not have (or that PID does not own) is not an error
    #[arg(long)]
    if_exists: bool,
    /// Print what would be run instead of running it
    #[arg(long)]
    dry_run: bool,
}

impl Removing {
    fn leaving(&self) -> Option<Leaving> {
        self.owner.map(Leaving::Pid)
    }
}

/// `--backend`: auto, nft or iptables, listed in `--help`.
fn backend_choice() -> impl clap::builder::TypedValueParser<Value = Choice> {
    use clap::builder::TypedValueParser;
    clap::builder::PossibleValuesParser::new(["auto", "nft", "iptables"])
        .map(|text| text.parse::<Choice>().expect("one of the listed values"))
}

/// The lines on stdin, for the one `-` operand.
fn stdin_lines(operands: usize) -> Result<Vec<Line>, Error> {
    if operands > 1 {
        return Err(Error::usage("'-' (stdin) may be given only once"));
    }
    nat::entry::read_lines(std::io::stdin().lock())
}

fn proto(udp: bool) -> Proto {
    if udp {
        Proto::Udp
    } else {
        Proto::Tcp
    }
}

fn run() -> Result<u8, Error> {
    let Some(args) = CLI.parse::<Args>()? else {
        return Ok(0);
    };
    match args.command {
        Cmd::Add {
            subnet,
            out,
            making,
        } => match subnet {
            Operand::Value(subnet) => {
                let m = Masquerade { subnet, out };
                nat::masquerade(&m, making.owner()?, making.choice()?, making.mode())?;
            }
            Operand::Stdin => {
                let mut lines = stdin_lines(1)?;
                // --out is what a bare subnet leaves through.
                for line in &mut lines {
                    if let (LineRule::Subnet(s), Some(o)) = (&line.rule, &out) {
                        line.rule = LineRule::Rule(Rule::Masquerade(Masquerade {
                            subnet: *s,
                            out: Some(o.clone()),
                        }));
                    }
                }
                nat::add_lines(&lines, making.owner()?, making.choice()?, making.mode())?;
            }
        },
        Cmd::Del { subnets, removing } => {
            let stdins = subnets.iter().filter(|s| **s == Operand::Stdin).count();
            let mut lines = Vec::new();
            for operand in &subnets {
                match operand {
                    Operand::Value(s) => lines.push(Line {
                        rule: LineRule::Subnet(*s),
                        backend: None,
                        owners: Vec::new(),
                    }),
                    Operand::Stdin => lines.extend(stdin_lines(stdins)?),
                }
            }
            let mode = Mode::from_dry_run(removing.dry_run);
            nat::remove_lines(&lines, removing.leaving(), removing.if_exists, mode)?;
        }
        Cmd::Publish {
            ports,
            dest,
            udp,
            host,
            making,
        } => {
            let key = PortKey {
                proto: proto(udp),
                host,
                ports,
            };
            let publish = Publish::new(key, dest)?;
            nat::publish(&publish, making.owner()?, making.choice()?, making.mode())?;
        }
        Cmd::Unpublish {
            ports,
            udp,
            host,
            removing,
        } => {
            let keys: Vec<PortKey> = ports
                .into_iter()
                .map(|ports| PortKey {
                    proto: proto(udp),
                    host,
                    ports,
                })
                .collect();
            let mode = Mode::from_dry_run(removing.dry_run);
            nat::unpublish(&keys, removing.leaving(), removing.if_exists, mode)?;
        }
        Cmd::List => nat::print_lines(&nat::list()?)?,
        Cmd::Gc { dry_run } => {
            let mode = Mode::from_dry_run(dry_run);
            let removed = nat::gc(mode)?;
            if mode == Mode::Run {
                nat::print_lines(&removed)?;
            }
        }
        Cmd::Flush { dry_run } => nat::flush(Mode::from_dry_run(dry_run))?,
    }
    Ok(0)
}

pub fn main() -> ExitCode {
    CLI.main(run)
}
