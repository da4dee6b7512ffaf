//! Conversions from domain types to the wire types of `hush-wire`.
//!
//! Every resolve answer, from the server or the embedded store, is built by [`resolved`], and
//! a refused key's code comes from [`refusal`] alone.

use std::collections::BTreeMap;

use base64::Engine as _;
use hush_crypto::SecretBytes;
use hush_wire::{
    FallbackTrail, Reason, Refusal, Resolved, SecretMeta, SecretValue, SkippedKey, VersionInfo,
    Warning,
};

use crate::clock;
use crate::error::Error;
use crate::model::{SecretRow, Status, VersionRow};
use crate::{KeyAnswer, Resolution};

/// A change event as streamed (`GET /v1/events`, `hush events`) and posted to webhooks.
pub fn event(ev: &crate::event::EventRow) -> hush_wire::Event {
    hush_wire::Event {
        id: ev.seq,
        kind: ev.kind.as_str().to_string(),
        workspace: ev.workspace.clone().unwrap_or_default(),
        key: ev.key.clone().unwrap_or_default(),
        version: ev.version,
        environment: ev.env.clone(),
        time: clock::rfc3339_ms(ev.ts_ms),
        detail: ev.detail.clone(),
    }
}

/// The metadata as shown to readers at `now`.
pub fn meta(row: &SecretRow, workspace: &str, now: i64) -> SecretMeta {
    SecretMeta {
        id: row.id.clone(),
        workspace: workspace.into(),
        key: row.key.clone(),
        description: row.meta.description.clone(),
        token_type: row.meta.token_type.map(|t| t.as_str().to_string()),
        scope: row.meta.scope.clone(),
        envs: row.meta.envs.clone(),
        expires_at: row.meta.expires_at,
        notify_before: row.meta.notify_before,
        status: row.status_at(now).as_str().into(),
        version: row.version,
        env_versions: row.env_versions.clone(),
        revision: row.revision,
        created_at: clock::rfc3339(row.created_at),
        updated_at: clock::rfc3339(row.updated_at),
        created_by: row.created_by.clone(),
        updated_by: row.updated_by.clone(),
        used_by: None,
    }
}

/// The apps using a secret, for [`SecretMeta::used_by`].
pub fn used_by(uses: Option<&Vec<crate::app::UseRow>>) -> Vec<hush_wire::UsedBy> {
    uses.map(|u| {
        u.iter()
            .map(|u| hush_wire::UsedBy {
                app: u.app.clone(),
                last_read_at: u.last_read_at.map(clock::rfc3339),
                env: u.env.clone(),
            })
            .collect()
    })
    .unwrap_or_default()
}

/// A registered app.
pub fn app(row: &crate::app::AppRow) -> hush_wire::AppInfo {
    hush_wire::AppInfo {
        app: row.manifest.app.clone(),
        env: row.manifest.env.clone(),
        secrets: row.manifest.secrets.clone(),
        keys: row
            .keys
            .iter()
            .map(|k| hush_wire::AppKey {
                key: k.key.clone(),
                last_read_at: k.last_read_at.map(clock::rfc3339),
                env: k.env.clone(),
            })
            .collect(),
        created_at: clock::rfc3339(row.created_at),
        updated_at: clock::rfc3339(row.updated_at),
        registered_by: row.registered_by.clone(),
    }
}

/// The metadata with the value: UTF-8 text in `value`, anything else in `value_base64`.
pub fn with_value(
    row: &SecretRow,
    workspace: &str,
    now: i64,
    env: Option<&str>,
    version: u64,
    value: &SecretBytes,
) -> SecretValue {
    // EXPOSE: building the one response that carries the value.
    let bytes = value.expose_secret();
    let (text, b64) = match std::str::from_utf8(bytes) {
        Ok(s) => (Some(s.to_string()), None),
        Err(_) => (
            None,
            Some(base64::engine::general_purpose::STANDARD.encode(bytes)),
        ),
    };
    SecretValue {
        meta: meta(row, workspace, now),
        value_env: env.map(str::to_string),
        value_version: version,
        value: text,
        value_base64: b64,
        warnings: warnings(row, now),
    }
}

