//! A server, through the SDK (`hush_client::Client`). Its answers are already the wire types
//! the commands print, but for a workload's values: those are decoded from the wire here,
//! once, into [`SecretBytes`].

use std::collections::BTreeMap;

use anyhow::Result;
use async_trait::async_trait;
use base64::Engine as _;
use hush_client::secrets::Reason;
use hush_client::{Client, ValueBytes as _};
use hush_core::audit::{AuditFilter, Head};
use hush_core::token::Role;
use hush_core::{wire, ListFilter, MetadataPatch, SecretBytes, StoredStatus};
use hush_wire::{
    AppInfo, AppManifest, AuditHead, AuditRecord, AuditVerdict, NewToken, SecretMeta, SecretValue,
    TokenInfo, VersionInfo,
};

use super::{
    refuse_all, warn_all, Answer, Answered, Answers, Backend, Change, EventSource, Fetched,
};

/// A server.
pub struct Remote(pub Client);

/// The value of a resolve answer, moved (UTF-8 text) or decoded (base64) out of it; what is
/// left of it is cleared when `sv` is dropped.
fn take_value(sv: &mut SecretValue) -> Result<SecretBytes> {
    if let Some(text) = sv.value.take() {
        return Ok(SecretBytes::new(text.into_bytes()));
    }
    if let Some(b) = &sv.value_base64 {
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b)
            .map_err(|_| anyhow::anyhow!("the server sent a value that is not valid base64"))?;
        return Ok(SecretBytes::new(raw));
    }
    Err(anyhow::anyhow!("the server answered without a value"))
}

impl Remote {
    /// The client, on `env`'s own values when given.
    fn client(&self, env: Option<&str>) -> std::borrow::Cow<'_, hush_client::Client> {
        match env {
            Some(e) => std::borrow::Cow::Owned(self.0.in_env(e)),
            None => std::borrow::Cow::Borrowed(&self.0),
        }
    }
}

