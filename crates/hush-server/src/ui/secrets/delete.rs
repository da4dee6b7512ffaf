//! Deleting a secret: a confirmation page, and a second confirmation (admins only) when apps
//! still use it.

use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::Response;
use hush_core::Error;
use maud::{html, Markup};
use serde::Deserialize;

use crate::ui::layout::{self, error_page, forbidden, notice, Notice, Viewer};
use crate::ui::session::{csrf_refused, Session};
use crate::ui::{html_response, see_other};
use crate::AppState;

pub(in crate::ui) async fn delete_page(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
) -> Response {
    if !session.viewer().can_write() {
        return forbidden("Your token may read secrets, not delete them.");
    }
    let row = match s.hush.show(&session.ws, &key, &session.actor).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let apps: Vec<String> = match s
        .hush
        .usage(&session.ws, std::slice::from_ref(&row.key))
        .await
    {
        Ok(u) => u
            .get(&row.key)
            .map(|u| u.iter().map(|u| u.app.clone()).collect())
            .unwrap_or_default(),
        Err(e) => return error_page(e),
    };
    html_response(StatusCode::OK, delete_html(&session, &row.key, &apps))
}

fn delete_html(session: &Session, key: &str, in_use_by: &[String]) -> Markup {
    let viewer = session.viewer();
    let body = if in_use_by.is_empty() {
        html! {
            p { "Delete " strong { (key) } " and every version of it? This cannot be undone." }
            form method="post" action={ "/ui/secrets/" (key) "/delete" } class="card" {
                (viewer.csrf_field())
                (delete_buttons(key, "Delete"))
            }
        }
    } else {
        in_use_html(&viewer, key, in_use_by)
    };
    layout::page(&format!("Delete {key}"), Some(&viewer), body)
}

/// Deleting would break the apps that use it: only an admin may, ticking that they know.
fn in_use_html(viewer: &Viewer<'_>, key: &str, in_use_by: &[String]) -> Markup {
    let apps = in_use_by.join(", ");
    let them = if in_use_by.len() == 1 { "it" } else { "them" };
    let why = format!("{key} is in use by {apps}: deleting it would break {them}.");
    html! {
        (notice(Notice::Error, &why))
        @if viewer.is_admin() {
            form method="post" action={ "/ui/secrets/" (key) "/delete" } class="card" {
                (viewer.csrf_field())
                input type="hidden" name="force" value="yes";
                div class="field check" {
                    input type="checkbox" id="confirm_force" name="confirm_force" value="yes"
                        required;
                    label for="confirm_force" {
                        "I understand that " (apps) " will no longer get " (key)
                        ". Delete it anyway."
                    }
                }
                (delete_buttons(key, "Force delete"))
            }
        } @else {
            p {
                "Only an admin can delete a secret that is in use. Unregister the apps first, "
                "or ask an admin."
            }
        }
    }
}

fn delete_buttons(key: &str, verb: &str) -> Markup {
    html! {
        button type="submit" class="danger" { (verb) " " (key) }
        " "
        a href={ "/ui/secrets/" (key) } { "Cancel" }
    }
}

#[derive(Deserialize)]
pub(in crate::ui) struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    force: String,
    #[serde(default)]
    confirm_force: String,
}

pub(in crate::ui) async fn delete(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Form(f): Form<DeleteForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let force = f.force == "yes";
    if force && !session.viewer().is_admin() {
        return forbidden("Only an admin can delete a secret that is in use.");
    }
    if force && f.confirm_force != "yes" {
        let body = html! {
            (notice(Notice::Error, "Tick the confirmation to force the delete."))
            p { a href={ "/ui/secrets/" (key) "/delete" } { "Back" } }
        };
        return html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            layout::page("Not deleted", Some(&session.viewer()), body),
        );
    }
    match s
        .hush
        .delete(
            &session.ws,
            &key,
            None,
            hush_core::Expect::NOTHING,
            force,
            &session.actor,
        )
        .await
    {
        Ok(_) => see_other("/ui/secrets?msg=deleted"),
        Err(Error::InUse { apps, .. }) => {
            html_response(StatusCode::CONFLICT, delete_html(&session, &key, &apps))
        }
        Err(e) => error_page(e),
    }
}
