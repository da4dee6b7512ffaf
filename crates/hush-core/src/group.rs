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
//!
//! A lone request commits itself. When nothing is being committed and the last commit ended
//! more than [`LONE`] ago, the request's own task runs the transaction in place instead of
//! waking the committer and being woken by it: two thread wake-ups, each 0.1–0.2 ms on a
//! virtual machine, for a `hush run` or any request that does not meet another. Under load
//! commits follow one another closely and every unit goes through the committer, so batching
//! is unchanged. Both paths call the store's `commit_batch`, which serialises its callers (the
//! chain is appended inside the transaction), and the audit sink's catch-up, which does too.
//!
//! With an audit sink (`sink.rs`), the committer also appends the batch's rows to its file
//! after the commit, in one write, before anyone is answered: a unit is acknowledged only once
//! its rows are both committed and in the file. Operations that append their row outside the
//! group commit (tokens, apps, deletes) ask the committer for the same append afterwards
//! ([`GroupCommit::flush_audit`]), so every file write goes through the sink's catch-up, on
//! the committer thread or (alone) on the request's task: one at a time, in sequence order.

use std::sync::Arc;

use tokio::runtime::{Handle, RuntimeFlavor};
use tokio::sync::{mpsc, oneshot};

use crate::error::Error;
use crate::sink::{AuditSink, CommitError};
use crate::store::{Commit, Store, StoreError};

/// Most units in one transaction: bounds a batch's size and its commit's latency, and keeps
/// PostgreSQL's savepoints within the 64 subtransactions a backend caches.
const MAX_BATCH: usize = 64;

/// How long after the last commit a request may commit in place (see the module's notes).
const LONE: std::time::Duration = std::time::Duration::from_millis(2);

/// What a unit (or a flush) is answered with.
type Outcome = Result<(), CommitError>;

/// Told the number of units each transaction carried (the server's batch-size metric).
pub type BatchObserver = Arc<dyn Fn(usize) + Send + Sync>;

/// The observer, shared with the committer thread; replaced by [`GroupCommit::observe`].
type ObserverSlot = Arc<std::sync::RwLock<Option<BatchObserver>>>;

fn tell(slot: &ObserverSlot, units: usize) {
    if units == 0 {
        return;
    }
    if let Some(f) = slot.read().unwrap_or_else(|e| e.into_inner()).as_ref() {
        f(units);
    }
}

struct Job {
    /// `None`: no unit, only the audit file to bring up to date.
    unit: Option<Commit>,
    done: oneshot::Sender<Outcome>,
}

/// Hands units to the committer (or commits them in place).
pub(crate) struct GroupCommit {
    store: Arc<dyn Store>,
    sink: Option<Arc<AuditSink>>,
    queue: Option<mpsc::UnboundedSender<Job>>,
    observer: ObserverSlot,
    quiet: Quiet,
}

/// Whether a request is alone: how many submissions are in flight, and when the last commit
/// ended. Only chooses the path; either path is correct at any time.
#[derive(Default)]
struct Quiet {
    in_flight: std::sync::atomic::AtomicUsize,
    /// Microseconds since `epoch` when the last commit ended.
    last_end: std::sync::atomic::AtomicU64,
    epoch: std::sync::OnceLock<std::time::Instant>,
}

impl Quiet {
    fn now(&self) -> u64 {
        let epoch = self.epoch.get_or_init(std::time::Instant::now);
        u64::try_from(epoch.elapsed().as_micros()).unwrap_or(u64::MAX)
    }

    /// Enters a submission; true if it is alone (nothing in flight, the last commit long
    /// enough ago) and should commit in place.
    fn enter(&self) -> bool {
        use std::sync::atomic::Ordering;
        let alone = self
            .now()
            .saturating_sub(self.last_end.load(Ordering::Acquire))
            > LONE.as_micros() as u64;
        if alone
            && self
                .in_flight
                .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            return true;
        }
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        false
    }

    /// Leaves a submission whose commit has ended.
    fn leave(&self) {
        use std::sync::atomic::Ordering;
        self.last_end.store(self.now(), Ordering::Release);
        self.in_flight.fetch_sub(1, Ordering::AcqRel);
    }
}

/// Leaves on drop, so a request dropped while it waits still counts out.
struct Entered<'a>(&'a Quiet);

impl Drop for Entered<'_> {
    fn drop(&mut self) {
        self.0.leave();
    }
}

impl GroupCommit {
    /// Starts a committer for `store` (appending to `sink`, if any) when running on a
    /// multi-thread runtime. It stops when this value is dropped, after committing what was
    /// queued.
    pub(crate) fn start(
        store: Arc<dyn Store>,
        sink: Option<Arc<AuditSink>>,
        observer: ObserverSlot,
    ) -> GroupCommit {
        let handle = match Handle::try_current() {
            Ok(h) if h.runtime_flavor() != RuntimeFlavor::CurrentThread => h,
            _ => {
                return GroupCommit {
                    store,
                    sink,
                    queue: None,
                    observer,
                    quiet: Quiet::default(),
                }
            }
        };
        let (tx, rx) = mpsc::unbounded_channel();
        let committer = Arc::clone(&store);
        let committer_sink = sink.clone();
        let committer_observer = Arc::clone(&observer);
        let spawned = std::thread::Builder::new()
            .name("hush-commit".into())
            .spawn(move || run(&handle, committer, committer_sink, &committer_observer, rx));
        match spawned {
            Ok(_) => GroupCommit {
                store,
                sink,
                queue: Some(tx),
                observer,
                quiet: Quiet::default(),
            },
            // No thread to be had: commit in place, one transaction per unit.
            Err(_) => GroupCommit {
                store,
                sink,
                queue: None,
                observer,
                quiet: Quiet::default(),
            },
        }
    }