/// What a read of `row` at `now` should warn of: its expiry, when it is `expiring`.
pub fn warnings(row: &SecretRow, now: i64) -> Vec<Warning> {
    match (row.status_at(now), row.meta.expires_at) {
        (Status::Expiring, Some(at)) => vec![Warning {
            key: row.key.clone(),
            code: "expiring".into(),
            message: format!(
                "{} expires in {} ({})",
                row.key,
                clock::human_span(at - now),
                clock::rfc3339(at)
            ),
            expires_at: Some(at),
        }],
        _ => Vec::new(),
    }
}

/// A secret's history.
pub fn versions(row: &SecretRow, versions: &[VersionRow]) -> Vec<VersionInfo> {
    versions
        .iter()
        .map(|v| VersionInfo {
            env: (!v.env.is_empty()).then(|| v.env.clone()),
            version: v.version,
            created_at: clock::rfc3339(v.created_at),
            created_by: v.created_by.clone(),
            current: if v.env.is_empty() {
                v.version == row.version
            } else {
                row.env_versions.get(&v.env) == Some(&v.version)
            },
        })
        .collect()
}

/// A token's record at `now`.
pub fn token(t: &crate::token::TokenRow, now: i64) -> hush_wire::TokenInfo {
    let status = if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at.is_some_and(|at| at <= now) {
        "expired"
    } else {
        "active"
    };
    hush_wire::TokenInfo {
        id: t.id.clone(),
        name: t.name.clone(),
        role: t.role.as_str().into(),
        app: t.app.clone(),
        env: t.env.clone(),
        expires_at: t.expires_at,
        status: status.into(),
        created_at: clock::rfc3339(t.created_at),
        created_by: t.created_by.clone(),
        revoked_at: t.revoked_at.map(clock::rfc3339),
    }
}

/// One line of `hush audit export` and of the audit file (`hush server --audit-file`): the
/// row as JSON, without the newline. One function, so both stay the same.
pub fn audit_line(r: &hush_wire::AuditRecord) -> serde_json::Result<String> {
    serde_json::to_string(r)
}

/// An audit row.
pub fn audit(r: &crate::audit::AuditRow) -> hush_wire::AuditRecord {
    let e = &r.entry;
    hush_wire::AuditRecord {
        seq: r.seq,
        time: clock::rfc3339_ms(e.ts_ms),
        actor_id: e.actor_id.clone(),
        actor_name: e.actor_name.clone(),
        action: e.action.clone(),
        workspace: e.workspace.clone(),
        key: e.key.clone(),
        version: e.version,
        env: e.env.clone(),
        outcome: e.outcome.clone(),
        remote: e.remote.clone(),
        request_id: e.request_id.clone(),
        detail: e.detail.clone(),
        items: e.items.clone(),
        prev_hash: r.prev_mac.clone(),
        hash: r.mac.clone(),
    }
}

/// A verification result.
pub fn verdict(v: &crate::audit::Verdict) -> hush_wire::AuditVerdict {
    match v {
        crate::audit::Verdict::Intact {
            rows,
            legacy,
            head,
            head_checked,
            checkpoint,
        } => hush_wire::AuditVerdict {
            intact: true,
            rows: *rows,
            first_bad_seq: None,
            reason: None,
            legacy_rows: *legacy,
            head_seq: head.seq,
            head_mac: head.mac.clone(),
            head_checked: *head_checked,
            checkpoint: checkpoint.as_ref().map(audit_head),
        },
        crate::audit::Verdict::Broken { seq, reason, head } => hush_wire::AuditVerdict {
            intact: false,
            rows: 0,
            first_bad_seq: Some(*seq),
            reason: Some(reason.clone()),
            legacy_rows: 0,
            head_seq: head.seq,
            head_mac: head.mac.clone(),
            head_checked: false,
            checkpoint: None,
        },
    }
}

/// What a prune did.
pub fn pruned(p: &crate::audit::Pruned) -> hush_wire::AuditPruned {
    hush_wire::AuditPruned {
        removed: p.removed,
        checkpoint: p.checkpoint.as_ref().map(audit_head),
        head: audit_head(&p.head),
    }
}

