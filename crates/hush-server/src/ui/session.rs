//! Sessions: signing in and out, the session cookie, and the two checks every form that
//! changes something passes (same origin, CSRF field).
//!
//! A session is a token of its own, minted at sign-in and revoked at sign-out, held in an
//! `HttpOnly`, `SameSite=Strict` cookie scoped to `/ui` (`Secure` when the server is told it
//! sits behind HTTPS). The CSRF value is derived from the session token (SHA-256 with a fixed
//! prefix), so any node can check it and nothing is kept in memory; it is compared in constant
//! time.

use std::net::SocketAddr;

use axum::extract::{ConnectInfo, Form, FromRequestParts, State};
use axum::http::header::{COOKIE, HOST, ORIGIN, SET_COOKIE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{Html, Response};
use hush_core::token::TokenSecret;
use hush_core::{Actor, Error, Workspace};
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, error_page, forbidden, plain_page, Viewer};
use super::{html_response, see_other};
use crate::{retry_after, AppState, AuthFailure};

/// The session cookie's name.
const COOKIE_NAME: &str = "hush_session";
/// How long a session lasts at most (it also ends when the signing token expires).
const SESSION_TTL_SECS: i64 = 12 * 3600;

const CROSS_SITE: &str = "This request came from another site and was refused.";

/// The signed-in browser: its actor, workspace, and the CSRF value its forms must carry.
pub(super) struct Session {
    pub actor: Actor,
    pub ws: Workspace,
    csrf: Csrf,
}

impl Session {
    pub fn viewer(&self) -> Viewer<'_> {
        Viewer {
            name: self.display_name(),
            role: self.actor.principal.role,
            csrf: self.csrf.as_str(),
        }
    }

    /// The person: a session token is named `<their token's name>.ui-<random>`.
    fn display_name(&self) -> &str {
        let name = self.actor.principal.name.as_str();
        name.split(hush_core::service::SESSION_MARK)
            .next()
            .unwrap_or(name)
    }

    /// Whether a form carries this session's CSRF value.
    pub fn csrf_ok(&self, presented: &str) -> bool {
        self.csrf.accepts(presented)
    }
}

/// The CSRF value of one session: a hash of its token, so it is worthless for any other
/// session and tells nothing about the token.
struct Csrf(String);

impl Csrf {
    fn for_session(token: &str) -> Self {
        Csrf(hush_crypto::sha256_hex(
            format!("hush-ui-csrf\0{token}").as_bytes(),
        ))
    }

    fn as_str(&self) -> &str {
        &self.0
    }

    /// Compared in constant time: the field is as good as a password for this session.
    fn accepts(&self, presented: &str) -> bool {
        hush_crypto::constant_time_eq(presented.as_bytes(), self.0.as_bytes())
    }
}

/// The page for a form whose CSRF field is missing or wrong.
pub(super) fn csrf_refused() -> Response {
    forbidden(
        "This form has expired or did not come from this page: reload the page and try again.",
    )
}

/// The session token the browser sent, if any (any `Cookie` header, any position).
fn session_cookie(headers: &HeaderMap) -> Option<String> {
    headers
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
/// a page with its own no-referrer policy sends, is refused). With neither, the request is
/// let through to the CSRF check: `Referer` is not consulted, as the pages send none. The
/// host is the `Host` header, or the URI's authority (HTTP/2).
fn same_origin(headers: &HeaderMap, uri: &Uri) -> bool {
    let header = |name: &str| headers.get(name).and_then(|v| v.to_str().ok());
    if let Some(site) = header("sec-fetch-site") {
        return matches!(site, "same-origin" | "none");
    }
    let Some(origin) = header(ORIGIN.as_str()) else {
        return true;
    };
    let host = header(HOST.as_str())
        .map(str::to_string)
        .or_else(|| uri.authority().map(|a| a.to_string()));
    let origin_host = origin.split_once("://").map(|(_, h)| h);
    matches!((origin_host, host), (Some(o), Some(h)) if o.eq_ignore_ascii_case(&h))
}

impl FromRequestParts<AppState> for Session {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        if parts.method != Method::GET && !same_origin(&parts.headers, &parts.uri) {
            return Err(forbidden(CROSS_SITE));
        }
        let Some(token) = session_cookie(&parts.headers) else {
            return Err(to_login(&parts.method));
        };
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0);
        let client = s.client(peer, &parts.headers);
        // Guessing session tokens is throttled like guessing API tokens; a valid session is
        // never refused by the throttle.
        let request_id = parts.extensions.get::<crate::metrics::RequestId>();
        match s
            .authenticate(&TokenSecret::from_presented(&token), &client, request_id)
            .await
        {
            Ok((actor, ws)) => Ok(Session {
                csrf: Csrf::for_session(&token),
                actor,
                ws,
            }),
            Err(AuthFailure::Throttled { retry_after: secs }) => {
                let mut res = html_response(
                    StatusCode::TOO_MANY_REQUESTS,
                    plain_page(
                        "Too many attempts",
                        "Too many failed sign-ins from this address: wait a minute.",
                    ),
                );
                let (k, v) = retry_after(secs);
                res.headers_mut().insert(k, v);
                res.headers_mut()
                    .insert(SET_COOKIE, clear_cookie(s.secure_cookies));
                Err(res)
            }
            Err(AuthFailure::Unauthorized) => {
                let mut res = to_login(&parts.method);
                res.headers_mut()
                    .insert(SET_COOKIE, clear_cookie(s.secure_cookies));
                Err(res)
            }
            Err(AuthFailure::Other(e)) => Err(error_page(e)),
        }
    }
}

