//! Webhooks: endpoints an admin registers to be POSTed the change events of a workspace
//! ([`crate::event`]), each signed with the endpoint's own secret, and the deliveries of
//! those events with their outcomes. Never a value: a delivery's body is the event as
//! `GET /v1/events` streams it.

use crate::clock;
use crate::error::{Error, Invalid};
use crate::event::EventKind;

/// The event types a webhook may ask for (the streamed ones).
pub const EVENT_NAMES: [&str; 8] = [
    "created", "updated", "revoked", "restored", "deleted", "expiring", "expired", "fallback",
];

/// The longest URL accepted.
pub const MAX_URL_LEN: usize = 2048;

/// How long a delivery is tried after its event, in milliseconds (24 hours).
pub const RETRY_FOR_MS: i64 = 24 * 3_600_000;

/// One registered endpoint, as stored. Its signing secret is sealed with the workspace's data
/// key (bound to the webhook's id), never stored in plaintext.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRow {
    /// `whk_…`.
    pub id: String,
    /// The workspace whose events it gets.
    pub workspace_id: String,
    /// Where events are POSTed.
    pub url: String,
    /// The event types it gets (names of [`EVENT_NAMES`]).
    pub events: Vec<String>,
    /// The signing secret, sealed (`hush_crypto::seal_value`).
    pub sealed_secret: Vec<u8>,
    /// The newest event when it was registered: it gets the events after this one.
    pub after_seq: i64,
    /// Unix seconds.
    pub created_at: i64,
    /// Who registered it.
    pub created_by: String,
}

impl WebhookRow {
    /// Whether it wants events of this kind.
    pub fn wants(&self, kind: EventKind) -> bool {
        kind.is_secret_event() && self.events.iter().any(|e| e == kind.as_str())
    }
}

/// Where a delivery is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryStatus {
    /// Not delivered yet; tried again at `next_attempt_ms`.
    Pending,
    /// A 2xx answer.
    Delivered,
    /// No 2xx answer within [`RETRY_FOR_MS`] of the event (or the webhook went away).
    Failed,
}

impl DeliveryStatus {
    /// Storage spelling.
    pub fn as_str(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// Parses the storage spelling.
    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "pending" => Some(DeliveryStatus::Pending),
            "delivered" => Some(DeliveryStatus::Delivered),
            "failed" => Some(DeliveryStatus::Failed),
            _ => None,
        }
    }
}

/// One delivery of one event to one webhook. `(webhook_id, event_seq)` is unique: every node
/// may queue it, one row results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRow {
    /// `dlv_…`, sent as `X-Hush-Delivery`.
    pub id: String,
    /// The webhook.
    pub webhook_id: String,
    /// The event's sequence number.
    pub event_seq: i64,
    /// The event's kind (`updated`).
    pub event_kind: String,
    /// The event's key.
    pub key: String,
    /// The event's time (unix ms): tries stop [`RETRY_FOR_MS`] after it.
    pub event_ms: i64,
    /// The JSON body POSTed, fixed when queued so that every attempt signs the same bytes.
    pub body: String,
    /// Where it is.
    pub status: DeliveryStatus,
    /// How many POSTs were made.
    pub attempts: u32,
    /// When the next attempt is due (unix ms).
    pub next_attempt_ms: i64,
    /// The HTTP status of the last answer.
    pub last_status: Option<u16>,
    /// Why the last attempt failed. Never a value: a status, or a transport error's kind.
    pub last_error: Option<String>,
    /// When a 2xx came back (unix ms).
    pub delivered_ms: Option<i64>,
    /// When it was queued (unix ms).
    pub created_ms: i64,
}

/// The outcome of one attempt ([`crate::Store::finish_delivery`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryOutcome {
    /// The delivery.
    pub id: String,
    /// The lease it was claimed with: a node whose lease lapsed records nothing.
    pub lease: String,
    /// Where it is now.
    pub status: DeliveryStatus,
    /// When to try again, for `Pending`.
    pub next_attempt_ms: i64,
    /// The HTTP status answered, if any.
    pub last_status: Option<u16>,
    /// Why it failed, if it did.
    pub last_error: Option<String>,
    /// When it was delivered.
    pub delivered_ms: Option<i64>,
}

