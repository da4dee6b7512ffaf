//! Tokens (admins): the list with a revoke button per active token, and the form that
//! creates one and shows it once.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hush_core::token::{Role, TokenRow};
use hush_core::{clock, Error};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, error_page, notice, role_name, Notice, Viewer};
use super::session::{csrf_refused, CsrfForm, Session};
use super::{blank_to_none, done_message, html_response, see_other, when, with_status, DoneParams};
use crate::AppState;

#[derive(Deserialize, Default)]
pub(super) struct TokenForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
    #[serde(default)]
    role: String,
    #[serde(default)]
    app: String,
    #[serde(default)]
    env: String,
    #[serde(default)]
    expires: String,
}

/// What the page shows besides the list.
#[derive(Default)]
struct Shown<'a> {
    ok: Option<&'a str>,
    error: Option<&'a str>,
    /// The form as it was sent, when it was refused.
    form: Option<&'a TokenForm>,
    /// A token just made: its name and the token itself, shown this once.
    created: Option<(&'a str, &'a str)>,
}

pub(super) async fn page(
    State(s): State<AppState>,
    session: Session,
    Query(p): Query<DoneParams>,
) -> Response {
    let shown = Shown {
        ok: done_message(&p.msg),
        ..Shown::default()
    };
    tokens_page(&s, &session, &shown).await
}

async fn tokens_page(s: &AppState, session: &Session, shown: &Shown<'_>) -> Response {
    let rows = match s.hush.tokens(&session.ws, &session.actor).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let viewer = session.viewer();
    let body = tokens_body(
        &viewer,
        &session.actor.principal.id,
        &rows,
        shown,
        clock::now(),
    );
    html_response(StatusCode::OK, layout::page("Tokens", Some(&viewer), body))
}

/// The page; `own_id` is this session's token, which is not offered for revoking (sign out
/// ends it).
fn tokens_body(
    viewer: &Viewer<'_>,
    own_id: &str,
    rows: &[TokenRow],
    shown: &Shown<'_>,
    now: i64,
) -> Markup {
    let blank = TokenForm::default();
    let form = shown.form.unwrap_or(&blank);
    let role = if form.role.is_empty() {
        "read"
    } else {
        form.role.as_str()
    };
    html! {
        @if let Some(m) = shown.ok { (notice(Notice::Ok, m)) }
        @if let Some((name, token)) = shown.created {
            section class="card created" aria-labelledby="created-h" {
                h2 id="created-h" { "Token " (name) " created" }
                p { "Copy it now: it is shown this once and cannot be shown again." }
                div class="field" {
                    label for="new-token" { "Token" }
                    input id="new-token" readonly value=(token);
                }
                button type="button" data-copy="new-token" { "Copy" }
                " "
                span data-copied aria-live="polite" {}
            }
        }
        section aria-labelledby="new-h" {
            h2 id="new-h" { "Create a token" }
            @if let Some(e) = shown.error { (notice(Notice::Error, e)) }
            form method="post" action="/ui/tokens" class="card" {
                (viewer.csrf_field())
                (layout::input(
                    "name",
                    "Name",
                    &form.name,
                    "To recognise it by; blank: the role",
                    None,
                ))
                (layout::select(
                    "role",
                    "Role",
                    &[
                        ("read", "read: list and read values"),
                        ("write", "write: read and change secrets"),
                        ("admin", "admin: everything"),
                        ("machine", "machine: one app in one environment"),
                    ],
                    role,
                ))
                (layout::input(
                    "app",
                    "App (machine tokens only)",
                    &form.app,
                    "The app it works for; only with the machine role",
                    None,
                ))
                (layout::input(
                    "env",
                    "Environment (machine tokens only)",
                    &form.env,
                    "The environment it runs in; only with the machine role",
                    None,
                ))
                (layout::input(
                    "expires",
                    "Expires",
                    &form.expires,
                    "A date or a duration such as 90d; blank: never",
                    None,
                ))
                button type="submit" { "Create token" }
            }
        }
        section aria-labelledby="list-h" {
            h2 id="list-h" { "Tokens" }
            div class="table-wrap" {
                table id="tokens" {
                    thead {
                        tr {
                            @for c in ["Name", "Id", "Role", "Expires", "Created", "Status"] {
                                th scope="col" { (c) }
                            }
                            th scope="col" { span class="visually-hidden" { "Actions" } }
                        }
                    }
                    tbody {
                        @for t in rows { (token_row(viewer, own_id, t, now)) }
                    }
                }
            }
        }
    }
}

fn token_row(viewer: &Viewer<'_>, own_id: &str, t: &TokenRow, now: i64) -> Markup {
    let status = if t.revoked_at.is_some() {
        "revoked"
    } else if t.expires_at.is_some_and(|e| e <= now) {
        "expired"
    } else {
        "active"
    };
    let role = match (&t.app, &t.env) {
        (Some(a), Some(e)) => format!("machine ({a}/{e})"),
        _ => role_name(t.role).to_string(),
    };
    html! {
        tr {
            td { (t.name) }
            td { code { (t.id) } }
            td { (role) }
            td { (when(t.expires_at)) }
            td { (clock::rfc3339(t.created_at)) " by " (t.created_by) }
            td { span class={ "status " (status) } { (status) } }
            td {
                @if t.id == own_id {
                    "this session"
                } @else if status == "active" {
                    (layout::button_form(
                        viewer,
                        &format!("/ui/tokens/{}/revoke", t.id),
                        "Revoke",
                        "warn",
                    ))
                }
            }
        }
    }
}

