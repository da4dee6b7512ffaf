//! The server's caches, coherent across processes and nodes through the change events
//! ([`super::EventFeed`]):
//!
//! - **tokens**: a live token's row by its hash, so a request with a known token asks the
//!   store nothing to authenticate. A token revoked anywhere is a `token_revoked` event, which
//!   empties it; a revocation made by this process empties it at once.
//! - **rows**: a secret's row and its current sealed shared value (a ciphertext, never
//!   plaintext) by workspace and key, for resolve. Any event about the key evicts it (a key
//!   rotation empties it); a write by this process evicts it before it is answered.
//! - **reads**: the same with the apps that name the key and their last reads, for
//!   `GET /v1/secrets/{key}`, kept at most [`FRESH`]: another node's machine reads move a
//!   last read without an event, so `used_by` may lag by up to that. An app registered or
//!   removed anywhere, or a machine read recorded here, empties it.
//!
//! It is trusted only while the feed keeps looking at the store: every look starts less than
//! [`FRESH`] ago, so a revocation committed anywhere is obeyed within that, even when a
//! notification was lost or the feed stopped (then the cache is simply not used). Only live
//! tokens are ever kept: an unknown, revoked or expired token always takes the store's path,
//! so refusing one costs the same as before. What it holds is what the store holds (hashes,
//! never tokens).

use std::borrow::Borrow;
use std::collections::HashMap;
use std::hash::{Hash, Hasher};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::event::{EventKind, EventRow};
use crate::model::SealedValue;
use crate::model::SecretRow;
use crate::store::SecretRead;
use crate::token::TokenRow;

use super::lock;

/// How recent the feed's last look at the store must be for the cache to be used: the bound
/// on how long a revocation made elsewhere can go unnoticed.
pub(super) const FRESH: Duration = Duration::from_millis(1000);
/// The most tokens kept; past it the cache starts again empty (only valid tokens get in, so
/// this is never reached by an attacker).
const MAX_TOKENS: usize = 10_000;
/// The most rows kept (about 400 bytes each); past it the cache starts again empty.
const MAX_ROWS: usize = 50_000;

/// A secret's row and its current sealed shared value, as resolve reads them, with the row's
/// metadata as answers write it (made by the first answer that needs it).
/// The row is shared with the answers made from it, not copied per request.
pub(super) type CachedRow = Arc<(
    Arc<SecretRow>,
    Option<SealedValue>,
    Arc<crate::wire::RowJson>,
)>;

/// See the module docs.
pub(super) struct Caches {
    /// Live tokens by hash, with the epoch they were read in.
    tokens: Mutex<Tokens>,
    /// Secret rows by (workspace name, key).
    rows: Mutex<Rows>,
    /// Secret rows with their apps, by (workspace name, key), with when each was read.
    reads: Mutex<Reads>,
    /// When the newest completed look at the store started (ms since `start`; 0: never).
    looked: AtomicU64,
    start: Instant,
    /// Off: every request asks the store (`HUSH_CACHE=off`, to measure the miss path).
    on: std::sync::atomic::AtomicBool,
}

struct Tokens {
    by_hash: HashMap<String, TokenRow>,
    /// Bumped by every forgetting: a row read before it is not kept.
    epoch: u64,
}

struct Rows {
    by_key: HashMap<(String, String), CachedRow>,
    /// Bumped by every eviction: a row read before it is not kept.
    epoch: u64,
}

struct Reads {
    by_key: HashMap<(String, String), (Arc<SecretRead>, Instant)>,
    /// Bumped by every eviction: a read made before it is not kept.
    epoch: u64,
}

impl Caches {
    pub(super) fn new() -> Self {
        Caches {
            tokens: Mutex::new(Tokens {
                by_hash: HashMap::new(),
                epoch: 0,
            }),
            rows: Mutex::new(Rows {
                by_key: HashMap::new(),
                epoch: 0,
            }),
            reads: Mutex::new(Reads {
                by_key: HashMap::new(),
                epoch: 0,
            }),
            looked: AtomicU64::new(0),
            start: Instant::now(),
            on: std::sync::atomic::AtomicBool::new(true),
        }
    }

    fn now_ms(&self) -> u64 {
        // Never 0, which means "never looked".
        (self.start.elapsed().as_millis() as u64).max(1)
    }

