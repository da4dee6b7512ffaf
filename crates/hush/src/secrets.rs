//! `hush secrets …`, on the embedded store or a server (see `backend/`).

use std::io::Write as _;

use anyhow::Result;
use hush_core::patch::PatchRules as _;
use hush_core::{clock, ListFilter, MetadataPatch, Status, StoredStatus, TokenType, ValueFormat};
use hush_wire::SecretMeta;

use crate::backend::Backend;

use crate::cli::{
    DeleteArgs, FormatArg, GetArgs, HistoryArgs, ListArgs, MetadataArgs, RawOrJson, RollbackArgs,
    SecretsCommand, ShowArgs, StatusArg, StatusArgs, TableOrJson, TypeArg, UpdateArgs, WriteArgs,
};
use crate::fail::Failure;
use crate::{output, value};

/// Turns metadata flags into a validated patch.
fn patch_from(args: &MetadataArgs) -> Result<MetadataPatch> {
    let mut p = MetadataPatch::default();
    if let Some(d) = &args.description {
        p.description = Some(Some(d.clone()));
    }
    if let Some(t) = args.token_type {
        p.token_type = Some(Some(match t {
            TypeArg::Api => TokenType::Api,
            TypeArg::Access => TokenType::Access,
        }));
    }
    if args.clear_scope {
        p.scope = Some(Vec::new());
    } else if !args.scope.is_empty() {
        p.scope = Some(args.scope.clone());
    }
    if args.clear_envs {
        p.envs = Some(Vec::new());
    } else if !args.envs.is_empty() {
        p.envs = Some(args.envs.clone());
    }
    if let Some(e) = &args.expires {
        p.expires_at = Some(clock::parse_expiry(e, clock::now())?);
    }
    if let Some(n) = &args.notify_before {
        p.notify_before = Some(Some(clock::parse_span("--notify-before", n)?));
    }
    p.allow_past = args.allow_past;
    p.format = args.format.map(|f| match f {
        FormatArg::Text => ValueFormat::Text,
        FormatArg::Json => ValueFormat::Json,
    });
    p.validate()?;
    Ok(p)
}

/// Checks an `--env` name before anything is read or written.
fn env_arg(env: Option<&str>) -> Result<()> {
    if let Some(e) = env {
        hush_core::model::validate_env(e)?;
    }
    Ok(())
}

/// `DB_URL` or `DB_URL for prd`, and the version written: of the shared value or `env`'s own.
fn written(meta: &SecretMeta, env: Option<&str>) -> String {
    match env {
        Some(e) => format!(
            "{} for {e} ({e} version {})",
            meta.key,
            meta.env_versions.get(e).copied().unwrap_or(0)
        ),
        None => format!("{} (version {})", meta.key, meta.version),
    }
}

fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn report(meta: &SecretMeta, output: Option<TableOrJson>) -> Result<()> {
    match output {
        Some(TableOrJson::Json) => output::print_json(meta),
        Some(TableOrJson::Table) => output::secret_detail(meta),
        None => Ok(()),
    }
}

fn note_if_revoked(meta: &SecretMeta) {
    if meta.status == "revoked" {
        say(&format!(
            "note: {0} is revoked; run `hush secrets restore {0}` to serve it again",
            meta.key
        ));
    }
}

fn key_arg(key: &str) -> Result<()> {
    hush_core::model::validate_key(key)?;
    Ok(())
}

pub async fn run(b: &dyn Backend, workspace: &str, cmd: SecretsCommand) -> Result<()> {
    hush_core::model::validate_workspace(workspace)?;
    match cmd {
        SecretsCommand::Set(a) => set(b, a).await,
        SecretsCommand::Create(a) => create(b, a).await,
        SecretsCommand::Update(a) => update(b, a).await,
        SecretsCommand::Get(a) => get(b, a).await,
        SecretsCommand::Show(a) => show(b, a).await,
        SecretsCommand::List(a) => list(b, a).await,
        SecretsCommand::History(a) => history(b, a).await,
        SecretsCommand::Rollback(a) => rollback(b, a).await,
        SecretsCommand::Revoke(a) => set_status(b, a, StoredStatus::Revoked).await,
        SecretsCommand::Restore(a) => set_status(b, a, StoredStatus::Active).await,
        SecretsCommand::Delete(a) => delete(b, a).await,
    }
}

