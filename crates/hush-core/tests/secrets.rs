//! Secrets: writes, reads, history, status and delete — what each does to the rows, the
//! values and the audit log, and what each refuses without writing anything.

use hush_core::token::Role;
use hush_core::{
    Error, Expect, Invalid, ListFilter, MetadataPatch, Status, StoredStatus, TokenType, ValueFormat,
};

use crate::common::{actor, audit_mentions, bytes, manifest, now, rows, summary, Env};

fn meta_patch() -> MetadataPatch {
    MetadataPatch {
        description: Some(Some("GitHub PAT".into())),
        token_type: Some(Some(TokenType::Access)),
        scope: Some(vec!["billing".into()]),
        envs: Some(vec!["prd".into()]),
        expires_at: Some(Some(now() + 3600)),
        ..MetadataPatch::default()
    }
}

#[tokio::test]
async fn create_then_reveal_gives_the_value_back_and_both_are_audited() {
    let env = Env::new().await;
    let patch = meta_patch();
    let row = env
        .create("gh", &bytes(b"planted-value-1"), &patch)
        .await
        .unwrap();
    assert_eq!((row.version, row.revision), (1, 1));
    assert_eq!(row.meta.description.as_deref(), Some("GitHub PAT"));
    assert_eq!(row.meta.token_type, Some(TokenType::Access));
    assert_eq!(row.meta.scope, ["billing"]);
    assert_eq!(row.meta.envs, ["prd"]);
    assert_eq!(row.created_by, env.admin.name());
    assert_eq!(env.row("gh").await.unwrap(), row);

    let revealed = env.reveal("gh", None).await.unwrap();
    assert_eq!(revealed.value.expose_secret(), b"planted-value-1");
    assert_eq!(revealed.version, 1);
    assert!(revealed.used_by.is_empty());

    let audit = env.audit().await;
    assert_eq!(
        summary(&audit),
        rows(&[
            ("secret.create", Some("gh"), "ok"),
            ("secret.read", Some("gh"), "ok")
        ])
    );
    assert_eq!(audit[0].entry.version, Some(1));
    assert_eq!(audit[1].entry.workspace.as_deref(), Some("default"));
    assert!(!audit_mentions(&audit, "planted-value-1"));
}

#[tokio::test]
async fn create_refuses_a_taken_key_and_changes_nothing() {
    let env = Env::new().await;
    env.put("gh", b"v1").await;
    let before = env.audit().await.len();
    let err = env
        .create("gh", &bytes(b"v2"), &MetadataPatch::default())
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Exists { key } if key == "gh"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "secret \"gh\" already exists");
    assert_eq!(env.read("gh").await, b"v1");
    assert_eq!(env.row("gh").await.unwrap().version, 1);
    assert_eq!(env.audit().await.len(), before + 1, "only the read above");
}

#[tokio::test]
async fn put_creates_then_replaces_the_value_keeping_metadata() {
    let env = Env::new().await;
    let (row, created) = env
        .hush
        .put(
            &env.ws,
            "k",
            None,
            &bytes(b"one"),
            &meta_patch(),
            &env.admin,
        )
        .await
        .unwrap();
    assert!(created);
    assert_eq!(row.version, 1);
    let (row, created) = env
        .hush
        .put(
            &env.ws,
            "k",
            None,
            &bytes(b"two"),
            &MetadataPatch::default(),
            &env.admin,
        )
        .await
        .unwrap();
    assert!(!created);
    assert_eq!((row.version, row.revision), (2, 2));
    assert_eq!(row.meta.description.as_deref(), Some("GitHub PAT"));
    assert_eq!(env.read("k").await, b"two");
    assert_eq!(env.read_version("k", Some(1)).await, b"one");
    let audit = env.audit().await;
    assert_eq!(
        summary(&audit[..2]),
        rows(&[
            ("secret.create", Some("k"), "ok"),
            ("secret.update", Some("k"), "ok")
        ])
    );
}

