//! The streaming audit sink: every audit row, as `hush audit export` prints it, appended to a
//! file before the request that made it is answered.
//!
//! The store stays the authority: it numbers and authenticates the rows inside its commit, so
//! the file is written after the commit, from the rows as stored. The sink follows the chain's
//! tail: after a batch commits, it reads every row past the last one it wrote
//! ([`Store::audit_after`], one query on the primary key) and appends them with one write and
//! one `fsync`, then the batch's requests are answered. A file that cannot be written fails
//! those requests (and every later one that appends a row) without moving its mark, so once
//! the file is writable again the rows missed meanwhile are written first, in order: the file
//! has no gap and no duplicate. Rows appended by other nodes or processes on the same store
//! come along at the next batch.
//!
//! The path is looked at before every write: when it no longer names the open file (rotated
//! away by logrotate, deleted, replaced), the file is opened again (created with mode 0600).
//! A write that failed half-way (or a crash in one) may leave a torn last line; the next write
//! after the failure, or after opening such a file, starts on a new line, so every complete
//! line stays one JSON object.

use std::fs::{File, OpenOptions};
use std::io::Write as _;
use std::path::{Path, PathBuf};

use tokio::sync::Mutex;

use crate::store::{Store, StoreError};

/// Most rows read back and written at once: a batch's rows (up to 64 units, a resolve call's
/// up to 500 each) mostly fit in one, and a long backlog after an outage does not have to fit
/// in memory at once.
const PAGE: usize = 4096;

/// Why the sink could not append: the file's path and the operating system's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SinkError {
    /// The file.
    pub(crate) path: PathBuf,
    /// What the operating system said.
    pub(crate) cause: String,
}

/// Why a unit of the group commit, or the audit file's append after it, failed.
#[derive(Debug, Clone)]
pub(crate) enum CommitError {
    /// The store failed (the commit, or reading the new rows back).
    Store(StoreError),
    /// The file could not be written.
    Sink(SinkError),
}

impl From<CommitError> for crate::error::Error {
    fn from(e: CommitError) -> Self {
        match e {
            CommitError::Store(e) => Self::Store(e),
            CommitError::Sink(SinkError { path, cause }) => Self::AuditSink { path, cause },
        }
    }
}

/// An append-only file of audit rows, one JSON line each.
pub(crate) struct AuditSink {
    path: PathBuf,
    state: Mutex<State>,
}

struct State {
    /// The open file, `None` after a failed write (opened again before the next).
    file: Option<File>,
    /// The sequence number of the newest row in the file (or of the chain's head when the
    /// sink started).
    written: i64,
    /// The file may end in a torn line (a write failed, or it did not end with a newline).
    torn: bool,
}

impl AuditSink {
    /// Opens (or creates, mode 0600) the file at `path`; rows after `after_seq` will be
    /// appended.
    pub(crate) fn open(path: &Path, after_seq: i64) -> Result<AuditSink, SinkError> {
        let fail = |e: std::io::Error| SinkError {
            path: path.to_path_buf(),
            cause: e.to_string(),
        };
        let file = open_append(path).map_err(fail)?;
        let torn = ends_torn(&file).map_err(fail)?;
        Ok(AuditSink {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                file: Some(file),
                written: after_seq,
                torn,
            }),
        })
    }

    /// Appends every row of `store`'s chain past the last one written, durably (written and
    /// `fsync`ed): one write for up to [`PAGE`] rows.
    pub(crate) async fn catch_up(&self, store: &dyn Store) -> Result<(), CommitError> {
        let mut state = self.state.lock().await;
        loop {
            let rows = store
                .audit_after(state.written, PAGE)
                .await
                .map_err(CommitError::Store)?;
            let Some(last) = rows.last().map(|r| r.seq) else {
                return Ok(());
            };
            let mut buf = Vec::with_capacity(rows.len() * 320);
            for r in &rows {
                let line = crate::wire::audit_line(&crate::wire::audit(r))
                    .map_err(|e| self.failed(format!("cannot encode row {}: {e}", r.seq)))?;
                buf.extend_from_slice(line.as_bytes());
                buf.push(b'\n');
            }
            if let Err(e) = self.append(&mut state, &buf) {
                state.file = None;
                state.torn = true;
                return Err(self.failed(e.to_string()));
            }
            state.written = last;
            if rows.len() < PAGE {
                return Ok(());
            }
        }
    }

    fn failed(&self, cause: String) -> CommitError {
        CommitError::Sink(SinkError {
            path: self.path.clone(),
            cause,
        })
    }

    fn append(&self, state: &mut State, lines: &[u8]) -> std::io::Result<()> {
        let file = match state.file.take() {
            Some(f) if same_file(&self.path, &f) => f,
            _ => open_append(&self.path)?,
        };
        let file = state.file.insert(file);
        if state.torn && ends_torn(file)? {
            file.write_all(b"\n")?;
        }
        state.torn = false;
        file.write_all(lines)?;
        file.sync_data()
    }
}

/// Opens `path` to append (and to read its last byte), creating it with mode 0600 (and
/// making its directory entry durable) when it does not exist. Anything but a regular file (or
/// a directory, which the open itself refuses) is refused: opening a FIFO would wait for a
/// reader.
fn open_append(path: &Path) -> std::io::Result<File> {
    if let Ok(m) = std::fs::metadata(path) {
        if !m.is_file() && !m.is_dir() {
            return Err(std::io::Error::other("not a regular file"));
        }
    }
    let mut o = OpenOptions::new();
    o.read(true).append(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut o, 0o600);
    match o.open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        other => return other,
    }
    match o.clone().create_new(true).open(path) {
        Ok(f) => {
            if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                File::open(dir)?.sync_all()?;
            }
            Ok(f)
        }
        // Created by someone else in between.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => o.open(path),
        Err(e) => Err(e),
    }
}

/// Whether `file` is non-empty and does not end with a newline.
#[cfg(unix)]
fn ends_torn(file: &File) -> std::io::Result<bool> {
    use std::os::unix::fs::FileExt as _;
    let len = file.metadata()?.len();
    if len == 0 {
        return Ok(false);
    }
    let mut last = [0u8; 1];
    file.read_exact_at(&mut last, len - 1)?;
    Ok(last[0] != b'\n')
}

/// Elsewhere a torn line is not looked for.
#[cfg(not(unix))]
fn ends_torn(_file: &File) -> std::io::Result<bool> {
    Ok(false)
}

/// Whether `path` still names the open `file` (not rotated away, deleted or replaced).
#[cfg(unix)]
fn same_file(path: &Path, file: &File) -> bool {
    use std::os::unix::fs::MetadataExt as _;
    match (std::fs::metadata(path), file.metadata()) {
        (Ok(p), Ok(f)) => p.dev() == f.dev() && p.ino() == f.ino(),
        _ => false,
    }
}

/// Elsewhere the file is opened again before every write.
#[cfg(not(unix))]
fn same_file(_path: &Path, _file: &File) -> bool {
    false
}
