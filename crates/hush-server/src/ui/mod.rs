//! The web UI at `/ui`: server-rendered pages, one stylesheet and one script, all inside the
//! binary. Nothing here decides who may do what: every action goes through the same
//! [`Hush`](hush_core::Hush) calls as the API, with the session's token as the actor, so a
//! `read` session that forges a form gets the same 403 as the API would give.
//!
//! A session is a token of its own (`<name>.ui-…`, the signing token's role, 12 hours at
//! most), minted at sign-in and revoked at sign-out; the browser holds it in an `HttpOnly`,
//! `SameSite=Strict` cookie scoped to `/ui`. Every form that changes something carries a
//! CSRF field derived from the session token (SHA-256), and a request whose `Origin` is not
//! this server is refused. Any node can check both: nothing is kept in memory.
//!
//! Pages are [`maud`] templates, checked when the crate compiles and escaping every value
//! they print (see `docs/decisions.md`). The modules: [`layout`] (the page shell, navigation,
//! notices, form fields, error pages), [`session`] (the session extractor, its cookie, the
//! same-origin and CSRF checks, sign-in and sign-out), [`secrets`], [`tokens`] and [`audit`]
//! (their pages and forms). This file holds the routes and the helpers they share.

mod audit;
mod layout;
mod secrets;
mod session;
mod tokens;
mod webhooks;

use axum::extract::DefaultBodyLimit;
use axum::http::header::LOCATION;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use hush_core::clock;
use maud::Markup;
use serde::Deserialize;

use crate::AppState;

/// Largest form: a 1 MiB value as base64, URL-encoded, plus the rest.
const FORM_LIMIT: usize = 4 * 1024 * 1024;

const CSS: &str = include_str!("assets/ui.css");
const JS: &str = include_str!("assets/ui.js");

/// Pages are strict: our own script and style only, no framing, no referrer.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; \
                   object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// The `/ui` routes.
pub fn routes() -> Router<AppState> {
    Router::new()
        .route("/", get(|| async { see_other("/ui/secrets") }))
        .route("/login", get(session::login_page).post(session::login))
        .route("/logout", post(session::logout))
        .route("/secrets", get(secrets::list))
        .route("/secrets/new", get(secrets::new_page).post(secrets::create))
        .route("/secrets/{key}", get(secrets::detail_page))
        .route("/secrets/{key}/meta", post(secrets::edit_meta))
        .route("/secrets/{key}/value", post(secrets::replace_value))
        .route("/secrets/{key}/revoke", post(secrets::revoke))
        .route(
            "/secrets/{key}/envs/{env}/delete",
            post(secrets::delete_env_value),
        )
        .route("/secrets/{key}/restore", post(secrets::restore))
        .route(
            "/secrets/{key}/delete",
            get(secrets::delete_page).post(secrets::delete),
        )
        .route("/tokens", get(tokens::page).post(tokens::create))
        .route("/tokens/{id}/revoke", post(tokens::revoke))
        .route("/audit", get(audit::page))
        .route("/webhooks", get(webhooks::page).post(webhooks::create))
        .route("/webhooks/{id}/remove", post(webhooks::remove))
        .route("/assets/ui.css", get(|| async { asset("text/css", CSS) }))
        .route(
            "/assets/ui.js",
            get(|| async { asset("text/javascript", JS) }),
        )
        .fallback(|| async {
            html_response(
                StatusCode::NOT_FOUND,
                layout::plain_page("Not found", "No such page."),
            )
        })
        .layer(DefaultBodyLimit::max(FORM_LIMIT))
        .layer(middleware::from_fn(page_headers))
}

async fn page_headers(req: axum::extract::Request, next: Next) -> Response {
    let mut res = next.run(req).await;
    let h = res.headers_mut();
    h.insert("content-security-policy", HeaderValue::from_static(CSP));
    h.insert("x-frame-options", HeaderValue::from_static("DENY"));
    h.insert("referrer-policy", HeaderValue::from_static("no-referrer"));
    h.insert("cache-control", HeaderValue::from_static("no-store"));
    res
}

fn asset(content_type: &'static str, body: &'static str) -> Response {
    ([("content-type", content_type)], body).into_response()
}

fn see_other(to: &str) -> Response {
    match HeaderValue::from_str(to) {
        Ok(v) => (StatusCode::SEE_OTHER, [(LOCATION, v)]).into_response(),
        Err(_) => StatusCode::INTERNAL_SERVER_ERROR.into_response(),
    }
}

/// A rendered page with its status.
fn html_response(status: StatusCode, page: Markup) -> Response {
    (status, Html(page.into_string())).into_response()
}

/// Sets the status of a page built for a refused form (a page that failed stays as it is).
fn with_status(status: StatusCode, mut res: Response) -> Response {
    if res.status().is_success() {
        *res.status_mut() = status;
    }
    res
}

/// A trimmed form or query field, `None` when blank.
fn blank_to_none(v: &str) -> Option<String> {
    let v = v.trim();
    (!v.is_empty()).then(|| v.to_string())
}

/// A time to show, or `never`.
fn when(unix: Option<i64>) -> String {
    unix.map_or_else(|| "never".into(), clock::rfc3339)
}

/// The `?msg=` a redirect after a change adds.
#[derive(Deserialize, Default)]
struct DoneParams {
    #[serde(default)]
    msg: String,
}

/// Messages after a redirect come from this fixed list, never from the query text.
fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "Secret created.",
        "meta" => "Details saved.",
        "value" => "Value replaced. The old value was not shown and is kept as a version.",
        "revoked" => "Secret revoked: reads are refused until it is restored.",
        "restored" => "Secret restored.",
        "deleted" => "Secret deleted.",
        "env-deleted" => {
            "That environment's own value was deleted: it reads the shared value again."
        }
        "token-revoked" => "Token revoked.",
        _ => return None,
    })
}
