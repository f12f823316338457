//! Plans of `ip` commands: what to do to links, addresses and routes, as
//! plain data. A plan is printed for `--dry-run`, compared in unit tests
//! without root, and executed in one `ip -batch -` process; when the kernel
//! refuses a step half-way, the steps already done are undone in reverse.

pub mod bridge;
pub mod inside;
pub mod state;
pub mod veth;

use crate::cidr::HostCidr;
use crate::error::Error;
use crate::run::{self, Command, Mode};

/// The ownership mark: the interface alias of every veth and bridge that
/// vethup creates, shown by `ip -d link` / `ip link` as `alias nsnet:vethup`.
/// vethdown decides by this mark, never by a name pattern.
pub const MARK: &str = "nsnet:vethup";

/// One `ip` command, what it means in words, and how to undo it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// The arguments after `ip`, e.g. `["link", "set", "veth0", "up"]`.
    pub args: Vec<String>,
    /// What the step does, for errors: `cannot <what>: <why>`.
    pub what: String,
    /// The arguments that undo it, when it creates something.
    pub undo: Option<Vec<String>>,
}

/// An ordered list of `ip` commands, all or nothing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Plan {
    steps: Vec<Step>,
}

fn words<I, S>(args: I) -> Vec<String>
where
    I: IntoIterator<Item = S>,
    S: Into<String>,
{
    args.into_iter().map(Into::into).collect()
}

impl Plan {
    pub fn new() -> Self {
        Plan::default()
    }