    /// The observer told each transaction's number of units (replacing any earlier one).
    pub(crate) fn observe(&self, observer: BatchObserver) {
        *self.observer.write().unwrap_or_else(|e| e.into_inner()) = Some(observer);
    }

    /// The observer slot, for a committer started anew over the same store.
    pub(crate) fn observer(&self) -> ObserverSlot {
        Arc::clone(&self.observer)
    }

    /// Commits `unit` (with others queued at the same time) and returns its own outcome once
    /// the transaction holding it is durable (and its audit rows are in the audit file).
    pub(crate) async fn commit(&self, unit: Commit) -> Result<(), Error> {
        Ok(self.submit(Some(unit)).await?)
    }

    /// With an audit sink: appends the rows committed since its last write (an operation that
    /// appended its audit row itself calls this before answering). Without one, nothing.
    pub(crate) async fn flush_audit(&self) -> Result<(), Error> {
        if self.sink.is_none() {
            return Ok(());
        }
        Ok(self.submit(None).await?)
    }

    async fn submit(&self, unit: Option<Commit>) -> Outcome {
        let Some(queue) = &self.queue else {
            return self.in_place(unit).await;
        };
        let alone = self.quiet.enter();
        let _entered = Entered(&self.quiet);
        if alone {
            return self.in_place(unit).await;
        }
        let (done, answer) = oneshot::channel();
        match queue.send(Job { unit, done }) {
            Ok(()) => answer.await.unwrap_or(Err(lost())),
            // The committer is gone (it cannot be, short of a bug): the unit never entered
            // the queue, so committing it here is safe.
            Err(mpsc::error::SendError(job)) => self.in_place(job.unit).await,
        }
    }

    async fn in_place(&self, unit: Option<Commit>) -> Outcome {
        if let Some(unit) = unit {
            let mut out = self
                .store
                .commit_batch(std::slice::from_ref(&unit))
                .await
                .map_err(CommitError::Store)?;
            tell(&self.observer, 1);
            out.pop()
                .unwrap_or(Err(StoreError::Unavailable("the commit was lost".into())))
                .map_err(CommitError::Store)?;
        }
        match &self.sink {
            Some(sink) => sink.catch_up(self.store.as_ref()).await,
            None => Ok(()),
        }
    }
}

fn lost() -> CommitError {
    CommitError::Store(StoreError::Unavailable("the commit queue stopped".into()))
}

fn run(
    handle: &Handle,
    store: Arc<dyn Store>,
    sink: Option<Arc<AuditSink>>,
    observer: &ObserverSlot,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let mut jobs = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        jobs.push(first);
        while jobs.len() < MAX_BATCH {
            let Ok(job) = rx.try_recv() else { break };
            jobs.push(job);
        }
        // Which jobs carry a unit, before the units are taken out for the store.
        let has_unit: Vec<bool> = jobs.iter().map(|j| j.unit.is_some()).collect();
        let units: Vec<Commit> = jobs.iter_mut().filter_map(|j| j.unit.take()).collect();
        let mut committed = commit_units(handle, store.as_ref(), &units).into_iter();
        tell(observer, units.len());
        let mut outcomes: Vec<Outcome> = has_unit
            .into_iter()
            .map(|unit| match unit {
                true => committed.next().unwrap_or_else(|| Err(lost())),
                false => Ok(()),
            })
            .collect();
        // Something new may be in the chain (a unit committed, or a flush asked for): into the
        // file before anyone is answered. A unit that failed appended nothing, and keeps its
        // own error.
        if let Some(sink) = &sink {
            if outcomes.iter().any(Result::is_ok) {
                let appended = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    handle.block_on(sink.catch_up(store.as_ref()))
                }))
                .unwrap_or_else(|_| {
                    Err(CommitError::Store(StoreError::Unavailable(
                        "the audit file append failed".into(),
                    )))
                });
                if let Err(e) = appended {
                    for o in outcomes.iter_mut().filter(|o| o.is_ok()) {
                        *o = Err(e.clone());
                    }
                }
            }
        }
        for (job, outcome) in jobs.drain(..).zip(outcomes) {
            let _ = job.done.send(outcome);
        }
    }
}

/// Commits `units` in one transaction; each unit's outcome, in order.
fn commit_units(handle: &Handle, store: &dyn Store, units: &[Commit]) -> Vec<Outcome> {
    if units.is_empty() {
        return Vec::new();
    }
    // A panic inside the store fails this batch (its transaction is rolled back as the panic
    // unwinds), not every later one.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        handle.block_on(store.commit_batch(units))
    }))
    .unwrap_or_else(|_| Err(StoreError::Unavailable("the commit failed".into())));
    let all = |e: StoreError| vec![Err(CommitError::Store(e)); units.len()];
    match outcome {
        Ok(out) if out.len() == units.len() => out
            .into_iter()
            .map(|o| o.map_err(CommitError::Store))
            .collect(),
        Ok(_) => all(StoreError::Corrupt(
            "the store answered a batch with a wrong count".into(),
        )),
        Err(e) => all(e),
    }
}
