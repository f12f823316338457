//! netinit: configure a container's network from inside it, then exec a
//! command. Everything it does is in `nsnet::netinit`.

use nsnet::netinit::{self, TOOL};
use std::process::ExitCode;

fn main() -> ExitCode {
    TOOL.report(netinit::main(std::env::args_os().collect()))
}
