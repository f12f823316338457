//! nsnet, the CNI plugin (`"type": "nsnet"`): a runtime gives the command
//! and the container in `CNI_*` variables and the network configuration on
//! stdin; the result or the error goes to stdout as the CNI specification
//! writes it. The work is the library's `cni` module.

use crate::cli::Cli;
use clap::Parser;
use nsnet::cni::env::Env;
use nsnet::cni::error::{code, CniError};
use nsnet::exit::Tool;
use nsnet::Error;
use std::io::{Read, Write};
use std::process::ExitCode;

const CLI: Cli = Cli::new(Tool::admin("nsnet"), include_str!("../../man/src/nsnet.1"));

/// The plugin's command line is its environment: what clap shows as the
/// usage, and the man page as its SYNOPSIS.
const USAGE: &str = "CNI_COMMAND=ADD|DEL|CHECK|VERSION|STATUS|GC CNI_CONTAINERID=ID \
CNI_NETNS=PATH CNI_IFNAME=NAME CNI_PATH=DIRS nsnet < CONFIG";

#[derive(Parser, Debug)]
#[command(
    name = "nsnet",
    version,
    override_usage = USAGE,
    about = "CNI plugin: nsnet's links and NAT under podman, containerd and Kubernetes",
    long_about = "CNI plugin: nsnet's links and NAT under podman, containerd and Kubernetes.\n\n\
        A container runtime runs it, never a person: the command (ADD, DEL, CHECK, \
        VERSION, STATUS, GC) and the container come in CNI_* environment variables, \
        the network configuration ({\"type\": \"nsnet\", \"ipam\": {...}, \"bridge\", \
        \"ipMasq\", \"mtu\", \"dataDir\"}) on stdin, and the result or the error goes to \
        stdout as JSON. It speaks CNI 0.4.0, 1.0.0 and 1.1.0. Install it in the runtime's \
        CNI plugin directory; see nsnet(1) for a complete network configuration."
)]
struct Args {}

fn run() -> Result<u8, Error> {
    // Runtimes pass no arguments: any is a person asking for --help.
    if std::env::args_os().len() > 1 && CLI.parse::<Args>()?.is_none() {
        return Ok(0);
    }
    if std::env::var_os("CNI_COMMAND").is_none() {
        eprintln!(
            "nsnet: this is a CNI plugin, run by a container runtime (see 'man nsnet' or 'nsnet --help')"
        );
    }
    let env = Env::from_process();
    let mut stdin = Vec::new();
    let reply = match (&env, std::io::stdin().read_to_end(&mut stdin)) {
        (Err(_), _) | (Ok(_), Ok(_)) => nsnet::cni::handle(env, &stdin),
        (Ok(_), Err(e)) => nsnet::cni::handle(
            Err(CniError::new(
                code::IO_FAILURE,
                format!("cannot read the network configuration from stdin: {e}"),
            )),
            &stdin,
        ),
    };
    let mut out = std::io::stdout().lock();
    // A runtime that went away reads nothing either way.
    let _ = out
        .write_all(reply.stdout.as_bytes())
        .and_then(|()| out.flush());
    Ok(if reply.success { 0 } else { 1 })
}

pub fn main() -> ExitCode {
    CLI.main(run)
}
