//! The `CNI_*` environment of one plugin run: which command, which
//! container and interface, which namespace, where the other plugins are.
//! Each command is checked for the variables the specification requires
//! of it, and every missing or invalid one is named in one error (code 4).

use super::error::{code, CniError};
use crate::name::IfName;
use std::ffi::{OsStr, OsString};
use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

/// `CNI_COMMAND`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Command {
    Add,
    Del,
    Check,
    Version,
    Status,
    Gc,
}

impl Command {
    pub fn as_str(self) -> &'static str {
        match self {
            Command::Add => "ADD",
            Command::Del => "DEL",
            Command::Check => "CHECK",
            Command::Version => "VERSION",
            Command::Status => "STATUS",
            Command::Gc => "GC",
        }
    }

    fn parse(text: &str) -> Option<Command> {
        [
            Command::Add,
            Command::Del,
            Command::Check,
            Command::Version,
            Command::Status,
            Command::Gc,
        ]
        .into_iter()
        .find(|c| c.as_str() == text)
    }
}

/// The longest container ID nsnet takes: it travels in the alias of the
/// host end, beside the network name and the interface name, and the
/// longest of all three must fit the alias the kernel keeps
/// ([`crate::link::MAX_ALIAS`]).
pub const MAX_CONTAINER_ID: usize = 127;

/// A container ID as the specification allows it: an alphanumeric first
/// character, then alphanumerics, `_`, `.` and `-`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct ContainerId(String);

impl ContainerId {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Whether `text` is a name the specification allows for a container ID
/// or a network: alphanumeric first, then alphanumerics, `_`, `.`, `-`.
pub fn is_plain_name(text: &str) -> bool {
    let mut bytes = text.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_alphanumeric())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b"_.-".contains(&b))
}

impl FromStr for ContainerId {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, String> {
        if text.len() > MAX_CONTAINER_ID {
            Err(format!("longer than {MAX_CONTAINER_ID} bytes"))
        } else if !is_plain_name(text) {
            Err(
                "not a container ID (a letter or digit, then letters, digits, '_', '.' or '-')"
                    .into(),
            )
        } else {
            Ok(ContainerId(text.to_string()))
        }
    }
}

impl fmt::Display for ContainerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// One attachment of a container to a network: the key of everything the
/// plugin makes for it (the specification's `(CNI_CONTAINERID, CNI_IFNAME)`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Attachment {
    pub container: ContainerId,
    pub ifname: IfName,
}

impl fmt::Display for Attachment {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.container, self.ifname)
    }
}

/// The environment of one run, checked for its command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Env {
    pub command: Command,
    /// ADD, DEL, CHECK: the container and its interface.
    pub attachment: Option<Attachment>,
    /// ADD and CHECK always; DEL when the namespace is still known.
    pub netns: Option<PathBuf>,
    /// `CNI_PATH`: where delegated plugins are looked for.
    pub path: Vec<PathBuf>,
}

impl Env {
    /// Reads the variables through `var` (the process's environment, or a
    /// table in tests).
    pub fn read(var: impl Fn(&str) -> Option<OsString>) -> Result<Env, CniError> {
        let mut problems: Vec<String> = Vec::new();
        let text = |name: &str, problems: &mut Vec<String>| -> Option<String> {
            let value = var(name).filter(|v| !v.is_empty())?;
            match value.into_string() {
                Ok(s) => Some(s),
                Err(_) => {
                    problems.push(format!("{name} is not valid UTF-8"));
                    None
                }
            }
        };
        let Some(command_text) = text("CNI_COMMAND", &mut problems) else {
            problems.push("CNI_COMMAND is not set (ADD, DEL, CHECK, VERSION, STATUS or GC)".into());
            return Err(invalid(problems));
        };
        let Some(command) = Command::parse(&command_text) else {
            return Err(invalid(vec![format!(
                "CNI_COMMAND {command_text:?} is not one of ADD, DEL, CHECK, VERSION, STATUS, GC"
            )]));
        };
        let attached = matches!(command, Command::Add | Command::Del | Command::Check);
        let needs_netns = matches!(command, Command::Add | Command::Check);
        let mut container = None;
        let mut ifname = None;
        let mut netns = None;
        if attached {
            match text("CNI_CONTAINERID", &mut problems) {
                None => problems.push("CNI_CONTAINERID is not set".into()),
                Some(id) => match id.parse::<ContainerId>() {
                    Ok(id) => container = Some(id),
                    Err(why) => problems.push(format!("CNI_CONTAINERID {id:?} is {why}")),
                },
            }
            match text("CNI_IFNAME", &mut problems) {
                None => problems.push("CNI_IFNAME is not set".into()),
                Some(name) => match name.parse::<IfName>() {
                    Ok(name) => ifname = Some(name),
                    Err(e) => problems.push(format!("CNI_IFNAME is an {}", e.message())),
                },
            }
            netns = var("CNI_NETNS")
                .filter(|v| !v.is_empty())
                .map(PathBuf::from);
            if needs_netns && netns.is_none() {
                problems.push("CNI_NETNS is not set".into());
            }
        }
        let path: Vec<PathBuf> = var("CNI_PATH")
            .map(|p| std::env::split_paths(&p).collect())
            .unwrap_or_default();
        if command == Command::Gc && path.is_empty() {
            problems.push("CNI_PATH is not set".into());
        }
        if !problems.is_empty() {
            return Err(invalid(problems));
        }
        Ok(Env {
            command,
            attachment: container
                .zip(ifname)
                .map(|(container, ifname)| Attachment { container, ifname }),
            netns,
            path,
        })
    }

