//! Man pages that cannot drift from the command lines they describe.
//!
//! A page is made of two sources. The tool's clap definition gives the
//! NAME line (from its `about`), the SYNOPSIS, and the list of OPTIONS
//! (each option's heading rendered by clap_mangen). The hand-written
//! `man/src/TOOL.1` gives everything else: the `.TH` line, DESCRIPTION,
//! EXIT STATUS, ENVIRONMENT, FILES, EXAMPLES, NOTES, SEE ALSO, and the
//! text of each option, which follows a `.\" option --NAME` line in its
//! OPTIONS section. `TOOL --generate man` prints the merged page; `just
//! man` writes it to `man/TOOL.1`; a test fails when the two differ.
//!
//! In the source, the NAME and SYNOPSIS sections stay empty (their place
//! is kept), and in OPTIONS text before the first `.\" option` line comes
//! before the list and text after `.\" after the options` after it. An
//! option the source describes but the tool does not have is an error; an
//! option the source does not describe gets its `--help` text.

use clap::{Arg, ArgAction, Command};
use nsnet::Error;
use std::collections::{BTreeMap, BTreeSet};

/// The line in a source's OPTIONS section that starts an option's text.
const OPTION_MARK: &str = ".\\\" option ";
/// The line after which the rest of the OPTIONS section follows the list.
const AFTER_MARK: &str = ".\\\" after the options";

/// The merged page of `cmd`, whose hand-written parts are `source`.
pub fn page(cmd: &Command, source: &str) -> Result<String, Error> {
    let mut cmd = cmd.clone();
    cmd.build();
    let name = cmd.get_name().to_string();
    let bad = |why: String| Error::failed(format!("man/src/{name}.1: {why}"));
    let mut out = format!(
        ".\\\" Made by `{name} --generate man` from man/src/{name}.1 and {name}'s command\n\
         .\\\" line; edit those, then run `just man`.\n"
    );
    let mut lines = source
        .lines()
        .skip_while(|l| l.starts_with(".\\\""))
        .peekable();
    let mut done = BTreeSet::new();
    while let Some(line) = lines.next() {
        let Some(section) = line.strip_prefix(".SH ") else {
            out.push_str(line);
            out.push('\n');
            continue;
        };
        let section = section.trim_matches('"');
        out.push_str(line);
        out.push('\n');
        if !["NAME", "SYNOPSIS", "OPTIONS"].contains(&section) {
            continue;
        }
        let mut body = Vec::new();
        while let Some(next) = lines.next_if(|l| !l.starts_with(".SH ")) {
            body.push(next);
        }
        match section {
            "OPTIONS" => out.push_str(&options(&cmd, &body).map_err(bad)?),
            _ if body.iter().any(|l| !l.starts_with(".\\\"")) => {
                return Err(bad(format!(
                    "write nothing under {section}: it is made from the command line"
                )))
            }
            "NAME" => out.push_str(&name_line(&cmd)),
            _ => out.push_str(&synopsis(&cmd)),
        }
        done.insert(section);
    }
    for section in ["NAME", "SYNOPSIS", "OPTIONS"] {
        if !done.contains(section) {
            return Err(bad(format!("it has no {section} section")));
        }
    }
    Ok(out)
}

/// `nsrun \- run a command in new namespaces…`, from the `about` text.
fn name_line(cmd: &Command) -> String {
    let about = cmd.get_about().map(|a| a.to_string()).unwrap_or_default();
    let mut chars = about.chars();
    // "Run a command" reads "run a command"; "NAT so…" stays as it is.
    let about = match (chars.next(), chars.next()) {
        (Some(first), Some(second)) if !second.is_uppercase() => {
            first.to_lowercase().chain(about.chars().skip(1)).collect()
        }
        _ => about,
    };
    format!("{} \\- {}\n", escape(cmd.get_name()), escape(&about))
}

