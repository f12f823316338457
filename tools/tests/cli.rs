//! The tools' command lines against their man pages: the committed pages
//! are what the tools generate; every long option of `--help` is in the
//! page's SYNOPSIS and OPTIONS and the other way round; the pages pass
//! `mandoc -Tlint`; `--version` answers; `--generate` makes completion
//! scripts, and nothing in the environment changes what a tool does.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

fn tool(name: &str) -> Command {
    Command::new(nsnet_lab::bin(name))
}

/// Every `--help` a tool has: its own, and each subcommand's (natctl's
/// options live on its subcommands), found in the `Commands:` list.
fn helps(name: &str) -> Vec<Vec<String>> {
    let out = tool(name).arg("--help").output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout).to_string();
    let mut helps = vec![vec!["--help".to_string()]];
    let commands = text
        .lines()
        .skip_while(|l| !l.starts_with("Commands:"))
        .skip(1)
        .take_while(|l| l.starts_with("  "));
    for line in commands {
        let sub = line.split_whitespace().next().unwrap_or_default();
        if sub != "help" {
            helps.push(vec![sub.to_string(), "--help".to_string()]);
        }
    }
    helps
}

fn long_options(text: &str) -> BTreeSet<String> {
    let bytes = text.as_bytes();
    let mut found = BTreeSet::new();
    let mut i = 0;
    while i + 2 < bytes.len() {
        let starts = bytes[i] == b'-'
            && bytes[i + 1] == b'-'
            && (i == 0 || !(bytes[i - 1].is_ascii_alphanumeric() || bytes[i - 1] == b'-'))
            && bytes[i + 2].is_ascii_lowercase();
        if starts {
            let end = bytes[i + 2..]
                .iter()
                .position(|b| !(b.is_ascii_lowercase() || b.is_ascii_digit() || *b == b'-'))
                .map_or(bytes.len(), |p| i + 2 + p);
            found.insert(text[i..end].trim_end_matches('-').to_string());
            i = end;
        } else {
            i += 1;
        }
    }
    found
}

/// The lines of a clap help that define options (`  -n, --name <X>`), not
/// prose or examples that mention other tools' options.
fn option_lines(help: &str) -> String {
    help.lines()
        .map(str::trim_start)
        .filter(|l| l.starts_with("--") || (l.starts_with('-') && l.get(2..4) == Some(", ")))
        .map(|l| l.split_whitespace().take(2).collect::<Vec<_>>().join(" ") + "\n")
        .collect()
}

fn man_page(tool: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../man")
        .join(format!("{tool}.1"))
}

/// The SYNOPSIS and OPTIONS sections, roff escapes and fonts removed.
fn man_synopsis_and_options(tool: &str) -> String {
    let page = std::fs::read_to_string(man_page(tool)).expect("the man page");
    let mut keep = false;
    let mut text = String::new();
    for line in page.lines() {
        if let Some(section) = line.strip_prefix(".SH ") {
            let section = section.trim_matches('"');
            keep = section == "SYNOPSIS" || section == "OPTIONS";
            continue;
        }
        if keep {
            text.push_str(line);
            text.push('\n');
        }
    }
    for font in ["\\fB", "\\fI", "\\fR", "\\fP", "\\&"] {
        text = text.replace(font, "");
    }
    text.replace("\\-", "-")
}

