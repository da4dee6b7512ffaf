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
    let read = |key: &str| info.keys.iter().find(|k| k.key == key);
    let last_read = |key: &str| {
        read(key)
            .and_then(|k| k.last_read_at.clone())
            .unwrap_or_else(|| "never".into())
    };
    // The environment the last read was made in ("-": it named none, or never read).
    let read_in = |key: &str| {
        read(key)
            .and_then(|k| k.env.clone())
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
                last_read(&d.key),
                read_in(&d.key),
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
