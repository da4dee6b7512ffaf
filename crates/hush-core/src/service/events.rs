//! Events: following the store's change events in process ([`EventFeed`]), who may see which
//! ([`EventScope`]), and the expiry sweep that turns time passing into `expiring` and
//! `expired` events, once per secret across every node.

use std::collections::{HashSet, VecDeque};
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use tokio::sync::broadcast;

use crate::audit::AuditEntry;
use crate::clock;
use crate::error::Error;
use crate::event::{EventKind, EventRow, RETAIN_MS};
use crate::model::Workspace;
use crate::store::Store;
use crate::token::{Action, Actor, Role};

use super::cache::Caches;
use super::Hush;

/// How often a follower looks at the store when the backend has no change signal (SQLite:
/// a CLI on the same file writes without telling anyone). An index lookup each time.
const POLL_UNSIGNALLED: Duration = Duration::from_millis(200);
/// How often it looks anyway when the backend signals (PostgreSQL `LISTEN`): a notification
/// lost while the listener reconnected is then found within this, and the token cache (which
/// trusts only a feed that looked within the last second) stays in use.
const POLL_SIGNALLED: Duration = Duration::from_millis(500);
/// Events read per query.
const PAGE: usize = 500;

/// The store's events, followed by one task per process and fanned out to every subscriber
/// (event streams, webhooks, caches, `hush run --watch` on the embedded store).
pub struct EventFeed {
    tx: broadcast::Sender<Arc<EventRow>>,
    head: AtomicI64,
}

impl EventFeed {
    /// Starts following `store` from its newest event: what happens from now on is sent to
    /// subscribers, in order. The task ends when the feed is dropped.
    pub(super) fn start(store: Arc<dyn Store>, tokens: Arc<Caches>) -> Arc<EventFeed> {
        let (tx, _) = broadcast::channel(4096);
        let feed = Arc::new(EventFeed {
            tx,
            head: AtomicI64::new(-1),
        });
        let weak = Arc::downgrade(&feed);
        tokio::spawn(async move {
            let mut signal = store.change_signal();
            let every = if signal.is_some() {
                POLL_SIGNALLED
            } else {
                POLL_UNSIGNALLED
            };
            let mut cursor = loop {
                match store.event_head().await {
                    Ok(h) => break h,
                    Err(_) => tokio::time::sleep(Duration::from_secs(1)).await,
                }
            };
            loop {
                let Some(feed) = weak.upgrade() else { return };
                feed.head.store(cursor, Ordering::Release);
                let started = tokens.look_started();
                loop {
                    let Ok(rows) = store.events_after(cursor, PAGE).await else {
                        break;
                    };
                    let n = rows.len();
                    for row in rows {
                        cursor = row.seq;
                        feed.head.store(cursor, Ordering::Release);
                        tokens.apply(&row);
                        // No subscriber is not an error: the event is in the store for later.
                        let _ = feed.tx.send(Arc::new(row));
                    }
                    if n < PAGE {
                        // Everything committed before this look started is now applied.
                        tokens.looked(started);
                        break;
                    }
                }
                drop(feed);
                match &mut signal {
                    Some(rx) => {
                        let _ = tokio::time::timeout(every, rx.changed()).await;
                    }
                    None => tokio::time::sleep(every).await,
                }
            }
        });
        feed
    }

    /// Events from now on. A subscriber that falls more than 4096 events behind gets
    /// `Lagged` and reads what it missed from the store ([`Store::events_after`]).
    pub fn subscribe(&self) -> broadcast::Receiver<Arc<EventRow>> {
        self.tx.subscribe()
    }

    /// The newest event sent so far (-1 until the first look at the store).
    pub fn head(&self) -> i64 {
        self.head.load(Ordering::Acquire)
    }
}

/// What one follower (a token, in a workspace) may see, and which keys it asked for.
pub struct EventScope {
    actor: Actor,
    ws: Workspace,
    keys: Option<HashSet<String>>,
    /// For a machine token whose app has a registered manifest: the keys it names (refreshed
    /// when the app changes).
    declared: Option<Result<HashSet<String>, String>>,
}

impl EventScope {
    /// The workspace followed.
    pub fn workspace(&self) -> &Workspace {
        &self.ws
    }

    /// Who follows.
    pub fn actor(&self) -> &Actor {
        &self.actor
    }
}

/// One follower's place in the events ([`Hush::follow`]; each [`Follower::next`] is given the
/// service): what it missed is read back from
/// the store, then it takes the live feed, each event once, in order, if its scope may see it.
pub struct Follower {
    scope: EventScope,
    rx: broadcast::Receiver<Arc<EventRow>>,
    /// The newest event id handled (yielded or not visible).
    last: i64,
    /// Reading from the store (resuming, or after falling behind the live feed).
    replaying: bool,
    backlog: VecDeque<Arc<EventRow>>,
}

impl Follower {
    /// The next event the scope may see. `Ok(None)` when the follower's own token was
    /// revoked (the follow ends); `Err` when the store failed (resume from [`Follower::last`]).
    pub async fn next(&mut self, hush: &Hush) -> Result<Option<Arc<EventRow>>, Error> {
        loop {
            if let Some(ev) = self.backlog.pop_front() {
                if ev.seq <= self.last {
                    continue;
                }
                self.last = ev.seq;
                if ev.kind == EventKind::TokenRevoked
                    && ev.key.as_deref() == Some(self.scope.actor.principal.id.as_str())
                {
                    return Ok(None);
                }
                if hush.event_visible(&mut self.scope, &ev).await? {
                    return Ok(Some(ev));
                }
                continue;
            }
            if self.replaying {
                let rows = hush.store.events_after(self.last, PAGE).await?;
                if rows.is_empty() {
                    self.replaying = false;
                } else {
                    self.backlog.extend(rows.into_iter().map(Arc::new));
                }
                continue;
            }
            match self.rx.recv().await {
                Ok(ev) => self.backlog.push_back(ev),
                Err(broadcast::error::RecvError::Lagged(_)) => self.replaying = true,
                Err(broadcast::error::RecvError::Closed) => return Ok(None),
            }
        }
    }