/// A head of the audit chain.
pub fn audit_head(h: &crate::audit::Head) -> hush_wire::AuditHead {
    hush_wire::AuditHead {
        seq: h.seq,
        mac: h.mac.clone(),
    }
}

/// One key's answer of [`crate::Hush::resolve`]: the value when one was read, else (a dry run)
/// the metadata with no value.
pub fn resolution(r: &Resolution, workspace: &str, now: i64) -> SecretValue {
    match &r.value {
        Some((version, value)) => {
            with_value(&r.row, workspace, now, r.env.as_deref(), *version, value)
        }
        None => SecretValue {
            meta: meta(&r.row, workspace, now),
            value_env: None,
            value_version: r.row.version,
            value: None,
            value_base64: None,
            warnings: warnings(&r.row, now),
        },
    }
}

/// Why a resolve call gives no value for a key that failed with `e`. [`crate::Hush::resolve`]
/// refuses a key only as not found, forbidden, revoked, expired or not decrypting; anything
/// else fails the whole call, so it has no reason of its own here.
pub fn refusal(e: &Error) -> Reason {
    match e {
        Error::NotFound { .. }
        | Error::VersionNotFound { .. }
        | Error::NoValue { .. }
        | Error::WorkspaceNotFound { .. }
        | Error::TokenNotFound { .. }
        | Error::AppNotFound { .. } => Reason::Missing,
        Error::Forbidden { .. } => Reason::OutOfScope,
        Error::Revoked { .. } => Reason::Revoked,
        Error::Expired { .. } => Reason::Expired,
        Error::Decrypt { .. } => Reason::DecryptFailed,
        _ => Reason::parse("error"),
    }
}

/// The answer of a resolve call: each key's value (a dry run: its metadata), or its
/// [`refusal`] with the message `describe` gives for the error (the server's wording, or the
/// CLI's); for a key whose fallbacks were tried, which key served and which were skipped.
pub fn resolved(
    answers: Vec<(String, KeyAnswer)>,
    workspace: &str,
    now: i64,
    describe: impl FnMut(Error) -> String,
) -> Resolved {
    let a = answer(answers, workspace, now, describe);
    let mut out = a.rest;
    out.secrets = a
        .served
        .iter()
        .map(|(key, r)| {
            let mut v = resolution(r, workspace, now);
            // The answer says each warning once, at its top.
            v.warnings.clear();
            (key.clone(), v)
        })
        .collect();
    out
}

/// [`resolved`]'s answer before it is written: the values stay where they are (shared rows,
/// sealed-then-opened values) and are serialised straight into the response, as the same JSON
/// as [`Resolved`], without a copy of each value and its metadata per key.
pub fn answer(
    answers: Vec<(String, KeyAnswer)>,
    workspace: &str,
    now: i64,
    mut describe: impl FnMut(Error) -> String,
) -> ResolvedAnswer {
    let mut served = Vec::with_capacity(answers.len());
    let mut errors = BTreeMap::new();
    let mut fallbacks = BTreeMap::new();
    let mut warned = Vec::new();
    for (key, a) in answers {
        let mut skipped: Vec<SkippedKey> = a
            .skipped
            .into_iter()
            .map(|(key, e)| {
                let code = refusal(&e);
                let message = describe(e);
                SkippedKey { key, code, message }
            })
            .collect();
        let mut served_by = None;
        match a.answer {
            Ok(r) => {
                served_by = Some(a.key);
                // The answer says each warning once, at its top.
                warned.append(&mut warnings(&r.row, now));
                served.push((key.clone(), r));
            }
            Err(e) => {
                let code = refusal(&e);
                let message = describe(e);
                if !skipped.is_empty() {
                    skipped.push(SkippedKey {
                        key: a.key,
                        code: code.clone(),
                        message: message.clone(),
                    });
                }
                errors.insert(key.clone(), Refusal { code, message });
            }
        }
        if !skipped.is_empty() {
            fallbacks.insert(key, FallbackTrail { served_by, skipped });
        }
    }
    warned.sort_by(|a, b| a.key.cmp(&b.key));
    // In key order, a key asked twice once (its last answer), as a map would keep them: the
    // newest first, a stable sort, then the first of each run of one key.
    served.reverse();
    served.sort_by(|a, b| a.0.cmp(&b.0));
    served.dedup_by(|later, first| later.0 == first.0);
    ResolvedAnswer {
        served,
        rest: Resolved {
            secrets: BTreeMap::new(),
            errors,
            fallbacks,
            warnings: warned,
        },
        workspace: workspace.to_string(),
        now,
    }
}

