//! The audit log as the service shows it: rows for a workspace's admins, the whole chain
//! verified, and the head an operator keeps elsewhere.

use crate::audit::{self, AuditFilter, AuditRow, Head, Verdict};
use crate::error::Error;
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
        Ok(audit::verify(
            &self.store.audit(&AuditFilter::default()).await?,
            &self.audit_key,
            expected,
        ))
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
