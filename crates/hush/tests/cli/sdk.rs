//! The SDK's Ductape walkthrough (crates/hush-client/examples/ductape.rs) against a real server.

use crate::server::Server;

#[path = "../../../hush-client/examples/ductape.rs"]
mod ductape;

#[test]
fn the_ductape_walkthrough_runs_against_a_server() {
    let s = Server::start();
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let client = hush_client::Client::new(&s.base, &s.admin).unwrap();
    let said = rt.block_on(ductape::walkthrough(&client)).unwrap();
    for line in [
        "Secret created: STRIPE_API_KEY",
        "  Scope: stripe_payments, checkout_service",
        "Secret updated: STRIPE_API_KEY (version 2)",
        "Secret with this key already exists",
        "Reading a revoked secret is forbidden",
        "Secret successfully deleted",
        "It is gone",
    ] {
        assert!(
            said.iter().any(|l| l == line),
            "missing {line:?} in {said:#?}"
        );
    }
    assert!(
        !said
            .iter()
            .any(|l| l.contains("unexpected") || l.contains("sk_live")),
        "{said:#?}"
    );
    let unauth = hush_client::Client::new(&s.base, "hush_nope").unwrap();
    assert!(matches!(
        rt.block_on(unauth.list(&Default::default())),
        Err(hush_client::Error::Unauthorized(_))
    ));
}

/// Issue 17: the Rust SDK's `secrets::Sources` keeps an offline fallback snapshot of what the
/// server gave, and answers from it when the server is stopped or answers 503 (saying so),
/// never past its age, with another token, when turned off, or on a 404 or 401.
#[test]
fn the_sdk_falls_back_to_its_snapshot_only_when_it_may() {
    use hush_client::secrets::{Error, Sources};
    use std::collections::HashMap;
    use std::os::unix::fs::PermissionsExt as _;

    const VALUE: &str = "sk_live_sdk_fallback_canary_4410";
    let s = Server::start();
    s.put("stripe", serde_json::json!({"value": VALUE}));
    let reader = s.token(serde_json::json!({"role": "read", "name": "sdk-reader"}));
    let home = tempfile::tempdir().unwrap();
    let cwd = tempfile::tempdir().unwrap();
    let base = s.base.clone();
    let env = |token: &str, extra: &[(&str, &str)]| {
        let mut m: HashMap<String, String> = [
            ("HUSH_ADDR", base.as_str()),
            ("HUSH_TOKEN", token),
            ("HUSH_HOME", home.path().to_str().unwrap()),
            ("HUSH_APP", "billing"),
        ]
        .iter()
        .chain(extra)
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        m.retain(|_, v| !v.is_empty());
        m
    };
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let get = |sources: Sources| rt.block_on(sources.get("stripe"));
    let sources = |token: &str, extra: &[(&str, &str)]| {
        Sources::new(env(token, extra), cwd.path().to_path_buf())
    };
    let dir = home.path().join("state/fallback/sdk-rust");
    let files = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(&dir)
            .map(|rd| rd.map(|e| e.unwrap().path()).collect())
            .unwrap_or_default()
    };

    // Served: kept, sealed, private.
    for t in [&s.admin, &reader] {
        let v = get(sources(t, &[])).unwrap();
        assert_eq!(v.expose_str().unwrap(), VALUE);
    }
    assert_eq!(files().len(), 2, "one per token");
    for f in files() {
        assert_eq!(f.metadata().unwrap().permissions().mode() & 0o777, 0o600);
        let raw = std::fs::read(&f).unwrap();
        for needle in [
            VALUE,
            "stripe",
            s.admin.as_str(),
            reader.as_str(),
            "billing",
        ] {
            assert!(!contains(&raw, needle.as_bytes()), "{needle} in {f:?}");
        }
    }
    for d in [&dir, &home.path().join("state")] {
        assert_eq!(d.metadata().unwrap().permissions().mode() & 0o777, 0o700);
    }

    // The reader token is revoked: a 401, which removes its snapshot.
    let (st, _) = s.call("DELETE", "/v1/tokens/sdk-reader", &s.admin, None);
    assert_eq!(st, 204);
    let e = get(sources(&reader, &[])).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Server {
                source: hush_client::Error::Unauthorized(_),
                fallback: None,
                ..
            }
        ),
        "{e:?}"
    );
    assert_eq!(files().len(), 1);

    // The server stops: answered from the snapshot.
    let admin = s.admin.clone();
    drop(s);
    assert_eq!(
        get(sources(&admin, &[])).unwrap().expose_str().unwrap(),
        VALUE
    );
    // Not with another token (the revoked one's snapshot is gone too), nor turned off.
    for src in [
        sources(&reader, &[]),
        sources("hush_another_token_entirely_0000000000", &[]),
        sources(&admin, &[]).fallback(false),
        sources(&admin, &[("HUSH_NO_FALLBACK", "1")]),
    ] {
        let e = get(src).unwrap_err();
        assert!(
            matches!(
                &e,
                Error::Server {
                    source: hush_client::Error::Transport { .. },
                    fallback: None,
                    ..
                }
            ),
            "{e:?}"
        );
    }
    // Past its max age: refused, saying why.
    std::thread::sleep(std::time::Duration::from_millis(2100));
    for src in [
        sources(&admin, &[]).fallback_max_age(std::time::Duration::ZERO),
        sources(&admin, &[("HUSH_FALLBACK_MAX_AGE", "1s")]),
    ] {
        let e = get(src).unwrap_err().to_string();
        assert!(e.contains("too old to use: it is from "), "{e}");
        assert!(!e.contains(VALUE), "{e}");
    }

    // A 503 at the address falls back; a 404 never does.
    let addr = base.strip_prefix("http://").unwrap();
    let answer = super::fallback::stand_in(addr, Some("503 Service Unavailable"));
    assert_eq!(
        get(sources(&admin, &[])).unwrap().expose_str().unwrap(),
        VALUE
    );
    *answer.lock().unwrap() = Some("404 Not Found");
    let e = get(sources(&admin, &[])).unwrap_err();
    assert!(
        matches!(
            &e,
            Error::Server {
                source: hush_client::Error::NotFound(_),
                ..
            }
        ),
        "{e:?}"
    );
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}