/// A resolve answer ready to be written: see [`answer`]. Serialises as [`Resolved`].
#[derive(Debug)]
pub struct ResolvedAnswer {
    /// By key wanted, in key order, each key once: what served it.
    pub served: Vec<(String, Resolution)>,
    /// The rest of the answer (`secrets` empty: they are `served`).
    pub rest: Resolved,
    /// The workspace's name, as the metadata shows it.
    pub workspace: String,
    /// When the answer was made (the metadata's status and the warnings are as of then).
    pub now: i64,
}

impl serde::Serialize for ResolvedAnswer {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        /// [`Resolved`]'s fields, with `secrets` written from `served`.
        #[derive(serde::Serialize)]
        struct Out<'a> {
            secrets: Secrets<'a>,
            errors: &'a BTreeMap<String, Refusal>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            fallbacks: &'a BTreeMap<String, FallbackTrail>,
            #[serde(skip_serializing_if = "<[Warning]>::is_empty")]
            warnings: &'a [Warning],
        }
        struct Secrets<'a>(&'a ResolvedAnswer);
        impl serde::Serialize for Secrets<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let a = self.0;
                s.collect_map(a.served.iter().map(|(key, r)| {
                    let (env, version, value) = match &r.value {
                        Some((version, value)) => (r.env.as_deref(), *version, Some(value)),
                        None => (None, r.row.version, None),
                    };
                    let out = ValueOut {
                        row: &r.row,
                        workspace: &a.workspace,
                        now: a.now,
                        env,
                        version,
                        value,
                        used_by: None,
                        warnings: &[],
                    };
                    (key, out)
                }))
            }
        }
        Out {
            secrets: Secrets(self),
            errors: &self.rest.errors,
            fallbacks: &self.rest.fallbacks,
            warnings: &self.rest.warnings,
        }
        .serialize(s)
    }
}

/// One secret of an answer, written from its row and value where they are: the JSON of
/// [`with_value`]'s `SecretValue` (with no value: of a dry run's, which has none).
pub struct ValueOut<'a> {
    /// The secret.
    pub row: &'a SecretRow,
    /// The workspace's name.
    pub workspace: &'a str,
    /// The time its status is as of.
    pub now: i64,
    /// The environment whose own value it is; `None` for the shared value (or no value).
    pub env: Option<&'a str>,
    /// The version of the value (with no value: the current shared version).
    pub version: u64,
    /// The value; `None` for a dry run.
    pub value: Option<&'a SecretBytes>,
    /// The apps using it, when the answer says.
    pub used_by: Option<&'a [hush_wire::UsedBy]>,
    /// What the reader should know.
    pub warnings: &'a [Warning],
}

/// A value as an answer writes it: text as it is, any other bytes in base64 (that copy zeroed
/// when dropped). EXPOSE: for the one response that carries the value.
fn value_text(value: Option<&SecretBytes>) -> (Option<&str>, Option<zeroize::Zeroizing<String>>) {
    let bytes = value.map(|v| v.expose_secret());
    let text = bytes.and_then(|b| std::str::from_utf8(b).ok());
    let b64 = match (bytes, text) {
        (Some(b), None) => Some(zeroize::Zeroizing::new(
            base64::engine::general_purpose::STANDARD.encode(b),
        )),
        _ => None,
    };
    (text, b64)
}

