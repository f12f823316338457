//! The pid file (`nsrun --pid-file PATH`), written so that a path in a
//! directory others may write to (`/tmp`) cannot be turned against its
//! writer:
//!
//! - PATH's directory is reached component by component, following a
//!   symbolic link only when someone other than its owner cannot have
//!   planted it: not in a world-writable sticky directory, or owned by us
//!   or by that directory's owner (the kernel's `protected_symlinks` rule,
//!   applied whatever that switch says).
//! - PATH itself is never followed, opened or written: the PID goes into a
//!   new file made beside it (`O_CREAT|O_EXCL`) and is renamed into place,
//!   so a reader sees the whole line or nothing, and no existing file's
//!   contents ever change.
//! - Something already at PATH is replaced only when it is a *stale pid
//!   file of ours*: a regular file with one link, owned by the user we run
//!   as, holding nothing but one PID (decimal digits and an optional
//!   newline) of a process that no longer exists. Anything else — a
//!   symlink, a FIFO (never opened, so never blocked on), a directory, a
//!   file of someone else's or with other content, the PID of a running
//!   process (another nsrun's) — is refused before anything is done.
//! - On drop, PATH is removed only if it is still the very file written.

use crate::error::Error;
use nix::errno::Errno;
use nix::fcntl::{openat, readlinkat, renameat2, AtFlags, OFlag, RenameFlags, AT_FDCWD};
use nix::sys::stat::{fstat, fstatat, FileStat, Mode, SFlag};
use nix::unistd::{faccessat, unlinkat, AccessFlags, Pid, UnlinkatFlags};
use std::collections::VecDeque;
use std::ffi::{OsStr, OsString};
use std::io::{Read, Write};
use std::os::fd::OwnedFd;
use std::path::{Component, Path, PathBuf};

/// Symbolic links followed in one walk before giving up, as the kernel.
const MAX_LINKS: usize = 40;

/// The longest content a pid file of ours can have: a PID and a newline.
const MAX_CONTENT: usize = 16;

/// A pid file: checked and ready ([`PidFile::prepare`]), then in place
/// ([`PidFile::write`]), then removed ([`PidFile::remove`], or on drop) if
/// it is still the one written.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    dir: OwnedFd,
    name: OsString,
    /// The stale pid file of ours found at PATH, which the new one replaces.
    stale: Option<FileId>,
    /// The file written and renamed to PATH.
    placed: Option<FileId>,
}

/// Which file a directory entry is, to tell later whether it is the same.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FileId {
    dev: u64,
    ino: u64,
}

impl FileId {
    fn of(stat: &FileStat) -> FileId {
        FileId {
            dev: stat.st_dev,
            ino: stat.st_ino,
        }
    }
}

/// What is at PATH before nsrun writes it.
#[derive(Debug, PartialEq, Eq)]
enum Found {
    Nothing,
    /// A stale pid file of ours: replaced.
    Stale(FileId),
    /// Anything else, with the reason it is not replaced.
    Foreign(String),
}

impl PidFile {
    /// Reaches PATH's directory safely and checks what is at PATH; nothing
    /// is written yet. Fails, naming why, when PATH could only be written
    /// through a planted symlink, over something not a stale pid file of
    /// ours, or not at all (a read-only or missing directory).
    pub fn prepare(path: PathBuf) -> Result<PidFile, Error> {
        let fail = |why: String| {
            Error::failed(format!(
                "cannot write the pid file {}: {why}",
                path.display()
            ))
        };
        let os = |errno: Errno| {
            Error::io(
                format!("cannot write the pid file {}", path.display()),
                &std::io::Error::from(errno),
            )
        };
        let name = match path.file_name() {
            Some(name) if !path.as_os_str().as_encoded_bytes().ends_with(b"/") => name.to_owned(),
            _ => return Err(fail("it does not name a file".into())),
        };
        let parent = path.parent().unwrap_or(Path::new(""));
        let dir = open_dir(parent).map_err(|e| match e {
            Walk::Os(errno) => os(errno),
            Walk::Planted { link, owner } => fail(format!(
                "{} is a symbolic link in a world-writable sticky directory, owned by \
                 user {owner} (nsrun follows only its own or the directory owner's there)",
                link.display()
            )),
        })?;
        let stale = match examine(&dir, &name).map_err(os)? {
            Found::Nothing => None,
            Found::Stale(id) => Some(id),
            Found::Foreign(why) => return Err(fail(why)),
        };
        // Root passes the permission bits, but not a read-only file system:
        // ask as we are, so neither surprises the write after the clone.
        faccessat(
            &dir,
            ".",
            AccessFlags::W_OK | AccessFlags::X_OK,
            AtFlags::AT_EACCESS,
        )
        .map_err(os)?;
        Ok(PidFile {
            path,
            dir,
            name,
            stale,
            placed: None,
        })
    }

