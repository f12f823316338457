//! The plugin's record of each attachment it made: one file per
//! attachment, `DATADIR/NETWORK/CONTAINERID:IFNAME` (the configuration's
//! `"dataDir"`, else [`DEFAULT_DIR`]), holding the natctl rules the
//! attachment holds, one `natctl list` line each.
//!
//! The kernel keeps the rest (the links and their marks, natctl's owners),
//! but a container whose namespace died without a DEL leaves no link to
//! find, while its address stays reserved by the IPAM plugin and its owner
//! records stay in natctl's rules. The record is what GC finds it by: it
//! is written before the IPAM plugin is asked for an address and removed
//! after the address is released, so every reservation the plugin made
//! has a record until DEL or GC has undone all of it. Like host-local's
//! reservations, records live under /var/lib/cni by default and outlive a
//! reboot, after which a runtime's GC clears them.

use super::env::Attachment;
use crate::error::Error;
use crate::nat::{Line, LineRule, Rule};
use nix::errno::Errno;
use nix::fcntl::{open, openat, renameat, OFlag};
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::{unlinkat, UnlinkatFlags};
use std::io::{Read, Write};
use std::os::fd::{AsRawFd, OwnedFd};
use std::path::{Path, PathBuf};

/// Where records are kept when the configuration names no `"dataDir"`.
pub const DEFAULT_DIR: &str = "/var/lib/cni/nsnet";

/// The most a record is read of: a line per rule an attachment holds,
/// far more than any container's port mappings fill.
const MAX_RECORD: u64 = 1 << 20;

/// The records of one network.
///
/// The network's folder and the records in it are never reached through
/// a symbolic link, and only regular files are read, without blocking:
/// a data folder others may write to (a `"dataDir"` under /tmp) cannot
/// make the plugin write over another file, nor hang on a FIFO or read
/// /dev/zero forever. Such a thing is refused, naming it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Records {
    dir: PathBuf,
}

impl Records {
    /// Network `net`'s records under `data_dir`.
    pub fn new(data_dir: &Path, net: &str) -> Records {
        Records {
            dir: data_dir.join(net),
        }
    }

    fn name(a: &Attachment) -> String {
        format!("{}:{}", a.container, a.ifname)
    }

    fn path(&self, a: &Attachment) -> PathBuf {
        self.dir.join(Records::name(a))
    }

    /// The network's folder, open, not followed if it is a symbolic link;
    /// `None` when it does not exist.
    fn open_dir(&self) -> Result<Option<OwnedFd>, Error> {
        match open(
            &self.dir,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => Ok(Some(fd)),
            Err(Errno::ENOENT) => Ok(None),
            Err(Errno::ELOOP | Errno::ENOTDIR) => Err(Error::failed(format!(
                "cannot use {}: it is not a folder but {} (the plugin never follows one there)",
                self.dir.display(),
                if std::fs::symlink_metadata(&self.dir).is_ok_and(|m| m.is_symlink()) {
                    "a symbolic link"
                } else {
                    "something else"
                }
            ))),
            Err(e) => Err(Error::os(format!("cannot open {}", self.dir.display()), e)),
        }
    }

    /// Writes the record of `a`, holding `rules`: whole or not at all (a
    /// new file of its own, renamed over the old one).
    pub fn write(&self, a: &Attachment, rules: &[Rule]) -> Result<(), Error> {
        let text: String = rules.iter().map(|r| format!("{r}\n")).collect();
        // The last record of another attachment may take the folder away
        // between its making and the write: once more then.
        match self.try_write(a, &text) {
            Err(e) if e.errno() == Some(Errno::ENOENT) => self.try_write(a, &text),
            done => done,
        }
    }

    fn try_write(&self, a: &Attachment, text: &str) -> Result<(), Error> {
        let path = self.path(a);
        let cannot = |e: Errno| Error::os(format!("cannot write {}", path.display()), e);
        if let Some(data_dir) = self.dir.parent() {
            std::fs::create_dir_all(data_dir)
                .map_err(|e| Error::io(format!("cannot make {}", data_dir.display()), &e))?;
        }
        match nix::unistd::mkdir(&self.dir, Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(Error::os(format!("cannot make {}", self.dir.display()), e)),
        }
        let dir = self.open_dir()?.ok_or_else(|| cannot(Errno::ENOENT))?;
        let name = Records::name(a);
        // A name of this run's own; one left by a killed run of the same
        // PID (or planted) is removed, never followed.
        let new = format!(".{name}.{}.new", std::process::id());
        match unlinkat(&dir, new.as_str(), UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(cannot(e)),
        }
        let file = openat(
            &dir,
            new.as_str(),
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::from_bits_truncate(0o644),
        )
        .map_err(cannot)?;
        let written = std::fs::File::from(file)
            .write_all(text.as_bytes())
            .map_err(|e| Error::io(format!("cannot write {}", path.display()), &e))
            .and_then(|()| renameat(&dir, new.as_str(), &dir, name.as_str()).map_err(cannot));
        if written.is_err() {
            let _ = unlinkat(&dir, new.as_str(), UnlinkatFlags::NoRemoveDir);
        }
        written
    }