/// A cached row's metadata as answers write it — the JSON of [`ValueOut`] up to its value's
/// fields, `{"id":…,"updated_by":…` without the closing brace — made by the first answer
/// that writes the row and kept with it in the server's cache, so that a resolve does not
/// write fifty rows' metadata (two formatted times and a dozen escaped strings each) again on
/// every request. Only for a row whose status cannot change with time (no expiry); metadata
/// only, never a value.
#[derive(Debug, Default)]
pub struct RowJson(std::sync::OnceLock<Option<Box<str>>>);

impl RowJson {
    /// The metadata's JSON of `row` in `workspace`, or `None` when its status depends on the
    /// time (it has an expiry).
    fn head(&self, row: &SecretRow, workspace: &str) -> Option<&str> {
        self.0
            .get_or_init(|| {
                if row.meta.expires_at.is_some() {
                    return None;
                }
                let whole = serde_json::to_string(&ValueOut {
                    row,
                    workspace,
                    now: 0,
                    env: None,
                    version: 0,
                    value: None,
                    used_by: None,
                    warnings: &[],
                })
                .ok()?;
                // The first field after the metadata. Inside a JSON string a quote is always
                // escaped, so this is the field itself, not text in a value.
                let end = whole.rfind(",\"value_env\":")?;
                Some(whole[..end].into())
            })
            .as_deref()
    }
}

/// The fields of [`ValueOut`] after the metadata, as it writes them when it has no `used_by`
/// and no warnings (a resolve's).
#[derive(serde::Serialize)]
struct ValueTail<'a> {
    value_env: Option<&'a str>,
    value_version: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    value: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    value_base64: Option<&'a str>,
}

impl ResolvedAnswer {
    /// Writes the answer's JSON into `out`: the same bytes as serialising it, with each
    /// cached row's metadata copied from its [`RowJson`] instead of written field by field.
    pub fn write_json(&self, out: &mut Vec<u8>) -> serde_json::Result<()> {
        /// [`Resolved`]'s fields after `secrets`.
        #[derive(serde::Serialize)]
        struct Rest<'a> {
            errors: &'a BTreeMap<String, Refusal>,
            #[serde(skip_serializing_if = "BTreeMap::is_empty")]
            fallbacks: &'a BTreeMap<String, FallbackTrail>,
            #[serde(skip_serializing_if = "<[Warning]>::is_empty")]
            warnings: &'a [Warning],
        }
        out.extend_from_slice(b"{\"secrets\":{");
        for (i, (key, r)) in self.served.iter().enumerate() {
            if i > 0 {
                out.push(b',');
            }
            serde_json::to_writer(&mut *out, key)?;
            out.push(b':');
            let (env, version, value) = match &r.value {
                Some((version, value)) => (r.env.as_deref(), *version, Some(value)),
                None => (None, r.row.version, None),
            };
            let head = r
                .json
                .as_ref()
                .and_then(|j| j.head(&r.row, &self.workspace));
            match head {
                Some(head) => {
                    out.extend_from_slice(head.as_bytes());
                    let (text, b64) = value_text(value);
                    let at = out.len();
                    serde_json::to_writer(
                        &mut *out,
                        &ValueTail {
                            value_env: env,
                            value_version: version,
                            value: text,
                            value_base64: b64.as_deref().map(String::as_str),
                        },
                    )?;
                    // The tail's opening brace becomes the comma after the metadata.
                    out[at] = b',';
                }
                None => serde_json::to_writer(
                    &mut *out,
                    &ValueOut {
                        row: &r.row,
                        workspace: &self.workspace,
                        now: self.now,
                        env,
                        version,
                        value,
                        used_by: None,
                        warnings: &[],
                    },
                )?,
            }
        }
        out.push(b'}');
        let at = out.len();
        serde_json::to_writer(
            &mut *out,
            &Rest {
                errors: &self.rest.errors,
                fallbacks: &self.rest.fallbacks,
                warnings: &self.rest.warnings,
            },
        )?;
        // Its opening brace becomes the comma after `secrets`.
        out[at] = b',';
        Ok(())
    }
}

