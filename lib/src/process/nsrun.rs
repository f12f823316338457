//! nsrun's whole run, in the order nsrun(1) gives it: check everything, open
//! the pid file, clone the child into its namespaces (held at the hand-off
//! when hooks or the pid file need it), write the pid file, run the hooks,
//! release the child, forward signals until it ends, run the on-exit hooks,
//! remove the pid file, exit with the command's status.

use super::handoff::{Argv, Held};
use super::hooks::{self, HookEnv, When};
use super::namespaces::Namespaces;
use super::{block_supervised_signals, ignore_sigpipe, supervise_with, Reap, Signals};
use crate::error::Error;
use crate::pidfile::PidFile;
use nix::sys::signal::SigSet;
use std::ffi::OsString;
use std::path::PathBuf;

/// What nsrun was asked to do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Spec {
    pub namespaces: Namespaces,
    pub pid_file: Option<PathBuf>,
    pub hooks: Vec<String>,
    pub on_exit: Vec<String>,
    pub command: Vec<OsString>,
}

/// Runs the command as `spec` says and returns its status (128+N for
/// signal N); an error is nsrun's own failure (125) or a command that could
/// not be run (126, 127). Problems that do not change the status (a failing
/// on-exit hook, a start stopped by a signal) go to `warn` as they happen.
pub fn run(spec: Spec, warn: &mut dyn FnMut(&Error)) -> Result<u8, Error> {
    let ns = spec.namespaces.checked()?;
    let argv = Argv::new(&spec.command)?;
    // A child that dies before the hand-off shows as EPIPE on its gate.
    ignore_sigpipe()?;
    // The pid file is checked before anything exists, so a path that
    // cannot be written, or not safely, fails with nothing to undo.
    let mut pid_file = spec.pid_file.map(PidFile::prepare).transpose()?;
    let mask = block_supervised_signals()?;
    let signals = Signals::new()?;
    // Held at the hand-off only when something must happen first.
    let hold = !spec.hooks.is_empty() || pid_file.is_some();
    let mut held = Held::spawn(&ns, &argv, &mask, hold)?;
    let env = HookEnv::new(held.pid());
    let result = start(
        &ns,
        &mut held,
        pid_file.as_mut(),
        &spec.hooks,
        &env,
        &signals,
        &mask,
        warn,
    )
    .and_then(|()| Ok(supervise_with(&signals, held.pid(), Reap::Child)?))
    .and_then(|code| Ok(held.exec_result(&ns, &argv).map(|()| code)?));
    // A child that never became the command is killed and reaped here,
    // before the on-exit hooks look at what is left.
    drop(held);
    for command in &spec.on_exit {
        if let Some(e) = hooks::run(command, When::Exit, &env, &signals, &mask).error {
            warn(&e);
        }
    }
    // The last of the teardown: its failure is reported like a hook's.
    if let Some(Err(e)) = pid_file.map(PidFile::remove) {
        warn(&e);
    }
    match result {
        Ok(code) | Err(Stop::Signal(code)) => Ok(code),
        Err(Stop::Failed(e)) => Err(e),
    }
}

/// Why the command did not start.
enum Stop {
    Failed(Error),
    /// A stopping signal arrived during the hooks: exit 128+N.
    Signal(u8),
}

impl From<Error> for Stop {
    fn from(e: Error) -> Stop {
        Stop::Failed(e)
    }
}

/// Everything from the pid file to the exec of the command.
#[allow(clippy::too_many_arguments)]
fn start(
    ns: &Namespaces,
    held: &mut Held,
    pid_file: Option<&mut PidFile>,
    setup_hooks: &[String],
    env: &HookEnv,
    signals: &Signals,
    mask: &SigSet,
    warn: &mut dyn FnMut(&Error),
) -> Result<(), Stop> {
    if let Some(file) = pid_file {
        file.write(held.pid())?;
    }
    held.prepare(ns)?;
    for command in setup_hooks {
        let end = hooks::run(command, When::Setup, env, signals, mask);
        if let Some(signal) = end.stopped_by {
            warn(&Error::failed(format!(
                "{} arrived while hook '{command}' ran: the command was not started",
                signal.as_str()
            )));
            return Err(Stop::Signal(128 + signal as u8));
        }
        if let Some(e) = end.error {
            return Err(e.into());
        }
        if let Some(status) = held.try_reap() {
            let how = match super::status_code(status) {
                Some(code) if code > 128 => format!("was killed by signal {}", code - 128),
                Some(code) => format!("exited with status {code}"),
                None => "ended".to_string(),
            };
            return Err(Error::failed(format!(
                "the command's process {how} before the command started"
            ))
            .into());
        }
    }
    held.release()?;
    Ok(())
}
