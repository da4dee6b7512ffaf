//! TLS: the server reloads its certificate on SIGHUP; clients trust the system's store plus
//! `--cacert` / `HUSH_CACERT`, and a failed connection names the address and the cause.

use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::blocking::Client;
use rustix::process::{kill_process, Pid, Signal};

use crate::common::Home;
use crate::server::{started, Server};

/// A self-signed certificate for 127.0.0.1: its PEM, its key's PEM and its DER.
struct Pair {
    cert: String,
    key: String,
    der: Vec<u8>,
}

fn self_signed() -> Pair {
    let c = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into()]).unwrap();
    Pair {
        cert: c.cert.pem(),
        key: c.signing_key.serialize_pem(),
        der: c.cert.der().to_vec(),
    }
}

/// A private CA's certificate (PEM) and a server certificate for 127.0.0.1 it signed.
fn private_ca() -> (String, Pair) {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, Issuer, KeyPair};
    let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca_params
        .distinguished_name
        .push(rcgen::DnType::CommonName, "hush test private CA");
    let ca_key = KeyPair::generate().unwrap();
    let ca_cert = ca_params.self_signed(&ca_key).unwrap();
    let issuer = Issuer::new(ca_params, ca_key);
    let leaf_key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    (
        ca_cert.pem(),
        Pair {
            cert: leaf.pem(),
            key: leaf_key.serialize_pem(),
            der: leaf.der().to_vec(),
        },
    )
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

/// A `hush server` whose stderr is kept, to read its log lines.
struct LoggedServer {
    _home: Home,
    child: Child,
    base: String,
    log: Arc<Mutex<String>>,
}