#[async_trait]
impl Backend for Remote {
    fn source_label(&self) -> &'static str {
        "server"
    }

    async fn exists(&self, key: &str) -> Result<bool> {
        match self.0.show(key).await {
            Ok(_) => Ok(true),
            Err(hush_client::Error::NotFound(_)) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    async fn create(
        &self,
        key: &str,
        env: Option<&str>,
        value: &SecretBytes,
        patch: &MetadataPatch,
    ) -> Result<SecretMeta> {
        // EXPOSE: the value travels to the server in the request body.
        let v = value.expose_secret();
        Ok(self.client(env).create(key, v, patch.clone()).await?)
    }

    async fn put(
        &self,
        key: &str,
        env: Option<&str>,
        value: &SecretBytes,
        patch: &MetadataPatch,
    ) -> Result<(SecretMeta, bool)> {
        // EXPOSE: the value travels to the server in the request body.
        let m = self
            .client(env)
            .put(key, value.expose_secret(), patch.clone())
            .await?;
        // A secret's first write is its revision 1.
        let created = m.revision == 1;
        Ok((m, created))
    }

    async fn update(
        &self,
        key: &str,
        env: Option<&str>,
        value: Option<&SecretBytes>,
        patch: &MetadataPatch,
        if_version: Option<u64>,
    ) -> Result<SecretMeta> {
        // EXPOSE: the value travels to the server in the request body.
        let v = value.map(|v| v.expose_secret());
        Ok(self
            .client(env)
            .update(key, v, patch.clone(), if_version)
            .await?)
    }

    async fn get(&self, key: &str, env: Option<&str>, version: Option<u64>) -> Result<Fetched> {
        let meta = self.client(env).fetch(key, version).await?;
        let bytes = SecretBytes::new(std::mem::take(&mut *meta.bytes()?));
        Ok(Fetched { meta, bytes })
    }

    async fn show(&self, key: &str) -> Result<SecretMeta> {
        Ok(self.0.show(key).await?)
    }

    async fn list(&self, filter: &ListFilter) -> Result<Vec<SecretMeta>> {
        Ok(self
            .0
            .list(&hush_client::ListQuery {
                env: filter.env.clone(),
                app: filter.app.clone(),
                prefix: filter.prefix.clone(),
                status: filter.status.map(|s| s.as_str().to_string()),
            })
            .await?)
    }

    async fn history(&self, key: &str, env: Option<&str>) -> Result<Vec<VersionInfo>> {
        Ok(self.client(env).versions(key).await?)
    }

    async fn rollback(&self, key: &str, env: Option<&str>, to: u64) -> Result<SecretMeta> {
        Ok(self.client(env).rollback(key, to).await?)
    }

    async fn set_status(&self, key: &str, status: StoredStatus) -> Result<SecretMeta> {
        Ok(match status {
            StoredStatus::Revoked => self.0.revoke(key).await?,
            StoredStatus::Active => self.0.restore(key).await?,
        })
    }

    async fn delete(&self, key: &str, env: Option<&str>, force: bool) -> Result<()> {
        Ok(self.client(env).delete(key, force).await?)
    }

    async fn whoami(&self) -> Result<Option<hush_wire::WhoAmI>> {
        Ok(Some(self.0.whoami().await?))
    }

    async fn create_token(
        &self,
        name: &str,
        role: Role,
        app: Option<&str>,
        env: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<NewToken> {
        Ok(self
            .0
            .create_token(&hush_wire::TokenRequest {
                name: Some(name.to_string()),
                role: (role != Role::Machine).then(|| role.as_str().to_string()),
                app: app.map(str::to_string),
                env: env.map(str::to_string),
                expires_at,
                // The server's token decides the workspace (--workspace is the embedded
                // store's).
                workspace: None,
            })
            .await?)
    }

    async fn tokens(&self) -> Result<Vec<TokenInfo>> {
        Ok(self.0.tokens().await?)
    }

    async fn revoke_token(&self, id: &str) -> Result<TokenInfo> {
        Ok(self.0.revoke_token(id).await?)
    }

    async fn add_webhook(&self, url: &str, events: &[String]) -> Result<hush_wire::NewWebhook> {
        Ok(self
            .0
            .create_webhook(&hush_wire::WebhookRequest {
                url: url.to_string(),
                events: events.to_vec(),
            })
            .await?)
    }

    async fn webhooks(&self) -> Result<Vec<hush_wire::Webhook>> {
        Ok(self.0.webhooks().await?)
    }

    async fn remove_webhook(&self, id: &str) -> Result<()> {
        Ok(self.0.delete_webhook(id).await?)
    }

    async fn webhook_deliveries(
        &self,
        webhook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<hush_wire::WebhookDelivery>> {
        Ok(self.0.webhook_deliveries(webhook, Some(limit)).await?)
    }

    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>> {
        Ok(self
            .0
            .audit(&hush_client::AuditQuery {
                key: filter.key.clone(),
                actor: filter.actor.clone(),
                since: filter.since_ms.map(|ms| ms / 1000),
                until: filter.until_ms.map(|ms| ms / 1000),
            })
            .await?)
    }

    async fn verify_audit(&self, expected: Option<&Head>) -> Result<AuditVerdict> {
        Ok(match expected {
            Some(h) => self.0.verify_audit_with_head(&wire::audit_head(h)).await?,
            None => self.0.verify_audit().await?,
        })
    }

    async fn audit_head(&self) -> Result<AuditHead> {
        Ok(self.0.audit_head().await?)
    }

    async fn events<'a>(
        &'a self,
        keys: &[String],
        after: Option<i64>,
    ) -> Result<Box<dyn EventSource + 'a>> {
        Ok(Box::new(RemoteEvents(self.0.events(keys, after))))
    }

    async fn prune_audit(&self, before: &str) -> Result<hush_wire::AuditPruned> {
        Ok(self.0.prune_audit(before).await?)
    }

    async fn resolve(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        fallbacks: &BTreeMap<String, Vec<String>>,
        dry_run: bool,
    ) -> Result<Answers> {
        let mut answer = self
            .0
            .resolve_with_fallbacks(app, env, keys, fallbacks, dry_run)
            .await;
        // A server from before `fallbacks` refuses the field: ask it for the keys alone (the
        // caller then asks for each fallback itself, as before).
        if let Err(hush_client::Error::Invalid { message, .. }) = &answer {
            if !fallbacks.is_empty() && message.starts_with("unknown field") {
                answer = self
                    .0
                    .resolve_with_fallbacks(app, env, keys, &BTreeMap::new(), dry_run)
                    .await;
            }
        }
        let mut resolved = match answer {
            Ok(r) => r,
            Err(e @ hush_client::Error::Forbidden { .. }) => {
                return Ok(refuse_all(keys, Reason::OutOfScope, &e.to_string()))
            }
            Err(e) => return Err(e.into()),
        };
        if !dry_run {
            warn_all(&resolved.warnings);
        }
        let mut out = Answers::with_capacity(resolved.secrets.len() + resolved.errors.len());
        // Which key answered each wanted key, and the keys skipped before it.
        let mut trail = |wanted: &str, served: bool| {
            let Some(t) = resolved.fallbacks.remove(wanted) else {
                return (Vec::new(), wanted.to_string());
            };
            let mut skipped: Vec<_> = t
                .skipped
                .into_iter()
                .map(|s| (s.key, s.code, s.message))
                .collect();
            let key = match (served, t.served_by) {
                (true, Some(k)) => k,
                // None served: the last key skipped is the one whose reason is the refusal.
                _ => skipped
                    .pop()
                    .map_or_else(|| wanted.to_string(), |(k, _, _)| k),
            };
            (skipped, key)
        };
        // A value wins over a refusal for the same key.
        for (wanted, e) in std::mem::take(&mut resolved.errors) {
            let (skipped, key) = trail(&wanted, false);
            let answer = Answer::Refused {
                reason: e.code,
                message: e.message,
            };
            out.insert(
                wanted,
                Answered {
                    skipped,
                    key,
                    answer,
                },
            );
        }
        for (wanted, mut sv) in std::mem::take(&mut resolved.secrets) {
            let value = if dry_run {
                None
            } else {
                Some(take_value(&mut sv)?)
            };
            let expires_at = sv.meta.expires_at;
            let notify_before = sv.meta.notify_before;
            let (skipped, key) = trail(&wanted, true);
            let answer = Answer::Found {
                value,
                expires_at,
                notify_before,
            };
            out.insert(
                wanted,
                Answered {
                    skipped,
                    key,
                    answer,
                },
            );
        }
        Ok(out)
    }

    async fn register_app(&self, manifest: &AppManifest) -> Result<AppInfo> {
        Ok(self.0.register_app(manifest).await?)
    }

    async fn apps(&self) -> Result<Vec<AppInfo>> {
        Ok(self.0.apps().await?)
    }

    async fn app(&self, name: &str) -> Result<AppInfo> {
        Ok(self.0.app(name).await?)
    }

    async fn delete_app(&self, name: &str) -> Result<()> {
        Ok(self.0.delete_app(name).await?)
    }

    fn watch(&self, keys: &[String]) -> tokio::sync::mpsc::UnboundedReceiver<Change> {
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let tx_err = tx.clone();
        let client = self.0.clone();
        let keys: Vec<String> = keys.to_vec();
        // The event stream's future is not `Send`: it is followed on a thread of its own.
        let follow = move || async move {
            let mut events = client.events(&keys, None);
            let keys: std::collections::HashSet<String> = keys.into_iter().collect();
            // Whether the loss of the stream was said (once per outage).
            let mut lost = false;
            loop {
                let next = tokio::select! {
                    n = events.next() => n,
                    () = tx.closed() => return,
                };
                let change = match next {
                    Ok(ev) => {
                        lost = false;
                        if !(super::changes_value(&ev.kind) && keys.contains(&ev.key)) {
                            continue;
                        }
                        Change::Changed
                    }
                    // Events::next reconnects (after a pause) on the next call, resuming after
                    // the last event seen: nothing is missed.
                    Err(_) if lost => continue,
                    Err(e) => {
                        lost = true;
                        Change::Lost(e.to_string())
                    }
                };
                if tx.send(change).is_err() {
                    return;
                }
            }
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build();
        match runtime {
            Ok(rt) => {
                let _ = std::thread::Builder::new()
                    .name("hush-watch".into())
                    .spawn(move || rt.block_on(follow()));
            }
            Err(e) => {
                let _ = tx_err.send(Change::Lost(format!("cannot follow the events: {e}")));
            }
        }
        rx
    }
}

/// A server's event stream.
struct RemoteEvents(hush_client::Events);

#[async_trait]
impl EventSource for RemoteEvents {
    async fn next(&mut self) -> Result<Option<hush_wire::Event>> {
        Ok(Some(self.0.next().await?))
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    fn answer(value: Option<&str>, value_base64: Option<&str>) -> SecretValue {
        SecretValue {
            meta: SecretMeta {
                id: "sec_1".into(),
                workspace: "default".into(),
                key: "k".into(),
                description: None,
                token_type: None,
                scope: Vec::new(),
                envs: Vec::new(),
                expires_at: None,
                notify_before: None,
                status: "active".into(),
                version: 1,
                env_versions: Default::default(),
                revision: 1,
                created_at: String::new(),
                updated_at: String::new(),
                created_by: String::new(),
                updated_by: String::new(),
                used_by: None,
            },
            value_env: None,
            value_version: 1,
            value: value.map(str::to_string),
            value_base64: value_base64.map(str::to_string),
            warnings: Vec::new(),
        }
    }

    // EXPOSE: the tests compare values.
    #[test]
    fn a_wire_value_is_decoded_once_into_bytes() {
        let mut text = answer(Some("sk_live é"), None);
        let v = take_value(&mut text).unwrap();
        assert_eq!(v.expose_secret(), "sk_live é".as_bytes());
        assert!(text.value.is_none(), "the text was moved, not copied");

        let mut binary = answer(None, Some("/wBub3Q="));
        assert_eq!(
            take_value(&mut binary).unwrap().expose_secret(),
            b"\xff\x00not"
        );

        let mut bad = answer(None, Some("not base64!"));
        let e = take_value(&mut bad).unwrap_err().to_string();
        assert_eq!(e, "the server sent a value that is not valid base64");
        assert!(take_value(&mut answer(None, None)).is_err());
    }
}
