//! What every tool's command line shares: the run from `main` to the exit
//! status, clap's parse with every clap error turned into one usage line,
//! `--help` and `--version`, and the hidden `--generate KIND` that prints
//! the tool's man page or a completion script, made from the very parser
//! the tool uses. Nothing here depends on the environment: a hook or a
//! payload that inherits one behaves the same whatever it holds.

use crate::man;
use clap::{Arg, CommandFactory};
use nsnet::exit::Tool;
use nsnet::Error;
use std::ffi::OsString;
use std::io::Write;
use std::process::ExitCode;

/// The option that asks for generated text instead of real work.
const GENERATE: &str = "generate";

/// What `--generate KIND` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Generate {
    /// The man page, roff (`just man` keeps `man/TOOL.1` so).
    Man,
    /// A bash completion script.
    CompleteBash,
    /// A zsh completion script.
    CompleteZsh,
    /// A fish completion script.
    CompleteFish,
}

/// One tool's command-line side: its name and exit convention, and the
/// hand-written parts of its man page (`man/src/TOOL.1`).
#[derive(Debug, Clone, Copy)]
pub struct Cli {
    pub tool: Tool,
    pub page: &'static str,
}

impl Cli {
    pub const fn new(tool: Tool, page: &'static str) -> Cli {
        Cli { tool, page }
    }

    /// The whole run of a tool: `run` does the work and returns the exit
    /// status; an error is reported as one line.
    ///
    /// A reader that goes away (`… | head -1`) ends the tool quietly, as it
    /// ends `cat`: SIGPIPE gets back the default action Rust's runtime took
    /// away, so no write can fail with a broken pipe and panic. A tool that
    /// needs to see EPIPE instead (nsrun, from its hand-off pipe) says so
    /// itself.
    pub fn main(&self, run: fn() -> Result<u8, Error>) -> ExitCode {
        self.tool
            .report(nsnet::process::restore_sigpipe().and_then(|()| run()))
    }

    /// Parses this process's command line; see [`Cli::parse_from`].
    pub fn parse<T: clap::Parser>(&self) -> Result<Option<T>, Error> {
        self.parse_from(std::env::args_os())
    }

    /// Parses `args` with clap. `--help`, `--version` and `--generate KIND`
    /// print and give `None`: the run is over, successfully. Any other
    /// clap error becomes one usage line naming the problem.
    pub fn parse_from<T, I, S>(&self, args: I) -> Result<Option<T>, Error>
    where
        T: clap::Parser,
        I: IntoIterator<Item = S>,
        S: Into<OsString> + Clone,
    {
        let mut matches = match self.command::<T>().try_get_matches_from(args) {
            Ok(matches) => matches,
            Err(e) => return self.clap_error::<T>(e).map(|()| None),
        };
        if let Some(kind) = matches.get_one::<Generate>(GENERATE).copied() {
            if matches.subcommand().is_some() {
                return Err(self.usage("--generate stands alone"));
            }
            self.generate::<T>(kind, &mut std::io::stdout().lock())?;
            return Ok(None);
        }
        match T::from_arg_matches_mut(&mut matches) {
            Ok(args) => Ok(Some(args)),
            Err(e) => self.clap_error::<T>(e).map(|()| None),
        }
    }

    /// The tool's clap command with `--generate`, which stands alone: it
    /// needs none of the operands or the subcommand a run needs.
    pub fn command<T: CommandFactory>(&self) -> clap::Command {
        let generate = Arg::new(GENERATE)
            .long(GENERATE)
            .value_name("KIND")
            .value_parser(clap::builder::EnumValueParser::<Generate>::new())
            .exclusive(true)
            .hide(true)
            .help("Print the man page or a completion script, and exit");
        let command = T::command().arg(generate);
        if command.has_subcommands() {
            // Checked after the parse, unless --generate was given.
            command.subcommand_required(false)
        } else {
            command
        }
    }