    /// Turns the caches on or off (off: emptied, nothing kept).
    pub(super) fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::Release);
        self.forget();
        self.evict("", None);
    }

    fn fresh(&self) -> bool {
        if !self.on.load(Ordering::Acquire) {
            return false;
        }
        let looked = self.looked.load(Ordering::Acquire);
        looked != 0 && self.now_ms().saturating_sub(looked) < FRESH.as_millis() as u64
    }

    /// A mark taken before a look at the store starts; give it to [`Caches::looked`]
    /// once the look (and the forgetting of what it found) is done.
    pub(super) fn look_started(&self) -> u64 {
        self.now_ms()
    }

    /// The feed has seen every change committed before `started`.
    pub(super) fn looked(&self, started: u64) {
        self.looked.fetch_max(started, Ordering::AcqRel);
    }

    /// The live token with this hash, if cached and the cache is fresh; the epoch to give
    /// [`Caches::keep`] otherwise.
    pub(super) fn get(&self, hash: &str) -> Result<TokenRow, u64> {
        let t = lock(&self.tokens);
        match t.by_hash.get(hash) {
            Some(row) if self.fresh() => Ok(row.clone()),
            _ => Err(t.epoch),
        }
    }

    /// Keeps a live token read from the store, unless something was forgotten since the read
    /// started (`epoch`) or the cache is not fresh.
    pub(super) fn keep(&self, epoch: u64, row: &TokenRow) {
        let mut t = lock(&self.tokens);
        if t.epoch != epoch || !self.fresh() || row.revoked_at.is_some() {
            return;
        }
        if t.by_hash.len() >= MAX_TOKENS {
            t.by_hash.clear();
        }
        t.by_hash.insert(row.hash.clone(), row.clone());
    }

    /// Forgets every token (a revocation, here or anywhere).
    pub(super) fn forget(&self) {
        let mut t = lock(&self.tokens);
        t.epoch += 1;
        t.by_hash.clear();
    }

    /// The cached row of `key` in workspace `ws` (by name), if fresh; the epoch to give
    /// [`Caches::keep_row`] otherwise.
    pub(super) fn row(&self, ws: &str, key: &str) -> Result<CachedRow, u64> {
        let r = lock(&self.rows);
        match r.by_key.get(&(ws, key) as &dyn Pair) {
            Some(row) if self.fresh() => Ok(row.clone()),
            _ => Err(r.epoch),
        }
    }

    /// Keeps a row read from the store, unless something was evicted since the read started
    /// (`epoch`) or the cache is not fresh.
    pub(super) fn keep_row(&self, epoch: u64, ws: &str, row: CachedRow) {
        let mut r = lock(&self.rows);
        if r.epoch != epoch || !self.fresh() {
            return;
        }
        if r.by_key.len() >= MAX_ROWS {
            r.by_key.clear();
        }
        r.by_key.insert((ws.to_string(), row.0.key.clone()), row);
    }

    /// Evicts one key's row and read (`None`: every one).
    pub(super) fn evict(&self, ws: &str, key: Option<&str>) {
        let k = key.map(|k| (ws.to_string(), k.to_string()));
        {
            let mut r = lock(&self.rows);
            r.epoch += 1;
            evict_from(&mut r.by_key, k.as_ref());
        }
        let mut r = lock(&self.reads);
        r.epoch += 1;
        evict_from(&mut r.by_key, k.as_ref());
    }

    /// The cached read of `key` in workspace `ws` (by name) if fresh and younger than
    /// [`FRESH`]; the epoch to give [`Caches::keep_read`] otherwise.
    pub(super) fn read(&self, ws: &str, key: &str) -> Result<Arc<SecretRead>, u64> {
        let r = lock(&self.reads);
        match r.by_key.get(&(ws, key) as &dyn Pair) {
            Some((read, at)) if self.fresh() && at.elapsed() < FRESH => Ok(read.clone()),
            _ => Err(r.epoch),
        }
    }

    /// Keeps a read made from the store (started at `epoch`), as for rows.
    pub(super) fn keep_read(&self, epoch: u64, ws: &str, read: Arc<SecretRead>) {
        let mut r = lock(&self.reads);
        if r.epoch != epoch || !self.fresh() {
            return;
        }
        if r.by_key.len() >= MAX_ROWS {
            r.by_key.clear();
        }
        r.by_key.insert(
            (ws.to_string(), read.row.key.clone()),
            (read, Instant::now()),
        );
    }

    /// Forgets every read (the apps that name keys, or their last reads, changed).
    pub(super) fn forget_reads(&self) {
        let mut r = lock(&self.reads);
        r.epoch += 1;
        r.by_key.clear();
    }

    /// What an event means for the caches.
    pub(super) fn apply(&self, ev: &EventRow) {
        match ev.kind {
            EventKind::TokenRevoked => self.forget(),
            EventKind::KeysRotated => self.evict("", None),
            EventKind::Created
            | EventKind::Updated
            | EventKind::Revoked
            | EventKind::Restored
            | EventKind::Deleted => match (&ev.workspace, &ev.key) {
                (Some(ws), Some(key)) => self.evict(ws, Some(key)),
                _ => self.evict("", None),
            },
            EventKind::AppChanged => self.forget_reads(),
            // Nothing a row holds changes: expiry is judged at each read.
            EventKind::Expiring | EventKind::Expired | EventKind::Fallback => {}
        }
    }
}