#[tokio::test]
async fn update_changes_metadata_alone_or_the_value_and_refuses_a_stale_version() {
    let env = Env::new().await;
    env.put("k", b"one").await;
    let patch = MetadataPatch {
        description: Some(Some("rotated monthly".into())),
        ..MetadataPatch::default()
    };
    let row = env.update("k", None, &patch, None).await.unwrap();
    assert_eq!(
        (row.version, row.revision),
        (1, 2),
        "metadata alone: no new version"
    );
    assert_eq!(row.meta.description.as_deref(), Some("rotated monthly"));

    let row = env
        .update(
            "k",
            Some(&bytes(b"two")),
            &MetadataPatch::default(),
            Some(1),
        )
        .await
        .unwrap();
    assert_eq!((row.version, row.revision), (2, 3));

    let before = env.audit().await.len();
    let err = env
        .update(
            "k",
            Some(&bytes(b"three")),
            &MetadataPatch::default(),
            Some(1),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::StaleVersion {
                expected: 1,
                current: 2,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(env.row("k").await.unwrap().revision, 3, "nothing written");
    assert_eq!(env.audit().await.len(), before);
    assert_eq!(env.read("k").await, b"two");

    // The revision guard (the API's ETag) is checked first and under the same swap: a stale
    // revision is refused even when the version still matches, and writes nothing.
    let stale = Expect {
        version: Some(2),
        revision: Some(2),
    };
    let err = env
        .hush
        .update(
            &env.ws,
            "k",
            None,
            Some(&bytes(b"three")),
            &MetadataPatch::default(),
            stale,
            &env.admin,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::StaleRevision {
                expected: 2,
                current: 3,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(env.row("k").await.unwrap().revision, 3, "nothing written");
    let fresh = Expect {
        version: Some(2),
        revision: Some(3),
    };
    let row = env
        .hush
        .update(
            &env.ws,
            "k",
            None,
            Some(&bytes(b"three")),
            &MetadataPatch::default(),
            fresh,
            &env.admin,
        )
        .await
        .unwrap();
    assert_eq!((row.version, row.revision), (3, 4));

    let err = env.update("nope", None, &patch, None).await.unwrap_err();
    assert!(
        matches!(err, Error::NotFound { ref key, .. } if key == "nope"),
        "{err:?}"
    );
}

#[tokio::test]
async fn a_patch_drops_repeated_names_and_clears_what_it_empties() {
    let env = Env::new().await;
    env.put_with(
        "k",
        b"v",
        &MetadataPatch {
            description: Some(Some("x".into())),
            scope: Some(vec!["a".into()]),
            ..MetadataPatch::default()
        },
    )
    .await;
    let patch = MetadataPatch {
        description: Some(None),
        scope: Some(vec!["b".into(), "b".into(), "c".into()]),
        ..MetadataPatch::default()
    };
    let row = env.update("k", None, &patch, None).await.unwrap();
    assert_eq!(row.meta.description, None);
    assert_eq!(row.meta.scope, ["b", "c"]);
}

#[tokio::test]
async fn invalid_input_is_refused_and_nothing_is_written() {
    let env = Env::new().await;
    env.put("kept", b"v").await;
    let kept = env.row("kept").await.unwrap();
    let before = env.audit().await;

    let bad_patches = [
        MetadataPatch {
            description: Some(Some("evil\x1b[31m".into())),
            ..MetadataPatch::default()
        },
        MetadataPatch {
            description: Some(Some("d".repeat(1025))),
            ..MetadataPatch::default()
        },
        MetadataPatch {
            scope: Some(vec!["../billing".into()]),
            ..MetadataPatch::default()
        },
        MetadataPatch {
            envs: Some((0..101).map(|i| format!("e{i}")).collect()),
            ..MetadataPatch::default()
        },
        MetadataPatch {
            // Milliseconds, not seconds.
            expires_at: Some(Some(1_800_000_000_000)),
            ..MetadataPatch::default()
        },
        MetadataPatch {
            // In the past, not said to be on purpose.
            expires_at: Some(Some(1_000_000_000)),
            ..MetadataPatch::default()
        },
        MetadataPatch {
            // `v2` is not JSON (and an update without a value has nothing to check).
            format: Some(ValueFormat::Json),
            ..MetadataPatch::default()
        },
    ];
    for patch in &bad_patches {
        for key in ["new", "kept"] {
            let err = env
                .hush
                .put(&env.ws, key, None, &bytes(b"v2"), patch, &env.admin)
                .await
                .unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{patch:?}: {err:?}");
            let err = env.update(key, None, patch, None).await.unwrap_err();
            assert!(matches!(err, Error::Invalid(_)), "{patch:?}: {err:?}");
        }
    }
    let err = env
        .create("new", &bytes(b""), &MetadataPatch::default())
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(Invalid::EmptyValue)),
        "{err:?}"
    );
    let err = env
        .create(
            "new",
            &bytes(&vec![b'x'; 1024 * 1024 + 1]),
            &MetadataPatch::default(),
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(Invalid::ValueTooLarge { .. })),
        "{err:?}"
    );
    for key in ["../etc", ".hidden", "-flag", ""] {
        let err = env
            .create(key, &bytes(b"v"), &MetadataPatch::default())
            .await
            .unwrap_err();
        assert!(
            matches!(err, Error::Invalid(Invalid::Name { .. })),
            "{err:?}"
        );
    }

    assert_eq!(env.row("new").await, None);
    assert_eq!(env.row("kept").await.unwrap(), kept);
    assert_eq!(
        env.audit().await,
        before,
        "a refused input writes no audit row"
    );
}

#[tokio::test]
async fn history_lists_every_version_and_rollback_adds_one() {
    let env = Env::new().await;
    for v in [b"v1", b"v2", b"v3"] {
        env.put("k", v).await;
    }
    let (row, versions) = env
        .hush
        .history(&env.ws, "k", None, &env.admin)
        .await
        .unwrap();
    assert_eq!(row.version, 3);
    assert_eq!(
        versions.iter().map(|v| v.version).collect::<Vec<_>>(),
        [1, 2, 3]
    );
    assert!(versions.iter().all(|v| v.created_by == env.admin.name()));

    let row = env
        .hush
        .rollback(&env.ws, "k", None, 1, &env.admin)
        .await
        .unwrap();
    assert_eq!(row.version, 4);
    assert_eq!(env.read("k").await, b"v1");
    assert_eq!(env.read_version("k", Some(2)).await, b"v2");
    assert_eq!(
        summary(&env.audit().await)
            .iter()
            .filter(|r| r.0 == "secret.rollback")
            .count(),
        1
    );

    let err = env
        .hush
        .rollback(&env.ws, "k", None, 9, &env.admin)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::VersionNotFound { version: 9, .. }),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "secret \"k\" has no version 9");
    let err = env
        .hush
        .rollback(&env.ws, "k", None, 0, &env.admin)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(Invalid::Version { value: 0 })));
    let err = env.reveal("k", Some(0)).await.unwrap_err();
    assert!(matches!(err, Error::Invalid(Invalid::Version { value: 0 })));
    let err = env.reveal("k", Some(7)).await.unwrap_err();
    assert!(matches!(err, Error::VersionNotFound { version: 7, .. }));
    assert_eq!(
        env.row("k").await.unwrap().version,
        4,
        "refusals wrote nothing"
    );
}

