//! Webhooks (admins): the list with a remove button per webhook, the form that registers one
//! and shows its signing secret once, and the newest deliveries with their outcomes.

use axum::extract::{Form, Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hush_core::webhook::{wire_delivery, DeliveryRow, WebhookRow, EVENT_NAMES};
use hush_core::{clock, Error};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, error_page, notice, Notice, Viewer};
use super::session::{csrf_refused, CsrfForm, Session};
use super::{html_response, see_other, with_status};
use crate::AppState;

/// The form: a URL and one checkbox per event type (`events` repeated).
#[derive(Default)]
pub(super) struct WebhookForm {
    csrf: String,
    url: String,
    events: Vec<String>,
}

/// What the page shows besides the lists.
#[derive(Default)]
struct Shown<'a> {
    ok: Option<&'a str>,
    error: Option<&'a str>,
    form: Option<&'a WebhookForm>,
    /// A webhook just registered: its URL and signing secret, shown this once.
    created: Option<(&'a str, &'a str)>,
}

#[derive(Deserialize)]
pub(super) struct Msg {
    #[serde(default)]
    msg: String,
}

pub(super) async fn page(
    State(s): State<AppState>,
    session: Session,
    Query(p): Query<Msg>,
) -> Response {
    let shown = Shown {
        ok: (p.msg == "removed").then_some("Webhook removed, with its deliveries."),
        ..Shown::default()
    };
    webhooks_page(&s, &session, &shown).await
}

