//! The audit log: append-only and hash-chained.
//!
//! Each row carries the hash of the row before it, and its own hash covers its sequence
//! number, every field and that previous hash. Editing a row breaks its own hash; deleting one
//! breaks the link of the row after it. `verify` walks the chain and names the first bad row.
//! Rows never hold a value, a token or a passphrase: only who, what, which key and version,
//! the outcome, and from where.

use serde::Serialize;

/// The `prev_hash` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// What happened, before it is chained.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditEntry {
    /// Unix milliseconds.
    pub ts_ms: i64,
    /// Token id (`tok_…`) or `local` for the CLI on the embedded store.
    pub actor_id: String,
    /// Token name or `local:$USER`.
    pub actor_name: String,
    /// `secret.read`, `secret.create`, `token.create`, `auth.failed`, ….
    pub action: String,
    /// Workspace name, when the action is in one.
    pub workspace: Option<String>,
    /// Secret key, when the action is about one.
    pub key: Option<String>,
    /// Value version, when one was read or written.
    pub version: Option<u64>,
    /// `ok`, or the error code (`not_found`, `forbidden`, `revoked`, …).
    pub outcome: String,
    /// Remote address, for requests that came over the network.
    pub remote: Option<String>,
}

/// A chained row as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// Hash of the previous row ([`GENESIS`] for the first).
    pub prev_hash: String,
    /// This row's hash.
    pub hash: String,
}

/// The hash of a row: SHA-256 over a canonical JSON of the sequence number, the entry and the
/// previous hash. JSON with a fixed field order is canonical here because every field is a
/// string, a number or null.
pub fn chain_hash(seq: i64, entry: &AuditEntry, prev_hash: &str) -> String {
    #[derive(Serialize)]
    struct Canonical<'a> {
        seq: i64,
        entry: &'a AuditEntry,
        prev_hash: &'a str,
    }
    let bytes = serde_json::to_vec(&Canonical {
        seq,
        entry,
        prev_hash,
    })
    .unwrap_or_default();
    hush_crypto::sha256_hex(&bytes)
}

/// Links `entries` after the row `(last_seq, last_hash)`.
pub fn chain(last_seq: i64, last_hash: &str, entries: &[AuditEntry]) -> Vec<AuditRow> {
    let mut prev = last_hash.to_string();
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let seq = last_seq + 1 + i as i64;
        let hash = chain_hash(seq, e, &prev);
        out.push(AuditRow {
            seq,
            entry: e.clone(),
            prev_hash: prev.clone(),
            hash: hash.clone(),
        });
        prev = hash;
    }
    out
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every row links to the one before and matches its hash.
    Intact {
        /// How many rows were checked.
        rows: usize,
    },
    /// The first row that does not check out, and why.
    Broken {
        /// Its sequence number.
        seq: i64,
        /// What is wrong.
        reason: String,
    },
}

/// Walks the chain in sequence order.
pub fn verify(rows: &[AuditRow]) -> Verdict {
    let mut prev_hash = GENESIS.to_string();
    for (expected_seq, r) in (1..).zip(rows.iter()) {
        if r.seq != expected_seq {
            return Verdict::Broken {
                seq: r.seq,
                reason: format!(
                    "row {expected_seq} is missing (deleted?): the chain jumps to row {}",
                    r.seq
                ),
            };
        }
        if r.prev_hash != prev_hash {
            return Verdict::Broken {
                seq: r.seq,
                reason: "it does not link to the row before it".into(),
            };
        }
        if chain_hash(r.seq, &r.entry, &r.prev_hash) != r.hash {
            return Verdict::Broken {
                seq: r.seq,
                reason: "its content does not match its hash (edited?)".into(),
            };
        }
        prev_hash = r.hash.clone();
    }
    Verdict::Intact { rows: rows.len() }
}

/// Filters for reading the log.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    /// Only rows of this workspace (by name).
    pub workspace: Option<String>,
    /// With `workspace`: also the rows of no workspace (failed authentications).
    pub include_global: bool,
    /// Only rows about this key.
    pub key: Option<String>,
    /// Only rows by this actor (token id or name).
    pub actor: Option<String>,
    /// Only rows at or after this time (unix ms).
    pub since_ms: Option<i64>,
    /// Only rows before this time (unix ms).
    pub until_ms: Option<i64>,
    /// Only rows with a sequence number above this (the cursor).
    pub after_seq: Option<i64>,
    /// At most this many.
    pub limit: Option<usize>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entry(action: &str) -> AuditEntry {
        AuditEntry {
            ts_ms: 1,
            actor_id: "tok_1".into(),
            actor_name: "ci".into(),
            action: action.into(),
            workspace: Some("default".into()),
            key: Some("k".into()),
            version: Some(1),
            outcome: "ok".into(),
            remote: None,
        }
    }

    #[test]
    fn chain_verifies_and_detects_edits_and_deletions() {
        let rows = chain(0, GENESIS, &[entry("a"), entry("b"), entry("c")]);
        assert_eq!(verify(&rows), Verdict::Intact { rows: 3 });

        let mut edited = rows.clone();
        edited[1].entry.outcome = "forbidden".into();
        assert!(matches!(verify(&edited), Verdict::Broken { seq: 2, .. }));

        let mut deleted = rows.clone();
        deleted.remove(1);
        assert!(matches!(verify(&deleted), Verdict::Broken { seq: 3, .. }));

        let mut relinked = rows.clone();
        relinked.remove(1);
        relinked[1].seq = 2;
        assert!(matches!(verify(&relinked), Verdict::Broken { seq: 2, .. }));

        let more = chain(3, &rows[2].hash, &[entry("d")]);
        let mut all = rows;
        all.extend(more);
        assert_eq!(verify(&all), Verdict::Intact { rows: 4 });
    }
}
