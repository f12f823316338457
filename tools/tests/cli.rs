//! The tools' command lines against their man pages: every long option of
//! `--help` is documented in the man page's SYNOPSIS or OPTIONS and the other
//! way round; the pages pass `mandoc -Tlint`; `--version` answers.

use std::collections::BTreeSet;
use std::path::PathBuf;
use std::process::Command;

const TOOLS: [&str; 5] = ["nsrun", "vethup", "vethdown", "netinit", "natctl"];

/// Every `--help` a tool has: natctl's options live on its subcommands.
fn helps(tool: &str) -> Vec<Vec<&'static str>> {
    match tool {
        "natctl" => ["add", "del", "publish", "unpublish", "list", "gc", "flush"]
            .into_iter()
            .map(|sub| vec![sub, "--help"])
            .chain([vec!["--help"]])
            .collect(),
        _ => vec![vec!["--help"]],
    }
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
fn help_and_man_page_name_the_same_long_options() {
    for tool in TOOLS {
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
    for tool in TOOLS {
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
    for tool in TOOLS {
        let out = Command::new(nsnet_lab::bin(tool))
            .arg("--version")
            .output()
            .unwrap();
        assert!(out.status.success());
        assert_eq!(
            String::from_utf8_lossy(&out.stdout).trim(),
            format!("{tool} {}", env!("CARGO_PKG_VERSION"))
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
fn every_tool_prints_bash_and_zsh_completions() {
    for tool in TOOLS {
        for (shell, mark) in [
            ("bash", format!("complete -F _{tool}")),
            ("zsh", format!("#compdef {tool}")),
        ] {
            let out = Command::new(nsnet_lab::bin(tool))
                .env("NSNET_COMPLETIONS", shell)
                .output()
                .unwrap();
            let script = String::from_utf8_lossy(&out.stdout);
            assert!(
                out.status.success() && script.contains(&mark),
                "{tool} {shell}: {script}"
            );
        }
        let out = Command::new(nsnet_lab::bin(tool))
            .env("NSNET_COMPLETIONS", "tcsh")
            .output()
            .unwrap();
        assert!(!out.status.success());
        assert!(String::from_utf8_lossy(&out.stderr).contains("not a shell"));
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
    ] {
        assert_eq!(nsnet_lab::bin(tool), PathBuf::from(built), "{tool}");
    }
}
