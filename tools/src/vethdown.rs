//! vethdown: remove veth pairs that vethup made.

use crate::cli::Cli;
use clap::Parser;
use nsnet::exit::Tool;
use nsnet::link::veth::{self, Down};
use nsnet::name::IfName;
use nsnet::operand::{self, Operand};
use nsnet::run::Mode;
use nsnet::Error;
use std::process::ExitCode;

const CLI: Cli = Cli::new(
    Tool::admin("vethdown"),
    include_str!("../../man/src/vethdown.1"),
);

/// Remove veth pairs that vethup made.
#[derive(Parser, Debug)]
#[command(
    name = "vethdown",
    version,
    about = "Remove veth pairs that vethup made",
    long_about = "Remove each named veth pair (removing the host end removes its peer), \
and every bridge vethup made that is left without ports. Only interfaces carrying \
vethup's mark, the alias nsnet:vethup, are touched: a name that is not a veth made \
by vethup is refused before anything is removed. A HOSTIF of '-' reads names from \
standard input."
)]
struct Args {
    /// An absent HOSTIF is not an error
    #[arg(long)]
    if_exists: bool,

    /// Remove every pair and bridge vethup made, and nothing else
    #[arg(long, conflicts_with = "names")]
    all: bool,

    /// Print the equivalent ip commands as a shell script instead of acting
    #[arg(long)]
    dry_run: bool,

    /// Host ends of the pairs; '-' reads names from standard input
    #[arg(value_name = "HOSTIF", required_unless_present = "all")]
    names: Vec<Operand<IfName>>,
}

fn run() -> Result<u8, Error> {
    let Some(args) = CLI.parse::<Args>()? else {
        return Ok(0);
    };
    let request = Down {
        names: operand::expand(&args.names, std::io::stdin().lock())?,
        if_exists: args.if_exists,
        all: args.all,
    };
    veth::down(&request, Mode::from_dry_run(args.dry_run))?;
    Ok(0)
}

pub fn main() -> ExitCode {
    CLI.main(run)
}
