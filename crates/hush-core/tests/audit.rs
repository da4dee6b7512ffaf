//! The audit log: what an admin reads (and with which filters), the chain verified intact,
//! an edited row and rows cut off the end found, and the head an operator keeps.

use hush_core::audit::{AuditFilter, Head, Verdict, PRUNED};
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
            checkpoint: None,
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

/// A time between two writes: every row before it is older, every row after it is not.
async fn a_moment() -> i64 {
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let t = hush_core::clock::now_ms();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    t
}

fn broken(v: Verdict) -> (i64, String) {
    match v {
        Verdict::Broken { seq, reason, .. } => (seq, reason),
        other => panic!("{other:?}"),
    }
}

/// Issue 18: the rows older than a time go; the chain verifies from the checkpoint (the last
/// removed row), a recorded head is still found, and the prune is itself recorded.
#[tokio::test]
async fn a_prune_removes_old_rows_and_the_rest_verifies_from_the_checkpoint() {
    let env = Env::new().await;
    for v in [b"1", b"2", b"3"] {
        env.put("a", v).await;
    }
    let before = a_moment().await;
    env.put("a", b"4").await;
    env.read("a").await;
    let old = env.audit().await;
    let recorded = env.hush.audit_head(&env.ws, &env.admin).await.unwrap();

    let pruned = env
        .hush
        .prune_audit(&env.ws, &env.admin, before)
        .await
        .unwrap();
    assert_eq!(pruned.removed, 3);
    let cp = pruned.checkpoint.clone().unwrap();
    assert_eq!((cp.seq, cp.mac.as_str()), (3, old[2].mac.as_str()));
    let now = env.audit().await;
    assert_eq!(now.iter().map(|r| r.seq).collect::<Vec<_>>(), [4, 5, 6]);
    let row = &now[2];
    assert_eq!(row.entry.action, PRUNED);
    assert_eq!(row.entry.workspace.as_deref(), Some("default"));
    let detail = row.entry.detail.as_deref().unwrap();
    assert!(detail.contains("removed rows 1 to 3 (3 rows)"), "{detail}");
    assert!(
        detail.contains(&hush_core::clock::rfc3339_ms(before)),
        "{detail}"
    );
    assert_eq!(
        pruned.head,
        Head {
            seq: 6,
            mac: row.mac.clone()
        }
    );

    match env.verify(Some(&recorded)).await {
        Verdict::Intact {
            rows: 3,
            head,
            head_checked: true,
            checkpoint: Some(c),
            ..
        } => {
            assert_eq!(head.seq, 6);
            assert_eq!(c, cp);
        }
        other => panic!("{other:?}"),
    }
    // Nothing older than that any more: nothing changes, no row is written.
    let again = env
        .hush
        .prune_audit(&env.ws, &env.admin, before)
        .await
        .unwrap();
    assert_eq!((again.removed, again.checkpoint), (0, Some(cp.clone())));
    assert_eq!(env.audit().await.len(), 3);

    // Every row, the newest included: the prune's own row stays, linked to the checkpoint.
    // (A millisecond later than the newest row, which `before` must be strictly after.)
    tokio::time::sleep(std::time::Duration::from_millis(2)).await;
    let all = env
        .hush
        .prune_audit(&env.ws, &env.admin, hush_core::clock::now_ms())
        .await
        .unwrap();
    assert_eq!(all.removed, 3);
    assert_eq!(all.checkpoint.unwrap().seq, 6);
    let left = env.audit().await;
    assert_eq!(left.len(), 1);
    assert_eq!((left[0].seq, left[0].entry.action.as_str()), (7, PRUNED));
    assert!(matches!(
        env.verify(None).await,
        Verdict::Intact { rows: 1, .. }
    ));
}

/// A store whose rows 1 was pruned: rows 2 to 5 are left (5: the prune's own row).
async fn pruned_env() -> (Env, Vec<hush_core::audit::AuditRow>) {
    let env = Env::new().await;
    env.put("a", b"1").await;
    let before = a_moment().await;
    for v in [b"2", b"3", b"4"] {
        env.put("a", v).await;
    }
    env.hush
        .prune_audit(&env.ws, &env.admin, before)
        .await
        .unwrap();
    let kept = env.audit().await;
    assert_eq!(kept.iter().map(|r| r.seq).collect::<Vec<_>>(), [2, 3, 4, 5]);
    assert!(matches!(
        env.verify(None).await,
        Verdict::Intact { rows: 4, .. }
    ));
    (env, kept)
}

