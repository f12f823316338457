//! Plans of `ip` commands: what to do to links, addresses and routes, as
//! plain data. A plan is printed for `--dry-run`, compared in unit tests
//! without root, and executed in one `ip -batch -` process; when the kernel
//! refuses a step half-way, the steps already done are undone in reverse.

use crate::error::Error;
use crate::run::{self, Command, Mode};

pub mod inside;

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

    /// Runs the plan in one `ip -batch -`, or prints it in dry-run mode.
    /// On failure, undoes the steps that were done and says which step
    /// failed and why.
    pub fn execute(&self, mode: Mode) -> Result<(), Error> {
        if self.steps.is_empty() {
            return Ok(());
        }
        if mode == Mode::DryRun {
            print!("{}", self.script());
            return Ok(());
        }
        let all: Vec<&Vec<String>> = self.steps.iter().map(|s| &s.args).collect();
        let out = Command::new(run::IP, ["-batch", "-"])
            .with_stdin(Plan::batch(&all))
            .output()?;
        if out.success {
            return Ok(());
        }
        let failed = failed_line(&out.stderr)
            .filter(|n| *n <= self.steps.len())
            .unwrap_or(self.steps.len());
        self.undo(failed - 1);
        let step = &self.steps[failed - 1];
        Err(Error::failed(format!(
            "cannot {}: {}",
            step.what,
            run::plain_words(&out.stderr)
        )))
    }

    /// Undoes the first `done` steps in reverse, best effort: the error that
    /// stopped the plan is the one worth reporting.
    fn undo(&self, done: usize) {
        let undo: Vec<&Vec<String>> = self.steps[..done]
            .iter()
            .rev()
            .filter_map(|s| s.undo.as_ref())
            .collect();
        if !undo.is_empty() {
            let _ = Command::new(run::IP, ["-force", "-batch", "-"])
                .with_stdin(Plan::batch(&undo))
                .output();
        }
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

/// The 1-based line of the batch that failed: `Command failed -:3`.
fn failed_line(stderr: &str) -> Option<usize> {
    stderr
        .lines()
        .find_map(|l| l.trim().strip_prefix("Command failed -:"))
        .and_then(|n| n.trim().parse().ok())
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
            failed_line("Error: ipv4: Address already assigned.\nCommand failed -:2\n"),
            Some(2)
        );
        assert_eq!(failed_line("nothing"), None);
    }
}
