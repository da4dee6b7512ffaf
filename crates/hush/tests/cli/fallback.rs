//! `hush run`'s offline fallback against a real server: the snapshot kept after a resolve
//! (sealed, 0600, no value in the clear), used when the server is stopped, answers 503 or
//! hangs; refused past `--fallback-max-age`, with `--no-fallback`, with another token, and
//! whenever the server answers 401 or 403 (which remove it).

use std::io::{Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::PermissionsExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use serde_json::json;

use crate::common::{contains, Home, Out};
use crate::server::Server;

const VALUE: &str = "ghp_fallback_canary_7731";

fn run(h: &Home, cwd: &Path, args: &[&str], env: &[(&str, &str)]) -> Out {
    let mut c = h.command(args);
    c.current_dir(cwd);
    for (k, v) in env {
        c.env(k, v);
    }
    h.run_with(c, None)
}

fn snapshots(h: &Home) -> Vec<PathBuf> {
    match std::fs::read_dir(h.path().join("state").join("fallback")) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

/// What a stand-in answers: a status line such as `503 Service Unavailable`, or `None` to
/// hold each connection open and never answer.
pub(crate) type Answer = Arc<Mutex<Option<&'static str>>>;

/// A stand-in at the stopped server's address, answering as told.
pub(crate) fn stand_in(addr: &str, first: Option<&'static str>) -> Answer {
    let listener = TcpListener::bind(addr).unwrap();
    let answer: Answer = Arc::new(Mutex::new(first));
    let told = answer.clone();
    std::thread::spawn(move || {
        let mut held: Vec<TcpStream> = Vec::new();
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let Some(status) = *told.lock().unwrap() else {
                held.push(conn);
                continue;
            };
            // The whole request, body included: closing on unread bytes would reset the
            // connection, which the client would take for an outage.
            let mut buf = [0u8; 8192];
            let mut got = Vec::new();
            let mut want = None;
            loop {
                if want.is_none() {
                    if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                        let head = String::from_utf8_lossy(&got[..end]).to_lowercase();
                        let len = head
                            .lines()
                            .find_map(|l| l.strip_prefix("content-length:"))
                            .map_or(0, |v| v.trim().parse::<usize>().unwrap());
                        want = Some(end + 4 + len);
                    }
                }
                if want.is_some_and(|w| got.len() >= w) {
                    break;
                }
                match conn.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => got.extend_from_slice(&buf[..n]),
                }
            }
            let (code, text) = status.split_once(' ').unwrap();
            let body = format!(
                "{{\"error\":{{\"code\":\"{}\",\"message\":\"stand-in says {text}\"}}}}",
                text.to_lowercase().replace(' ', "_")
            );
            let _ = write!(
                conn,
                "HTTP/1.1 {code} {text}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = conn.flush();
        }
    });
    answer
}

