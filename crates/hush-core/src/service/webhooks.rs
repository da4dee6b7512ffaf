//! Webhooks (admin): registering, listing and removing endpoints, their deliveries, and the
//! signing secret a dispatcher signs each delivery with. The secret is made here, shown once
//! (in the answer to [`Hush::add_webhook`]) and stored sealed with the workspace's data key,
//! bound to the webhook's id: a copy of the database alone does not give it.

use hush_crypto::{SecretBytes, ValueSlot};

use crate::clock;
use crate::error::Error;
use crate::model::Workspace;
use crate::store::StoreError;
use crate::token::{Action, Actor};
use crate::webhook::{validate_events, validate_url, DeliveryRow, WebhookRow};

use super::{new_id, Hush};

/// What binds a webhook's sealed secret (the `env` of its slot; a secret's never holds `#`).
const WEBHOOK_SLOT: &str = "#webhook-signing";

/// What starts a webhook signing secret.
pub const WEBHOOK_SECRET_PREFIX: &str = "whsec_";

impl Hush {
    /// Registers a webhook for `ws`: events of the kinds in `events` are POSTed to `url`.
    /// Returns the record and its signing secret, which is shown this once.
    pub async fn add_webhook(
        &self,
        ws: &Workspace,
        url: &str,
        events: &[String],
        actor: &Actor,
    ) -> Result<(WebhookRow, SecretBytes), Error> {
        validate_url(url)?;
        let events = validate_events(events)?;
        self.require(actor, Action::Admin, ws, None, "webhook.add")
            .await?;
        let id = new_id("whk")?;
        let mut raw = [0u8; 32];
        hush_crypto::fill_random(&mut raw)?;
        let mut text = String::with_capacity(WEBHOOK_SECRET_PREFIX.len() + 64);
        text.push_str(WEBHOOK_SECRET_PREFIX);
        for b in raw {
            text.push_str(&format!("{b:02x}"));
        }
        zeroize::Zeroize::zeroize(&mut raw);
        let secret = SecretBytes::new(text.into_bytes());
        let wk = self.keys_for(ws).await?;
        let dk = wk
            .keys
            .get(&wk.current)
            .ok_or_else(|| Error::Store(StoreError::Corrupt("current data key missing".into())))?;
        let sealed = hush_crypto::seal_value(
            dk,
            ValueSlot {
                workspace_id: &ws.id,
                secret_id: &id,
                version: 0,
                env: WEBHOOK_SLOT,
            },
            &secret,
        )?;
        let row = WebhookRow {
            id,
            workspace_id: ws.id.clone(),
            url: url.to_string(),
            events,
            sealed_secret: sealed,
            after_seq: self.store.event_head().await?,
            created_at: clock::now(),
            created_by: actor.name().to_string(),
        };
        // The audit row names the webhook and the events it gets; never the secret.
        let mut audit = self.audit_entry(actor, "webhook.add", Some(ws), Some(&row.id), None, "ok");
        audit.detail = Some(format!("events {}", row.events.join(",")));
        self.store.insert_webhook(&row, &audit).await?;
        self.audited().await?;
        Ok((row, secret))
    }

    /// The webhooks of `ws` (never their secrets).
    pub async fn webhooks(&self, ws: &Workspace, actor: &Actor) -> Result<Vec<WebhookRow>, Error> {
        self.require(actor, Action::Admin, ws, None, "webhook.list")
            .await?;
        Ok(self.store.webhooks(Some(&ws.id)).await?)
    }

    /// Removes a webhook and its deliveries.
    pub async fn remove_webhook(
        &self,
        ws: &Workspace,
        id: &str,
        actor: &Actor,
    ) -> Result<WebhookRow, Error> {
        self.require(actor, Action::Admin, ws, None, "webhook.remove")
            .await?;
        let not_found = || Error::WebhookNotFound { id: id.into() };
        let hook = self
            .store
            .webhooks(Some(&ws.id))
            .await?
            .into_iter()
            .find(|w| w.id == id)
            .ok_or_else(not_found)?;
        let audit = self.audit_entry(actor, "webhook.remove", Some(ws), Some(id), None, "ok");
        if !self.store.delete_webhook(&ws.id, id, &audit).await? {
            return Err(not_found());
        }
        self.audited().await?;
        Ok(hook)
    }

    /// The newest deliveries of `ws`'s webhooks (of one, with `webhook`), at most `limit`.
    pub async fn webhook_deliveries(
        &self,
        ws: &Workspace,
        webhook: Option<&str>,
        limit: usize,
        actor: &Actor,
    ) -> Result<Vec<DeliveryRow>, Error> {
        self.require(actor, Action::Admin, ws, None, "webhook.deliveries")
            .await?;
        if let Some(id) = webhook {
            if !self
                .store
                .webhooks(Some(&ws.id))
                .await?
                .iter()
                .any(|w| w.id == id)
            {
                return Err(Error::WebhookNotFound { id: id.into() });
            }
        }
        Ok(self.store.deliveries(&ws.id, webhook, limit).await?)
    }

    /// The signing secret of `hook`, opened for a dispatcher to sign with (never shown).
    pub async fn webhook_signing_secret(
        &self,
        ws: &Workspace,
        hook: &WebhookRow,
    ) -> Result<SecretBytes, Error> {
        let fail = || {
            Error::Store(StoreError::Corrupt(format!(
                "the signing secret of webhook {} does not open",
                hook.id
            )))
        };
        let version = hush_crypto::sealing_key_version(&hook.sealed_secret).ok_or_else(fail)?;
        let mut wk = self.keys_for(ws).await?;
        if !wk.keys.contains_key(&version) {
            wk = self.load_workspace_keys(ws.clone()).await?;
        }
        let dk = wk.keys.get(&version).ok_or_else(fail)?;
        hush_crypto::open_value(
            dk,
            ValueSlot {
                workspace_id: &ws.id,
                secret_id: &hook.id,
                version: 0,
                env: WEBHOOK_SLOT,
            },
            &hook.sealed_secret,
        )
        .map_err(|_| fail())
    }
}
