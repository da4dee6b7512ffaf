//! The embedded store: the service (`hush_core::Hush`) in this process, acting as the local
//! user in the workspace asked for.

use std::collections::BTreeMap;

use anyhow::Result;
use async_trait::async_trait;
use hush_client::secrets::Reason;
use hush_core::audit::{AuditFilter, Head, Verdict};
use hush_core::token::Role;
use hush_core::{
    clock, wire, Actor, Hush, ListFilter, MetadataPatch, SecretBytes, StoredStatus, Workspace,
};
use hush_wire::{
    AppInfo, AppManifest, AuditHead, AuditRecord, AuditVerdict, NewToken, SecretMeta, TokenInfo,
    VersionInfo,
};

use super::{
    refuse_all, warn_all, Answer, Answered, Answers, Backend, Change, EventSource, Fetched,
};

/// The embedded store.
pub struct Local {
    /// The service.
    pub hush: Hush,
    /// The workspace name asked for.
    pub workspace: String,
    /// The local user.
    pub actor: Actor,
}

impl Local {
    /// The workspace, made first when `create` (and said so).
    async fn ws(&self, create: bool) -> Result<Workspace> {
        let (ws, created) = self.hush.workspace(&self.workspace, create).await?;
        if created {
            eprintln!("created workspace {}", self.workspace);
        }
        Ok(ws)
    }
}

