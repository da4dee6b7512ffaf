//! `hush apps`: registered manifests.

use anyhow::Result;
use hush_wire::AppInfo;

use crate::backend::Backend;
use crate::cli::{AppsCommand, TableOrJson};
use crate::fail::Failure;
use crate::{manifest, output};

pub async fn run(b: &dyn Backend, cmd: AppsCommand) -> Result<()> {
    match cmd {
        AppsCommand::Register(a) => {
            let Some(path) = manifest::locate(a.manifest.as_deref())? else {
                return Err(Failure::usage(
                    "no manifest: there is no hush.toml here; give its path: hush apps register FILE",
                )
                .into());
            };
            let m = manifest::load(&path)?;
            let info = b.register_app(&m).await?;
            match a.out.output {
                TableOrJson::Json => output::print_json(&info),
                TableOrJson::Table => {
                    eprintln!(
                        "registered app {} ({}): {} secret(s), {} key(s) now in use by it",
                        info.app,
                        info.env.as_deref().unwrap_or("any environment"),
                        info.secrets.len(),
                        info.keys.len()
                    );
                    Ok(())
                }
            }
        }
        AppsCommand::List(a) => {
            let apps = b.apps().await?;
            match a.output {
                TableOrJson::Json => output::print_json(&apps),
                TableOrJson::Table => {
                    let rows: Vec<Vec<String>> = apps
                        .iter()
                        .map(|a| {
                            vec![
                                a.app.clone(),
                                a.env.clone().unwrap_or_else(|| "-".into()),
                                a.secrets.len().to_string(),
                                a.updated_at.clone(),
                                a.registered_by.clone(),
                            ]
                        })
                        .collect();
                    output::print_table(&["APP", "ENV", "SECRETS", "REGISTERED", "BY"], &rows)
                }
            }
        }
        AppsCommand::Show(a) => {
            let info = b.app(&a.app).await?;
            match a.out.output {
                TableOrJson::Json => output::print_json(&info),
                TableOrJson::Table => show(&info),
            }
        }
        AppsCommand::Delete(a) => {
            b.delete_app(&a.app).await?;
            eprintln!("unregistered app {}", a.app);
            Ok(())
        }
    }
}

fn show(info: &AppInfo) -> Result<()> {
    println!("app:           {}", info.app);
    println!("env:           {}", info.env.as_deref().unwrap_or("-"));
    println!(
        "registered:    {} by {}",
        info.updated_at, info.registered_by
    );
    println!();
    // A declaration's last read is the latest of its key's and its fallbacks' (a fallback
    // that served is named after the time; in a tie, the fallback's read).
    let last = |d: &hush_wire::SecretDecl| {
        std::iter::once(&d.key)
            .chain(&d.fallback)
            .enumerate()
            .filter_map(|(n, key)| {
                let k = info.keys.iter().find(|k| k.key == *key)?;
                Some((k.last_read_at.clone()?, n, k))
            })
            .max_by(|a, b| (&a.0, a.1).cmp(&(&b.0, b.1)))
    };
    let last_read = |d: &hush_wire::SecretDecl| match last(d) {
        Some((at, 0, _)) => at,
        Some((at, _, k)) => format!("{at} ({})", k.key),
        None => "never".into(),
    };
    // The environment the last read was made in ("-": it named none, or never read).
    let read_in = |d: &hush_wire::SecretDecl| {
        last(d)
            .and_then(|(_, _, k)| k.env.clone())
            .unwrap_or_else(|| "-".into())
    };
    let rows: Vec<Vec<String>> = info
        .secrets
        .iter()
        .map(|d| {
            vec![
                d.name.clone(),
                d.key.clone(),
                if d.required { "yes" } else { "no" }.into(),
                d.delivery.as_str().into(),
                if d.fallback.is_empty() {
                    "-".into()
                } else {
                    d.fallback.join(", ")
                },
                last_read(d),
                read_in(d),
            ]
        })
        .collect();
    output::print_table(
        &[
            "NAME",
            "KEY",
            "REQUIRED",
            "AS",
            "FALLBACK",
            "LAST READ",
            "READ IN",
        ],
        &rows,
    )
}
