//! Resolve: a workload's keys in one call — values, per-key refusals, the scope rules of the
//! app and environment named, a machine token's manifest, and the audit rows it writes.

use hush_core::audit::{AuditFilter, Verdict};
use hush_core::token::Role;
use hush_core::{Error, Invalid, MetadataPatch, Resolution, StoredStatus};

use crate::common::{actor, audit_mentions, machine, manifest, per_key, rows, summary, Env};

fn keys(ks: &[&str]) -> Vec<String> {
    ks.iter().map(|k| k.to_string()).collect()
}

/// Each key's answer: `Ok(value)` (empty for a dry run) or the error.
fn answers(out: Vec<(String, Result<Resolution, Error>)>) -> Vec<(String, Result<Vec<u8>, Error>)> {
    out.into_iter()
        .map(|(k, r)| {
            let r = r.map(|res| {
                res.value
                    .map(|(_, v)| v.expose_secret().to_vec())
                    .unwrap_or_default()
            });
            (k, r)
        })
        .collect()
}

fn scoped(scope: &[&str], envs: &[&str]) -> MetadataPatch {
    MetadataPatch {
        scope: Some(keys(scope)),
        envs: Some(keys(envs)),
        ..MetadataPatch::default()
    }
}

#[tokio::test]
async fn values_come_back_and_every_answer_is_audited_in_one_go() {
    let env = Env::new().await;
    env.put("a", b"value-a").await;
    env.put("b", b"value-b").await;
    env.put("b", b"value-b2").await;
    let n = env.audit().await.len();
    let out = env
        .resolve(None, None, &keys(&["a", "b", "gone"]), false)
        .await
        .unwrap();
    assert_eq!(out[1].1.as_ref().unwrap().value.as_ref().unwrap().0, 2);
    let got = answers(out);
    assert_eq!(got[0].0, "a");
    assert_eq!(got[0].1.as_ref().unwrap(), b"value-a");
    assert_eq!(got[1].1.as_ref().unwrap(), b"value-b2");
    assert!(matches!(&got[2].1, Err(Error::NotFound { key, .. }) if key == "gone"));
    let audit = env.audit_after(n).await;
    assert_eq!(
        summary(&audit),
        rows(&[("secret.read", None, "partial")]),
        "one row for the whole call"
    );
    assert_eq!(
        per_key(&audit),
        rows(&[
            ("secret.read", Some("a"), "ok"),
            ("secret.read", Some("b"), "ok"),
            ("secret.read", Some("gone"), "not_found"),
        ])
    );
    assert_eq!(
        audit[0]
            .entry
            .items
            .iter()
            .map(|i| i.version)
            .collect::<Vec<_>>(),
        [Some(1), Some(2), None]
    );
    // Asking for any key it names finds the one row (`hush audit --key`), and the chain
    // still checks out with it.
    let by_key = |k: &str| {
        let filter = AuditFilter {
            key: Some(k.into()),
            ..AuditFilter::default()
        };
        let env = &env;
        async move {
            let found = env
                .hush
                .audit_log(&env.ws, &filter, &env.admin)
                .await
                .unwrap();
            found.iter().map(|r| r.seq).collect::<Vec<_>>()
        }
    };
    assert_eq!(by_key("gone").await, [audit[0].seq]);
    assert_eq!(by_key("b").await.last(), Some(&audit[0].seq));
    assert!(by_key("nothing").await.is_empty());
    assert!(matches!(
        env.hush
            .verify_audit(&env.ws, &env.admin, None)
            .await
            .unwrap(),
        Verdict::Intact { .. }
    ));
}

#[tokio::test]
async fn a_dry_run_answers_metadata_only_and_writes_no_audit_row() {
    let env = Env::new().await;
    env.put("a", b"value-a").await;
    let n = env.audit().await.len();
    let out = env
        .resolve(None, None, &keys(&["a", "gone"]), true)
        .await
        .unwrap();
    let a = out[0].1.as_ref().unwrap();
    assert_eq!(a.row.key, "a");
    assert!(a.value.is_none(), "a dry run reads no value");
    assert!(matches!(out[1].1, Err(Error::NotFound { .. })));
    assert_eq!(env.audit().await.len(), n);
}

