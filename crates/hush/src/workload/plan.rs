//! Planning: what a workload asks for, from its manifest and the `--secret`/`--file` flags,
//! or with neither, everything the caller may read.

use std::path::Path;

use anyhow::Result;
use hush_core::{ListFilter, Status};
use hush_wire::{Delivery, SecretDecl};

use super::sources::{LocalSources, StoreAccess};
use crate::fail::Failure;
use crate::manifest;

/// What a workload asks for.
pub(super) struct Plan {
    pub app: Option<String>,
    pub env: Option<String>,
    pub wants: Vec<SecretDecl>,
    /// Whether the secrets were declared (manifest or flags) rather than "everything".
    pub declared: bool,
    /// The manifest's `inherit = true`: a declared variable already set in hush's environment
    /// may supply its secret.
    pub inherit: bool,
}

impl Plan {
    /// The keys a declaration may be supplied by, in order: its key, then its fallbacks.
    pub fn candidates(d: &SecretDecl) -> Vec<&str> {
        std::iter::once(d.key.as_str())
            .chain(d.fallback.iter().map(String::as_str))
            .collect()
    }

    /// The manifest (`manifest_path`, else `./hush.toml` when present) and the flags: the
    /// flags' app and environment win over the manifest's, and their secrets are added to
    /// its; a variable declared twice is refused.
    pub fn new(
        manifest_path: Option<&Path>,
        app: Option<&str>,
        env: Option<&str>,
        secrets: &[String],
        files: &[String],
    ) -> Result<Plan> {
        let (m, inherit) = match manifest::locate(manifest_path)? {
            Some(p) => {
                let loaded = manifest::load_local(&p)?;
                (Some(loaded.manifest), loaded.inherit)
            }
            None => (None, false),
        };
        let mut wants = m.as_ref().map(|m| m.secrets.clone()).unwrap_or_default();
        for s in secrets {
            wants.push(flag_decl(s, Delivery::Env, "--secret")?);
        }
        for f in files {
            wants.push(flag_decl(f, Delivery::File, "--file")?);
        }
        for (i, w) in wants.iter().enumerate() {
            if wants[..i].iter().any(|o| o.name == w.name) {
                return Err(Failure::usage(format!(
                    "{} is declared twice (manifest and flags together): give each variable one secret",
                    w.name
                ))
                .into());
            }
        }
        if let Some(a) = app {
            hush_core::model::validate_app(a).map_err(|e| Failure::usage(e.to_string()))?;
        }
        if let Some(e) = env {
            hush_core::model::validate_env(e).map_err(|e| Failure::usage(e.to_string()))?;
        }
        Ok(Plan {
            app: app
                .map(str::to_string)
                .or_else(|| m.as_ref().map(|m| m.app.clone())),
            env: env
                .map(str::to_string)
                .or_else(|| m.as_ref().and_then(|m| m.env.clone())),
            declared: m.is_some() || !wants.is_empty(),
            wants,
            inherit,
        })
    }

    /// Without declarations: every key the local sources hold, and every active secret the
    /// caller may list in the app and environment; keys that cannot be env var names are
    /// skipped.
    pub async fn add_everything(
        &mut self,
        local: &LocalSources,
        store: &mut StoreAccess<'_>,
    ) -> Result<()> {
        let mut keys = local.keys();
        if let Ok(b) = store.get().await? {
            let filter = ListFilter {
                env: self.env.clone(),
                app: self.app.clone(),
                status: Some(Status::Active),
                ..ListFilter::default()
            };
            keys.extend(b.list(&filter).await?.into_iter().map(|m| m.key));
        }
        keys.sort();
        keys.dedup();
        for key in keys {
            if !hush_core::app::is_env_name(&key) {
                eprintln!("hush: warning: skipping {key:?}: it is not a valid environment variable name (declare it with --secret {key}=NAME)");
                continue;
            }
            if hush_core::app::validate_var_name(&key).is_err() {
                continue;
            }
            self.wants.push(SecretDecl {
                name: key.clone(),
                key,
                required: false,
                fallback: Vec::new(),
                delivery: Delivery::Env,
            });
        }
        Ok(())
    }
}

/// Parses `KEY[=NAME]`.
fn flag_decl(spec: &str, delivery: Delivery, flag: &str) -> Result<SecretDecl> {
    let (key, name) = match spec.split_once('=') {
        Some((k, n)) => (k, n),
        None => (spec, spec),
    };
    hush_core::model::validate_key(key)
        .map_err(|e| Failure::usage(format!("{flag} {spec}: {e}")))?;
    hush_core::app::validate_var_name(name).map_err(|e| {
        let hint = if spec.contains('=') {
            String::new()
        } else {
            format!(": give the variable a name, as in {flag} {key}=NAME")
        };
        Failure::usage(format!("{flag} {spec}: {e}{hint}"))
    })?;
    Ok(SecretDecl {
        name: name.into(),
        key: key.into(),
        required: true,
        fallback: Vec::new(),
        delivery,
    })
}
