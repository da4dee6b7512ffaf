//! Group commit: many requests' writes and audit rows, one durable transaction.
//!
//! Every value read must be in the audit log, durably, before the value is returned, and
//! every write must be acknowledged only once it is on disk. One transaction per request
//! makes the `fsync` the whole cost of a request. Instead, requests hand their unit
//! ([`Commit`]) to one committer and wait: the committer takes everything queued, applies it
//! in one transaction ([`Store::commit_batch`]) and answers each waiter with its own outcome.
//! While one batch commits the next one gathers, so batches grow with the load and a lone
//! request waits for nothing but its own commit. Nothing is acknowledged before its commit:
//! durability is the same as one transaction per request.
//!
//! The committer is a thread of its own driving the store's future on the caller's runtime,
//! so a backend that blocks (SQLite's `fsync`) never stalls the runtime's workers. On a
//! current-thread runtime (the CLI, one request at a time) units are committed in place.

use std::sync::Arc;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{mpsc, oneshot};

use crate::store::{Commit, Store, StoreError};

/// Most units in one transaction: bounds a batch's size and its commit's latency, and keeps
/// PostgreSQL's savepoints within the 64 subtransactions a backend caches.
const MAX_BATCH: usize = 64;

struct Job {
    unit: Commit,
    done: oneshot::Sender<Result<(), StoreError>>,
}

/// Hands units to the committer (or commits them in place).
pub(crate) struct GroupCommit {
    store: Arc<dyn Store>,
    queue: Option<mpsc::UnboundedSender<Job>>,
}

impl GroupCommit {
    /// Starts a committer for `store` when running on a multi-thread runtime. It stops when
    /// this value is dropped, after committing what was queued.
    pub(crate) fn start(store: Arc<dyn Store>) -> GroupCommit {
        let handle = match Handle::try_current() {
            Ok(h) if h.runtime_flavor() != RuntimeFlavor::CurrentThread => h,
            _ => return GroupCommit { store, queue: None },
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let committer = Arc::clone(&store);
        let spawned = std::thread::Builder::new()
            .name("hush-commit".into())
            .spawn(move || run(&handle, committer, rx));
        match spawned {
            Ok(_) => GroupCommit {
                store,
                queue: Some(tx),
            },
            // No thread to be had: commit in place, one transaction per unit.
            Err(_) => GroupCommit { store, queue: None },
        }
    }

    /// Commits `unit` (with others queued at the same time) and returns its own outcome once
    /// the transaction holding it is durable.
    pub(crate) async fn commit(&self, unit: Commit) -> Result<(), StoreError> {
        let Some(queue) = &self.queue else {
            let mut out = self.store.commit_batch(std::slice::from_ref(&unit)).await?;
            return out.pop().unwrap_or(Err(lost()));
        };
        let (done, answer) = oneshot::channel();
        match queue.send(Job { unit, done }) {
            Ok(()) => answer.await.unwrap_or(Err(lost())),
            // The committer is gone (it cannot be, short of a bug): the unit never entered
            // the queue, so committing it here is safe.
            Err(mpsc::error::SendError(job)) => {
                let mut out = self
                    .store
                    .commit_batch(std::slice::from_ref(&job.unit))
                    .await?;
                out.pop().unwrap_or(Err(lost()))
            }
        }
    }
}

fn lost() -> StoreError {
    StoreError::Unavailable("the commit queue stopped".into())
}

fn run(handle: &Handle, store: Arc<dyn Store>, mut rx: mpsc::UnboundedReceiver<Job>) {
    let mut units = Vec::new();
    let mut waiters = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        units.push(first.unit);
        waiters.push(first.done);
        while units.len() < MAX_BATCH {
            let Ok(job) = rx.try_recv() else { break };
            units.push(job.unit);
            waiters.push(job.done);
        }
        // A panic inside the store fails this batch (its transaction is rolled back as the
        // panic unwinds), not every later one.
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            handle.block_on(store.commit_batch(&units))
        }))
        .unwrap_or_else(|_| Err(StoreError::Unavailable("the commit failed".into())));
        match outcome {
            Ok(outcomes) if outcomes.len() == waiters.len() => {
                for (done, outcome) in waiters.drain(..).zip(outcomes) {
                    let _ = done.send(outcome);
                }
            }
            Ok(_) => {
                let e = StoreError::Corrupt("the store answered a batch with a wrong count".into());
                for done in waiters.drain(..) {
                    let _ = done.send(Err(e.clone()));
                }
            }
            Err(e) => {
                for done in waiters.drain(..) {
                    let _ = done.send(Err(e.clone()));
                }
            }
        }
        units.clear();
    }
}
