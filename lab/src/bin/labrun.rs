//! `labrun COMMAND [ARG]...`: runs a command as root in a fresh private lab
//! (the same sandbox the tests use: host and internet namespaces, the
//! service and DNS) and removes the lab afterwards. The demo and the
//! benchmark run through it so nothing outside the lab is touched.

use std::process::ExitCode;

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().skip(1).collect();
    if argv.is_empty() {
        eprintln!("usage: labrun COMMAND [ARG]...");
        return ExitCode::from(2);
    }
    let Some(lab) = nsnet_lab::Lab::new("labrun") else {
        return ExitCode::from(1);
    };
    let status = lab
        .command(&argv)
        .status()
        .unwrap_or_else(|e| panic!("cannot run {}: {e}", argv[0]));
    drop(lab);
    ExitCode::from(status.code().map_or(1, |c| c as u8))
}
