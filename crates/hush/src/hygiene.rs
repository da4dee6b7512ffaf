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
//! child between `fork` and `exec`, which std and tokio only offer through an `unsafe`
//! `pre_exec`; this crate forbids `unsafe`. So hush starts the command through itself: the
//! child is `hush __exec-child PARENT CORE -- COMMAND…` ([`exec_child_if_asked`]), which sets
//! its parent-death signal to SIGKILL, checks that hush is still its parent, gives back the
//! core limit hush started with, and `exec`s the command in its own place (same pid, so
//! signals forwarded to it reach the command). It costs one more `exec` of the hush binary per
//! run, before any runtime or argument parsing (docs/decisions.md).

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt as _;
use std::sync::OnceLock;

use rustix::process::{Resource, Rlimit};

/// The first argument that makes this process the exec shim of `hush run`.
pub const EXEC_CHILD: &str = "__exec-child";

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

/// The arguments that start `command` through the exec shim: `__exec-child PARENT CORE --
/// COMMAND…`, to be given to this very binary (`/proc/self/exe`).
pub fn exec_child_args(command: &[OsString]) -> Vec<OsString> {
    let core = match STARTED_WITH.get().copied().flatten() {
        Some(n) => n.to_string(),
        None => "unlimited".into(),
    };
    let mut args: Vec<OsString> = vec![
        EXEC_CHILD.into(),
        std::process::id().to_string().into(),
        core.into(),
        "--".into(),
    ];
    args.extend(command.iter().cloned());
    args
}

/// When this process was started as the exec shim (`hush __exec-child …`), becomes the
/// command and never returns; otherwise returns at once.
pub fn exec_child_if_asked() {
    let mut args = std::env::args_os().skip(1);
    if args.next().as_deref() != Some(OsStr::new(EXEC_CHILD)) {
        return;
    }
    std::process::exit(exec_child(args));
}

/// The shim: returns only when the command could not be `exec`ed, with the exit code.
fn exec_child(mut args: impl Iterator<Item = OsString>) -> i32 {
    use crate::workload::{NOT_EXECUTABLE, NOT_FOUND, NOT_STARTED};
    let parent = args
        .next()
        .and_then(|a| a.to_str()?.parse::<i32>().ok())
        .and_then(rustix::process::Pid::from_raw);
    let core = args.next().and_then(|a| match a.to_str()? {
        "unlimited" => Some(None),
        n => n.parse::<u64>().ok().map(Some),
    });
    let (Some(parent), Some(core), Some(true), Some(program)) =
        (parent, core, args.next().map(|a| a == "--"), args.next())
    else {
        eprintln!("hush: {EXEC_CHILD} is how `hush run` starts its command; use `hush run`");
        return crate::fail::USAGE;
    };
    if let Err(e) =
        rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
    {
        eprintln!("hush: cannot tie the command's life to hush's (parent-death signal): {e}");
        return NOT_EXECUTABLE;
    }
    // hush may have died before the signal was set, and then none will come: the command is
    // not started (no one reads this exit code; the check only keeps an orphan from running).
    if rustix::process::getppid() != Some(parent) {
        return NOT_STARTED;
    }
    let hard = rustix::process::getrlimit(Resource::Core).maximum;
    let _ = rustix::process::setrlimit(
        Resource::Core,
        Rlimit {
            current: match (core, hard) {
                (Some(c), Some(h)) => Some(c.min(h)),
                (c, h) => c.or(h),
            },
            maximum: hard,
        },
    );
    let e = std::process::Command::new(&program).args(args).exec();
    let program = program.to_string_lossy();
    if e.kind() == std::io::ErrorKind::NotFound {
        eprintln!("hush: {program}: command not found");
        NOT_FOUND
    } else {
        eprintln!("hush: {program}: cannot execute: {e}");
        NOT_EXECUTABLE
    }
}