#[tokio::test]
async fn a_revoked_secret_is_refused_until_restored() {
    let env = Env::new().await;
    env.put("k", b"v").await;
    let row = env
        .hush
        .set_status(&env.ws, "k", StoredStatus::Revoked, &env.admin)
        .await
        .unwrap();
    assert_eq!(row.status, StoredStatus::Revoked);
    assert_eq!(row.status_at(now()), Status::Revoked);

    // Revoking again is a no-op: no write, no audit row.
    let n = env.audit().await.len();
    let again = env
        .hush
        .set_status(&env.ws, "k", StoredStatus::Revoked, &env.admin)
        .await
        .unwrap();
    assert_eq!(again.revision, row.revision);
    assert_eq!(env.audit().await.len(), n);

    let err = env.reveal("k", None).await.unwrap_err();
    assert!(
        matches!(&err, Error::Revoked { key } if key == "k"),
        "{err:?}"
    );
    assert_eq!(err.to_string(), "secret \"k\" is revoked");
    assert_eq!(
        summary(&env.audit_after(n).await),
        rows(&[("secret.read", Some("k"), "revoked")])
    );

    env.hush
        .set_status(&env.ws, "k", StoredStatus::Active, &env.admin)
        .await
        .unwrap();
    assert_eq!(env.read("k").await, b"v");
    let actions: Vec<String> = summary(&env.audit().await)
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert!(actions.contains(&"secret.revoke".to_string()));
    assert!(actions.contains(&"secret.restore".to_string()));
}

