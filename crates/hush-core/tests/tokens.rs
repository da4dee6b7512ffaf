//! Tokens and web UI sessions: making, listing and revoking tokens, the rules a machine token
//! follows, and sessions started and ended.

use hush_core::service::SESSION_MARK;
use hush_core::token::{Role, TokenRow, TokenSecret};
use hush_core::{Actor, Error, Invalid};

use crate::common::{actor, audit_mentions, machine, now, rows, summary, Env};

impl Env {
    async fn token(
        &self,
        name: &str,
        role: Role,
        app: Option<&str>,
        env: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<(TokenRow, TokenSecret), Error> {
        self.hush
            .create_token(&self.ws, name, role, app, env, expires_at, &self.admin)
            .await
    }

    /// Signs in with `secret` as the API would: the actor the token checks out as.
    async fn sign_in(&self, secret: &TokenSecret) -> Result<Actor, Error> {
        self.hush
            .authenticate(secret, None)
            .await
            .map(|(actor, _)| actor)
    }
}

#[tokio::test]
async fn a_token_is_made_listed_and_revoked_and_only_its_id_is_recorded() {
    let env = Env::new().await;
    let (row, secret) = env
        .token("ci", Role::Write, None, None, Some(now() + 3600))
        .await
        .unwrap();
    assert!(secret.well_formed());
    assert_eq!(row.hash, secret.hash());
    assert!(row.id.starts_with("tok_"));
    assert_eq!((row.name.as_str(), row.role), ("ci", Role::Write));
    assert_eq!(row.created_by, env.admin.name());
    let listed = env.tokens().await.unwrap();
    assert_eq!(listed, std::slice::from_ref(&row));

    let revoked = env
        .hush
        .revoke_token(&env.ws, "ci", &env.admin)
        .await
        .unwrap();
    assert_eq!(revoked.id, row.id);
    let listed = env.tokens().await.unwrap();
    assert!(listed[0].revoked_at.is_some());
    let err = env
        .hush
        .revoke_token(&env.ws, &row.id, &env.admin)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::TokenNotFound { .. }), "{err:?}");

    let audit = env.audit().await;
    assert_eq!(
        summary(&audit),
        rows(&[
            ("token.create", Some(&row.id), "ok"),
            ("token.revoke", Some(&row.id), "ok")
        ])
    );
    assert!(!audit_mentions(&audit, secret.expose_secret()));
    assert!(!audit_mentions(&audit, &row.hash));
    assert!(!format!("{row:?}").contains(secret.expose_secret()));
}

#[tokio::test]
async fn a_machine_token_needs_an_app_and_an_environment_and_nothing_else_takes_them() {
    let env = Env::new().await;
    for (role, app, e) in [
        (Role::Machine, Some("billing"), None),
        (Role::Machine, None, Some("prd")),
        (Role::Machine, None, None),
        (Role::Read, Some("billing"), Some("prd")),
        (Role::Admin, None, Some("prd")),
    ] {
        let err = env.token("t", role, app, e, None).await.unwrap_err();
        assert!(
            matches!(err, Error::Invalid(Invalid::MachineToken)),
            "{role:?} {app:?} {e:?}: {err:?}"
        );
        assert!(!err.to_string().contains("--"), "{err}");
    }
    let err = env
        .token("t", Role::Machine, Some("bad app"), Some("prd"), None)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(Invalid::Name { .. })),
        "{err:?}"
    );
    assert!(env.tokens().await.unwrap().is_empty());

    let (row, _) = env
        .token("ingest", Role::Machine, Some("billing"), Some("prd"), None)
        .await
        .unwrap();
    assert_eq!(
        (row.app.as_deref(), row.env.as_deref()),
        (Some("billing"), Some("prd"))
    );
}

#[tokio::test]
async fn names_and_expiries_are_checked_before_anything_is_made() {
    let env = Env::new().await;
    let cases: [(&str, Option<i64>); 5] = [
        ("", None),
        ("a/b", None),
        ("n.ui-x", None),
        ("past", Some(now() - 1)),
        ("millis", Some(1_800_000_000_000)),
    ];
    for (name, exp) in cases {
        let err = env
            .token(name, Role::Read, None, None, exp)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Invalid(_)), "{name:?}: {err:?}");
    }
    let err = env
        .token("past", Role::Read, None, None, Some(now() - 1))
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Invalid(Invalid::PastExpiry)));
    assert!(env.tokens().await.unwrap().is_empty());
    assert!(env.audit().await.is_empty());
    assert!("n.ui-x".contains(SESSION_MARK));
}