    /// Writes `pid` as one line into a new file beside PATH and renames it
    /// into place: over the stale pid file found, or where nothing is (a
    /// file that appeared meanwhile is not replaced).
    pub fn write(&mut self, pid: Pid) -> Result<(), Error> {
        let what = || format!("cannot write the pid file {}", self.path.display());
        let (temp, file) = self
            .create_temp()
            .map_err(|e| Error::io(what(), &e.into()))?;
        let id = FileId::of(&fstat(&file).map_err(|e| Error::io(what(), &e.into()))?);
        let written = std::fs::File::from(file).write_all(format!("{pid}\n").as_bytes());
        let placed = written.map_err(|e| Error::io(what(), &e)).and_then(|()| {
            self.place(&temp).map_err(|e| match e {
                Errno::EEXIST => Error::failed(format!(
                    "{}: a file appeared there meanwhile (remove it, or choose another path)",
                    what()
                )),
                errno => Error::io(what(), &errno.into()),
            })
        });
        if placed.is_err() {
            let _ = unlinkat(&self.dir, temp.as_os_str(), UnlinkatFlags::NoRemoveDir);
        } else {
            self.placed = Some(id);
        }
        placed
    }

    /// A new, empty file beside PATH, named `.NAME.PID.N` after nsrun.
    fn create_temp(&self) -> Result<(OsString, OwnedFd), Errno> {
        let mut n = 0;
        loop {
            let mut temp = OsString::from(".");
            temp.push(&self.name);
            temp.push(format!(".{}.{n}", std::process::id()));
            match openat(
                &self.dir,
                temp.as_os_str(),
                OFlag::O_WRONLY
                    | OFlag::O_CREAT
                    | OFlag::O_EXCL
                    | OFlag::O_NOFOLLOW
                    | OFlag::O_CLOEXEC,
                Mode::from_bits_truncate(0o644),
            ) {
                Ok(fd) => return Ok((temp, fd)),
                // Left by an earlier run with our PID, or planted: another name.
                Err(Errno::EEXIST) if n < 100 => n += 1,
                Err(e) => return Err(e),
            }
        }
    }

    /// Renames `temp` to PATH: over the stale file (if it is still the one
    /// examined), or only where nothing is.
    fn place(&self, temp: &OsStr) -> Result<(), Errno> {
        let flags = match self.stale {
            Some(id) if entry_id(&self.dir, &self.name)? == Some(id) => RenameFlags::empty(),
            // The stale file went meanwhile, or something replaced it:
            // nothing is clobbered either way.
            _ => RenameFlags::RENAME_NOREPLACE,
        };
        renameat2(&self.dir, temp, &self.dir, self.name.as_os_str(), flags)
    }
}

impl PidFile {
    /// Removes PATH if it is still the file written: whatever replaced it
    /// meanwhile is not ours to remove, and one already gone is no failure.
    pub fn remove(mut self) -> Result<(), Error> {
        self.remove_placed().map_err(|errno| {
            Error::io(
                format!("cannot remove the pid file {}", self.path.display()),
                &errno.into(),
            )
        })
    }

    fn remove_placed(&mut self) -> Result<(), Errno> {
        let Some(id) = self.placed.take() else {
            return Ok(());
        };
        if entry_id(&self.dir, &self.name)? != Some(id) {
            return Ok(());
        }
        match unlinkat(&self.dir, self.name.as_os_str(), UnlinkatFlags::NoRemoveDir) {
            Err(Errno::ENOENT) => Ok(()),
            done => done,
        }
    }
}

impl Drop for PidFile {
    /// When the run stops early: the same removal, its failure unreported.
    fn drop(&mut self) {
        let _ = self.remove_placed();
    }
}