pub(super) async fn create(
    State(s): State<AppState>,
    session: Session,
    Form(f): Form<TokenForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let refused = |msg: String| {
        let (s, session, f) = (&s, &session, &f);
        async move {
            let shown = Shown {
                error: Some(&msg),
                form: Some(f),
                ..Shown::default()
            };
            with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                tokens_page(s, session, &shown).await,
            )
        }
    };
    let role = match f.role.as_str() {
        "admin" => Role::Admin,
        "write" => Role::Write,
        "read" => Role::Read,
        "machine" => Role::Machine,
        _ => return refused("Choose a role.".into()).await,
    };
    let (app, env) = (blank_to_none(&f.app), blank_to_none(&f.env));
    // App and Environment make a machine token; with another role they would be dropped and a
    // broader token made than the person asked for.
    if role != Role::Machine && (app.is_some() || env.is_some()) {
        let msg = "App and Environment are only for machine tokens: choose the machine role, or \
                   leave them blank for a workspace-wide token.";
        return refused(msg.into()).await;
    }
    if role == Role::Machine && (app.is_none() || env.is_none()) {
        return refused("A machine token needs both an App and an Environment.".into()).await;
    }
    let name = blank_to_none(&f.name).unwrap_or_else(|| match (&app, &env) {
        (Some(a), Some(e)) => format!("{a}-{e}"),
        _ => role_name(role).to_string(),
    });
    let expires_at = match f.expires.trim() {
        "" => None,
        t => match clock::parse_expiry(t, clock::now()) {
            Ok(v) => v,
            Err(e) => return refused(e.to_string()).await,
        },
    };
    match s
        .hush
        .create_token(
            &session.ws,
            &name,
            role,
            app.as_deref(),
            env.as_deref(),
            expires_at,
            &session.actor,
        )
        .await
    {
        Ok((row, secret)) => {
            let shown = Shown {
                created: Some((&row.name, secret.expose_secret())),
                ..Shown::default()
            };
            tokens_page(&s, &session, &shown).await
        }
        Err(Error::Invalid(e)) => refused(e.to_string()).await,
        Err(e) => error_page(e),
    }
}

pub(super) async fn revoke(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    match s.hush.revoke_token(&session.ws, &id, &session.actor).await {
        Ok(_) => see_other("/ui/tokens?msg=token-revoked"),
        Err(e) => error_page(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLANTED: &str = r#"<script>alert("x")</script>"#;
    const ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;";

    fn token(id: &str, name: &str) -> TokenRow {
        TokenRow {
            id: id.into(),
            workspace_id: "ws_1".into(),
            name: name.into(),
            hash: "h".repeat(64),
            role: Role::Machine,
            app: Some(PLANTED.into()),
            env: Some("prd".into()),
            expires_at: None,
            created_at: 0,
            created_by: PLANTED.into(),
            revoked_at: None,
        }
    }

    fn viewer() -> Viewer<'static> {
        Viewer {
            name: "admin",
            role: Role::Admin,
            csrf: "c",
        }
    }

    #[test]
    fn token_names_and_what_was_typed_are_escaped() {
        let form = TokenForm {
            name: PLANTED.into(),
            expires: r#""><script>"#.into(),
            ..TokenForm::default()
        };
        let shown = Shown {
            error: Some(PLANTED),
            form: Some(&form),
            created: Some((PLANTED, r#"hush_"><b>"#)),
            ..Shown::default()
        };
        let rows = [token("tok_1", PLANTED)];
        let html = tokens_body(&viewer(), "tok_self", &rows, &shown, 0).into_string();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains(&format!("<td>{ESCAPED}</td>")),
            "the name: {html}"
        );
        assert!(
            html.contains(&format!("<td>machine ({ESCAPED}/prd)</td>")),
            "{html}"
        );
        assert!(
            html.contains(r#"<input id="new-token" readonly value="hush_&quot;&gt;&lt;b&gt;">"#),
            "the new token, in its attribute: {html}"
        );
        assert!(html.contains(&format!("Token {ESCAPED} created")), "{html}");
    }

    #[test]
    fn the_own_session_is_not_offered_for_revoking() {
        let rows = [token("tok_self", "me.ui-x"), token("tok_2", "other")];
        let html = tokens_body(&viewer(), "tok_self", &rows, &Shown::default(), 0).into_string();
        assert!(html.contains("<td>this session</td>"), "{html}");
        assert!(!html.contains("/ui/tokens/tok_self/revoke"), "{html}");
        assert!(
            html.contains(r#"action="/ui/tokens/tok_2/revoke""#),
            "{html}"
        );
    }
}
