//! `hush secrets …` on the embedded store.

use std::io::Write as _;

use anyhow::Result;
use hush_core::{
    clock, wire, Actor, Hush, ListFilter, MetadataPatch, Status, StoredStatus, TokenType, Workspace,
};

use crate::cli::{
    DeleteArgs, GetArgs, ListArgs, MetadataArgs, RawOrJson, RollbackArgs, SecretsCommand, ShowArgs,
    StatusArg, StatusArgs, TableOrJson, TypeArg, UpdateArgs, WriteArgs,
};
use crate::fail::Failure;
use crate::{output, value};

/// Who the local CLI acts as: the operating system user, with every permission (it holds the
/// root key).
pub fn local_actor() -> Actor {
    Actor::local()
}

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
    } else if !args.env.is_empty() {
        p.envs = Some(args.env.clone());
    }
    if let Some(e) = &args.expires {
        p.expires_at = Some(clock::parse_expiry(e, clock::now())?);
    }
    p.validate()?;
    Ok(p)
}

fn say(msg: &str) {
    let _ = writeln!(std::io::stderr(), "{msg}");
}

fn report(
    hush_row: &hush_core::SecretRow,
    ws: &Workspace,
    output: Option<TableOrJson>,
) -> Result<()> {
    let meta = wire::meta(hush_row, &ws.name, clock::now());
    match output {
        Some(TableOrJson::Json) => output::print_json(&meta),
        Some(TableOrJson::Table) => output::secret_detail(&meta),
        None => Ok(()),
    }
}

fn note_if_revoked(row: &hush_core::SecretRow) {
    if row.status == StoredStatus::Revoked {
        say(&format!(
            "note: {0} is revoked; run `hush secrets restore {0}` to serve it again",
            row.key
        ));
    }
}