/// One usage line per subcommand (or one for the tool), then the line of
/// `--help` and `--version`. A tool with no arguments of its own, whose
/// usage clap cannot derive (the CNI plugin's command line is its
/// environment), states it once as clap's `override_usage`, and its
/// `--help` and page both show it.
fn synopsis(cmd: &Command) -> String {
    let mut lines = Vec::new();
    let subcommands: Vec<&Command> = cmd
        .get_subcommands()
        .filter(|s| !s.is_hide_set() && s.get_name() != "help")
        .collect();
    let own = cmd.get_arguments().any(|a| !is_info(a) && !a.is_hide_set());
    if let Some(stated) = cmd.get_overridden_usage().filter(|_| !own) {
        lines.push(stated_usage(cmd.get_name(), &stated.to_string()));
    } else if subcommands.is_empty() {
        lines.push(usage(cmd.get_name(), cmd));
    }
    for sub in subcommands {
        lines.push(usage(
            &format!("{} {}", cmd.get_name(), sub.get_name()),
            sub,
        ));
    }
    let info: Vec<String> = [("help", "\\-\\-help"), ("version", "\\-\\-version")]
        .into_iter()
        .filter(|(id, _)| cmd.get_arguments().any(|a| a.get_id() == *id))
        .map(|(_, flag)| flag.to_string())
        .collect();
    if !info.is_empty() {
        lines.push(format!(
            ".B {}\n.BR {}\n",
            escape(cmd.get_name()),
            info.join(" | ")
        ));
    }
    lines.join(".br\n")
}

/// A usage stated in words: the tool's name bold, the variable of a
/// `VAR=VALUE` word bold, a word in capitals (a value to give) italic,
/// every other word as it is.
fn stated_usage(name: &str, text: &str) -> String {
    let mut roff = String::new();
    for word in text.split_whitespace() {
        let placeholder = word.bytes().all(|b| b.is_ascii_uppercase() || b == b'_');
        roff += &match word.split_once('=') {
            _ if word == name => format!(".B {}\n", escape(word)),
            Some((var, value)) => format!(".BI {}= {}\n", escape(var), escape(value)),
            None if placeholder => format!(".I {}\n", escape(word)),
            None => format!("\\&{}\n", escape(word)),
        };
    }
    roff
}

/// `NAME [--opt VALUE]... [--flag] OPERAND...` as roff, one word a line.
fn usage(name: &str, cmd: &Command) -> String {
    let mut text = format!(".B {}\n", escape(name));
    for arg in cmd.get_arguments() {
        let Some(long) = arg.get_long() else { continue };
        if arg.is_positional() || arg.is_hide_set() || is_info(arg) {
            continue;
        }
        let flag = escape(&format!("--{long}"));
        let again = if is_repeated(arg) { "...\\&" } else { "" };
        let values: Vec<String> = possible_values(arg).iter().map(|v| escape(v)).collect();
        if !takes_value(arg) {
            text += &format!(".RB [ {flag} ]{again}\n");
        } else if !values.is_empty() {
            text += &format!(".RB [ {flag}\n.BR {} ]{again}\n", values.join(" | "));
        } else {
            text += &format!(".RB [ {flag}\n.IR \\%{} ]{again}\n", value_name(arg));
        }
    }
    for arg in cmd.get_positionals() {
        // \% keeps a name from being hyphenated at the end of a line.
        let value = format!("\\%{}", value_name(arg));
        let command = arg.is_last_set() || arg.is_trailing_var_arg_set();
        if arg.is_last_set() {
            text += ".B \\-\\-\n";
        } else if arg.is_trailing_var_arg_set() {
            text += ".RB [ \\-\\- ]\n";
        }
        text += &match (command, arg.is_required_set(), is_repeated(arg)) {
            // What follows is a command with its own arguments.
            (true, _, _) => format!(".I {value}\n.RI [ ARG ]...\\&\n"),
            (false, true, true) => format!(".IR {value} ...\\&\n"),
            (false, true, false) => format!(".I {value}\n"),
            (false, false, true) => format!(".RI [ {value} ]...\\&\n"),
            (false, false, false) => format!(".RI [ {value} ]\n"),
        };
    }
    text
}