    /// This process's environment.
    pub fn from_process() -> Result<Env, CniError> {
        Env::read(|name| std::env::var_os(OsStr::new(name)))
    }

    /// The attachment of ADD, DEL and CHECK (checked by [`Env::read`]).
    pub fn attachment(&self) -> &Attachment {
        self.attachment
            .as_ref()
            .expect("ADD, DEL and CHECK are read with their attachment")
    }
}

fn invalid(problems: Vec<String>) -> CniError {
    CniError::new(
        code::INVALID_ENVIRONMENT,
        format!("invalid environment: {}", problems.join("; ")),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn read(vars: &[(&str, &str)]) -> Result<Env, CniError> {
        let table: HashMap<String, OsString> = vars
            .iter()
            .map(|(k, v)| (k.to_string(), OsString::from(v)))
            .collect();
        Env::read(|name| table.get(name).cloned())
    }

    #[test]
    fn add_reads_the_attachment_namespace_and_path() {
        let env = read(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "905473cb882f"),
            ("CNI_IFNAME", "eth0"),
            ("CNI_NETNS", "/run/netns/netns-8c1e"),
            ("CNI_PATH", "/opt/cni/bin:/usr/lib/cni"),
            ("CNI_ARGS", "IgnoreUnknown=1;K8S_POD_NAME=x"),
        ])
        .unwrap();
        assert_eq!(env.command, Command::Add);
        assert_eq!(env.attachment().to_string(), "905473cb882f/eth0");
        assert_eq!(env.netns, Some(PathBuf::from("/run/netns/netns-8c1e")));
        assert_eq!(
            env.path,
            [PathBuf::from("/opt/cni/bin"), PathBuf::from("/usr/lib/cni")]
        );
    }

    #[test]
    fn every_bad_variable_is_named_at_once() {
        let e = read(&[
            ("CNI_COMMAND", "ADD"),
            ("CNI_CONTAINERID", "-x"),
            ("CNI_IFNAME", "a/b"),
        ])
        .unwrap_err();
        assert_eq!(e.code, code::INVALID_ENVIRONMENT);
        assert_eq!(
            e.msg,
            "invalid environment: CNI_CONTAINERID \"-x\" is not a container ID \
             (a letter or digit, then letters, digits, '_', '.' or '-'); \
             CNI_IFNAME is an invalid interface name 'a/b': it contains '/'; \
             CNI_NETNS is not set"
        );
        let e = read(&[]).unwrap_err();
        assert!(e.msg.contains("CNI_COMMAND is not set"), "{}", e.msg);
        let e = read(&[("CNI_COMMAND", "add")]).unwrap_err();
        assert!(e.msg.contains("CNI_COMMAND \"add\""), "{}", e.msg);
        let long = "a".repeat(MAX_CONTAINER_ID + 1);
        let e = read(&[("CNI_COMMAND", "DEL"), ("CNI_CONTAINERID", &long)]).unwrap_err();
        assert!(e.msg.contains("longer than 127 bytes"), "{}", e.msg);
        assert!(e.msg.contains("CNI_IFNAME is not set"), "{}", e.msg);
    }

    #[test]
    fn each_command_needs_only_its_own_variables() {
        let del = read(&[
            ("CNI_COMMAND", "DEL"),
            ("CNI_CONTAINERID", "c1"),
            ("CNI_IFNAME", "eth0"),
        ])
        .unwrap();
        assert_eq!(del.netns, None, "DEL without a namespace is allowed");
        for command in ["VERSION", "STATUS"] {
            let env = read(&[("CNI_COMMAND", command)]).unwrap();
            assert_eq!(env.attachment, None);
        }
        let e = read(&[("CNI_COMMAND", "GC")]).unwrap_err();
        assert!(e.msg.contains("CNI_PATH is not set"), "{}", e.msg);
        assert!(read(&[("CNI_COMMAND", "GC"), ("CNI_PATH", "/usr/lib/cni")]).is_ok());
    }

    /// The mark of an attachment with the longest names of all kinds is
    /// one the kernel keeps, so no ADD fails at its last step for a
    /// length it was given.
    #[test]
    fn the_longest_names_make_a_mark_the_kernel_keeps() {
        let a = Attachment {
            container: "c".repeat(MAX_CONTAINER_ID).parse().unwrap(),
            ifname: "i".repeat(crate::name::MAX_LEN).parse().unwrap(),
        };
        let net = "n".repeat(super::super::config::MAX_NETWORK_NAME);
        assert_eq!(
            super::super::attach::mark(&net, &a).len(),
            crate::link::MAX_ALIAS
        );
    }
}