/// No session: a page view goes to the sign-in page; a form post says the session ended
/// (a redirect would lose what was typed without a word).
fn to_login(method: &Method) -> Response {
    if method == Method::GET {
        see_other("/ui/login")
    } else {
        html_response(
            StatusCode::UNAUTHORIZED,
            layout::page(
                "Signed out",
                None,
                html! {
                    p { "Your session has ended. " a href="/ui/login" { "Sign in" } " again." }
                },
            ),
        )
    }
}

/// The session cookie, with every attribute the browser must enforce.
fn session_cookie_with(
    value: String,
    max_age: cookie::time::Duration,
    secure: bool,
) -> cookie::Cookie<'static> {
    cookie::Cookie::build((COOKIE_NAME, value))
        .path("/ui")
        .http_only(true)
        .same_site(cookie::SameSite::Strict)
        .max_age(max_age)
        .secure(secure)
        .build()
}

/// The `Set-Cookie` that starts a session.
fn start_cookie(token: &str, secure: bool) -> Option<HeaderValue> {
    let max_age = cookie::time::Duration::seconds(SESSION_TTL_SECS);
    let c = session_cookie_with(token.to_string(), max_age, secure);
    HeaderValue::from_str(&c.to_string()).ok()
}

/// The `Set-Cookie` that makes the browser forget the session.
fn clear_cookie(secure: bool) -> HeaderValue {
    let mut c = session_cookie_with(String::new(), cookie::time::Duration::ZERO, secure);
    c.make_removal();
    HeaderValue::from_str(&c.to_string()).unwrap_or(HeaderValue::from_static(""))
}

// ---- sign in and out ----

#[derive(Deserialize)]
pub(super) struct LoginForm {
    token: String,
}

/// A form that carries nothing but the CSRF field (sign out, revoke, restore).
#[derive(Deserialize)]
pub(super) struct CsrfForm {
    #[serde(default)]
    pub csrf: String,
}

pub(super) async fn login_page() -> Html<String> {
    Html(login_html(None).into_string())
}

fn login_html(error: Option<&str>) -> Markup {
    layout::page(
        "Sign in",
        None,
        html! {
            form method="post" action="/ui/login" class="card" {
                div class="field" {
                    label for="token" { "API token" }
                    input id="token" name="token" type="password" autocomplete="off" required
                        aria-describedby="token-hint token-error"
                        aria-invalid=[error.map(|_| "true")] autofocus;
                    p class="hint" id="token-hint" {
                        "An admin, write or read token ("
                        code { "hush tokens create --role read" }
                        "). The browser keeps a session of its own, not this token."
                    }
                    (layout::field_error("token", error))
                }
                button type="submit" { "Sign in" }
            }
        },
    )
}

