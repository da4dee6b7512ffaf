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

mod page;

use std::fmt::Write as _;
use std::net::SocketAddr;

use axum::extract::{ConnectInfo, DefaultBodyLimit, Form, FromRequestParts, Path, Query, State};
use axum::http::header::{COOKIE, HOST, LOCATION, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use base64::Engine as _;
use hush_core::audit::{AuditFilter, Verdict};
use hush_core::model::{Metadata, SecretRow};
use hush_core::patch::PatchRules as _;
use hush_core::token::{Role, TokenSecret};
use hush_core::{
    clock, Actor, Error, Invalid, ListFilter, MetadataPatch, SecretBytes, Status, StoredStatus,
    TokenType, Workspace,
};
use serde::Deserialize;
use sha2::{Digest as _, Sha256};

use crate::{retry_after, AppState, AuthFailure};
use page::{esc, Viewer};

/// The session cookie's name.
const COOKIE_NAME: &str = "hush_session";
/// How long a session lasts at most (it also ends when the signing token expires).
const SESSION_TTL_SECS: i64 = 12 * 3600;
/// Secrets per page of the list.
const PAGE_SIZE: usize = 50;
/// "Expiring soon": within this many seconds.
const EXPIRING_WITHIN: i64 = 14 * 86_400;
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
        .route("/login", get(login_page).post(login))
        .route("/logout", post(logout))
        .route("/secrets", get(secrets_list))
        .route("/secrets/new", get(new_secret_page).post(create_secret))
        .route("/secrets/{key}", get(secret_detail))
        .route("/secrets/{key}/meta", post(edit_meta))
        .route("/secrets/{key}/value", post(replace_value))
        .route("/secrets/{key}/revoke", post(revoke))
        .route("/secrets/{key}/restore", post(restore))
        .route(
            "/secrets/{key}/delete",
            get(delete_page).post(delete_secret),
        )
        .route("/tokens", get(tokens_page).post(create_token))
        .route("/tokens/{id}/revoke", post(revoke_token))
        .route("/audit", get(audit_page))
        .route("/assets/ui.css", get(|| async { asset("text/css", CSS) }))
        .route(
            "/assets/ui.js",
            get(|| async { asset("text/javascript", JS) }),
        )
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                plain_page("Not found", "No such page."),
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

fn html(status: StatusCode, body: String) -> Response {
    (status, Html(body)).into_response()
}

fn plain_page(title: &str, text: &str) -> Html<String> {
    Html(page::layout(
        title,
        None,
        &format!(
            r#"<p>{}</p><p><a href="/ui/secrets">Back to the secrets</a></p>"#,
            esc(text)
        ),
    ))
}

/// The signed-in browser: its actor, workspace, and the CSRF value its forms must carry.
struct Session {
    actor: Actor,
    ws: Workspace,
    csrf: String,
}

impl Session {
    fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: self.display_name(),
            role: self.actor.principal.role,
            csrf: &self.csrf,
        }
    }

    /// The person: a session token is named `<their token's name>.ui-<random>`.
    fn display_name(&self) -> &str {
        let name = self.actor.principal.name.as_str();
        name.split(hush_core::service::SESSION_MARK)
            .next()
            .unwrap_or(name)
    }

    /// Whether a form carries this session's CSRF value (compared in constant time).
    fn csrf_ok(&self, presented: &str) -> bool {
        presented.len() == self.csrf.len()
            && presented
                .bytes()
                .zip(self.csrf.bytes())
                .fold(0u8, |acc, (a, b)| acc | (a ^ b))
                == 0
    }
}

fn csrf_refused() -> Response {
    forbidden(
        "This form has expired or did not come from this page: reload the page and try again.",
    )
}

fn csrf_for(token: &str) -> String {
    let digest = Sha256::digest(format!("hush-ui-csrf\0{token}").as_bytes());
    digest.iter().fold(String::with_capacity(64), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

fn forbidden(text: &str) -> Response {
    html(StatusCode::FORBIDDEN, plain_page("Not allowed", text).0)
}

fn session_cookie(parts: &Parts) -> Option<String> {
    parts
        .headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(cookie::Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE_NAME)
        .map(|c| c.value().to_string())
}

/// A request that changes something must come from this server's own pages. Browsers say so
/// in `Sec-Fetch-Site`; older ones in `Origin`, which must then name this host (`null`, what
/// a page with its own no-referrer policy sends, is refused). The CSRF field is checked as
/// well.
fn same_origin(parts: &Parts) -> bool {
    let header = |name: &str| parts.headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = header(ORIGIN.as_str()) else {
        return true;
    };
    let host = header(HOST.as_str())
        .map(str::to_string)
        .or_else(|| parts.uri.authority().map(|a| a.to_string()));
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(&h))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        if parts.method != axum::http::Method::GET && !same_origin(parts) {
            return Err(forbidden(
                "This request came from another site and was refused.",
            ));
        }
        let Some(token) = session_cookie(parts) else {
            return Err(to_login(parts));
        };
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let client = s.client(peer, &parts.headers);
        // Guessing session tokens is throttled like guessing API tokens; a valid session is
        // never refused by the throttle.
        match s
            .authenticate(&TokenSecret::from_presented(&token), &client)
            .await
        {
            Ok((actor, ws)) => Ok(Session {
                csrf: csrf_for(&token),
                actor,
                ws,
            }),
            Err(AuthFailure::Throttled { retry_after: secs }) => {
                let mut res = html(
                    StatusCode::TOO_MANY_REQUESTS,
                    plain_page(
                        "Too many attempts",
                        "Too many failed sign-ins from this address: wait a minute.",
                    )
                    .0,
                );
                let (k, v) = retry_after(secs);
                res.headers_mut().insert(k, v);
                res.headers_mut()
                    .insert(SET_COOKIE, clear_cookie(s.secure_cookies));
                Err(res)
            }
            Err(AuthFailure::Unauthorized) => {
                let mut res = to_login(parts);
                res.headers_mut()
                    .insert(SET_COOKIE, clear_cookie(s.secure_cookies));
                Err(res)
            }
            Err(AuthFailure::Other(e)) => Err(error_page(e)),
        }
    }
}

