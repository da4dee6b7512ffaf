//! Apps: registered manifests, which make the secrets they name "in use", and the record of
//! when each app last read each of them.

use hush_wire::{AppManifest, SecretDecl};

use crate::invalid::Invalid;
use crate::model::{validate_app, validate_env, validate_key};
use crate::store_error::StoreError;

/// The most secrets one manifest may declare.
pub const MAX_DECLARED: usize = 500;
/// Most fallback keys one declaration may list.
pub const MAX_FALLBACKS: usize = 16;

/// A registered app as a store keeps it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppRow {
    /// The workspace.
    pub workspace_id: String,
    /// The manifest as registered (its `app` is the app's name).
    pub manifest: AppManifest,
    /// Every key the manifest names (declared keys and fallbacks), by key. A store fills in
    /// `last_read_at`; what is given to [`crate::Store::put_app`] is ignored.
    pub keys: Vec<AppKeyRow>,
    /// Unix seconds.
    pub created_at: i64,
    /// Unix seconds.
    pub updated_at: i64,
    /// Who registered it last.
    pub registered_by: String,
}

impl AppRow {
    /// The app's name.
    pub fn name(&self) -> &str {
        &self.manifest.app
    }
}

/// One key a registered app names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppKeyRow {
    /// The secret's key.
    pub key: String,
    /// Unix seconds of the app's last read, if any.
    pub last_read_at: Option<i64>,
    /// The environment that last read was made in; `None` when it named none (or never read).
    pub env: Option<String>,
}

/// One (key, app) pair: the app's manifest names the key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UseRow {
    /// The secret's key.
    pub key: String,
    /// The app.
    pub app: String,
    /// Unix seconds of the app's last read, if any.
    pub last_read_at: Option<i64>,
    /// The environment that last read was made in; `None` when it named none (or never read).
    pub env: Option<String>,
}

/// "App `app` read `key` at `at` in `env`", recorded with the read's audit row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ReadMark {
    /// The workspace.
    pub workspace_id: String,
    /// The app.
    pub app: String,
    /// The secret's key.
    pub key: String,
    /// Unix seconds.
    pub at: i64,
    /// The environment the read was made in (a machine token's bound environment, or the one
    /// the request named), whether it got that environment's own value or the shared one;
    /// `None` when the read named none.
    pub env: Option<String>,
}

/// Builds app rows from a store's rows: `(name, manifest JSON, created_at, updated_at,
/// registered_by)` per app and `(app, key)` per named key.
pub fn assemble(
    workspace_id: &str,
    apps: Vec<(String, String, i64, i64, String)>,
    keys: &[(String, AppKeyRow)],
) -> Result<Vec<AppRow>, StoreError> {
    apps.into_iter()
        .map(|(name, manifest, created_at, updated_at, registered_by)| {
            let manifest = serde_json::from_str(&manifest).map_err(|e| {
                StoreError::Corrupt(format!("the manifest of app {name:?} does not parse: {e}"))
            })?;
            Ok(AppRow {
                workspace_id: workspace_id.to_string(),
                manifest,
                keys: keys
                    .iter()
                    .filter(|(app, _)| *app == name)
                    .map(|(_, k)| k.clone())
                    .collect(),
                created_at,
                updated_at,
                registered_by,
            })
        })
        .collect()
}

/// Whether `name` can be an environment variable name: `[A-Za-z_][A-Za-z0-9_]*`.
pub fn is_env_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// Checks one declaration's variable name: a valid environment variable name outside hush's
/// own `HUSH_` namespace.
pub fn validate_var_name(name: &str) -> Result<(), String> {
    if !is_env_name(name) {
        return Err(format!(
            "{name:?} is not a valid environment variable name: use letters, digits and '_', not starting with a digit"
        ));
    }
    if name.starts_with("HUSH_") {
        return Err(format!(
            "{name:?} starts with HUSH_, which hush keeps for itself: choose another name"
        ));
    }
    Ok(())
}

