//! `hush server --audit-file`: the real server streams every audit row to a real file, as
//! `hush audit export` prints it, before answering; a file it cannot write makes audited
//! requests answer 503 until it can, and the rows missed meanwhile come first then.

use std::io::BufRead as _;
use std::path::Path;
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};

use reqwest::blocking::Client;
use serde_json::{json, Value};

use crate::common::Home;
use crate::server::{split, started};

struct Running {
    child: Child,
    base: String,
    admin: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start(home: &Home, args: &[&str], env: &[(&str, &str)]) -> Running {
    let mut c = home.command(&[&["server", "--listen", "127.0.0.1:0"], args].concat());
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .stdin(Stdio::null());
    let mut child = c.spawn().unwrap();
    let (admin, base, err) = started(&mut child);
    assert!(base.starts_with("http://"), "no listen line");
    let log = Arc::new(Mutex::new(Vec::new()));
    let lines = Arc::clone(&log);
    std::thread::spawn(move || {
        for l in err.lines().map_while(Result::ok) {
            lines.lock().unwrap().push(l);
        }
    });
    Running {
        child,
        base,
        admin,
        log,
    }
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path)
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

fn export(home: &Home) -> Vec<String> {
    let out = home.run(&["audit", "export"], None).ok();
    out.text().lines().map(str::to_string).collect()
}

fn field(line: &str, name: &str) -> Value {
    serde_json::from_str::<Value>(line).unwrap()[name].clone()
}

#[test]
fn every_row_is_in_the_file_before_the_answer_and_a_bad_file_fails_closed() {
    let home = Home::empty();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("audit.jsonl");
    let s = start(&home, &["--audit-file", path.to_str().unwrap()], &[]);
    let http = Client::new();
    let call = |method: &str, route: &str, body: Option<Value>| {
        let mut r = http
            .request(method.parse().unwrap(), format!("{}{route}", s.base))
            .bearer_auth(&s.admin);
        if let Some(b) = body {
            r = r.json(&b);
        }
        r.send().unwrap()
    };
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }

    let planted = "planted-audit-file-value-58";
    let (st, v) = split(call(
        "POST",
        "/v1/secrets",
        Some(json!({"key": "db-password", "value": planted})),
    ));
    assert_eq!(st, 201, "{v}");
    let (st, v) = split(call("GET", "/v1/secrets/db-password", None));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["value"], planted);

    // Answered, so in the file: the first admin token, the write, the read; the same lines as
    // `hush audit export`, with their sequence numbers and MACs.
    let first = lines(&path);
    let actions: Vec<Value> = first.iter().map(|l| field(l, "action")).collect();
    assert_eq!(
        actions,
        [
            json!("token.create"),
            json!("secret.create"),
            json!("secret.read")
        ]
    );
    assert_eq!(field(&first[2], "key"), "db-password");
    assert_eq!(field(&first[2], "outcome"), "ok");
    assert_eq!(field(&first[2], "seq"), 3);
    assert_eq!(field(&first[2], "hash").as_str().unwrap().len(), 64);
    assert_eq!(first, export(&home));
    let raw = std::fs::read(&path).unwrap();
    assert!(!String::from_utf8_lossy(&raw).contains(planted));
    assert!(!String::from_utf8_lossy(&raw).contains(&s.admin));

    // The path becomes a directory: reads, writes and token changes answer 503 with their
    // own code, never the value; the log names the path and the OS error.
    std::fs::remove_file(&path).unwrap();
    std::fs::create_dir(&path).unwrap();
    let r = call("GET", "/v1/secrets/db-password", None);
    assert_eq!(r.headers()["retry-after"], "5");
    let (st, v) = split(r);
    assert_eq!(st, 503, "{v}");
    assert_eq!(v["error"]["code"], "audit_sink_unavailable", "{v}");
    assert!(!v.to_string().contains(planted));
    assert!(!v.to_string().contains(path.to_str().unwrap()), "{v}");
    let (st, v) = split(call(
        "PUT",
        "/v1/secrets/db-password",
        Some(json!({"value": "second"})),
    ));
    assert_eq!(st, 503, "{v}");
    assert_eq!(v["error"]["code"], "audit_sink_unavailable", "{v}");
    let (st, v) = split(call(
        "POST",
        "/v1/tokens",
        Some(json!({"name": "ci", "role": "read"})),
    ));
    assert_eq!(st, 503, "{v}");
    let m = call("GET", "/metrics", None).text().unwrap();
    assert!(
        m.contains(r#"hush_store_errors_total{kind="audit_sink"} 3"#),
        "{m}"
    );
    let names_it = |log: &str| log.contains(path.to_str().unwrap()) && log.contains("os error");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !names_it(&s.log.lock().unwrap().join("\n")) && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let log = s.log.lock().unwrap().join("\n");
    assert!(names_it(&log), "{log}");
    assert!(!log.contains(planted));
    // The store committed first: its rows are there (the refused read included), which the
    // operator sees with `hush audit`, and the file gets them once it can be written.
    let during = export(&home);
    assert_eq!(during.len(), 6);
    assert_eq!(field(&during[3], "action"), "secret.read");

    // Writable again: answered again, and the missed rows come first, without a gap.
    std::fs::remove_dir(&path).unwrap();
    let (st, v) = split(call("GET", "/v1/secrets/db-password", None));
    assert_eq!(st, 200, "{v}");
    assert_eq!(v["value"], "second");
    let second = lines(&path);
    assert_eq!(second.len(), 4);
    assert_eq!(field(&second[0], "seq"), 4);
    assert_eq!(
        [first, second.clone()].concat(),
        export(&home),
        "the file's two parts are the whole log"
    );

    // logrotate moved the file away: the next row goes to a new file at the path.
    let rotated = dir.path().join("audit.jsonl.1");
    std::fs::rename(&path, &rotated).unwrap();
    let (st, _) = split(call("GET", "/v1/secrets/db-password", None));
    assert_eq!(st, 200);
    assert_eq!(lines(&rotated), second);
    let third = lines(&path);
    assert_eq!(third.len(), 1);
    assert_eq!(field(&third[0], "seq"), 8);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt as _;
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{mode:o}");
    }
}

/// `HUSH_AUDIT_FILE` does what `--audit-file` does; a path that cannot be created stops the
/// server at start, naming it, before it serves anything.
#[test]
fn the_env_var_names_the_file_and_a_bad_path_is_refused_at_start() {
    let home = Home::empty();
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("no-such-dir").join("audit.jsonl");
    let mut c = home.command(&["server", "--listen", "127.0.0.1:0"]);
    c.env("HUSH_AUDIT_FILE", &bad);
    let out = home.run_with(c, None);
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert!(out.stderr.contains("no-such-dir"), "{}", out.stderr);
    assert!(out.stderr.contains("os error"), "{}", out.stderr);

    let path = dir.path().join("audit.jsonl");
    let s = start(&home, &[], &[("HUSH_AUDIT_FILE", path.to_str().unwrap())]);
    let (st, _) = split(
        Client::new()
            .get(format!("{}/v1/tokens", s.base))
            .bearer_auth(&s.admin)
            .send()
            .unwrap(),
    );
    assert_eq!(st, 200);
    let got = lines(&path);
    assert!(
        got.iter().any(|l| field(l, "action") == "token.create"),
        "{got:?}"
    );
}
