//! A change to a secret's metadata, as every entry point (API, CLI, web UI) asks for it.

use crate::error::Invalid;
use crate::model::{
    validate_app, validate_env, validate_expires_at, validate_list, validate_text, Metadata,
    TokenType, MAX_DESCRIPTION_LEN,
};

/// A change to metadata: `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MetadataPatch {
    /// New description (`Some(None)` clears it).
    pub description: Option<Option<String>>,
    /// New token type (`Some(None)` clears it).
    pub token_type: Option<Option<TokenType>>,
    /// New scope (an empty list clears it).
    pub scope: Option<Vec<String>>,
    /// New environments (an empty list clears them).
    pub envs: Option<Vec<String>>,
    /// New expiry (`Some(None)` clears it).
    pub expires_at: Option<Option<i64>>,
}

impl MetadataPatch {
    /// Whether the patch changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == MetadataPatch::default()
    }

    /// Checks every field it sets.
    pub fn validate(&self) -> Result<(), Invalid> {
        if let Some(Some(d)) = &self.description {
            let n = d.chars().count();
            if n > MAX_DESCRIPTION_LEN {
                return Err(Invalid::DescriptionTooLong { len: n });
            }
            validate_text("description", d)?;
        }
        if let Some(scope) = &self.scope {
            validate_list("scope", scope, validate_app)?;
        }
        if let Some(envs) = &self.envs {
            validate_list("envs", envs, validate_env)?;
        }
        if let Some(Some(at)) = self.expires_at {
            validate_expires_at("expires_at", at)?;
        }
        Ok(())
    }

    /// Applies the patch to `meta`, removing duplicate names and keeping their first order.
    pub fn apply(&self, meta: &mut Metadata) {
        if let Some(d) = &self.description {
            meta.description = d.clone().filter(|d| !d.is_empty());
        }
        if let Some(t) = self.token_type {
            meta.token_type = t;
        }
        if let Some(s) = &self.scope {
            meta.scope = dedup(s);
        }
        if let Some(e) = &self.envs {
            meta.envs = dedup(e);
        }
        if let Some(x) = self.expires_at {
            meta.expires_at = x;
        }
    }
}

fn dedup(items: &[String]) -> Vec<String> {
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for i in items {
        if !out.contains(i) {
            out.push(i.clone());
        }
    }
    out
}
