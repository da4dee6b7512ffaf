//! `hush tokens …` and `hush audit …` on the embedded store.

use std::io::Write as _;

use anyhow::Result;
use hush_core::audit::{AuditFilter, Verdict};
use hush_core::token::Role;
use hush_core::{clock, wire, Actor, Hush};

use crate::cli::{AuditArgs, AuditCommand, RoleArg, TableOrJson, TokensCommand};
use crate::fail::Failure;
use crate::output;

pub async fn run(hush: &Hush, workspace: &str, cmd: TokensCommand, actor: &Actor) -> Result<()> {
    let (ws, _) = hush.workspace(workspace, false).await?;
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
            let (row, secret) = hush
                .create_token(
                    &ws,
                    &name,
                    role,
                    a.app.as_deref(),
                    a.env.as_deref(),
                    expires_at,
                    actor,
                )
                .await?;
            let info = wire::token(&row, clock::now());
            match a.output {
                Some(TableOrJson::Json) => {
                    // EXPOSE: the one answer that carries the new token.
                    let new = hush_wire::NewToken {
                        info,
                        token: secret.expose_secret().to_string(),
                    };
                    output::print_json(&new)?;
                }
                _ => {
                    eprintln!(
                        "created token {} ({}){}; it is shown once, below",
                        row.id,
                        row.name,
                        match (&row.app, &row.env) {
                            (Some(app), Some(env)) =>
                                format!(", machine token for app {app} in {env}"),
                            _ => format!(", role {}", row.role.as_str()),
                        }
                    );
                    let mut out = std::io::stdout().lock();
                    // EXPOSE: `tokens create` prints the token alone on stdout, once.
                    writeln!(out, "{}", secret.expose_secret())?;
                }
            }
            Ok(())
        }
        TokensCommand::List(o) => {
            let now = clock::now();
            let list: Vec<_> = hush
                .tokens(&ws, actor)
                .await?
                .iter()
                .map(|t| wire::token(t, now))
                .collect();
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
            let t = hush.revoke_token(&ws, &a.id, actor).await?;
            eprintln!("revoked token {} ({})", t.id, t.name);
            Ok(())
        }
    }
}

pub async fn audit(hush: &Hush, workspace: &str, a: AuditArgs, actor: &Actor) -> Result<()> {
    let (ws, _) = hush.workspace(workspace, false).await?;
    if let Some(AuditCommand::Verify(o)) = a.command {
        let verdict = hush.verify_audit(&ws, actor).await?;
        let w = wire::verdict(&verdict);
        match o.output {
            TableOrJson::Json => output::print_json(&w)?,
            TableOrJson::Table => match &verdict {
                Verdict::Intact { rows } => println!("audit chain intact: {rows} rows"),
                Verdict::Broken { seq, reason } => {
                    println!("audit chain BROKEN at row {seq}: {reason}")
                }
            },
        }
        return match verdict {
            Verdict::Intact { .. } => Ok(()),
            Verdict::Broken { seq, reason } => Err(Failure::new(
                1,
                format!("the audit log was tampered with: row {seq}: {reason}"),
            )
            .into()),
        };
    }
    let since_ms = a
        .since
        .as_deref()
        .map(|s| clock::parse_expiry(s, clock::now()))
        .transpose()?
        .flatten()
        .map(|s| s * 1000);
    let filter = AuditFilter {
        key: a.key,
        actor: a.actor,
        since_ms,
        ..AuditFilter::default()
    };
    let mut rows = hush.audit_log(&ws, &filter, actor).await?;
    if let Some(n) = a.limit {
        let skip = rows.len().saturating_sub(n);
        rows.drain(..skip);
    }
    let list: Vec<_> = rows.iter().map(wire::audit).collect();
    match a.output {
        TableOrJson::Json => output::print_json(&list),
        TableOrJson::Table => output::print_table(
            &[
                "SEQ", "TIME", "ACTOR", "ACTION", "KEY", "VERSION", "OUTCOME", "REMOTE",
            ],
            &list
                .iter()
                .map(|r| {
                    vec![
                        r.seq.to_string(),
                        r.time.clone(),
                        r.actor_name.clone(),
                        r.action.clone(),
                        r.key.clone().unwrap_or_else(|| "-".into()),
                        r.version
                            .map(|v| v.to_string())
                            .unwrap_or_else(|| "-".into()),
                        r.outcome.clone(),
                        r.remote.clone().unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect::<Vec<_>>(),
        ),
    }
}
