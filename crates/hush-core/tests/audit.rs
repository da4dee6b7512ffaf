//! The audit log: what an admin reads (and with which filters), the chain verified intact,
//! an edited row and rows cut off the end found, and the head an operator keeps.

use hush_core::audit::{AuditFilter, Head, Verdict};
use hush_core::token::{Role, TokenSecret};
use hush_core::Error;

use crate::common::{actor, rows, summary, Env};

impl Env {
    async fn log(&self, filter: AuditFilter) -> Vec<hush_core::audit::AuditRow> {
        self.hush
            .audit_log(&self.ws, &filter, &self.admin)
            .await
            .unwrap()
    }

    async fn verify(&self, head: Option<&Head>) -> Verdict {
        self.hush
            .verify_audit(&self.ws, &self.admin, head)
            .await
            .unwrap()
    }
}

#[tokio::test]
async fn an_admin_reads_its_workspace_rows_with_filters() {
    let env = Env::new().await;
    env.put("a", b"v").await;
    env.put("b", b"v").await;
    env.read("a").await;
    let (ops, _) = env.hush.workspace("ops", true).await.unwrap();
    env.hush
        .put(
            &ops,
            "elsewhere",
            None,
            &crate::common::bytes(b"v"),
            &Default::default(),
            &env.admin,
        )
        .await
        .unwrap();
    // A failed authentication belongs to no workspace.
    let _ = env
        .hush
        .authenticate(&TokenSecret::generate().unwrap(), None)
        .await;

    let all = env.log(AuditFilter::default()).await;
    assert_eq!(
        summary(&all),
        rows(&[
            ("secret.create", Some("a"), "ok"),
            ("secret.create", Some("b"), "ok"),
            ("secret.read", Some("a"), "ok"),
            ("auth.failed", None, "unauthorized"),
        ]),
        "the rows of `default`, and those of no workspace (shown to default's admins)"
    );
    let about_a = env
        .log(AuditFilter {
            key: Some("a".into()),
            ..AuditFilter::default()
        })
        .await;
    assert_eq!(about_a.len(), 2);
    let after = env
        .log(AuditFilter {
            after_seq: Some(all[0].seq),
            limit: Some(1),
            ..AuditFilter::default()
        })
        .await;
    assert_eq!(summary(&after), rows(&[("secret.create", Some("b"), "ok")]));
    let by_actor = env
        .log(AuditFilter {
            actor: Some("anonymous".into()),
            ..AuditFilter::default()
        })
        .await;
    assert_eq!(by_actor.len(), 1);

    // The admins of `ops` see its rows only.
    let ops_rows = env
        .hush
        .audit_log(&ops, &AuditFilter::default(), &env.admin)
        .await
        .unwrap();
    assert_eq!(
        summary(&ops_rows),
        rows(&[("secret.create", Some("elsewhere"), "ok")])
    );
}

#[tokio::test]
async fn only_an_admin_reads_or_verifies_the_log_and_a_refusal_is_itself_recorded() {
    let env = Env::new().await;
    let n = env.audit().await.len();
    for role in [Role::Write, Role::Read, Role::Machine] {
        let who = actor(role);
        let err = env
            .hush
            .audit_log(&env.ws, &AuditFilter::default(), &who)
            .await
            .unwrap_err();
        assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
        assert!(env.hush.verify_audit(&env.ws, &who, None).await.is_err());
        assert!(env.hush.audit_head(&env.ws, &who).await.is_err());
    }
    let refused = env.audit_after(n).await;
    assert_eq!(refused.len(), 9);
    assert_eq!(
        summary(&refused[..3]),
        rows(&[
            ("audit.read", None, "forbidden"),
            ("audit.verify", None, "forbidden"),
            ("audit.head", None, "forbidden"),
        ])
    );
}

#[tokio::test]
async fn an_untouched_chain_verifies_and_a_recorded_head_is_found_again() {
    let env = Env::new().await;
    env.put("a", b"v").await;
    env.put("a", b"w").await;
    let head = env.hush.audit_head(&env.ws, &env.admin).await.unwrap();
    let stored = env.audit().await;
    assert_eq!(head.seq, stored.last().unwrap().seq);
    assert_eq!(head.mac, stored.last().unwrap().mac);

    env.read("a").await;
    match env.verify(Some(&head)).await {
        Verdict::Intact {
            rows,
            legacy,
            head: newest,
            head_checked,
        } => {
            assert_eq!((rows, legacy, head_checked), (3, 0, true));
            assert_eq!(
                newest.seq,
                head.seq + 1,
                "the chain grew since the head was kept"
            );
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn an_edited_row_breaks_the_chain_at_that_row() {
    let env = Env::new().await;
    for v in [b"1", b"2", b"3"] {
        env.put("a", v).await;
    }
    assert!(matches!(
        env.verify(None).await,
        Verdict::Intact { rows: 3, .. }
    ));
    let changed = env
        .sql()
        .execute(
            "UPDATE audit_log SET actor_name = 'someone else' WHERE seq = 2",
            [],
        )
        .unwrap();
    assert_eq!(changed, 1);
    match env.verify(None).await {
        Verdict::Broken { seq, reason, .. } => {
            assert_eq!(seq, 2);
            assert!(reason.contains("does not match its MAC"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn rows_cut_off_the_end_are_found_against_the_recorded_head() {
    let env = Env::new().await;
    for v in [b"1", b"2", b"3"] {
        env.put("a", v).await;
    }
    let head = env.hush.audit_head(&env.ws, &env.admin).await.unwrap();
    assert_eq!(head.seq, 3);
    env.sql()
        .execute("DELETE FROM audit_log WHERE seq = 3", [])
        .unwrap();
    // Without the head the shorter chain checks out; with it, the cut is found.
    assert!(matches!(
        env.verify(None).await,
        Verdict::Intact { rows: 2, .. }
    ));
    match env.verify(Some(&head)).await {
        Verdict::Broken { seq, reason, .. } => {
            assert_eq!(seq, 3);
            assert!(reason.contains("recorded head, is missing"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn a_newest_row_that_does_not_match_its_mac_is_no_head() {
    let env = Env::new().await;
    env.put("a", b"1").await;
    env.put("a", b"2").await;
    env.sql()
        .execute("UPDATE audit_log SET outcome = 'forged' WHERE seq = 2", [])
        .unwrap();
    let err = env.hush.audit_head(&env.ws, &env.admin).await.unwrap_err();
    assert!(matches!(err, Error::AuditHeadForged { seq: 2 }), "{err:?}");
}