#[tokio::test]
async fn an_expired_secret_is_refused_with_its_expiry() {
    let env = Env::new().await;
    env.put_with(
        "k",
        b"v",
        &MetadataPatch {
            expires_at: Some(Some(1_000_000_000)),
            allow_past: true,
            ..MetadataPatch::default()
        },
    )
    .await;
    let n = env.audit().await.len();
    let err = env.reveal("k", None).await.unwrap_err();
    match &err {
        Error::Expired {
            key,
            at,
            at_rfc3339,
        } => {
            assert_eq!((key.as_str(), *at), ("k", 1_000_000_000));
            assert_eq!(at_rfc3339, "2001-09-09T01:46:40Z");
        }
        other => panic!("{other:?}"),
    }
    assert_eq!(
        err.to_string(),
        "secret \"k\" expired at 2001-09-09T01:46:40Z (unix 1000000000)"
    );
    assert_eq!(
        summary(&env.audit_after(n).await),
        rows(&[("secret.read", Some("k"), "expired")])
    );
}

#[tokio::test]
async fn delete_refuses_a_secret_an_app_uses_unless_forced() {
    let env = Env::new().await;
    env.put("gh", b"v").await;
    env.put("free", b"v").await;
    env.register(&manifest("billing", Some("prd"), &[("GH", "gh", &[])]))
        .await;

    let err = env
        .hush
        .delete(&env.ws, "gh", None, Expect::NOTHING, false, &env.admin)
        .await
        .unwrap_err();
    match &err {
        Error::InUse { key, apps } => assert_eq!(
            (key.as_str(), apps.as_slice()),
            ("gh", &["billing".to_string()][..])
        ),
        other => panic!("{other:?}"),
    }
    assert!(!err.to_string().contains("force"), "{err}");
    assert!(env.row("gh").await.is_some(), "nothing deleted");

    let err = env
        .hush
        .delete(
            &env.ws,
            "free",
            None,
            Expect::version(Some(2)),
            false,
            &env.admin,
        )
        .await
        .unwrap_err();
    assert!(matches!(
        err,
        Error::StaleVersion {
            expected: 2,
            current: 1,
            ..
        }
    ));
    assert!(env.row("free").await.is_some());

    let gone = env
        .hush
        .delete(
            &env.ws,
            "free",
            None,
            Expect::version(Some(1)),
            false,
            &env.admin,
        )
        .await
        .unwrap();
    assert_eq!(gone.key, "free");
    assert_eq!(env.row("free").await, None);
    env.hush
        .delete(&env.ws, "gh", None, Expect::NOTHING, true, &env.admin)
        .await
        .unwrap();
    assert_eq!(env.row("gh").await, None);
    assert!(env.store().versions(&gone.id).await.unwrap().is_empty());

    let err = env
        .hush
        .delete(&env.ws, "gh", None, Expect::NOTHING, true, &env.admin)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NotFound { .. }), "{err:?}");
    let deletes = summary(&env.audit().await)
        .into_iter()
        .filter(|r| r.0 == "secret.delete")
        .collect::<Vec<_>>();
    assert_eq!(
        deletes,
        rows(&[
            ("secret.delete", Some("free"), "ok"),
            ("secret.delete", Some("gh"), "ok")
        ])
    );
}

