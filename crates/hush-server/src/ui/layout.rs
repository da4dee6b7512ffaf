//! The page shell and the small pieces every page is built from: navigation, notices, labelled
//! fields, one-button forms, and the pages for refusals and errors.
//!
//! Everything is a [`maud`] template: each `(expr)` is escaped as it is written out, so a key,
//! description, app or token name, or audit field is text on the page whatever it contains.
//! Builders return [`Markup`] (already escaped), never a `String` of HTML, so a piece can only
//! be put into a page as markup or as text that gets escaped.

use axum::http::StatusCode;
use axum::response::Response;
use hush_core::token::Role;
use hush_core::Error;
use maud::{html, Markup, DOCTYPE};

use super::html_response;

/// Who is looking: decides the navigation and which controls a page offers.
pub(super) struct Viewer<'a> {
    pub name: &'a str,
    pub role: Role,
    pub csrf: &'a str,
}

impl Viewer<'_> {
    pub fn can_write(&self) -> bool {
        matches!(self.role, Role::Admin | Role::Write)
    }

    pub fn is_admin(&self) -> bool {
        self.role == Role::Admin
    }

    /// The hidden field every state-changing form carries.
    pub fn csrf_field(&self) -> Markup {
        html! { input type="hidden" name="csrf" value=(self.csrf); }
    }
}

/// A whole page. `viewer` is `None` on the sign-in page and on pages shown before a session
/// is known.
pub(super) fn page(title: &str, viewer: Option<&Viewer<'_>>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="referrer" content="no-referrer";
                title { (title) " · hush" }
                link rel="stylesheet" href="/ui/assets/ui.css";
                script src="/ui/assets/ui.js" defer {}
            }
            body {
                header {
                    a class="brand" href="/ui/secrets" { "hush" }
                    nav aria-label="Main" {
                        @if let Some(v) = viewer { (nav(v)) }
                    }
                }
                main {
                    h1 { (title) }
                    (body)
                }
            }
        }
    }
}

fn nav(v: &Viewer<'_>) -> Markup {
    html! {
        a href="/ui/secrets" { "Secrets" }
        @if v.can_write() {
            a href="/ui/secrets/new" { "Add a secret" }
        }
        @if v.is_admin() {
            a href="/ui/tokens" { "Tokens" }
            a href="/ui/audit" { "Audit log" }
            a href="/ui/webhooks" { "Webhooks" }
        }
        span class="who" { (v.name) " " span class="role" { "(" (role_name(v.role)) ")" } }
        form method="post" action="/ui/logout" class="inline" {
            (v.csrf_field())
            button type="submit" { "Sign out" }
        }
    }
}

pub(super) fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Write => "write",
        Role::Read => "read",
        Role::Machine => "machine",
    }
}

/// What a notice at the top of a page reports.
#[derive(Clone, Copy)]
pub(super) enum Notice {
    /// Something was done (after a redirect).
    Ok,
    /// Something was refused; announced to screen readers at once.
    Error,
}

/// A notice at the top of a page.
pub(super) fn notice(kind: Notice, text: &str) -> Markup {
    let (class, role) = match kind {
        Notice::Ok => ("notice ok", "status"),
        Notice::Error => ("notice error", "alert"),
    };
    html! { p class=(class) role=(role) { (text) } }
}

/// The error under a field (empty when none), tied to it by `aria-describedby`.
pub(super) fn field_error(id: &str, error: Option<&str>) -> Markup {
    html! {
        p class="field-error" id={ (id) "-error" } aria-live="polite" { (error.unwrap_or("")) }
    }
}

/// A labelled single-line input.
pub(super) fn input(id: &str, label: &str, value: &str, hint: &str, error: Option<&str>) -> Markup {
    html! {
        div class="field" {
            label for=(id) { (label) }
            input id=(id) name=(id) value=(value) aria-describedby={ (id) "-hint " (id) "-error" }
                aria-invalid=[error.map(|_| "true")];
            p class="hint" id={ (id) "-hint" } { (hint) }
            (field_error(id, error))
        }
    }
}

/// A labelled select; `options` are (value, label).
pub(super) fn select(id: &str, label: &str, options: &[(&str, &str)], selected: &str) -> Markup {
    html! {
        div class="field" {
            label for=(id) { (label) }
            select id=(id) name=(id) {
                @for (value, text) in options {
                    option value=(value) selected[*value == selected] { (text) }
                }
            }
        }
    }
}

/// The value field: type or paste into the text area, or drop a file on it (or pick one).
/// The JavaScript reads a file into `value` (text) or `value_base64` (any bytes) and checks
/// JSON before the form is sent; the server checks JSON again. It always starts empty: a
/// value is never sent to the browser, not even the one a failed form carried.
pub(super) fn value_field(label: &str, format: &str, error: Option<&str>) -> Markup {
    html! {
        div class="field dropzone" data-dropzone {
            label for="value" { (label) }
            textarea id="value" name="value" rows="6" autocomplete="off" spellcheck="false"
                aria-describedby="value-hint value-error" aria-invalid=[error.map(|_| "true")] {}
            input type="hidden" name="value_base64" id="value_base64" value="";
            input type="hidden" name="filename" id="filename" value="";
            p class="hint" id="value-hint" {
                "Type or paste the value, or drop a file here, or "
                label class="file-pick" for="value_file" { "choose a file" }
                input type="file" id="value_file" class="visually-hidden";
                " "
                span id="value-file-name" aria-live="polite" {}
            }
            (field_error("value", error))
        }
        (select(
            "format",
            "Value format",
            &[("text", "Text (any bytes)"), ("json", "JSON (checked before upload)")],
            format,
        ))
    }
}

