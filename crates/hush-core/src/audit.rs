//! The audit log: append-only, chained, and keyed.
//!
//! Each row carries the MAC of the row before it, and its own MAC (HMAC-SHA256 under the
//! store's audit key, see `docs/key-hierarchy.md`) covers its sequence number, every field and
//! that previous MAC. Editing a row breaks its own MAC; deleting one breaks the link of the row
//! after it; and since the key never leaves hush's memory unwrapped, someone who can write the
//! store but has no root key cannot recompute the chain after a change. Cutting rows off the
//! end leaves a chain that checks out, so `verify` also compares against a *head* — the
//! newest row's sequence number and MAC, recorded elsewhere by the operator
//! ([`Head`]): the row must still be there and still carry that MAC. What this proves against
//! whom is in `docs/threat-model.md`.
//!
//! Stores written by a hush before the keyed chain hold rows linked by plain SHA-256 of the
//! same canonical JSON. They are kept as they are, not rewritten: the audit key is bound to the
//! sequence number it starts at (`keyed_from`), rows before it are checked as plain hashes, and
//! the first keyed row (`audit.key.create`, appended when the key is made) links to the last
//! of them, so changing any older row breaks a keyed link too.
//!
//! Rows never hold a value, a token or a passphrase: only who, what, which key and version,
//! the outcome, and from where.

pub use hush_crypto::AuditKey;
use serde::Serialize;

/// The `prev_mac` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action of the row appended when a store gets its audit key.
pub const KEY_CREATED: &str = "audit.key.create";

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
    /// The environment whose own value was read or written; absent for the shared value (and
    /// in rows from before values per environment, whose MACs it leaves unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub env: Option<String>,
    /// `ok`, or the error code (`not_found`, `forbidden`, `revoked`, …).
    pub outcome: String,
    /// Remote address, for requests that came over the network.
    pub remote: Option<String>,
}

impl AuditEntry {
    /// The same entry, naming the environment whose own value it is about (`None`: the shared
    /// value).
    pub fn in_env(mut self, env: Option<&str>) -> Self {
        self.env = env.map(str::to_string);
        self
    }
}

/// A chained row as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AuditRow {
    /// Position in the chain, from 1, without gaps.
    pub seq: i64,
    /// The entry.
    #[serde(flatten)]
    pub entry: AuditEntry,
    /// MAC of the previous row ([`GENESIS`] for the first).
    pub prev_mac: String,
    /// This row's MAC (for rows before the chain was keyed: its SHA-256).
    pub mac: String,
}

/// A point of the chain an operator keeps elsewhere: a row's sequence number and MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Head {
    /// The row's sequence number (0: the empty chain).
    pub seq: i64,
    /// Its MAC, 64 lowercase hex digits ([`GENESIS`] for the empty chain).
    pub mac: String,
}

/// Which part of a head is not valid.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeadError {
    /// The sequence number is negative.
    #[error("the head's sequence number must be 0 or more")]
    Seq,
    /// The MAC is not 64 hex digits.
    #[error("the head's MAC must be 64 hex digits")]
    Mac,
}

impl Head {
    /// A head from what an operator gives back; the MAC in either case.
    pub fn new(seq: i64, mac: &str) -> Result<Head, HeadError> {
        if seq < 0 {
            return Err(HeadError::Seq);
        }
        let mac = mac.trim();
        if mac.len() != 64 || !mac.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(HeadError::Mac);
        }
        Ok(Head {
            seq,
            mac: mac.to_ascii_lowercase(),
        })
    }

    /// The head of `rows` (the newest one), or the empty chain's.
    pub fn of(rows: &[AuditRow]) -> Head {
        rows.last().map_or_else(
            || Head {
                seq: 0,
                mac: GENESIS.to_string(),
            },
            |r| Head {
                seq: r.seq,
                mac: r.mac.clone(),
            },
        )
    }
}

/// The bytes a row's MAC (or legacy hash) covers: a canonical JSON of the sequence number, the
/// entry and the previous MAC. JSON with a fixed field order is canonical here because every
/// field is a string, a number or null.
fn canonical(seq: i64, entry: &AuditEntry, prev_mac: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct Canonical<'a> {
        seq: i64,
        entry: &'a AuditEntry,
        prev_hash: &'a str,
    }
    serde_json::to_vec(&Canonical {
        seq,
        entry,
        prev_hash: prev_mac,
    })
    .unwrap_or_default()
}