pub(super) async fn login(
    State(s): State<AppState>,
    ConnectInfo(addr): ConnectInfo<SocketAddr>,
    request_id: Option<axum::Extension<crate::metrics::RequestId>>,
    uri: Uri,
    headers: HeaderMap,
    Form(f): Form<LoginForm>,
) -> Response {
    if !same_origin(&headers, &uri) {
        return forbidden(CROSS_SITE);
    }
    let client = s.client(Some(addr), &headers);
    let presented = TokenSecret::from_presented(f.token.trim());
    let request_id = request_id.map(|axum::Extension(r)| r);
    let (actor, ws) = match s
        .authenticate(&presented, &client, request_id.as_ref())
        .await
    {
        Ok(v) => v,
        Err(AuthFailure::Throttled { retry_after: secs }) => {
            let mut res = html_response(
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
            return html_response(
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
            return html_response(StatusCode::FORBIDDEN, login_html(Some(&reason)))
        }
        Err(e) => return error_page(e),
    };
    let mut res = see_other("/ui/secrets");
    if let Some(v) = start_cookie(secret.expose_secret(), s.secure_cookies) {
        res.headers_mut().insert(SET_COOKIE, v);
    }
    res
}

pub(super) async fn logout(
    State(s): State<AppState>,
    session: Session,
    Form(f): Form<CsrfForm>,
) -> Response {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(
                axum::http::HeaderName::from_bytes(k.as_bytes()).unwrap(),
                HeaderValue::from_str(v).unwrap(),
            );
        }
        h
    }

    fn path_only() -> Uri {
        Uri::from_static("/ui/secrets/k/revoke")
    }

    #[test]
    fn a_csrf_value_works_only_for_its_own_session() {
        let mine = Csrf::for_session("hush_session_one");
        let theirs = Csrf::for_session("hush_session_two");
        assert!(mine.accepts(mine.as_str()));
        assert!(!mine.accepts(theirs.as_str()), "another session's value");
        assert!(!theirs.accepts(mine.as_str()));
        assert_eq!(
            mine.as_str(),
            Csrf::for_session("hush_session_one").as_str(),
            "derived, not random: any node can check it"
        );
    }

    /// Regression: the value must not change across versions, or every page open during an
    /// upgrade would refuse its forms.
    #[test]
    fn the_csrf_value_is_the_same_as_before_the_templates() {
        assert_eq!(
            Csrf::for_session("hush_session_one").as_str(),
            "e967b515c534827815519bda169b9bc7a920cf294979361e8ad3bad03a881adf"
        );
    }

    #[test]
    fn a_missing_or_wrong_csrf_value_is_refused() {
        let c = Csrf::for_session("hush_session_one");
        assert!(!c.accepts(""), "missing");
        assert!(!c.accepts("0".repeat(64).as_str()), "wrong, same length");
        assert!(!c.accepts(&c.as_str()[..63]), "a prefix");
        assert!(!c.accepts(&format!("{}0", c.as_str())), "longer");
        assert!(!c.accepts(&c.as_str().to_uppercase()), "case matters");
        assert!(
            !c.accepts("hush_session_one"),
            "the session token itself is not the CSRF value"
        );
    }

    #[test]
    fn the_csrf_value_does_not_reveal_the_session_token() {
        let token = "hush_abcdefghijklmnop";
        let c = Csrf::for_session(token);
        assert_eq!(c.as_str().len(), 64);
        assert!(c.as_str().bytes().all(|b| b.is_ascii_hexdigit()));
        assert!(!c.as_str().contains("abcdefghijklmnop"));
        assert_ne!(
            c.as_str(),
            hush_crypto::sha256_hex(token.as_bytes()),
            "not the token hash the store keeps"
        );
    }

    #[test]
    fn sec_fetch_site_decides_when_present() {
        for (site, ok) in [
            ("same-origin", true),
            ("none", true),
            ("same-site", false),
            ("cross-site", false),
            ("", false),
        ] {
            // Even with an Origin that matches: the browser's own verdict wins.
            let h = headers(&[
                ("sec-fetch-site", site),
                ("host", "hush.example:8200"),
                ("origin", "https://hush.example:8200"),
            ]);
            assert_eq!(same_origin(&h, &path_only()), ok, "Sec-Fetch-Site: {site}");
        }
    }

    #[test]
    fn origin_must_name_this_host() {
        let host = [("host", "hush.example:8200")];
        let with = |origin: &str| headers(&[host[0], ("origin", origin)]);
        assert!(same_origin(
            &with("https://hush.example:8200"),
            &path_only()
        ));
        assert!(
            same_origin(&with("http://HUSH.example:8200"), &path_only()),
            "host names are case-insensitive"
        );
        for other in [
            "https://evil.example",
            "https://hush.example",
            "https://hush.example:8201",
            "https://hush.example:8200.evil.example",
            "null",
            "hush.example:8200",
        ] {
            assert!(!same_origin(&with(other), &path_only()), "Origin: {other}");
        }
        // An Origin and no way to know this host: refused.
        assert!(!same_origin(
            &headers(&[("origin", "https://hush.example:8200")]),
            &path_only()
        ));
    }

    #[test]
    fn without_a_host_header_the_uri_authority_is_this_host() {
        let h = headers(&[("origin", "https://hush.example:8200")]);
        let uri = Uri::from_static("https://hush.example:8200/ui/logout");
        assert!(same_origin(&h, &uri));
        let other = Uri::from_static("https://other.example/ui/logout");
        assert!(!same_origin(&h, &other));
    }

    #[test]
    fn without_origin_or_sec_fetch_site_the_csrf_field_decides() {
        assert!(same_origin(
            &headers(&[("host", "hush.example")]),
            &path_only()
        ));
        // Referer is not read: the pages set no-referrer, so ours never send one.
        assert!(same_origin(
            &headers(&[
                ("host", "hush.example"),
                ("referer", "https://evil.example/")
            ]),
            &path_only()
        ));
    }

    #[test]
    fn the_session_cookie_is_found_among_others() {
        assert_eq!(session_cookie(&headers(&[])), None);
        assert_eq!(
            session_cookie(&headers(&[("cookie", "hush_session=hush_abc")])).as_deref(),
            Some("hush_abc")
        );
        assert_eq!(
            session_cookie(&headers(&[("cookie", "a=1; hush_session=hush_abc; b=2")])).as_deref(),
            Some("hush_abc")
        );
        assert_eq!(
            session_cookie(&headers(&[
                ("cookie", "a=1"),
                ("cookie", "hush_session=hush_x")
            ]))
            .as_deref(),
            Some("hush_x"),
            "in a second Cookie header"
        );
        for none in [
            "hush_sessions=x",
            "other=hush_session",
            "hush_session",
            "HUSH_SESSION=x",
        ] {
            assert_eq!(
                session_cookie(&headers(&[("cookie", none)])),
                None,
                "{none}"
            );
        }
    }

    fn attributes(v: &HeaderValue) -> Vec<String> {
        v.to_str()
            .unwrap()
            .split(';')
            .map(|a| a.trim().to_ascii_lowercase())
            .collect()
    }

    #[test]
    fn the_session_cookie_is_http_only_strict_and_scoped_to_the_ui() {
        for secure in [false, true] {
            let v = start_cookie("hush_tok", secure).unwrap();
            let a = attributes(&v);
            assert_eq!(a[0], "hush_session=hush_tok");
            assert!(a.contains(&"httponly".into()), "{a:?}");
            assert!(a.contains(&"samesite=strict".into()), "{a:?}");
            assert!(a.contains(&"path=/ui".into()), "{a:?}");
            assert!(a.contains(&format!("max-age={SESSION_TTL_SECS}")), "{a:?}");
            assert_eq!(
                a.contains(&"secure".into()),
                secure,
                "Secure iff configured: {a:?}"
            );
        }
    }

    #[test]
    fn signing_out_clears_the_cookie_with_the_same_attributes() {
        for secure in [false, true] {
            let v = clear_cookie(secure);
            let a = attributes(&v);
            assert_eq!(a[0], "hush_session=", "no value: {a:?}");
            assert!(a.contains(&"max-age=0".into()), "{a:?}");
            let parsed = cookie::Cookie::parse(v.to_str().unwrap()).unwrap();
            let expires = parsed.expires_datetime().expect("an Expires attribute");
            assert!(
                expires < cookie::time::OffsetDateTime::now_utc(),
                "an expiry in the past: {a:?}"
            );
            assert!(a.contains(&"httponly".into()), "{a:?}");
            assert!(a.contains(&"samesite=strict".into()), "{a:?}");
            assert!(
                a.contains(&"path=/ui".into()),
                "the path of the cookie it clears: {a:?}"
            );
            assert_eq!(a.contains(&"secure".into()), secure, "{a:?}");
        }
    }

    #[test]
    fn a_form_post_without_a_session_is_told_so_and_a_page_view_is_redirected() {
        let get = to_login(&Method::GET);
        assert_eq!(get.status(), StatusCode::SEE_OTHER);
        assert_eq!(get.headers()["location"], "/ui/login");
        assert_eq!(to_login(&Method::POST).status(), StatusCode::UNAUTHORIZED);
    }

    #[test]
    fn the_login_page_marks_the_field_invalid_only_with_an_error() {
        let clean = login_html(None).into_string();
        assert!(!clean.contains("aria-invalid"));
        let failed = login_html(Some("nope <b>\"")).into_string();
        assert!(failed.contains(r#"aria-invalid="true""#));
        assert!(failed.contains("nope &lt;b&gt;&quot;"), "{failed}");
    }
}