    /// Adds a step that needs no undo (it changes only what an earlier
    /// step created, or nothing lasting).
    pub fn step<I, S>(&mut self, what: impl Into<String>, args: I) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.steps.push(Step {
            args: words(args),
            what: what.into(),
            undo: None,
        });
        self
    }

    /// Adds a step that creates something, with the step that removes it.
    pub fn creates<I, S, J, T>(&mut self, what: impl Into<String>, args: I, undo: J) -> &mut Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
        J: IntoIterator<Item = T>,
        T: Into<String>,
    {
        self.steps.push(Step {
            args: words(args),
            what: what.into(),
            undo: Some(words(undo)),
        });
        self
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    pub fn is_empty(&self) -> bool {
        self.steps.is_empty()
    }

    /// The plan as a shell script, one `ip` command per line.
    pub fn script(&self) -> String {
        self.steps
            .iter()
            .map(|s| Command::new(run::IP, s.args.clone()).to_shell() + "\n")
            .collect()
    }

    fn batch(steps: &[&Vec<String>]) -> String {
        steps
            .iter()
            .map(|args| {
                let line: Vec<String> = args.iter().map(|a| batch_quote(a)).collect();
                line.join(" ") + "\n"
            })
            .collect()
    }

    /// Appends the steps of `other`, in order.
    pub fn extend(&mut self, other: Plan) -> &mut Self {
        self.steps.extend(other.steps);
        self
    }

    /// Runs the plan in one `ip -batch -`, or prints it in dry-run mode.
    /// On failure, undoes the steps that were done and says which step
    /// failed and why.
    pub fn execute(&self, mode: Mode) -> Result<(), Error> {
        if mode == Mode::DryRun {
            print!("{}", self.script());
            return Ok(());
        }
        self.try_execute().map_err(Error::from)
    }

    /// Runs the plan in one `ip -batch -`; on failure undoes the steps
    /// that were done and returns which step failed, so a caller can tell a
    /// lost race (`already exists`) from a real refusal and try again.
    pub fn try_execute(&self) -> Result<(), Failure> {
        if self.steps.is_empty() {
            return Ok(());
        }
        let all: Vec<&Vec<String>> = self.steps.iter().map(|s| &s.args).collect();
        let out = Command::new(run::IP, ["-batch", "-"])
            .with_stdin(Plan::batch(&all))
            .output()
            .map_err(Failure::before_start)?;
        if out.success {
            return Ok(());
        }
        // `ip` names the failed line, except when it rejects an argument
        // (a device named in `master` that vanished): then it exits at once
        // without naming it. Taking the last step as the failed one undoes
        // every creation that may have been done; undoing one that was not
        // done fails harmlessly.
        let named = failed_lines(&out.stderr)
            .first()
            .map(|(n, _)| *n)
            .filter(|n| (1..=self.steps.len()).contains(n));
        let failed = named.unwrap_or(self.steps.len()) - 1;
        let what = match named {
            Some(_) => format!("cannot {}", self.steps[failed].what),
            None => "ip refused the plan".to_string(),
        };
        let mut error = Error::failed(format!("{what}: {}", run::plain_words(&out.stderr)));
        if let Err(left) = self.undo(failed) {
            error = Error::failed(format!(
                "{error} (and undoing what was done failed too: {left})"
            ));
        }
        Err(Failure {
            step: named.map(|n| n - 1),
            error,
            stderr: out.stderr,
        })
    }

    /// Runs every step even when some fail (`ip -force -batch -`), for
    /// teardown, where each removal stands on its own and nothing is
    /// undone. Returns the steps that failed; dry-run prints the script.
    pub fn execute_all(&self, mode: Mode) -> Result<Vec<Failure>, Error> {
        if mode == Mode::DryRun {
            print!("{}", self.script());
            return Ok(Vec::new());
        }
        if self.steps.is_empty() {
            return Ok(Vec::new());
        }
        let all: Vec<&Vec<String>> = self.steps.iter().map(|s| &s.args).collect();
        let out = Command::new(run::IP, ["-force", "-batch", "-"])
            .with_stdin(Plan::batch(&all))
            .output()?;
        if out.success {
            return Ok(Vec::new());
        }
        let mut failures: Vec<Failure> = failed_lines(&out.stderr)
            .into_iter()
            .filter(|(n, _)| (1..=self.steps.len()).contains(n))
            .map(|(n, said)| Failure {
                step: Some(n - 1),
                error: Error::failed(format!(
                    "cannot {}: {}",
                    self.steps[n - 1].what,
                    run::plain_words(&said)
                )),
                stderr: said,
            })
            .collect();
        if failures.is_empty() {
            failures.push(Failure {
                step: None,
                error: Error::failed(format!("ip: {}", run::plain_words(&out.stderr))),
                stderr: out.stderr,
            });
        }
        Ok(failures)
    }

    /// Undoes the first `done` steps in reverse, best effort: the error that
    /// stopped the plan is the one worth reporting; an undo that fails
    /// because its object is already gone is no failure.
    fn undo(&self, done: usize) -> Result<(), String> {
        let undo: Vec<&Vec<String>> = self.steps[..done]
            .iter()
            .rev()
            .filter_map(|s| s.undo.as_ref())
            .collect();
        if undo.is_empty() {
            return Ok(());
        }
        let out = Command::new(run::IP, ["-force", "-batch", "-"])
            .with_stdin(Plan::batch(&undo))
            .output()
            .map_err(|e| e.to_string())?;
        if out.success {
            return Ok(());
        }
        let failed = failed_lines(&out.stderr);
        if failed.is_empty() {
            return Err(run::plain_words(&out.stderr));
        }
        let real: Vec<String> = failed
            .into_iter()
            .filter(|(_, said)| !says_no_such_device(said))
            .map(|(n, said)| {
                let args = undo.get(n - 1).map(|a| a.join(" ")).unwrap_or_default();
                format!("ip {args}: {}", run::plain_words(&said))
            })
            .collect();
        if real.is_empty() {
            Ok(())
        } else {
            Err(real.join("; "))
        }
    }
}

/// Why a plan stopped: the step the kernel refused (when `ip` said which)
/// and the error to report. Turns into an [`Error`] with `?`.
#[derive(Debug, Clone)]
pub struct Failure {
    step: Option<usize>,
    error: Error,
    stderr: String,
}

impl Failure {
    fn before_start(error: Error) -> Failure {
        Failure {
            step: None,
            error,
            stderr: String::new(),
        }
    }

    /// The index (into [`Plan::steps`]) of the refused step, when known.
    pub fn step(&self) -> Option<usize> {
        self.step
    }

    pub fn error(&self) -> &Error {
        &self.error
    }

    /// The kernel refused to create something because it exists.
    pub fn already_exists(&self) -> bool {
        self.stderr.contains("File exists")
    }

    /// A device the step names does not exist (any more).
    pub fn no_such_device(&self) -> bool {
        says_no_such_device(&self.stderr)
    }
}

impl From<Failure> for Error {
    fn from(failure: Failure) -> Error {
        failure.error
    }
}

/// How `ip` and the kernel say that a named device does not exist.
fn says_no_such_device(said: &str) -> bool {
    said.contains("Cannot find device")
        || said.contains("does not exist")
        || said.contains("No such device")
}