impl serde::Serialize for ValueOut<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let row = self.row;
        let created_at = clock::rfc3339(row.created_at);
        let updated_at = clock::rfc3339(row.updated_at);
        // EXPOSE: written into the one response that carries the value.
        let (text, b64) = value_text(self.value);
        hush_wire::SecretValueRef {
            id: &row.id,
            workspace: self.workspace,
            key: &row.key,
            description: row.meta.description.as_deref(),
            token_type: row.meta.token_type.map(|t| t.as_str()),
            scope: &row.meta.scope,
            envs: &row.meta.envs,
            expires_at: row.meta.expires_at,
            notify_before: row.meta.notify_before,
            status: row.status_at(self.now).as_str(),
            version: row.version,
            env_versions: &row.env_versions,
            revision: row.revision,
            created_at: &created_at,
            updated_at: &updated_at,
            created_by: &row.created_by,
            updated_by: &row.updated_by,
            used_by: self.used_by,
            value_env: self.env,
            value_version: self.version,
            value: text,
            value_base64: b64.as_deref().map(String::as_str),
            warnings: self.warnings,
        }
        .serialize(s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Metadata, StoredStatus};
    use std::sync::Arc;

    fn row(key: &str) -> SecretRow {
        SecretRow {
            id: format!("sec_{key}"),
            workspace_id: "ws_1".into(),
            key: key.into(),
            meta: Metadata::default(),
            status: StoredStatus::Active,
            version: 2,
            env_versions: Default::default(),
            revision: 3,
            created_at: 1,
            updated_at: 1,
            created_by: "t".into(),
            updated_by: "t".into(),
        }
    }

    #[test]
    fn each_refusal_has_its_code() {
        let cases = [
            (
                Error::NotFound {
                    workspace: "w".into(),
                    key: "k".into(),
                },
                Reason::Missing,
            ),
            (Error::Forbidden { reason: "x".into() }, Reason::OutOfScope),
            (Error::Revoked { key: "k".into() }, Reason::Revoked),
            (
                Error::Expired {
                    key: "k".into(),
                    at: 1,
                    at_rfc3339: clock::rfc3339(1),
                },
                Reason::Expired,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(refusal(&e), want, "{e}");
        }
    }

    #[test]
    fn an_answer_holds_values_and_refusals() {
        let answers = [
            (
                "a",
                Ok(Resolution {
                    row: row("a").into(),
                    json: None,
                    env: None,
                    value: Some((2, SecretBytes::new(b"\xff".to_vec()))),
                }),
            ),
            (
                "b",
                Ok(Resolution {
                    row: row("b").into(),
                    json: None,
                    env: None,
                    value: None,
                }),
            ),
            ("c", Err(Error::Revoked { key: "c".into() })),
        ]
        .into_iter()
        .map(|(k, answer)| {
            let a = KeyAnswer {
                skipped: Vec::new(),
                key: k.to_string(),
                answer,
            };
            (k.to_string(), a)
        })
        .collect();
        let r = resolved(answers, "w", 10, |e| format!("said: {e}"));
        assert!(r.fallbacks.is_empty());
        assert_eq!(r.secrets["a"].value_base64.as_deref(), Some("/w=="));
        assert_eq!(r.secrets["a"].value_version, 2);
        assert_eq!(r.secrets["b"].value, None);
        assert_eq!(r.secrets["b"].meta.workspace, "w");
        assert_eq!(r.errors["c"].code, Reason::Revoked);
        assert!(r.errors["c"].message.starts_with("said: secret \"c\""));
        assert_eq!(r.errors.len(), 1);
    }

    /// A fallback that served is under the key wanted, with the key that served and the keys
    /// skipped; when none served, every key tried is skipped and the last one's reason is the
    /// refusal.
    #[test]
    fn an_answer_says_which_fallback_served() {
        let revoked = |k: &str| (k.to_string(), Error::Revoked { key: k.into() });
        let answers = vec![
            (
                "p".to_string(),
                KeyAnswer {
                    skipped: vec![revoked("p")],
                    key: "b".into(),
                    answer: Ok(Resolution {
                        row: row("b").into(),
                        json: None,
                        env: None,
                        value: Some((2, SecretBytes::new(b"v".to_vec()))),
                    }),
                },
            ),
            (
                "q".to_string(),
                KeyAnswer {
                    skipped: vec![revoked("q")],
                    key: "q2".into(),
                    answer: Err(Error::NotFound {
                        workspace: "w".into(),
                        key: "q2".into(),
                    }),
                },
            ),
        ];
        let r = resolved(answers, "w", 10, |e| format!("said: {e}"));
        assert_eq!(r.secrets["p"].meta.key, "b");
        let p = &r.fallbacks["p"];
        assert_eq!(p.served_by.as_deref(), Some("b"));
        assert_eq!(p.skipped.len(), 1);
        assert_eq!(
            (p.skipped[0].key.as_str(), &p.skipped[0].code),
            ("p", &Reason::Revoked)
        );
        assert_eq!(r.errors["q"].code, Reason::Missing);
        let q = &r.fallbacks["q"];
        assert_eq!(q.served_by, None);
        let tried: Vec<_> = q
            .skipped
            .iter()
            .map(|s| (s.key.as_str(), &s.code))
            .collect();
        assert_eq!(tried, [("q", &Reason::Revoked), ("q2", &Reason::Missing)]);
        let json = serde_json::to_value(&r).unwrap();
        assert_eq!(json["fallbacks"]["p"]["served_by"], "b");
        assert_eq!(json["fallbacks"]["p"]["skipped"][0]["code"], "revoked");
    }

    /// Issue 17: an `expiring` secret's read warns (once, at the top of a resolve answer),
    /// naming the key, the time left and the expiry; others do not.
    #[test]
    fn expiring_reads_warn_at_the_top() {
        let now = 1_000_000;
        let mut soon = row("b_soon");
        soon.meta.expires_at = Some(now + 3 * 86_400 + 60);
        let mut wide = row("a_wide");
        wide.meta.expires_at = Some(now + 30 * 86_400);
        wide.meta.notify_before = Some(31 * 86_400);
        let mut far = row("c_far");
        far.meta.expires_at = Some(now + 30 * 86_400);
        let ok = |r: SecretRow| KeyAnswer {
            skipped: Vec::new(),
            key: r.key.clone(),
            answer: Ok(Resolution {
                row: r.into(),
                json: None,
                env: None,
                value: Some((2, SecretBytes::new(b"v".to_vec()))),
            }),
        };
        let answers = vec![
            ("b_soon".to_string(), ok(soon.clone())),
            ("a_wide".to_string(), ok(wide)),
            ("c_far".to_string(), ok(far.clone())),
        ];
        let r = resolved(answers, "w", now, |e| e.to_string());
        let keys: Vec<_> = r.warnings.iter().map(|w| w.key.as_str()).collect();
        assert_eq!(keys, ["a_wide", "b_soon"], "in key order");
        assert_eq!(
            r.warnings[1].message,
            format!(
                "b_soon expires in 3 days ({})",
                clock::rfc3339(now + 3 * 86_400 + 60)
            )
        );
        assert_eq!(r.warnings[1].code, "expiring");
        assert!(r.secrets.values().all(|v| v.warnings.is_empty()));
        let got = with_value(&soon, "w", now, None, 2, &SecretBytes::new(b"v".to_vec()));
        assert_eq!(got.warnings.len(), 1);
        assert_eq!(got.meta.status, "expiring");
        assert!(warnings(&far, now).is_empty());
    }

    /// The answer written from where its values are is byte for byte the JSON of the owned
    /// answer (which the clients parse): text, binary, an environment's own value, a dry run,
    /// a warning, a refusal, fallbacks, odd metadata; and one value with its users.
    #[test]
    fn the_written_answer_is_the_json_of_the_owned_one() {
        let now = 1_000_000;
        // Each row's metadata JSON, kept across answers as the server's cache keeps it.
        let kept: std::collections::HashMap<&str, Arc<RowJson>> = ["t", "bin", "m\"eta", "dry"]
            .into_iter()
            .map(|k| (k, Arc::default()))
            .collect();
        let answers = |cached: bool| {
            let mut meta = row("m\"eta");
            meta.meta.description = Some("d\u{e9}\n<\"x\">".into());
            meta.meta.token_type = Some(hush_wire::TokenType::Api);
            meta.meta.scope = vec!["app-a".into()];
            meta.meta.envs = vec!["prod".into(), "dev".into()];
            meta.meta.expires_at = Some(now + 86_400);
            meta.meta.notify_before = Some(7 * 86_400);
            meta.env_versions.insert("prod".into(), 3);
            let served = |r: SecretRow, env: Option<&str>, value: Option<&[u8]>| KeyAnswer {
                skipped: Vec::new(),
                key: r.key.clone(),
                answer: Ok(Resolution {
                    json: cached.then(|| kept[r.key.as_str()].clone()),
                    row: r.into(),
                    env: env.map(str::to_string),
                    value: value.map(|v| (4, SecretBytes::new(v.to_vec()))),
                }),
            };
            vec![
                (
                    "t".to_string(),
                    served(row("t"), None, Some(b"tab\t\"q\" \\ \x01\x7f")),
                ),
                (
                    "bin".to_string(),
                    served(row("bin"), None, Some(b"\xff\x00\xfe")),
                ),
                ("m\"eta".to_string(), served(meta, Some("prod"), Some(b""))),
                ("dry".to_string(), served(row("dry"), None, None)),
                // Asked twice: the last answer is the one given, once.
                ("t".to_string(), served(row("t"), None, Some(b"second"))),
                (
                    "gone".to_string(),
                    KeyAnswer {
                        skipped: Vec::new(),
                        key: "gone".into(),
                        answer: Err(Error::Revoked { key: "gone".into() }),
                    },
                ),
                (
                    "p".to_string(),
                    KeyAnswer {
                        skipped: vec![("p".into(), Error::Revoked { key: "p".into() })],
                        key: "b".into(),
                        answer: Ok(Resolution {
                            row: row("b").into(),
                            json: None,
                            env: None,
                            value: Some((2, SecretBytes::new(b"v".to_vec()))),
                        }),
                    },
                ),
            ]
        };
        let owned = serde_json::to_string(&resolved(answers(false), "w", now, |e| e.to_string()));
        let written = serde_json::to_string(&answer(answers(false), "w", now, |e| e.to_string()));
        let (owned, written) = (owned.unwrap(), written.unwrap());
        assert_eq!(written, owned);
        // Written with the rows' kept metadata: made by the first answer, copied by the next.
        for _ in 0..2 {
            for cached in [false, true] {
                let mut out = Vec::new();
                answer(answers(cached), "w", now, |e| e.to_string())
                    .write_json(&mut out)
                    .unwrap();
                assert_eq!(String::from_utf8(out).unwrap(), owned, "cached: {cached}");
            }
        }
        assert!(
            kept["t"].head(&row("t"), "w").is_some(),
            "a row without expiry is kept"
        );
        assert!(
            kept["m\"eta"].0.get().is_some_and(Option::is_none),
            "one with an expiry is not"
        );
        assert!(owned.contains("\"value\":\"second\"") && !owned.contains("tab"));
        assert_eq!(owned.matches("\"key\":\"t\"").count(), 1, "{owned}");
        for part in [
            "\"warnings\"",
            "\"fallbacks\"",
            "\"errors\":{\"gone\"",
            "value_base64",
        ] {
            assert!(owned.contains(part), "the case covers {part}");
        }

        let mut one = row("k");
        one.meta.expires_at = Some(now + 3600);
        let value = SecretBytes::new(b"s3cr3t".to_vec());
        let users = vec![hush_wire::UsedBy {
            app: "a".into(),
            last_read_at: Some(clock::rfc3339(now)),
            env: Some("prod".into()),
        }];
        let mut v = with_value(&one, "w", now, Some("prod"), 9, &value);
        v.meta.used_by = Some(users.clone());
        let warned = warnings(&one, now);
        assert_eq!(warned.len(), 1);
        let out = ValueOut {
            row: &one,
            workspace: "w",
            now,
            env: Some("prod"),
            version: 9,
            value: Some(&value),
            used_by: Some(&users),
            warnings: &warned,
        };
        assert_eq!(
            serde_json::to_string(&out).unwrap(),
            serde_json::to_string(&v).unwrap()
        );
    }
}
