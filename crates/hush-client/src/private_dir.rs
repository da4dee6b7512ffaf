//! A private directory for values delivered as files, made the same way by the SDK
//! ([`crate::secrets::file`]) and by `hush run`.
//!
//! The directory has mode 0700 and is removed, with what it holds, when its [`PrivateDir`] is
//! dropped (or [`PrivateDir::close`]d). Each file is written under a temporary name and
//! renamed into place, mode 0600 from the instant it exists: a reader never sees part of a
//! value, and a write that failed leaves nothing behind.
//!
//! A process can die without removing its directory (SIGKILL). `hush run` makes its
//! directory with [`PrivateDir::for_run`]: named `hush-run.<pid>.<random>` and `flock`ed for
//! its whole life (close-on-exec, so the command does not inherit the lock), so that a later
//! run's [`sweep`] can tell a dead run's directory from a live one's and remove it. The SDK's
//! own directories belong to a long-lived process that removes them itself, and are not
//! swept (docs/decisions.md).

use std::io::Write as _;
use std::path::{Path, PathBuf};

/// The name of every `hush run` directory starts so. Older hush named it `hush-run-<base64>`:
/// the dot, which URL-safe base64 never holds, keeps those from being read as a pid.
pub const RUN_PREFIX: &str = "hush-run.";

/// A private directory, removed when dropped.
#[derive(Debug)]
pub struct PrivateDir {
    // Declared first, so dropped first: the directory is removed before the lock is released.
    dir: tempfile::TempDir,
    /// The open directory holding the run's lock (`hush run` only).
    _lock: Option<std::fs::File>,
}

impl PrivateDir {
    /// A new private directory in `base`, named `<prefix><random>`.
    pub fn new_in(base: &Path, prefix: &str) -> std::io::Result<Self> {
        Ok(PrivateDir {
            dir: make(base, prefix)?,
            _lock: None,
        })
    }

    /// A new directory for a `hush run` in `base`, named `hush-run.<pid>.<random>` and locked
    /// until it is dropped (see the [module docs](self)).
    #[cfg(unix)]
    pub fn for_run(base: &Path) -> std::io::Result<Self> {
        let dir = make(base, &format!("{RUN_PREFIX}{}.", std::process::id()))?;
        // On failure `dir` is dropped, which removes it.
        let lock = std::fs::File::from(open_dir(dir.path())?);
        rustix::fs::flock(&lock, rustix::fs::FlockOperation::NonBlockingLockExclusive)?;
        Ok(PrivateDir {
            dir,
            _lock: Some(lock),
        })
    }

    /// Where it is.
    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `value` to the file `name` in the directory (mode 0600) and returns its path.
    /// A file of that name already there is left as it is: the error's kind is
    /// [`std::io::ErrorKind::AlreadyExists`].
    pub fn write(&self, name: &str, value: &[u8]) -> std::io::Result<PathBuf> {
        let path = self.path().join(name);
        // A dot name: never a key (keys do not start with `.`), so never a delivered name.
        let mut tmp = tempfile::Builder::new()
            .prefix(".tmp-")
            .tempfile_in(self.path())?;
        tmp.write_all(value)?;
        tmp.as_file().sync_all()?;
        // On failure the temporary file is dropped, which removes it.
        tmp.persist_noclobber(&path).map_err(|e| e.error)?;
        Ok(path)
    }

    /// Removes the directory now, reporting a failure that dropping would ignore.
    pub fn close(self) -> std::io::Result<()> {
        self.dir.close()
    }
}

/// A new directory in `base` named `<prefix><random>`, mode exactly 0700.
fn make(base: &Path, prefix: &str) -> std::io::Result<tempfile::TempDir> {
    let mut b = tempfile::Builder::new();
    b.prefix(prefix).rand_bytes(16);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        b.permissions(std::fs::Permissions::from_mode(0o700));
    }
    let dir = b.tempdir_in(base)?;
    // The umask may have narrowed the mode; say it exactly.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o700))?;
    }
    Ok(dir)
}

/// Opens a directory itself, never a symlink to one, close-on-exec.
#[cfg(unix)]
fn open_dir(path: &Path) -> std::io::Result<std::os::fd::OwnedFd> {
    use rustix::fs::OFlags;
    Ok(rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?)
}

