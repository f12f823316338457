//! The external programs a plan runs (`nft`, `iptables` and their kin;
//! links, addresses and routes need none, see [`crate::netlink`]): finds
//! each with `which`, runs it with `duct`, feeds batch input on stdin
//! (input, output and error through anonymous files, so no thread is
//! needed), turns a failure into words, and prints instead of running in
//! dry-run mode. Hooks and the commands the wrappers run are started by
//! [`crate::process`].

use crate::error::{may_suggest_root, Error};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// An external program and the Debian package that provides it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Program {
    pub name: &'static str,
    pub package: &'static str,
}

pub const NFT: Program = Program::new("nft", "nftables");
pub const IPTABLES: Program = Program::new("iptables", "iptables");
pub const IPTABLES_SAVE: Program = Program::new("iptables-save", "iptables");
pub const IPTABLES_RESTORE: Program = Program::new("iptables-restore", "iptables");
pub const IP6TABLES: Program = Program::new("ip6tables", "iptables");
pub const IP6TABLES_SAVE: Program = Program::new("ip6tables-save", "iptables");
pub const IP6TABLES_RESTORE: Program = Program::new("ip6tables-restore", "iptables");

impl Program {
    pub const fn new(name: &'static str, package: &'static str) -> Self {
        Program { name, package }
    }

    /// The program's path on PATH, or an error naming the package to install.
    pub fn find(&self) -> Result<PathBuf, Error> {
        which::which(self.name).map_err(|_| {
            Error::failed(format!(
                "cannot run {}: not found (install the {} package)",
                self.name, self.package
            ))
        })
    }

    pub fn is_installed(&self) -> bool {
        self.find().is_ok()
    }
}

/// One invocation of a program: its arguments and, for batch modes
/// (`nft -f -`, `iptables-restore`), its input.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Command {
    pub program: Program,
    pub args: Vec<String>,
    pub stdin: Option<String>,
}

/// What a finished program left: its status, stdout and stderr.
#[derive(Debug, Clone)]
pub struct Output {
    pub success: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Command {
    pub fn new<I, S>(program: Program, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Command {
            program,
            args: args.into_iter().map(Into::into).collect(),
            stdin: None,
        }
    }

    pub fn with_stdin(mut self, input: impl Into<String>) -> Self {
        self.stdin = Some(input.into());
        self
    }

    /// Runs the program and returns what it left, failed or not; only a
    /// program that cannot be started is an error here.
    ///
    /// Its input, output and error are anonymous files (memfd), not pipes:
    /// with pipes duct would start a thread to feed the input and one to
    /// drain each output, and nft, which writes a listing one token per
    /// write(2), would wake the reader once per token of a large rule set.
    /// Files need neither: the program runs to its end and what it wrote is
    /// read afterwards.
    pub fn output(&self) -> Result<Output, Error> {
        let path = self.program.find()?;
        let expr = duct::cmd(path, &self.args);
        let stdin = self.stdin.as_ref().map(String::as_bytes);
        let (success, stdout, stderr) = run_files(expr, self.program.name, stdin, true)?;
        Ok(Output {
            success,
            stdout,
            stderr,
        })
    }

    /// Runs the program; a non-zero exit is an error naming the program and
    /// its words. Returns stdout.
    pub fn run(&self) -> Result<String, Error> {
        let out = self.output()?;
        if out.success {
            Ok(out.stdout)
        } else {
            Err(Error::failed(format!(
                "{}: {}",
                self.program.name,
                plain_words(&out.stderr)
            )))
        }
    }

    /// The invocation as shell text: arguments quoted, batch input as a
    /// here-document. Piping it to `sh` does what [`Command::run`] does.
    pub fn to_shell(&self) -> String {
        let mut text = String::from(self.program.name);
        for arg in &self.args {
            text.push(' ');
            text.push_str(&shell_quote(arg));
        }
        if let Some(input) = &self.stdin {
            let _ = write!(text, " <<'EOF'\n{input}");
            if !input.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("EOF");
        }
        text
    }
}

/// Runs `expr` to its end with its input, output and (when `capture_err`)
/// error in anonymous files (see [`Command::output`] for why not pipes),
/// and returns its success, stdout and stderr (empty when not captured: it
/// then goes to our own stderr).
fn run_files(
    expr: duct::Expression,
    name: &str,
    stdin: Option<&[u8]>,
    capture_err: bool,
) -> Result<(bool, String, String), Error> {
    use std::io::{Read, Seek, Write};
    let cannot = |e: std::io::Error| Error::io(format!("cannot run {name}"), &e);
    let memfd = || -> Result<std::fs::File, Error> {
        nix::sys::memfd::memfd_create(name, nix::sys::memfd::MFdFlags::MFD_CLOEXEC)
            .map(std::fs::File::from)
            .map_err(|e| cannot(e.into()))
    };
    let mut expr = expr.unchecked();
    expr = match stdin {
        Some(input) => {
            let mut file = memfd()?;
            file.write_all(input)
                .and_then(|()| file.rewind())
                .map_err(cannot)?;
            expr.stdin_file(file)
        }
        None => expr.stdin_null(),
    };
    let (mut stdout, mut stderr) = (memfd()?, memfd()?);
    expr = expr.stdout_file(stdout.try_clone().map_err(cannot)?);
    if capture_err {
        expr = expr.stderr_file(stderr.try_clone().map_err(cannot)?);
    }
    let status = expr.run().map_err(cannot)?.status;
    let read = |file: &mut std::fs::File| -> Result<String, Error> {
        let mut text = Vec::new();
        file.rewind()
            .and_then(|()| file.read_to_end(&mut text))
            .map_err(cannot)?;
        Ok(String::from_utf8_lossy(&text).into_owned())
    };
    Ok((status.success(), read(&mut stdout)?, read(&mut stderr)?))
}

/// Runs a CNI plugin as its caller's delegate (the CNI specification's
/// section 4): the program at `path` gets this process's environment with
/// each of `env` set (or removed, for `None`) and `stdin` as its input; its
/// stderr is ours. Returns its success and stdout (a result or an error,
/// in JSON); only a program that cannot be started is an error here.
pub fn delegate(path: &Path, env: &[(&str, Option<&str>)], stdin: &[u8]) -> Result<Output, Error> {
    let mut expr = duct::cmd(path, std::iter::empty::<&str>());
    for (key, value) in env {
        expr = match value {
            Some(value) => expr.env(key, value),
            None => expr.env_remove(key),
        };
    }
    let name = path
        .file_name()
        .map_or_else(|| path.to_string_lossy(), |n| n.to_string_lossy());
    let (success, stdout, _) = run_files(expr, &name, Some(stdin), false)?;
    Ok(Output {
        success,
        stdout,
        stderr: String::new(),
    })
}

/// Whether commands are run or printed (`--dry-run`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Run,
    DryRun,
}

