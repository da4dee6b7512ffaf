//! One secret: its facts, versions, the apps that use it and (for admins) its recent audit
//! rows; for writers the forms that edit its details, replace its value, and revoke or
//! restore it. The value itself is never on the page.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hush_core::app::UseRow;
use hush_core::audit::{AuditFilter, AuditRow};
use hush_core::model::{SecretRow, VersionRow};
use hush_core::{clock, Error, MetadataPatch, SecretBytes, StoredStatus};
use maud::{html, Markup};

use super::form::{metadata_fields, patch_from, value_field, value_from, FieldErrors, SecretForm};
use super::{list_or_dash, shown_status, status_label};
use crate::ui::layout::{self, error_page, notice, Notice, Viewer};
use crate::ui::session::{csrf_refused, CsrfForm, Session};
use crate::ui::{audit, done_message, html_response, see_other, when, with_status, DoneParams};
use crate::AppState;

/// Recent audit rows shown on the page.
const RECENT_AUDIT: usize = 20;

pub(in crate::ui) async fn detail_page(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Query(p): Query<DoneParams>,
) -> Response {
    let shown = Shown {
        ok: done_message(&p.msg),
        ..Shown::default()
    };
    detail(&s, &session, &key, &shown).await
}

/// What the page shows beyond the secret: a notice, or a refused form re-shown with what was
/// typed (never a value) and its errors.
#[derive(Default)]
struct Shown<'a> {
    ok: Option<&'a str>,
    errors: FieldErrors,
    /// The details form as it was sent, when it was refused.
    meta_form: Option<&'a SecretForm>,
    /// The replace form as it was sent, when it was refused.
    value_form: Option<&'a SecretForm>,
}

/// Everything the page is built from.
struct Facts<'a> {
    row: &'a SecretRow,
    versions: &'a [VersionRow],
    usage: &'a [UseRow],
    /// Admins only.
    audit: Option<&'a [AuditRow]>,
}