pub async fn run(hush: &Hush, workspace: &str, cmd: SecretsCommand) -> Result<()> {
    let actor = local_actor();
    // `set` and `create` may create the workspace, but only once their input has passed every
    // check: bad input changes nothing.
    match cmd {
        SecretsCommand::Set(a) => return set(hush, workspace, a, &actor).await,
        SecretsCommand::Create(a) => return create(hush, workspace, a, &actor).await,
        _ => {}
    }
    let (ws, _) = hush.workspace(workspace, false).await?;
    match cmd {
        SecretsCommand::Set(_) | SecretsCommand::Create(_) => unreachable!("handled above"),
        SecretsCommand::Update(a) => update(hush, &ws, a, &actor).await,
        SecretsCommand::Get(a) => get(hush, &ws, a, &actor).await,
        SecretsCommand::Show(a) => show(hush, &ws, a, &actor).await,
        SecretsCommand::List(a) => list(hush, &ws, a, &actor).await,
        SecretsCommand::History(a) => history(hush, &ws, a, &actor).await,
        SecretsCommand::Rollback(a) => rollback(hush, &ws, a, &actor).await,
        SecretsCommand::Revoke(a) => set_status(hush, &ws, a, StoredStatus::Revoked, &actor).await,
        SecretsCommand::Restore(a) => set_status(hush, &ws, a, StoredStatus::Active, &actor).await,
        SecretsCommand::Delete(a) => delete(hush, &ws, a, &actor).await,
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
    hush_core::model::validate_key(&a.key)?;
    Ok(())
}

/// The workspace for a write, created now if it is new.
async fn workspace_for_write(hush: &Hush, name: &str) -> Result<Workspace> {
    let (ws, created) = hush.workspace(name, true).await?;
    if created {
        say(&format!("created workspace {name}"));
    }
    Ok(ws)
}

async fn set(hush: &Hush, workspace: &str, a: WriteArgs, actor: &Actor) -> Result<()> {
    check_key(&a)?;
    let patch = patch_from(&a.meta)?;
    hush_core::model::validate_workspace(workspace)?;
    let v = value::read(&a.value, &a.key)?;
    hush_core::model::validate_value_len(v.len())?;
    let ws = workspace_for_write(hush, workspace).await?;
    let ws = &ws;
    let (row, created) = hush.put(ws, &a.key, &v, &patch, actor).await?;
    say(&format!(
        "{} {} (version {})",
        if created { "created" } else { "updated" },
        row.key,
        row.version
    ));
    note_if_revoked(&row);
    report(&row, ws, a.output)
}

async fn create(hush: &Hush, workspace: &str, a: WriteArgs, actor: &Actor) -> Result<()> {
    check_key(&a)?;
    let patch = patch_from(&a.meta)?;
    hush_core::model::validate_workspace(workspace)?;
    if let Ok((ws, _)) = hush.workspace(workspace, false).await {
        if hush.store().secret(&ws.id, &a.key).await?.is_some() {
            // Refuse before prompting for a value that would be thrown away.
            return Err(hush_core::Error::Exists { key: a.key }.into());
        }
    }
    let v = value::read(&a.value, &a.key)?;
    hush_core::model::validate_value_len(v.len())?;
    let ws = workspace_for_write(hush, workspace).await?;
    let ws = &ws;
    let row = hush.create(ws, &a.key, &v, &patch, actor).await?;
    say(&format!("created {} (version {})", row.key, row.version));
    report(&row, ws, a.output)
}

async fn update(hush: &Hush, ws: &Workspace, a: UpdateArgs, actor: &Actor) -> Result<()> {
    let w = a.write;
    check_key(&w)?;
    let patch = patch_from(&w.meta)?;
    let current = hush.show(ws, &w.key, actor).await?;
    if let Some(expected) = a.if_version {
        if expected != current.version {
            return Err(hush_core::Error::StaleVersion {
                key: w.key,
                expected,
                current: current.version,
            }
            .into());
        }
    }
    let v = if w.value.given() || !w.meta.given() {
        Some(value::read(&w.value, &w.key)?)
    } else {
        None
    };
    let row = hush
        .update(ws, &w.key, v.as_ref(), &patch, a.if_version, actor)
        .await?;
    if v.is_some() {
        say(&format!("updated {} (version {})", row.key, row.version));
    } else {
        say(&format!(
            "updated the metadata of {} (value unchanged, version {})",
            row.key, row.version
        ));
    }
    note_if_revoked(&row);
    report(&row, ws, w.output)
}

async fn get(hush: &Hush, ws: &Workspace, a: GetArgs, actor: &Actor) -> Result<()> {
    let r = hush.reveal(ws, &a.key, a.version, actor).await?;
    match a.output {
        RawOrJson::Raw => {
            let mut out = std::io::stdout().lock();
            // EXPOSE: `get` is the command whose job is to print the value.
            out.write_all(r.value.expose_secret())?;
            out.flush()?;
            Ok(())
        }
        RawOrJson::Json => output::print_json(&wire::with_value(
            &r.row,
            &ws.name,
            clock::now(),
            r.version,
            &r.value,
        )),
    }
}

async fn show(hush: &Hush, ws: &Workspace, a: ShowArgs, actor: &Actor) -> Result<()> {
    let row = hush.show(ws, &a.key, actor).await?;
    let meta = wire::meta(&row, &ws.name, clock::now());
    match a.output {
        TableOrJson::Json => output::print_json(&meta),
        TableOrJson::Table => output::secret_detail(&meta),
    }
}

async fn list(hush: &Hush, ws: &Workspace, a: ListArgs, actor: &Actor) -> Result<()> {
    let filter = ListFilter {
        env: a.env,
        app: a.app,
        prefix: a.prefix,
        status: a.status.map(|s| match s {
            StatusArg::Active => Status::Active,
            StatusArg::Revoked => Status::Revoked,
            StatusArg::Expired => Status::Expired,
        }),
        after: None,
        limit: None,
    };
    let now = clock::now();
    let rows = hush.list(ws, &filter, actor).await?;
    let metas: Vec<_> = rows.iter().map(|r| wire::meta(r, &ws.name, now)).collect();
    match a.output {
        TableOrJson::Json => output::print_json(&metas),
        TableOrJson::Table => output::secrets_table(&metas),
    }
}

async fn history(hush: &Hush, ws: &Workspace, a: ShowArgs, actor: &Actor) -> Result<()> {
    let (row, versions) = hush.history(ws, &a.key, actor).await?;
    let list = wire::versions(&row, &versions);
    match a.output {
        TableOrJson::Json => output::print_json(&list),
        TableOrJson::Table => output::versions_table(&list),
    }
}

async fn rollback(hush: &Hush, ws: &Workspace, a: RollbackArgs, actor: &Actor) -> Result<()> {
    let row = hush.rollback(ws, &a.key, a.to, actor).await?;
    say(&format!(
        "rolled {} back to the value of version {} (now version {})",
        row.key, a.to, row.version
    ));
    note_if_revoked(&row);
    report(&row, ws, a.output)
}

async fn set_status(
    hush: &Hush,
    ws: &Workspace,
    a: StatusArgs,
    status: StoredStatus,
    actor: &Actor,
) -> Result<()> {
    let row = hush.set_status(ws, &a.key, status, actor).await?;
    say(&match status {
        StoredStatus::Revoked => format!(
            "revoked {}: reads now fail until `hush secrets restore {}`",
            row.key, row.key
        ),
        StoredStatus::Active => format!("restored {}", row.key),
    });
    report(&row, ws, a.output)
}

async fn delete(hush: &Hush, ws: &Workspace, a: DeleteArgs, actor: &Actor) -> Result<()> {
    // In-use protection arrives with apps (manifests); `--force` is accepted now so scripts
    // written today keep working then.
    let _force = a.force;
    let row = hush.delete(ws, &a.key, actor).await?;
    say(&format!(
        "deleted {} and its {} version(s)",
        row.key, row.version
    ));
    Ok(())
}