/// The OPTIONS list, rendered by clap_mangen from every option of the tool
/// and of its subcommands (each once), with the hand-written text of each.
fn options(cmd: &Command, source: &[&str]) -> Result<String, String> {
    let texts = OptionTexts::parse(source)?;
    let mut args: Vec<&Arg> = Vec::new();
    let mut seen = BTreeSet::new();
    for command in std::iter::once(cmd).chain(cmd.get_subcommands()) {
        for arg in command.get_arguments() {
            let Some(long) = arg.get_long() else { continue };
            if !arg.is_positional() && !arg.is_hide_set() && seen.insert(long) {
                args.push(arg);
            }
        }
    }
    // The tool's own options first, --help and --version last.
    args.sort_by_key(|a| is_info(a));
    for long in texts.by_option.keys() {
        if !seen.contains(long.as_str()) {
            return Err(format!(
                "it describes --{long}, which {} does not have",
                cmd.get_name()
            ));
        }
    }
    let mut list = Command::new(cmd.get_name().to_string())
        .disable_help_flag(true)
        .disable_version_flag(true);
    let mut marks = Vec::new();
    for (order, arg) in args.into_iter().enumerate() {
        let mut arg = listed(arg).display_order(order);
        if let Some(text) = texts.by_option.get(arg.get_long().unwrap_or_default()) {
            // A word the roff writer leaves alone, replaced below.
            let mark = format!("NSNETOPTIONTEXT{}", marks.len());
            arg = arg.long_help(mark.clone());
            marks.push((mark, text.clone()));
        }
        list = list.arg(arg);
    }
    let mut roff = Vec::new();
    clap_mangen::Man::new(list)
        .render_options_section(&mut roff)
        .map_err(|e| format!("cannot render the options: {e}"))?;
    let roff = String::from_utf8_lossy(&roff);
    // The roff writer's definition of \*(Aq, its apostrophe, stays only
    // where a help text needs it.
    let keep_aq = roff.contains("\\*(Aq");
    let mut text = texts.before.clone();
    for line in roff.lines() {
        let aq = line.starts_with(".ie ") || line.starts_with(".el ");
        if line.starts_with(".SH ") || (aq && !keep_aq) {
            continue;
        }
        match marks.iter().find(|(mark, _)| mark == line) {
            Some((_, body)) => text.push_str(body),
            None => {
                text.push_str(line.trim_end());
                text.push('\n');
            }
        }
    }
    text.push_str(&texts.after);
    Ok(text)
}

/// What the OPTIONS list shows of an option: its names, value, default
/// and help, without its ties to other arguments (those may be operands
/// or belong to another subcommand, and are not listed). Choices are
/// shown as the value: `--backend <auto|nft|iptables>`.
fn listed(arg: &Arg) -> Arg {
    let mut new = Arg::new(arg.get_id().clone())
        .long(arg.get_long().unwrap_or_default().to_string())
        .action(if takes_value(arg) {
            ArgAction::Set
        } else {
            ArgAction::SetTrue
        });
    if let Some(short) = arg.get_short() {
        new = new.short(short);
    }
    let values = possible_values(arg);
    if !values.is_empty() {
        new = new.value_name(values.join("|"));
    } else if let Some(names) = arg.get_value_names() {
        new = new.value_names(names.to_vec());
    }
    if !arg.is_hide_default_value_set() {
        new = new.default_values(arg.get_default_values().to_vec());
    }
    if let Some(help) = arg.get_help() {
        new = new.help(help.clone());
    }
    if let Some(help) = arg.get_long_help() {
        new = new.long_help(help.clone());
    }
    new
}

/// The OPTIONS section of a source, split at its marks.
#[derive(Debug, Default)]
struct OptionTexts {
    before: String,
    by_option: BTreeMap<String, String>,
    after: String,
}

