//! Which namespaces a command gets: the choice and its rules (at least one;
//! `--hostname` implies a UTS namespace, `--mount-proc` a mount namespace,
//! `--map-root` needs a user namespace), the clone(2) flags it becomes, the
//! little the new process does inside before the hand-off (private mounts,
//! a fresh /proc, the hostname), and the one thing only the parent can do:
//! map the caller to root in a new user namespace.

use crate::error::Error;
use nix::errno::Errno;
use nix::mount::{mount, MsFlags};
use nix::sched::CloneFlags;
use nix::unistd::Pid;
use std::ffi::OsStr;

/// The longest hostname the kernel takes (`HOST_NAME_MAX`).
const HOSTNAME_MAX: usize = 64;

/// The namespaces to create and what to do inside them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Namespaces {
    pub net: bool,
    pub mount: bool,
    pub uts: bool,
    pub ipc: bool,
    pub pid: bool,
    pub cgroup: bool,
    pub user: bool,
    /// Map the caller's user and group to root in the user namespace.
    pub map_root: bool,
    /// Mount a fresh proc on /proc inside (implies `mount`).
    pub mount_proc: bool,
    /// Set this hostname inside (implies `uts`).
    pub hostname: Option<String>,
}

impl Namespaces {
    /// Applies the implications and checks the rules; a usage error names
    /// what is wrong before anything is created.
    pub fn checked(mut self) -> Result<Namespaces, Error> {
        self.uts |= self.hostname.is_some();
        self.mount |= self.mount_proc;
        if self.map_root && !self.user {
            return Err(Error::usage("--map-root needs --user"));
        }
        if let Some(name) = &self.hostname {
            if name.is_empty() || name.len() > HOSTNAME_MAX {
                return Err(Error::usage(format!(
                    "invalid hostname '{name}': it must be 1 to {HOSTNAME_MAX} bytes"
                )));
            }
        }
        if self.clone_flags().is_empty() {
            return Err(Error::usage(
                "no namespace given (use at least one of --net, --mount, --uts, --ipc, \
                 --pid, --cgroup, --user)",
            ));
        }
        Ok(self)
    }

    /// The clone(2) flags that create these namespaces.
    pub fn clone_flags(&self) -> CloneFlags {
        let mut flags = CloneFlags::empty();
        for (wanted, flag) in [
            (self.user, CloneFlags::CLONE_NEWUSER),
            (self.net, CloneFlags::CLONE_NEWNET),
            (self.mount, CloneFlags::CLONE_NEWNS),
            (self.uts, CloneFlags::CLONE_NEWUTS),
            (self.ipc, CloneFlags::CLONE_NEWIPC),
            (self.pid, CloneFlags::CLONE_NEWPID),
            (self.cgroup, CloneFlags::CLONE_NEWCGROUP),
        ] {
            if wanted {
                flags |= flag;
            }
        }
        flags
    }

    /// Whether the child must wait for the parent to write its id maps
    /// before it does anything that checks its ids.
    pub(super) fn needs_id_maps(&self) -> bool {
        self.user
    }

    /// Writes the child's id maps (run in the parent, after clone, before
    /// the child goes on): the caller becomes root inside. An unprivileged
    /// caller may map only itself, and its group only once setgroups(2) is
    /// denied, so both are done the same way for everyone.
    pub(super) fn write_id_maps(&self, child: Pid) -> Result<(), Error> {
        if !self.map_root {
            return Ok(());
        }
        let uid = nix::unistd::geteuid();
        let gid = nix::unistd::getegid();
        for (file, text) in [
            ("setgroups", "deny".to_string()),
            ("uid_map", format!("0 {uid} 1")),
            ("gid_map", format!("0 {gid} 1")),
        ] {
            let path = format!("/proc/{child}/{file}");
            std::fs::write(&path, text).map_err(|e| {
                Error::io(
                    format!("cannot map the caller to root in the user namespace: {path}"),
                    &e,
                )
            })?;
        }
        Ok(())
    }
}