/// The file a directory entry names, without following a symlink; `None`
/// when there is no such entry.
fn entry_id(dir: &OwnedFd, name: &OsStr) -> Result<Option<FileId>, Errno> {
    match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) => Ok(Some(FileId::of(&stat))),
        Err(Errno::ENOENT) => Ok(None),
        Err(e) => Err(e),
    }
}

/// What is at `name` in `dir`, and whether it may be replaced.
fn examine(dir: &OwnedFd, name: &OsStr) -> Result<Found, Errno> {
    let stat = match fstatat(dir, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
        Ok(stat) => stat,
        Err(Errno::ENOENT) => return Ok(Found::Nothing),
        Err(e) => return Err(e),
    };
    // A file may be someone's to remove; anything else is not a pid file.
    let foreign = |why: &str| {
        Ok(Found::Foreign(format!(
            "{why} (remove it, or choose another path)"
        )))
    };
    let other = |what: &str| {
        Ok(Found::Foreign(format!(
            "{what}, not a pid file (choose another path)"
        )))
    };
    match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
        SFlag::S_IFREG => {}
        SFlag::S_IFLNK => {
            return other("a symbolic link is there, which nsrun never writes through")
        }
        SFlag::S_IFDIR => return other("it is a directory"),
        SFlag::S_IFIFO => return other("it is a FIFO"),
        SFlag::S_IFSOCK => return other("it is a socket"),
        _ => return other("it is a device"),
    }
    let me = nix::unistd::geteuid().as_raw();
    if stat.st_uid != me {
        return foreign(&format!(
            "it is a file of user {}, and a pid file of nsrun's would be this user's ({me})",
            stat.st_uid
        ));
    }
    if stat.st_nlink != 1 {
        return foreign("it has other hard links, which a pid file of nsrun's never has");
    }
    // Never blocks: a FIFO swapped in since the look above is opened
    // non-blocking, and refused by the look at what was opened.
    let file = openat(
        dir,
        name,
        OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_CLOEXEC,
        Mode::empty(),
    )?;
    if FileId::of(&fstat(&file)?) != FileId::of(&stat) {
        return other("it changed while nsrun looked at it");
    }
    let mut content = Vec::new();
    std::fs::File::from(file)
        .take(MAX_CONTENT as u64 + 1)
        .read_to_end(&mut content)
        .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(Errno::EIO as i32)))?;
    let Some(pid) = pid_in(&content) else {
        return foreign("it holds something other than one PID, so it is not a pid file");
    };
    match nix::sys::signal::kill(pid, None) {
        Err(Errno::ESRCH) => Ok(Found::Stale(FileId::of(&stat))),
        _ => Ok(Found::Foreign(format!(
            "it holds the PID {pid} of a running process (is another nsrun using it?)"
        ))),
    }
}

/// The PID a pid file holds: decimal digits, an optional newline, nothing
/// else.
fn pid_in(content: &[u8]) -> Option<Pid> {
    let digits = content.strip_suffix(b"\n").unwrap_or(content);
    if digits.is_empty() || digits.len() > MAX_CONTENT || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let pid: i32 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    (pid > 0).then(|| Pid::from_raw(pid))
}

/// Why a directory could not be reached.
#[derive(Debug, PartialEq, Eq)]
enum Walk {
    Os(Errno),
    /// A symlink someone else may have planted, and its owner.
    Planted {
        link: PathBuf,
        owner: u32,
    },
}

impl From<Errno> for Walk {
    fn from(errno: Errno) -> Walk {
        Walk::Os(errno)
    }
}

/// One step of a walk.
#[derive(Debug)]
enum Step {
    Root,
    Name(OsString),
}

fn steps(path: &Path) -> impl DoubleEndedIterator<Item = Step> + '_ {
    path.components().filter_map(|c| match c {
        Component::RootDir => Some(Step::Root),
        Component::CurDir | Component::Prefix(_) => None,
        Component::ParentDir => Some(Step::Name("..".into())),
        Component::Normal(name) => Some(Step::Name(name.to_owned())),
    })
}