#[tokio::test]
async fn list_filters_by_prefix_status_app_and_environment() {
    let env = Env::new().await;
    env.put("a.one", b"v").await;
    env.put_with(
        "a.two",
        b"v",
        &MetadataPatch {
            scope: Some(vec!["billing".into()]),
            envs: Some(vec!["prd".into()]),
            ..MetadataPatch::default()
        },
    )
    .await;
    env.put("b.one", b"v").await;
    env.hush
        .set_status(&env.ws, "b.one", StoredStatus::Revoked, &env.admin)
        .await
        .unwrap();

    let keys =
        |rows: Vec<hush_core::SecretRow>| rows.into_iter().map(|r| r.key).collect::<Vec<_>>();
    let list = |filter: ListFilter| {
        let env = &env;
        async move { keys(env.hush.list(&env.ws, &filter, &env.admin).await.unwrap()) }
    };
    assert_eq!(
        list(ListFilter::default()).await,
        ["a.one", "a.two", "b.one"]
    );
    assert_eq!(
        list(ListFilter {
            prefix: Some("a.".into()),
            ..ListFilter::default()
        })
        .await,
        ["a.one", "a.two"]
    );
    assert_eq!(
        list(ListFilter {
            status: Some(Status::Revoked),
            ..ListFilter::default()
        })
        .await,
        ["b.one"]
    );
    assert_eq!(
        list(ListFilter {
            app: Some("other".into()),
            ..ListFilter::default()
        })
        .await,
        ["a.one", "b.one"]
    );
    assert_eq!(
        list(ListFilter {
            env: Some("prd".into()),
            limit: Some(2),
            ..ListFilter::default()
        })
        .await,
        ["a.one", "a.two"]
    );
    let err = env
        .hush
        .list(
            &env.ws,
            &ListFilter {
                app: Some("no/slash".into()),
                ..ListFilter::default()
            },
            &env.admin,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}

#[tokio::test]
async fn a_role_that_may_not_write_is_refused_and_the_refusal_is_audited() {
    let env = Env::new().await;
    env.put("k", b"v").await;
    let reader = actor(Role::Read);
    let n = env.audit().await.len();
    let err = env
        .hush
        .put(
            &env.ws,
            "k",
            None,
            &bytes(b"v2"),
            &MetadataPatch::default(),
            &reader,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Forbidden { reason } if reason == "a read token may not change secrets"),
        "{err:?}"
    );
    let err = env
        .hush
        .delete(&env.ws, "k", None, Expect::NOTHING, true, &reader)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    let refused = env.audit_after(n).await;
    assert_eq!(
        summary(&refused),
        rows(&[
            ("secret.put", Some("k"), "forbidden"),
            ("secret.delete", Some("k"), "forbidden")
        ])
    );
    assert_eq!(refused[0].entry.actor_id, "tok_read");
    assert_eq!(refused[0].entry.remote.as_deref(), Some("192.0.2.7"));
    assert_eq!(env.read("k").await, b"v");

    // A reader reads.
    let r = env
        .hush
        .reveal(&env.ws, "k", None, None, &reader)
        .await
        .unwrap();
    assert_eq!(r.value.expose_secret(), b"v");
}

#[tokio::test]
async fn a_damaged_ciphertext_is_refused_and_said_in_the_audit_log() {
    let env = Env::new().await;
    let row = env.put("k", b"value").await;
    let changed = env
        .sql()
        .execute(
            "UPDATE secret_values SET ciphertext = CAST(ciphertext || X'00' AS BLOB) WHERE secret_id = ?1",
            [&row.id],
        )
        .unwrap();
    assert_eq!(changed, 1);
    let n = env.audit().await.len();
    let err = env
        .hush
        .reveal(&env.ws, "k", None, None, &env.admin)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Decrypt { version: 1, .. }), "{err:?}");
    assert_eq!(
        summary(&env.audit_after(n).await),
        rows(&[("secret.read", Some("k"), "decrypt_failed")])
    );
}