    /// The rules the record of `a` holds; `None` when there is no record.
    pub fn read(&self, a: &Attachment) -> Result<Option<Vec<Rule>>, Error> {
        let path = self.path(a);
        let cannot = |e: Errno| Error::os(format!("cannot read {}", path.display()), e);
        let refuse = |what: &str| {
            Error::failed(format!(
                "cannot read {}: it is {what}, which no record of nsnet's is (remove it)",
                path.display()
            ))
        };
        let Some(dir) = self.open_dir()? else {
            return Ok(None);
        };
        let file = match openat(
            &dir,
            Records::name(a).as_str(),
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
            Mode::empty(),
        ) {
            Ok(fd) => fd,
            Err(Errno::ENOENT) => return Ok(None),
            Err(Errno::ELOOP) => return Err(refuse("a symbolic link")),
            Err(e) => return Err(cannot(e)),
        };
        let stat = fstat(&file).map_err(cannot)?;
        if SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT != SFlag::S_IFREG {
            return Err(refuse("not a regular file"));
        }
        let mut bytes = Vec::new();
        std::fs::File::from(file)
            .take(MAX_RECORD + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| Error::io(format!("cannot read {}", path.display()), &e))?;
        if bytes.len() as u64 > MAX_RECORD {
            return Err(refuse("larger than any record"));
        }
        let text = String::from_utf8_lossy(&bytes);
        text.lines()
            .filter(|l| !l.trim().is_empty())
            .map(|l| match l.parse::<Line>() {
                Ok(Line {
                    rule: LineRule::Rule(rule),
                    ..
                }) => Ok(rule),
                _ => Err(Error::failed(format!(
                    "cannot read {}: '{l}' is not a rule of natctl's",
                    path.display()
                ))),
            })
            .collect::<Result<_, _>>()
            .map(Some)
    }

    /// Removes the record of `a` (none is fine), and the network's folder
    /// and the data folder when it was the last: what the plugin made is
    /// gone with the last attachment.
    pub fn remove(&self, a: &Attachment) -> Result<(), Error> {
        let Some(dir) = self.open_dir()? else {
            return Ok(());
        };
        let path = self.path(a);
        match unlinkat(&dir, Records::name(a).as_str(), UnlinkatFlags::NoRemoveDir) {
            Ok(()) | Err(Errno::ENOENT) => {}
            Err(e) => return Err(Error::os(format!("cannot remove {}", path.display()), e)),
        }
        drop(dir);
        // Another attachment's record keeps them: not an error.
        if std::fs::remove_dir(&self.dir).is_ok() {
            if let Some(data_dir) = self.dir.parent() {
                let _ = std::fs::remove_dir(data_dir);
            }
        }
        Ok(())
    }

