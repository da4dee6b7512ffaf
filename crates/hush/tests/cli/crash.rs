//! SIGKILL in the middle of a stream of writes loses no acknowledged write and leaves a store
//! that opens.

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::common::Home;

/// A small deterministic generator, so a failure can be replayed.
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        self.0 >> 33
    }
}

#[cfg(unix)]
#[test]
fn sigkill_mid_write_loses_no_acknowledged_write() {
    let h = Home::new();
    let mut rng = Lcg(0x5eed);
    // Per key: the last acknowledged value, and the attempts after it whose writer was killed
    // (a killed writer may have committed just before it died: its value is allowed too).
    let mut acked: std::collections::HashMap<String, (String, Vec<String>)> =
        std::collections::HashMap::new();
    let mut killed = 0;
    let deadline = Instant::now() + Duration::from_secs(60);
    for i in 0..120 {
        if Instant::now() > deadline {
            break;
        }
        let key = format!("k{}", i % 40);
        let value = format!("value-{i}-{}", rng.next());
        let mut c = h.command(&["secrets", "set", &key, "--stdin"]);
        c.stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let mut child = c.spawn().unwrap();
        {
            use std::io::Write as _;
            let mut sin = child.stdin.take().unwrap();
            let _ = sin.write_all(value.as_bytes());
        }
        // Kill about half of the writers at a random moment in their life.
        if rng.next().is_multiple_of(2) {
            std::thread::sleep(Duration::from_micros(rng.next() % 15_000));
            let _ = child.kill(); // SIGKILL
            killed += 1;
        }
        let status = child.wait().unwrap();
        if status.success() {
            acked.insert(key, (value, Vec::new()));
        } else if let Some((_, later)) = acked.get_mut(&key) {
            later.push(value);
        }
    }
    assert!(killed > 10, "the test killed writers");
    assert!(!acked.is_empty());
    for (k, (v, later)) in &acked {
        let got = String::from_utf8(h.get(k)).unwrap();
        assert!(
            got == *v || later.contains(&got),
            "acknowledged write of {k} lost: read {got}, acknowledged {v}"
        );
    }
    h.run(&["secrets", "list"], None).ok();
    let conn = rusqlite::Connection::open(h.db()).unwrap();
    let check: String = conn
        .query_row("PRAGMA integrity_check", [], |r| r.get(0))
        .unwrap();
    assert_eq!(check, "ok");
}

/// Issue 19: no value is given out without its audit row on disk. A server under a read load
/// from several connections is SIGKILLed; every read that was answered 200 (each sent with
/// its own `X-Request-Id`) has its `secret.read` row in the store afterwards.
#[cfg(unix)]
#[test]
fn sigkill_during_a_read_load_leaves_an_audit_row_for_every_value_answered() {
    use std::collections::HashSet;
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};

    let mut srv = crate::server::Server::start();
    srv.put(
        "read-me",
        serde_json::json!({"value": "planted-crash-read"}),
    );
    let reader = srv.token(serde_json::json!({"role": "read", "name": "reader"}));
    let answered = Arc::new(Mutex::new(HashSet::<String>::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let workers: Vec<_> = (0..6)
        .map(|w| {
            let (base, token) = (srv.base.clone(), reader.clone());
            let (answered, stop) = (answered.clone(), stop.clone());
            std::thread::spawn(move || {
                let http = reqwest::blocking::Client::builder()
                    .timeout(Duration::from_secs(5))
                    .build()
                    .unwrap();
                let mut n = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    n += 1;
                    let id = format!("crash-{w}-{n}");
                    let r = http
                        .get(format!("{base}/v1/secrets/read-me"))
                        .bearer_auth(&token)
                        .header("x-request-id", &id)
                        .send();
                    match r {
                        Ok(r) if r.status() == 200 => {
                            // Answered only once the body (the value) arrived.
                            if r.text().is_ok_and(|t| t.contains("planted-crash-read")) {
                                answered.lock().unwrap().insert(id);
                            }
                        }
                        // The server is gone: stop.
                        _ => return,
                    }
                }
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(1500));
    srv.kill();
    stop.store(true, Ordering::Relaxed);
    for w in workers {
        w.join().unwrap();
    }
    let answered = answered.lock().unwrap().clone();
    assert!(
        answered.len() > 20,
        "too few reads answered: {}",
        answered.len()
    );
    let out = srv
        .home()
        .run(&["audit", "--key", "read-me", "-o", "json"], None)
        .ok()
        .json();
    let rows = out.as_array().expect("audit rows");
    let audited: HashSet<String> = rows
        .iter()
        .filter(|r| r["action"] == "secret.read" && r["outcome"] == "ok")
        .filter_map(|r| r["request_id"].as_str().map(str::to_string))
        .collect();
    let missing: Vec<&String> = answered.difference(&audited).collect();
    eprintln!(
        "{} reads answered before the SIGKILL, {} audited",
        answered.len(),
        audited.len()
    );
    assert!(
        missing.is_empty(),
        "answered without an audit row: {missing:?}"
    );
    srv.home().run(&["audit", "verify"], None).ok();
}