fn to_login(parts: &Parts) -> Response {
    if parts.method == axum::http::Method::GET {
        see_other("/ui/login")
    } else {
        html(
            StatusCode::UNAUTHORIZED,
            page::layout(
                "Signed out",
                None,
                r#"<p>Your session has ended. <a href="/ui/login">Sign in</a> again.</p>"#,
            ),
        )
    }
}

fn clear_cookie(secure: bool) -> HeaderValue {
    let mut c = cookie::Cookie::build((COOKIE_NAME, ""))
        .path("/ui")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::ZERO)
        .secure(secure)
        .build();
    c.make_removal();
    HeaderValue::from_str(&c.to_string()).unwrap_or(HeaderValue::from_static(""))
}

/// A page for an error from hush-core, with the status the API would give.
fn error_page(e: Error) -> Response {
    let text = e.to_string();
    let status = crate::ApiError::from(e).status;
    let title = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
        _ => "Something went wrong",
    };
    let text = if status == StatusCode::SERVICE_UNAVAILABLE {
        "The store is unavailable; try again shortly.".to_string()
    } else if status.is_server_error() {
        "The server could not do that; the details are in its log.".to_string()
    } else {
        text
    };
    html(status, plain_page(title, &text).0)
}

// ---- sign in and out ----

#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login_page() -> Html<String> {
    Html(login_html(None))
}

fn login_html(error: Option<&str>) -> String {
    let invalid = if error.is_some() {
        r#" aria-invalid="true""#
    } else {
        ""
    };
    page::layout(
        "Sign in",
        None,
        &format!(
            r#"<form method="post" action="/ui/login" class="card">
<div class="field"><label for="token">API token</label>
<input id="token" name="token" type="password" autocomplete="off" required aria-describedby="token-hint token-error"{invalid} autofocus>
<p class="hint" id="token-hint">An admin, write or read token (<code>hush tokens create --role read</code>). The browser keeps a session of its own, not this token.</p>
{}</div>
<button type="submit">Sign in</button>
</form>"#,
            page::field_error("token", error)
        ),
    )
}

async fn login(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    headers: axum::http::HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    let (parts, ()) = {
        let mut req = axum::http::Request::new(());
        *req.method_mut() = axum::http::Method::POST;
        *req.headers_mut() = headers;
        req.into_parts()
    };
    if !same_origin(&parts) {
        return forbidden("This request came from another site and was refused.");
    }
    let client = s.client(Some(addr), &parts.headers);
    let presented = TokenSecret::from_presented(f.token.trim());
    let (actor, ws) = match s.authenticate(&presented, &client).await {
        Ok(v) => v,
        Err(AuthFailure::Throttled { retry_after: secs }) => {
            let mut res = html(
                StatusCode::TOO_MANY_REQUESTS,
                login_html(Some(
                    "Too many failed sign-ins from this address: wait a minute.",
                )),
            );
            let (k, v) = retry_after(secs);
            res.headers_mut().insert(k, v);
            return res;
        }
        Err(AuthFailure::Unauthorized) => {
            return html(
                StatusCode::UNAUTHORIZED,
                login_html(Some(
                    "That token is unknown, revoked or expired: check it and try again.",
                )),
            );
        }
        Err(AuthFailure::Other(e)) => return error_page(e),
    };
    let (_row, secret) = match s.hush.start_session(&ws, &actor, SESSION_TTL_SECS).await {
        Ok(v) => v,
        Err(Error::Forbidden { reason }) => {
            return html(StatusCode::FORBIDDEN, login_html(Some(&reason)))
        }
        Err(e) => return error_page(e),
    };
    let c = cookie::Cookie::build((COOKIE_NAME, secret.expose_secret().to_string()))
        .path("/ui")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(SESSION_TTL_SECS))
        .secure(s.secure_cookies)
        .build();
    let mut res = see_other("/ui/secrets");
    if let Ok(v) = HeaderValue::from_str(&c.to_string()) {
        res.headers_mut().insert(SET_COOKIE, v);
    }
    res
}

#[derive(Deserialize)]
struct CsrfForm {
    #[serde(default)]
    csrf: String,
}

async fn logout(State(s): State<AppState>, session: Session, Form(f): Form<CsrfForm>) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    if let Err(e) = s.hush.end_session(&session.ws, &session.actor).await {
        return error_page(e);
    }
    let mut res = see_other("/ui/login");
    res.headers_mut()
        .insert(SET_COOKIE, clear_cookie(s.secure_cookies));
    res
}

// ---- the secrets list ----

#[derive(Deserialize, Default)]
struct ListParams {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    app: String,
    #[serde(default)]
    env: String,
    #[serde(default)]
    after: String,
    #[serde(default)]
    msg: String,
}

/// What a secret's status is, as the list shows it: `expiring` is an active secret that
/// expires within [`EXPIRING_WITHIN`].
fn shown_status(row: &SecretRow, now: i64) -> &'static str {
    match row.status_at(now) {
        Status::Active => match row.meta.expires_at {
            Some(at) if at - now <= EXPIRING_WITHIN => "expiring",
            _ => "active",
        },
        other => other.as_str(),
    }
}

fn status_label(s: &str) -> &'static str {
    match s {
        "active" => "Active",
        "revoked" => "Revoked",
        "expired" => "Expired",
        "expiring" => "Expiring soon",
        _ => "Unknown",
    }
}

fn when(unix: Option<i64>) -> String {
    unix.map_or_else(|| "never".into(), clock::rfc3339)
}

fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "—".into()
    } else {
        esc(&items.join(", "))
    }
}