    /// The newest event id handled: where to resume.
    pub fn last(&self) -> i64 {
        self.last
    }
}

impl Hush {
    /// Follows the events `scope` may see, from after event `after` (`None`: from now on).
    pub async fn follow(&self, scope: EventScope, after: Option<i64>) -> Result<Follower, Error> {
        let feed = self.events();
        // Subscribe before reading the store, so nothing falls between the two.
        let rx = feed.subscribe();
        // From now on means from the store's newest event: the feed may not have looked at
        // the store since the last write.
        let (last, replaying) = match after {
            Some(n) => (n, true),
            None => (self.store.event_head().await?, false),
        };
        Ok(Follower {
            scope,
            rx,
            last,
            replaying,
            backlog: VecDeque::new(),
        })
    }

    /// Turns the caches (tokens, and the secret rows resolve reads) on (the default; used once
    /// the event feed runs) or off (every request asks the store).
    pub fn set_caches(&self, on: bool) {
        self.caches.set_on(on);
    }

    /// The store's events, followed in this process (started on first use).
    pub fn events(&self) -> Arc<EventFeed> {
        self.feed
            .get_or_init(|| EventFeed::start(self.store.clone(), self.caches.clone()))
            .clone()
    }

    /// What `actor` may follow in `ws`: secret events of keys it may see metadata of (a
    /// machine token: of its app's keys, in its environment), narrowed to `keys` when given.
    pub async fn event_scope(
        &self,
        actor: &Actor,
        ws: &Workspace,
        keys: Vec<String>,
    ) -> Result<EventScope, Error> {
        for k in &keys {
            crate::model::validate_key(k)?;
        }
        self.require(actor, Action::Show, ws, None, "events.follow")
            .await?;
        let declared = self.declared_keys(actor, ws).await?;
        Ok(EventScope {
            actor: actor.clone(),
            ws: ws.clone(),
            keys: (!keys.is_empty()).then(|| keys.into_iter().collect()),
            declared,
        })
    }

    /// Whether the follower of `scope` may see `ev`. An app's manifest changing refreshes
    /// what a machine token of that app sees.
    pub async fn event_visible(
        &self,
        scope: &mut EventScope,
        ev: &EventRow,
    ) -> Result<bool, Error> {
        if ev.workspace.as_deref() != Some(scope.ws.name.as_str()) {
            return Ok(false);
        }
        let p = &scope.actor.principal;
        if ev.kind == EventKind::AppChanged && p.role == Role::Machine && ev.key == p.app {
            scope.declared = self.declared_keys(&scope.actor, &scope.ws).await?;
        }
        if !ev.kind.is_secret_event() {
            return Ok(false);
        }
        let Some(key) = ev.key.as_deref() else {
            return Ok(false);
        };
        if scope.keys.as_ref().is_some_and(|k| !k.contains(key)) {
            return Ok(false);
        }
        if p.role != Role::Machine {
            return Ok(true);
        }
        if let (Some(own), Some(theirs)) = (&p.env, &ev.env) {
            if own != theirs {
                return Ok(false);
            }
        }
        match &scope.declared {
            Some(Ok(d)) => Ok(d.contains(key)),
            Some(Err(_)) => Ok(false),
            // No manifest: the token's scope rules, on the secret as it is now (a deleted one
            // is no longer anyone's).
            None => Ok(match self.store.secret(&scope.ws.id, key).await? {
                Some(row) => p.out_of_scope(&row).is_none(),
                None => false,
            }),
        }
    }

    /// Gives the expiry notices that are due (`expiring` on entering a secret's warning
    /// window, `expired` at its expiry), each once across every node, as audit rows by
    /// `system` (which make the events); drops events older than the retention. Returns
    /// how many notices were given. A server runs it every few seconds.
    pub async fn sweep_expiry(&self) -> Result<u64, Error> {
        let now = clock::now();
        let due = self.store.notices_due(now, 500).await?;
        let notices: Vec<_> = due
            .into_iter()
            .map(|n| {
                let action = match n.kind {
                    EventKind::Expired => "secret.expired",
                    _ => "secret.expiring",
                };
                let entry = AuditEntry {
                    ts_ms: clock::now_ms(),
                    actor_id: "system".into(),
                    actor_name: "hush:expiry".into(),
                    action: action.into(),
                    workspace: Some(n.workspace.clone()),
                    key: Some(n.key.clone()),
                    version: Some(n.version),
                    env: None,
                    outcome: "ok".into(),
                    remote: None,
                    request_id: None,
                    detail: Some(format!("expires at {}", clock::rfc3339(n.expires_at))),
                    items: Vec::new(),
                };
                (n, entry)
            })
            .collect();
        let given = if notices.is_empty() {
            0
        } else {
            let n = self.store.record_notices(&notices).await?;
            self.audited().await?;
            n
        };
        Ok(given)
    }

    /// Drops the events older than the retention (48 hours).
    pub async fn prune_events(&self) -> Result<u64, Error> {
        Ok(self.store.prune_events(clock::now_ms() - RETAIN_MS).await?)
    }
}