/// The hash of a row written before the chain was keyed: SHA-256 of the canonical JSON of the sequence number, the entry and the previous MAC.
pub fn legacy_hash(seq: i64, entry: &AuditEntry, prev_mac: &str) -> String {
    hush_crypto::sha256_hex(&canonical(seq, entry, prev_mac))
}

/// The MAC of a row: HMAC-SHA256 under the audit key of the same canonical JSON.
pub fn row_mac(key: &AuditKey, seq: i64, entry: &AuditEntry, prev_mac: &str) -> String {
    key.mac_hex(&canonical(seq, entry, prev_mac))
}

/// Links `entries` after the row `(last_seq, last_mac)`, each authenticated with `key`.
pub fn chain(
    key: &AuditKey,
    last_seq: i64,
    last_mac: &str,
    entries: &[AuditEntry],
) -> Vec<AuditRow> {
    let mut prev = last_mac.to_string();
    let mut out = Vec::with_capacity(entries.len());
    for (i, e) in entries.iter().enumerate() {
        let seq = last_seq + 1 + i as i64;
        let mac = row_mac(key, seq, e, &prev);
        out.push(AuditRow {
            seq,
            entry: e.clone(),
            prev_mac: prev.clone(),
            mac: mac.clone(),
        });
        prev = mac;
    }
    out
}

/// How the chain is checked: the key, and the first row it authenticates (rows before are from
/// a hush without the keyed chain, checked as plain hashes).
#[derive(Debug, Clone)]
pub struct ChainKey {
    /// The audit key.
    pub key: AuditKey,
    /// The first sequence number with a MAC (1 for a store made with the keyed chain).
    pub keyed_from: i64,
}

impl ChainKey {
    /// Whether `row` matches its own MAC (or legacy hash), as a row alone.
    pub fn row_checks_out(&self, row: &AuditRow) -> bool {
        if row.seq < self.keyed_from {
            hush_crypto::constant_time_eq(
                legacy_hash(row.seq, &row.entry, &row.prev_mac).as_bytes(),
                row.mac.as_bytes(),
            )
        } else {
            self.key
                .verify_hex(&canonical(row.seq, &row.entry, &row.prev_mac), &row.mac)
        }
    }
}

/// What `verify` found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every row links to the one before and matches its MAC, and the expected head (if one
    /// was given) is there unchanged.
    Intact {
        /// How many rows were checked.
        rows: usize,
        /// How many of them predate the keyed chain (plain SHA-256 links).
        legacy: usize,
        /// The newest row.
        head: Head,
        /// Whether an expected head was compared.
        head_checked: bool,
    },
    /// The first row that does not check out, and why.
    Broken {
        /// Its sequence number.
        seq: i64,
        /// What is wrong.
        reason: String,
        /// The newest row as stored (not to be trusted: the chain is broken).
        head: Head,
    },
}

