//! Process hygiene: no core dump of a process that holds a key, a token or a value, and a
//! `hush run` command that dies with hush.
//!
//! Every hush process lowers `RLIMIT_CORE` to 0 and clears its dumpable flag before it does
//! anything else (`main` calls [`no_core_dumps`] first). The flag is what really keeps the
//! memory in: a non-dumpable process writes no core even when someone of the same user raises
//! its core limit from outside (`prlimit`), and cannot be attached to with `ptrace` or read
//! through `/proc/PID/mem` by the same user. The limit is the second lock, for systems whose
//! `fs.suid_dumpable` lets non-dumpable processes dump anyway.
//!
//! `hush run`'s command should neither inherit hush's limit (a workload that dumped core
//! before should still do so under hush) nor outlive hush (after a SIGKILL of hush nothing
//! would remove its secret files, and it would run on unsupervised). Both have to be set in the
//! child between `fork` and `exec`, which std and tokio offer only through an `unsafe`
//! `pre_exec` hook: [`tie_to_hush`] is the one `unsafe` block of the crate. In the child it
//! sets the parent-death signal to SIGKILL, checks that hush is still its parent, and gives
//! back the core limit hush started with — three system calls, no allocation, nothing that is
//! not async-signal-safe. An earlier version started the command through hush itself (an
//! extra `exec` of this binary per run, about as long as the whole `env FOO=bar true` floor);
//! docs/decisions.md says why the hook replaced it.

use std::sync::OnceLock;

use rustix::process::{Resource, Rlimit};

/// The core limit this process started with, given back to `hush run`'s command.
static STARTED_WITH: OnceLock<Option<u64>> = OnceLock::new();

/// Lowers the soft core limit to 0 and makes this process non-dumpable. The hard limit is
/// kept so that `hush run` can give its command back the soft limit it had; every other
/// command then calls [`no_core_dumps_ever`].
pub fn no_core_dumps() -> std::io::Result<()> {
    let limit = rustix::process::getrlimit(Resource::Core);
    let _ = STARTED_WITH.set(limit.current);
    rustix::process::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: limit.maximum,
        },
    )?;
    #[cfg(any(target_os = "linux", target_os = "android"))]
    rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable)?;
    Ok(())
}

/// Lowers the hard core limit to 0 too, so the limit cannot be raised again from outside
/// (`prlimit` by the same user) either.
pub fn no_core_dumps_ever() -> std::io::Result<()> {
    rustix::process::setrlimit(
        Resource::Core,
        Rlimit {
            current: Some(0),
            maximum: Some(0),
        },
    )?;
    Ok(())
}

/// Ties `cmd`'s child to this process: in the child, between `fork` and `exec`, the
/// parent-death signal is set to SIGKILL (the kernel sends it when the thread that spawned the
/// child ends: `hush run` spawns from its main thread, which lives as long as hush), the
/// child checks that hush is still its parent (it may have died before the signal was set;
/// then the command is not started), and the core limit hush started with is given back.
#[allow(unsafe_code)]
pub fn tie_to_hush(cmd: &mut tokio::process::Command) {
    let parent = rustix::process::getpid();
    let hard = rustix::process::getrlimit(Resource::Core).maximum;
    let started = STARTED_WITH.get().copied().flatten();
    let core = Rlimit {
        current: match (started, hard) {
            (Some(c), Some(h)) => Some(c.min(h)),
            (c, h) => c.or(h),
        },
        maximum: hard,
    };
    let setup = move || -> std::io::Result<()> {
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
        if rustix::process::getppid() != Some(parent) {
            return Err(rustix::io::Errno::SRCH.into());
        }
        // Best effort: a command that cannot get its core limit back still runs.
        let _ = rustix::process::setrlimit(Resource::Core, core);
        Ok(())
    };
    // SAFETY: `setup` runs in the forked child before `exec`. It only makes system calls
    // (prctl, getppid, setrlimit) through rustix and builds `io::Error`s from raw errno values:
    // no allocation, no lock, nothing that is not async-signal-safe.
    unsafe {
        cmd.pre_exec(setup);
    }
}