/// Removes `key` from `map` (`None`: everything).
/// A (workspace, key) pair as a map key, looked up from two `&str` without building one.
trait Pair {
    fn parts(&self) -> (&str, &str);
}

impl Pair for (String, String) {
    fn parts(&self) -> (&str, &str) {
        (&self.0, &self.1)
    }
}

impl Pair for (&str, &str) {
    fn parts(&self) -> (&str, &str) {
        (self.0, self.1)
    }
}

impl<'a> Borrow<dyn Pair + 'a> for (String, String) {
    fn borrow(&self) -> &(dyn Pair + 'a) {
        self
    }
}

// The same hash and equality as `(String, String)`'s: a tuple hashes its parts, and a
// `String` hashes as its `str`.
impl Hash for dyn Pair + '_ {
    fn hash<H: Hasher>(&self, h: &mut H) {
        self.parts().hash(h);
    }
}

impl PartialEq for dyn Pair + '_ {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for dyn Pair + '_ {}

fn evict_from<V>(map: &mut HashMap<(String, String), V>, key: Option<&(String, String)>) {
    match key {
        Some(k) => {
            map.remove(k);
        }
        None => map.clear(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::token::Role;

    fn row() -> TokenRow {
        TokenRow {
            id: "tok_1".into(),
            workspace_id: "ws_1".into(),
            name: "ci".into(),
            hash: "h".into(),
            role: Role::Read,
            app: None,
            env: None,
            expires_at: None,
            created_at: 0,
            created_by: "t".into(),
            revoked_at: None,
        }
    }

    #[test]
    fn kept_only_while_fresh_and_never_across_a_forgetting() {
        let c = Caches::new();
        // Never looked: nothing is kept or served.
        let e = c.get("h").unwrap_err();
        c.keep(e, &row());
        assert!(c.get("h").is_err());
        c.looked(c.look_started());
        let e = c.get("h").unwrap_err();
        c.keep(e, &row());
        assert_eq!(c.get("h").unwrap().id, "tok_1");
        // A read that started before a forgetting is not kept.
        let e = c.get("other").unwrap_err();
        c.forget();
        assert!(c.get("h").is_err());
        let mut r = row();
        r.hash = "other".into();
        c.keep(e, &r);
        assert!(c.get("other").is_err());
        // Stale: the feed stopped looking.
        let e = c.get("h").unwrap_err();
        c.keep(e, &row());
        assert!(c.get("h").is_ok());
        c.looked.store(1, Ordering::Release);
        std::thread::sleep(FRESH + Duration::from_millis(20));
        assert!(c.get("h").is_err());
    }

    /// A row is found again by its workspace and key (looked up from two `&str`), and only by
    /// those; evicting the key forgets it.
    #[test]
    fn rows_are_found_by_workspace_and_key() {
        let c = Caches::new();
        c.looked(c.look_started());
        let secret = SecretRow::sample("k");
        let e = c.row("ws", "k").unwrap_err();
        c.keep_row(e, "ws", Arc::new((Arc::new(secret), None, Arc::default())));
        assert_eq!(c.row("ws", "k").unwrap().0.key, "k");
        for (ws, key) in [
            ("ws", "K"),
            ("w", "sk"),
            ("wsk", ""),
            ("", "wsk"),
            ("other", "k"),
        ] {
            assert!(c.row(ws, key).is_err(), "{ws:?} {key:?}");
        }
        c.evict("ws", Some("k"));
        assert!(c.row("ws", "k").is_err());
    }
}
