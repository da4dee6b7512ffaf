//! Authentication: a live token checks out as its principal; revoked, expired, unknown and
//! malformed tokens are refused alike, each refusal recorded, and no token ever appears in an
//! audit row or an error.

use hush_core::token::{Role, TokenSecret};
use hush_core::Error;

use crate::common::{audit_mentions, now, Env};

const REMOTE: Option<&str> = Some("198.51.100.9");

#[tokio::test]
async fn a_live_token_checks_out_as_its_principal_in_its_workspace() {
    let env = Env::new().await;
    let (row, secret) = env
        .hush
        .create_token(
            &env.ws,
            "ingest",
            Role::Machine,
            Some("billing"),
            Some("prd"),
            Some(now() + 3600),
            &env.admin,
        )
        .await
        .unwrap();
    let n = env.audit().await.len();
    let (actor, ws) = env.hush.authenticate(&secret, REMOTE).await.unwrap();
    assert_eq!(ws, env.ws);
    let p = &actor.principal;
    assert_eq!(
        (p.id.as_str(), p.name.as_str()),
        (row.id.as_str(), "ingest")
    );
    assert_eq!(p.role, Role::Machine);
    assert_eq!(
        (p.app.as_deref(), p.env.as_deref()),
        (Some("billing"), Some("prd"))
    );
    assert_eq!(actor.remote.as_deref(), REMOTE);
    assert_eq!(env.audit().await.len(), n, "a success writes no row");

    // A token of another workspace checks out in that workspace.
    let (ops, created) = env.hush.workspace("ops", true).await.unwrap();
    assert!(created);
    let (_, ops_secret) = env
        .hush
        .create_token(&ops, "ops-ci", Role::Read, None, None, None, &env.admin)
        .await
        .unwrap();
    let (actor, ws) = env.hush.authenticate(&ops_secret, None).await.unwrap();
    assert_eq!(ws, ops);
    assert_eq!(actor.principal.role, Role::Read);
}

#[tokio::test]
async fn revoked_expired_unknown_and_malformed_tokens_are_refused_alike_and_recorded() {
    let env = Env::new().await;
    let (_, revoked) = env
        .hush
        .create_token(&env.ws, "old", Role::Admin, None, None, None, &env.admin)
        .await
        .unwrap();
    env.hush
        .revoke_token(&env.ws, "old", &env.admin)
        .await
        .unwrap();
    let (expired_row, expired) = env
        .hush
        .create_token(
            &env.ws,
            "short",
            Role::Admin,
            None,
            None,
            Some(now() + 3600),
            &env.admin,
        )
        .await
        .unwrap();
    // Expired an hour ago, as far as the store knows.
    env.sql()
        .execute(
            "UPDATE tokens SET expires_at = ?1 WHERE id = ?2",
            rusqlite::params![now() - 3600, expired_row.id],
        )
        .unwrap();
    let unknown = TokenSecret::generate().unwrap();
    let malformed = TokenSecret::from_presented("hush_planted-not-a-token");

    let presented = [&revoked, &expired, &unknown, &malformed];
    let n = env.audit().await.len();
    for t in presented {
        let err = env.hush.authenticate(t, REMOTE).await.unwrap_err();
        assert!(matches!(err, Error::Unauthorized), "{err:?}");
        assert!(!err.to_string().contains(t.expose_secret()));
        assert!(!format!("{err:?}").contains(t.expose_secret()));
    }
    let failures = env.audit_after(n).await;
    assert_eq!(failures.len(), presented.len());
    for r in &failures {
        assert_eq!(r.entry.action, "auth.failed");
        assert_eq!(r.entry.outcome, "unauthorized");
        assert_eq!(r.entry.actor_id, "anonymous");
        assert_eq!(r.entry.workspace, None);
        assert_eq!(r.entry.remote.as_deref(), REMOTE);
    }
    let all = env.audit().await;
    for t in presented {
        assert!(!audit_mentions(&all, t.expose_secret()));
        assert!(!audit_mentions(&all, &t.hash()));
    }
}

#[tokio::test]
async fn the_unaudited_check_refuses_the_same_and_writes_nothing() {
    let env = Env::new().await;
    let (_, secret) = env
        .hush
        .create_token(&env.ws, "ci", Role::Read, None, None, None, &env.admin)
        .await
        .unwrap();
    let n = env.audit().await.len();
    let err = env
        .hush
        .authenticate_unaudited(&TokenSecret::generate().unwrap(), REMOTE)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Unauthorized));
    assert_eq!(env.audit().await.len(), n);
    let (actor, _) = env
        .hush
        .authenticate_unaudited(&secret, REMOTE)
        .await
        .unwrap();
    assert_eq!(actor.principal.name, "ci");
}