async fn secrets_list(
    State(s): State<AppState>,
    session: Session,
    Query(p): Query<ListParams>,
) -> Response {
    let now = clock::now();
    let wanted_status = p.status.as_str();
    let core_status = match wanted_status {
        "active" | "expiring" => Some(Status::Active),
        "revoked" => Some(Status::Revoked),
        "expired" => Some(Status::Expired),
        _ => None,
    };
    let text = p.q.trim().to_lowercase();
    let blank = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
    let mut filter = ListFilter {
        env: blank(&p.env),
        app: blank(&p.app),
        prefix: None,
        status: core_status,
        after: blank(&p.after),
        limit: Some(200),
    };
    // Filter pages of the store's list until one page of matches (or the end).
    let mut shown: Vec<SecretRow> = Vec::new();
    let mut more = false;
    'pages: loop {
        let rows = match s.hush.list(&session.ws, &filter, &session.actor).await {
            Ok(r) => r,
            Err(Error::Invalid(e)) => {
                return secrets_list_page(&s, &session, &p, &[], false, Some(&e.to_string())).await
            }
            Err(e) => return error_page(e),
        };
        let full = rows.len() == 200;
        for r in rows {
            filter.after = Some(r.key.clone());
            let matches_text = text.is_empty()
                || r.key.to_lowercase().contains(&text)
                || r.meta
                    .description
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(&text));
            let matches_status = wanted_status != "expiring" || shown_status(&r, now) == "expiring";
            if matches_text && matches_status {
                if shown.len() == PAGE_SIZE {
                    more = true;
                    break 'pages;
                }
                shown.push(r);
            }
        }
        if !full {
            break;
        }
    }
    secrets_list_page(&s, &session, &p, &shown, more, None).await
}

async fn secrets_list_page(
    s: &AppState,
    session: &Session,
    p: &ListParams,
    rows: &[SecretRow],
    more: bool,
    error: Option<&str>,
) -> Response {
    let now = clock::now();
    let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    let usage = match s.hush.usage(&session.ws, &keys).await {
        Ok(u) => u,
        Err(e) => return error_page(e),
    };
    let mut body = String::new();
    if let Some(m) = done_message(&p.msg) {
        body.push_str(&page::notice("ok", m));
    }
    if let Some(e) = error {
        body.push_str(&page::notice("error", e));
    }
    let _ = write!(
        body,
        r#"<form method="get" action="/ui/secrets" class="filters" role="search">
{q}{status}{app}{env}
<div class="field actions"><button type="submit">Filter</button> <a href="/ui/secrets">Clear</a></div>
</form>"#,
        q = page::input("q", "Text", &p.q, "In keys and descriptions", None),
        status = page::select(
            "status",
            "Status",
            &[
                ("", "Any"),
                ("active", "Active"),
                ("expiring", "Expiring soon"),
                ("revoked", "Revoked"),
                ("expired", "Expired")
            ],
            &p.status
        ),
        app = page::input("app", "App", &p.app, "Readable by this app", None),
        env = page::input(
            "env",
            "Environment",
            &p.env,
            "Available in this environment",
            None
        ),
    );
    if rows.is_empty() {
        body.push_str(r#"<p class="empty">No secrets match.</p>"#);
    } else {
        body.push_str(
            r#"<div class="table-wrap"><table id="secrets"><caption class="visually-hidden">Secrets</caption>
<thead><tr><th scope="col">Key</th><th scope="col">Description</th><th scope="col">Type</th><th scope="col">Scope</th><th scope="col">Environments</th><th scope="col">Status</th><th scope="col">Expires</th><th scope="col">Used by</th><th scope="col">Updated</th></tr></thead><tbody>"#,
        );
        for r in rows {
            let st = shown_status(r, now);
            let used: Vec<String> = usage
                .get(&r.key)
                .map(|u| u.iter().map(|u| u.app.clone()).collect())
                .unwrap_or_default();
            let _ = write!(
                body,
                r#"<tr data-key="{k}"><td><a href="/ui/secrets/{k}">{k}</a></td><td>{d}</td><td>{t}</td><td>{sc}</td><td>{en}</td><td><span class="status {st}">{sl}</span></td><td>{ex}</td><td>{ub}</td><td>{up}</td></tr>"#,
                k = esc(&r.key),
                d = esc(r.meta.description.as_deref().unwrap_or("")),
                t = r.meta.token_type.map_or("—", |t| t.as_str()),
                sc = list_or_dash(&r.meta.scope),
                en = list_or_dash(&r.meta.envs),
                sl = status_label(st),
                ex = esc(&when(r.meta.expires_at)),
                ub = list_or_dash(&used),
                up = esc(&clock::rfc3339(r.updated_at)),
            );
        }
        body.push_str("</tbody></table></div>");
    }
    let mut pager = String::new();
    if !p.after.is_empty() {
        let _ = write!(
            pager,
            r#"<a href="/ui/secrets?{}">First page</a> "#,
            esc(&list_query(p, ""))
        );
    }
    if more {
        if let Some(last) = rows.last() {
            let _ = write!(
                pager,
                r#"<a href="/ui/secrets?{}" rel="next">Next page</a>"#,
                esc(&list_query(p, &last.key))
            );
        }
    }
    if !pager.is_empty() {
        let _ = write!(
            body,
            r#"<nav class="pager" aria-label="Pages">{pager}</nav>"#
        );
    }
    html(
        StatusCode::OK,
        page::layout("Secrets", Some(&session.viewer()), &body),
    )
}

fn list_query(p: &ListParams, after: &str) -> String {
    let pairs = [
        ("q", p.q.as_str()),
        ("status", p.status.as_str()),
        ("app", p.app.as_str()),
        ("env", p.env.as_str()),
        ("after", after),
    ];
    let kept: Vec<(&str, &str)> = pairs.into_iter().filter(|(_, v)| !v.is_empty()).collect();
    serde_urlencoded::to_string(kept).unwrap_or_default()
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
        "token-revoked" => "Token revoked.",
        _ => return None,
    })
}

// ---- add a secret ----