/// A lone read commits its audit row on its own task (no hand-off to the committer thread and
/// back); reads that meet are batched by the committer as before; every read is in the audit
/// log either way, before its answer.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lone_read_commits_itself_and_reads_that_meet_are_batched() {
    let env = Env::new().await;
    env.put("k", b"lone-or-batched").await;
    let seen: std::sync::Arc<std::sync::Mutex<Vec<(usize, String)>>> = Default::default();
    let sink = seen.clone();
    env.hush.observe_batches(std::sync::Arc::new(move |units| {
        let thread = std::thread::current().name().unwrap_or("").to_string();
        sink.lock().unwrap().push((units, thread));
    }));
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let before = env.audit().await.len();
    assert_eq!(env.read("k").await, b"lone-or-batched");
    assert_eq!(env.audit().await.len(), before + 1);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 1, "{seen:?}");
        assert_eq!(seen[0].0, 1);
        assert_ne!(
            seen[0].1, "hush-commit",
            "a lone read went through the committer"
        );
    }
    seen.lock().unwrap().clear();
    let readers: Vec<_> = (0..64)
        .map(|_| {
            let (hush, ws, admin) = (env.hush.clone(), env.ws.clone(), env.admin.clone());
            tokio::spawn(async move { hush.reveal(&ws, "k", None, None, &admin).await })
        })
        .collect();
    for r in readers {
        let got = r.await.unwrap().unwrap();
        assert_eq!(got.value.expose_secret(), b"lone-or-batched");
    }
    assert_eq!(
        env.audit().await.len(),
        before + 65,
        "a read without its row"
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.iter().map(|(n, _)| n).sum::<usize>(), 64, "{seen:?}");
    assert!(
        seen.iter().any(|(n, t)| *n > 1 && t == "hush-commit"),
        "64 reads at once were not batched: {seen:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_writers_all_land_through_the_compare_and_swap() {
    let env = Env::new().await;
    env.put("k", b"v0").await;
    let writers: Vec<_> = (1..=8)
        .map(|i| {
            let hush = env.hush.clone();
            let ws = env.ws.clone();
            let admin = env.admin.clone();
            tokio::spawn(async move {
                hush.update(
                    &ws,
                    "k",
                    None,
                    Some(&bytes(format!("v{i}").as_bytes())),
                    &MetadataPatch::default(),
                    Expect::NOTHING,
                    &admin,
                )
                .await
            })
        })
        .collect();
    for w in writers {
        w.await.unwrap().unwrap();
    }
    let row = env.row("k").await.unwrap();
    assert_eq!(
        (row.version, row.revision),
        (9, 9),
        "every write landed once"
    );
    let (_, versions) = env
        .hush
        .history(&env.ws, "k", None, &env.admin)
        .await
        .unwrap();
    assert_eq!(versions.len(), 9);
    let mut values = Vec::new();
    for v in 2..=9 {
        values.push(String::from_utf8(env.read_version("k", Some(v)).await).unwrap());
    }
    values.sort();
    assert_eq!(values, (1..=8).map(|i| format!("v{i}")).collect::<Vec<_>>());
}

/// Issue 16: a value meant as JSON that does not parse, and an expiry in the past, were
/// written without a word (the secret answered `expired` from its first second).
#[tokio::test]
async fn a_json_value_must_parse_and_a_past_expiry_must_be_meant() {
    let env = Env::new().await;
    let before = env.audit().await;
    let json = MetadataPatch {
        format: Some(ValueFormat::Json),
        ..MetadataPatch::default()
    };
    let err = env
        .create("cfg", &bytes(b"{\"broken\":"), &json)
        .await
        .unwrap_err();
    let Error::Invalid(
        e @ Invalid::NotJson {
            line: 1,
            column: 10,
            ..
        },
    ) = &err
    else {
        panic!("{err:?}");
    };
    assert!(!e.to_string().contains("broken"), "{e}");
    let past = MetadataPatch {
        expires_at: Some(Some(now() - 60)),
        ..MetadataPatch::default()
    };
    let err = env.create("old", &bytes(b"v"), &past).await.unwrap_err();
    assert!(
        matches!(err, Error::Invalid(Invalid::PastSecretExpiry)),
        "{err:?}"
    );
    assert_eq!(env.row("cfg").await, None);
    assert_eq!(env.row("old").await, None);
    assert_eq!(
        env.audit().await,
        before,
        "nothing written, nothing audited"
    );

    // The same writes, meant: valid JSON, and a past expiry asked for on purpose.
    env.create("cfg", &bytes(b"{\"ok\": [1, 2]}"), &json)
        .await
        .unwrap();
    let meant = MetadataPatch {
        allow_past: true,
        ..past.clone()
    };
    env.create("old", &bytes(b"v"), &meant).await.unwrap();
    assert!(matches!(
        env.reveal("old", None).await.unwrap_err(),
        Error::Expired { .. }
    ));
    // An update that sets a past expiry is refused as a create is.
    let err = env.update("cfg", None, &past, None).await.unwrap_err();
    assert!(
        matches!(err, Error::Invalid(Invalid::PastSecretExpiry)),
        "{err:?}"
    );
}
