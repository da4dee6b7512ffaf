//! Where commands go: the embedded store (this process holds the root key, [`local`]) or a
//! server (the SDK, with `HUSH_ADDR` and `HUSH_TOKEN`, or what `hush login` saved,
//! [`remote`]). [`Backend`] is the one seam between them: each side implements it once, and
//! every command is written against it, so it prints the same output and exits with the same
//! codes either way.
//!
//! Commands that print what they get answer in the wire types (`hush-wire`), which is what
//! they print. A workload's values are the exception: [`Backend::resolve`] answers in
//! [`Answer`]s holding [`SecretBytes`], so a value read from the embedded store reaches the
//! command without ever being text, and one from a server is decoded once, by [`remote`].

mod local;
mod remote;

use std::collections::{BTreeMap, HashMap};

use anyhow::Result;
use async_trait::async_trait;
use hush_client::secrets::Reason;
use hush_core::audit::{AuditFilter, Head};
use hush_core::token::Role;
use hush_core::{ListFilter, MetadataPatch, SecretBytes, StoredStatus};
use hush_wire::{
    AppInfo, AppManifest, AuditHead, AuditRecord, AuditVerdict, NewToken, SecretMeta, TokenInfo,
    VersionInfo,
};

use crate::fail::Failure;

/// A value read back, with its metadata.
pub struct Fetched {
    /// What `hush secrets get -o json` prints.
    pub meta: hush_wire::SecretValue,
    /// What `hush secrets get` prints.
    pub bytes: SecretBytes,
}

/// One key's answer to [`Backend::resolve`].
pub enum Answer {
    /// The key can be had.
    Found {
        /// The value; `None` on a dry run.
        value: Option<SecretBytes>,
        /// When it expires (unix seconds), for `hush check`'s warning.
        expires_at: Option<i64>,
        /// Its warning window in seconds (`None`: the default, 14 days), for `hush check`.
        notify_before: Option<i64>,
    },
    /// Why the key cannot be had.
    Refused {
        /// Why, as a type (its code is what `hush check` shows).
        reason: Reason,
        /// Why, for people.
        message: String,
    },
}

/// A key tried for a wanted key that could not serve it: the key, why (a type, and for
/// people).
pub type Skip = (String, Reason, String);

/// One wanted key's answer to [`Backend::resolve`]: the keys skipped before the one that
/// answered (its fallbacks, tried when it is missing, revoked or expired), and that answer.
pub struct Answered {
    /// The keys tried first, in order (the wanted key first), that could not serve; empty
    /// when the wanted key answered itself.
    pub skipped: Vec<Skip>,
    /// The key that answered: the wanted key or one of its fallbacks.
    pub key: String,
    /// Its answer.
    pub answer: Answer,
}

impl Answered {
    /// The wanted key `key`'s own answer, no fallback tried.
    pub fn own(key: &str, answer: Answer) -> Answered {
        Answered {
            skipped: Vec::new(),
            key: key.to_string(),
            answer,
        }
    }
}

/// Each wanted key's answer, by wanted key.
pub type Answers = HashMap<String, Answered>;

/// Prints the warnings of a resolve that hands values over (`hush run`), on stderr:
/// `hush: warning: KEY expires in 3 days (…)`. A dry run (`hush check`) says it its own way.
pub(crate) fn warn_all(warnings: &[hush_wire::Warning]) {
    use std::io::Write as _;
    let mut err = std::io::stderr().lock();
    for w in warnings {
        let _ = writeln!(err, "hush: warning: {}", w.message);
    }
}

/// Every key refused with the same reason and message.
fn refuse_all(keys: &[String], reason: Reason, message: &str) -> Answers {
    keys.iter()
        .map(|k| {
            let (reason, message) = (reason.clone(), message.to_string());
            (
                k.clone(),
                Answered::own(k, Answer::Refused { reason, message }),
            )
        })
        .collect()
}