impl Mode {
    pub fn from_dry_run(dry_run: bool) -> Self {
        if dry_run {
            Mode::DryRun
        } else {
            Mode::Run
        }
    }

    /// Runs the command, or prints it on stdout and returns empty output.
    pub fn run(self, command: &Command) -> Result<String, Error> {
        use std::io::Write;
        match self {
            Mode::Run => command.run(),
            Mode::DryRun => {
                let mut out = std::io::stdout().lock();
                writeln!(out, "{}", command.to_shell())
                    .and_then(|()| out.flush())
                    .map_err(|e| Error::io("cannot print the plan", &e))?;
                Ok(String::new())
            }
        }
    }
}

/// Quotes a word for the POSIX shell when it needs it.
pub fn shell_quote(word: &str) -> String {
    let safe = !word.is_empty()
        && word
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_@%+=:,./-".contains(&b));
    if safe {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Rewrites a program's stderr into one line of plain words: the kernel's
/// `RTNETLINK answers: File exists` becomes `already exists`, permission
/// errors get a hint (to run as root only for those who are not), and
/// batch bookkeeping lines are dropped. A program's words are all there is
/// to go on here: it passes on no errno.
pub fn plain_words(stderr: &str) -> String {
    let lines: Vec<&str> = stderr
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("Command failed"))
        .collect();
    if lines.is_empty() {
        return "failed without saying why".to_string();
    }
    let text = lines.join("; ");
    // iptables' own "(you must be root)" would tell root to be root; the
    // hint below replaces it for those who are not.
    let text = text
        .replace("RTNETLINK answers: ", "")
        .replace("Error: ", "")
        .replace(" (you must be root)", "");
    let lower = text.to_lowercase();
    let words = if lower.contains("file exists") {
        "already exists".to_string()
    } else if (lower.contains("operation not permitted") || lower.contains("permission denied"))
        && may_suggest_root()
    {
        format!(
            "{} (run as root or with CAP_NET_ADMIN)",
            text.trim_end_matches('.')
        )
    } else {
        text
    };
    words.trim_end_matches('.').to_string()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    #[test]
    fn missing_program_names_its_package() {
        let ghost = Program {
            name: "nsnet-no-such-program",
            package: "nsnet-ghost",
        };
        assert_eq!(
            ghost.find().unwrap_err().to_string(),
            "cannot run nsnet-no-such-program: not found (install the nsnet-ghost package)"
        );
        let e = Command::new(ghost, ["x"]).run().unwrap_err();
        assert!(e.to_string().contains("install the nsnet-ghost package"));
    }

    #[test]
    fn shell_text_quotes_and_uses_a_here_document() {
        let c = Command::new(NFT, ["add", "table", "a b", "it's"]);
        assert_eq!(c.to_shell(), r"nft add table 'a b' 'it'\''s'");
        let c = Command::new(NFT, ["-f", "-"]).with_stdin("add table ip nsnet\n");
        assert_eq!(c.to_shell(), "nft -f - <<'EOF'\nadd table ip nsnet\nEOF");
        assert_eq!(shell_quote(""), "''");
        assert_eq!(shell_quote("10.0.0.1/24"), "10.0.0.1/24");
    }

    #[test]
    fn kernel_phrases_become_plain_words() {
        assert_eq!(
            plain_words("RTNETLINK answers: File exists\nCommand failed -:2\n"),
            "already exists"
        );
        let hint = if may_suggest_root() {
            " (run as root or with CAP_NET_ADMIN)"
        } else {
            ""
        };
        assert_eq!(
            plain_words("RTNETLINK answers: Operation not permitted\n"),
            format!("Operation not permitted{hint}")
        );
        assert_eq!(
            plain_words("iptables-save: Permission denied (you must be root)\n"),
            format!("iptables-save: Permission denied{hint}")
        );
        assert_eq!(plain_words(""), "failed without saying why");
        assert_eq!(
            plain_words("Error: argument \"x\" is wrong.\n"),
            "argument \"x\" is wrong"
        );
    }

    #[test]
    fn output_keeps_stdout_stderr_and_the_failure() {
        let sh = Program {
            name: "sh",
            package: "dash",
        };
        let c =
            Command::new(sh, ["-c", "cat; echo two; echo oops >&2; exit 3"]).with_stdin("one\n");
        let out = c.output().unwrap();
        assert!(!out.success);
        assert_eq!(out.stdout, "one\ntwo\n");
        assert_eq!(out.stderr, "oops\n");
    }

    /// Writes an executable script at `path` from a process of its own:
    /// were this process to hold the file open for writing, a child that
    /// another test forks meanwhile would inherit that descriptor until it
    /// execs, and running the script would fail with ETXTBSY.
    pub(crate) fn write_script(path: &std::path::Path, text: &str) {
        let out = duct::cmd!("sh", "-c", "cat > \"$0\" && chmod 755 \"$0\"", path)
            .stdin_bytes(text)
            .unchecked()
            .run()
            .unwrap();
        assert!(out.status.success(), "cannot write {}", path.display());
    }

    #[test]
    fn a_delegate_gets_our_environment_with_changes_and_its_input() {
        let dir = std::env::temp_dir().join(format!("nsnet-delegate-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let plugin = dir.join("plugin");
        write_script(
            &plugin,
            "#!/bin/sh\nread -r line\n\
             printf '%s|%s|%s|%s\\n' \"$CNI_COMMAND\" \"${HOME-unset}\" \"${PATH:+path}\" \"$line\"\n\
             echo said >&2\nexit 3\n",
        );
        let out = delegate(
            &plugin,
            &[("CNI_COMMAND", Some("DEL")), ("HOME", None)],
            b"input\n",
        )
        .unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(!out.success);
        assert_eq!(out.stdout, "DEL|unset|path|input\n");
        assert_eq!(out.stderr, "", "a delegate's stderr is ours, not captured");
    }

    #[test]
    fn runs_a_real_program_with_stdin() {
        let cat = Program {
            name: "cat",
            package: "coreutils",
        };
        let out = Command::new(cat, ["-"])
            .with_stdin("hello\n")
            .run()
            .unwrap();
        assert_eq!(out, "hello\n");
        let sh = Program {
            name: "sh",
            package: "dash",
        };
        let e = Command::new(
            sh,
            ["-c", "echo 'RTNETLINK answers: File exists' >&2; exit 2"],
        )
        .run()
        .unwrap_err();
        assert_eq!(e.to_string(), "sh: already exists");
    }
}