async fn detail(s: &AppState, session: &Session, key: &str, shown: &Shown<'_>) -> Response {
    let (row, versions) = match s.hush.history(&session.ws, key, None, &session.actor).await {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let usage = match s
        .hush
        .usage(&session.ws, std::slice::from_ref(&row.key))
        .await
    {
        Ok(u) => u.get(&row.key).cloned().unwrap_or_default(),
        Err(e) => return error_page(e),
    };
    let viewer = session.viewer();
    let audit = if viewer.is_admin() {
        let filter = AuditFilter {
            key: Some(row.key.clone()),
            limit: Some(RECENT_AUDIT),
            ..AuditFilter::default()
        };
        match s.hush.audit_log(&session.ws, &filter, &session.actor).await {
            Ok(rows) => Some(rows),
            Err(e) => return error_page(e),
        }
    } else {
        None
    };
    let facts = Facts {
        row: &row,
        versions: &versions,
        usage: &usage,
        audit: audit.as_deref(),
    };
    let body = detail_body(&viewer, &facts, shown, clock::now());
    html_response(StatusCode::OK, layout::page(&row.key, Some(&viewer), body))
}

fn detail_body(viewer: &Viewer<'_>, f: &Facts<'_>, shown: &Shown<'_>, now: i64) -> Markup {
    let row = f.row;
    let st = shown_status(row, now);
    html! {
        @if let Some(m) = shown.ok { (notice(Notice::Ok, m)) }
        @if let Some(m) = &shown.errors.form { (notice(Notice::Error, m)) }
        dl class="facts" {
            dt { "Status" } dd { span class={ "status " (st) } { (status_label(st)) } }
            dt { "Version" } dd { (row.version) }
            // Which environments have a value of their own (never the values).
            dt { "Own values" } dd {
                @if row.env_versions.is_empty() { "—" } @else {
                    @for (i, (env, v)) in row.env_versions.iter().enumerate() {
                        @if i > 0 { ", " } (env) " (v" (v) ")"
                        @if viewer.can_write() {
                            " "
                            (layout::button_form(
                                viewer,
                                &format!("/ui/secrets/{}/envs/{}/delete", row.key, env),
                                &format!("Delete the {env} value"),
                                "danger",
                            ))
                        }
                    }
                }
            }
            dt { "Expires" } dd { (when(row.meta.expires_at)) }
            @if row.meta.expires_at.is_some() {
                dt { "Warn before" }
                dd {
                    (clock::human_span(row.meta.notify_window()))
                    @if row.meta.notify_before.is_none() { " (default)" }
                }
            }
            dt { "Updated" } dd { (clock::rfc3339(row.updated_at)) " by " (row.updated_by) }
            dt { "Created" } dd { (clock::rfc3339(row.created_at)) " by " (row.created_by) }
        }
        @if viewer.can_write() {
            (write_controls(viewer, row, shown))
        } @else {
            section aria-labelledby="meta-h" {
                h2 id="meta-h" { "Details" }
                dl class="facts" {
                    dt { "Description" } dd { (row.meta.description.as_deref().unwrap_or("—")) }
                    dt { "Type" } dd { (row.meta.token_type.map_or("—", |t| t.as_str())) }
                    dt { "Scope" } dd { (list_or_dash(&row.meta.scope)) }
                    dt { "Environments" } dd { (list_or_dash(&row.meta.envs)) }
                }
            }
        }
        // Versions: number, when, by whom; never a value.
        section aria-labelledby="versions-h" {
            h2 id="versions-h" { "Versions" }
            div class="table-wrap" {
                table {
                    (layout::table_head(&["Environment", "Version", "Created", "By"]))
                    tbody {
                        @for v in f.versions.iter().rev() {
                            @let current = if v.env.is_empty() {
                                v.version == row.version
                            } else {
                                row.env_versions.get(&v.env) == Some(&v.version)
                            };
                            tr {
                                td { @if v.env.is_empty() { "all (shared)" } @else { (v.env) } }
                                td { (v.version) @if current { " (current)" } }
                                td { (clock::rfc3339(v.created_at)) }
                                td { (v.created_by) }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="apps-h" {
            h2 id="apps-h" { "Used by" }
            @if f.usage.is_empty() {
                p { "No registered app names this secret." }
            } @else {
                div class="table-wrap" {
                    table {
                        (layout::table_head(&["App", "Last read", "Read in"]))
                        tbody {
                            @for u in f.usage {
                                tr {
                                    td { (u.app) }
                                    td { (when(u.last_read_at)) }
                                    td { (u.env.as_deref().unwrap_or("—")) }
                                }
                            }
                        }
                    }
                }
            }
        }
        @if let Some(rows) = f.audit {
            section aria-labelledby="audit-h" {
                h2 id="audit-h" { "Recent activity" }
                (audit::table(rows))
                p { a href={ "/ui/audit?key=" (row.key) } { "All audit rows for " (row.key) } }
            }
        }
    }
}

/// Revoke or restore, delete, the details form and the replace form.
fn write_controls(viewer: &Viewer<'_>, row: &SecretRow, shown: &Shown<'_>) -> Markup {
    let current = SecretForm::of(&row.meta);
    let none = FieldErrors::default();
    let (meta_form, meta_errors) = match shown.meta_form {
        Some(f) => (f, &shown.errors),
        None => (&current, &none),
    };
    let empty = SecretForm::default();
    let (value_form, value_errors) = match shown.value_form {
        Some(f) => (f, &shown.errors),
        None => (&empty, &none),
    };
    let status_button = if row.status == StoredStatus::Revoked {
        let action = format!("/ui/secrets/{}/restore", row.key);
        layout::button_form(viewer, &action, "Restore", "")
    } else {
        let action = format!("/ui/secrets/{}/revoke", row.key);
        layout::button_form(viewer, &action, "Revoke", "warn")
    };
    html! {
        div class="actions" {
            (status_button)
            " "
            a class="button danger" href={ "/ui/secrets/" (row.key) "/delete" } { "Delete…" }
        }
        section aria-labelledby="edit-h" {
            h2 id="edit-h" { "Details" }
            form method="post" action={ "/ui/secrets/" (row.key) "/meta" } class="card" {
                (viewer.csrf_field())
                (metadata_fields(meta_form, meta_errors))
                button type="submit" { "Save details" }
            }
        }
        // Replace the value: the current one is never sent to the browser.
        section aria-labelledby="replace-h" {
            h2 id="replace-h" { "Replace the value" }
            p class="hint" {
                "The current value is never shown here. The new one becomes version "
                (row.version + 1) "; older versions are kept. With an environment, it is "
                "that environment's own value; the shared one and other environments' stay."
            }
            form method="post" action={ "/ui/secrets/" (row.key) "/value" } class="card"
                data-json-check {
                (viewer.csrf_field())
                (value_field("New value", value_form, value_errors))
                label for="value_env" { "Environment (empty: the value every environment shares)" }
                input id="value_env" name="value_env" type="text" value=(value_form.value_env)
                    autocomplete="off" spellcheck="false";
                button type="submit" { "Replace value" }
            }
        }
    }
}

pub(in crate::ui) async fn edit_meta(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Form(f): Form<SecretForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let mut errors = FieldErrors::default();
    let patch = patch_from(&f, &mut errors);
    if !errors.any() {
        if let Some(done) = save(&s, &session, &key, None, &patch, "meta", &mut errors).await {
            return done;
        }
    }
    let shown = Shown {
        errors,
        meta_form: Some(&f),
        ..Shown::default()
    };
    refused_form(&s, &session, &key, &shown).await
}

/// Applies a change from one of the page's forms: back to the page with `msg` when it took
/// (or an error page), `None` with the refusal placed in `errors` when the input was invalid.
async fn save(
    s: &AppState,
    session: &Session,
    key: &str,
    value: Option<&SecretBytes>,
    patch: &MetadataPatch,
    msg: &str,
    errors: &mut FieldErrors,
) -> Option<Response> {
    save_in(s, session, key, None, value, patch, msg, errors).await
}

/// As [`save`], writing `env`'s own value when given.
#[allow(clippy::too_many_arguments)]
async fn save_in(
    s: &AppState,
    session: &Session,
    key: &str,
    env: Option<&str>,
    value: Option<&SecretBytes>,
    patch: &MetadataPatch,
    msg: &str,
    errors: &mut FieldErrors,
) -> Option<Response> {
    match s
        .hush
        .update(
            &session.ws,
            key,
            env,
            value,
            patch,
            hush_core::Expect::NOTHING,
            &session.actor,
        )
        .await
    {
        Ok(_) => Some(see_other(&format!("/ui/secrets/{key}?msg={msg}"))),
        Err(Error::Invalid(e)) => {
            errors.place(&e);
            None
        }
        Err(e) => Some(error_page(e)),
    }
}

/// The page again, with a refused form's input and errors (422).
async fn refused_form(s: &AppState, session: &Session, key: &str, shown: &Shown<'_>) -> Response {
    with_status(
        StatusCode::UNPROCESSABLE_ENTITY,
        detail(s, session, key, shown).await,
    )
}

pub(in crate::ui) async fn replace_value(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Form(f): Form<SecretForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let mut errors = FieldErrors::default();
    if let Some(value) = value_from(&f, &mut errors) {
        let keep = MetadataPatch::default();
        let env = Some(f.value_env.trim()).filter(|e| !e.is_empty());
        let saved = save_in(
            &s,
            &session,
            &key,
            env,
            Some(&value),
            &keep,
            "value",
            &mut errors,
        )
        .await;
        if let Some(done) = saved {
            return done;
        }
    }
    let shown = Shown {
        errors,
        value_form: Some(&f),
        ..Shown::default()
    };
    refused_form(&s, &session, &key, &shown).await
}

/// Deletes one environment's own value (every version of it); the secret stays.
pub(in crate::ui) async fn delete_env_value(
    State(s): State<AppState>,
    session: Session,
    Path((key, env)): Path<(String, String)>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    match s
        .hush
        .delete(
            &session.ws,
            &key,
            Some(&env),
            hush_core::Expect::NOTHING,
            false,
            &session.actor,
        )
        .await
    {
        Ok(_) => see_other(&format!("/ui/secrets/{key}?msg=env-deleted")),
        Err(e) => error_page(e),
    }
}

pub(in crate::ui) async fn revoke(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    set_status(&s, &session, &key, &f.csrf, StoredStatus::Revoked).await
}

pub(in crate::ui) async fn restore(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    set_status(&s, &session, &key, &f.csrf, StoredStatus::Active).await
}

async fn set_status(
    s: &AppState,
    session: &Session,
    key: &str,
    csrf: &str,
    status: StoredStatus,
) -> Response {
    if !session.csrf_ok(csrf) {
        return csrf_refused();
    }
    match s
        .hush
        .set_status(&session.ws, key, status, &session.actor)
        .await
    {
        Ok(_) => see_other(&format!(
            "/ui/secrets/{key}?msg={}",
            if status == StoredStatus::Revoked {
                "revoked"
            } else {
                "restored"
            }
        )),
        Err(e) => error_page(e),
    }
}

#[cfg(test)]
mod tests {
    use hush_core::model::Metadata;
    use hush_core::token::Role;

    use super::*;

    /// The "Used by" table names the environment of each app's last read, escaped, with a dash
    /// when the read named none or the app never read.
    #[test]
    fn used_by_names_the_environment_of_each_last_read() {
        let row = SecretRow {
            id: "sec_1".into(),
            workspace_id: "ws_1".into(),
            key: "K".into(),
            meta: Metadata::default(),
            status: StoredStatus::Active,
            version: 1,
            env_versions: Default::default(),
            revision: 1,
            created_at: 0,
            updated_at: 0,
            created_by: "a".into(),
            updated_by: "a".into(),
        };
        let usage = [
            UseRow {
                key: "K".into(),
                app: "web".into(),
                last_read_at: Some(100),
                env: Some("prd".into()),
            },
            UseRow {
                key: "K".into(),
                app: "cron".into(),
                last_read_at: None,
                env: None,
            },
        ];
        let facts = Facts {
            row: &row,
            versions: &[],
            usage: &usage,
            audit: None,
        };
        let viewer = Viewer {
            name: "admin",
            role: Role::Read,
            csrf: "c",
        };
        let html = detail_body(&viewer, &facts, &Shown::default(), 200).into_string();
        let table = &html[html.find("Used by").unwrap()..];
        assert!(table.contains("Read in"), "{table}");
        assert!(table.contains("<td>web</td>"), "{table}");
        assert!(table.contains("<td>prd</td>"), "{table}");
        assert!(table.contains("<td>cron</td>"), "{table}");
        assert!(table.contains("<td>—</td>"), "{table}");
    }
}