    /// Writes what `kind` asks for to `out`.
    pub fn generate<T: CommandFactory>(
        &self,
        kind: Generate,
        out: &mut dyn Write,
    ) -> Result<(), Error> {
        let mut command = T::command();
        let shell = match kind {
            Generate::Man => {
                let page = man::page(&command, self.page)?;
                return out
                    .write_all(page.as_bytes())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::io("cannot write the man page", &e));
            }
            Generate::CompleteBash => clap_complete::Shell::Bash,
            Generate::CompleteZsh => clap_complete::Shell::Zsh,
            Generate::CompleteFish => clap_complete::Shell::Fish,
        };
        let mut script = Vec::new();
        clap_complete::generate(shell, &mut command, self.tool.name, &mut script);
        out.write_all(&script)
            .and_then(|()| out.flush())
            .map_err(|e| Error::io("cannot write the completion script", &e))
    }

    fn usage(&self, what: impl std::fmt::Display) -> Error {
        Error::usage(format!("{what} (try '{} --help')", self.tool.name))
    }

    /// `--help` and `--version` are printed (a reader that went away is
    /// no error then); any other clap error is one usage line.
    fn clap_error<T: CommandFactory>(&self, e: clap::Error) -> Result<(), Error> {
        use clap::error::ErrorKind;
        match e.kind() {
            ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => {
                let _ = e.print();
                Ok(())
            }
            // clap's answer to a missing subcommand is the whole help
            // text, whose first line is the tool's description.
            ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand | ErrorKind::MissingSubcommand => {
                Err(self.usage(nothing_given::<T>()))
            }
            _ => Err(self.usage(clap_first_line(&e))),
        }
    }
}

/// What a command line with no arguments lacks: the subcommand, named
/// with its choices.
fn nothing_given<T: CommandFactory>() -> String {
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

/// Whether the words of a command line include `--generate` (alone or as
/// `--generate=KIND`): for a tool that looks at its words before clap does.
pub fn asks_generate(words: &[OsString]) -> bool {
    words.iter().any(|w| {
        w.to_str()
            .is_some_and(|w| w == "--generate" || w.strip_prefix("--generate=").is_some())
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;
    use nsnet::Kind;

    const VETHUP: Cli = Cli::new(
        Tool::admin("vethup"),
        ".TH T 1\n.SH NAME\n.SH SYNOPSIS\n.SH OPTIONS\n",
    );

    #[derive(Parser, Debug)]
    #[command(name = "t", version, about = "Test a thing")]
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

    #[test]
    fn generate_stands_alone_without_operands_or_subcommand() {
        let matches = VETHUP
            .command::<Args>()
            .try_get_matches_from(["t", "--generate", "complete-zsh"])
            .unwrap();
        assert_eq!(
            matches.get_one::<Generate>(GENERATE),
            Some(&Generate::CompleteZsh)
        );
        let matches = VETHUP
            .command::<Sub>()
            .try_get_matches_from(["t", "--generate=man"])
            .unwrap();
        assert_eq!(matches.subcommand_name(), None);
        let e = VETHUP
            .parse_from::<Args, _, _>(["t", "--generate", "man", "x"])
            .unwrap_err();
        assert_eq!(e.kind(), Kind::Usage);
        assert!(e.message().contains("cannot be used with"), "{e}");
        let e = VETHUP
            .parse_from::<Sub, _, _>(["t", "--generate", "man", "list"])
            .unwrap_err();
        assert_eq!(e.message(), "--generate stands alone (try 'vethup --help')");
        let e = VETHUP
            .parse_from::<Args, _, _>(["t", "--generate", "tcsh"])
            .unwrap_err();
        assert!(e.message().contains("'tcsh'"), "{e}");
    }

    #[test]
    fn generate_prints_a_page_or_a_script() {
        let mut out = Vec::new();
        VETHUP.generate::<Args>(Generate::Man, &mut out).unwrap();
        let page = String::from_utf8(out).unwrap();
        assert!(page.contains(".SH NAME\nt \\- test a thing\n"), "{page}");
        for (kind, mark) in [
            (Generate::CompleteBash, "complete -F _vethup"),
            (Generate::CompleteZsh, "#compdef vethup"),
            (Generate::CompleteFish, "complete -c vethup"),
        ] {
            let mut out = Vec::new();
            VETHUP.generate::<Args>(kind, &mut out).unwrap();
            assert!(String::from_utf8(out).unwrap().contains(mark), "{kind:?}");
        }
    }

    #[test]
    fn generate_is_seen_among_the_words() {
        let words = |w: &[&str]| w.iter().map(OsString::from).collect::<Vec<_>>();
        assert!(asks_generate(&words(&["--generate", "man"])));
        assert!(asks_generate(&words(&["--generate=man"])));
        assert!(!asks_generate(&words(&["--generated", "--", "--x"])));
    }
}
