//! Apps: registering, replacing, showing, listing and unregistering manifests, and what a
//! machine token sees of them.

use hush_core::token::Role;
use hush_core::{Error, Invalid};

use crate::common::{actor, machine, manifest, rows, summary, Env};

#[tokio::test]
async fn a_manifest_is_registered_shown_listed_and_replaced() {
    let env = Env::new().await;
    let m = manifest(
        "billing",
        Some("prd"),
        &[
            ("GH", "gh-primary", &["gh-backup"]),
            ("SLACK", "slack", &[]),
        ],
    );
    let (row, created) = env
        .hush
        .register_app(&env.ws, &m, &env.admin)
        .await
        .unwrap();
    assert!(created);
    assert_eq!(row.name(), "billing");
    assert_eq!(row.manifest, m);
    assert_eq!(
        row.keys.iter().map(|k| k.key.as_str()).collect::<Vec<_>>(),
        ["gh-backup", "gh-primary", "slack"]
    );
    assert!(row.keys.iter().all(|k| k.last_read_at.is_none()));
    assert_eq!(row.registered_by, env.admin.name());
    assert_eq!(
        env.hush.app(&env.ws, "billing", &env.admin).await.unwrap(),
        row
    );

    let replaced = manifest("billing", Some("prd"), &[("SLACK", "slack", &[])]);
    let (row2, created) = env
        .hush
        .register_app(&env.ws, &replaced, &env.admin)
        .await
        .unwrap();
    assert!(!created);
    assert_eq!(
        row2.created_at, row.created_at,
        "replacing keeps when it was made"
    );
    assert_eq!(row2.keys.len(), 1);
    let listed = env.hush.apps(&env.ws, &env.admin).await.unwrap();
    assert_eq!(listed, [row2]);
    assert_eq!(
        summary(&env.audit().await),
        rows(&[
            ("app.register", Some("billing"), "ok"),
            ("app.register", Some("billing"), "ok")
        ])
    );
}

#[tokio::test]
async fn an_invalid_manifest_is_refused_and_nothing_is_registered() {
    let env = Env::new().await;
    let bad = [
        manifest("billing", None, &[("X", "a", &[]), ("X", "b", &[])]),
        manifest("billing", None, &[("HUSH_TOKEN", "a", &[])]),
        manifest("billing", None, &[("X", "a", &["a"])]),
        manifest("billing", None, &[("X", "../a", &[])]),
        manifest("bill ing", None, &[]),
    ];
    for m in &bad {
        let err = env
            .hush
            .register_app(&env.ws, m, &env.admin)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{m:?}: {err:?}");
    }
    assert!(env.hush.apps(&env.ws, &env.admin).await.unwrap().is_empty());
    assert!(env.audit().await.is_empty());
    let err = env
        .hush
        .register_app(&env.ws, &bad[0], &env.admin)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, Error::Invalid(Invalid::Manifest { reason }) if reason.contains("declared twice")),
        "{err:?}"
    );
}

#[tokio::test]
async fn unregistering_frees_the_keys_the_app_named() {
    let env = Env::new().await;
    env.put("gh", b"v").await;
    env.register(&manifest("billing", None, &[("GH", "gh", &[])]))
        .await;
    let usage = env.hush.usage(&env.ws, &["gh".to_string()]).await.unwrap();
    assert_eq!(usage["gh"][0].app, "billing");

    env.hush
        .delete_app(&env.ws, "billing", &env.admin)
        .await
        .unwrap();
    let err = env
        .hush
        .app(&env.ws, "billing", &env.admin)
        .await
        .unwrap_err();
    assert!(matches!(&err, Error::AppNotFound { app } if app == "billing"));
    assert_eq!(
        err.to_string(),
        "no registered app \"billing\" in this workspace"
    );
    let err = env
        .hush
        .delete_app(&env.ws, "billing", &env.admin)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AppNotFound { .. }), "{err:?}");
    assert!(env
        .hush
        .usage(&env.ws, &["gh".to_string()])
        .await
        .unwrap()
        .is_empty());
    env.hush
        .delete(
            &env.ws,
            "gh",
            None,
            hush_core::Expect::NOTHING,
            false,
            &env.admin,
        )
        .await
        .unwrap();
    let actions: Vec<String> = summary(&env.audit().await)
        .into_iter()
        .map(|r| r.0)
        .collect();
    assert!(actions.contains(&"app.delete".to_string()), "{actions:?}");
}

#[tokio::test]
async fn a_machine_token_sees_only_its_own_app() {
    let env = Env::new().await;
    env.register(&manifest("billing", None, &[])).await;
    env.register(&manifest("other", None, &[])).await;
    let m = machine("billing", "prd");
    let listed = env.hush.apps(&env.ws, &m).await.unwrap();
    assert_eq!(
        listed.iter().map(|a| a.name()).collect::<Vec<_>>(),
        ["billing"]
    );
    assert_eq!(
        env.hush.app(&env.ws, "billing", &m).await.unwrap().name(),
        "billing"
    );
    // Registered, but "not found" to another app's token: the same as an app never registered.
    for name in ["other", "never"] {
        let err = env.hush.app(&env.ws, name, &m).await.unwrap_err();
        assert!(matches!(err, Error::AppNotFound { .. }), "{err:?}");
    }
}

#[tokio::test]
async fn roles_that_may_not_write_cannot_register_or_unregister() {
    let env = Env::new().await;
    env.register(&manifest("billing", None, &[])).await;
    let n = env.audit().await.len();
    for who in [actor(Role::Read), machine("billing", "prd")] {
        let err = env
            .hush
            .register_app(&env.ws, &manifest("billing", None, &[]), &who)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
        let err = env
            .hush
            .delete_app(&env.ws, "billing", &who)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    }
    assert_eq!(
        summary(&env.audit_after(n).await),
        rows(&[
            ("app.register", None, "forbidden"),
            ("app.delete", None, "forbidden"),
            ("app.register", None, "forbidden"),
            ("app.delete", None, "forbidden"),
        ])
    );
    assert!(env.hush.app(&env.ws, "billing", &env.admin).await.is_ok());
}
