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
pub use hush_wire::AuditItem;
use serde::Serialize;
use serde_json::value::RawValue;

/// The `prev_mac` of the first row.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The action of the row appended when a store gets its audit key.
pub const KEY_CREATED: &str = "audit.key.create";

/// The action of the row `hush keys rotate` appends with the rotation.
pub const KEYS_ROTATED: &str = "keys.rotate";

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
    /// The id of the HTTP request that wrote the row (`X-Request-Id`, the client's or one the
    /// server made); absent for the CLI on the embedded store (and in rows from before request
    /// ids were recorded, whose MACs it leaves unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<String>,
    /// What else the row records, in words: for `audit.prune`, which rows were removed and the
    /// time given. Never a value or a token. Absent when there is nothing to add (and in rows
    /// from before, whose MACs it leaves unchanged).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
    /// For a request that gave out or refused several keys at once (a resolve): one item per
    /// key tried, in the order tried, and the row's own `key`, `version` and `env` are empty.
    /// Empty for a row about one key (and in rows from before, whose MACs it leaves
    /// unchanged).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<AuditItem>,
}

/// The outcome of a row naming several keys: `ok` when every key was given out, `partial`
/// when some were, `refused` when none was.
pub fn items_outcome(items: &[AuditItem]) -> &'static str {
    let ok = items.iter().filter(|i| i.outcome == "ok").count();
    if ok == items.len() {
        "ok"
    } else if ok > 0 {
        "partial"
    } else {
        "refused"
    }
}

impl AuditEntry {
    /// Every key the row is about: its own, or its items'.
    pub fn keys(&self) -> impl Iterator<Item = &str> {
        self.key
            .as_deref()
            .into_iter()
            .chain(self.items.iter().map(|i| i.key.as_str()))
    }

    /// The items as stored (a JSON array), or `None` for a row about one key.
    pub fn items_json(&self) -> Option<String> {
        (!self.items.is_empty()).then(|| serde_json::to_string(&self.items).unwrap_or_default())
    }

    /// The items from their stored JSON.
    pub fn items_from_json(text: Option<&str>) -> Result<Vec<AuditItem>, serde_json::Error> {
        text.map_or(Ok(Vec::new()), serde_json::from_str)
    }

    /// The same entry, naming the environment whose own value it is about (`None`: the shared
    /// value).
    pub fn in_env(mut self, env: Option<&str>) -> Self {
        self.env = env.map(str::to_string);
        self
    }
}

/// The action of the row appended when older rows are pruned.
pub const PRUNED: &str = "audit.prune";

/// Where the chain starts once older rows were pruned: the last removed row's sequence
/// number and MAC (the first kept row links to it), authenticated with the audit key so that
/// no one without it can move the start of the chain (delete more rows from the front and
/// point the checkpoint past them).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Checkpoint {
    /// The last removed row's sequence number.
    pub seq: i64,
    /// Its MAC: the `prev_mac` of the first kept row.
    pub mac: String,
    /// Unix milliseconds of the prune.
    pub pruned_at_ms: i64,
    /// HMAC-SHA256 under the audit key of `seq` and `mac`.
    pub tag: String,
}

impl Checkpoint {
    /// A checkpoint at row `(seq, mac)`, authenticated with `key`.
    pub fn new(key: &AuditKey, seq: i64, mac: &str, pruned_at_ms: i64) -> Checkpoint {
        Checkpoint {
            seq,
            mac: mac.to_string(),
            pruned_at_ms,
            tag: key.mac_hex(&checkpoint_bytes(seq, mac)),
        }
    }

    /// The row it names, as a head.
    pub fn head(&self) -> Head {
        Head {
            seq: self.seq,
            mac: self.mac.clone(),
        }
    }
}

