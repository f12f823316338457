//! nsrun: runs a command in new namespaces; setup hooks run while the
//! command waits at a hand-off, so what they create exists before it starts.

use crate::cli::Cli;
use clap::Parser;
use nsnet::exit::Tool;
use nsnet::process::namespaces::Namespaces;
use nsnet::process::nsrun::{self, Spec};
use nsnet::Error;
use std::ffi::OsString;
use std::path::PathBuf;
use std::process::ExitCode;

const CLI: Cli = Cli::new(
    Tool::wrapper("nsrun"),
    include_str!("../../man/src/nsrun.1"),
);

/// Run a command in new namespaces, with setup hooks before it starts.
#[derive(Parser, Debug)]
#[command(
    name = "nsrun",
    version,
    about = "Run a command in new namespaces, with setup hooks before it starts",
    long_about = "Run COMMAND in the new namespaces named (at least one). The command's \
process is created inside them and waits there until every --hook has succeeded, so an \
interface a hook creates in $NSRUN_PID's network namespace exists before COMMAND's first \
instruction. Hooks and on-exit hooks run in nsrun's own namespaces as /bin/sh -c CMD, with \
NSRUN_PID and NSRUN_NETNS set. Signals sent to nsrun reach COMMAND; if nsrun dies, even by \
SIGKILL, COMMAND dies with it.\n\nExit status: COMMAND's own; 128+N if it died of signal N; \
125 if nsrun failed; 126 if COMMAND could not be executed; 127 if it was not found.",
    after_help = "Example: nsrun --net --hook 'vethup veth0 $NSRUN_PID' -- netinit 10.0.0.2/24 -- sh"
)]
struct Args {
    /// New network namespace: the command sees only its own loopback
    #[arg(long)]
    net: bool,
    /// New mount namespace, every mount made private (recursively)
    #[arg(long)]
    mount: bool,
    /// New UTS namespace (hostname and domain name)
    #[arg(long)]
    uts: bool,
    /// New IPC namespace (System V IPC, POSIX message queues)
    #[arg(long)]
    ipc: bool,
    /// New PID namespace: the command is its PID 1
    #[arg(long)]
    pid: bool,
    /// New cgroup namespace: the command's cgroup becomes its root
    #[arg(long)]
    cgroup: bool,
    /// New user namespace (the other namespaces are owned by it)
    #[arg(long)]
    user: bool,
    /// Map the caller's user and group to root in the new user namespace
    #[arg(long)]
    map_root: bool,
    /// Set the hostname inside (implies --uts)
    #[arg(long, value_name = "NAME")]
    hostname: Option<String>,
    /// Mount a fresh /proc inside (implies --mount; use with --pid)
    #[arg(long)]
    mount_proc: bool,
    /// Write the command's PID to PATH while it runs
    #[arg(long, value_name = "PATH")]
    pid_file: Option<PathBuf>,
    /// Run CMD before the command starts; repeat for more, run in order
    #[arg(long = "hook", value_name = "CMD")]
    hooks: Vec<String>,
    /// Run CMD after the command is gone, in every case; repeatable
    #[arg(long = "on-exit", value_name = "CMD")]
    on_exit: Vec<String>,
    /// The command to run and its arguments
    #[arg(value_name = "COMMAND", required = true, trailing_var_arg = true)]
    command: Vec<OsString>,
}

impl Args {
    fn into_spec(self) -> Spec {
        Spec {
            namespaces: Namespaces {
                net: self.net,
                mount: self.mount,
                uts: self.uts,
                ipc: self.ipc,
                pid: self.pid,
                cgroup: self.cgroup,
                user: self.user,
                map_root: self.map_root,
                mount_proc: self.mount_proc,
                hostname: self.hostname,
            },
            pid_file: self.pid_file,
            hooks: self.hooks,
            on_exit: self.on_exit,
            command: self.command,
        }
    }
}

fn run() -> Result<u8, Error> {
    let Some(args) = CLI.parse::<Args>()? else {
        return Ok(0);
    };
    nsrun::run(args.into_spec(), &mut |e| eprintln!("{}", CLI.tool.line(e)))
}

pub fn main() -> ExitCode {
    CLI.main(run)
}
