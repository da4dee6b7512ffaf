//! The token cache: a live token's row by its hash, so a request with a known token asks
//! the store nothing to authenticate. It is coherent across processes and nodes through the
//! change events ([`super::EventFeed`]): a token revoked anywhere is a `token_revoked`
//! event, which empties the cache, and a revocation made by this process empties it at once.
//!
//! It is trusted only while the feed keeps looking at the store: every look starts less than
//! [`FRESH`] ago, so a revocation committed anywhere is obeyed within that, even when a
//! notification was lost or the feed stopped (then the cache is simply not used). Only live
//! tokens are ever kept: an unknown, revoked or expired token always takes the store's path,
//! so refusing one costs the same as before. What it holds is what the store holds (hashes,
//! never tokens).

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use crate::event::{EventKind, EventRow};
use crate::token::TokenRow;

use super::lock;

/// How recent the feed's last look at the store must be for the cache to be used: the bound
/// on how long a revocation made elsewhere can go unnoticed.
pub(super) const FRESH: Duration = Duration::from_millis(1000);
/// The most tokens kept; past it the cache starts again empty (only valid tokens get in, so
/// this is never reached by an attacker).
const MAX_TOKENS: usize = 10_000;

/// See the module docs.
pub(super) struct TokenCache {
    /// Live tokens by hash, with the epoch they were read in.
    tokens: Mutex<Tokens>,
    /// When the newest completed look at the store started (ms since `start`; 0: never).
    looked: AtomicU64,
    start: Instant,
    /// Off: every request asks the store (`HUSH_TOKEN_CACHE=off`, to measure the miss path).
    on: std::sync::atomic::AtomicBool,
}

struct Tokens {
    by_hash: HashMap<String, TokenRow>,
    /// Bumped by every forgetting: a row read before it is not kept.
    epoch: u64,
}

impl TokenCache {
    pub(super) fn new() -> Self {
        TokenCache {
            tokens: Mutex::new(Tokens {
                by_hash: HashMap::new(),
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

    /// Turns the cache on or off (off: emptied, nothing kept).
    pub(super) fn set_on(&self, on: bool) {
        self.on.store(on, Ordering::Release);
        self.forget();
    }

    fn fresh(&self) -> bool {
        if !self.on.load(Ordering::Acquire) {
            return false;
        }
        let looked = self.looked.load(Ordering::Acquire);
        looked != 0 && self.now_ms().saturating_sub(looked) < FRESH.as_millis() as u64
    }

    /// A mark taken before a look at the store starts; give it to [`TokenCache::looked`]
    /// once the look (and the forgetting of what it found) is done.
    pub(super) fn look_started(&self) -> u64 {
        self.now_ms()
    }

    /// The feed has seen every change committed before `started`.
    pub(super) fn looked(&self, started: u64) {
        self.looked.fetch_max(started, Ordering::AcqRel);
    }

    /// The live token with this hash, if cached and the cache is fresh; the epoch to give
    /// [`TokenCache::keep`] otherwise.
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

    /// What an event means for the cache.
    pub(super) fn apply(&self, ev: &EventRow) {
        if ev.kind == EventKind::TokenRevoked {
            self.forget();
        }
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
        let c = TokenCache::new();
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
}