#[tokio::test]
async fn the_scope_and_environments_of_the_workload_named_apply() {
    let env = Env::new().await;
    env.put_with("k", b"v", &scoped(&["billing"], &["prd"]))
        .await;
    env.put("open", b"o").await;
    let ask = |app: &'static str, e: &'static str| {
        let env = &env;
        async move {
            answers(
                env.resolve(Some(app), Some(e), &keys(&["k", "open"]), false)
                    .await
                    .unwrap(),
            )
        }
    };
    let ok = ask("billing", "prd").await;
    assert_eq!(ok[0].1.as_ref().unwrap(), b"v");
    assert_eq!(ok[1].1.as_ref().unwrap(), b"o");

    let n = env.audit().await.len();
    for (app, e, why) in [
        ("other", "prd", "not in the scope of app \"other\""),
        ("billing", "dev", "not available in environment \"dev\""),
    ] {
        let got = ask(app, e).await;
        match &got[0].1 {
            Err(Error::Forbidden { reason }) => assert!(reason.contains(why), "{reason}"),
            other => panic!("{other:?}"),
        }
        assert_eq!(
            got[1].1.as_ref().unwrap(),
            b"o",
            "an unscoped secret is for everyone"
        );
    }
    let audit = env.audit_after(n).await;
    assert_eq!(audit.len(), 2, "one row per call");
    assert_eq!(
        per_key(&audit),
        rows(&[
            ("secret.read", Some("k"), "out_of_scope"),
            ("secret.read", Some("open"), "ok"),
            ("secret.read", Some("k"), "out_of_scope"),
            ("secret.read", Some("open"), "ok"),
        ])
    );
}

#[tokio::test]
async fn a_machine_token_resolves_only_for_its_own_app_and_environment() {
    let env = Env::new().await;
    env.put("k", b"v").await;
    let m = machine("billing", "prd");
    for (app, e) in [(Some("other"), None), (None, Some("dev"))] {
        let err = env
            .hush
            .resolve(&env.ws, app, e, &keys(&["k"]), false, &m)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    }
    let got = answers(
        env.hush
            .resolve(
                &env.ws,
                Some("billing"),
                Some("prd"),
                &keys(&["k"]),
                false,
                &m,
            )
            .await
            .unwrap(),
    );
    assert_eq!(got[0].1.as_ref().unwrap(), b"v");
}

#[tokio::test]
async fn keys_a_registered_manifest_does_not_name_are_refused_alike_whether_they_exist_or_not() {
    let env = Env::new().await;
    env.put("declared", b"d").await;
    env.put("exists", b"e").await;
    env.register(&manifest("billing", Some("prd"), &[("D", "declared", &[])]))
        .await;
    let m = machine("billing", "prd");
    let n = env.audit().await.len();
    let got = answers(
        env.hush
            .resolve(
                &env.ws,
                None,
                None,
                &keys(&["declared", "exists", "missing"]),
                false,
                &m,
            )
            .await
            .unwrap(),
    );
    assert_eq!(got[0].1.as_ref().unwrap(), b"d");
    let reason = |i: usize| match &got[i].1 {
        Err(Error::Forbidden { reason }) => reason.replace(&got[i].0, "KEY"),
        other => panic!("{other:?}"),
    };
    assert_eq!(
        reason(1),
        reason(2),
        "the same answer for a key that exists and one that does not"
    );
    assert!(reason(1).contains("not declared in the registered manifest of app \"billing\""));
    assert!(!reason(1).contains("hush "), "{}", reason(1));
    assert_eq!(
        per_key(&env.audit_after(n).await),
        rows(&[
            ("secret.read", Some("declared"), "ok"),
            ("secret.read", Some("exists"), "out_of_scope"),
            ("secret.read", Some("missing"), "out_of_scope"),
        ])
    );
    // The read is marked against the app.
    let usage = env.hush.usage(&env.ws, &keys(&["declared"])).await.unwrap();
    assert!(usage["declared"][0].last_read_at.is_some(), "{usage:?}");
}