/// Checks the key and refuses a value typed on the command line, before asking for a value, so
/// nobody types a secret for a bad name.
fn check_key(a: &WriteArgs) -> Result<()> {
    if !a.stray.is_empty() {
        return Err(Failure::usage(
            "a value cannot be given on the command line, where shell history and process lists keep it: \
             use the hidden prompt, --stdin or --from-file FILE; nothing was stored",
        )
        .into());
    }
    key_arg(&a.key)
}

/// Reads the value and checks its size, before anything is written (the workspace included).
fn read_value(a: &WriteArgs) -> Result<hush_core::SecretBytes> {
    let v = value::read(&a.value, &a.key)?;
    hush_core::model::validate_value_len(v.len())?;
    if a.meta.format == Some(FormatArg::Json) {
        // EXPOSE: parsed before it leaves for a store or a server; nothing of it is shown.
        hush_core::model::validate_format(ValueFormat::Json, v.expose_secret())?;
    }
    Ok(v)
}

async fn set(b: &dyn Backend, a: WriteArgs) -> Result<()> {
    check_key(&a)?;
    env_arg(a.env.as_deref())?;
    let patch = patch_from(&a.meta)?;
    let v = read_value(&a)?;
    let env = a.env.as_deref();
    let (meta, created) = b.put(&a.key, env, &v, &patch).await?;
    say(&format!(
        "{} {}",
        if created { "created" } else { "updated" },
        written(&meta, env)
    ));
    note_if_revoked(&meta);
    report(&meta, a.out.output)
}

async fn create(b: &dyn Backend, a: WriteArgs) -> Result<()> {
    check_key(&a)?;
    env_arg(a.env.as_deref())?;
    let patch = patch_from(&a.meta)?;
    if b.exists(&a.key).await? {
        // Refuse before prompting for a value that would be thrown away.
        return Err(hush_core::Error::Exists { key: a.key }.into());
    }
    let v = read_value(&a)?;
    let meta = b.create(&a.key, a.env.as_deref(), &v, &patch).await?;
    say(&format!("created {}", written(&meta, a.env.as_deref())));
    report(&meta, a.out.output)
}

async fn update(b: &dyn Backend, a: UpdateArgs) -> Result<()> {
    let w = a.write;
    check_key(&w)?;
    env_arg(w.env.as_deref())?;
    let env = w.env.as_deref();
    let patch = patch_from(&w.meta)?;
    let current = b.show(&w.key).await?;
    if let Some(expected) = a.if_version {
        // The version of the value this update writes: `--env`'s own, or the shared one.
        let now = match env {
            Some(e) => current.env_versions.get(e).copied().unwrap_or(0),
            None => current.version,
        };
        if expected != now {
            return Err(hush_core::Error::StaleVersion {
                key: w.key,
                expected,
                current: now,
            }
            .into());
        }
    }
    let v = if w.value.given() || !w.meta.given() {
        Some(read_value(&w)?)
    } else {
        None
    };
    if v.is_none() && patch.format.is_some() {
        return Err(hush_core::Invalid::FormatWithoutValue.into());
    }
    let meta = b
        .update(&w.key, env, v.as_ref(), &patch, a.if_version)
        .await?;
    if v.is_some() {
        say(&format!("updated {}", written(&meta, env)));
    } else {
        say(&format!(
            "updated the metadata of {} (value unchanged, version {})",
            meta.key, meta.version
        ));
    }
    note_if_revoked(&meta);
    report(&meta, w.out.output)
}

