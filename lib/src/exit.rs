//! Exit statuses and the one-line report every tool's `main` ends in.
//!
//! Two conventions (docs/contract.md, "Exit statuses"): administrative
//! tools (vethup, vethdown, natctl) exit 0/1/2; command wrappers (nsrun,
//! netinit) follow env(1) and chroot(1): the command's own status, 125 for
//! their own failures, 126 and 127 when the command could not be run.

use crate::error::{Error, Kind};
use std::process::ExitCode;

/// How a tool maps an error kind to its exit status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convention {
    /// 0 done, 1 failed, 2 usage error.
    Admin,
    /// The command's status; 125 own failure or usage; 126; 127.
    Wrapper,
}

/// A tool's name and its exit convention.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub name: &'static str,
    pub convention: Convention,
}

impl Tool {
    pub const fn admin(name: &'static str) -> Self {
        Tool {
            name,
            convention: Convention::Admin,
        }
    }

    pub const fn wrapper(name: &'static str) -> Self {
        Tool {
            name,
            convention: Convention::Wrapper,
        }
    }

    /// The exit status this tool gives for an error of `kind`.
    pub fn status(&self, kind: Kind) -> u8 {
        match (self.convention, kind) {
            (Convention::Admin, Kind::Usage) => 2,
            (Convention::Admin, _) => 1,
            (Convention::Wrapper, Kind::Usage | Kind::Failed) => 125,
            (Convention::Wrapper, Kind::CannotExecute) => 126,
            (Convention::Wrapper, Kind::NotFound) => 127,
        }
    }

    /// The one diagnostic line: `TOOL: what failed: why`.
    pub fn line(&self, error: &Error) -> String {
        let one_line = error.to_string().replace('\n', " ");
        format!("{}: {}", self.name, one_line.trim_end())
    }

    /// Prints the error, if any, on stderr and returns the exit status.
    /// `Ok(status)` is passed through (a wrapped command's own status).
    pub fn report(&self, result: Result<u8, Error>) -> ExitCode {
        match result {
            Ok(status) => ExitCode::from(status),
            Err(error) => {
                eprintln!("{}", self.line(&error));
                ExitCode::from(self.status(error.kind()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const VETHUP: Tool = Tool::admin("vethup");
    const NSRUN: Tool = Tool::wrapper("nsrun");

    #[test]
    fn admin_statuses() {
        assert_eq!(VETHUP.status(Kind::Usage), 2);
        assert_eq!(VETHUP.status(Kind::Failed), 1);
    }

    #[test]
    fn wrapper_statuses() {
        assert_eq!(NSRUN.status(Kind::Usage), 125);
        assert_eq!(NSRUN.status(Kind::Failed), 125);
        assert_eq!(NSRUN.status(Kind::CannotExecute), 126);
        assert_eq!(NSRUN.status(Kind::NotFound), 127);
    }

    #[test]
    fn the_line_names_the_tool_and_stays_one_line() {
        let e = Error::failed("cannot create veth0: an interface\nwith that name already exists");
        assert_eq!(
            VETHUP.line(&e),
            "vethup: cannot create veth0: an interface with that name already exists"
        );
    }
}