#[derive(Deserialize, Default)]
struct SecretForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    key: String,
    #[serde(default)]
    description: String,
    #[serde(default)]
    token_type: String,
    #[serde(default)]
    scope: String,
    #[serde(default)]
    envs: String,
    #[serde(default)]
    expires: String,
    #[serde(default)]
    value: String,
    #[serde(default)]
    value_base64: String,
    #[serde(default)]
    format: String,
}

/// Which field an error belongs next to.
#[derive(Default)]
struct FieldErrors {
    key: Option<String>,
    description: Option<String>,
    token_type: Option<String>,
    scope: Option<String>,
    envs: Option<String>,
    expires: Option<String>,
    value: Option<String>,
    form: Option<String>,
}

impl FieldErrors {
    fn any(&self) -> bool {
        self.key.is_some()
            || self.description.is_some()
            || self.token_type.is_some()
            || self.scope.is_some()
            || self.envs.is_some()
            || self.expires.is_some()
            || self.value.is_some()
            || self.form.is_some()
    }

    /// Puts a core validation error next to the field it is about.
    fn place(&mut self, e: &Invalid) {
        let msg = Some(e.to_string());
        match e {
            Invalid::Name { field, .. } if field.contains("key") => self.key = msg,
            Invalid::Name { field, .. } if field.contains("app") => self.scope = msg,
            Invalid::Name { field, .. } if field.contains("env") => self.envs = msg,
            Invalid::EmptyValue | Invalid::ValueTooLarge { .. } => self.value = msg,
            Invalid::DescriptionTooLong { .. } => self.description = msg,
            Invalid::ControlCharacter { field } if *field == "description" => {
                self.description = msg
            }
            Invalid::TooMany { field, .. } | Invalid::EmptyEntry { field } if *field == "scope" => {
                self.scope = msg
            }
            Invalid::TooMany { field, .. } | Invalid::EmptyEntry { field } if *field == "envs" => {
                self.envs = msg
            }
            Invalid::TokenType { .. } => self.token_type = msg,
            Invalid::Expiry { .. } | Invalid::PastExpiry | Invalid::ExpiryRange { .. } => {
                self.expires = msg
            }
            _ => self.form = msg,
        }
    }
}

/// Names separated by commas (or spaces). A blank field is the empty list; an entry left
/// blank between commas is an error, so `,,,` never turns into "every app".
fn split_list(field: &'static str, text: &str) -> Result<Vec<String>, Invalid> {
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let mut out = Vec::new();
    for entry in text.split(',') {
        let before = out.len();
        out.extend(entry.split_whitespace().map(str::to_string));
        if out.len() == before {
            return Err(Invalid::EmptyEntry { field });
        }
    }
    Ok(out)
}

/// The metadata a form sets. `full` sets every field (clearing blank ones), as the edit form
/// shows them all; errors are placed next to their fields.
fn patch_from(f: &SecretForm, errors: &mut FieldErrors) -> MetadataPatch {
    let now = clock::now();
    let token_type = match f.token_type.as_str() {
        "" => None,
        t => match TokenType::parse(t) {
            Ok(t) => Some(t),
            Err(e) => {
                errors.place(&e.into());
                None
            }
        },
    };
    let expires_at = match f.expires.trim() {
        "" => None,
        t => match clock::parse_expiry(t, now) {
            Ok(v) => v,
            Err(e) => {
                errors.place(&e);
                None
            }
        },
    };
    if expires_at.is_some_and(|at| at <= now) {
        errors.place(&Invalid::PastExpiry);
    }
    let description = Some(f.description.trim().to_string()).filter(|d| !d.is_empty());
    let mut list = |field, text| {
        split_list(field, text).unwrap_or_else(|e| {
            errors.place(&e);
            Vec::new()
        })
    };
    let scope = list("scope", &f.scope);
    let envs = list("envs", &f.envs);
    let patch = MetadataPatch {
        description: Some(description),
        token_type: Some(token_type),
        scope: Some(scope),
        envs: Some(envs),
        expires_at: Some(expires_at),
    };
    if let Err(e) = patch.validate() {
        errors.place(&e);
    }
    patch
}

/// The value a form carries: a dropped or picked file (base64, any bytes) or the text typed.
/// JSON, when the format says so or the file is `.json`, must parse.
fn value_from(f: &SecretForm, errors: &mut FieldErrors) -> Option<SecretBytes> {
    let bytes = if f.value_base64.is_empty() {
        // Browsers send a text area's line ends as CRLF; what was typed or pasted had LF.
        // Exact bytes (a file with CRLF, binary) come as base64 instead.
        f.value.replace("\r\n", "\n").into_bytes()
    } else {
        match base64::engine::general_purpose::STANDARD.decode(f.value_base64.trim()) {
            Ok(b) => b,
            Err(_) => {
                errors.value = Some("The file could not be read: drop or choose it again.".into());
                return None;
            }
        }
    };
    let value = SecretBytes::new(bytes);
    if f.format == "json" {
        if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(value.expose_secret()) {
            // serde_json's message gives the line and column, never the text.
            errors.value = Some(format!(
                "This is not valid JSON: {e}. Fix it, or choose the Text format."
            ));
            return None;
        }
    }
    if value.expose_secret().is_empty() {
        errors.place(&Invalid::EmptyValue);
        return None;
    }
    Some(value)
}

async fn new_secret_page(session: Session) -> Response {
    if !session.viewer().can_write() {
        return forbidden("Your token may read secrets, not add them.");
    }
    html(
        StatusCode::OK,
        new_secret_html(&session, &SecretForm::default(), &FieldErrors::default()),
    )
}

fn metadata_fields(f: &SecretForm, e: &FieldErrors) -> String {
    format!(
        "{}{}{}{}{}",
        page::input(
            "description",
            "Description",
            &f.description,
            "What it is and who owns it (up to 1024 characters)",
            e.description.as_deref()
        ),
        page::select(
            "token_type",
            "Type",
            &[("", "None"), ("api", "API key"), ("access", "Access token")],
            &f.token_type
        ),
        page::input(
            "scope",
            "Scope",
            &f.scope,
            "Apps allowed to read it, separated by commas; blank: any app",
            e.scope.as_deref()
        ),
        page::input(
            "envs",
            "Environments",
            &f.envs,
            "Environments it is available in, separated by commas; blank: all",
            e.envs.as_deref()
        ),
        page::input(
            "expires",
            "Expires",
            &f.expires,
            "A date such as 2027-01-31T00:00:00Z, or a duration such as 90d; blank: never",
            e.expires.as_deref()
        ),
    )
}

