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
use std::path::{Path, PathBuf};

/// Where records are kept when the configuration names no `"dataDir"`.
pub const DEFAULT_DIR: &str = "/var/lib/cni/nsnet";

/// The records of one network.
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

    fn path(&self, a: &Attachment) -> PathBuf {
        self.dir.join(format!("{}:{}", a.container, a.ifname))
    }

    /// Writes the record of `a`, holding `rules`: whole or not at all (a
    /// file of its own renamed over the old one).
    pub fn write(&self, a: &Attachment, rules: &[Rule]) -> Result<(), Error> {
        let path = self.path(a);
        let text: String = rules.iter().map(|r| format!("{r}\n")).collect();
        let new = self.dir.join(format!(".{}:{}.new", a.container, a.ifname));
        let write = || {
            std::fs::create_dir_all(&self.dir)?;
            std::fs::write(&new, &text)?;
            std::fs::rename(&new, &path)
        };
        // The last record of another attachment may take the folder away
        // between its making and the write: once more then.
        write()
            .or_else(|e| match e.kind() {
                std::io::ErrorKind::NotFound => write(),
                _ => Err(e),
            })
            .map_err(|e| {
                let _ = std::fs::remove_file(&new);
                Error::io(format!("cannot write {}", path.display()), &e)
            })
    }

    /// The rules the record of `a` holds; `None` when there is no record.
    pub fn read(&self, a: &Attachment) -> Result<Option<Vec<Rule>>, Error> {
        let path = self.path(a);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(Error::io(format!("cannot read {}", path.display()), &e)),
        };
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
        let path = self.path(a);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(Error::io(format!("cannot remove {}", path.display()), &e)),
        }
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
        let entries = match std::fs::read_dir(&self.dir) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(Error::io(format!("cannot read {}", self.dir.display()), &e)),
        };
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
}