#[tokio::test]
async fn revoked_and_expired_keys_are_refused_one_by_one() {
    let env = Env::new().await;
    env.put("fine", b"f").await;
    env.put("revoked", b"r").await;
    env.put_with(
        "expired",
        b"x",
        &MetadataPatch {
            expires_at: Some(Some(1_000_000_000)),
            allow_past: true,
            ..MetadataPatch::default()
        },
    )
    .await;
    env.hush
        .set_status(&env.ws, "revoked", StoredStatus::Revoked, &env.admin)
        .await
        .unwrap();
    let n = env.audit().await.len();
    let got = answers(
        env.resolve(None, None, &keys(&["fine", "revoked", "expired"]), false)
            .await
            .unwrap(),
    );
    assert_eq!(got[0].1.as_ref().unwrap(), b"f");
    assert!(matches!(got[1].1, Err(Error::Revoked { .. })));
    assert!(matches!(
        got[2].1,
        Err(Error::Expired {
            at: 1_000_000_000,
            ..
        })
    ));
    assert_eq!(
        per_key(&env.audit_after(n).await),
        rows(&[
            ("secret.read", Some("fine"), "ok"),
            ("secret.read", Some("revoked"), "revoked"),
            ("secret.read", Some("expired"), "expired"),
        ])
    );
}

#[tokio::test]
async fn bad_requests_are_refused_whole_and_write_nothing() {
    let env = Env::new().await;
    env.put("k", b"v").await;
    let n = env.audit().await.len();
    let too_many: Vec<String> = (0..=hush_core::service::MAX_RESOLVE)
        .map(|i| format!("k{i}"))
        .collect();
    for ks in [Vec::new(), too_many, keys(&["k", "../etc"])] {
        let err = env.resolve(None, None, &ks, false).await.unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{err:?}");
    }
    let err = env
        .resolve(Some("a b"), None, &keys(&["k"]), false)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(Invalid::Name { .. })),
        "{err:?}"
    );
    assert_eq!(env.audit().await.len(), n);
}

#[tokio::test]
async fn a_machine_token_that_names_no_app_reads_nothing() {
    let env = Env::new().await;
    env.put("k", b"v").await;
    let got = answers(
        env.hush
            .resolve(
                &env.ws,
                None,
                None,
                &keys(&["k"]),
                false,
                &actor(Role::Machine),
            )
            .await
            .unwrap(),
    );
    assert!(
        matches!(&got[0].1, Err(Error::Forbidden { reason }) if reason == "this machine token names no app"),
        "{:?}",
        got[0].1
    );
}