/// The error under the value field. A failed form never sends a value back to the browser,
/// so when one was given the user is asked to give it again.
fn value_error(f: &SecretForm, e: &FieldErrors) -> Option<String> {
    let given = !f.value.is_empty() || !f.value_base64.is_empty();
    match (&e.value, given) {
        (Some(msg), true) => Some(format!(
            "{msg} The value is not sent back to this page: enter or drop it again."
        )),
        (Some(msg), false) => Some(msg.clone()),
        (None, true) => {
            Some("The value is not sent back to this page: enter or drop it again.".into())
        }
        (None, false) => None,
    }
}

fn new_secret_html(session: &Session, f: &SecretForm, e: &FieldErrors) -> String {
    let viewer = session.viewer();
    let mut body = String::new();
    if let Some(m) = &e.form {
        body.push_str(&page::notice("error", m));
    }
    let format = if f.format.is_empty() {
        "text"
    } else {
        f.format.as_str()
    };
    let _ = write!(
        body,
        r#"<form method="post" action="/ui/secrets/new" class="card" data-json-check>
{csrf}
{key}
{value}
{meta}
<button type="submit">Add the secret</button>
</form>"#,
        csrf = viewer.csrf_field(),
        key = page::input(
            "key",
            "Key",
            &f.key,
            "1 to 128 of A-Z a-z 0-9 _ . - (not starting with . or -)",
            e.key.as_deref()
        ),
        value = page::value_field("Value", "", format, value_error(f, e).as_deref()),
        meta = metadata_fields(f, e),
    );
    page::layout("Add a secret", Some(&viewer), &body)
}

async fn create_secret(
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
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            new_secret_html(&session, &f, &errors),
        );
    };
    match s
        .hush
        .create(&session.ws, &key, &value, &patch, &session.actor)
        .await
    {
        Ok(_) => see_other(&format!("/ui/secrets/{key}?msg=created")),
        Err(Error::Exists { .. }) => {
            errors.key = Some(format!(
                "A secret called {key} exists already: pick another key, or open it to replace its value."
            ));
            html(StatusCode::CONFLICT, new_secret_html(&session, &f, &errors))
        }
        Err(Error::Invalid(e)) => {
            errors.place(&e);
            html(
                StatusCode::UNPROCESSABLE_ENTITY,
                new_secret_html(&session, &f, &errors),
            )
        }
        Err(e) => error_page(e),
    }
}

// ---- one secret ----

#[derive(Deserialize, Default)]
struct DetailParams {
    #[serde(default)]
    msg: String,
}

async fn secret_detail(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Query(p): Query<DetailParams>,
) -> Response {
    detail(
        &s,
        &session,
        &key,
        done_message(&p.msg),
        None,
        &FieldErrors::default(),
        None,
    )
    .await
}

fn form_of(meta: &Metadata) -> SecretForm {
    SecretForm {
        description: meta.description.clone().unwrap_or_default(),
        token_type: meta
            .token_type
            .map(|t| t.as_str().to_string())
            .unwrap_or_default(),
        scope: meta.scope.join(", "),
        envs: meta.envs.join(", "),
        expires: meta.expires_at.map(clock::rfc3339).unwrap_or_default(),
        ..SecretForm::default()
    }
}