/// What a checkpoint's tag covers: a JSON object whose field names no row's canonical form
/// has, so a row's MAC can never pass for a checkpoint's tag or the other way round.
fn checkpoint_bytes(seq: i64, mac: &str) -> Vec<u8> {
    serde_json::to_vec(&serde_json::json!({ "checkpoint_seq": seq, "checkpoint_mac": mac }))
        .unwrap_or_default()
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
    canonical_with(seq, entry, items_raw(entry).as_deref(), prev_mac)
}

/// The entry's items as JSON, written once (`None`: it has none).
fn items_raw(entry: &AuditEntry) -> Option<Box<RawValue>> {
    (!entry.items.is_empty())
        .then(|| serde_json::value::to_raw_value(&entry.items).ok())
        .flatten()
}

/// [`canonical`] with the entry's items already written (`items_raw`), so that a store that
/// keeps them as JSON writes them once. The same bytes as serialising the entry itself: the
/// fields of [`AuditEntry`] in its order, with its rules for absent ones (a test holds the
/// two together).
fn canonical_with(seq: i64, e: &AuditEntry, items: Option<&RawValue>, prev_mac: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct Entry<'a> {
        ts_ms: i64,
        actor_id: &'a str,
        actor_name: &'a str,
        action: &'a str,
        workspace: Option<&'a str>,
        key: Option<&'a str>,
        version: Option<u64>,
        #[serde(skip_serializing_if = "Option::is_none")]
        env: Option<&'a str>,
        outcome: &'a str,
        remote: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        request_id: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        detail: Option<&'a str>,
        #[serde(skip_serializing_if = "Option::is_none")]
        items: Option<&'a RawValue>,
    }
    #[derive(Serialize)]
    struct Canonical<'a> {
        seq: i64,
        entry: Entry<'a>,
        prev_hash: &'a str,
    }
    serde_json::to_vec(&Canonical {
        seq,
        entry: Entry {
            ts_ms: e.ts_ms,
            actor_id: &e.actor_id,
            actor_name: &e.actor_name,
            action: &e.action,
            workspace: e.workspace.as_deref(),
            key: e.key.as_deref(),
            version: e.version,
            env: e.env.as_deref(),
            outcome: &e.outcome,
            remote: e.remote.as_deref(),
            request_id: e.request_id.as_deref(),
            detail: e.detail.as_deref(),
            items,
        },
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
    links(key, last_seq, last_mac, entries)
        .into_iter()
        .zip(entries)
        .map(|(l, e)| AuditRow {
            seq: l.seq,
            entry: e.clone(),
            prev_mac: l.prev_mac,
            mac: l.mac,
        })
        .collect()
}

/// One entry's place in the chain: its sequence number, the MAC before it, and its own; with
/// the entry's items as the JSON the MAC covered, for the store to keep as they are.
#[derive(Debug)]
pub struct Link {
    /// The row's sequence number.
    pub seq: i64,
    /// The MAC of the row before.
    pub prev_mac: String,
    /// The row's MAC.
    pub mac: String,
    /// The entry's items as JSON ([`AuditEntry::items_json`]); `None` when it has none.
    pub items_json: Option<Box<RawValue>>,
}

/// What [`chain`] computes, without copying the entries (a store that writes them from where
/// they are).
pub fn links<'a>(
    key: &AuditKey,
    last_seq: i64,
    last_mac: &str,
    entries: impl IntoIterator<Item = &'a AuditEntry>,
) -> Vec<Link> {
    let entries = entries.into_iter();
    let mut prev = last_mac.to_string();
    let mut out = Vec::with_capacity(entries.size_hint().0);
    for (i, e) in entries.enumerate() {
        let seq = last_seq + 1 + i as i64;
        let items_json = items_raw(e);
        let mac = key.mac_hex(&canonical_with(seq, e, items_json.as_deref(), &prev));
        out.push(Link {
            seq,
            prev_mac: std::mem::replace(&mut prev, mac.clone()),
            mac,
            items_json,
        });
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

    /// Whether `checkpoint` carries a tag made with the audit key.
    pub fn checkpoint_checks_out(&self, checkpoint: &Checkpoint) -> bool {
        self.key.verify_hex(
            &checkpoint_bytes(checkpoint.seq, &checkpoint.mac),
            &checkpoint.tag,
        )
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
        /// Where the walk started, when older rows were pruned: the last removed row.
        checkpoint: Option<Head>,
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

/// Walks the chain in sequence order from row 1; with `expected`, also checks that the
/// recorded head is still there unchanged (rows after it are fine: the chain grew since).
pub fn verify(rows: &[AuditRow], key: &ChainKey, expected: Option<&Head>) -> Verdict {
    verify_from(rows, key, None, expected)
}

/// As [`verify`], but from `checkpoint` when older rows were pruned: its tag must check out,
/// and the first row must be the one after it and link to its MAC.
pub fn verify_from(
    rows: &[AuditRow],
    key: &ChainKey,
    checkpoint: Option<&Checkpoint>,
    expected: Option<&Head>,
) -> Verdict {
    let head = match (rows.last(), checkpoint) {
        (None, Some(c)) => c.head(),
        _ => Head::of(rows),
    };
    let broken = |seq: i64, reason: String| Verdict::Broken {
        seq,
        reason,
        head: head.clone(),
    };
    let start = checkpoint.map_or(0, |c| c.seq);
    let mut prev_mac = checkpoint.map_or(GENESIS, |c| c.mac.as_str());
    if let Some(c) = checkpoint {
        if c.seq < 1 || !key.checkpoint_checks_out(c) {
            return broken(
                c.seq + 1,
                format!("the checkpoint (row {}, where the chain starts after older rows were pruned) does not match its MAC (edited, to hide rows deleted from the front?)", c.seq),
            );
        }
        // A prune appends its own row after the checkpoint: a chain with nothing after it
        // lost its end.
        if rows.is_empty() {
            return broken(
                c.seq + 1,
                format!(
                    "row {} is missing: no row follows the checkpoint (row {}) (rows cut off the end?)",
                    c.seq + 1,
                    c.seq
                ),
            );
        }
    }
    for (expected_seq, r) in (start + 1..).zip(rows.iter()) {
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
            let what = if r.seq == start + 1 && checkpoint.is_some() {
                "it does not link to the checkpoint (the last pruned row)"
            } else {
                "it does not link to the row before it"
            };
            return broken(r.seq, what.into());
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
        let found = if want.seq < start {
            // Pruned since it was recorded: the authenticated checkpoint is past it and the
            // chain runs on from there, so no row before the checkpoint was cut off the end.
            None
        } else if want.seq == start {
            Some(checkpoint.map_or(GENESIS, |c| c.mac.as_str()))
        } else {
            // Rows are numbered from `start + 1` without gaps: checked above.
            Some(
                rows.get(usize::try_from(want.seq - start - 1).unwrap_or(usize::MAX))
                    .map_or("", |r| r.mac.as_str()),
            )
        };
        if found.is_some_and(|f| !hush_crypto::constant_time_eq(f.as_bytes(), want.mac.as_bytes()))
        {
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
        checkpoint: checkpoint.map(Checkpoint::head),
    }
}

/// What a prune did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pruned {
    /// How many rows were removed (0: none was older than the time given; nothing changed).
    pub removed: u64,
    /// Where the chain now starts (the last removed row); `None` while it starts at row 1.
    pub checkpoint: Option<Head>,
    /// The newest row: the prune's own row when rows were removed.
    pub head: Head,
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
            request_id: None,
            detail: None,
            items: Vec::new(),
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

    /// Like the environment, the request id and the detail are covered by the MAC only when
    /// present: rows written before them verify unchanged, newer rows cannot have them edited.
    #[test]
    fn the_request_id_and_detail_are_covered_only_when_present() {
        let plain = entry("secret.read");
        let text = String::from_utf8(canonical(1, &plain, GENESIS)).unwrap();
        assert!(
            !text.contains("request_id") && !text.contains("detail"),
            "{text}"
        );
        let k = key();
        let mut with_id = plain.clone();
        with_id.request_id = Some("abc-123".into());
        let mut rows = chain(&k.key, 0, GENESIS, &[plain, with_id]);
        assert!(rows.iter().all(|r| k.row_checks_out(r)));
        rows[1].entry.request_id = Some("abc-124".into());
        assert!(!k.row_checks_out(&rows[1]));
        rows[1].entry.request_id = None;
        assert!(!k.row_checks_out(&rows[1]));
        let mut with_detail = chain(&k.key, 0, GENESIS, &[entry(PRUNED)]);
        with_detail[0].entry.detail = Some("removed rows 1 to 9".into());
        assert!(!k.row_checks_out(&with_detail[0]));
    }

    /// A row naming several keys carries them in `items`, covered by its MAC: a row without
    /// items serializes as before (older rows verify unchanged), and editing, dropping or
    /// reordering an item breaks the row.
    #[test]
    fn items_are_covered_only_when_present() {
        let plain = entry("secret.read");
        let text = String::from_utf8(canonical(1, &plain, GENESIS)).unwrap();
        assert!(!text.contains("items"), "{text}");
        let item = |key: &str, outcome: &str| AuditItem {
            key: key.into(),
            version: Some(1),
            env: None,
            outcome: outcome.into(),
            detail: None,
        };
        let items = vec![item("a", "ok"), item("b", "revoked")];
        assert_eq!(items_outcome(&items), "partial");
        assert_eq!(items_outcome(&items[..1]), "ok");
        assert_eq!(items_outcome(&items[1..]), "refused");
        let many = AuditEntry {
            key: None,
            version: None,
            outcome: items_outcome(&items).into(),
            items,
            ..plain
        };
        assert_eq!(many.keys().collect::<Vec<_>>(), ["a", "b"]);
        let json = many.items_json().unwrap();
        assert_eq!(
            AuditEntry::items_from_json(Some(&json)).unwrap(),
            many.items
        );
        let k = key();
        let rows = chain(&k.key, 0, GENESIS, &[many]);
        assert!(k.row_checks_out(&rows[0]));
        let edits: [fn(&mut AuditEntry); 4] = [
            |e| e.items[1].outcome = "ok".into(),
            |e| e.items[0].version = Some(2),
            |e| drop(e.items.pop()),
            |e| e.items.reverse(),
        ];
        for edit in edits {
            let mut r = rows[0].clone();
            edit(&mut r.entry);
            assert!(!k.row_checks_out(&r), "{:?}", r.entry.items);
        }
    }

    /// After a prune the chain verifies from the checkpoint; editing the checkpoint (its row,
    /// its MAC, its tag), moving it forward over more deleted rows, or editing a kept row is
    /// found.
    #[test]
    fn a_pruned_chain_verifies_from_its_checkpoint() {
        let k = key();
        let rows = chain(
            &k.key,
            0,
            GENESIS,
            &[
                entry("a"),
                entry("b"),
                entry("c"),
                entry("d"),
                entry(PRUNED),
            ],
        );
        let cp = Checkpoint::new(&k.key, 2, &rows[1].mac, 7);
        let kept = &rows[2..];
        // Without the checkpoint the missing genesis is a break; with it, intact.
        assert_eq!(broken_at(&verify(kept, &k, None)), 3);
        match verify_from(kept, &k, Some(&cp), None) {
            Verdict::Intact {
                rows: 3,
                head,
                checkpoint: Some(c),
                ..
            } => {
                assert_eq!(head, Head::of(&rows));
                assert_eq!(
                    c,
                    Head {
                        seq: 2,
                        mac: rows[1].mac.clone()
                    }
                );
            }
            other => panic!("{other:?}"),
        }
        // The checkpoint's MAC or row edited: its tag no longer checks out.
        let mut edited = cp.clone();
        edited.mac = rows[2].mac.clone();
        assert_eq!(broken_at(&verify_from(kept, &k, Some(&edited), None)), 3);
        let mut edited = cp.clone();
        edited.seq = 1;
        assert_eq!(broken_at(&verify_from(kept, &k, Some(&edited), None)), 2);
        // A checkpoint tagged with another key (someone without the audit key moved it past
        // rows they deleted from the front).
        let forged = Checkpoint::new(&AuditKey::generate().unwrap(), 3, &rows[2].mac, 7);
        assert_eq!(
            broken_at(&verify_from(&rows[3..], &k, Some(&forged), None)),
            4
        );
        // The right key's checkpoint, but rows after it deleted: the link breaks.
        assert_eq!(broken_at(&verify_from(&rows[3..], &k, Some(&cp), None)), 4);
        // A kept row edited.
        let mut tampered = kept.to_vec();
        tampered[1].entry.outcome = "forbidden".into();
        assert_eq!(broken_at(&verify_from(&tampered, &k, Some(&cp), None)), 4);
        // Every row after the checkpoint deleted.
        assert_eq!(broken_at(&verify_from(&[], &k, Some(&cp), None)), 3);
        // Recorded heads: one before the checkpoint was pruned since (fine), one at it is
        // compared with the checkpoint, one after it with its row.
        let old = Head::of(&rows[..1]);
        assert_eq!(intact(&verify_from(kept, &k, Some(&cp), Some(&old))), 3);
        let at = Head::of(&rows[..2]);
        assert_eq!(intact(&verify_from(kept, &k, Some(&cp), Some(&at))), 3);
        let wrong = Head {
            seq: 2,
            mac: rows[0].mac.clone(),
        };
        assert_eq!(
            broken_at(&verify_from(kept, &k, Some(&cp), Some(&wrong))),
            2
        );
        let later = Head::of(&rows[..4]);
        assert_eq!(intact(&verify_from(kept, &k, Some(&cp), Some(&later))), 3);
        let cut = Head::of(&rows);
        assert_eq!(
            broken_at(&verify_from(&kept[..2], &k, Some(&cp), Some(&cut))),
            5
        );
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
                checkpoint: None,
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

    /// The MAC's bytes written with the items already as JSON are those of the entry itself,
    /// for every field present or absent; and the items JSON a link carries is the entry's.
    #[test]
    fn the_canonical_bytes_are_the_entry_serialised() {
        #[derive(Serialize)]
        struct Canonical<'a> {
            seq: i64,
            entry: &'a AuditEntry,
            prev_hash: &'a str,
        }
        let bare = entry("secret.read");
        let mut full = bare.clone();
        full.workspace = Some("w\"s".into());
        full.key = None;
        full.version = Some(3);
        full.env = Some("prod".into());
        full.remote = Some("127.0.0.1".into());
        full.request_id = Some("r-1".into());
        full.detail = Some("served by b; skipped a (revoked)".into());
        full.items = vec![
            AuditItem {
                key: "a".into(),
                version: None,
                env: Some("dev".into()),
                outcome: "revoked".into(),
                detail: Some("fallback for \u{e9}\n".into()),
            },
            AuditItem {
                key: "b".into(),
                version: Some(2),
                env: None,
                outcome: "ok".into(),
                detail: None,
            },
        ];
        let k = key();
        for e in [&bare, &full] {
            let want = serde_json::to_vec(&Canonical {
                seq: 7,
                entry: e,
                prev_hash: "ab",
            })
            .unwrap();
            assert_eq!(canonical(7, e, "ab"), want);
            let link = links(&k.key, 6, "ab", [e]).pop().unwrap();
            assert_eq!(link.mac, row_mac(&k.key, 7, e, "ab"));
            assert_eq!(
                link.items_json.as_deref().map(RawValue::get),
                e.items_json().as_deref()
            );
        }
    }
}