/// A followed stream of change events ([`Backend::events`]).
#[async_trait]
pub trait EventSource: Send {
    /// The next event. `Ok(None)`: the stream ended for good (the token was revoked).
    async fn next(&mut self) -> Result<Option<hush_wire::Event>>;
}

/// What a watcher ([`Backend::watch`]) tells `hush run --watch`.
pub enum Change {
    /// A watched key changed (a new version, a revocation, a restore, a deletion, an expiry),
    /// or changes may have been missed: resolve again.
    Changed,
    /// The change events cannot be had for now, and why; the watcher keeps trying. Said once
    /// per outage.
    Lost(String),
}

/// Whether an event of kind `kind` may change what a key serves: not `expiring` (a warning)
/// nor `fallback` (a read served by a fallback, which a resolve of the watcher itself writes).
fn changes_value(kind: &str) -> bool {
    !matches!(kind, "expiring" | "fallback")
}

/// What a command can ask of the embedded store or of a server.
#[async_trait]
pub trait Backend: Send + Sync {
    /// Where values come from, as `hush check` shows it (`store` or `server`).
    fn source_label(&self) -> &'static str;

    /// Whether the key exists (used to refuse `create` before prompting for a value).
    async fn exists(&self, key: &str) -> Result<bool>;

    /// Creates the secret (with `env`, its value is that environment's own).
    async fn create(
        &self,
        key: &str,
        env: Option<&str>,
        value: &SecretBytes,
        patch: &MetadataPatch,
    ) -> Result<SecretMeta>;

    /// Create or replace (the shared value, or `env`'s own); returns the metadata and whether
    /// the secret was created.
    async fn put(
        &self,
        key: &str,
        env: Option<&str>,
        value: &SecretBytes,
        patch: &MetadataPatch,
    ) -> Result<(SecretMeta, bool)>;

    /// A new value (the shared one, or `env`'s own), new metadata or both.
    async fn update(
        &self,
        key: &str,
        env: Option<&str>,
        value: Option<&SecretBytes>,
        patch: &MetadataPatch,
        if_version: Option<u64>,
    ) -> Result<SecretMeta>;

    /// The value a read in `env` gets (its own, else the shared one), of the current version
    /// or of `version`.
    async fn get(&self, key: &str, env: Option<&str>, version: Option<u64>) -> Result<Fetched>;

    /// The metadata, with the apps that use it.
    async fn show(&self, key: &str) -> Result<SecretMeta>;

    /// The secrets the filter selects, with the apps that use each.
    async fn list(&self, filter: &ListFilter) -> Result<Vec<SecretMeta>>;

    /// The versions of a secret: of `env`'s own value, or of every value.
    async fn history(&self, key: &str, env: Option<&str>) -> Result<Vec<VersionInfo>>;

    /// A new version holding the value of version `to` (of the shared value, or `env`'s own).
    async fn rollback(&self, key: &str, env: Option<&str>, to: u64) -> Result<SecretMeta>;

    /// Revokes or restores.
    async fn set_status(&self, key: &str, status: StoredStatus) -> Result<SecretMeta>;

    /// Deletes the secret and all its versions; with `env`, only that environment's own value.
    async fn delete(&self, key: &str, env: Option<&str>, force: bool) -> Result<()>;

    /// A new token; the answer is the only place its secret appears.
    async fn create_token(
        &self,
        name: &str,
        role: Role,
        app: Option<&str>,
        env: Option<&str>,
        expires_at: Option<i64>,
    ) -> Result<NewToken>;

    /// The token commands act with (`None`: the local user on the embedded store, no token).
    async fn whoami(&self) -> Result<Option<hush_wire::WhoAmI>>;

    /// The workspace's tokens.
    async fn tokens(&self) -> Result<Vec<TokenInfo>>;

    /// Revokes a token.
    async fn revoke_token(&self, id: &str) -> Result<TokenInfo>;

    /// Registers a webhook; the answer is the only place its signing secret appears.
    async fn add_webhook(&self, url: &str, events: &[String]) -> Result<hush_wire::NewWebhook>;