#[test]
fn committed_man_pages_are_what_the_tools_generate() {
    for name in nsnet_lab::tools() {
        let out = tool(&name).args(["--generate", "man"]).output().unwrap();
        assert!(
            out.status.success(),
            "{name} --generate man: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let generated = String::from_utf8(out.stdout).unwrap();
        let committed = std::fs::read_to_string(man_page(&name)).unwrap_or_default();
        if generated != committed {
            let (n, (old, new)) = committed
                .lines()
                .chain(std::iter::repeat("(end of file)"))
                .zip(generated.lines().chain(std::iter::repeat("(end of file)")))
                .enumerate()
                .find(|(_, (old, new))| old != new)
                .expect("a line that differs");
            panic!(
                "man/{name}.1 is not what `{name} --generate man` prints; run `just man` \
                 (line {}: committed {old:?}, generated {new:?})",
                n + 1
            );
        }
    }
}

#[test]
fn help_and_man_page_name_the_same_long_options() {
    for tool in nsnet_lab::tools() {
        let tool = tool.as_str();
        let mut text = String::new();
        for args in helps(tool) {
            let out = Command::new(nsnet_lab::bin(tool))
                .args(&args)
                .output()
                .unwrap();
            assert!(out.status.success(), "{tool} {args:?} failed");
            text.push_str(&option_lines(&String::from_utf8_lossy(&out.stdout)));
        }
        let help = long_options(&text);
        let man = long_options(&man_synopsis_and_options(tool));
        assert!(help.contains("--help"), "{tool}: {help:?}");
        let undocumented: Vec<_> = help.difference(&man).collect();
        let unknown: Vec<_> = man.difference(&help).collect();
        assert!(
            undocumented.is_empty() && unknown.is_empty(),
            "{tool}: in --help but not in man/{tool}.1: {undocumented:?}; \
             in man/{tool}.1 but not in --help: {unknown:?}"
        );
    }
}

#[test]
fn man_pages_pass_mandoc_lint_with_every_section() {
    for tool in nsnet_lab::tools() {
        let tool = tool.as_str();
        let out = Command::new("mandoc")
            .args(["-Tlint", "-W", "warning"])
            .arg(man_page(tool))
            .output()
            .expect("mandoc (run ./deps)");
        let said = String::from_utf8_lossy(&out.stdout).to_string()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && said.trim().is_empty(),
            "{tool}.1: {said}"
        );
        let page = std::fs::read_to_string(man_page(tool)).unwrap();
        for section in [
            "NAME",
            "SYNOPSIS",
            "DESCRIPTION",
            "OPTIONS",
            "EXIT STATUS",
            "ENVIRONMENT",
            "EXAMPLES",
            "NOTES",
            "SEE ALSO",
        ] {
            assert!(
                page.contains(&format!(".SH {section}\n"))
                    || page.contains(&format!(".SH \"{section}\"\n")),
                "{tool}.1 has no {section} section"
            );
        }
    }
}

#[test]
fn every_tool_answers_version() {
    for name in nsnet_lab::tools() {
        let out = tool(&name).arg("--version").output().unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{name} {}", env!("CARGO_PKG_VERSION"))
        );
    }
}

#[test]
fn long_options_are_found_in_text() {
    let found = long_options("use --dry-run or --if-exists; not x--y, and -- alone");
    assert_eq!(
        found.into_iter().collect::<Vec<_>>(),
        ["--dry-run", "--if-exists"]
    );
}

#[test]
fn every_tool_generates_completions_on_request_only() {
    for name in nsnet_lab::tools() {
        for (kind, mark) in [
            ("complete-bash", format!("complete -F _{name}")),
            ("complete-zsh", format!("#compdef {name}")),
            ("complete-fish", format!("complete -c {name}")),
        ] {
            let out = tool(&name).args(["--generate", kind]).output().unwrap();
            let script = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && script.contains(&mark),
                "{name} {kind}: {script}"
            );
        }
        let out = tool(&name).args(["--generate", "tcsh"]).output().unwrap();
        let said = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success() && out.stdout.is_empty(), "{name}");
        assert!(
            said.starts_with(&format!("{name}: ")) && said.contains("'tcsh'"),
            "{said}"
        );
    }
}

/// What used to switch every tool into printing a completion script, and
/// anything else a hook or a payload may inherit, changes nothing: a
/// usage error stays one, with nothing on stdout.
#[test]
fn the_environment_does_not_change_what_a_tool_does() {
    for name in nsnet_lab::tools() {
        let plain = tool(&name).arg("--no-such-option").output().unwrap();
        let inherited = tool(&name)
            .arg("--no-such-option")
            .env("NSNET_COMPLETIONS", "bash")
            .env("NSNET_GENERATE", "man")
            .env("COMPLETE", "bash")
            .output()
            .unwrap();
        assert_eq!(plain.status.code(), inherited.status.code(), "{name}");
        assert_eq!(plain.stderr, inherited.stderr, "{name}");
        assert!(inherited.stdout.is_empty(), "{name} printed something");
        assert!(!inherited.status.success(), "{name}");
    }
}

/// The lab puts the tools of `cargo test`'s own build first on PATH: the
/// binaries a test runs by name are the ones cargo just built, never stale.
#[test]
fn the_lab_runs_the_binaries_cargo_built_for_this_test() {
    for (tool, built) in [
        ("nsrun", env!("CARGO_BIN_EXE_nsrun")),
        ("vethup", env!("CARGO_BIN_EXE_vethup")),
        ("vethdown", env!("CARGO_BIN_EXE_vethdown")),
        ("netinit", env!("CARGO_BIN_EXE_netinit")),
        ("natctl", env!("CARGO_BIN_EXE_natctl")),
        ("netcheck", env!("CARGO_BIN_EXE_netcheck")),
        ("nsnet", env!("CARGO_BIN_EXE_nsnet")),
    ] {
        assert_eq!(nsnet_lab::bin(tool), PathBuf::from(built), "{tool}");
    }
}
