//! Exit statuses and the one-line report every tool's `main` ends in.
//!
//! Two conventions (SPEC "Exit status"): administrative tools (vethup,
//! vethdown, natctl) exit 0/1/2; command wrappers (nsrun, netinit) follow
//! env(1) and chroot(1): the command's own status, 125 for their own
//! failures, 126 and 127 when the command could not be run.

use crate::error::{Error, Kind};
use std::process::ExitCode;

/// The environment variable that asks a tool for its completion script.
pub const COMPLETIONS_VAR: &str = "NSNET_COMPLETIONS";

/// Whether this run asks for a completion script rather than real work.
pub fn completions_requested() -> bool {
    std::env::var_os(COMPLETIONS_VAR).is_some()
}

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
        let one_line = error.message().replace('\n', " ");
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

    /// Parses the command line with clap. `--help` and `--version` print and
    /// exit 0; any other clap error becomes one usage line naming the problem.
    ///
    /// With `NSNET_COMPLETIONS=bash` (or `zsh`, `fish`) in the environment,
    /// prints the shell's completion script instead and exits: that is how
    /// `just install` makes them, from the very parser the tool uses.
    pub fn parse_args<T: clap::Parser>(&self) -> Result<T, Error> {
        self.parse_from(std::env::args_os())
    }

    fn print_completions<T: clap::CommandFactory>(&self, shell: &str) -> Result<(), Error> {
        let shell: clap_complete::Shell = shell.parse().map_err(|_| {
            Error::usage(format!(
                "{COMPLETIONS_VAR}={shell}: not a shell clap_complete knows (bash, zsh, fish, elvish, powershell)"
            ))
        })?;
        clap_complete::generate(shell, &mut T::command(), self.name, &mut std::io::stdout());
        Ok(())
    }

    pub fn parse_from<T, I, S>(&self, args: I) -> Result<T, Error>
    where
        T: clap::Parser,
        I: IntoIterator<Item = S>,
        S: Into<std::ffi::OsString> + Clone,
    {
        use clap::error::ErrorKind;
        if let Some(shell) = std::env::var_os(COMPLETIONS_VAR) {
            self.print_completions::<T>(&shell.to_string_lossy())?;
            std::process::exit(0)
        }
        T::try_parse_from(args).map_err(|e| match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                // Printing help is the whole job here; a broken pipe is not an error.
                let _ = e.print();
                std::process::exit(0)
            }
            // clap's answer to a missing subcommand is the whole help
            // text, whose first line is the tool's description.
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand => Error::usage(format!(
                "{} (try '{} --help')",
                nothing_given::<T>(),
                self.name
            )),
            _ => Error::usage(format!(
                "{} (try '{} --help')",
                clap_first_line(&e),
                self.name
            )),
        })
    }
}

/// What a command line with no arguments lacks: the subcommand, named
/// with its choices.
fn nothing_given<T: clap::CommandFactory>() -> String {
    let names: Vec<String> = T::command()
        .get_subcommands()
        .map(|s| s.get_name().to_string())
        .filter(|name| name != "help")
        .collect();
    if names.is_empty() {
        "no arguments given".to_string()
    } else {
        format!("no subcommand given ({})", names.join(", "))
    }
}

/// The first paragraph of a clap error as one line, without its `error: `
/// prefix and styling (a missing argument is named on the indented line
/// after `…were not provided:`).
fn clap_first_line(e: &clap::Error) -> String {
    let text = e.render().to_string();
    let first = text
        .lines()
        .take_while(|l| !l.trim().is_empty())
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ");
    let first = first.strip_prefix("error: ").unwrap_or(&first);
    if first.is_empty() {
        "invalid arguments".to_string()
    } else {
        first.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    const VETHUP: Tool = Tool::admin("vethup");
    const NSRUN: Tool = Tool::wrapper("nsrun");

    #[derive(Parser, Debug)]
    #[command(name = "t")]
    struct Args {
        #[arg(long)]
        mtu: Option<u32>,
        name: String,
    }

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

    #[derive(Parser, Debug)]
    #[command(name = "t")]
    enum Sub {
        Add { x: String },
        List,
    }

    #[test]
    fn a_missing_subcommand_is_named_not_answered_with_help() {
        let e = VETHUP.parse_from::<Sub, _, _>(["t"]).unwrap_err();
        assert_eq!(e.kind(), Kind::Usage);
        assert_eq!(
            e.message(),
            "no subcommand given (add, list) (try 'vethup --help')"
        );
    }

    #[test]
    fn clap_errors_become_one_usage_line() {
        let e = VETHUP
            .parse_from::<Args, _, _>(["t", "--bogus", "x"])
            .unwrap_err();
        assert_eq!(e.kind(), Kind::Usage);
        assert!(!e.message().contains('\n'), "{e}");
        assert!(e.message().contains("--bogus"), "{e}");
        assert!(e.message().ends_with("(try 'vethup --help')"), "{e}");
        let e = VETHUP
            .parse_from::<Args, _, _>(["t", "--mtu", "big", "x"])
            .unwrap_err();
        assert!(e.message().contains("'big'"), "{e}");
        let e = VETHUP.parse_from::<Args, _, _>(["t"]).unwrap_err();
        assert!(
            e.message()
                .starts_with("the following required arguments were not provided: <NAME>"),
            "{e}"
        );
    }
}
