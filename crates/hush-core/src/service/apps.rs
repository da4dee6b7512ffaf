//! Apps: registering, listing, showing and unregistering manifests, and which apps use a key.

use std::collections::HashMap;

use hush_wire::AppManifest;

use crate::app::{named_keys, validate_manifest, AppKeyRow, AppRow, UseRow};
use crate::clock;
use crate::error::Error;
use crate::model::{validate_app, Workspace};
use crate::token::{Action, Actor, Role};

use super::Hush;

impl Hush {
    /// Registers an app's manifest (or replaces it). Returns the app and whether it is new.
    pub async fn register_app(
        &self,
        ws: &Workspace,
        manifest: &AppManifest,
        actor: &Actor,
    ) -> Result<(AppRow, bool), Error> {
        validate_manifest(manifest)?;
        self.require(actor, Action::Write, ws, None, "app.register")
            .await?;
        let now = clock::now();
        let existing = self.store.app(&ws.id, &manifest.app).await?;
        let row = AppRow {
            workspace_id: ws.id.clone(),
            manifest: manifest.clone(),
            keys: named_keys(manifest)
                .into_iter()
                .map(|key| AppKeyRow {
                    key,
                    last_read_at: None,
                    env: None,
                })
                .collect(),
            created_at: existing.as_ref().map_or(now, |e| e.created_at),
            updated_at: now,
            registered_by: actor.name().to_string(),
        };
        let audit = self.audit_entry(
            actor,
            "app.register",
            Some(ws),
            Some(&manifest.app),
            None,
            "ok",
        );
        let created = self.store.put_app(&row, &audit).await;
        // The apps naming keys changed: `used_by` is read again.
        self.caches.forget_reads();
        let created = created?;
        self.audited().await?;
        let stored = self.store.app(&ws.id, &manifest.app).await?.unwrap_or(row);
        Ok((stored, created))
    }

    /// The registered apps.
    pub async fn apps(&self, ws: &Workspace, actor: &Actor) -> Result<Vec<AppRow>, Error> {
        self.require(actor, Action::List, ws, None, "app.list")
            .await?;
        let mut apps = self.store.apps(&ws.id).await?;
        if actor.principal.role == Role::Machine {
            apps.retain(|a| Some(&a.manifest.app) == actor.principal.app.as_ref());
        }
        Ok(apps)
    }

    /// One registered app.
    pub async fn app(&self, ws: &Workspace, name: &str, actor: &Actor) -> Result<AppRow, Error> {
        validate_app(name)?;
        self.require(actor, Action::Show, ws, None, "app.show")
            .await?;
        // Another app is "not found" to a machine token, whether it is registered or not.
        let own =
            actor.principal.role != Role::Machine || actor.principal.app.as_deref() == Some(name);
        let found = if own {
            self.store.app(&ws.id, name).await?
        } else {
            None
        };
        found.ok_or_else(|| Error::AppNotFound { app: name.into() })
    }

    /// Unregisters an app: the secrets it named are no longer in use by it.
    pub async fn delete_app(&self, ws: &Workspace, name: &str, actor: &Actor) -> Result<(), Error> {
        validate_app(name)?;
        self.require(actor, Action::Write, ws, None, "app.delete")
            .await?;
        let audit = self.audit_entry(actor, "app.delete", Some(ws), Some(name), None, "ok");
        let deleted = self.store.delete_app(&ws.id, name, &audit).await;
        self.caches.forget_reads();
        if deleted? {
            self.audited().await
        } else {
            Err(Error::AppNotFound { app: name.into() })
        }
    }

    /// Which registered apps name each of `keys`, with when each last read it.
    pub async fn usage(
        &self,
        ws: &Workspace,
        keys: &[String],
    ) -> Result<HashMap<String, Vec<UseRow>>, Error> {
        let mut by_key: HashMap<String, Vec<UseRow>> = HashMap::new();
        for u in self.store.uses(&ws.id, keys).await? {
            by_key.entry(u.key.clone()).or_default().push(u);
        }
        Ok(by_key)
    }
}
