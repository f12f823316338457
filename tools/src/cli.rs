//! What every tool's command line shares: clap's parse, with every clap
//! error turned into one usage line, `--help` and `--version` printed, and
//! completion scripts made from the very parser the tool uses.

use nsnet::exit::Tool;
use nsnet::Error;
use std::ffi::OsString;

/// The environment variable that asks a tool for its completion script.
pub const COMPLETIONS_VAR: &str = "NSNET_COMPLETIONS";

/// Whether this run asks for a completion script rather than real work.
pub fn completions_requested() -> bool {
    std::env::var_os(COMPLETIONS_VAR).is_some()
}

/// Parses this process's command line for `tool`; see [`parse_from`].
pub fn parse<T: clap::Parser>(tool: &Tool) -> Result<T, Error> {
    parse_from(tool, std::env::args_os())
}

fn print_completions<T: clap::CommandFactory>(tool: &Tool, shell: &str) -> Result<(), Error> {
    let shell: clap_complete::Shell = shell.parse().map_err(|_| {
        Error::usage(format!(
            "{COMPLETIONS_VAR}={shell}: not a shell clap_complete knows (bash, zsh, fish, elvish, powershell)"
        ))
    })?;
    clap_complete::generate(shell, &mut T::command(), tool.name, &mut std::io::stdout());
    Ok(())
}

/// Parses `args` with clap. `--help` and `--version` print and exit 0; any
/// other clap error becomes one usage line naming the problem.
///
/// With `NSNET_COMPLETIONS=bash` (or `zsh`, `fish`) in the environment,
/// prints the shell's completion script instead and exits: that is how
/// `just install` makes them.
pub fn parse_from<T, I, S>(tool: &Tool, args: I) -> Result<T, Error>
where
    T: clap::Parser,
    I: IntoIterator<Item = S>,
    S: Into<OsString> + Clone,
{
    use clap::error::ErrorKind;
    if let Some(shell) = std::env::var_os(COMPLETIONS_VAR) {
        print_completions::<T>(tool, &shell.to_string_lossy())?;
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
            tool.name
        )),
        _ => Error::usage(format!(
            "{} (try '{} --help')",
            clap_first_line(&e),
            tool.name
        )),
    })
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
    use nsnet::Kind;

    const VETHUP: Tool = Tool::admin("vethup");

    #[derive(Parser, Debug)]
    #[command(name = "t")]
    struct Args {
        #[arg(long)]
        mtu: Option<u32>,
        name: String,
    }

    #[derive(Parser, Debug)]
    #[command(name = "t")]
    enum Sub {
        Add { x: String },
        List,
    }

    #[test]
    fn a_missing_subcommand_is_named_not_answered_with_help() {
        let e = parse_from::<Sub, _, _>(&VETHUP, ["t"]).unwrap_err();
        assert_eq!(e.kind(), Kind::Usage);
        assert_eq!(
            e.message(),
            "no subcommand given (add, list) (try 'vethup --help')"
        );
    }

    #[test]
    fn clap_errors_become_one_usage_line() {
        let e = parse_from::<Args, _, _>(&VETHUP, ["t", "--bogus", "x"]).unwrap_err();
        assert_eq!(e.kind(), Kind::Usage);
        assert!(!e.message().contains('\n'), "{e}");
        assert!(e.message().contains("--bogus"), "{e}");
        assert!(e.message().ends_with("(try 'vethup --help')"), "{e}");
        let e = parse_from::<Args, _, _>(&VETHUP, ["t", "--mtu", "big", "x"]).unwrap_err();
        assert!(e.message().contains("'big'"), "{e}");
        let e = parse_from::<Args, _, _>(&VETHUP, ["t"]).unwrap_err();
        assert!(
            e.message()
                .starts_with("the following required arguments were not provided: <NAME>"),
            "{e}"
        );
    }
}