/// A step the child takes inside its namespaces; a failure names the step
/// and carries the errno across the report pipe (the child does not
/// allocate, so it sends numbers, and the parent puts them into words).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(super) enum Step {
    DeathSignal = 1,
    PrivateMounts = 2,
    MountProc = 3,
    Hostname = 4,
    SignalMask = 5,
    Exec = 6,
}

impl Step {
    pub(super) fn from_byte(byte: u8) -> Option<Step> {
        [
            Step::DeathSignal,
            Step::PrivateMounts,
            Step::MountProc,
            Step::Hostname,
            Step::SignalMask,
            Step::Exec,
        ]
        .into_iter()
        .find(|s| *s as u8 == byte)
    }

    /// What failed, in words (the exec step has its own: see `exec_error`).
    pub(super) fn describe(self, ns: &Namespaces) -> String {
        match self {
            Step::DeathSignal => "cannot tie the command's life to nsrun's".into(),
            Step::PrivateMounts => {
                "cannot make the mounts private in the new mount namespace".into()
            }
            Step::MountProc => "cannot mount a fresh /proc".into(),
            Step::Hostname => format!(
                "cannot set the hostname to '{}'",
                ns.hostname.as_deref().unwrap_or_default()
            ),
            Step::SignalMask => "cannot restore the signal mask".into(),
            Step::Exec => "cannot run the command".into(),
        }
    }
}

/// Runs in the child, inside the new namespaces, before the hand-off:
/// makes every mount private (recursively) so nothing propagates back to
/// the host, mounts /proc for the new PID namespace, sets the hostname.
/// Allocation-free (the paths are short literals, copied on the stack).
pub(super) fn set_up_inside(ns: &Namespaces) -> Result<(), (Step, Errno)> {
    if ns.mount {
        mount(
            None::<&str>,
            "/",
            None::<&str>,
            MsFlags::MS_REC | MsFlags::MS_PRIVATE,
            None::<&str>,
        )
        .map_err(|e| (Step::PrivateMounts, e))?;
    }
    if ns.mount_proc {
        mount(
            Some("proc"),
            "/proc",
            Some("proc"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            None::<&str>,
        )
        .map_err(|e| (Step::MountProc, e))?;
    }
    if let Some(name) = &ns.hostname {
        nix::unistd::sethostname(OsStr::new(name)).map_err(|e| (Step::Hostname, e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::Kind;

    #[test]
    fn implications_apply() {
        let ns = Namespaces {
            hostname: Some("box".into()),
            mount_proc: true,
            ..Default::default()
        }
        .checked()
        .unwrap();
        assert!(ns.uts && ns.mount);
        assert_eq!(
            ns.clone_flags(),
            CloneFlags::CLONE_NEWUTS | CloneFlags::CLONE_NEWNS
        );
    }

    #[test]
    fn every_flag_maps_to_its_clone_flag() {
        let ns = Namespaces {
            net: true,
            mount: true,
            uts: true,
            ipc: true,
            pid: true,
            cgroup: true,
            user: true,
            ..Default::default()
        };
        assert_eq!(ns.clone_flags().bits().count_ones(), 7);
    }

    #[test]
    fn rules_are_usage_errors() {
        let e = Namespaces::default().checked().unwrap_err();
        assert_eq!(e.kind(), Kind::Usage);
        assert!(e.message().starts_with("no namespace given"), "{e}");
        let e = Namespaces {
            net: true,
            map_root: true,
            ..Default::default()
        }
        .checked()
        .unwrap_err();
        assert_eq!(e.to_string(), "--map-root needs --user");
        let e = Namespaces {
            hostname: Some("x".repeat(65)),
            ..Default::default()
        }
        .checked()
        .unwrap_err();
        assert_eq!(e.kind(), Kind::Usage);
        assert!(Namespaces {
            hostname: Some("x".repeat(64)),
            ..Default::default()
        }
        .checked()
        .is_ok());
    }

    #[test]
    fn steps_survive_the_pipe() {
        for byte in 0..=u8::MAX {
            if let Some(step) = Step::from_byte(byte) {
                assert_eq!(step as u8, byte);
            }
        }
        assert_eq!(Step::from_byte(6), Some(Step::Exec));
        assert_eq!(Step::from_byte(0), None);
    }
}