impl OptionTexts {
    fn parse(lines: &[&str]) -> Result<OptionTexts, String> {
        let mut texts = OptionTexts::default();
        let mut current: Option<String> = None;
        let mut after = false;
        for line in lines {
            if let Some(option) = line.strip_prefix(OPTION_MARK) {
                let long = option.trim().strip_prefix("--").ok_or_else(|| {
                    format!("'{line}' names no long option (write '{OPTION_MARK}--NAME')")
                })?;
                if texts
                    .by_option
                    .insert(long.to_string(), String::new())
                    .is_some()
                {
                    return Err(format!("it describes --{long} twice"));
                }
                current = Some(long.to_string());
                continue;
            }
            if *line == AFTER_MARK {
                after = true;
                current = None;
                continue;
            }
            let text = match (&current, after) {
                (_, true) => &mut texts.after,
                (Some(long), false) => texts.by_option.get_mut(long).expect("inserted above"),
                (None, false) => &mut texts.before,
            };
            text.push_str(line);
            text.push('\n');
        }
        Ok(texts)
    }
}

fn is_info(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Help | ArgAction::Version)
        || matches!(arg.get_id().as_str(), "help" | "version")
}

fn takes_value(arg: &Arg) -> bool {
    arg.get_num_args().is_some_and(|n| n.takes_values())
}

fn is_repeated(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append | ArgAction::Count)
}

/// The values an option's value is one of (a flag has none to show).
fn possible_values(arg: &Arg) -> Vec<String> {
    if !takes_value(arg) {
        return Vec::new();
    }
    arg.get_possible_values()
        .iter()
        .filter(|v| !v.is_hide_set())
        .map(|v| v.get_name().to_string())
        .collect()
}

