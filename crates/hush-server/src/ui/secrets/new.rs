//! Adding a secret: the form, and creating it from what the form sent.

use axum::extract::{Form, State};
use axum::http::StatusCode;
use axum::response::Response;
use hush_core::Error;
use maud::{html, Markup};

use super::form::{metadata_fields, patch_from, value_field, value_from, FieldErrors, SecretForm};
use crate::ui::layout::{self, error_page, forbidden, notice, Notice};
use crate::ui::session::{csrf_refused, Session};
use crate::ui::{html_response, see_other};
use crate::AppState;

pub(in crate::ui) async fn new_page(session: Session) -> Response {
    if !session.viewer().can_write() {
        return forbidden("Your token may read secrets, not add them.");
    }
    html_response(
        StatusCode::OK,
        new_html(&session, &SecretForm::default(), &FieldErrors::default()),
    )
}

fn new_html(session: &Session, f: &SecretForm, e: &FieldErrors) -> Markup {
    let viewer = session.viewer();
    let body = html! {
        @if let Some(m) = &e.form { (notice(Notice::Error, m)) }
        form method="post" action="/ui/secrets/new" class="card" data-json-check {
            (viewer.csrf_field())
            (layout::input(
                "key",
                "Key",
                &f.key,
                "1 to 128 of A-Z a-z 0-9 _ . - (not starting with . or -)",
                e.key.as_deref(),
            ))
            (value_field("Value", f, e))
            (metadata_fields(f, e))
            button type="submit" { "Add the secret" }
        }
    };
    layout::page("Add a secret", Some(&viewer), body)
}

pub(in crate::ui) async fn create(
    State(s): State<AppState>,
    session: Session,
    Form(f): Form<SecretForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let mut errors = FieldErrors::default();
    let key = f.key.trim().to_string();
    if let Err(e) = hush_core::model::validate_key(&key) {
        errors.place(&e);
    }
    let patch = patch_from(&f, &mut errors);
    let value = value_from(&f, &mut errors);
    let (Some(value), false) = (value, errors.any()) else {
        return html_response(
            StatusCode::UNPROCESSABLE_ENTITY,
            new_html(&session, &f, &errors),
        );
    };
    match s
        .hush
        .create(&session.ws, &key, None, &value, &patch, &session.actor)
        .await
    {
        Ok(_) => see_other(&format!("/ui/secrets/{key}?msg=created")),
        Err(Error::Exists { .. }) => {
            errors.key = Some(format!(
                "A secret called {key} exists already: pick another key, or open it to replace its value."
            ));
            html_response(StatusCode::CONFLICT, new_html(&session, &f, &errors))
        }
        Err(Error::Invalid(e)) => {
            errors.place(&e);
            html_response(
                StatusCode::UNPROCESSABLE_ENTITY,
                new_html(&session, &f, &errors),
            )
        }
        Err(e) => error_page(e),
    }
}