/// Issue 17: a key with fallbacks is served by the first that can be had when it is missing,
/// revoked or expired; each key tried has its audit row, the serving one naming the switch,
/// and the app's read is recorded for the key that served. Out of scope never falls back, and
/// a machine token's fallbacks are held to its manifest like its keys.
#[tokio::test]
async fn fallbacks_serve_in_order_and_the_switch_is_audited_and_read_by_the_backup() {
    let env = Env::new().await;
    env.put("primary", b"value-primary").await;
    env.put("backup", b"value-backup").await;
    env.put("second", b"value-second").await;
    env.register(&manifest(
        "tooljump",
        Some("prd"),
        &[("GH", "primary", &["gone", "backup"])],
    ))
    .await;
    env.hush
        .set_status(&env.ws, "primary", StoredStatus::Revoked, &env.admin)
        .await
        .unwrap();
    let m = machine("tooljump", "prd");
    let fallbacks: std::collections::BTreeMap<String, Vec<String>> =
        [("primary".to_string(), keys(&["gone", "backup"]))].into();
    let n = env.audit().await.len();
    let out = env
        .hush
        .resolve_with_fallbacks(
            &env.ws,
            None,
            None,
            &keys(&["primary"]),
            &fallbacks,
            false,
            &m,
        )
        .await
        .unwrap();
    let (wanted, a) = &out[0];
    assert_eq!(wanted, "primary");
    assert_eq!(a.key, "backup");
    let r = a.answer.as_ref().unwrap();
    assert_eq!(r.row.key, "backup");
    assert_eq!(r.value.as_ref().unwrap().1.expose_secret(), b"value-backup");
    let skipped: Vec<_> = a.skipped.iter().map(|(k, e)| (k.as_str(), e)).collect();
    assert!(
        matches!(
            skipped[..],
            [
                ("primary", Error::Revoked { .. }),
                ("gone", Error::NotFound { .. })
            ]
        ),
        "{skipped:?}"
    );

    let audit = env.audit_after(n).await;
    assert_eq!(audit.len(), 1, "one row for the whole call");
    assert_eq!(
        per_key(&audit),
        rows(&[
            ("secret.read", Some("primary"), "revoked"),
            ("secret.read", Some("gone"), "not_found"),
            ("secret.read", Some("backup"), "ok"),
        ])
    );
    let details: Vec<_> = audit[0]
        .entry
        .items
        .iter()
        .map(|i| i.detail.as_deref())
        .collect();
    assert_eq!(
        details,
        [
            None,
            Some("fallback for primary"),
            Some("served by backup; skipped primary (revoked), gone (missing)"),
        ]
    );
    assert!(
        !audit_mentions(&audit, "value-"),
        "a value in the audit log"
    );
    // The app's read is the backup's; the revoked primary was not read.
    let app = env.hush.app(&env.ws, "tooljump", &env.admin).await.unwrap();
    let read = |k: &str| app.keys.iter().find(|r| r.key == k).unwrap().last_read_at;
    assert!(read("backup").is_some());
    assert!(read("primary").is_none());

    // Without fallbacks, or when the key itself serves, nothing is skipped.
    let out = env
        .hush
        .resolve_with_fallbacks(
            &env.ws,
            None,
            None,
            &keys(&["second"]),
            &Default::default(),
            false,
            &m,
        )
        .await
        .unwrap();
    assert!(out[0].1.skipped.is_empty());
    assert!(
        matches!(out[0].1.answer, Err(Error::Forbidden { .. })),
        "not in the manifest"
    );

    // Out of scope is not a reason to fall back.
    env.hush
        .set_status(&env.ws, "primary", StoredStatus::Active, &env.admin)
        .await
        .unwrap();
    env.update("primary", None, &scoped(&["another-app"], &[]), None)
        .await
        .unwrap();
    let out = env
        .hush
        .resolve_with_fallbacks(
            &env.ws,
            None,
            None,
            &keys(&["primary"]),
            &fallbacks,
            false,
            &m,
        )
        .await
        .unwrap();
    assert_eq!(out[0].1.key, "primary");
    assert!(out[0].1.skipped.is_empty());
    assert!(matches!(out[0].1.answer, Err(Error::Forbidden { .. })));

    // Fallbacks for a key not asked, or listing the key itself, are refused.
    for bad in [
        [("other".to_string(), keys(&["backup"]))],
        [("primary".to_string(), keys(&["backup", "primary"]))],
    ] {
        let bad: std::collections::BTreeMap<_, _> = bad.into();
        let err = env
            .hush
            .resolve_with_fallbacks(&env.ws, None, None, &keys(&["primary"]), &bad, false, &m)
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Invalid(Invalid::Manifest { .. })),
            "{err:?}"
        );
    }
}

#[tokio::test]
async fn keys_read_ahead_in_one_call_answer_as_keys_read_one_by_one() {
    let env = Env::new().await;
    env.put("a", b"value-a").await;
    env.put("b", b"value-b").await;
    env.put("b", b"value-b2").await;
    env.put("c", b"value-c").await;
    env.hush
        .set_status(&env.ws, "c", StoredStatus::Revoked, &env.admin)
        .await
        .unwrap();
    // Asked twice, missing, revoked: the first call reads them ahead from the store, the
    // second finds them in the cache the first filled; a one-key call reads as a GET does.
    let ks = keys(&["b", "a", "gone", "b", "c"]);
    let first = answers(env.resolve(None, None, &ks, false).await.unwrap());
    let second = answers(env.resolve(None, None, &ks, false).await.unwrap());
    let mut one_by_one = Vec::new();
    for k in &ks {
        one_by_one.extend(answers(
            env.resolve(None, None, &keys(&[k]), false).await.unwrap(),
        ));
    }
    let show = |a: &[(String, Result<Vec<u8>, Error>)]| {
        a.iter()
            .map(|(k, r)| format!("{k}={:?}", r.as_ref().map_err(|e| e.to_string())))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        show(&first),
        [
            "b=Ok([118, 97, 108, 117, 101, 45, 98, 50])",
            "a=Ok([118, 97, 108, 117, 101, 45, 97])",
            &format!("gone={:?}", first[2].1.as_ref().map_err(|e| e.to_string())),
            "b=Ok([118, 97, 108, 117, 101, 45, 98, 50])",
            &format!("c={:?}", first[4].1.as_ref().map_err(|e| e.to_string())),
        ]
    );
    assert!(matches!(&first[2].1, Err(Error::NotFound { key, .. }) if key == "gone"));
    assert!(first[4].1.is_err(), "a revoked key is refused");
    assert_eq!(show(&first), show(&second));
    assert_eq!(show(&first), show(&one_by_one));
}
