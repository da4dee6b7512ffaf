//! `hush tokens …` and `hush audit …`, on the embedded store or a server.

use std::io::Write as _;

use anyhow::Result;
use hush_core::audit::{AuditFilter, Head, HeadError};
use hush_core::clock;
use hush_core::token::Role;

use crate::backend::Backend;
use crate::cli::{
    AuditArgs, AuditCommand, PruneArgs, RoleArg, TableOrJson, TokensCommand, VerifyArgs,
};
use crate::fail::Failure;
use crate::output;

pub async fn run(b: &dyn Backend, cmd: TokensCommand) -> Result<()> {
    match cmd {
        TokensCommand::Create(a) => {
            let role = match a.role {
                Some(RoleArg::Admin) => Role::Admin,
                Some(RoleArg::Write) => Role::Write,
                Some(RoleArg::Read) => Role::Read,
                None => Role::Machine,
            };
            let name = a.name.clone().unwrap_or_else(|| match (&a.app, &a.env) {
                (Some(app), Some(env)) => format!("{app}-{env}"),
                _ => role.as_str().to_string(),
            });
            let expires_at = a
                .expires
                .as_deref()
                .map(|e| clock::parse_expiry(e, clock::now()))
                .transpose()?
                .flatten();
            let new = b
                .create_token(&name, role, a.app.as_deref(), a.env.as_deref(), expires_at)
                .await?;
            let row = &new.info;
            match a.out.output {
                Some(TableOrJson::Json) => output::print_json(&new)?,
                _ => {
                    eprintln!(
                        "created token {} ({}){}; it is shown once, below",
                        row.id,
                        row.name,
                        match (&row.app, &row.env) {
                            (Some(app), Some(env)) =>
                                format!(", machine token for app {app} in {env}"),
                            _ => format!(", role {}", row.role),
                        }
                    );
                    let mut out = std::io::stdout().lock();
                    // EXPOSE: `tokens create` prints the token alone on stdout, once.
                    writeln!(out, "{}", new.token)?;
                }
            }
            Ok(())
        }
        TokensCommand::List(o) => {
            let list = b.tokens().await?;
            match o.output {
                TableOrJson::Json => output::print_json(&list),
                TableOrJson::Table => output::print_table(
                    &[
                        "ID", "NAME", "ROLE", "APP", "ENV", "STATUS", "EXPIRES", "CREATED",
                    ],
                    &list
                        .iter()
                        .map(|t| {
                            vec![
                                t.id.clone(),
                                t.name.clone(),
                                t.role.clone(),
                                t.app.clone().unwrap_or_else(|| "-".into()),
                                t.env.clone().unwrap_or_else(|| "-".into()),
                                t.status.clone(),
                                t.expires_at
                                    .map(clock::rfc3339)
                                    .unwrap_or_else(|| "never".into()),
                                t.created_at.clone(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
        TokensCommand::Revoke(a) => {
            let t = b.revoke_token(&a.id).await?;
            eprintln!("revoked token {} ({})", t.id, t.name);
            Ok(())
        }
    }
}

/// The head `--head` or `--head-file` names, validated. Messages name the flag or file, never
/// what was in it.
fn expected_head(a: &VerifyArgs) -> Result<Option<Head>> {
    const FORM: &str =
        "SEQ:MAC as `hush audit head` prints it (a sequence number, a colon, 64 hex digits)";
    let parse = |text: &str, from: &str| -> Result<Head> {
        let text = text.trim();
        let (seq, mac) = if text.starts_with('{') {
            let h: hush_wire::AuditHead = serde_json::from_str(text)
                .map_err(|_| Failure::usage(format!("{from} is not {FORM}, nor its JSON form")))?;
            (h.seq, h.mac)
        } else {
            let (seq, mac) = text
                .split_once(':')
                .ok_or_else(|| Failure::usage(format!("{from} must be {FORM}")))?;
            let seq = seq.trim().parse::<i64>().map_err(|_| {
                Failure::usage(format!(
                    "{from}: the sequence number is not a number; give {FORM}"
                ))
            })?;
            (seq, mac.to_string())
        };
        Head::new(seq, &mac).map_err(|e| {
            let what = match e {
                HeadError::Seq => "the sequence number must be 0 or more",
                _ => "the MAC must be 64 hex digits",
            };
            Failure::usage(format!("{from}: {what}; give {FORM}")).into()
        })
    };
    if let Some(h) = &a.head {
        return Ok(Some(parse(h, "--head")?));
    }
    if let Some(path) = &a.head_file {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Failure::usage(format!("cannot read --head-file {}: {e}", path.display()))
        })?;
        return Ok(Some(parse(
            &text,
            &format!("--head-file {}", path.display()),
        )?));
    }
    Ok(None)
}

pub async fn audit(b: &dyn Backend, a: AuditArgs) -> Result<()> {
    match a.command {
        Some(AuditCommand::Verify(v)) => return verify(b, &v).await,
        Some(AuditCommand::Head(o)) => {
            let h = b.audit_head().await.map_err(|e| {
                // A head that does not check out is a broken chain: the exit code of a failed
                // verify, on the embedded store and against a server alike.
                match e.downcast_ref::<hush_client::Error>() {
                    Some(hush_client::Error::Conflict { code, message })
                        if *code == hush_client::ErrorCode::AuditBroken =>
                    {
                        Failure::new(1, message.clone()).into()
                    }
                    _ => e,
                }
            })?;
            return match o.output {
                TableOrJson::Json => output::print_json(&h),
                TableOrJson::Table => {
                    println!("{}:{}", h.seq, h.mac);
                    Ok(())
                }
            };
        }
        Some(AuditCommand::Export(e)) => return export(b, &e).await,
        Some(AuditCommand::Prune(p)) => return prune(b, &p).await,
        None => {}
    }
    let since_ms = a
        .since
        .as_deref()
        .map(|s| clock::parse_expiry(s, clock::now()))
        .transpose()?
        .flatten()
        .map(|s| {
            s.checked_mul(1000)
                .ok_or_else(|| Failure::usage("--since is out of range"))
        })
        .transpose()?;
    let filter = AuditFilter {
        key: a.key,
        actor: a.actor,
        since_ms,
        ..AuditFilter::default()
    };
    let asked = filter.key.clone();
    let mut list = b.audit(&filter).await?;
    if let Some(n) = a.limit {
        let skip = list.len().saturating_sub(n);
        list.drain(..skip);
    }
    match a.out.output {
        TableOrJson::Json => output::print_json(&list),
        TableOrJson::Table => output::print_table(
            &[
                "SEQ", "TIME", "ACTOR", "ACTION", "KEY", "ENV", "VERSION", "OUTCOME", "REMOTE",
                "REQUEST", "DETAIL",
            ],
            &list
                .iter()
                .map(|r| {
                    let (key, env, version, outcome, detail) = shown(r, asked.as_deref());
                    let dash = |v: Option<String>| v.unwrap_or_else(|| "-".into());
                    vec![
                        r.seq.to_string(),
                        r.time.clone(),
                        r.actor_name.clone(),
                        r.action.clone(),
                        key,
                        dash(env),
                        dash(version.map(|v| v.to_string())),
                        outcome,
                        dash(r.remote.clone()),
                        dash(r.request_id.clone()),
                        dash(detail),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
}

/// A row's key, environment, version, outcome and detail as the table shows them. A row naming
/// several keys (one resolve) shows, under `--key K`, K's part of it; otherwise its first keys.
fn shown(
    r: &hush_wire::AuditRecord,
    asked: Option<&str>,
) -> (String, Option<String>, Option<u64>, String, Option<String>) {
    if r.items.is_empty() {
        let key = r.key.clone().unwrap_or_else(|| "-".into());
        return (
            key,
            r.env.clone(),
            r.version,
            r.outcome.clone(),
            r.detail.clone(),
        );
    }
    let n = r.items.len();
    if let Some(i) = asked.and_then(|k| r.items.iter().find(|i| i.key == k)) {
        let detail = match &i.detail {
            Some(d) => format!("{d}; 1 of {n} keys in this request"),
            None => format!("1 of {n} keys in this request"),
        };
        return (
            i.key.clone(),
            i.env.clone(),
            i.version,
            i.outcome.clone(),
            Some(detail),
        );
    }
    let first: Vec<&str> = r.items.iter().take(3).map(|i| i.key.as_str()).collect();
    let key = match n {
        0..=3 => first.join(", "),
        _ => format!("{} and {} more", first.join(", "), n - 3),
    };
    let refused = r.items.iter().filter(|i| i.outcome != "ok").count();
    let detail = format!("{n} keys, {refused} refused (-o json lists each)");
    (key, None, None, r.outcome.clone(), Some(detail))
}

async fn verify(b: &dyn Backend, a: &VerifyArgs) -> Result<()> {
    let expected = expected_head(a)?;
    let w = b.verify_audit(expected.as_ref()).await?;
    match a.out.output {
        TableOrJson::Json => output::print_json(&w)?,
        TableOrJson::Table if w.intact => {
            let first = w.checkpoint.as_ref().map_or(1, |c| c.seq + 1);
            let legacy = match w.legacy_rows as i64 {
                0 => String::new(),
                n => format!(
                    " (rows {first} to {} predate the keyed chain: plain SHA-256 links, anchored by row {}'s MAC)",
                    first + n - 1,
                    first + n
                ),
            };
            println!("audit chain intact: {} rows{legacy}", w.rows);
            if let Some(c) = &w.checkpoint {
                println!(
                    "checkpoint: {}:{} (rows up to {} were pruned; verified from there)",
                    c.seq, c.mac, c.seq
                );
            }
            if let Some(h) = &expected {
                match &w.checkpoint {
                    Some(c) if h.seq < c.seq => println!(
                        "recorded head {} was pruned since: the chain runs on past it",
                        h.seq
                    ),
                    _ => println!("recorded head {} is there unchanged", h.seq),
                }
            }
            println!("head: {}:{}", w.head_seq, w.head_mac);
        }
        TableOrJson::Table => println!(
            "audit chain BROKEN at row {}: {}",
            w.first_bad_seq.unwrap_or_default(),
            w.reason.clone().unwrap_or_default()
        ),
    }
    if w.intact {
        return Ok(());
    }
    Err(Failure::new(
        1,
        format!(
            "the audit log was tampered with: row {}: {}",
            w.first_bad_seq.unwrap_or_default(),
            w.reason.unwrap_or_default()
        ),
    )
    .into())
}

/// A `--since`/`--until` time in unix milliseconds.
fn when_ms(flag: &str, when: Option<&str>) -> Result<Option<i64>> {
    when.map(|s| clock::parse_expiry(s, clock::now()))
        .transpose()?
        .flatten()
        .map(|s| {
            s.checked_mul(1000)
                .ok_or_else(|| Failure::usage(format!("{flag} is out of range")).into())
        })
        .transpose()
}

/// `hush audit prune --before WHEN`.
async fn prune(b: &dyn Backend, p: &PruneArgs) -> Result<()> {
    // Read here first, so a WHEN that is no time is a usage error before anything is asked.
    let before = clock::parse_past("--before", &p.before, clock::now_ms())?;
    let done = b.prune_audit(&p.before).await.map_err(|e| {
        // A chain that does not verify is not pruned: the exit code of a failed verify.
        match e.downcast_ref::<hush_core::Error>() {
            Some(hush_core::Error::AuditBroken { .. }) => Failure::new(1, e.to_string()).into(),
            _ => match e.downcast_ref::<hush_client::Error>() {
                Some(hush_client::Error::Conflict { code, message })
                    if *code == hush_client::ErrorCode::AuditBroken =>
                {
                    Failure::new(1, message.clone()).into()
                }
                _ => e,
            },
        }
    })?;
    match p.out.output {
        TableOrJson::Json => output::print_json(&done),
        TableOrJson::Table => {
            if done.removed == 0 {
                println!(
                    "no audit row is older than {}: nothing was pruned",
                    clock::rfc3339_ms(before)
                );
            } else {
                println!(
                    "pruned {} audit row(s) older than {}",
                    done.removed,
                    clock::rfc3339_ms(before)
                );
            }
            if let Some(c) = &done.checkpoint {
                println!("checkpoint: {}:{}", c.seq, c.mac);
            }
            println!("head: {}:{}", done.head.seq, done.head.mac);
            Ok(())
        }
    }
}

/// `hush audit export`: JSON lines, oldest first.
async fn export(b: &dyn Backend, e: &crate::cli::ExportArgs) -> Result<()> {
    let filter = AuditFilter {
        since_ms: when_ms("--since", e.since.as_deref())?,
        until_ms: when_ms("--until", e.until.as_deref())?,
        ..AuditFilter::default()
    };
    let rows = b.audit(&filter).await?;
    let mut out = std::io::stdout().lock();
    for r in &rows {
        let line = hush_core::wire::audit_line(r)?;
        if let Err(e) = writeln!(out, "{line}") {
            if e.kind() == std::io::ErrorKind::BrokenPipe {
                return Ok(());
            }
            return Err(e.into());
        }
    }
    out.flush()?;
    eprintln!("exported {} audit row(s)", rows.len());
    Ok(())
}

/// `hush whoami`: the token commands act with, or the local user on the embedded store.
pub async fn whoami(
    b: &dyn Backend,
    scope: &crate::Scope,
    a: crate::cli::WhoamiArgs,
) -> Result<()> {
    let me = b.whoami().await?;
    let json = matches!(a.out.output, TableOrJson::Json);
    match me {
        Some(w) if json => output::print_json(&w),
        Some(w) => {
            let t = &w.token;
            let dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            output::print_table(
                &["FIELD", "VALUE"],
                &[
                    vec!["name".into(), t.name.clone()],
                    vec!["id".into(), t.id.clone()],
                    vec!["role".into(), t.role.clone()],
                    vec!["app".into(), dash(&t.app)],
                    vec!["env".into(), dash(&t.env)],
                    vec!["workspace".into(), w.workspace.clone()],
                    vec![
                        "expires".into(),
                        t.expires_at
                            .map_or_else(|| "never".into(), hush_core::clock::rfc3339),
                    ],
                    vec!["status".into(), t.status.clone()],
                ],
            )
        }
        None => {
            let local = hush_core::Actor::local();
            let name = local.name().to_string();
            if json {
                output::print_json(&serde_json::json!({
                    "token": null,
                    "local": name,
                    "role": "admin",
                    "workspace": scope.workspace,
                }))
            } else {
                output::print_table(
                    &["FIELD", "VALUE"],
                    &[
                        vec!["name".into(), name],
                        vec!["role".into(), "admin (the embedded store: no token)".into()],
                        vec!["workspace".into(), scope.workspace.clone()],
                    ],
                )
            }
        }
    }
}
