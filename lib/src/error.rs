//! The one error type of nsnet: a message in plain words and the kind of
//! failure, from which each tool's convention picks the exit status.

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
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

impl Error {
    pub fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            kind,
            message: message.into(),
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

    pub fn message(&self) -> &str {
        &self.message
    }

    /// Puts what was being attempted in front: `cannot create veth0: …`.
    pub fn context(self, what: impl fmt::Display) -> Self {
        Error {
            kind: self.kind,
            message: format!("{what}: {}", self.message),
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

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

/// Describes an OS error in lower-case plain words, with a hint where one helps.
pub fn errno_words(errno: nix::errno::Errno) -> String {
    use nix::errno::Errno;
    let words = errno.desc().to_lowercase();
    match errno {
        Errno::EPERM | Errno::EACCES => format!("{words} (run as root or with CAP_NET_ADMIN)"),
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
    fn permission_errors_carry_a_hint() {
        assert_eq!(
            errno_words(nix::errno::Errno::EPERM),
            "operation not permitted (run as root or with CAP_NET_ADMIN)"
        );
        assert_eq!(errno_words(nix::errno::Errno::ESRCH), "no such process");
    }
}
