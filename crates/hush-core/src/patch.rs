//! A change to a secret's metadata, as every entry point (API, CLI, web UI, SDK) asks for it.
//!
//! The type is the wire's ([`hush_wire::MetadataPatch`]): the SDK, which links no hush-core,
//! builds the same value the server and the CLI hand to the service. What hush-core adds is
//! its rules: [`PatchRules::validate`] checks each field a patch sets, and
//! [`PatchRules::apply`] changes stored metadata.

pub use hush_wire::MetadataPatch;

use crate::clock;
use crate::invalid::Invalid;
use crate::model::{
    validate_app, validate_env, validate_expires_at, validate_list, validate_notify_before,
    validate_text, Metadata, MAX_DESCRIPTION_LEN,
};

/// hush-core's rules for a [`MetadataPatch`].
pub trait PatchRules {
    /// Checks every field the patch sets.
    fn validate(&self) -> Result<(), Invalid>;

    /// Applies the patch to `meta`, removing duplicate names and keeping their first order.
    fn apply(&self, meta: &mut Metadata);
}

impl PatchRules for MetadataPatch {
    fn validate(&self) -> Result<(), Invalid> {
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
            // Set on purpose (`allow_past`), a past expiry writes an expired secret; by
            // mistake (a wrong year, a time zone) it would be served to no one, silently.
            if !self.allow_past && at <= clock::now() {
                return Err(Invalid::PastSecretExpiry);
            }
        }
        if let Some(Some(secs)) = self.notify_before {
            validate_notify_before(secs)?;
        }
        Ok(())
    }

    fn apply(&self, meta: &mut Metadata) {
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
        if let Some(x) = self.notify_before {
            meta.notify_before = x;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::TokenType;

    #[test]
    fn patch_dedups_and_clears() {
        let mut m = Metadata {
            description: Some("x".into()),
            scope: vec!["a".into()],
            token_type: Some(TokenType::Api),
            expires_at: Some(5),
            ..Metadata::default()
        };
        MetadataPatch {
            description: Some(None),
            scope: Some(vec!["b".into(), "b".into(), "c".into()]),
            token_type: Some(None),
            ..MetadataPatch::default()
        }
        .apply(&mut m);
        assert_eq!(m.description, None);
        assert_eq!(m.scope, vec!["b".to_string(), "c".to_string()]);
        assert_eq!(m.token_type, None);
        assert_eq!(m.expires_at, Some(5), "an absent field is left as it is");
    }

    #[test]
    fn validate_names_the_field() {
        let bad = MetadataPatch {
            envs: Some(vec![String::new()]),
            ..MetadataPatch::default()
        };
        assert!(bad.validate().unwrap_err().to_string().contains("env"));
        let long = MetadataPatch {
            description: Some(Some("x".repeat(MAX_DESCRIPTION_LEN + 1))),
            ..MetadataPatch::default()
        };
        assert!(matches!(
            long.validate(),
            Err(Invalid::DescriptionTooLong { .. })
        ));
        assert_eq!(MetadataPatch::default().validate(), Ok(()));
    }

    #[test]
    fn an_unknown_token_type_is_invalid_with_the_same_message() {
        let e = Invalid::from(TokenType::parse("bearer").unwrap_err());
        assert_eq!(
            e,
            Invalid::TokenType {
                value: "bearer".into()
            }
        );
        assert_eq!(
            e.to_string(),
            "unknown token_type: use \"api\" or \"access\""
        );
    }
}