fn manifest_err(reason: String) -> Invalid {
    Invalid::Manifest { reason }
}

/// Checks a manifest: names, keys, no duplicate variable, at most [`MAX_DECLARED`] secrets.
pub fn validate_manifest(m: &AppManifest) -> Result<(), Invalid> {
    validate_app(&m.app)?;
    if let Some(env) = &m.env {
        validate_env(env)?;
    }
    if m.secrets.len() > MAX_DECLARED {
        return Err(manifest_err(format!(
            "it declares {} secrets; the limit is {MAX_DECLARED}",
            m.secrets.len()
        )));
    }
    let mut seen = std::collections::HashSet::new();
    for (i, d) in m.secrets.iter().enumerate() {
        validate_decl(i, d)?;
        if !seen.insert(d.name.as_str()) {
            return Err(manifest_err(format!("{:?} is declared twice", d.name)));
        }
    }
    Ok(())
}

fn validate_decl(i: usize, d: &SecretDecl) -> Result<(), Invalid> {
    // Named by position: what was sent is never echoed (it may be anything).
    validate_var_name(&d.name).map_err(|_| {
        manifest_err(format!(
            "secrets[{i}].name is not a valid environment variable name: use letters, digits and '_', not starting with a digit or with HUSH_"
        ))
    })?;
    validate_key(&d.key)?;
    if d.fallback.len() > MAX_FALLBACKS {
        return Err(manifest_err(format!(
            "{}: {} fallbacks; the limit is {MAX_FALLBACKS}",
            d.name,
            d.fallback.len()
        )));
    }
    for (i, f) in d.fallback.iter().enumerate() {
        validate_key(f)?;
        if f == &d.key || d.fallback[..i].contains(f) {
            return Err(manifest_err(format!(
                "{}: fallback {f:?} is listed twice (or is the key itself)",
                d.name
            )));
        }
    }
    Ok(())
}

/// Every key a manifest names (declared keys and fallbacks), sorted, without duplicates.
pub fn named_keys(m: &AppManifest) -> Vec<String> {
    let mut keys: Vec<String> = m
        .secrets
        .iter()
        .flat_map(|d| std::iter::once(&d.key).chain(&d.fallback))
        .cloned()
        .collect();
    keys.sort();
    keys.dedup();
    keys
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_wire::Delivery;

    fn decl(name: &str, key: &str, fallback: &[&str]) -> SecretDecl {
        SecretDecl {
            name: name.into(),
            key: key.into(),
            required: true,
            fallback: fallback.iter().map(|s| s.to_string()).collect(),
            delivery: Delivery::Env,
        }
    }

    #[test]
    fn env_names() {
        for ok in ["A", "_a", "GITHUB_TOKEN", "a1"] {
            assert!(is_env_name(ok), "{ok}");
        }
        for bad in ["", "1A", "A-B", "A.B", "A B", "É"] {
            assert!(!is_env_name(bad), "{bad}");
        }
    }

    #[test]
    fn manifests_are_checked() {
        let mut m = AppManifest {
            app: "tooljump".into(),
            env: Some("prd".into()),
            secrets: vec![
                decl("GITHUB_TOKEN", "gh-primary", &["gh-backup"]),
                decl("SLACK", "slack", &[]),
            ],
        };
        validate_manifest(&m).unwrap();
        assert_eq!(named_keys(&m), ["gh-backup", "gh-primary", "slack"]);

        m.secrets.push(decl("SLACK", "other", &[]));
        assert!(validate_manifest(&m)
            .unwrap_err()
            .to_string()
            .contains("declared twice"));
        m.secrets.pop();
        m.secrets.push(decl("HUSH_SECRETS_DIR", "x", &[]));
        assert!(validate_manifest(&m).is_err());
        m.secrets.pop();
        m.secrets.push(decl("X", "x", &["x"]));
        assert!(validate_manifest(&m).is_err());
        m.secrets.pop();
        m.secrets.push(decl("X", "../x", &[]));
        assert!(validate_manifest(&m).is_err());
    }
}
