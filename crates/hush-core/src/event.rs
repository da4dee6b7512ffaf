//! Change events: what happened to a secret (or a token, an app, the keys), told without a
//! value. A store writes one in the same transaction as the audit row it comes from (see
//! [`EventKind::of`]), numbered by that row's sequence number, so events are ordered, gapless
//! in commit order, and never exist for a change that did not happen. They feed the event
//! stream (`GET /v1/events`), webhooks and every node's caches.

use serde::Serialize;

use crate::audit::AuditEntry;

/// What an event says happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    /// A secret was created.
    Created,
    /// A secret got a new value version (an update, a put or a rollback), or its metadata
    /// changed.
    Updated,
    /// A secret was revoked.
    Revoked,
    /// A revoked secret was restored.
    Restored,
    /// A secret was deleted.
    Deleted,
    /// A secret entered its warning window (once per secret per window).
    Expiring,
    /// A secret expired (once per expiry).
    Expired,
    /// A read was served by a fallback key because the declared key could not serve.
    Fallback,
    /// A token was revoked (not streamed to clients; caches obey it).
    TokenRevoked,
    /// An app registered or replaced its manifest, or was unregistered (not streamed).
    AppChanged,
    /// The root key was rotated (not streamed).
    KeysRotated,
}

impl EventKind {
    /// Every kind, in the order of the enum.
    pub const ALL: [EventKind; 11] = [
        EventKind::Created,
        EventKind::Updated,
        EventKind::Revoked,
        EventKind::Restored,
        EventKind::Deleted,
        EventKind::Expiring,
        EventKind::Expired,
        EventKind::Fallback,
        EventKind::TokenRevoked,
        EventKind::AppChanged,
        EventKind::KeysRotated,
    ];

    /// The name stored and streamed (`updated`, `token_revoked`).
    pub fn as_str(self) -> &'static str {
        match self {
            EventKind::Created => "created",
            EventKind::Updated => "updated",
            EventKind::Revoked => "revoked",
            EventKind::Restored => "restored",
            EventKind::Deleted => "deleted",
            EventKind::Expiring => "expiring",
            EventKind::Expired => "expired",
            EventKind::Fallback => "fallback",
            EventKind::TokenRevoked => "token_revoked",
            EventKind::AppChanged => "app_changed",
            EventKind::KeysRotated => "keys_rotated",
        }
    }

    /// The kind with this name.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    /// Whether it is about one secret (and so streamed to clients that may see that secret).
    pub fn is_secret_event(self) -> bool {
        !matches!(
            self,
            EventKind::TokenRevoked | EventKind::AppChanged | EventKind::KeysRotated
        )
    }

    /// The event an audit entry makes, if any: only changes that happened (outcome `ok`).
    pub fn of(entry: &AuditEntry) -> Option<Self> {
        if !entry.items.is_empty() {
            // A row naming several keys (a resolve): a fallback event when a fallback served.
            return served_by_fallback(entry)
                .next()
                .map(|_| EventKind::Fallback);
        }
        if entry.outcome != "ok" {
            return None;
        }
        Some(match entry.action.as_str() {
            "secret.create" => EventKind::Created,
            "secret.update" | "secret.put" | "secret.rollback" => EventKind::Updated,
            "secret.revoke" => EventKind::Revoked,
            "secret.restore" => EventKind::Restored,
            "secret.delete" => EventKind::Deleted,
            "secret.expiring" => EventKind::Expiring,
            "secret.expired" => EventKind::Expired,
            "token.revoke" | "session.end" => EventKind::TokenRevoked,
            "app.register" | "app.delete" => EventKind::AppChanged,
            "keys.rotate" => EventKind::KeysRotated,
            _ if entry
                .detail
                .as_deref()
                .is_some_and(|d| d.starts_with("served by ")) =>
            {
                EventKind::Fallback
            }
            _ => return None,
        })
    }
}

/// One stored event. Never a value: keys, versions, environments and words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EventRow {
    /// The sequence number of the audit row it comes from: increasing in commit order.
    pub seq: i64,
    /// Unix milliseconds.
    pub ts_ms: i64,
    /// What happened.
    pub kind: EventKind,
    /// The workspace's name.
    pub workspace: Option<String>,
    /// The secret's key (for token events: none).
    pub key: Option<String>,
    /// The value version written or read.
    pub version: Option<u64>,
    /// The environment whose own value it was; none for the shared value.
    pub env: Option<String>,
    /// The audit row's detail (`served by B; skipped A (revoked)` for a fallback; the token
    /// id for a token revocation).
    pub detail: Option<String>,
}

/// The items of a row naming several keys that a fallback served.
fn served_by_fallback(entry: &AuditEntry) -> impl Iterator<Item = &crate::audit::AuditItem> {
    entry.items.iter().filter(|i| {
        i.outcome == "ok"
            && i.detail
                .as_deref()
                .is_some_and(|d| d.starts_with("served by "))
    })
}

impl EventRow {
    /// The event `entry` makes once it is the audit row numbered `seq`. A row naming several
    /// keys makes at most one (its id is the row's): a fallback event about the first key a
    /// fallback served, whose detail names every key served so (`served by B; skipped A
    /// (revoked) / served by D; skipped C (missing)`).
    pub fn from_entry(seq: i64, entry: &AuditEntry) -> Option<Self> {
        let kind = EventKind::of(entry)?;
        if !entry.items.is_empty() {
            let served: Vec<_> = served_by_fallback(entry).collect();
            let first = served.first()?;
            return Some(EventRow {
                seq,
                ts_ms: entry.ts_ms,
                kind,
                workspace: entry.workspace.clone(),
                key: Some(first.key.clone()),
                version: first.version,
                env: first.env.clone(),
                detail: Some(
                    served
                        .iter()
                        .filter_map(|i| i.detail.as_deref())
                        .collect::<Vec<_>>()
                        .join(" / "),
                ),
            });
        }
        Some(EventRow {
            seq,
            ts_ms: entry.ts_ms,
            kind,
            workspace: entry.workspace.clone(),
            key: entry.key.clone(),
            version: entry.version,
            env: entry.env.clone(),
            detail: entry.detail.clone(),
        })
    }
}

/// How long events are kept at least (a client may resume from any event this recent).
pub const RETAIN_MS: i64 = 48 * 3_600_000;

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str, outcome: &str, detail: Option<&str>) -> AuditEntry {
        AuditEntry {
            ts_ms: 1,
            actor_id: "local".into(),
            actor_name: "local:test".into(),
            action: action.into(),
            workspace: Some("default".into()),
            key: Some("A".into()),
            version: Some(2),
            env: None,
            outcome: outcome.into(),
            remote: None,
            request_id: None,
            detail: detail.map(str::to_string),
            items: Vec::new(),
        }
    }

    #[test]
    fn only_changes_that_happened_make_events() {
        assert_eq!(
            EventKind::of(&entry("secret.update", "ok", None)),
            Some(EventKind::Updated)
        );
        assert_eq!(
            EventKind::of(&entry("secret.update", "forbidden", None)),
            None
        );
        assert_eq!(EventKind::of(&entry("secret.read", "ok", None)), None);
        assert_eq!(
            EventKind::of(&entry(
                "secret.read",
                "ok",
                Some("served by B; skipped A (revoked)")
            )),
            Some(EventKind::Fallback)
        );
        assert_eq!(
            EventKind::of(&entry("secret.read", "revoked", Some("fallback for A"))),
            None
        );
        for k in EventKind::ALL {
            assert_eq!(EventKind::parse(k.as_str()), Some(k));
        }
    }
}