/// The detail page. `meta_form`/`value_form` re-show what was typed when a form failed.
async fn detail(
    s: &AppState,
    session: &Session,
    key: &str,
    ok: Option<&str>,
    meta_form: Option<&SecretForm>,
    errors: &FieldErrors,
    value_form: Option<&SecretForm>,
) -> Response {
    let (row, versions) = match s.hush.history(&session.ws, key, &session.actor).await {
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
    let now = clock::now();
    let st = shown_status(&row, now);
    let k = esc(&row.key);
    let mut body = String::new();
    if let Some(m) = ok {
        body.push_str(&page::notice("ok", m));
    }
    if let Some(m) = &errors.form {
        body.push_str(&page::notice("error", m));
    }
    let _ = write!(
        body,
        r#"<dl class="facts">
<dt>Status</dt><dd><span class="status {st}">{sl}</span></dd>
<dt>Version</dt><dd>{ver}</dd>
<dt>Expires</dt><dd>{ex}</dd>
<dt>Updated</dt><dd>{up} by {by}</dd>
<dt>Created</dt><dd>{cr} by {cb}</dd>
</dl>"#,
        sl = status_label(st),
        ver = row.version,
        ex = esc(&when(row.meta.expires_at)),
        up = esc(&clock::rfc3339(row.updated_at)),
        by = esc(&row.updated_by),
        cr = esc(&clock::rfc3339(row.created_at)),
        cb = esc(&row.created_by),
    );
    if viewer.can_write() {
        body.push_str(r#"<div class="actions">"#);
        if row.status == StoredStatus::Revoked {
            body.push_str(&page::button_form(
                &viewer,
                &format!("/ui/secrets/{}/restore", row.key),
                "Restore",
                "",
            ));
        } else {
            body.push_str(&page::button_form(
                &viewer,
                &format!("/ui/secrets/{}/revoke", row.key),
                "Revoke",
                "warn",
            ));
        }
        let _ = write!(
            body,
            r#" <a class="button danger" href="/ui/secrets/{k}/delete">Delete…</a></div>"#
        );
        // Details, editable.
        let current = form_of(&row.meta);
        let f = meta_form.unwrap_or(&current);
        let no_errors = FieldErrors::default();
        let _ = write!(
            body,
            r#"<section aria-labelledby="edit-h"><h2 id="edit-h">Details</h2>
<form method="post" action="/ui/secrets/{k}/meta" class="card">{csrf}{fields}<button type="submit">Save details</button></form></section>"#,
            csrf = viewer.csrf_field(),
            fields = metadata_fields(
                f,
                if meta_form.is_some() {
                    errors
                } else {
                    &no_errors
                }
            ),
        );
        // Replace the value: the current one is never sent to the browser.
        let empty = SecretForm::default();
        let vf = value_form.unwrap_or(&empty);
        let format = if vf.format.is_empty() {
            "text"
        } else {
            vf.format.as_str()
        };
        let _ = write!(
            body,
            r#"<section aria-labelledby="replace-h"><h2 id="replace-h">Replace the value</h2>
<p class="hint">The current value is never shown here. The new one becomes version {next}; older versions are kept.</p>
<form method="post" action="/ui/secrets/{k}/value" class="card" data-json-check>{csrf}{field}<button type="submit">Replace value</button></form></section>"#,
            next = row.version + 1,
            csrf = viewer.csrf_field(),
            field = page::value_field(
                "New value",
                "",
                format,
                value_form.and_then(|vf| value_error(vf, errors)).as_deref()
            ),
        );
    } else {
        let _ = write!(
            body,
            r#"<section aria-labelledby="meta-h"><h2 id="meta-h">Details</h2><dl class="facts">
<dt>Description</dt><dd>{d}</dd><dt>Type</dt><dd>{t}</dd><dt>Scope</dt><dd>{sc}</dd><dt>Environments</dt><dd>{en}</dd></dl></section>"#,
            d = esc(row.meta.description.as_deref().unwrap_or("—")),
            t = row.meta.token_type.map_or("—", |t| t.as_str()),
            sc = list_or_dash(&row.meta.scope),
            en = list_or_dash(&row.meta.envs),
        );
    }
    // Versions: number, when, by whom; never a value.
    body.push_str(r#"<section aria-labelledby="versions-h"><h2 id="versions-h">Versions</h2><div class="table-wrap"><table><thead><tr><th scope="col">Version</th><th scope="col">Created</th><th scope="col">By</th></tr></thead><tbody>"#);
    for v in versions.iter().rev() {
        let _ = write!(
            body,
            "<tr><td>{}{}</td><td>{}</td><td>{}</td></tr>",
            v.version,
            if v.version == row.version {
                " (current)"
            } else {
                ""
            },
            esc(&clock::rfc3339(v.created_at)),
            esc(&v.created_by)
        );
    }
    body.push_str("</tbody></table></div></section>");
    // Apps using it.
    body.push_str(r#"<section aria-labelledby="apps-h"><h2 id="apps-h">Used by</h2>"#);
    if usage.is_empty() {
        body.push_str("<p>No registered app names this secret.</p>");
    } else {
        body.push_str(r#"<div class="table-wrap"><table><thead><tr><th scope="col">App</th><th scope="col">Last read</th></tr></thead><tbody>"#);
        for u in &usage {
            let _ = write!(
                body,
                "<tr><td>{}</td><td>{}</td></tr>",
                esc(&u.app),
                esc(&u
                    .last_read_at
                    .map_or_else(|| "never".into(), clock::rfc3339))
            );
        }
        body.push_str("</tbody></table></div>");
    }
    body.push_str("</section>");
    // Recent audit rows (admins).
    if viewer.is_admin() {
        let filter = AuditFilter {
            key: Some(row.key.clone()),
            limit: Some(20),
            ..AuditFilter::default()
        };
        match s.hush.audit_log(&session.ws, &filter, &session.actor).await {
            Ok(rows) => {
                body.push_str(
                    r#"<section aria-labelledby="audit-h"><h2 id="audit-h">Recent activity</h2>"#,
                );
                body.push_str(&audit_table(&rows));
                let _ = write!(
                    body,
                    r#"<p><a href="/ui/audit?key={k}">All audit rows for {k}</a></p></section>"#
                );
            }
            Err(e) => return error_page(e),
        }
    }
    html(StatusCode::OK, page::layout(&row.key, Some(&viewer), &body))
}

async fn edit_meta(
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
    if errors.any() {
        return with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            detail(&s, &session, &key, None, Some(&f), &errors, None).await,
        );
    }
    match s
        .hush
        .update(&session.ws, &key, None, &patch, None, &session.actor)
        .await
    {
        Ok(_) => see_other(&format!("/ui/secrets/{key}?msg=meta")),
        Err(Error::Invalid(e)) => {
            errors.place(&e);
            with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                detail(&s, &session, &key, None, Some(&f), &errors, None).await,
            )
        }
        Err(e) => error_page(e),
    }
}

fn with_status(status: StatusCode, mut res: Response) -> Response {
    if res.status().is_success() {
        *res.status_mut() = status;
    }
    res
}

async fn replace_value(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Form(f): Form<SecretForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let mut errors = FieldErrors::default();
    let Some(value) = value_from(&f, &mut errors) else {
        return with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            detail(&s, &session, &key, None, None, &errors, Some(&f)).await,
        );
    };
    match s
        .hush
        .update(
            &session.ws,
            &key,
            Some(&value),
            &MetadataPatch::default(),
            None,
            &session.actor,
        )
        .await
    {
        Ok(_) => see_other(&format!("/ui/secrets/{key}?msg=value")),
        Err(Error::Invalid(e)) => {
            errors.place(&e);
            with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                detail(&s, &session, &key, None, None, &errors, Some(&f)).await,
            )
        }
        Err(e) => error_page(e),
    }
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

async fn revoke(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    set_status(&s, &session, &key, &f.csrf, StoredStatus::Revoked).await
}

async fn restore(
    State(s): State<AppState>,
    session: Session,
    Path(key): Path<String>,
    Form(f): Form<CsrfForm>,
) -> Response {
    set_status(&s, &session, &key, &f.csrf, StoredStatus::Active).await
}

// ---- delete ----

async fn delete_page(
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
    html(StatusCode::OK, delete_html(&session, &row.key, &apps))
}

fn delete_html(session: &Session, key: &str, in_use_by: &[String]) -> String {
    let viewer = session.viewer();
    let k = esc(key);
    let mut body = String::new();
    if in_use_by.is_empty() {
        let _ = write!(
            body,
            r#"<p>Delete <strong>{k}</strong> and every version of it? This cannot be undone.</p>
<form method="post" action="/ui/secrets/{k}/delete" class="card">{csrf}
<button type="submit" class="danger">Delete {k}</button> <a href="/ui/secrets/{k}">Cancel</a></form>"#,
            csrf = viewer.csrf_field()
        );
    } else {
        let _ = write!(
            body,
            r#"<p class="notice error" role="alert">{k} is in use by {apps}: deleting it would break {them}.</p>"#,
            apps = esc(&in_use_by.join(", ")),
            them = if in_use_by.len() == 1 { "it" } else { "them" },
        );
        if viewer.is_admin() {
            let _ = write!(
                body,
                r#"<form method="post" action="/ui/secrets/{k}/delete" class="card">{csrf}
<input type="hidden" name="force" value="yes">
<div class="field check"><input type="checkbox" id="confirm_force" name="confirm_force" value="yes" required>
<label for="confirm_force">I understand that {apps} will no longer get {k}. Delete it anyway.</label></div>
<button type="submit" class="danger">Force delete {k}</button> <a href="/ui/secrets/{k}">Cancel</a></form>"#,
                csrf = viewer.csrf_field(),
                apps = esc(&in_use_by.join(", ")),
            );
        } else {
            body.push_str(
                "<p>Only an admin can delete a secret that is in use. Unregister the apps first, or ask an admin.</p>",
            );
        }
    }
    page::layout(&format!("Delete {key}"), Some(&viewer), &body)
}

#[derive(Deserialize)]
struct DeleteForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    force: String,
    #[serde(default)]
    confirm_force: String,
}

async fn delete_secret(
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
        return html(
            StatusCode::UNPROCESSABLE_ENTITY,
            page::layout(
                "Not deleted",
                Some(&session.viewer()),
                &format!(
                    r#"<p class="notice error" role="alert">Tick the confirmation to force the delete.</p><p><a href="/ui/secrets/{}/delete">Back</a></p>"#,
                    esc(&key)
                ),
            ),
        );
    }
    match s
        .hush
        .delete(&session.ws, &key, None, force, &session.actor)
        .await
    {
        Ok(_) => see_other("/ui/secrets?msg=deleted"),
        Err(Error::InUse { apps, .. }) => {
            html(StatusCode::CONFLICT, delete_html(&session, &key, &apps))
        }
        Err(e) => error_page(e),
    }
}

