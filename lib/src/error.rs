//! The one error type of nsnet: a message in plain words, the kind of
//! failure (from which each tool's convention picks the exit status), the
//! OS error that caused it when there was one, and — for a teardown that
//! carries on past failures — every further failure after the first.
//!
//! Code decides on [`Error::errno`] and [`Error::kind`], never on the words.

use nix::errno::Errno;
use std::fmt;

/// What sort of failure an [`Error`] is; the exit status follows from it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// The command line was wrong; nothing was attempted.
    Usage,
    /// The tool tried and failed.
    Failed,
    /// The command to run exists but could not be executed (126).
    CannotExecute,
    /// The command to run was not found (127).
    NotFound,
}

/// An error whose message reads `what failed: why (hint)`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: Kind,
    message: String,
    /// The OS error behind it, when the kernel or libc said no.
    errno: Option<Errno>,
    /// Further failures of the same job (a teardown reports them all).
    more: Vec<Error>,
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
            errno: None,
            more: Vec::new(),
        }
    }

    /// `what: why` where the OS said why: `cannot open /x: no such file
    /// or directory`, keeping the errno.
    pub fn os(what: impl fmt::Display, errno: Errno) -> Self {
        Error {
            errno: Some(errno),
            ..Error::failed(format!("{what}: {}", errno_words(errno)))
        }
    }

    /// `what: said`, where the kernel explained its `errno` in words of its
    /// own (`IPv6 is disabled on this device` says more than EACCES).
    pub fn os_said(what: impl fmt::Display, errno: Errno, said: &str) -> Self {
        Error {
            errno: Some(errno),
            ..Error::failed(format!("{what}: {said}"))
        }
    }

    /// Like [`Error::os`] for an `std::io::Error`: its errno when it has
    /// one, else its own words.
    pub fn io(what: impl fmt::Display, e: &std::io::Error) -> Self {
        Error {
            errno: e.raw_os_error().map(Errno::from_raw),
            ..Error::failed(format!("{what}: {}", io_words(e)))
        }
    }

    /// Every error of `errors`, as one: the first, carrying the others.
    /// `Ok` when there are none. For teardown, which carries on past a
    /// failure and then reports them all.
    pub fn all(errors: impl IntoIterator<Item = Error>) -> Result<(), Error> {
        let mut errors = errors.into_iter();
        match errors.next() {
            None => Ok(()),
            Some(mut first) => {
                first.more.extend(errors);
                Err(first)
            }
        }
    }

    /// The same failure, of another kind (a command that could not be
    /// executed is 126 or 127, not 125).
    pub fn with_kind(self, kind: Kind) -> Self {
        Error { kind, ..self }
    }

    /// The same words, keeping the OS error behind them: for a message
    /// whose why is better said than `errno_words` says it.
    pub fn with_errno(self, errno: Errno) -> Self {
        Error {
            errno: Some(errno),
            ..self
        }
    }

    pub fn usage(message: impl Into<String>) -> Self {
        Error::new(Kind::Usage, message)
    }

    pub fn failed(message: impl Into<String>) -> Self {
        Error::new(Kind::Failed, message)
    }

    pub fn kind(&self) -> Kind {
        self.kind
    }

    /// The words of this error alone (see `Display` for all of them).
    pub fn message(&self) -> &str {
        &self.message
    }

    /// The OS error that caused this one, if any.
    pub fn errno(&self) -> Option<Errno> {
        self.errno
    }

    /// The failures after the first, when this error stands for several.
    pub fn more(&self) -> &[Error] {
        &self.more
    }

    /// Puts what was being attempted in front: `cannot create veth0: …`.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error {
            message: format!("{what}: {}", self.message),
            ..self
        }
    }
}

impl fmt::Display for Error {
    /// The message, then every further failure: `a (and also: b; c)`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if !self.more.is_empty() {
            let more: Vec<String> = self.more.iter().map(ToString::to_string).collect();
            write!(f, " (and also: {})", more.join("; "))?;
        }
        Ok(())
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.errno
            .as_ref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}

