//! `hush check`: what `hush run` would get for a manifest and `--secret`/`--file` flags,
//! without reading a value — each declaration's status, which source would supply it and when
//! it expires, and for one that no source has, every place looked at.

use anyhow::Result;
use hush_core::clock;

use super::plan::Plan;
use super::sources::{gather, LocalSources, StoreAccess, Tried};
use super::NOT_STARTED;
use crate::cli::{CheckArgs, TableOrJson};
use crate::fail::Failure;
use crate::{manifest, output};

/// One row of `hush check`.
#[derive(serde::Serialize)]
struct CheckRow {
    name: String,
    key: String,
    required: bool,
    delivery: &'static str,
    status: String,
    source: Option<String>,
    expires_at: Option<i64>,
    tried: Vec<Tried>,
    /// Where it was looked for, when no source had it.
    #[serde(skip_serializing_if = "Option::is_none")]
    looked: Option<String>,
}

/// `hush check`: returns the exit code.
pub async fn check(args: CheckArgs, scope: &crate::Scope) -> Result<i32> {
    let path = manifest::locate(args.manifest.as_deref())?;
    if path.is_none() && args.secret.is_empty() && args.file.is_empty() {
        return Err(Failure::usage(
            "nothing to check: there is no hush.toml here; give one with --manifest FILE, or name secrets with --secret KEY[=NAME] / --file KEY[=NAME]",
        )
        .into());
    }
    let mut plan = Plan::new(
        path.as_deref(),
        args.app.as_deref(),
        args.env.as_deref(),
        &args.secret,
        &args.file,
    )?;
    plan.declared = true;
    let local = LocalSources::read(&args.sources, args.inherit_env || plan.inherit)?;
    let mut store = StoreAccess::new(scope);
    let outcomes = if plan.wants.is_empty() {
        Vec::new()
    } else {
        gather(&plan, &local, &mut store, true).await?
    };
    let now = clock::now();
    let mut all_ok = true;
    let rows: Vec<CheckRow> = outcomes
        .into_iter()
        .map(|o| {
            let (key, status, source, expires_at) = match &o.got {
                Some(got) => {
                    // Within the secret's own warning window (`notify_before`, default 14
                    // days), as the API's status `expiring`.
                    let window = got
                        .notify_before
                        .unwrap_or(hush_core::model::DEFAULT_NOTIFY_BEFORE);
                    let status = match got.expires_at {
                        Some(at) if at - now <= window => "expiring",
                        _ => "ok",
                    };
                    let source = Some(got.source.label());
                    (got.key.clone(), status.to_string(), source, got.expires_at)
                }
                None => {
                    let status = o
                        .tried
                        .first()
                        .map_or_else(|| "missing".to_string(), |t| t.status.clone());
                    (o.decl.key.clone(), status, None, None)
                }
            };
            if o.got.is_none() && o.decl.required {
                all_ok = false;
            }
            let looked = o.got.is_none().then(|| o.describe());
            CheckRow {
                name: o.decl.name.clone(),
                key,
                required: o.decl.required,
                delivery: o.decl.delivery.as_str(),
                status,
                source,
                expires_at,
                tried: o.tried,
                looked,
            }
        })
        .collect();
    match args.out.output {
        TableOrJson::Json => output::print_json(&rows)?,
        TableOrJson::Table => {
            let table: Vec<Vec<String>> = rows
                .iter()
                .map(|r| {
                    vec![
                        r.name.clone(),
                        r.key.clone(),
                        if r.required { "yes" } else { "no" }.into(),
                        r.status.replace('_', " "),
                        r.source.clone().unwrap_or_else(|| "-".into()),
                        r.expires_at
                            .map(clock::rfc3339)
                            .unwrap_or_else(|| "-".into()),
                    ]
                })
                .collect();
            output::print_table(
                &["NAME", "KEY", "REQUIRED", "STATUS", "SOURCE", "EXPIRES"],
                &table,
            )?;
            for looked in rows.iter().filter_map(|r| r.looked.as_ref()) {
                eprintln!("{looked}");
            }
        }
    }
    Ok(if all_ok { 0 } else { NOT_STARTED })
}