fn value_name(arg: &Arg) -> String {
    match arg.get_value_names() {
        Some(names) if !names.is_empty() => escape(
            &names
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => escape(&arg.get_id().as_str().to_uppercase()),
    }
}

/// Text as roff reads it literally: backslashes and hyphens escaped.
fn escape(text: &str) -> String {
    text.replace('\\', "\\e").replace('-', "\\-")
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::{CommandFactory, Parser, Subcommand};

    /// Make a thing.
    #[derive(Parser, Debug)]
    #[command(name = "mk", version, about = "Make a thing from its parts")]
    struct Mk {
        /// An address (repeatable)
        #[arg(long, value_name = "CIDR")]
        addr: Vec<String>,
        /// Where it goes
        #[arg(long, value_parser = ["auto", "nft"])]
        backend: Option<String>,
        /// Print instead
        #[arg(long)]
        dry_run: bool,
        /// The name
        #[arg(value_name = "NAME")]
        name: String,
        /// The command
        #[arg(last = true, value_name = "COMMAND")]
        command: Vec<String>,
    }

    #[derive(Parser, Debug)]
    #[command(name = "ctl", version, about = "NAT for a subnet")]
    struct Ctl {
        #[command(subcommand)]
        command: Sub,
    }

    #[derive(Subcommand, Debug)]
    enum Sub {
        /// Add one
        Add {
            subnet: String,
            /// Print instead
            #[arg(long)]
            dry_run: bool,
        },
        /// Remove some
        Del {
            #[arg(required = true)]
            subnets: Vec<String>,
            /// Absent is fine
            #[arg(long)]
            if_exists: bool,
            /// Print instead
            #[arg(long)]
            dry_run: bool,
        },
    }

    const SOURCE: &str = ".\\\" hand-written parts\n\
        .TH MK 1\n.SH NAME\n.SH SYNOPSIS\n.SH DESCRIPTION\nIt makes.\n\
        .SH OPTIONS\n.\\\" option --addr\nAn \\fIaddress\\fR.\n.IP\nMore.\n\
        .\\\" after the options\n.PP\nNames are short.\n.SH SEE ALSO\n.BR ip (8)\n";

    #[test]
    fn a_page_is_the_source_with_the_command_line_merged_in() {
        let page = page(&Mk::command(), SOURCE).unwrap();
        assert!(
            page.starts_with(".\\\" Made by `mk --generate man`"),
            "{page}"
        );
        assert!(!page.contains("hand-written parts"), "{page}");
        assert!(page.contains(".SH NAME\nmk \\- make a thing from its parts\n"));
        assert!(page.contains(
            ".SH SYNOPSIS\n.B mk\n.RB [ \\-\\-addr\n.IR \\%CIDR ]...\\&\n\
             .RB [ \\-\\-backend\n.BR auto | nft ]\n.RB [ \\-\\-dry\\-run ]\n\
             .I \\%NAME\n.B \\-\\-\n.I \\%COMMAND\n.RI [ ARG ]...\\&\n\
             .br\n.B mk\n.BR \\-\\-help | \\-\\-version\n.SH DESCRIPTION\nIt makes.\n"
        ));
        // The hand-written text replaces the help; the rest keep theirs.
        assert!(page.contains("<CIDR>\\fR\nAn \\fIaddress\\fR.\n.IP\nMore.\n.TP\n"));
        assert!(!page.contains("An address (repeatable)"));
        assert!(page.contains("\\fI<auto|nft>\\fR\nWhere it goes\n"));
        assert!(page.contains("Print instead\n"));
        let help = page.find("\\-\\-help").unwrap();
        assert!(page[help..].contains(".PP\nNames are short.\n.SH SEE ALSO\n"));
        assert!(!page.contains("<NAME>"), "operands are not options: {page}");
    }

    #[test]
    fn subcommands_have_a_usage_line_each_and_share_the_option_list() {
        let source = ".TH CTL 1\n.SH NAME\n.SH SYNOPSIS\n.SH OPTIONS\n\
                      .\\\" option --if-exists\nWith del only.\n";
        let page = page(&Ctl::command(), source).unwrap();
        assert!(page.contains(
            ".SH SYNOPSIS\n.B ctl add\n.RB [ \\-\\-dry\\-run ]\n.I \\%SUBNET\n.br\n\
             .B ctl del\n.RB [ \\-\\-if\\-exists ]\n.RB [ \\-\\-dry\\-run ]\n\
             .IR \\%SUBNETS ...\\&\n.br\n.B ctl\n"
        ));
        assert_eq!(page.matches("\\fB\\-\\-dry\\-run\\fR").count(), 1, "{page}");
        assert!(page.contains("With del only.\n"));
        assert!(page.contains(".SH NAME\nctl \\- NAT for a subnet\n"));
    }

    /// A plugin run by its environment, as nsnet is.
    #[derive(Parser, Debug)]
    #[command(
        name = "plug",
        version,
        override_usage = "CNI_COMMAND=ADD|DEL CNI_IFNAME=NAME plug < CONFIG",
        about = "CNI plugin: a test"
    )]
    struct Plug {}

    #[test]
    fn a_stated_usage_is_the_synopsis() {
        let source = ".TH PLUG 1\n.SH NAME\n.SH SYNOPSIS\n.SH OPTIONS\n";
        let page = page(&Plug::command(), source).unwrap();
        assert!(
            page.contains(
                ".SH SYNOPSIS\n.BI CNI_COMMAND= ADD|DEL\n.BI CNI_IFNAME= NAME\n\
                 .B plug\n\\&<\n.I CONFIG\n.br\n.B plug\n.BR \\-\\-help | \\-\\-version\n"
            ),
            "{page}"
        );
        assert!(page.contains(".SH NAME\nplug \\- CNI plugin: a test\n"));
    }

    #[test]
    fn a_source_out_of_step_with_the_command_line_is_refused() {
        let stale = SOURCE.replace("--addr", "--address");
        let e = page(&Mk::command(), &stale).unwrap_err();
        assert_eq!(
            e.to_string(),
            "man/src/mk.1: it describes --address, which mk does not have"
        );
        let written = SOURCE.replace(".SH SYNOPSIS\n", ".SH SYNOPSIS\nmk [x]\n");
        assert!(page(&Mk::command(), &written)
            .unwrap_err()
            .to_string()
            .contains("write nothing under SYNOPSIS"));
        let missing = SOURCE.replace(".SH NAME\n", "");
        assert!(page(&Mk::command(), &missing)
            .unwrap_err()
            .to_string()
            .ends_with("it has no NAME section"));
    }
}