#[tokio::test]
async fn a_name_held_by_two_live_tokens_is_refused_and_the_id_works() {
    let env = Env::new().await;
    let (a, _) = env
        .token("dup", Role::Read, None, None, None)
        .await
        .unwrap();
    env.token("dup", Role::Read, None, None, None)
        .await
        .unwrap();
    let err = env
        .hush
        .revoke_token(&env.ws, "dup", &env.admin)
        .await
        .unwrap_err();
    assert!(
        matches!(err, Error::Invalid(Invalid::Ambiguous { .. })),
        "{err:?}"
    );
    assert!(env
        .tokens()
        .await
        .unwrap()
        .iter()
        .all(|t| t.revoked_at.is_none()));
    env.hush
        .revoke_token(&env.ws, &a.id, &env.admin)
        .await
        .unwrap();
    // One live "dup" left: the name works again.
    env.hush
        .revoke_token(&env.ws, "dup", &env.admin)
        .await
        .unwrap();
}

#[tokio::test]
async fn only_an_admin_manages_tokens() {
    let env = Env::new().await;
    for who in [
        actor(Role::Write),
        actor(Role::Read),
        machine("billing", "prd"),
    ] {
        let err = env
            .hush
            .create_token(&env.ws, "x", Role::Read, None, None, None, &who)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
        let err = env.hush.tokens(&env.ws, &who).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
        let err = env.hush.revoke_token(&env.ws, "x", &who).await.unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    }
    assert!(env
        .hush
        .tokens(&env.ws, &env.admin)
        .await
        .unwrap()
        .is_empty());
    let outcomes: Vec<String> = summary(&env.audit().await)
        .into_iter()
        .map(|r| r.2)
        .collect();
    assert_eq!(outcomes, vec!["forbidden"; 9]);
}

#[tokio::test]
async fn a_session_is_started_from_a_token_and_ended_on_sign_out() {
    let env = Env::new().await;
    let expiry = now() + 600;
    let (alice, alice_secret) = env
        .token("alice", Role::Write, None, None, Some(expiry))
        .await
        .unwrap();
    let signed = env.sign_in(&alice_secret).await.unwrap();

    let (session, session_secret) = env
        .hush
        .start_session(&env.ws, &signed, 3600)
        .await
        .unwrap();
    assert!(session.name.starts_with("alice.ui-"), "{}", session.name);
    assert_eq!(session.name.len(), "alice.ui-".len() + 8);
    assert_eq!(
        session.role,
        Role::Write,
        "never more than the token that signed in"
    );
    assert_eq!(session.expires_at, Some(expiry), "never outlives its token");
    assert_eq!(session.created_by, "alice");

    let in_session = env.sign_in(&session_secret).await.unwrap();
    assert_eq!(in_session.principal.id, session.id);
    // A session does not beget another; a machine token does not sign in.
    let err = env
        .hush
        .start_session(&env.ws, &in_session, 3600)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    let err = env
        .hush
        .start_session(&env.ws, &machine("billing", "prd"), 3600)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");

    // Ending with the API token itself is a no-op; ending the session revokes it.
    env.hush.end_session(&env.ws, &signed).await.unwrap();
    assert!(env.sign_in(&alice_secret).await.is_ok());
    env.hush.end_session(&env.ws, &in_session).await.unwrap();
    assert!(matches!(
        env.sign_in(&session_secret).await,
        Err(Error::Unauthorized)
    ));
    assert!(env.sign_in(&alice_secret).await.is_ok());

    let audit = env.audit().await;
    let sessions: Vec<_> = summary(&audit)
        .into_iter()
        .filter(|r| r.0.starts_with("session."))
        .collect();
    assert_eq!(
        sessions,
        rows(&[
            ("session.start", Some(&session.id), "ok"),
            ("session.end", Some(&session.id), "ok")
        ])
    );
    assert!(!audit_mentions(&audit, session_secret.expose_secret()));
    assert_eq!(alice.id, signed.principal.id);
}

#[tokio::test]
async fn revoking_a_token_ends_its_sessions() {
    let env = Env::new().await;
    let (_, secret) = env
        .token("bob", Role::Admin, None, None, None)
        .await
        .unwrap();
    let bob = env.sign_in(&secret).await.unwrap();
    let (_, s1) = env.hush.start_session(&env.ws, &bob, 3600).await.unwrap();
    let (_, s2) = env.hush.start_session(&env.ws, &bob, 3600).await.unwrap();
    let (_, other) = env
        .token("carol", Role::Read, None, None, None)
        .await
        .unwrap();
    let carol = env.sign_in(&other).await.unwrap();
    let (_, s3) = env.hush.start_session(&env.ws, &carol, 3600).await.unwrap();

    env.hush
        .revoke_token(&env.ws, "bob", &env.admin)
        .await
        .unwrap();
    for gone in [&secret, &s1, &s2] {
        assert!(matches!(env.sign_in(gone).await, Err(Error::Unauthorized)));
    }
    assert!(
        env.sign_in(&s3).await.is_ok(),
        "another token's session lives on"
    );
    let ended = summary(&env.audit().await)
        .into_iter()
        .filter(|r| r.0 == "session.end")
        .count();
    assert_eq!(ended, 2);
}
