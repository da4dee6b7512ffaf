//! The audit log as the service shows it: rows for a workspace's admins, the whole chain
//! verified, and the head an operator keeps elsewhere.

use crate::audit::{self, AuditFilter, AuditRow, Checkpoint, Head, Pruned, Verdict};
use crate::clock;
use crate::error::{Error, Invalid};
use crate::model::Workspace;
use crate::token::{Action, Actor};

use super::Hush;

impl Hush {
    /// Audit rows (admin only).
    pub async fn audit_log(
        &self,
        ws: &Workspace,
        filter: &AuditFilter,
        actor: &Actor,
    ) -> Result<Vec<AuditRow>, Error> {
        self.require(actor, Action::Audit, ws, None, "audit.read")
            .await?;
        // A workspace's admins see its rows; failed authentications (no workspace) are shown to
        // the admins of `default`, the operator's workspace.
        let mut filter = filter.clone();
        filter.workspace = Some(ws.name.clone());
        filter.include_global = ws.name == "default";
        Ok(self.store.audit(&filter).await?)
    }

    /// Walks the whole audit chain, checking every row's MAC and link; with `expected` (a head
    /// recorded earlier, see [`Hush::audit_head`]), also that it is still there unchanged, so
    /// rows cut off the end are found.
    pub async fn verify_audit(
        &self,
        ws: &Workspace,
        actor: &Actor,
        expected: Option<&Head>,
    ) -> Result<Verdict, Error> {
        self.require(actor, Action::Audit, ws, None, "audit.verify")
            .await?;
        let checkpoint = self.store.audit_checkpoint().await?;
        Ok(audit::verify_from(
            &self.store.audit(&AuditFilter::default()).await?,
            &self.audit_key,
            checkpoint.as_ref(),
            expected,
        ))
    }

    /// Audit retention: removes the oldest rows, those written before `before_ms` (unix
    /// milliseconds; the longest run from the start of the chain whose rows are all older),
    /// and keeps a checkpoint — the last removed row's sequence number and MAC, authenticated
    /// with the audit key — from which [`Hush::verify_audit`] proves the rest. An
    /// `audit.prune` row naming the removed rows and the time is appended in the same
    /// transaction, so the chain never ends up empty: every row may go, even the newest.
    ///
    /// The chain is one for the whole store, so only an admin of `default` (the operator's
    /// workspace) or the CLI on the embedded store may prune it. A time in the future is
    /// refused, and so is a chain that does not verify (pruning would remove the evidence).
    /// Nothing older than `before_ms`: nothing changes and no row is written.
    pub async fn prune_audit(
        &self,
        ws: &Workspace,
        actor: &Actor,
        before_ms: i64,
    ) -> Result<Pruned, Error> {
        self.require(actor, Action::Audit, ws, None, audit::PRUNED)
            .await?;
        if actor.principal.id != "local" && ws.name != "default" {
            let entry = self.audit_entry(actor, audit::PRUNED, Some(ws), None, None, "forbidden");
            self.record(vec![entry], Vec::new()).await?;
            return Err(Error::Forbidden {
                reason: format!(
                    "the audit log is one chain for every workspace: only an admin of workspace \"default\" may prune it, not one of {:?}",
                    ws.name
                ),
            });
        }
        let now = clock::now_ms();
        if before_ms > now {
            return Err(Invalid::PruneInFuture {
                before: clock::rfc3339_ms(before_ms),
            }
            .into());
        }
        // Two prunes racing: the store refuses the one whose checkpoint moved; read again.
        for _ in 0..3 {
            let checkpoint = self.store.audit_checkpoint().await?;
            let rows = self.store.audit(&AuditFilter::default()).await?;
            let (head, current) =
                match audit::verify_from(&rows, &self.audit_key, checkpoint.as_ref(), None) {
                    Verdict::Intact {
                        head, checkpoint, ..
                    } => (head, checkpoint),
                    Verdict::Broken { seq, reason, .. } => {
                        return Err(Error::AuditBroken { seq, reason })
                    }
                };
            let cut = rows
                .iter()
                .position(|r| r.entry.ts_ms >= before_ms)
                .unwrap_or(rows.len());
            let Some(last) = cut.checked_sub(1).map(|i| &rows[i]) else {
                return Ok(Pruned {
                    removed: 0,
                    checkpoint: current,
                    head,
                });
            };
            let first = rows[0].seq;
            let new = Checkpoint::new(&self.audit_key.key, last.seq, &last.mac, now);
            let mut entry = self.audit_entry(actor, audit::PRUNED, Some(ws), None, None, "ok");
            entry.detail = Some(format!(
                "removed rows {first} to {} ({} rows), every row older than {}",
                last.seq,
                last.seq - first + 1,
                clock::rfc3339_ms(before_ms)
            ));
            match self
                .store
                .prune_audit(checkpoint.as_ref().map(|c| c.seq), &new, &entry)
                .await
            {
                Ok(removed) => {
                    let head = self.store.audit_head().await?;
                    return Ok(Pruned {
                        removed,
                        checkpoint: Some(new.head()),
                        head: Head::of(head.as_slice()),
                    });
                }
                Err(crate::store::StoreError::Conflict) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(crate::store::StoreError::Conflict.into())
    }

    /// The newest audit row's sequence number and MAC, for the operator to keep elsewhere and
    /// give back to [`Hush::verify_audit`]. The row's own MAC is checked (one row, not the
    /// chain): a head that hush did not write is refused.
    pub async fn audit_head(&self, ws: &Workspace, actor: &Actor) -> Result<Head, Error> {
        self.require(actor, Action::Audit, ws, None, "audit.head")
            .await?;
        let newest = self.store.audit_head().await?;
        if let Some(row) = &newest {
            if !self.audit_key.row_checks_out(row) {
                return Err(Error::AuditHeadForged { seq: row.seq });
            }
        }
        Ok(Head::of(newest.as_slice()))
    }
}