/// A table's header row.
pub(super) fn table_head(columns: &[&str]) -> Markup {
    html! {
        thead { tr { @for c in columns { th scope="col" { (c) } } } }
    }
}

/// A one-button form posting to `action` (revoke, restore …).
pub(super) fn button_form(viewer: &Viewer<'_>, action: &str, label: &str, class: &str) -> Markup {
    html! {
        form method="post" action=(action) class="inline" {
            (viewer.csrf_field())
            button type="submit" class=(class) { (label) }
        }
    }
}

/// A page of one sentence and the way back, for refusals and errors.
pub(super) fn plain_page(title: &str, text: &str) -> Markup {
    page(
        title,
        None,
        html! {
            p { (text) }
            p { a href="/ui/secrets" { "Back to the secrets" } }
        },
    )
}

/// A 403 page saying why.
pub(super) fn forbidden(text: &str) -> Response {
    html_response(StatusCode::FORBIDDEN, plain_page("Not allowed", text))
}

/// A page for an error from hush-core, with the status the API would give. A 5xx says
/// nothing of its cause (the log has it).
pub(super) fn error_page(e: Error) -> Response {
    let text = e.to_string();
    let api = crate::ApiError::from(e);
    let status = api.status;
    let title = match status {
        StatusCode::FORBIDDEN => "Not allowed",
        StatusCode::NOT_FOUND => "Not found",
        StatusCode::SERVICE_UNAVAILABLE => "Unavailable",
        _ => "Something went wrong",
    };
    let text = if api.code == hush_wire::ErrorCode::AuditSinkUnavailable {
        "The server's audit file cannot be written, so nothing is shown or changed until it \
         can; try again shortly."
    } else if status == StatusCode::SERVICE_UNAVAILABLE {
        "The store is unavailable; try again shortly."
    } else if status.is_server_error() {
        "The server could not do that; the details are in its log."
    } else {
        &text
    };
    html_response(status, plain_page(title, text))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PLANTED: &str = r#"<script>alert("x")</script>"#;
    const ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;";

    #[test]
    fn the_title_name_and_body_text_are_escaped() {
        let viewer = Viewer {
            name: PLANTED,
            role: Role::Read,
            csrf: r#"c"><b>"#,
        };
        let html = page(PLANTED, Some(&viewer), notice(Notice::Error, PLANTED)).into_string();
        assert!(!html.contains("<script>alert"), "{html}");
        assert!(!html.contains("<b>"), "{html}");
        assert!(
            html.contains(&format!("<title>{ESCAPED} · hush</title>")),
            "{html}"
        );
        assert!(html.contains(&format!("<h1>{ESCAPED}</h1>")), "{html}");
        assert!(
            html.contains(&format!(
                r#"<span class="who">{ESCAPED} <span class="role">(read)</span></span>"#
            )),
            "{html}"
        );
        assert!(
            html.contains(r#"<input type="hidden" name="csrf" value="c&quot;&gt;&lt;b&gt;">"#),
            "{html}"
        );
        assert!(
            html.contains(&format!(
                r#"<p class="notice error" role="alert">{ESCAPED}</p>"#
            )),
            "{html}"
        );
    }

    #[test]
    fn the_navigation_follows_the_role() {
        let nav_of = |role| {
            let v = Viewer {
                name: "n",
                role,
                csrf: "c",
            };
            page("t", Some(&v), html! {}).into_string()
        };
        let read = nav_of(Role::Read);
        assert!(!read.contains("/ui/secrets/new") && !read.contains("/ui/tokens"));
        let write = nav_of(Role::Write);
        assert!(write.contains("/ui/secrets/new") && !write.contains("/ui/audit"));
        let admin = nav_of(Role::Admin);
        assert!(
            admin.contains(r#"<a href="/ui/tokens">Tokens</a><a href="/ui/audit">Audit log</a>"#)
        );
        assert!(!page("t", None, html! {}).into_string().contains("Sign out"));
    }

    #[test]
    fn fields_escape_what_was_typed_and_mark_errors() {
        let html = input("key", "Key", PLANTED, "a hint", Some(PLANTED)).into_string();
        assert_eq!(
            html,
            format!(
                concat!(
                    r#"<div class="field"><label for="key">Key</label>"#,
                    r#"<input id="key" name="key" value="{e}" "#,
                    r#"aria-describedby="key-hint key-error" aria-invalid="true">"#,
                    r#"<p class="hint" id="key-hint">a hint</p>"#,
                    r#"<p class="field-error" id="key-error" aria-live="polite">{e}</p></div>"#,
                ),
                e = ESCAPED
            )
        );
        let sel = select("s", "S", &[("a", "A"), (PLANTED, "B")], PLANTED).into_string();
        assert!(
            sel.contains(&format!(r#"<option value="{ESCAPED}" selected>B</option>"#)),
            "{sel}"
        );
        assert!(sel.contains(r#"<option value="a">A</option>"#), "{sel}");
    }
}
