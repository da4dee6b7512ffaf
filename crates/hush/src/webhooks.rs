//! `hush webhooks …` (admin), on the embedded store or a server. The deliveries themselves
//! are made by `hush server` (every node), whichever way a webhook was registered.

use std::io::Write as _;

use anyhow::Result;
use clap::{Args, Subcommand};

use crate::backend::Backend;
use crate::cli::{OutputArgs, ReportArgs, TableOrJson, EXIT_CODES};
use crate::output;

#[derive(Debug, Subcommand)]
pub enum WebhooksCommand {
    /// Register an endpoint; prints its signing secret alone on stdout (details on stderr),
    /// once.
    #[command(after_help = EXIT_CODES)]
    Add(WebhookAddArgs),
    /// List the webhooks (never their secrets).
    #[command(after_help = EXIT_CODES)]
    List(OutputArgs),
    /// Remove a webhook and its deliveries.
    #[command(after_help = EXIT_CODES)]
    Remove(WebhookRemoveArgs),
    /// The newest deliveries and their outcomes (of one webhook, with its id).
    #[command(after_help = EXIT_CODES)]
    Deliveries(WebhookDeliveriesArgs),
}

#[derive(Debug, Args)]
pub struct WebhookAddArgs {
    /// Where to POST events: an http:// or https:// URL.
    pub url: String,
    /// The event types to send, comma-separated: created, updated, revoked, restored,
    /// deleted, expiring, expired, fallback.
    #[arg(long, value_name = "TYPES", value_delimiter = ',', required = true)]
    pub events: Vec<String>,
    #[command(flatten)]
    pub out: ReportArgs,
}

#[derive(Debug, Args)]
pub struct WebhookRemoveArgs {
    /// The webhook's id (whk_…).
    pub id: String,
}

#[derive(Debug, Args)]
pub struct WebhookDeliveriesArgs {
    /// Only this webhook's deliveries (whk_…).
    pub id: Option<String>,
    /// At most this many, newest first (1 to 1000).
    #[arg(long, default_value_t = 100, value_parser = clap::value_parser!(u64).range(1..=1000))]
    pub limit: u64,
    #[command(flatten)]
    pub out: OutputArgs,
}

pub async fn run(b: &dyn Backend, cmd: WebhooksCommand) -> Result<()> {
    match cmd {
        WebhooksCommand::Add(a) => {
            let new = b.add_webhook(&a.url, &a.events).await?;
            match a.out.output {
                Some(TableOrJson::Json) => output::print_json(&new)?,
                _ => {
                    eprintln!(
                        "registered webhook {} for {} ({}); its signing secret is shown once, below",
                        new.info.id,
                        new.info.url,
                        new.info.events.join(",")
                    );
                    let mut out = std::io::stdout().lock();
                    // EXPOSE: `webhooks add` prints the signing secret alone on stdout, once.
                    writeln!(out, "{}", new.secret)?;
                }
            }
            Ok(())
        }
        WebhooksCommand::List(o) => {
            let list = b.webhooks().await?;
            match o.output {
                TableOrJson::Json => output::print_json(&list),
                TableOrJson::Table => output::print_table(
                    &["ID", "URL", "EVENTS", "CREATED", "BY"],
                    &list
                        .iter()
                        .map(|w| {
                            vec![
                                w.id.clone(),
                                w.url.clone(),
                                w.events.join(","),
                                w.created_at.clone(),
                                w.created_by.clone(),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
        WebhooksCommand::Remove(a) => {
            b.remove_webhook(&a.id).await?;
            eprintln!("removed webhook {}", a.id);
            Ok(())
        }
        WebhooksCommand::Deliveries(a) => {
            let list = b
                .webhook_deliveries(a.id.as_deref(), a.limit as usize)
                .await?;
            match a.out.output {
                TableOrJson::Json => output::print_json(&list),
                TableOrJson::Table => output::print_table(
                    &[
                        "ID", "WEBHOOK", "EVENT", "TYPE", "KEY", "STATUS", "ATTEMPTS", "LAST",
                        "WHEN",
                    ],
                    &list
                        .iter()
                        .map(|d| {
                            vec![
                                d.id.clone(),
                                d.webhook.clone(),
                                d.event_id.to_string(),
                                d.event.clone(),
                                d.key.clone(),
                                d.status.clone(),
                                d.attempts.to_string(),
                                match (&d.last_status, &d.last_error) {
                                    (_, Some(e)) => e.clone(),
                                    (Some(s), None) => format!("HTTP {s}"),
                                    (None, None) => "-".into(),
                                },
                                d.delivered_at
                                    .clone()
                                    .or_else(|| {
                                        d.next_attempt_at.clone().map(|n| format!("next {n}"))
                                    })
                                    .unwrap_or_else(|| d.created_at.clone()),
                            ]
                        })
                        .collect::<Vec<_>>(),
                ),
            }
        }
    }
}