/// Removes the directories of dead runs in `base`: named `hush-run.<pid>.…`, a directory (not
/// a symlink), owned by this user, not locked by a live run, and whose pid is gone (the pid
/// covers the instant between a run's `mkdir` and its lock). A directory of an older hush
/// (no pid in its name) cannot be told from a live run's and is left alone. Errors are
/// ignored: sweeping is housekeeping, never a reason not to run.
#[cfg(unix)]
pub fn sweep(base: &Path) {
    use std::os::unix::fs::MetadataExt as _;
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    let me = rustix::process::geteuid().as_raw();
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Some(pid) = name
            .to_str()
            .and_then(|n| n.strip_prefix(RUN_PREFIX))
            .and_then(|rest| rest.split_once('.'))
            .and_then(|(pid, _)| pid.parse::<i32>().ok())
            .and_then(rustix::process::Pid::from_raw)
        else {
            continue;
        };
        let path = entry.path();
        let Ok(dir) = open_dir(&path) else { continue };
        let owned = std::fs::File::from(dir);
        if !owned.metadata().is_ok_and(|m| m.uid() == me && m.is_dir()) {
            continue;
        }
        if rustix::fs::flock(&owned, rustix::fs::FlockOperation::NonBlockingLockExclusive).is_err()
        {
            continue; // a live run holds it
        }
        let gone = matches!(
            rustix::process::test_kill_process(pid),
            Err(rustix::io::Errno::SRCH)
        );
        if gone {
            let _ = std::fs::remove_dir_all(&path);
        }
    }
}

#[cfg(all(test, unix))]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use std::os::unix::fs::PermissionsExt as _;

    fn mode(p: &Path) -> u32 {
        std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn files_are_private_exact_and_written_once() {
        let base = tempfile::tempdir().unwrap();
        let d = PrivateDir::new_in(base.path(), "hush-secrets-").unwrap();
        assert_eq!(d.path().parent().unwrap(), base.path());
        assert!(d
            .path()
            .file_name()
            .unwrap()
            .to_str()
            .unwrap()
            .starts_with("hush-secrets-"));
        assert_eq!(mode(d.path()), 0o700);
        let p = d.write("gh.token", b"line1\nline2\0").unwrap();
        assert_eq!(p, d.path().join("gh.token"));
        assert_eq!(std::fs::read(&p).unwrap(), b"line1\nline2\0");
        assert_eq!(mode(&p), 0o600);
        // A second write of the name keeps the first value and leaves no temporary file.
        let again = d.write("gh.token", b"other").unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&p).unwrap(), b"line1\nline2\0");
        let names: Vec<_> = std::fs::read_dir(d.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, ["gh.token"]);
        let dir = d.path().to_path_buf();
        drop(d);
        assert!(!dir.exists());
    }

    #[test]
    fn close_removes_the_directory() {
        let base = tempfile::tempdir().unwrap();
        let d = PrivateDir::new_in(base.path(), "x-").unwrap();
        d.write("k", b"v").unwrap();
        let dir = d.path().to_path_buf();
        d.close().unwrap();
        assert!(!dir.exists());
    }

    #[test]
    fn a_run_directory_is_named_for_its_pid_and_kept_while_it_lives() {
        let base = tempfile::tempdir().unwrap();
        let d = PrivateDir::for_run(base.path()).unwrap();
        let name = d.path().file_name().unwrap().to_str().unwrap().to_string();
        let rest = name
            .strip_prefix(&format!("{RUN_PREFIX}{}.", std::process::id()))
            .unwrap();
        assert_eq!(rest.len(), 16, "{name}");
        assert_eq!(mode(d.path()), 0o700);
        // Locked and this process alive: not swept.
        sweep(base.path());
        assert!(d.path().exists());
        let dir = d.path().to_path_buf();
        drop(d);
        assert!(!dir.exists());
    }

    #[test]
    fn sweep_removes_only_unlocked_directories_of_dead_pids() {
        let base = tempfile::tempdir().unwrap();
        let dead = {
            let mut t = std::process::Command::new("true").spawn().unwrap();
            let pid = t.id();
            t.wait().unwrap();
            pid
        };
        let stale = base.path().join(format!("{RUN_PREFIX}{dead}.abc"));
        std::fs::create_dir(&stale).unwrap();
        std::fs::write(stale.join("k"), b"v").unwrap();
        // This process is alive: its unlocked directory may be between mkdir and flock.
        let alive = base
            .path()
            .join(format!("{RUN_PREFIX}{}.abc", std::process::id()));
        std::fs::create_dir(&alive).unwrap();
        let older = base.path().join(format!("hush-run-{dead}-older"));
        std::fs::create_dir(&older).unwrap();
        let file = base.path().join(format!("{RUN_PREFIX}{dead}.file"));
        std::fs::write(&file, b"not a directory").unwrap();
        let elsewhere = tempfile::tempdir().unwrap();
        let link = base.path().join(format!("{RUN_PREFIX}{dead}.link"));
        std::os::unix::fs::symlink(elsewhere.path(), &link).unwrap();
        sweep(base.path());
        assert!(!stale.exists());
        assert!(alive.exists() && older.exists() && file.exists());
        assert!(link.symlink_metadata().is_ok() && elsewhere.path().exists());
    }
}
