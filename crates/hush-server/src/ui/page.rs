//! HTML for the web UI: one escape function, one layout, small builders. Everything a user
//! typed (keys, descriptions, app and token names, audit fields) goes through [`esc`].

use std::fmt::Write as _;

use hush_core::token::Role;

/// Escapes text for HTML element content and double- or single-quoted attribute values.
pub fn esc(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// Who is looking: decides the navigation and which controls a page offers.
pub struct Viewer<'a> {
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
    pub fn csrf_field(&self) -> String {
        format!(
            r#"<input type="hidden" name="csrf" value="{}">"#,
            esc(self.csrf)
        )
    }
}

/// A whole page. `viewer` is `None` on the sign-in page.
pub fn layout(title: &str, viewer: Option<&Viewer<'_>>, body: &str) -> String {
    let mut nav = String::new();
    if let Some(v) = viewer {
        nav.push_str(r#"<a href="/ui/secrets">Secrets</a>"#);
        if v.can_write() {
            nav.push_str(r#"<a href="/ui/secrets/new">Add a secret</a>"#);
        }
        if v.is_admin() {
            nav.push_str(r#"<a href="/ui/tokens">Tokens</a><a href="/ui/audit">Audit log</a>"#);
        }
        let _ = write!(
            nav,
            r#"<span class="who">{} <span class="role">({})</span></span><form method="post" action="/ui/logout" class="inline">{}<button type="submit">Sign out</button></form>"#,
            esc(v.name),
            role_name(v.role),
            v.csrf_field()
        );
    }
    format!(
        r#"<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>{title} · hush</title>
<link rel="stylesheet" href="/ui/assets/ui.css">
<script src="/ui/assets/ui.js" defer></script>
</head>
<body>
<header><a class="brand" href="/ui/secrets">hush</a><nav aria-label="Main">{nav}</nav></header>
<main>
<h1>{title}</h1>
{body}
</main>
</body>
</html>
"#,
        title = esc(title),
    )
}

pub fn role_name(role: Role) -> &'static str {
    match role {
        Role::Admin => "admin",
        Role::Write => "write",
        Role::Read => "read",
        Role::Machine => "machine",
    }
}

/// A notice at the top of a page: `kind` is `ok` or `error`.
pub fn notice(kind: &str, text: &str) -> String {
    let role = if kind == "error" { "alert" } else { "status" };
    format!(
        r#"<p class="notice {kind}" role="{role}">{}</p>"#,
        esc(text)
    )
}

/// The error under a field (empty when none), tied to it by `aria-describedby`.
pub fn field_error(id: &str, error: Option<&str>) -> String {
    format!(
        r#"<p class="field-error" id="{id}-error" aria-live="polite">{}</p>"#,
        esc(error.unwrap_or(""))
    )
}

/// A labelled single-line input.
pub fn input(id: &str, label: &str, value: &str, hint: &str, error: Option<&str>) -> String {
    let invalid = if error.is_some() {
        r#" aria-invalid="true""#
    } else {
        ""
    };
    format!(
        r#"<div class="field"><label for="{id}">{label}</label><input id="{id}" name="{id}" value="{}" aria-describedby="{id}-hint {id}-error"{invalid}><p class="hint" id="{id}-hint">{hint}</p>{}</div>"#,
        esc(value),
        field_error(id, error),
        label = esc(label),
        hint = esc(hint),
    )
}

/// A labelled select; `options` are (value, label).
pub fn select(id: &str, label: &str, options: &[(&str, &str)], selected: &str) -> String {
    let mut opts = String::new();
    for (v, l) in options {
        let sel = if *v == selected { " selected" } else { "" };
        let _ = write!(
            opts,
            r#"<option value="{}"{sel}>{}</option>"#,
            esc(v),
            esc(l)
        );
    }
    format!(
        r#"<div class="field"><label for="{id}">{}</label><select id="{id}" name="{id}">{opts}</select></div>"#,
        esc(label)
    )
}

/// The value field: type or paste into the text area, or drop a file on it (or pick one).
/// The JavaScript reads a file into `value` (text) or `value_base64` (any bytes) and checks
/// JSON before the form is sent; the server checks JSON again.
pub fn value_field(label: &str, value: &str, format: &str, error: Option<&str>) -> String {
    let invalid = if error.is_some() {
        r#" aria-invalid="true""#
    } else {
        ""
    };
    format!(
        r#"<div class="field dropzone" data-dropzone>
<label for="value">{label}</label>
<textarea id="value" name="value" rows="6" autocomplete="off" spellcheck="false" aria-describedby="value-hint value-error"{invalid}>{value}</textarea>
<input type="hidden" name="value_base64" id="value_base64" value="">
<input type="hidden" name="filename" id="filename" value="">
<p class="hint" id="value-hint">Type or paste the value, or drop a file here, or <label class="file-pick" for="value_file">choose a file</label><input type="file" id="value_file" class="visually-hidden"> <span id="value-file-name" aria-live="polite"></span></p>
{error}
</div>
{format}"#,
        label = esc(label),
        value = esc(value),
        error = field_error("value", error),
        format = select(
            "format",
            "Value format",
            &[
                ("text", "Text (any bytes)"),
                ("json", "JSON (checked before upload)")
            ],
            format
        ),
    )
}

/// A one-button form posting to `action` (revoke, restore, sign out …).
pub fn button_form(viewer: &Viewer<'_>, action: &str, label: &str, class: &str) -> String {
    format!(
        r#"<form method="post" action="{}" class="inline">{}<button type="submit" class="{class}">{}</button></form>"#,
        esc(action),
        viewer.csrf_field(),
        esc(label)
    )
}
