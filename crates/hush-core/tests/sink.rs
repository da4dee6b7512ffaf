//! The audit file (`Hush::with_audit_sink`): every row, as `hush audit export` spells it, in
//! the file before the answer; a file that cannot be written fails audited calls, and the rows
//! missed meanwhile are written first once it can.

use std::path::Path;
use std::sync::Arc;

use hush_core::audit::AuditFilter;
use hush_core::token::Role;
use hush_core::{Error, Hush, MetadataPatch};

use crate::common::{bytes, Env};

/// The file's lines, and what `hush audit export` would print for the store's rows after
/// `after` (the chain's head when the sink started).
async fn file_and_export(hush: &Hush, path: &Path, after: i64) -> (Vec<String>, Vec<String>) {
    let text = std::fs::read_to_string(path).unwrap();
    let file = text.lines().map(str::to_string).collect();
    let rows = hush
        .store()
        .audit(&AuditFilter {
            after_seq: Some(after),
            ..AuditFilter::default()
        })
        .await
        .unwrap();
    let export = rows
        .iter()
        .map(|r| hush_core::wire::audit_line(&hush_core::wire::audit(r)).unwrap())
        .collect();
    (file, export)
}

async fn head(hush: &Hush) -> i64 {
    hush.store()
        .audit_head()
        .await
        .unwrap()
        .map_or(0, |r| r.seq)
}

async fn reveal(env: &Env, hush: &Hush, key: &str) -> Result<Vec<u8>, Error> {
    hush.reveal(&env.ws, key, None, None, &env.admin)
        .await
        .map(|r| r.value.expose_secret().to_vec())
}

/// On the committer thread (a multi-thread runtime, as the server runs): concurrent reads,
/// writes and an operation that appends its row outside the group commit (a token) all reach
/// the file, in chain order, as export lines; never a value.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_row_reaches_the_file_as_export_spells_it() {
    let env = Env::new().await;
    env.put("before", b"not-in-the-file").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let hush = env.reopen().await;
    let start = head(&hush).await;
    let hush = Arc::new(hush.with_audit_sink(&path).await.unwrap());
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
    let planted = b"planted-sink-value-31";
    hush.put(
        &env.ws,
        "db",
        None,
        &bytes(planted),
        &MetadataPatch::default(),
        &env.admin,
    )
    .await
    .unwrap();
    let mut tasks = Vec::new();
    for _ in 0..16 {
        let hush = Arc::clone(&hush);
        let ws = env.ws.clone();
        let admin = env.admin.clone();
        tasks.push(tokio::spawn(async move {
            hush.reveal(&ws, "db", None, None, &admin).await.map(|_| ())
        }));
    }
    for t in tasks {
        t.await.unwrap().unwrap();
    }
    hush.create_token(&env.ws, "ci", Role::Read, None, None, None, &env.admin)
        .await
        .unwrap();
    let (file, export) = file_and_export(&hush, &path, start).await;
    assert_eq!(file, export);
    assert_eq!(file.len(), 18, "{file:#?}");
    let actions: Vec<String> = file
        .iter()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["action"].to_string())
        .collect();
    assert_eq!(actions[0], "\"secret.create\"");
    assert_eq!(actions[17], "\"token.create\"");
    assert!(actions[1..17].iter().all(|a| a == "\"secret.read\""));
    let raw = std::fs::read(&path).unwrap();
    assert!(!raw.windows(planted.len()).any(|w| w == planted));
    assert!(!raw.windows(15).any(|w| w == b"not-in-the-file"));
}

/// A path that is a directory fails reads and other audited calls with `AuditSink`, naming
/// the path and the OS error. The store rows are committed already; once the path is a file
/// again they are written first, so the file has no gap. A torn last line (a write cut
/// short) does not swallow the next row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_unwritable_file_fails_closed_and_catches_up() {
    let env = Env::new().await;
    env.put("db", b"v").await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let hush = env.reopen().await;
    let start = head(&hush).await;
    let hush = hush.with_audit_sink(&path).await.unwrap();
    assert_eq!(reveal(&env, &hush, "db").await.unwrap(), b"v");
    let before = std::fs::read_to_string(&path).unwrap();
    assert_eq!(before.lines().count(), 1);

    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    match reveal(&env, &hush, "db").await {
        Err(Error::AuditSink { path: p, cause }) => {
            assert_eq!(p, path);
            assert!(cause.contains("os error"), "{cause}");
        }
        other => panic!("{:?}", other.map(|_| "a value")),
    }
    let e = hush
        .create_token(&env.ws, "ci", Role::Read, None, None, None, &env.admin)
        .await
        .unwrap_err();
    assert!(matches!(e, Error::AuditSink { .. }), "{e}");
    // The store has both rows: the store commits first, the file follows.
    assert_eq!(head(&hush).await, start + 3);

    std::fs::remove_dir(&path).unwrap();
    assert_eq!(reveal(&env, &hush, "db").await.unwrap(), b"v");
    let after = std::fs::read_to_string(&path).unwrap();
    let (_, export) = file_and_export(&hush, &path, start).await;
    let joined: Vec<String> = before
        .lines()
        .chain(after.lines())
        .map(str::to_string)
        .collect();
    assert_eq!(joined, export);
    assert_eq!(after.lines().count(), 3);

    // A crash in the middle of a line: after the restart, the next row starts a line of its
    // own.
    drop(hush);
    std::fs::write(&path, format!("{after}{{\"seq\":99,\"tor")).unwrap();
    let hush = env.reopen().await.with_audit_sink(&path).await.unwrap();
    assert_eq!(reveal(&env, &hush, "db").await.unwrap(), b"v");
    let text = std::fs::read_to_string(&path).unwrap();
    let last: Vec<&str> = text.lines().rev().take(2).collect();
    assert_eq!(last[1], "{\"seq\":99,\"tor");
    let row: serde_json::Value = serde_json::from_str(last[0]).unwrap();
    assert_eq!(row["action"], "secret.read");
    assert!(text.ends_with('\n'));
}

/// On a current-thread runtime (no committer thread), units are committed in place and the
/// file is written in place too.
#[tokio::test]
async fn in_place_commits_write_the_file_too() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let hush = env.reopen().await;
    let start = head(&hush).await;
    let hush = hush.with_audit_sink(&path).await.unwrap();
    hush.put(
        &env.ws,
        "k",
        None,
        &bytes(b"v"),
        &MetadataPatch::default(),
        &env.admin,
    )
    .await
    .unwrap();
    assert_eq!(reveal(&env, &hush, "k").await.unwrap(), b"v");
    let (file, export) = file_and_export(&hush, &path, start).await;
    assert_eq!(file.len(), 2);
    assert_eq!(file, export);
}

/// A path that cannot be opened is refused when the sink starts, naming it.
#[tokio::test]
async fn a_path_that_cannot_be_opened_is_refused_at_start() {
    let env = Env::new().await;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("missing-dir").join("audit.jsonl");
    match env.reopen().await.with_audit_sink(&path).await {
        Err(e @ Error::AuditSink { .. }) => {
            assert!(e.to_string().contains("missing-dir"), "{e}");
        }
        Err(e) => panic!("{e}"),
        Ok(_) => panic!("opened"),
    }
}
