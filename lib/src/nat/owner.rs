//! Owners of natctl's entries: a process, remembered by its PID and its
//! start time (field 22 of `/proc/PID/stat`, clock ticks since boot), so a
//! PID the kernel has since given to another process is not mistaken for
//! the owner. A zombie has exited: it owns nothing.

use crate::error::Error;
use std::fmt;
use std::str::FromStr;

/// A process that holds an entry: while it lives, the entry stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Owner {
    pub pid: u32,
    /// When the process started, in clock ticks after boot.
    pub start: u64,
}

/// What `/proc/PID/stat` says of a process: its state letter and start.
fn stat(pid: u32) -> Option<(char, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may hold spaces and parentheses: the
    // fields that follow start after its last ')'.
    let rest = &text[text.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // fields[0] is field 3 (state), so field 22 (starttime) is fields[19].
    let state = fields.first()?.chars().next()?;
    let start = fields.get(19)?.parse().ok()?;
    Some((state, start))
}

/// Zombie or dead: the process has exited, only its PID is left.
fn exited(state: char) -> bool {
    matches!(state, 'Z' | 'X' | 'x')
}

impl Owner {
    /// The live process `pid` as an owner; a PID with no process, or with
    /// a zombie, is refused.
    pub fn of(pid: u32) -> Result<Owner, Error> {
        match stat(pid) {
            Some((state, start)) if !exited(state) => Ok(Owner { pid, start }),
            Some(_) => Err(Error::failed(format!(
                "invalid owner {pid}: that process has exited (a zombie owns nothing)"
            ))),
            None => Err(Error::failed(format!(
                "invalid owner {pid}: no such process"
            ))),
        }
    }

    /// Whether this very process still runs: same PID, same start, and
    /// not a zombie.
    pub fn is_alive(&self) -> bool {
        stat(self.pid).is_some_and(|(state, start)| start == self.start && !exited(state))
    }
}

/// `PID:START`, as `natctl list` prints it after `owners=`.
impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.pid, self.start)
    }
}

impl FromStr for Owner {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let parsed = text
            .split_once(':')
            .and_then(|(pid, start)| Some((pid.parse().ok()?, start.parse().ok()?)));
        match parsed {
            Some((pid, start)) if pid > 0 => Ok(Owner { pid, start }),
            _ => Err(Error::usage(format!(
                "invalid owner '{text}': expected PID:START, as natctl list prints it"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn this_process_is_its_own_live_owner() {
        let me = Owner::of(std::process::id()).unwrap();
        assert!(me.is_alive());
        let reused = Owner {
            start: me.start + 1,
            ..me
        };
        assert!(!reused.is_alive(), "another start time is another process");
    }

    #[test]
    fn missing_and_exited_processes_own_nothing() {
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        let owner = Owner::of(pid);
        child.wait().unwrap();
        if let Ok(owner) = owner {
            assert!(!owner.is_alive());
        }
        let e = Owner::of(pid).unwrap_err();
        assert_eq!(
            e.to_string(),
            format!("invalid owner {pid}: no such process")
        );
    }

    #[test]
    fn a_zombie_is_dead() {
        let child = std::process::Command::new("true").spawn().unwrap();
        let pid = child.id();
        // Wait for it to exit but leave it unreaped: a zombie.
        use nix::sys::wait::{waitid, Id, WaitPidFlag};
        waitid(
            Id::Pid(nix::unistd::Pid::from_raw(pid as i32)),
            WaitPidFlag::WEXITED | WaitPidFlag::WNOWAIT,
        )
        .unwrap();
        assert_eq!(stat(pid).map(|(s, _)| s), Some('Z'));
        let e = Owner::of(pid).unwrap_err();
        assert!(e.to_string().contains("has exited"), "{e}");
        drop(child);
    }

    #[test]
    fn the_written_form_round_trips() {
        let o = Owner {
            pid: 4242,
            start: 123_456_789_012,
        };
        assert_eq!(o.to_string(), "4242:123456789012");
        assert_eq!("4242:123456789012".parse::<Owner>().unwrap(), o);
        for bad in ["4242", "0:1", "x:1", "1:-1", ""] {
            assert!(bad.parse::<Owner>().is_err(), "{bad}");
        }
    }
}
