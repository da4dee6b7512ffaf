//! Values per environment: one key with a shared value and, on top, values of its own for
//! named environments — written, read, versioned, rolled back and deleted one environment at a
//! time, never touching another's.

use hush_core::token::Role;
use hush_core::{Error, Expect, Invalid, MetadataPatch};

use crate::common::{actor, bytes, machine, Env};

async fn read_in(
    env: &Env,
    key: &str,
    e: Option<&str>,
) -> Result<(Option<String>, u64, Vec<u8>), Error> {
    let r = env.hush.reveal(&env.ws, key, e, None, &env.admin).await?;
    Ok((r.env, r.version, r.value.expose_secret().to_vec()))
}

async fn set_in(env: &Env, key: &str, e: Option<&str>, value: &[u8]) {
    env.hush
        .put(
            &env.ws,
            key,
            e,
            &bytes(value),
            &MetadataPatch::default(),
            &env.admin,
        )
        .await
        .unwrap();
}

#[tokio::test]
async fn each_environment_reads_its_own_value_else_the_shared_one() {
    let env = Env::new().await;
    set_in(&env, "DB_URL", None, b"postgres://shared").await;
    set_in(&env, "DB_URL", Some("dev"), b"postgres://dev").await;
    set_in(&env, "DB_URL", Some("prd"), b"postgres://prd").await;
    // Writing prd's value left dev's and the shared one alone.
    assert_eq!(
        read_in(&env, "DB_URL", Some("dev")).await.unwrap(),
        (Some("dev".into()), 1, b"postgres://dev".to_vec())
    );
    assert_eq!(
        read_in(&env, "DB_URL", Some("prd")).await.unwrap(),
        (Some("prd".into()), 1, b"postgres://prd".to_vec())
    );
    assert_eq!(
        read_in(&env, "DB_URL", Some("stg")).await.unwrap(),
        (None, 1, b"postgres://shared".to_vec())
    );
    assert_eq!(
        read_in(&env, "DB_URL", None).await.unwrap(),
        (None, 1, b"postgres://shared".to_vec())
    );
    let row = env.row("DB_URL").await.unwrap();
    assert_eq!(row.version, 1);
    assert_eq!(
        row.env_versions.into_iter().collect::<Vec<_>>(),
        [("dev".to_string(), 1), ("prd".to_string(), 1)]
    );
    // A machine token bound to prd reads prd's value without asking, and cannot ask for dev.
    let m = machine("api", "prd");
    let r = env
        .hush
        .reveal(&env.ws, "DB_URL", None, None, &m)
        .await
        .unwrap();
    assert_eq!(r.value.expose_secret(), b"postgres://prd");
    let err = env
        .hush
        .reveal(&env.ws, "DB_URL", Some("dev"), None, &m)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    // Resolve in an environment gives that environment's value, and says which it is.
    let answers = env
        .hush
        .resolve(
            &env.ws,
            Some("api"),
            Some("dev"),
            &["DB_URL".to_string()],
            false,
            &env.admin,
        )
        .await
        .unwrap();
    let got = answers[0].1.as_ref().unwrap();
    assert_eq!(got.env.as_deref(), Some("dev"));
    assert_eq!(
        got.value.as_ref().unwrap().1.expose_secret(),
        b"postgres://dev"
    );
}