#[test]
fn the_snapshot_carries_a_run_through_an_outage_and_never_past_its_bounds() {
    let s = Server::start();
    s.put("githubtoken", json!({"value": VALUE}));
    let h = Home::empty();
    let wd = tempfile::tempdir().unwrap();
    std::fs::write(
        wd.path().join("hush.toml"),
        "app = \"stats\"\nenv = \"prd\"\n[secrets.GITHUB_TOKEN]\nkey = \"githubtoken\"\n",
    )
    .unwrap();
    let base = s.base.clone();
    let admin = [
        ("HUSH_ADDR", base.as_str()),
        ("HUSH_TOKEN", s.admin.as_str()),
    ];
    run(&h, wd.path(), &["apps", "register"], &admin).ok();
    let machine = |name: &str| {
        let (st, v) = s.call(
            "POST",
            "/v1/tokens",
            &s.admin,
            Some(json!({"name": name, "app": "stats", "env": "prd"})),
        );
        assert_eq!(st, 201, "{v}");
        (
            v["id"].as_str().unwrap().to_string(),
            v["token"].as_str().unwrap().to_string(),
        )
    };
    let (_, m) = machine("runner");
    let (_, other) = machine("other-runner");
    let (revoked_id, revoked) = machine("to-be-revoked");
    let env = [("HUSH_ADDR", base.as_str()), ("HUSH_TOKEN", m.as_str())];
    let print = [
        "run",
        "--no-mask",
        "--",
        "sh",
        "-c",
        "printf '%s' \"$GITHUB_TOKEN\"",
    ];

    // A run against the live server keeps a snapshot: sealed, 0600 in a 0700 directory.
    let out = run(&h, wd.path(), &print, &env).ok();
    assert_eq!(out.text(), VALUE);
    assert!(!out.stderr.contains("fallback"), "{}", out.stderr);
    let files = snapshots(&h);
    assert_eq!(files.len(), 1, "{files:?}");
    let snap = &files[0];
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(snap), 0o600);
    assert_eq!(mode(snap.parent().unwrap()), 0o700);
    let bytes = std::fs::read(snap).unwrap();
    let b64 = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(VALUE)
    };
    for needle in [VALUE, b64.as_str(), m.as_str(), "githubtoken", "stats"] {
        assert!(
            !contains(&bytes, needle.as_bytes()),
            "{needle} is in the snapshot"
        );
        assert!(!snap.to_string_lossy().contains(needle));
    }

    // A revoked token is refused (401) even though its snapshot exists.
    let renv = [
        ("HUSH_ADDR", base.as_str()),
        ("HUSH_TOKEN", revoked.as_str()),
    ];
    run(&h, wd.path(), &print, &renv).ok();
    assert_eq!(snapshots(&h).len(), 2);
    let (st, _) = s.call(
        "DELETE",
        &format!("/v1/tokens/{revoked_id}"),
        &s.admin,
        None,
    );
    assert_eq!(st, 204);
    let out = run(&h, wd.path(), &print, &renv).code(125);
    assert!(!out.stderr.contains("fallback snapshot"), "{}", out.stderr);
    assert!(out.stdout.is_empty());
    // ... and the refused token's snapshot is removed.
    assert_eq!(snapshots(&h), vec![snap.clone()]);

    // The server stops: the same run starts on the snapshot, and says so with its age.
    drop(s);
    let out = run(&h, wd.path(), &print, &env).ok();
    assert_eq!(out.text(), VALUE);
    let notice = format!("hush: the server at {base} cannot be reached (");
    assert!(out.stderr.contains(&notice), "{}", out.stderr);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
    assert!(
        out.stderr.contains("); using the fallback snapshot from ")
            && out.stderr.contains(" s ago"),
        "{}",
        out.stderr
    );
    assert!(!out.stderr.contains(VALUE));
    // A run on the snapshot does not rewrite it.
    assert_eq!(std::fs::read(snap).unwrap(), bytes);

    // --no-fallback: not started, the address and the cause named.
    let no_fb = ["run", "--no-fallback", "--", "touch", "started"];
    let out = run(&h, wd.path(), &no_fb, &env).code(125);
    assert!(out.stderr.contains(&base), "{}", out.stderr);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
    assert!(!out.stderr.contains("fallback snapshot"), "{}", out.stderr);
    assert!(!wd.path().join("started").exists());

    // Another token of the same app and environment finds no snapshot.
    let oenv = [("HUSH_ADDR", base.as_str()), ("HUSH_TOKEN", other.as_str())];
    let out = run(&h, wd.path(), &["run", "--", "touch", "started"], &oenv).code(125);
    assert!(out.stderr.contains("refused"), "{}", out.stderr);
    assert!(!out.stderr.contains("fallback snapshot"), "{}", out.stderr);
    assert!(!wd.path().join("started").exists());

    // Past --fallback-max-age: refused, saying how old it is.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    let aged = ["run", "--fallback-max-age", "1s", "--", "touch", "started"];
    let out = run(&h, wd.path(), &aged, &env).code(125);
    assert!(out.stderr.contains("too old"), "{}", out.stderr);
    assert!(out.stderr.contains(" ago"), "{}", out.stderr);
    assert!(out.stderr.contains(&base), "{}", out.stderr);
    assert!(!wd.path().join("started").exists());
    let out = run(
        &h,
        wd.path(),
        &["run", "--fallback-max-age", "soon", "--", "true"],
        &env,
    )
    .code(2);
    assert!(out.stderr.contains("--fallback-max-age"), "{}", out.stderr);

    let host = base.trim_start_matches("http://");
    // A 503 at that address falls back.
    let answer = stand_in(host, Some("503 Service Unavailable"));
    let out = run(&h, wd.path(), &print, &env).ok();
    assert_eq!(out.text(), VALUE);
    assert!(
        out.stderr
            .contains(&format!("hush: the server at {base} answered 503 (")),
        "{}",
        out.stderr
    );
    // 403 never does, though the snapshot exists; the server answered that nothing may be had,
    // so the snapshot is removed.
    assert!(snap.exists());
    *answer.lock().unwrap() = Some("403 Forbidden");
    let out = run(&h, wd.path(), &["run", "--", "touch", "started"], &env).code(125);
    assert!(!out.stderr.contains("fallback snapshot"), "{}", out.stderr);
    assert!(
        out.stderr.contains("stand-in says Forbidden"),
        "{}",
        out.stderr
    );
    assert!(!wd.path().join("started").exists());
    assert!(!snap.exists());
    assert!(snapshots(&h).is_empty(), "{:?}", snapshots(&h));
}

#[test]
fn a_server_that_never_answers_falls_back_after_the_timeout() {
    let s = Server::start();
    s.put("githubtoken", json!({"value": VALUE}));
    let h = Home::empty();
    let wd = tempfile::tempdir().unwrap();
    let base = s.base.clone();
    // The first run, against the live server, with the default timeout: it writes the snapshot
    // the later runs fall back to (a loaded machine may take longer than 0.7 s to answer).
    let env = [
        ("HUSH_ADDR", base.as_str()),
        ("HUSH_TOKEN", s.admin.as_str()),
    ];
    let print = [
        "run",
        "--no-mask",
        "--secret",
        "githubtoken=GITHUB_TOKEN",
        "--",
        "sh",
        "-c",
        "printf '%s' \"$GITHUB_TOKEN\"",
    ];
    let out = run(&h, wd.path(), &print, &env).ok();
    assert_eq!(out.text(), VALUE);
    let admin = s.admin.clone();
    drop(s);
    let env = [
        ("HUSH_ADDR", base.as_str()),
        ("HUSH_TOKEN", admin.as_str()),
        ("HUSH_TIMEOUT_MS", "700"),
    ];
    let _hung = stand_in(base.trim_start_matches("http://"), None);
    let started = std::time::Instant::now();
    let out = run(&h, wd.path(), &print, &env).ok();
    assert!(started.elapsed() < std::time::Duration::from_secs(10));
    assert_eq!(out.text(), VALUE);
    assert!(
        out.stderr.contains(&format!(
            "hush: the server at {base} cannot be reached (timeout after 0.7 s)"
        )),
        "{}",
        out.stderr
    );
    // Other flags, another snapshot: none for `--secret other`.
    let out = run(
        &h,
        wd.path(),
        &["run", "--secret", "githubtoken=OTHER", "--", "true"],
        &env,
    )
    .code(125);
    assert!(out.stderr.contains("timeout after 0.7 s"), "{}", out.stderr);
    assert!(!out.stderr.contains("fallback snapshot"), "{}", out.stderr);
}