/// Checks a webhook URL: `http://` or `https://`, with a host, no credentials, no spaces.
pub fn validate_url(url: &str) -> Result<(), Error> {
    let bad = |reason: &str| -> Error {
        Invalid::Name {
            field: "webhook url",
            value: String::new(),
            reason: format!(
                "{reason}: give an http:// or https:// URL such as https://hooks.example.com/hush"
            ),
        }
        .into()
    };
    if url.is_empty() {
        return Err(bad("it is empty"));
    }
    if url.len() > MAX_URL_LEN {
        return Err(bad(&format!("it is longer than {MAX_URL_LEN} characters")));
    }
    if url.chars().any(|c| c.is_control() || c.is_whitespace()) {
        return Err(bad("it contains a space or a control character"));
    }
    let rest = if let Some(r) = url.strip_prefix("https://") {
        r
    } else if let Some(r) = url.strip_prefix("http://") {
        r
    } else {
        return Err(bad("only http and https URLs are accepted"));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    if authority.contains('@') {
        return Err(bad(
            "it carries credentials (user@host); hush signs each delivery instead",
        ));
    }
    let host = match authority.strip_prefix('[') {
        Some(v6) => v6.split(']').next().unwrap_or(""),
        None => authority.split(':').next().unwrap_or(""),
    };
    if host.is_empty() {
        return Err(bad("it has no host"));
    }
    Ok(())
}

/// Checks and normalises the event types asked for: known names, at least one, no repeats,
/// in [`EVENT_NAMES`]' order.
pub fn validate_events(events: &[String]) -> Result<Vec<String>, Error> {
    let bad = |reason: String| -> Error {
        Invalid::Name {
            field: "webhook events",
            value: String::new(),
            reason: format!("{reason}; the event types are {}", EVENT_NAMES.join(", ")),
        }
        .into()
    };
    if events.is_empty() {
        return Err(bad("none given".into()));
    }
    let mut out = Vec::new();
    for e in events {
        let e = e.trim();
        if e.is_empty() {
            return Err(bad("an entry is empty".into()));
        }
        if !EVENT_NAMES.contains(&e) {
            return Err(bad(format!("{e:?} is not an event type")));
        }
    }
    for name in EVENT_NAMES {
        if events.iter().any(|e| e.trim() == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}

/// The retry delay after `attempts` failed attempts: `base`, 3×, 9×, … capped at an hour.
pub fn backoff_ms(base_ms: i64, attempts: u32) -> i64 {
    let mut d = base_ms.max(1);
    for _ in 1..attempts.min(20) {
        d = d.saturating_mul(3);
        if d >= 3_600_000 {
            return 3_600_000;
        }
    }
    d.min(3_600_000)
}

/// A webhook as `hush-wire` spells it.
pub fn wire_webhook(w: &WebhookRow) -> hush_wire::Webhook {
    hush_wire::Webhook {
        id: w.id.clone(),
        url: w.url.clone(),
        events: w.events.clone(),
        created_at: clock::rfc3339(w.created_at),
        created_by: w.created_by.clone(),
    }
}

/// A delivery as `hush-wire` spells it.
pub fn wire_delivery(d: &DeliveryRow) -> hush_wire::WebhookDelivery {
    hush_wire::WebhookDelivery {
        id: d.id.clone(),
        webhook: d.webhook_id.clone(),
        event_id: d.event_seq,
        event: d.event_kind.clone(),
        key: d.key.clone(),
        status: d.status.as_str().to_string(),
        attempts: d.attempts,
        last_status: d.last_status,
        last_error: d.last_error.clone(),
        next_attempt_at: (d.status == DeliveryStatus::Pending)
            .then(|| clock::rfc3339_ms(d.next_attempt_ms)),
        delivered_at: d.delivered_ms.map(clock::rfc3339_ms),
        created_at: clock::rfc3339_ms(d.created_ms),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn urls_and_events_are_checked() {
        for ok in [
            "http://127.0.0.1:8080/hook",
            "https://hooks.example.com",
            "https://[::1]:9/x?y=1",
        ] {
            assert!(validate_url(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "ftp://x",
            "https://",
            "https://u:p@host/",
            "https://a b",
            "hooks.example.com",
        ] {
            assert!(validate_url(bad).is_err(), "{bad}");
        }
        let e = validate_events(&["updated".into(), "nope".into()]).unwrap_err();
        assert!(e.to_string().contains("\"nope\""), "{e}");
        assert!(e.to_string().contains("expiring"), "{e}");
        assert_eq!(
            validate_events(&["expired".into(), "updated".into(), "updated".into()]).unwrap(),
            vec!["updated".to_string(), "expired".to_string()]
        );
        assert!(validate_events(&[]).is_err());
    }

    #[test]
    fn backoff_grows_and_is_capped() {
        assert_eq!(backoff_ms(10_000, 1), 10_000);
        assert_eq!(backoff_ms(10_000, 2), 30_000);
        assert_eq!(backoff_ms(10_000, 3), 90_000);
        assert_eq!(backoff_ms(10_000, 30), 3_600_000);
    }
}