/// Tampering after a prune is found: the checkpoint moved forward over rows deleted from the
/// front, the checkpoint's MAC edited, a kept row edited, every kept row deleted.
#[tokio::test]
async fn tampering_with_the_checkpoint_or_the_kept_rows_is_found() {
    // Row 2 deleted, and the checkpoint moved to it: its tag no longer checks out.
    let (env, kept) = pruned_env().await;
    let sql = env.sql();
    sql.execute("DELETE FROM audit_log WHERE seq = 2", [])
        .unwrap();
    sql.execute(
        "UPDATE audit_checkpoint SET seq = 2, mac = ?1",
        [&kept[0].mac],
    )
    .unwrap();
    let (seq, reason) = broken(env.verify(None).await);
    assert_eq!(seq, 3);
    assert!(reason.contains("checkpoint"), "{reason}");
    // A prune refuses a broken chain (it would remove the evidence), and changes nothing.
    let err = env
        .hush
        .prune_audit(&env.ws, &env.admin, hush_core::clock::now_ms())
        .await
        .unwrap_err();
    assert!(matches!(err, Error::AuditBroken { seq: 3, .. }), "{err:?}");
    assert_eq!(env.audit().await.len(), 3);

    // Only row 2 deleted: row 3 no longer links to the checkpoint.
    let (env, _) = pruned_env().await;
    env.sql()
        .execute("DELETE FROM audit_log WHERE seq = 2", [])
        .unwrap();
    let (seq, reason) = broken(env.verify(None).await);
    assert_eq!(seq, 3);
    assert!(reason.contains("missing"), "{reason}");

    // The checkpoint's MAC edited.
    let (env, kept) = pruned_env().await;
    env.sql()
        .execute("UPDATE audit_checkpoint SET mac = ?1", [&kept[1].mac])
        .unwrap();
    assert_eq!(broken(env.verify(None).await).0, 2);

    // The checkpoint deleted: the chain must then start at row 1.
    let (env, _) = pruned_env().await;
    env.sql()
        .execute("DELETE FROM audit_checkpoint", [])
        .unwrap();
    assert_eq!(broken(env.verify(None).await).0, 2);

    // A kept row edited.
    let (env, _) = pruned_env().await;
    env.sql()
        .execute("UPDATE audit_log SET outcome = 'forged' WHERE seq = 3", [])
        .unwrap();
    assert_eq!(broken(env.verify(None).await).0, 3);

    // Every kept row deleted.
    let (env, _) = pruned_env().await;
    env.sql().execute("DELETE FROM audit_log", []).unwrap();
    let (seq, reason) = broken(env.verify(None).await);
    assert_eq!(seq, 2);
    assert!(reason.contains("no row follows the checkpoint"), "{reason}");
}

/// A time in the future is refused; so are roles other than admin, and admins of workspaces
/// other than `default` (the chain is one for every workspace). Refusals change nothing.
#[tokio::test]
async fn a_prune_is_refused_in_the_future_and_to_other_than_the_operator() {
    let env = Env::new().await;
    env.put("a", b"1").await;
    let later = hush_core::clock::now_ms() + 60_000;
    let err = env
        .hush
        .prune_audit(&env.ws, &env.admin, later)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("in the future"), "{err}");
    let now = hush_core::clock::now_ms();
    let err = env
        .hush
        .prune_audit(&env.ws, &actor(Role::Write), now)
        .await
        .unwrap_err();
    assert!(matches!(err, Error::Forbidden { .. }), "{err:?}");
    let (ops, _) = env.hush.workspace("ops", true).await.unwrap();
    let err = env
        .hush
        .prune_audit(&ops, &actor(Role::Admin), now)
        .await
        .unwrap_err();
    assert!(err.to_string().contains("\"default\""), "{err}");
    // Nothing was removed; the refusals were recorded.
    let rows = env.audit().await;
    assert_eq!(rows[0].seq, 1);
    assert_eq!(
        rows.iter()
            .filter(|r| r.entry.action == PRUNED)
            .map(|r| r.entry.outcome.as_str())
            .collect::<Vec<_>>(),
        ["forbidden", "forbidden"]
    );
    // An admin of `default` may. Every row is older than the cut: none shares its millisecond.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let done = env
        .hush
        .prune_audit(&env.ws, &actor(Role::Admin), hush_core::clock::now_ms())
        .await
        .unwrap();
    assert_eq!(done.removed, rows.len() as u64);
}

/// Issue 18: the request an actor serves is named in the rows it writes, covered by their MAC.
#[tokio::test]
async fn rows_name_the_request_that_wrote_them() {
    let env = Env::new().await;
    let admin = env.admin.clone().in_request(Some("abc-123"));
    env.hush
        .put(
            &env.ws,
            "a",
            None,
            &crate::common::bytes(b"v"),
            &Default::default(),
            &admin,
        )
        .await
        .unwrap();
    env.put("b", b"v").await;
    let rows = env.audit().await;
    assert_eq!(rows[0].entry.request_id.as_deref(), Some("abc-123"));
    assert_eq!(rows[1].entry.request_id, None);
    env.sql()
        .execute(
            "UPDATE audit_log SET request_id = 'abc-124' WHERE seq = 1",
            [],
        )
        .unwrap();
    assert_eq!(broken(env.verify(None).await).0, 1);
}
