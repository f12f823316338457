//! Owners of natctl's entries, of two kinds in one model:
//!
//! - a process, remembered by its PID and its start time (field 22 of
//!   `/proc/PID/stat`, clock ticks since boot), so a PID the kernel has
//!   since given to another process is not mistaken for the owner. A
//!   zombie has exited: it owns nothing. natctl judges these itself.
//! - a container's attachment to a CNI network (its container ID and
//!   interface, on one network), remembered by the 64-bit identity the CNI
//!   plugin gives it. natctl cannot tell whether a container still exists:
//!   such an owner holds its entries until the plugin lets go of them (on
//!   DEL, or on the runtime's GC), and `natctl gc` never clears it.

use crate::error::Error;
use std::fmt;
use std::str::FromStr;

/// Who holds an entry: while any owner holds it, the entry stays.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Owner {
    /// A process: `PID:START`.
    Process {
        pid: u32,
        /// When the process started, in clock ticks after boot.
        start: u64,
    },
    /// A CNI attachment: `cni:` and its identity in 16 hex digits.
    Attachment(u64),
}

/// How `natctl list` writes an attachment owner: `cni:0123456789abcdef`.
const ATTACHMENT: &str = "cni:";

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
            Some((state, start)) if !exited(state) => Ok(Owner::Process { pid, start }),
            Some(_) => Err(Error::failed(format!(
                "invalid owner {pid}: that process has exited (a zombie owns nothing)"
            ))),
            None => Err(Error::failed(format!(
                "invalid owner {pid}: no such process"
            ))),
        }
    }

    /// Whether the owner still holds its entries, as far as natctl can
    /// tell: a process while this very process runs (same PID, same start,
    /// not a zombie); an attachment always, since only the CNI plugin can
    /// judge it.
    pub fn is_alive(&self) -> bool {
        match *self {
            Owner::Process { pid, start } => {
                stat(pid).is_some_and(|(state, s)| s == start && !exited(state))
            }
            Owner::Attachment(_) => true,
        }
    }
}

/// `PID:START` or `cni:HEX`, as `natctl list` prints it after `owners=`.
impl fmt::Display for Owner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Owner::Process { pid, start } => write!(f, "{pid}:{start}"),
            Owner::Attachment(id) => write!(f, "{ATTACHMENT}{id:016x}"),
        }
    }
}

impl FromStr for Owner {
    type Err = Error;

    fn from_str(text: &str) -> Result<Self, Error> {
        let attachment = text
            .strip_prefix(ATTACHMENT)
            .filter(|hex| hex.len() == 16)
            .and_then(|hex| u64::from_str_radix(hex, 16).ok());
        if let Some(id) = attachment {
            return Ok(Owner::Attachment(id));
        }
        let process = text
            .split_once(':')
            .and_then(|(pid, start)| Some((pid.parse().ok()?, start.parse().ok()?)));
        match process {
            Some((pid, start)) if pid > 0 => Ok(Owner::Process { pid, start }),
            _ => Err(Error::usage(format!(
                "invalid owner '{text}': expected PID:START or cni:HEX, as natctl list prints it"
            ))),
        }
    }
}

/// Who lets go of entries (`natctl del --owner PID`, the CNI plugin's
/// DEL): a process by its PID alone (it has usually exited by then, and its
/// start time is not known), or one owner exactly.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Leaving {
    Pid(u32),
    Owner(Owner),
}

impl Leaving {
    /// Whether `owner` is the one leaving.
    pub fn is(&self, owner: &Owner) -> bool {
        match (self, owner) {
            (Leaving::Pid(pid), Owner::Process { pid: p, .. }) => pid == p,
            (Leaving::Owner(o), _) => o == owner,
            (Leaving::Pid(_), Owner::Attachment(_)) => false,
        }
    }

    /// Whether the one leaving is a process that has exited (no process
    /// with its PID, or a zombie): it holds nothing any more, so a record
    /// of it that someone else dropped meanwhile is no error.
    pub fn has_exited(&self) -> bool {
        match self {
            Leaving::Pid(pid) => !stat(*pid).is_some_and(|(state, _)| !exited(state)),
            Leaving::Owner(_) => false,
        }
    }
}

impl fmt::Display for Leaving {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Leaving::Pid(pid) => write!(f, "{pid}"),
            Leaving::Owner(o) => write!(f, "{o}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn start_of(o: Owner) -> u64 {
        match o {
            Owner::Process { start, .. } => start,
            Owner::Attachment(_) => panic!("a process"),
        }
    }

    #[test]
    fn this_process_is_its_own_live_owner() {
        let me = Owner::of(std::process::id()).unwrap();
        assert!(me.is_alive());
        let reused = Owner::Process {
            pid: std::process::id(),
            start: start_of(me) + 1,
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
    fn the_written_forms_round_trip() {
        let o = Owner::Process {
            pid: 4242,
            start: 123_456_789_012,
        };
        assert_eq!(o.to_string(), "4242:123456789012");
        assert_eq!("4242:123456789012".parse::<Owner>().unwrap(), o);
        let a = Owner::Attachment(0x0123_4567_89ab_cdef);
        assert_eq!(a.to_string(), "cni:0123456789abcdef");
        assert_eq!("cni:0123456789abcdef".parse::<Owner>().unwrap(), a);
        for bad in [
            "4242",
            "0:1",
            "x:1",
            "1:-1",
            "",
            "cni:12",
            "cni:0123456789abcdeg",
        ] {
            assert!(bad.parse::<Owner>().is_err(), "{bad}");
        }
    }

    /// natctl cannot see containers: an attachment holds until the plugin
    /// lets go, and a PID never names it.
    #[test]
    fn attachments_are_held_until_named_exactly() {
        let a = Owner::Attachment(7);
        assert!(a.is_alive());
        assert!(Leaving::Owner(a).is(&a));
        assert!(!Leaving::Owner(Owner::Attachment(8)).is(&a));
        assert!(!Leaving::Pid(7).is(&a));
        let p = Owner::Process { pid: 7, start: 1 };
        assert!(Leaving::Pid(7).is(&p));
        assert!(!Leaving::Owner(a).is(&p));
    }
}
