//! nsnet, the CNI plugin (`"type": "nsnet"`): a runtime gives the command
//! and the container in `CNI_*` variables and the network configuration on
//! stdin; the result or the error goes to stdout as the CNI specification
//! writes it. The work is the library's `cni` module.

use clap::Parser;
use nsnet::cni::env::Env;
use nsnet::cni::error::{code, CniError};
use nsnet::exit::Tool;
use std::io::{Read, Write};
use std::process::ExitCode;

const TOOL: Tool = Tool::admin("nsnet");

#[derive(Parser, Debug)]
#[command(
    name = "nsnet",
    version,
    about = "CNI plugin: nsnet's links and NAT under podman, containerd and Kubernetes",
    long_about = "CNI plugin: nsnet's links and NAT under podman, containerd and Kubernetes.\n\n\
        A container runtime runs it, never a person: the command (ADD, DEL, CHECK, \
        VERSION, STATUS, GC) and the container come in CNI_* environment variables, \
        the network configuration ({\"type\": \"nsnet\", \"ipam\": {...}, \"bridge\", \
        \"ipMasq\", \"mtu\"}) on stdin, and the result or the error goes to stdout as \
        JSON. It speaks CNI 0.4.0, 1.0.0 and 1.1.0. Install it in the runtime's CNI \
        plugin directory; see nsnet-cni(7) for a complete network configuration."
)]
struct Args {}

pub fn main() -> ExitCode {
    // Runtimes pass no arguments: any is a person asking for --help.
    if std::env::args_os().len() > 1 {
        if let Err(e) = crate::cli::parse::<Args>(&TOOL) {
            return TOOL.report(Err(e));
        }
    }
    let env = Env::from_process();
    if std::env::var_os("CNI_COMMAND").is_none() {
        eprintln!("nsnet: this is a CNI plugin, run by a container runtime (see nsnet-cni(7) or 'nsnet --help')");
    }
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
    ExitCode::from(if reply.success { 0 } else { 1 })
}