/// Walks the chain in sequence order; with `expected`, also checks that the recorded head is
/// still there unchanged (rows after it are fine: the chain grew since).
pub fn verify(rows: &[AuditRow], key: &ChainKey, expected: Option<&Head>) -> Verdict {
    let head = Head::of(rows);
    let broken = |seq: i64, reason: String| Verdict::Broken {
        seq,
        reason,
        head: head.clone(),
    };
    let mut prev_mac = GENESIS;
    for (expected_seq, r) in (1..).zip(rows.iter()) {
        if r.seq != expected_seq {
            return broken(
                r.seq,
                format!(
                    "row {expected_seq} is missing (deleted?): the chain jumps to row {}",
                    r.seq
                ),
            );
        }
        if r.prev_mac != prev_mac {
            return broken(r.seq, "it does not link to the row before it".into());
        }
        if !key.row_checks_out(r) {
            let what = if r.seq < key.keyed_from {
                "hash"
            } else {
                "MAC"
            };
            return broken(
                r.seq,
                format!("its content does not match its {what} (edited, or the chain recomputed without the audit key?)"),
            );
        }
        prev_mac = &r.mac;
    }
    // A store that got its audit key with rows in it appended a keyed row right then: a chain
    // that ends before it lost its end.
    if key.keyed_from > 1 && head.seq < key.keyed_from {
        return broken(
            head.seq + 1,
            format!(
                "rows {} to {} are missing (cut off the end?): the chain is keyed from row {}",
                head.seq + 1,
                key.keyed_from,
                key.keyed_from
            ),
        );
    }
    if let Some(want) = expected {
        if want.seq > head.seq {
            return broken(
                want.seq,
                format!(
                    "row {}, the recorded head, is missing: the chain ends at row {} (rows cut off the end?)",
                    want.seq, head.seq
                ),
            );
        }
        let found = if want.seq == 0 {
            GENESIS
        } else {
            // Rows are numbered from 1 without gaps: checked above.
            rows.get(usize::try_from(want.seq - 1).unwrap_or(usize::MAX))
                .map_or("", |r| r.mac.as_str())
        };
        if !hush_crypto::constant_time_eq(found.as_bytes(), want.mac.as_bytes()) {
            return broken(
                want.seq,
                format!(
                    "row {} does not carry the recorded head's MAC (rows cut off the end and others written in their place?)",
                    want.seq
                ),
            );
        }
    }
    let legacy = rows.iter().filter(|r| r.seq < key.keyed_from).count();
    Verdict::Intact {
        rows: rows.len(),
        legacy,
        head,
        head_checked: expected.is_some(),
    }
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
            env: None,
            remote: None,
        }
    }

    fn key() -> ChainKey {
        ChainKey {
            key: AuditKey::generate().unwrap(),
            keyed_from: 1,
        }
    }

    /// A row about the shared value hashes as rows did before environments had values (no
    /// `env` field), so old chains verify unchanged; a row's environment is covered by its MAC.
    #[test]
    fn the_environment_is_covered_only_when_present() {
        let plain = entry("secret.read");
        let text = String::from_utf8(canonical(1, &plain, GENESIS)).unwrap();
        assert!(!text.contains("env"), "{text}");
        let k = key();
        let prd = plain.clone().in_env(Some("prd"));
        let dev = plain.clone().in_env(Some("dev"));
        let macs = [
            row_mac(&k.key, 1, &plain, GENESIS),
            row_mac(&k.key, 1, &prd, GENESIS),
            row_mac(&k.key, 1, &dev, GENESIS),
        ];
        assert!(macs[0] != macs[1] && macs[1] != macs[2] && macs[0] != macs[2]);
        // A row whose environment is edited no longer checks out.
        let mut rows = chain(&k.key, 0, GENESIS, &[prd]);
        rows[0].entry.env = Some("dev".into());
        assert!(!k.row_checks_out(&rows[0]));
    }

    fn intact(v: &Verdict) -> usize {
        match v {
            Verdict::Intact { rows, .. } => *rows,
            Verdict::Broken { seq, reason, .. } => panic!("broken at {seq}: {reason}"),
        }
    }

    fn broken_at(v: &Verdict) -> i64 {
        match v {
            Verdict::Broken { seq, .. } => *seq,
            Verdict::Intact { .. } => panic!("intact"),
        }
    }

    #[test]
    fn chain_verifies_and_detects_edits_and_deletions() {
        let k = key();
        let rows = chain(&k.key, 0, GENESIS, &[entry("a"), entry("b"), entry("c")]);
        assert_eq!(intact(&verify(&rows, &k, None)), 3);

        let mut edited = rows.clone();
        edited[1].entry.outcome = "forbidden".into();
        assert_eq!(broken_at(&verify(&edited, &k, None)), 2);

        let mut deleted = rows.clone();
        deleted.remove(1);
        assert_eq!(broken_at(&verify(&deleted, &k, None)), 3);

        let mut relinked = rows.clone();
        relinked.remove(1);
        relinked[1].seq = 2;
        assert_eq!(broken_at(&verify(&relinked, &k, None)), 2);

        let more = chain(&k.key, 3, &rows[2].mac, &[entry("d")]);
        let mut all = rows;
        all.extend(more);
        assert_eq!(intact(&verify(&all, &k, None)), 4);
    }

    /// Regression (issue 13): delete a row, edit another and recompute every link — with plain
    /// SHA-256 as the unkeyed chain allowed, or with a key of the attacker's own.
    #[test]
    fn a_chain_recomputed_without_the_key_is_detected() {
        let k = key();
        let rows = chain(
            &k.key,
            0,
            GENESIS,
            &[entry("a"), entry("b"), entry("c"), entry("d")],
        );
        let mut forged: Vec<AuditEntry> = rows.iter().map(|r| r.entry.clone()).collect();
        forged.remove(1);
        forged[1].outcome = "forbidden".into();

        let mut prev = GENESIS.to_string();
        let mut sha = Vec::new();
        for (i, e) in forged.iter().enumerate() {
            let seq = i as i64 + 1;
            let mac = legacy_hash(seq, e, &prev);
            sha.push(AuditRow {
                seq,
                entry: e.clone(),
                prev_mac: prev.clone(),
                mac: mac.clone(),
            });
            prev = mac;
        }
        assert_eq!(broken_at(&verify(&sha, &k, None)), 1);

        let wrong = chain(&AuditKey::generate().unwrap(), 0, GENESIS, &forged);
        assert_eq!(broken_at(&verify(&wrong, &k, None)), 1);
    }

    #[test]
    fn a_recorded_head_catches_rows_cut_off_the_end() {
        let k = key();
        let rows = chain(
            &k.key,
            0,
            GENESIS,
            &[entry("a"), entry("b"), entry("c"), entry("d")],
        );
        let head = Head::of(&rows[..3]);
        assert_eq!(head.seq, 3);
        // Rows after the head are fine.
        assert_eq!(intact(&verify(&rows, &k, Some(&head))), 4);
        assert_eq!(intact(&verify(&rows[..3], &k, Some(&head))), 3);
        // Cut: without the head nothing shows; with it, it does.
        assert_eq!(intact(&verify(&rows[..2], &k, None)), 2);
        assert_eq!(broken_at(&verify(&rows[..2], &k, Some(&head))), 3);
        // Cut and rewritten in place (by hush itself, so the MACs are good): the head's MAC
        // no longer matches.
        let mut regrown = rows[..2].to_vec();
        regrown.extend(chain(&k.key, 2, &rows[1].mac, &[entry("x"), entry("y")]));
        assert_eq!(intact(&verify(&regrown, &k, None)), 4);
        assert_eq!(broken_at(&verify(&regrown, &k, Some(&head))), 3);
        // The empty chain's head.
        let empty = Head::of(&[]);
        assert_eq!(intact(&verify(&rows, &k, Some(&empty))), 4);

        assert_eq!(Head::new(-1, GENESIS), Err(HeadError::Seq));
        assert_eq!(Head::new(1, "abc"), Err(HeadError::Mac));
        assert_eq!(Head::new(1, &"G".repeat(64)), Err(HeadError::Mac));
        assert_eq!(Head::new(3, &rows[2].mac.to_uppercase()).unwrap(), head);
    }

    /// Rows from a hush before the keyed chain stay as they are and are checked as hashes; the
    /// first keyed row anchors them.
    #[test]
    fn legacy_rows_are_anchored_by_the_first_keyed_row() {
        let mut prev = GENESIS.to_string();
        let mut rows = Vec::new();
        for (i, a) in ["a", "b", "c"].iter().enumerate() {
            let seq = i as i64 + 1;
            let mac = legacy_hash(seq, &entry(a), &prev);
            rows.push(AuditRow {
                seq,
                entry: entry(a),
                prev_mac: prev.clone(),
                mac: mac.clone(),
            });
            prev = mac;
        }
        let k = ChainKey {
            key: AuditKey::generate().unwrap(),
            keyed_from: 4,
        };
        // Keyed from row 4, but the chain ends at 3: its end was cut.
        assert_eq!(broken_at(&verify(&rows, &k, None)), 4);
        rows.extend(chain(&k.key, 3, &prev, &[entry(KEY_CREATED), entry("d")]));
        match verify(&rows, &k, None) {
            Verdict::Intact {
                rows: 5,
                legacy: 3,
                head,
                head_checked: false,
            } => assert_eq!(head.seq, 5),
            other => panic!("{other:?}"),
        }
        // An edited legacy row, with the legacy hashes recomputed: row 4's link breaks.
        let mut forged = rows.clone();
        forged[1].entry.outcome = "forbidden".into();
        let mut prev = forged[0].mac.clone();
        for r in forged.iter_mut().take(3).skip(1) {
            r.prev_mac = prev.clone();
            r.mac = legacy_hash(r.seq, &r.entry, &r.prev_mac);
            prev = r.mac.clone();
        }
        assert_eq!(broken_at(&verify(&forged, &k, None)), 4);
    }
}