// ---- tokens ----

#[derive(Deserialize, Default)]
struct TokenForm {
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

async fn tokens_page(
    State(s): State<AppState>,
    session: Session,
    Query(p): Query<DetailParams>,
) -> Response {
    tokens_html(
        &s,
        &session,
        done_message(&p.msg),
        None,
        &TokenForm::default(),
        None,
    )
    .await
}

async fn tokens_html(
    s: &AppState,
    session: &Session,
    ok: Option<&str>,
    error: Option<&str>,
    form: &TokenForm,
    created: Option<(&str, &str)>,
) -> Response {
    let rows = match s.hush.tokens(&session.ws, &session.actor).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let viewer = session.viewer();
    let now = clock::now();
    let mut body = String::new();
    if let Some(m) = ok {
        body.push_str(&page::notice("ok", m));
    }
    if let Some((name, token)) = created {
        let _ = write!(
            body,
            r#"<section class="card created" aria-labelledby="created-h"><h2 id="created-h">Token {n} created</h2>
<p>Copy it now: it is shown this once and cannot be shown again.</p>
<div class="field"><label for="new-token">Token</label><input id="new-token" readonly value="{t}"></div>
<button type="button" data-copy="new-token">Copy</button> <span data-copied aria-live="polite"></span></section>"#,
            n = esc(name),
            t = esc(token),
        );
    }
    let role = if form.role.is_empty() {
        "read"
    } else {
        form.role.as_str()
    };
    let _ = write!(
        body,
        r#"<section aria-labelledby="new-h"><h2 id="new-h">Create a token</h2>{err}
<form method="post" action="/ui/tokens" class="card">{csrf}{name}{role}{app}{env}{exp}<button type="submit">Create token</button></form></section>"#,
        err = error.map(|e| page::notice("error", e)).unwrap_or_default(),
        csrf = viewer.csrf_field(),
        name = page::input(
            "name",
            "Name",
            &form.name,
            "To recognise it by; blank: the role",
            None
        ),
        role = page::select(
            "role",
            "Role",
            &[
                ("read", "read: list and read values"),
                ("write", "write: read and change secrets"),
                ("admin", "admin: everything"),
                ("machine", "machine: one app in one environment")
            ],
            role
        ),
        app = page::input(
            "app",
            "App (machine tokens only)",
            &form.app,
            "The app it works for; only with the machine role",
            None
        ),
        env = page::input(
            "env",
            "Environment (machine tokens only)",
            &form.env,
            "The environment it runs in; only with the machine role",
            None
        ),
        exp = page::input(
            "expires",
            "Expires",
            &form.expires,
            "A date or a duration such as 90d; blank: never",
            None
        ),
    );
    body.push_str(r#"<section aria-labelledby="list-h"><h2 id="list-h">Tokens</h2><div class="table-wrap"><table id="tokens"><thead><tr><th scope="col">Name</th><th scope="col">Id</th><th scope="col">Role</th><th scope="col">Expires</th><th scope="col">Created</th><th scope="col">Status</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead><tbody>"#);
    for t in &rows {
        let status = if t.revoked_at.is_some() {
            "revoked"
        } else if t.expires_at.is_some_and(|e| e <= now) {
            "expired"
        } else {
            "active"
        };
        let role = match (&t.app, &t.env) {
            (Some(a), Some(e)) => format!("machine ({a}/{e})"),
            _ => page::role_name(t.role).to_string(),
        };
        let action = if status == "active" && t.id != session.actor.principal.id {
            page::button_form(
                &viewer,
                &format!("/ui/tokens/{}/revoke", t.id),
                "Revoke",
                "warn",
            )
        } else if t.id == session.actor.principal.id {
            "this session".into()
        } else {
            String::new()
        };
        let _ = write!(
            body,
            r#"<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{} by {}</td><td><span class="status {status}">{status}</span></td><td>{action}</td></tr>"#,
            esc(&t.name),
            esc(&t.id),
            esc(&role),
            esc(&when(t.expires_at)),
            esc(&clock::rfc3339(t.created_at)),
            esc(&t.created_by),
        );
    }
    body.push_str("</tbody></table></div></section>");
    html(StatusCode::OK, page::layout("Tokens", Some(&viewer), &body))
}

async fn create_token(
    State(s): State<AppState>,
    session: Session,
    Form(f): Form<TokenForm>,
) -> Response {
    if !session.csrf_ok(&f.csrf) {
        return csrf_refused();
    }
    let role = match f.role.as_str() {
        "admin" => Role::Admin,
        "write" => Role::Write,
        "read" => Role::Read,
        "machine" => Role::Machine,
        _ => {
            return with_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                tokens_html(&s, &session, None, Some("Choose a role."), &f, None).await,
            )
        }
    };
    let blank = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
    let (app, env) = (blank(&f.app), blank(&f.env));
    // App and Environment make a machine token; with another role they would be dropped and a
    // broader token made than the person asked for.
    if role != Role::Machine && (app.is_some() || env.is_some()) {
        let msg = "App and Environment are only for machine tokens: choose the machine role, or leave them blank for a workspace-wide token.";
        return with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            tokens_html(&s, &session, None, Some(msg), &f, None).await,
        );
    }
    if role == Role::Machine && (app.is_none() || env.is_none()) {
        let msg = "A machine token needs both an App and an Environment.";
        return with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            tokens_html(&s, &session, None, Some(msg), &f, None).await,
        );
    }
    let name = blank(&f.name).unwrap_or_else(|| match (&app, &env) {
        (Some(a), Some(e)) => format!("{a}-{e}"),
        _ => page::role_name(role).to_string(),
    });
    let expires_at = match f.expires.trim() {
        "" => None,
        t => match clock::parse_expiry(t, clock::now()) {
            Ok(v) => v,
            Err(e) => {
                return with_status(
                    StatusCode::UNPROCESSABLE_ENTITY,
                    tokens_html(&s, &session, None, Some(&e.to_string()), &f, None).await,
                )
            }
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
            tokens_html(
                &s,
                &session,
                None,
                None,
                &TokenForm::default(),
                Some((&row.name, secret.expose_secret())),
            )
            .await
        }
        Err(Error::Invalid(e)) => with_status(
            StatusCode::UNPROCESSABLE_ENTITY,
            tokens_html(&s, &session, None, Some(&e.to_string()), &f, None).await,
        ),
        Err(e) => error_page(e),
    }
}