impl Drop for LoggedServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl LoggedServer {
    fn start(extra: &[&str]) -> Self {
        let home = Home::empty();
        let mut args = vec!["server", "--listen", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut c = home.command(&args);
        c.stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .stdin(Stdio::null());
        let mut child = c.spawn().expect("spawn server");
        let (_admin, base, mut err) = started(&mut child);
        assert!(!base.is_empty(), "no listening line");
        let log = Arc::new(Mutex::new(String::new()));
        let sink = log.clone();
        std::thread::spawn(move || {
            use std::io::BufRead as _;
            let mut line = String::new();
            while err.read_line(&mut line).is_ok_and(|n| n > 0) {
                sink.lock().unwrap().push_str(&line);
                line.clear();
            }
        });
        LoggedServer {
            _home: home,
            child,
            base,
            log,
        }
    }

    fn signal(&self, sig: Signal) {
        kill_process(Pid::from_child(&self.child), sig).unwrap();
    }

    /// Waits (10 s at most) for the log to hold `needle` `count` times; the log.
    #[track_caller]
    fn wait_for(&self, needle: &str, count: usize) -> String {
        let end = Instant::now() + Duration::from_secs(10);
        loop {
            let log = self.log.lock().unwrap().clone();
            if log.matches(needle).count() >= count {
                return log;
            }
            assert!(Instant::now() < end, "no {needle:?} in the log:\n{log}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn alive(&mut self) -> bool {
        self.child.try_wait().unwrap().is_none()
    }
}

/// A client trusting exactly `roots`, reporting the peer's certificate.
fn client(roots: &[&str]) -> Client {
    let mut b = Client::builder()
        .tls_built_in_root_certs(false)
        .tls_info(true);
    for r in roots {
        b = b.add_root_certificate(reqwest::Certificate::from_pem(r.as_bytes()).unwrap());
    }
    b.build().unwrap()
}

/// The certificate the server shows a new connection of `c`.
fn presented(c: &Client, base: &str) -> Vec<u8> {
    let r = c.get(format!("{base}/healthz")).send().unwrap();
    assert_eq!(r.status(), 200);
    r.extensions()
        .get::<reqwest::tls::TlsInfo>()
        .and_then(|i| i.peer_certificate())
        .expect("peer certificate")
        .to_vec()
}

fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut s = e.to_string();
    let mut next = e.source();
    while let Some(c) = next {
        s.push_str(&format!(": {c}"));
        next = c.source();
    }
    s
}

#[test]
fn sighup_reloads_the_certificate_for_new_connections_and_keeps_a_bad_one_out() {
    let dir = tempfile::tempdir().unwrap();
    let cert = dir.path().join("cert.pem");
    let key = dir.path().join("key.pem");
    let (a, b) = (self_signed(), self_signed());
    write(&cert, &a.cert);
    write(&key, &a.key);
    let mut s = LoggedServer::start(&[
        "--tls-cert",
        cert.to_str().unwrap(),
        "--tls-key",
        key.to_str().unwrap(),
    ]);
    assert!(s.base.starts_with("https://"), "{}", s.base);
    let both = [a.cert.as_str(), b.cert.as_str()];
    assert_eq!(presented(&client(&both), &s.base), a.der, "A at first");
    // A connection opened before the reload, by a client that trusts only A.
    let kept = client(&[&a.cert]);
    assert_eq!(presented(&kept, &s.base), a.der);

    write(&cert, &b.cert);
    write(&key, &b.key);
    s.signal(Signal::HUP);
    let log = s.wait_for("TLS certificate reloaded", 1);
    assert!(log.contains(cert.to_str().unwrap()), "{log}");
    assert_eq!(presented(&client(&both), &s.base), b.der, "B after SIGHUP");
    let e = client(&[&a.cert])
        .get(format!("{}/healthz", s.base))
        .send()
        .unwrap_err();
    // (BadSignature: A and B share rcgen's default subject, so B looks issued by A.)
    assert!(
        chain(&e).contains("invalid peer certificate"),
        "{}",
        chain(&e)
    );
    // The open connection is unaffected: a new one would fail (only A is trusted).
    assert_eq!(presented(&kept, &s.base), a.der, "the kept connection");

    // Garbage: the reload is refused, B stays, and the log says which file and why.
    write(&cert, "not a certificate\n");
    write(&key, "not a key\n");
    s.signal(Signal::HUP);
    let log = s.wait_for("TLS certificate not reloaded", 1);
    assert!(
        log.lines().any(|l| l.contains("ERROR")
            && l.contains(&format!("{} holds no PEM certificate", cert.display()))),
        "{log}"
    );
    assert_eq!(presented(&client(&both), &s.base), b.der, "still B");
    // A key that is not the certificate's.
    write(&cert, &a.cert);
    write(&key, &b.key);
    s.signal(Signal::HUP);
    let log = s.wait_for("TLS certificate not reloaded", 2);
    assert!(
        log.contains("do not form a usable pair") && log.contains("KeyMismatch"),
        "{log}"
    );
    // An unreadable (missing) file.
    std::fs::remove_file(&key).unwrap();
    s.signal(Signal::HUP);
    let log = s.wait_for("TLS certificate not reloaded", 3);
    assert!(
        log.contains(&format!("cannot read {}", key.display())),
        "{log}"
    );
    assert_eq!(presented(&client(&both), &s.base), b.der, "still B");
    assert!(s.alive());
    // No key material in the log.
    for pem in [&a.key, &b.key] {
        let body = pem.lines().nth(1).unwrap();
        assert!(!log.contains(body), "key material in the log: {log}");
    }
    assert!(!log.contains("PRIVATE KEY"), "{log}");

    // SIGTERM still stops it gracefully.
    s.signal(Signal::TERM);
    let end = Instant::now() + Duration::from_secs(15);
    let status = loop {
        if let Some(st) = s.child.try_wait().unwrap() {
            break st;
        }
        assert!(Instant::now() < end, "no exit after SIGTERM");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status:?}");
}

#[test]
fn sighup_without_tls_says_there_is_nothing_to_reload() {
    let mut s = LoggedServer::start(&[]);
    s.signal(Signal::HUP);
    s.wait_for("nothing to reload", 1);
    s.signal(Signal::HUP);
    s.wait_for("nothing to reload", 2);
    assert!(s.alive(), "SIGHUP killed the server");
    let r = Client::new()
        .get(format!("{}/healthz", s.base))
        .send()
        .unwrap();
    assert_eq!(r.status(), 200);
}

/// A server whose certificate a private CA signed; the CA's PEM in `dir/ca.pem`.
fn private_server(dir: &Path) -> (Server, PathBuf) {
    let (ca, leaf) = private_ca();
    let ca_path = dir.join("ca.pem");
    write(&ca_path, &ca);
    write(&dir.join("cert.pem"), &leaf.cert);
    write(&dir.join("key.pem"), &leaf.key);
    let trusting = client(&[&ca]);
    let c = dir.join("cert.pem");
    let k = dir.join("key.pem");
    let s = Server::start_with(
        &[
            "--tls-cert",
            c.to_str().unwrap(),
            "--tls-key",
            k.to_str().unwrap(),
        ],
        trusting,
    );
    assert_eq!(presented(&client(&[&ca]), &s.base), leaf.der);
    (s, ca_path)
}

#[test]
fn the_cli_trusts_a_private_ca_given_with_cacert_or_hush_cacert() {
    let dir = tempfile::tempdir().unwrap();
    let (s, ca) = private_server(dir.path());
    let h = Home::empty();
    let run = |args: &[&str], env: &[(&str, &str)]| {
        let mut c = h.command(args);
        c.env("HUSH_ADDR", &s.base).env("HUSH_TOKEN", &s.admin);
        for (k, v) in env {
            c.env(k, v);
        }
        h.run_with(c, None)
    };
    let ca = ca.to_str().unwrap();

    // The system's store does not know the private CA.
    let out = run(&["secrets", "list"], &[]).code(1);
    assert!(
        out.stderr.contains(&format!(
            "cannot reach the hush server at {}: tls: unknown issuer",
            s.base
        )),
        "{}",
        out.stderr
    );
    assert!(out.stderr.contains("--cacert"), "{}", out.stderr);
    assert!(!out.stderr.contains(&s.admin), "no token in errors");

    run(&["--cacert", ca, "secrets", "list"], &[]).ok();
    run(&["secrets", "list", "--cacert", ca], &[]).ok();
    run(&["secrets", "list"], &[("HUSH_CACERT", ca)]).ok();
    // A bundle of several certificates, the right one among them.
    let bundle = dir.path().join("bundle.pem");
    write(
        &bundle,
        &format!(
            "# ops bundle\n{}{}",
            self_signed().cert,
            std::fs::read_to_string(ca).unwrap()
        ),
    );
    run(
        &["secrets", "list", "--cacert", bundle.to_str().unwrap()],
        &[],
    )
    .ok();
    // `hush login` checks the token over the same trust.
    let cfg = dir.path().join("config.json");
    let mut c = h.command(&["login", &s.base, "--cacert", ca]);
    c.env("HUSH_TOKEN", &s.admin)
        .env("HUSH_CONFIG", &cfg)
        .env_remove("HUSH_DB");
    h.run_with(c, None).ok();

    // Bad bundles: a clear usage error naming the file.
    let missing = dir.path().join("missing.pem");
    let out = run(
        &["secrets", "list", "--cacert", missing.to_str().unwrap()],
        &[],
    )
    .code(2);
    assert!(
        out.stderr.contains(&format!(
            "cannot use the CA certificates in {}: cannot read it",
            missing.display()
        )),
        "{}",
        out.stderr
    );
    let junk = dir.path().join("junk.pem");
    write(&junk, "hello\n");
    let out = run(
        &["secrets", "list"],
        &[("HUSH_CACERT", junk.to_str().unwrap())],
    )
    .code(2);
    assert!(
        out.stderr.contains(&junk.display().to_string())
            && out.stderr.contains("no PEM certificate"),
        "{}",
        out.stderr
    );
    let torn = dir.path().join("torn.pem");
    write(
        &torn,
        "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
    );
    let out = run(
        &["secrets", "list", "--cacert", torn.to_str().unwrap()],
        &[],
    )
    .code(2);
    assert!(
        out.stderr.contains(&torn.display().to_string())
            && out.stderr.contains("certificate 1 of 1"),
        "{}",
        out.stderr
    );
}

#[test]
fn a_refused_connection_names_the_address_and_the_cause() {
    // A port nothing listens on: bind one, then free it.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let addr = format!("http://127.0.0.1:{port}");
    let h = Home::empty();
    let mut c = h.command(&["secrets", "list"]);
    c.env("HUSH_ADDR", &addr).env("HUSH_TOKEN", "hush_t");
    let out = h.run_with(c, None).code(1);
    let line = out.stderr.trim();
    assert!(
        line.starts_with(&format!("hush: cannot reach the hush server at {addr}: ")),
        "{line}"
    );
    assert!(line.to_lowercase().contains("connection refused"), "{line}");
    assert!(!line.contains("error sending request"), "{line}");
}