/// Adds context to the error of a result, in one call.
pub trait Context<T> {
    fn context(self, what: impl fmt::Display) -> Result<T>;
    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T>;
}

impl<T> Context<T> for Result<T> {
    fn context(self, what: impl fmt::Display) -> Result<T> {
        self.map_err(|e| e.context(what))
    }

    fn with_context<D: fmt::Display>(self, what: impl FnOnce() -> D) -> Result<T> {
        self.map_err(|e| e.context(what()))
    }
}

/// An I/O error in lower-case plain words, without Rust's "(os error N)".
pub fn io_words(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(code) => errno_words(Errno::from_raw(code)),
        None => e.to_string().to_lowercase(),
    }
}

/// Whether a refusal may suggest running as root: only to those who are
/// not. Root can be refused too (a missing capability in a user namespace,
/// a read-only /proc/sys), and telling root to be root helps nobody.
pub fn may_suggest_root() -> bool {
    !nix::unistd::geteuid().is_root()
}

/// Describes an OS error in lower-case plain words, with a hint where one
/// Describes an OS error in lower-case plain words, with a hint where one
/// helps (see [`may_suggest_root`]); EEXIST reads `already exists` (a
/// route or an address is no file).
pub fn errno_words(errno: Errno) -> String {
    let words = errno.desc().to_lowercase();
    match errno {
        Errno::EEXIST => "already exists".to_string(),
        Errno::EPERM | Errno::EACCES if may_suggest_root() => {
            format!("{words} (run as root or with CAP_NET_ADMIN)")
        }
        _ => words,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn context_reads_what_then_why() {
        let e = Error::failed("no such process").context("cannot open the namespace of PID 4242");
        assert_eq!(
            e.to_string(),
            "cannot open the namespace of PID 4242: no such process"
        );
        assert_eq!(e.kind(), Kind::Failed);
    }

    #[test]
    fn context_keeps_the_kind() {
        let r: Result<()> = Err(Error::usage("too long"));
        let e = r.context("invalid name 'x'").unwrap_err();
        assert_eq!(e.kind(), Kind::Usage);
        assert_eq!(e.message(), "invalid name 'x': too long");
    }

    #[test]
    fn permission_errors_carry_a_hint_for_those_who_are_not_root() {
        let hint = !nix::unistd::geteuid().is_root();
        assert_eq!(
            errno_words(Errno::EPERM).ends_with("(run as root or with CAP_NET_ADMIN)"),
            hint
        );
        assert_eq!(errno_words(Errno::ESRCH), "no such process");
        assert_eq!(errno_words(Errno::EEXIST), "already exists");
    }

    #[test]
    fn os_errors_keep_their_errno() {
        let e = Error::os("cannot open /x", Errno::ENOENT);
        assert_eq!(e.to_string(), "cannot open /x: no such file or directory");
        assert_eq!(e.errno(), Some(Errno::ENOENT));
        assert_eq!(e.clone().context("step").errno(), Some(Errno::ENOENT));
        let io = std::io::Error::from_raw_os_error(Errno::EEXIST as i32);
        assert_eq!(Error::io("cannot make x", &io).errno(), Some(Errno::EEXIST));
        assert_eq!(Error::failed("plain").errno(), None);
        let e = Error::failed("cannot run x: not here")
            .with_errno(Errno::ENOENT)
            .with_kind(Kind::NotFound);
        assert_eq!((e.kind(), e.errno()), (Kind::NotFound, Some(Errno::ENOENT)));
        assert_eq!(e.to_string(), "cannot run x: not here");
    }

    #[test]
    fn a_teardown_reports_every_failure() {
        assert_eq!(Error::all([]), Ok(()));
        let e = Error::all([
            Error::failed("cannot remove a: busy"),
            Error::failed("cannot remove b: busy"),
            Error::failed("cannot remove c: busy"),
        ])
        .unwrap_err();
        assert_eq!(e.message(), "cannot remove a: busy");
        assert_eq!(e.more().len(), 2);
        assert_eq!(
            e.to_string(),
            "cannot remove a: busy (and also: cannot remove b: busy; cannot remove c: busy)"
        );
    }
}
