//! Child processes that cannot outlive the benchmark: every server and load generator is held
//! in a [`ChildGuard`], which kills and reaps it when dropped — on success, on an error
//! returned with `?`, and on a panic alike — so a failed run leaves no server listening.

use std::process::{Child, ExitStatus};
use std::time::{Duration, Instant};

use anyhow::{bail, Context as _, Result};

/// Owns a child process and kills it (SIGKILL) and waits for it when dropped.
pub struct ChildGuard {
    child: Child,
    what: String,
}

impl ChildGuard {
    /// Takes ownership of `child`; `what` names it in messages.
    pub fn new(child: Child, what: impl Into<String>) -> Self {
        ChildGuard {
            child,
            what: what.into(),
        }
    }

    /// The process id.
    pub fn id(&self) -> u32 {
        self.child.id()
    }

    /// What this child is, for messages.
    pub fn what(&self) -> &str {
        &self.what
    }

    /// Its exit status if it has already exited.
    pub fn try_wait(&mut self) -> Result<Option<ExitStatus>> {
        self.child
            .try_wait()
            .with_context(|| format!("cannot check on {}", self.what))
    }

    /// Waits for it to exit by itself, at most `limit`; kills it and fails past that.
    pub fn wait_for(&mut self, limit: Duration) -> Result<ExitStatus> {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.try_wait()? {
                return Ok(status);
            }
            if Instant::now() >= deadline {
                self.kill();
                bail!("{} did not finish within {:?}: killed", self.what, limit);
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Kills it now (if it still runs) and reaps it.
    pub fn kill(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
        }
        let _ = self.child.wait();
    }

    /// The child itself (to take its pipes).
    pub fn child_mut(&mut self) -> &mut Child {
        &mut self.child
    }
}

impl Drop for ChildGuard {
    fn drop(&mut self) {
        self.kill();
    }
}