#[tokio::test]
async fn versions_rollback_and_delete_apply_to_one_environment() {
    let env = Env::new().await;
    set_in(&env, "K", None, b"shared-1").await;
    set_in(&env, "K", Some("dev"), b"dev-1").await;
    set_in(&env, "K", Some("dev"), b"dev-2").await;
    set_in(&env, "K", Some("prd"), b"prd-1").await;
    let (_, dev) = env
        .hush
        .history(&env.ws, "K", Some("dev"), &env.admin)
        .await
        .unwrap();
    assert_eq!(
        dev.iter()
            .map(|v| (v.env.as_str(), v.version))
            .collect::<Vec<_>>(),
        [("dev", 1), ("dev", 2)]
    );
    let (_, all) = env
        .hush
        .history(&env.ws, "K", None, &env.admin)
        .await
        .unwrap();
    assert_eq!(all.len(), 4);
    // Guarded by dev's own version: the shared version does not count.
    let stale = env
        .hush
        .update(
            &env.ws,
            "K",
            Some("dev"),
            Some(&bytes(b"x")),
            &MetadataPatch::default(),
            Expect::version(Some(1)),
            &env.admin,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(stale, Error::StaleVersion { current: 2, .. }),
        "{stale:?}"
    );
    // Rolling dev back to 1 makes dev-1 current as dev's version 3.
    let row = env
        .hush
        .rollback(&env.ws, "K", Some("dev"), 1, &env.admin)
        .await
        .unwrap();
    assert_eq!(row.env_versions.get("dev"), Some(&3));
    assert_eq!(row.version, 1);
    assert_eq!(read_in(&env, "K", Some("dev")).await.unwrap().2, b"dev-1");
    // Deleting dev's value: dev reads the shared value again; prd and shared stay.
    env.hush
        .delete(
            &env.ws,
            "K",
            Some("dev"),
            Expect::NOTHING,
            false,
            &env.admin,
        )
        .await
        .unwrap();
    assert_eq!(
        read_in(&env, "K", Some("dev")).await.unwrap(),
        (None, 1, b"shared-1".to_vec())
    );
    assert_eq!(read_in(&env, "K", Some("prd")).await.unwrap().2, b"prd-1");
    let (_, all) = env
        .hush
        .history(&env.ws, "K", None, &env.admin)
        .await
        .unwrap();
    assert!(all.iter().all(|v| v.env != "dev"), "{all:?}");
    // Deleting a value dev no longer has is refused, nothing changes.
    let err = env
        .hush
        .delete(
            &env.ws,
            "K",
            Some("dev"),
            Expect::NOTHING,
            false,
            &env.admin,
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::NoValue { .. }), "{err:?}");
    assert!(env.row("K").await.is_some());
}

#[tokio::test]
async fn a_secret_with_only_environment_values_refuses_other_environments_clearly() {
    let env = Env::new().await;
    env.hush
        .create(
            &env.ws,
            "ONLY",
            Some("dev"),
            &bytes(b"dev-only"),
            &MetadataPatch::default(),
            &env.admin,
        )
        .await
        .unwrap();
    assert_eq!(env.row("ONLY").await.unwrap().version, 0);
    assert_eq!(
        read_in(&env, "ONLY", Some("dev")).await.unwrap().2,
        b"dev-only"
    );
    let err = read_in(&env, "ONLY", Some("prd")).await.unwrap_err();
    assert!(
        matches!(err, Error::NoValue { ref env, .. } if env == "prd"),
        "{err:?}"
    );
    assert!(!err.to_string().contains("dev-only"));
    // A value for an environment the secret is not available in is refused, nothing written.
    let patch = MetadataPatch {
        envs: Some(vec!["dev".into()]),
        ..MetadataPatch::default()
    };
    env.hush
        .update(
            &env.ws,
            "ONLY",
            None,
            None,
            &patch,
            Expect::NOTHING,
            &env.admin,
        )
        .await
        .unwrap();
    let before = env.row("ONLY").await.unwrap();
    let err = env
        .hush
        .put(
            &env.ws,
            "ONLY",
            Some("prd"),
            &bytes(b"p"),
            &MetadataPatch::default(),
            &env.admin,
        )
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(Invalid::EnvNotAvailable { .. })),
        "{err:?}"
    );
    assert_eq!(env.row("ONLY").await.unwrap(), before);
    // A bad environment name is refused before anything is looked up.
    let err = env
        .hush
        .put(
            &env.ws,
            "ONLY",
            Some("bad env"),
            &bytes(b"p"),
            &MetadataPatch::default(),
            &actor(Role::Write),
        )
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(_)), "{err:?}");
}