async fn revoke_token(
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

// ---- audit ----

#[derive(Deserialize, Default)]
struct AuditParams {
    #[serde(default)]
    key: String,
    #[serde(default)]
    actor: String,
}

fn audit_table(rows: &[hush_core::audit::AuditRow]) -> String {
    if rows.is_empty() {
        return "<p>No audit rows.</p>".into();
    }
    let mut t = String::from(
        r#"<div class="table-wrap"><table class="audit"><thead><tr><th scope="col">#</th><th scope="col">When</th><th scope="col">Actor</th><th scope="col">Action</th><th scope="col">Key</th><th scope="col">Version</th><th scope="col">Outcome</th><th scope="col">From</th></tr></thead><tbody>"#,
    );
    for r in rows {
        let e = &r.entry;
        let _ = write!(
            t,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            r.seq,
            esc(&clock::rfc3339_ms(e.ts_ms)),
            esc(&e.actor_name),
            esc(&e.action),
            esc(e.key.as_deref().unwrap_or("")),
            e.version.map(|v| v.to_string()).unwrap_or_default(),
            esc(&e.outcome),
            esc(e.remote.as_deref().unwrap_or("")),
        );
    }
    t.push_str("</tbody></table></div>");
    t
}

async fn audit_page(
    State(s): State<AppState>,
    session: Session,
    Query(p): Query<AuditParams>,
) -> Response {
    let blank = |v: &str| (!v.trim().is_empty()).then(|| v.trim().to_string());
    let filter = AuditFilter {
        key: blank(&p.key),
        actor: blank(&p.actor),
        limit: Some(200),
        ..AuditFilter::default()
    };
    let rows = match s.hush.audit_log(&session.ws, &filter, &session.actor).await {
        Ok(r) => r,
        Err(e) => return error_page(e),
    };
    let verdict = match s.hush.verify_audit(&session.ws, &session.actor, None).await {
        Ok(v) => v,
        Err(e) => return error_page(e),
    };
    let mut body = match verdict {
        Verdict::Intact { rows, head, .. } => page::notice(
            "ok",
            &format!(
                "Chain verified: all {rows} rows link up and match their MACs. Head: {}:{}",
                head.seq, head.mac
            ),
        ),
        Verdict::Broken { seq, reason, .. } => {
            page::notice("error", &format!("Chain BROKEN at row {seq}: {reason}"))
        }
    };
    let _ = write!(
        body,
        r#"<form method="get" action="/ui/audit" class="filters" role="search">{}{}<div class="field actions"><button type="submit">Filter</button> <a href="/ui/audit">Clear</a></div></form>"#,
        page::input("key", "Key", &p.key, "Rows about this secret", None),
        page::input("actor", "Actor", &p.actor, "Token id or name", None),
    );
    body.push_str(&audit_table(&rows));
    html(
        StatusCode::OK,
        page::layout("Audit log", Some(&session.viewer()), &body),
    )
}