#[async_trait]
impl Backend for Local {
    fn source_label(&self) -> &'static str {
        "store"
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        match self.hush.workspace(&self.workspace, false).await {
            Ok((ws, _)) => Ok(self.hush.store().secret(&ws.id, key).await?.is_some()),
            Err(_) => Ok(false),
        }
    }

    async fn create(
        &self,
        key: &str,
        env: Option<&str>,
        value: &SecretBytes,
        patch: &MetadataPatch,
    ) -> Result<SecretMeta> {
        let ws = self.ws(true).await?;
        let row = self
            .hush
            .create(&ws, key, env, value, patch, &self.actor)
            .await?;
        Ok(wire::meta(&row, &ws.name, clock::now()))
    }

    async fn put(
        &self,
        key: &str,
        env: Option<&str>,
        value: &SecretBytes,
        patch: &MetadataPatch,
    ) -> Result<(SecretMeta, bool)> {
        let ws = self.ws(true).await?;
        let (row, created) = self
            .hush
            .put(&ws, key, env, value, patch, &self.actor)
            .await?;
        Ok((wire::meta(&row, &ws.name, clock::now()), created))
    }

    async fn update(
        &self,
        key: &str,
        env: Option<&str>,
        value: Option<&SecretBytes>,
        patch: &MetadataPatch,
        if_version: Option<u64>,
    ) -> Result<SecretMeta> {
        let ws = self.ws(false).await?;
        let row = self
            .hush
            .update(
                &ws,
                key,
                env,
                value,
                patch,
                hush_core::Expect::version(if_version),
                &self.actor,
            )
            .await?;
        Ok(wire::meta(&row, &ws.name, clock::now()))
    }

    async fn get(&self, key: &str, env: Option<&str>, version: Option<u64>) -> Result<Fetched> {
        let ws = self.ws(false).await?;
        let r = self
            .hush
            .reveal(&ws, key, env, version, &self.actor)
            .await?;
        let meta = wire::with_value(
            &r.row,
            &ws.name,
            clock::now(),
            r.env.as_deref(),
            r.version,
            &r.value,
        );
        Ok(Fetched {
            meta,
            bytes: r.value,
        })
    }

    async fn show(&self, key: &str) -> Result<SecretMeta> {
        let ws = self.ws(false).await?;
        let row = self.hush.show(&ws, key, &self.actor).await?;
        let usage = self.hush.usage(&ws, &[key.to_string()]).await?;
        let mut m = wire::meta(&row, &ws.name, clock::now());
        m.used_by = Some(wire::used_by(usage.get(key)));
        Ok(m)
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<SecretMeta>> {
        let ws = self.ws(false).await?;
        let now = clock::now();
        let rows = self.hush.list(&ws, filter, &self.actor).await?;
        let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
        let usage = self.hush.usage(&ws, &keys).await?;
        Ok(rows
            .iter()
            .map(|r| {
                let mut m = wire::meta(r, &ws.name, now);
                m.used_by = Some(wire::used_by(usage.get(&r.key)));
                m
            })
            .collect())
    }

    async fn history(&self, key: &str, env: Option<&str>) -> Result<Vec<VersionInfo>> {
        let ws = self.ws(false).await?;
        let (row, versions) = self.hush.history(&ws, key, env, &self.actor).await?;
        Ok(wire::versions(&row, &versions))
    }

    async fn rollback(&self, key: &str, env: Option<&str>, to: u64) -> Result<SecretMeta> {
        let ws = self.ws(false).await?;
        let row = self.hush.rollback(&ws, key, env, to, &self.actor).await?;
        Ok(wire::meta(&row, &ws.name, clock::now()))
    }

    async fn set_status(&self, key: &str, status: StoredStatus) -> Result<SecretMeta> {
        let ws = self.ws(false).await?;
        let row = self.hush.set_status(&ws, key, status, &self.actor).await?;
        Ok(wire::meta(&row, &ws.name, clock::now()))
    }

    async fn delete(&self, key: &str, env: Option<&str>, force: bool) -> Result<()> {
        let ws = self.ws(false).await?;
        self.hush
            .delete(
                &ws,
                key,
                env,
                hush_core::Expect::NOTHING,
                force,
                &self.actor,
            )
            .await?;
        Ok(())
    }

    async fn whoami(&self) -> Result<Option<hush_wire::WhoAmI>> {
        Ok(None)
    }

    async fn create_token(
        &self,
        name: &str,
        role: Role,
        app: Option<&str>,
        env: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<NewToken> {
        let ws = self.ws(false).await?;
        let (row, secret) = self
            .hush
            .create_token(&ws, name, role, app, env, expires_at, &self.actor)
            .await?;
        // EXPOSE: the one answer that carries the new token.
        Ok(NewToken {
            info: wire::token(&row, clock::now()),
            token: secret.expose_secret().to_string(),
        })
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        let ws = self.ws(false).await?;
        let now = clock::now();
        Ok(self
            .hush
            .tokens(&ws, &self.actor)
            .await?
            .iter()
            .map(|t| wire::token(t, now))
            .collect())
    }

    async fn revoke_token(&self, id: &str) -> Result<TokenInfo> {
        let ws = self.ws(false).await?;
        let mut t = self.hush.revoke_token(&ws, id, &self.actor).await?;
        t.revoked_at = Some(clock::now());
        Ok(wire::token(&t, clock::now()))
    }

    async fn add_webhook(&self, url: &str, events: &[String]) -> Result<hush_wire::NewWebhook> {
        let ws = self.ws(false).await?;
        let (row, secret) = self.hush.add_webhook(&ws, url, events, &self.actor).await?;
        // EXPOSE: the one answer that carries the signing secret.
        Ok(hush_wire::NewWebhook {
            info: hush_core::webhook::wire_webhook(&row),
            secret: String::from_utf8_lossy(secret.expose_secret()).into_owned(),
        })
    }

    async fn webhooks(&self) -> Result<Vec<hush_wire::Webhook>> {
        let ws = self.ws(false).await?;
        Ok(self
            .hush
            .webhooks(&ws, &self.actor)
            .await?
            .iter()
            .map(hush_core::webhook::wire_webhook)
            .collect())
    }

    async fn remove_webhook(&self, id: &str) -> Result<()> {
        let ws = self.ws(false).await?;
        self.hush.remove_webhook(&ws, id, &self.actor).await?;
        Ok(())
    }

    async fn webhook_deliveries(
        &self,
        webhook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<hush_wire::WebhookDelivery>> {
        let ws = self.ws(false).await?;
        Ok(self
            .hush
            .webhook_deliveries(&ws, webhook, limit, &self.actor)
            .await?
            .iter()
            .map(hush_core::webhook::wire_delivery)
            .collect())
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        let ws = self.ws(false).await?;
        Ok(self
            .hush
            .audit_log(&ws, filter, &self.actor)
            .await?
            .iter()
            .map(wire::audit)
            .collect())
    }

    async fn verify_audit(&self, expected: Option<&Head>) -> Result<AuditVerdict> {
        let ws = self.ws(false).await?;
        let v: Verdict = self.hush.verify_audit(&ws, &self.actor, expected).await?;
        Ok(wire::verdict(&v))
    }

    async fn audit_head(&self) -> Result<AuditHead> {
        let ws = self.ws(false).await?;
        Ok(wire::audit_head(
            &self.hush.audit_head(&ws, &self.actor).await?,
        ))
    }

    async fn events<'a>(
        &'a self,
        keys: &[String],
        after: Option<i64>,
    ) -> Result<Box<dyn EventSource + 'a>> {
        let ws = self.ws(false).await?;
        let scope = self
            .hush
            .event_scope(&self.actor, &ws, keys.to_vec())
            .await?;
        let follower = self.hush.follow(scope, after).await?;
        Ok(Box::new(LocalEvents {
            hush: &self.hush,
            follower,
        }))
    }

    async fn prune_audit(&self, before: &str) -> Result<hush_wire::AuditPruned> {
        let before = hush_core::clock::parse_past("--before", before, hush_core::clock::now_ms())?;
        let ws = self.ws(false).await?;
        Ok(wire::pruned(
            &self.hush.prune_audit(&ws, &self.actor, before).await?,
        ))
    }

    async fn resolve(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        fallbacks: &BTreeMap<String, Vec<String>>,
        dry_run: bool,
    ) -> Result<Answers> {
        let ws = match self.hush.workspace(&self.workspace, false).await {
            Ok((ws, _)) => ws,
            // No workspace yet: nothing is stored, so every key is missing.
            Err(hush_core::Error::WorkspaceNotFound { .. }) => {
                return Ok(keys
                    .iter()
                    .map(|k| {
                        let message = format!("secret {k:?} not found: nothing is stored yet");
                        let answer = Answer::Refused {
                            reason: Reason::Missing,
                            message,
                        };
                        (k.clone(), Answered::own(k, answer))
                    })
                    .collect());
            }
            Err(e) => return Err(e.into()),
        };
        let answers = match (self.hush)
            .resolve_with_fallbacks(&ws, app, env, keys, fallbacks, dry_run, &self.actor)
            .await
        {
            Ok(a) => a,
            Err(e @ hush_core::Error::Forbidden { .. }) => {
                return Ok(refuse_all(keys, Reason::OutOfScope, &e.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        if !dry_run {
            let now = clock::now();
            let mut warnings: Vec<_> = answers
                .iter()
                .filter_map(|(_, a)| a.answer.as_ref().ok())
                .flat_map(|r| wire::warnings(&r.row, now))
                .collect();
            warnings.sort_by(|a, b| a.key.cmp(&b.key));
            warn_all(&warnings);
        }
        let said = |e: hush_core::Error| -> (Reason, String) {
            let reason = hush_core::wire::refusal(&e);
            (reason, format!("{e}{}", crate::fail::core_hint(&e)))
        };
        Ok(answers
            .into_iter()
            .map(|(wanted, a)| {
                let answer = match a.answer {
                    // The value moves from the service to the workload as it is: no copy.
                    Ok(r) => Answer::Found {
                        value: r.value.map(|(_, v)| v),
                        expires_at: r.row.meta.expires_at,
                        notify_before: r.row.meta.notify_before,
                    },
                    Err(e) => {
                        let (reason, message) = said(e);
                        Answer::Refused { reason, message }
                    }
                };
                let skipped = a
                    .skipped
                    .into_iter()
                    .map(|(k, e)| {
                        let (reason, message) = said(e);
                        (k, reason, message)
                    })
                    .collect();
                let answered = Answered {
                    skipped,
                    key: a.key,
                    answer,
                };
                (wanted, answered)
            })
            .collect())
    }

    async fn register_app(&self, manifest: &AppManifest) -> Result<AppInfo> {
        let ws = self.ws(true).await?;
        let (row, _) = self.hush.register_app(&ws, manifest, &self.actor).await?;
        Ok(wire::app(&row))
    }

    async fn apps(&self) -> Result<Vec<AppInfo>> {
        let ws = self.ws(false).await?;
        Ok(self
            .hush
            .apps(&ws, &self.actor)
            .await?
            .iter()
            .map(wire::app)
            .collect())
    }

    async fn app(&self, name: &str) -> Result<AppInfo> {
        let ws = self.ws(false).await?;
        Ok(wire::app(&self.hush.app(&ws, name, &self.actor).await?))
    }

    async fn delete_app(&self, name: &str) -> Result<()> {
        let ws = self.ws(false).await?;
        Ok(self.hush.delete_app(&ws, name, &self.actor).await?)
    }

    fn watch(&self, keys: &[String]) -> tokio::sync::mpsc::UnboundedReceiver<Change> {
        use tokio::sync::broadcast::error::RecvError;
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        // The feed looks at the store every 200 ms (SQLite) or on PostgreSQL's notification,
        // so a write by another process is seen.
        let mut feed = self.hush.events().subscribe();
        let keys: std::collections::HashSet<String> = keys.iter().cloned().collect();
        let workspace = self.workspace.clone();
        tokio::spawn(async move {
            loop {
                let next = tokio::select! {
                    n = feed.recv() => n,
                    () = tx.closed() => return,
                };
                let change = match next {
                    Ok(row) => {
                        let wanted = row.workspace.as_deref() == Some(workspace.as_str())
                            && row.key.as_ref().is_some_and(|k| keys.contains(k))
                            && super::changes_value(row.kind.as_str());
                        if !wanted {
                            continue;
                        }
                        Change::Changed
                    }
                    // Fell behind: whatever was missed, resolving again finds it.
                    Err(RecvError::Lagged(_)) => Change::Changed,
                    Err(RecvError::Closed) => return,
                };
                if tx.send(change).is_err() {
                    return;
                }
            }
        });
        rx
    }
}

/// The events of the embedded store, as this process follows them (the store is looked at
/// every 200 ms, so a write by another process is seen).
struct LocalEvents<'a> {
    hush: &'a Hush,
    follower: hush_core::service::Follower,
}

#[async_trait]
impl EventSource for LocalEvents<'_> {
    async fn next(&mut self) -> Result<Option<hush_wire::Event>> {
        Ok(self
            .follower
            .next(self.hush)
            .await?
            .map(|ev| wire::event(&ev)))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use std::sync::Arc;

    use super::*;

    async fn store(dir: &std::path::Path, workspace: &str) -> Local {
        let store = hush_store_sqlite::SqliteStore::open(&dir.join("hush.db")).unwrap();
        let source = hush_core::keysource::KeyFileSource::new_file(&dir.join("root.key"));
        let hush = Hush::initialize(Arc::new(store), Box::new(source))
            .await
            .unwrap();
        Local {
            hush,
            workspace: workspace.into(),
            actor: Actor::local(),
        }
    }

    fn found(a: &Answers, key: &str) -> (Option<Vec<u8>>, Option<i64>) {
        match &a[key].answer {
            // EXPOSE: the test compares the value.
            Answer::Found {
                value, expires_at, ..
            } => (
                value.as_ref().map(|v| v.expose_secret().to_vec()),
                *expires_at,
            ),
            Answer::Refused { reason, message } => panic!("{key}: {reason} ({message})"),
        }
    }

    fn refused(a: &Answers, key: &str) -> (Reason, String) {
        match &a[key].answer {
            Answer::Refused { reason, message } => (reason.clone(), message.clone()),
            Answer::Found { .. } => panic!("{key} was found"),
        }
    }

    /// Issue 14: a value resolved from the embedded store went bytes → text (or base64) →
    /// bytes on its way to the workload; bytes that are not UTF-8 must arrive exactly.
    #[tokio::test]
    async fn resolve_hands_over_the_stored_bytes_with_expiry_and_refusals() {
        let dir = tempfile::tempdir().unwrap();
        let b = store(dir.path(), "default").await;
        let binary: &[u8] = b"\xff\x00not utf-8\xfe";
        let patch = MetadataPatch {
            expires_at: Some(Some(clock::now() + 3600)),
            ..MetadataPatch::default()
        };
        b.put("bin", None, &SecretBytes::new(binary.to_vec()), &patch)
            .await
            .unwrap();
        b.put(
            "off",
            None,
            &SecretBytes::new(b"x".to_vec()),
            &MetadataPatch::default(),
        )
        .await
        .unwrap();
        b.set_status("off", StoredStatus::Revoked).await.unwrap();
        let keys = ["bin", "nope", "off"].map(String::from);

        let a = b
            .resolve(None, None, &keys, &BTreeMap::new(), false)
            .await
            .unwrap();
        let (value, expires_at) = found(&a, "bin");
        assert_eq!(value.as_deref(), Some(binary));
        assert!(expires_at.is_some());
        assert_eq!(refused(&a, "nope").0, Reason::Missing);
        assert_eq!(refused(&a, "off").0, Reason::Revoked);

        // A dry run reads no value.
        let a = b
            .resolve(None, None, &keys, &BTreeMap::new(), true)
            .await
            .unwrap();
        assert_eq!(found(&a, "bin").0, None);
    }

    #[tokio::test]
    async fn without_the_workspace_every_key_is_missing() {
        let dir = tempfile::tempdir().unwrap();
        let b = store(dir.path(), "elsewhere").await;
        let keys = ["a", "b"].map(String::from);
        let a = b
            .resolve(None, None, &keys, &BTreeMap::new(), false)
            .await
            .unwrap();
        for k in &keys {
            let (reason, message) = refused(&a, k);
            assert_eq!(reason, Reason::Missing);
            assert!(message.contains("nothing is stored yet"), "{message}");
        }
    }

    #[test]
    fn refusal_codes_are_the_servers() {
        let e = |e: hush_core::Error| hush_core::wire::refusal(&e).code().to_string();
        let key = || "k".to_string();
        assert_eq!(
            e(hush_core::Error::Forbidden { reason: "x".into() }),
            "out_of_scope"
        );
        assert_eq!(e(hush_core::Error::Revoked { key: key() }), "revoked");
        assert_eq!(e(hush_core::Error::Unauthorized), "error");
    }
}