/// The `ip` arguments that add `addr` to `dev`. IPv6 addresses skip
/// duplicate address detection (`nodad`), so they are usable at once
/// instead of staying tentative for a second or more.
pub fn address_args(addr: &HostCidr, dev: &str) -> Vec<String> {
    let mut args = words(["addr", "add", &addr.to_string(), "dev", dev]);
    if !addr.is_ipv4() {
        args.push("nodad".into());
    }
    args
}

/// The MTUs an interface may have: from IPv4's minimum (RFC 791) up.
pub const MIN_MTU: u32 = 68;
pub const MAX_MTU: u32 = 65535;
/// Below this the kernel switches IPv6 off on a device.
pub const MIN_MTU_IPV6: u32 = 1280;

/// Parses `--mtu N`: a usage error outside what an interface accepts.
pub fn parse_mtu(text: &str) -> Result<u32, Error> {
    let invalid = || {
        Error::usage(format!(
            "invalid MTU '{}': give a number from {MIN_MTU} to {MAX_MTU}",
            text.escape_debug()
        ))
    };
    let mtu = text.parse::<u32>().map_err(|_| invalid())?;
    if (MIN_MTU..=MAX_MTU).contains(&mtu) {
        Ok(mtu)
    } else {
        Err(invalid())
    }
}

/// Checks an MTU against the range and against the addresses it is to
/// carry: IPv6 needs at least 1280.
pub fn check_mtu(mtu: u32, addrs: &[HostCidr]) -> Result<(), Error> {
    parse_mtu(&mtu.to_string())?;
    match addrs.iter().find(|a| !a.is_ipv4()) {
        Some(v6) if mtu < MIN_MTU_IPV6 => Err(Error::usage(format!(
            "--mtu {mtu} is too small for the IPv6 address {v6} \
             (IPv6 needs at least {MIN_MTU_IPV6})"
        ))),
        _ => Ok(()),
    }
}

/// `ip -batch` splits lines on blanks and honours double quotes.
fn batch_quote(word: &str) -> String {
    if !word.is_empty() && !word.contains(|c: char| c.is_whitespace() || c == '"' || c == '\\') {
        word.to_string()
    } else {
        format!("\"{}\"", word.replace('\\', "\\\\").replace('"', "\\\""))
    }
}

/// The 1-based lines of the batch that failed (`Command failed -:3`), each
/// with what `ip` said about it: the lines since the previous failure.
fn failed_lines(stderr: &str) -> Vec<(usize, String)> {
    let mut found = Vec::new();
    let mut said = String::new();
    for line in stderr.lines() {
        match line.trim().strip_prefix("Command failed -:") {
            Some(n) => {
                if let Ok(n) = n.trim().parse() {
                    found.push((n, std::mem::take(&mut said)));
                }
            }
            None => {
                said.push_str(line);
                said.push('\n');
            }
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Plan {
        let mut plan = Plan::new();
        plan.creates(
            "create veth0",
            [
                "link", "add", "veth0", "type", "veth", "peer", "name", "eth0",
            ],
            ["link", "del", "veth0"],
        )
        .step(
            "add 10.0.0.1/24 to veth0",
            ["addr", "add", "10.0.0.1/24", "dev", "veth0"],
        )
        .step("bring veth0 up", ["link", "set", "veth0", "up"]);
        plan
    }

    #[test]
    fn script_is_one_ip_command_per_line() {
        assert_eq!(
            sample().script(),
            "ip link add veth0 type veth peer name eth0\n\
             ip addr add 10.0.0.1/24 dev veth0\n\
             ip link set veth0 up\n"
        );
    }

    #[test]
    fn batch_quotes_words_with_blanks() {
        let args = vec![
            "link".to_string(),
            "set".into(),
            "alias".into(),
            "made by \"x\"".into(),
        ];
        assert_eq!(
            Plan::batch(&[&args]),
            "link set alias \"made by \\\"x\\\"\"\n"
        );
    }

    #[test]
    fn the_failed_line_is_read_from_stderr() {
        assert_eq!(
            failed_lines("Error: ipv4: Address already assigned.\nCommand failed -:2\n"),
            [(2, "Error: ipv4: Address already assigned.\n".to_string())]
        );
        assert_eq!(failed_lines("nothing"), []);
        assert_eq!(
            failed_lines(
                "Cannot find device \"a\"\nCommand failed -:1\nRTNETLINK answers: Device or resource busy\nCommand failed -:3\n"
            ),
            [
                (1, "Cannot find device \"a\"\n".to_string()),
                (3, "RTNETLINK answers: Device or resource busy\n".to_string())
            ]
        );
    }
}