    /// Every attachment with a record; names that are not one are no
    /// record of ours and are left alone.
    pub fn list(&self) -> Result<Vec<Attachment>, Error> {
        let Some(dir) = self.open_dir()? else {
            return Ok(Vec::new());
        };
        // The folder opened, not whatever its path names by now.
        let entries = std::fs::read_dir(format!("/proc/self/fd/{}", dir.as_raw_fd()))
            .map_err(|e| Error::io(format!("cannot read {}", self.dir.display()), &e))?;
        let mut found: Vec<Attachment> = entries
            .filter_map(|e| {
                let name = e.ok()?.file_name().into_string().ok()?;
                let (container, ifname) = name.split_once(':')?;
                Some(Attachment {
                    container: container.parse().ok()?,
                    ifname: ifname.parse().ok()?,
                })
            })
            .collect();
        found.sort();
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attachment(id: &str, ifname: &str) -> Attachment {
        Attachment {
            container: id.parse().unwrap(),
            ifname: ifname.parse().unwrap(),
        }
    }

    fn rule(line: &str) -> Rule {
        match line.parse::<Line>().unwrap().rule {
            LineRule::Rule(r) => r,
            LineRule::Subnet(_) => panic!("a whole line"),
        }
    }

    #[test]
    fn records_are_written_read_listed_and_removed() {
        let root = std::env::temp_dir().join(format!("nsnet-records-{}", std::process::id()));
        let records = Records::new(&root, "net1");
        let (a, b) = (attachment("c1", "eth0"), attachment("c2", "eth1"));
        assert_eq!(records.read(&a).unwrap(), None);
        assert_eq!(records.list().unwrap(), []);
        records.remove(&a).unwrap();
        let held = [
            rule("10.77.0.0/24 masquerade out=any"),
            rule("publish tcp 8080 -> 10.77.0.2:80 host=any"),
        ];
        records.write(&a, &held).unwrap();
        records.write(&b, &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(root.join("net1/c1:eth0")).unwrap(),
            "10.77.0.0/24 masquerade out=any\npublish tcp 8080 -> 10.77.0.2:80 host=any\n"
        );
        assert_eq!(records.read(&a).unwrap().unwrap(), held);
        assert_eq!(records.read(&b).unwrap().unwrap(), []);
        std::fs::write(root.join("net1/not-a-record"), "").unwrap();
        assert_eq!(records.list().unwrap(), [a.clone(), b.clone()]);
        std::fs::remove_file(root.join("net1/not-a-record")).unwrap();
        records.remove(&a).unwrap();
        assert!(root.join("net1").exists(), "b's record keeps the folder");
        records.remove(&b).unwrap();
        assert!(!root.exists(), "the last record takes the folders");
        records.write(&a, &[]).unwrap();
        std::fs::write(root.join("net1/c1:eth0"), "nonsense\n").unwrap();
        let e = records.read(&a).unwrap_err().to_string();
        assert!(e.ends_with("'nonsense' is not a rule of natctl's"), "{e}");
        std::fs::remove_dir_all(&root).unwrap();
    }

    /// A data folder others may write to: what they plant is never
    /// followed, written through, blocked on or read without end.
    #[test]
    fn what_others_plant_is_refused_never_followed() {
        let root = std::env::temp_dir().join(format!("nsnet-planted-{}", std::process::id()));
        let records = Records::new(&root, "net1");
        let a = attachment("c1", "eth0");
        let net = root.join("net1");
        std::fs::create_dir_all(&net).unwrap();
        let victim = root.join("victim");
        std::fs::write(&victim, "10.9.0.0/24 masquerade out=any\n").unwrap();
        let temp = net.join(format!(".c1:eth0.{}.new", std::process::id()));
        std::os::unix::fs::symlink(&victim, &temp).unwrap();
        records.write(&a, &[]).unwrap();
        assert_eq!(
            std::fs::read_to_string(&victim).unwrap(),
            "10.9.0.0/24 masquerade out=any\n",
            "written through a planted symlink"
        );
        assert!(!temp.exists() && !temp.is_symlink());
        let record = net.join("c1:eth0");
        std::fs::remove_file(&record).unwrap();
        std::os::unix::fs::symlink(&victim, &record).unwrap();
        let e = records.read(&a).unwrap_err().to_string();
        assert!(e.contains("it is a symbolic link, which no record"), "{e}");
        records.write(&a, &[]).unwrap();
        assert!(!record.is_symlink(), "the record replaces the link itself");
        assert!(victim.exists());
        std::fs::remove_file(&record).unwrap();
        std::os::unix::fs::symlink("/dev/zero", &record).unwrap();
        assert!(records.read(&a).is_err());
        std::fs::remove_file(&record).unwrap();
        nix::unistd::mkfifo(&record, Mode::from_bits_truncate(0o644)).unwrap();
        let e = records.read(&a).unwrap_err().to_string();
        assert!(e.contains("not a regular file"), "{e}");
        assert_eq!(records.list().unwrap(), std::slice::from_ref(&a));
        records.remove(&a).unwrap();
        assert!(!record.exists(), "a planted record goes like a record");
        // The network's folder itself a symbolic link: refused.
        let elsewhere = root.join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::remove_dir(&net).ok();
        std::os::unix::fs::symlink(&elsewhere, &net).unwrap();
        for e in [
            records.write(&a, &[]).unwrap_err(),
            records.read(&a).unwrap_err(),
            records.list().unwrap_err(),
        ] {
            assert!(
                e.to_string()
                    .contains("it is not a folder but a symbolic link"),
                "{e}"
            );
        }
        assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0);
        std::fs::remove_dir_all(&root).unwrap();
    }
}