async fn get(b: &dyn Backend, a: GetArgs) -> Result<()> {
    key_arg(&a.key)?;
    env_arg(a.env.as_deref())?;
    if a.version == Some(0) {
        return Err(hush_core::Invalid::Version { value: 0 }.into());
    }
    let f = b.get(&a.key, a.env.as_deref(), a.version).await?;
    crate::backend::warn_all(&f.meta.warnings);
    match a.out.output {
        RawOrJson::Raw => {
            let mut out = std::io::stdout().lock();
            // EXPOSE: `get` is the command whose job is to print the value.
            out.write_all(f.bytes.expose_secret())?;
            out.flush()?;
            Ok(())
        }
        RawOrJson::Json => output::print_json(&f.meta),
    }
}

async fn show(b: &dyn Backend, a: ShowArgs) -> Result<()> {
    key_arg(&a.key)?;
    let meta = b.show(&a.key).await?;
    match a.out.output {
        TableOrJson::Json => output::print_json(&meta),
        TableOrJson::Table => output::secret_detail(&meta),
    }
}

async fn list(b: &dyn Backend, a: ListArgs) -> Result<()> {
    let within = a
        .expiring
        .as_deref()
        .map(|w| clock::parse_span("--expiring", w))
        .transpose()?;
    let status = a.status.map(|s| match s {
        StatusArg::Active => Status::Active,
        StatusArg::Expiring => Status::Expiring,
        StatusArg::Revoked => Status::Revoked,
        StatusArg::Expired => Status::Expired,
    });
    let filter = ListFilter {
        env: a.env,
        app: a.app,
        prefix: a.prefix,
        // `--expiring` wants secrets still served: active ones (`expiring` included).
        status: status.or(within.map(|_| Status::Active)),
        after: None,
        limit: None,
    };
    if let Some(app) = &filter.app {
        hush_core::model::validate_app(app)?;
    }
    if let Some(env) = &filter.env {
        hush_core::model::validate_env(env)?;
    }
    let mut metas = b.list(&filter).await?;
    if let Some(within) = within {
        let until = clock::now().saturating_add(within);
        metas.retain(|m| {
            matches!(m.status.as_str(), "active" | "expiring")
                && m.expires_at.is_some_and(|at| at <= until)
        });
    }
    match a.out.output {
        TableOrJson::Json => output::print_json(&metas),
        TableOrJson::Table => output::secrets_table(&metas),
    }
}

async fn history(b: &dyn Backend, a: HistoryArgs) -> Result<()> {
    key_arg(&a.key)?;
    env_arg(a.env.as_deref())?;
    let list = b.history(&a.key, a.env.as_deref()).await?;
    match a.out.output {
        TableOrJson::Json => output::print_json(&list),
        TableOrJson::Table => output::versions_table(&list),
    }
}

async fn rollback(b: &dyn Backend, a: RollbackArgs) -> Result<()> {
    key_arg(&a.key)?;
    env_arg(a.env.as_deref())?;
    if a.to == 0 {
        return Err(hush_core::Invalid::Version { value: 0 }.into());
    }
    let env = a.env.as_deref();
    let meta = b.rollback(&a.key, env, a.to).await?;
    say(&format!(
        "rolled {} back to the value of version {} (now {})",
        meta.key,
        a.to,
        written(&meta, env)
    ));
    note_if_revoked(&meta);
    report(&meta, a.out.output)
}

async fn set_status(b: &dyn Backend, a: StatusArgs, status: StoredStatus) -> Result<()> {
    key_arg(&a.key)?;
    let meta = b.set_status(&a.key, status).await?;
    say(&match status {
        StoredStatus::Revoked => format!(
            "revoked {}: reads now fail until `hush secrets restore {}`",
            meta.key, meta.key
        ),
        StoredStatus::Active => format!("restored {}", meta.key),
    });
    report(&meta, a.out.output)
}

async fn delete(b: &dyn Backend, a: DeleteArgs) -> Result<()> {
    key_arg(&a.key)?;
    env_arg(a.env.as_deref())?;
    b.delete(&a.key, a.env.as_deref(), a.force).await?;
    match &a.env {
        Some(e) => say(&format!(
            "deleted the {e} value of {} and all its versions; reads in {e} now get the shared value",
            a.key
        )),
        None => say(&format!("deleted {} and all its versions", a.key)),
    }
    Ok(())
}