async fn webhooks_page(s: &AppState, session: &Session, shown: &Shown<'_>) -> Response {
    let hooks = match s.hush.webhooks(&session.ws, &session.actor).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let deliveries = match s
        .hush
        .webhook_deliveries(&session.ws, None, 50, &session.actor)
        .await
    {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let viewer = session.viewer();
    let body = webhooks_body(&viewer, &hooks, &deliveries, shown);
    html_response(
        StatusCode::OK,
        layout::page("Webhooks", Some(&viewer), body),
    )
}

fn webhooks_body(
    viewer: &Viewer<'_>,
    hooks: &[WebhookRow],
    deliveries: &[DeliveryRow],
    shown: &Shown<'_>,
) -> Markup {
    let blank = WebhookForm::default();
    let form = shown.form.unwrap_or(&blank);
    html! {
        @if let Some(m) = shown.ok { (notice(Notice::Ok, m)) }
        @if let Some((url, secret)) = shown.created {
            section class="card created" aria-labelledby="created-h" {
                h2 id="created-h" { "Webhook for " (url) " registered" }
                p { "Copy its signing secret now: it is shown this once. Each delivery carries "
                    code { "X-Hush-Signature: sha256=…" } ", the HMAC-SHA256 of the body under it." }
                div class="field" {
                    label for="new-secret" { "Signing secret" }
                    input id="new-secret" readonly value=(secret);
                }
                button type="button" data-copy="new-secret" { "Copy" }
                " "
                span data-copied aria-live="polite" {}
            }
        }
        section aria-labelledby="new-h" {
            h2 id="new-h" { "Register a webhook" }
            @if let Some(e) = shown.error { (notice(Notice::Error, e)) }
            form method="post" action="/ui/webhooks" class="card" {
                (viewer.csrf_field())
                (layout::input(
                    "url",
                    "URL",
                    &form.url,
                    "Where events are POSTed: http:// or https://",
                    None,
                ))
                fieldset {
                    legend { "Events" }
                    @for e in EVENT_NAMES {
                        label class="check" {
                            input type="checkbox" name="events" value=(e)
                                checked[form.events.iter().any(|f| f == e)];
                            " " (e)
                        }
                    }
                }
                button type="submit" { "Register webhook" }
            }
        }
        section aria-labelledby="list-h" {
            h2 id="list-h" { "Webhooks" }
            div class="table-wrap" {
                table id="webhooks" {
                    thead {
                        tr {
                            @for c in ["URL", "Id", "Events", "Created"] {
                                th scope="col" { (c) }
                            }
                            th scope="col" { span class="visually-hidden" { "Actions" } }
                        }
                    }
                    tbody {
                        @for w in hooks {
                            tr {
                                td { (w.url) }
                                td { code { (w.id) } }
                                td { (w.events.join(", ")) }
                                td { (clock::rfc3339(w.created_at)) " by " (w.created_by) }
                                td {
                                    (layout::button_form(
                                        viewer,
                                        &format!("/ui/webhooks/{}/remove", w.id),
                                        "Remove",
                                        "warn",
                                    ))
                                }
                            }
                        }
                    }
                }
            }
        }
        section aria-labelledby="deliveries-h" {
            h2 id="deliveries-h" { "Recent deliveries" }
            div class="table-wrap" {
                table id="deliveries" {
                    thead {
                        tr {
                            @for c in ["Event", "Key", "Webhook", "Status", "Attempts", "Last answer", "When"] {
                                th scope="col" { (c) }
                            }
                        }
                    }
                    tbody {
                        @for d in deliveries.iter().map(wire_delivery) {
                            tr {
                                td { (d.event) " #" (d.event_id) }
                                td { (d.key) }
                                td { code { (d.webhook) } }
                                td { span class={ "status " (d.status) } { (d.status) } }
                                td { (d.attempts) }
                                td {
                                    @if let Some(e) = &d.last_error { (e) }
                                    @else if let Some(s) = d.last_status { "HTTP " (s) }
                                    @else { "-" }
                                }
                                td {
                                    @if let Some(t) = &d.delivered_at { (t) }
                                    @else if let Some(t) = &d.next_attempt_at { "next try " (t) }
                                    @else { (d.created_at) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The form's fields, read by hand: `events` comes once per ticked box.
fn parse_form(body: &str) -> WebhookForm {
    let mut f = WebhookForm::default();
    for (k, v) in serde_urlencoded::from_str::<Vec<(String, String)>>(body).unwrap_or_default() {
        match k.as_str() {
            "csrf" => f.csrf = v,
            "url" => f.url = v.trim().to_string(),
            "events" => f.events.push(v),
            _ => {}
        }
    }
    f
}

pub(super) async fn create(State(s): State<AppState>, session: Session, body: String) -> Response {
    let f = parse_form(&body);
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    match s
        .hush
        .add_webhook(&session.ws, &f.url, &f.events, &session.actor)
        .await
    {
        Ok((row, secret)) => {
            let text = String::from_utf8_lossy(secret.expose_secret()).into_owned();
            let shown = Shown {
                created: Some((&row.url, &text)),
                ..Shown::default()
            };
            webhooks_page(&s, &session, &shown).await
        }
        Err(Error::Invalid(e)) => {
            let msg = e.to_string();
            let shown = Shown {
                error: Some(&msg),
                form: Some(&f),
                ..Shown::default()
            };
            with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                webhooks_page(&s, &session, &shown).await,
            )
        }
        Err(e) => error_page(e),
    }
}

pub(super) async fn remove(
    State(s): State<AppState>,
    session: Session,
    Path(id): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    match s
        .hush
        .remove_webhook(&session.ws, &id, &session.actor)
        .await
    {
        Ok(_) => see_other("/ui/webhooks?msg=removed"),
        Err(e) => error_page(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hush_core::token::Role;

    const PLANTED: &str = r#"<script>alert("x")</script>"#;

    #[test]
    fn urls_and_what_was_typed_are_escaped_and_events_stay_ticked() {
        let viewer = Viewer {
            name: "admin",
            role: Role::Admin,
            csrf: "c",
        };
        let form = WebhookForm {
            csrf: String::new(),
            url: PLANTED.into(),
            events: vec!["expired".into()],
        };
        let hooks = [WebhookRow {
            id: "whk_1".into(),
            workspace_id: "ws_1".into(),
            url: format!("https://x/{PLANTED}"),
            events: vec!["updated".into()],
            sealed_secret: vec![1, 2, 3],
            after_seq: 0,
            created_at: 0,
            created_by: PLANTED.into(),
        }];
        let shown = Shown {
            error: Some(PLANTED),
            form: Some(&form),
            created: Some((PLANTED, r#"whsec_"><b>"#)),
            ..Shown::default()
        };
        let html = webhooks_body(&viewer, &hooks, &[], &shown).into_string();
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(html.contains(r#"value="expired" checked"#), "{html}");
        assert!(
            html.contains(r#"action="/ui/webhooks/whk_1/remove""#),
            "{html}"
        );
    }

    #[test]
    fn the_form_takes_one_events_field_per_box() {
        let f = parse_form("csrf=c&url=https%3A%2F%2Fh%2Fx&events=updated&events=expired");
        assert_eq!((f.csrf.as_str(), f.url.as_str()), ("c", "https://h/x"));
        assert_eq!(f.events, ["updated", "expired"]);
    }
}