/// Opens the directory `path` (empty: the working directory), one
/// component at a time, following a symbolic link only where its owner is
/// the only one who could have put it there: outside world-writable sticky
/// directories, or owned by us or by the directory's owner.
fn open_dir(path: &Path) -> Result<OwnedFd, Walk> {
    let flags = OFlag::O_PATH | OFlag::O_CLOEXEC;
    let mut dir = openat(AT_FDCWD, ".", flags | OFlag::O_DIRECTORY, Mode::empty())?;
    let mut todo: VecDeque<Step> = steps(path).collect();
    // The path walked so far, links replaced by their targets: for messages.
    let mut walked = PathBuf::new();
    let mut links = 0;
    let me = nix::unistd::geteuid().as_raw();
    while let Some(step) = todo.pop_front() {
        let name = match step {
            Step::Root => {
                dir = openat(AT_FDCWD, "/", flags | OFlag::O_DIRECTORY, Mode::empty())?;
                walked = PathBuf::from("/");
                continue;
            }
            Step::Name(name) => name,
        };
        let next = openat(
            &dir,
            name.as_os_str(),
            flags | OFlag::O_NOFOLLOW,
            Mode::empty(),
        )?;
        let stat = fstat(&next)?;
        walked.push(&name);
        match SFlag::from_bits_truncate(stat.st_mode) & SFlag::S_IFMT {
            SFlag::S_IFDIR => dir = next,
            SFlag::S_IFLNK => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(Walk::Os(Errno::ELOOP));
                }
                let parent = fstat(&dir)?;
                let mode = Mode::from_bits_truncate(parent.st_mode);
                let shared = mode.contains(Mode::S_ISVTX) && mode.contains(Mode::S_IWOTH);
                if shared && stat.st_uid != me && stat.st_uid != parent.st_uid {
                    return Err(Walk::Planted {
                        link: walked,
                        owner: stat.st_uid,
                    });
                }
                let target = PathBuf::from(readlinkat(&next, "")?);
                for step in steps(&target).rev() {
                    todo.push_front(step);
                }
                walked.pop();
            }
            _ => return Err(Walk::Os(Errno::ENOTDIR)),
        }
    }
    Ok(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pid_file_holds_one_pid_and_nothing_else() {
        assert_eq!(pid_in(b"1234\n"), Some(Pid::from_raw(1234)));
        assert_eq!(pid_in(b"1234"), Some(Pid::from_raw(1234)));
        for bad in [
            &b""[..],
            b"\n",
            b"0\n",
            b"-5\n",
            b"12 34\n",
            b"1234\n\n",
            b" 1234\n",
            b"99999999999\n",
            b"root:x:0:0\n",
        ] {
            assert_eq!(pid_in(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn the_walk_follows_links_as_the_kernel_would_and_stops_where_it_does() {
        let base = std::env::temp_dir().join(format!("nsnet-pidfile-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&base);
        std::fs::create_dir_all(base.join("real/sub")).unwrap();
        std::fs::write(base.join("plain"), "x").unwrap();
        std::os::unix::fs::symlink("real", base.join("rel")).unwrap();
        std::os::unix::fs::symlink(base.join("real"), base.join("abs")).unwrap();
        std::os::unix::fs::symlink("../real/sub", base.join("real/up")).unwrap();
        std::os::unix::fs::symlink("loop", base.join("loop")).unwrap();
        let id = |path: &Path| FileId::of(&nix::sys::stat::stat(path).unwrap());
        let walked = |path: &Path| open_dir(path).map(|fd| FileId::of(&fstat(&fd).unwrap()));
        let sub = id(&base.join("real/sub"));
        assert_eq!(walked(&base.join("rel/sub")), Ok(sub));
        assert_eq!(walked(&base.join("abs/./sub")), Ok(sub));
        assert_eq!(walked(&base.join("real/up")), Ok(sub));
        assert_eq!(walked(&base.join("rel/up/../sub")), Ok(sub));
        assert_eq!(walked(&base.join("plain")), Err(Walk::Os(Errno::ENOTDIR)));
        assert_eq!(walked(&base.join("nothing")), Err(Walk::Os(Errno::ENOENT)));
        assert_eq!(walked(&base.join("loop")), Err(Walk::Os(Errno::ELOOP)));
        std::fs::remove_dir_all(&base).unwrap();
    }
}
