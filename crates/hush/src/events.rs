//! `hush events`: follow the change events of the secrets the caller may see, one line per
//! event (`-o json`: one JSON object per line), until interrupted. Against a server a lost
//! connection is said on stderr and followed by a reconnection that resumes where it left off.

use std::io::Write as _;

use anyhow::Result;

use crate::backend::Backend;
use crate::cli::{EventsArgs, TableOrJson};

/// Runs `hush events`; returns only when the stream ends for good or fails.
pub async fn run(backend: &dyn Backend, args: EventsArgs) -> Result<()> {
    let mut events = backend.events(&args.key, args.after).await?;
    let mut lost = false;
    loop {
        match events.next().await {
            Ok(Some(ev)) => {
                if lost {
                    eprintln!("hush: the event stream is back");
                    lost = false;
                }
                let line = match args.out.output {
                    TableOrJson::Json => serde_json::to_string(&ev)?,
                    TableOrJson::Table => line(&ev),
                };
                let mut out = std::io::stdout().lock();
                match writeln!(out, "{line}").and_then(|()| out.flush()) {
                    Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => return Ok(()),
                    other => other?,
                }
            }
            Ok(None) => return Ok(()),
            Err(e) => match e.downcast_ref::<hush_client::Error>() {
                Some(hush_client::Error::Transport { .. })
                | Some(hush_client::Error::Unavailable(_))
                | Some(hush_client::Error::Server { .. }) => {
                    if !lost {
                        eprintln!("hush: {e}; reconnecting (no event is missed)");
                        lost = true;
                    }
                }
                _ => return Err(e),
            },
        }
    }
}

/// `2026-11-30T11:38:45.556Z  updated  DB_PASSWORD  v2  env=prd  (detail)`.
fn line(ev: &hush_wire::Event) -> String {
    let mut s = format!("{}  {:<8}  {}", ev.time, ev.kind, ev.key);
    if let Some(v) = ev.version {
        s.push_str(&format!("  v{v}"));
    }
    if let Some(env) = &ev.environment {
        s.push_str(&format!("  env={env}"));
    }
    if let Some(d) = &ev.detail {
        s.push_str(&format!("  ({d})"));
    }
    s
}