    /// The workspace's webhooks.
    async fn webhooks(&self) -> Result<Vec<hush_wire::Webhook>>;

    /// Removes a webhook and its deliveries.
    async fn remove_webhook(&self, id: &str) -> Result<()>;

    /// The newest deliveries (of one webhook), at most `limit`.
    async fn webhook_deliveries(
        &self,
        webhook: Option<&str>,
        limit: usize,
    ) -> Result<Vec<hush_wire::WebhookDelivery>>;

    /// The audit log.
    async fn audit(&self, filter: &AuditFilter) -> Result<Vec<AuditRecord>>;

    /// Verifies the audit chain, against a head recorded earlier if given.
    async fn verify_audit(&self, expected: Option<&Head>) -> Result<AuditVerdict>;

    /// The audit chain's head, to record.
    async fn audit_head(&self) -> Result<AuditHead>;

    /// Removes the audit rows written before `before` (as `hush audit prune --before` takes
    /// it; a duration counts back from the clock of whoever prunes: the server's, against one).
    async fn prune_audit(&self, before: &str) -> Result<hush_wire::AuditPruned>;

    /// Follows the change events of the secrets the caller may see (`keys`: only those, when
    /// not empty), from after event `after` (`None`: from now on). Against a server, a lost
    /// connection is an `Err` from [`EventSource::next`], and the next call reconnects.
    async fn events<'a>(
        &'a self,
        keys: &[String],
        after: Option<i64>,
    ) -> Result<Box<dyn EventSource + 'a>>;

    /// For a workload: the values (or with `dry_run` the metadata only) of `keys`, or why each
    /// cannot be had, in one call (one `/v1/resolve` against a server). A refusal of the whole
    /// call (a machine token bound to another app or environment) is each key's
    /// `out_of_scope`. A key with `fallbacks` that is missing, revoked or expired is answered
    /// by the first of them that can be had (the backend follows them, so the audit row and
    /// the app's read name the key that served).
    async fn resolve(
        &self,
        app: Option<&str>,
        env: Option<&str>,
        keys: &[String],
        fallbacks: &BTreeMap<String, Vec<String>>,
        dry_run: bool,
    ) -> Result<Answers>;

    /// Registers (or replaces) an app's manifest.
    async fn register_app(&self, manifest: &AppManifest) -> Result<AppInfo>;

    /// The registered apps.
    async fn apps(&self) -> Result<Vec<AppInfo>>;

    /// One registered app.
    async fn app(&self, name: &str) -> Result<AppInfo>;

    /// Unregisters an app.
    async fn delete_app(&self, name: &str) -> Result<()>;

    /// Follows the change events of `keys` from now on (a server's event stream, or the
    /// embedded store's feed), on a task of its own that ends when the receiver is dropped.
    fn watch(&self, keys: &[String]) -> tokio::sync::mpsc::UnboundedReceiver<Change>;
}

/// The store `--db` names; else a server when one is configured (HUSH_ADDR, or `hush login`);
/// else the embedded store.
pub async fn open(scope: &crate::Scope) -> Result<Box<dyn Backend>> {
    let workspace = scope.workspace.as_str();
    if scope.db.is_some() && std::env::var_os("HUSH_ADDR").is_some_and(|a| !a.is_empty()) {
        return Err(Failure::usage(
            "both HUSH_ADDR (a server) and --db / HUSH_DB (a store) are set: unset the one you do not mean",
        )
        .into());
    }
    if scope.db.is_none() {
        if let Some(client) = crate::remote::configured(scope)? {
            if workspace != "default" {
                return Err(Failure::usage(
                "against a server the workspace is the token's own: drop --workspace / HUSH_WORKSPACE, or use a token of that workspace",
            )
            .into());
            }
            return Ok(Box::new(remote::Remote(client)));
        }
    }
    let (hush, _home) = crate::local::open(scope.db.as_deref()).await?;
    Ok(Box::new(local::Local {
        hush,
        workspace: workspace.to_string(),
        actor: hush_core::Actor::local(),
    }))
}
