//! The secret forms' fields, what they parse into, and where a refusal is shown: each error
//! goes next to the field it is about.

use base64::Engine as _;
use hush_core::model::{validate_format, Metadata};
use hush_core::patch::PatchRules as _;
use hush_core::{clock, Invalid, MetadataPatch, SecretBytes, TokenType, ValueFormat};
use maud::{html, Markup};
use serde::Deserialize;

use crate::ui::layout;

/// Every field of the add, edit and replace forms (each sends the ones it shows).
#[derive(Deserialize, Default)]
pub(in crate::ui) struct SecretForm {
    #[serde(default)]
    pub csrf: String,
    #[serde(default)]
    pub key: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub token_type: String,
    #[serde(default)]
    pub scope: String,
    #[serde(default)]
    pub envs: String,
    #[serde(default)]
    pub expires: String,
    /// The warning window before the expiry (`30d`, `0`; blank: the default, 14 days).
    #[serde(default)]
    pub notify_before: String,
    #[serde(default)]
    pub value: String,
    #[serde(default)]
    pub value_base64: String,
    #[serde(default)]
    pub format: String,
    /// The environment whose own value a replace writes (empty: the shared value).
    #[serde(default)]
    pub value_env: String,
}

impl SecretForm {
    /// The edit form as it first shows: the secret's metadata.
    pub fn of(meta: &Metadata) -> Self {
        SecretForm {
            description: meta.description.clone().unwrap_or_default(),
            token_type: meta
                .token_type
                .map(|t| t.as_str().to_string())
                .unwrap_or_default(),
            scope: meta.scope.join(", "),
            envs: meta.envs.join(", "),
            expires: meta.expires_at.map(clock::rfc3339).unwrap_or_default(),
            notify_before: meta.notify_before.map(span_text).unwrap_or_default(),
            ..SecretForm::default()
        }
    }

    /// The value format chosen, `text` unless the form says `json`.
    pub fn format(&self) -> &str {
        if self.format.is_empty() {
            "text"
        } else {
            &self.format
        }
    }
}

/// A warning window as the form shows it: `30d`, `12h`, `90m`, or seconds.
fn span_text(secs: i64) -> String {
    match secs {
        0 => "0".into(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => s.to_string(),
    }
}

/// Which field an error belongs next to.
#[derive(Default)]
pub(super) struct FieldErrors {
    pub key: Option<String>,
    pub description: Option<String>,
    pub token_type: Option<String>,
    pub scope: Option<String>,
    pub envs: Option<String>,
    pub expires: Option<String>,
    pub notify_before: Option<String>,
    pub value: Option<String>,
    pub form: Option<String>,
}

impl FieldErrors {
    pub fn any(&self) -> bool {
        self.key.is_some()
            || self.description.is_some()
            || self.token_type.is_some()
            || self.scope.is_some()
            || self.envs.is_some()
            || self.expires.is_some()
            || self.notify_before.is_some()
            || self.value.is_some()
            || self.form.is_some()
    }

    /// Puts a core validation error next to the field it is about.
    pub fn place(&mut self, e: &Invalid) {
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
            Invalid::Expiry { .. }
            | Invalid::PastExpiry
            | Invalid::PastSecretExpiry
            | Invalid::ExpiryRange { .. } => self.expires = msg,
            Invalid::Span { .. } | Invalid::NotifyBeforeRange { .. } => self.notify_before = msg,
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

/// The metadata a form sets. It sets every field (clearing blank ones), as the forms show
/// them all; errors are placed next to their fields.
pub(super) fn patch_from(f: &SecretForm, errors: &mut FieldErrors) -> MetadataPatch {
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
    // Blank: the default window.
    let notify_before = match f.notify_before.trim() {
        "" => None,
        t => match clock::parse_span("notify_before", t) {
            Ok(v) => Some(v),
            Err(e) => {
                errors.place(&e);
                None
            }
        },
    };
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
        notify_before: Some(notify_before),
        // A past expiry is refused (by `validate`, next to its field): the form has no way
        // to ask for one. The value's format is checked by `value_from`.
        format: None,
        allow_past: false,
    };
    if let Err(e) = patch.validate() {
        errors.place(&e);
    }
    patch
}

/// The value a form carries: a dropped or picked file (base64, any bytes) or the text typed.
/// JSON, when the format says so, must parse.
pub(super) fn value_from(f: &SecretForm, errors: &mut FieldErrors) -> Option<SecretBytes> {
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
    // The same check as the API's and the CLI's `format` (hush-core's): its message gives
    // the line and column, never the text.
    let format = if f.format == "json" {
        ValueFormat::Json
    } else {
        ValueFormat::Text
    };
    // EXPOSE: parsed to check its format; nothing of it is kept or shown.
    if let Err(e) = validate_format(format, value.expose_secret()) {
        errors.value = Some(format!("{e}: fix it, or choose the Text format."));
        return None;
    }
    if value.expose_secret().is_empty() {
        errors.place(&Invalid::EmptyValue);
        return None;
    }
    Some(value)
}

/// The metadata fields of the add and edit forms.
pub(super) fn metadata_fields(f: &SecretForm, e: &FieldErrors) -> Markup {
    html! {
        (layout::input(
            "description",
            "Description",
            &f.description,
            "What it is and who owns it (up to 1024 characters)",
            e.description.as_deref(),
        ))
        (layout::select(
            "token_type",
            "Type",
            &[("", "None"), ("api", "API key"), ("access", "Access token")],
            &f.token_type,
        ))
        (layout::input(
            "scope",
            "Scope",
            &f.scope,
            "Apps allowed to read it, separated by commas; blank: any app",
            e.scope.as_deref(),
        ))
        (layout::input(
            "envs",
            "Environments",
            &f.envs,
            "Environments it is available in, separated by commas; blank: all",
            e.envs.as_deref(),
        ))
        (layout::input(
            "expires",
            "Expires",
            &f.expires,
            "A date such as 2027-01-31T00:00:00Z, or a duration such as 90d; blank: never",
            e.expires.as_deref(),
        ))
        (layout::input(
            "notify_before",
            "Warn before",
            &f.notify_before,
            "How long before it expires it shows as expiring: a duration such as 30d, 0 never; blank: 14 days",
            e.notify_before.as_deref(),
        ))
    }
}

/// The value field of the add and replace forms, with the error it gets after `f` failed.
/// A failed form never sends a value back to the browser, so when one was given the user is
/// asked to give it again.
pub(super) fn value_field(label: &str, f: &SecretForm, e: &FieldErrors) -> Markup {
    const AGAIN: &str = "The value is not sent back to this page: enter or drop it again.";
    let given = !f.value.is_empty() || !f.value_base64.is_empty();
    let error = match (&e.value, given) {
        (Some(msg), true) => Some(format!("{msg} {AGAIN}")),
        (Some(msg), false) => Some(msg.clone()),
        (None, true) => Some(AGAIN.to_string()),
        (None, false) => None,
    };
    layout::value_field(label, f.format(), error.as_deref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_list_field_splits_on_commas_and_spaces_and_refuses_empty_entries() {
        assert_eq!(split_list("scope", "  ").unwrap(), Vec::<String>::new());
        assert_eq!(
            split_list("scope", "billing, web  api").unwrap(),
            ["billing", "web", "api"]
        );
        for bad in [",,,", "a,,b", "a, ,b", "a,"] {
            assert!(
                matches!(
                    split_list("scope", bad),
                    Err(Invalid::EmptyEntry { field: "scope" })
                ),
                "{bad}"
            );
        }
    }

    /// Issue 16: the form says what the API and the CLI say (one check, hush-core's): JSON
    /// that does not parse, and an expiry in the past, each next to its field.
    #[test]
    fn json_and_past_expiries_are_refused_as_everywhere_else() {
        let f = SecretForm {
            value: "{\"broken\": \"planted\"".into(),
            format: "json".into(),
            expires: "2001-01-01T00:00:00Z".into(),
            ..SecretForm::default()
        };
        let mut errors = FieldErrors::default();
        assert!(value_from(&f, &mut errors).is_none());
        let value = errors.value.clone().unwrap_or_default();
        assert!(
            value.starts_with("the value is not valid JSON ("),
            "{value}"
        );
        assert!(!value.contains("planted"), "{value}");
        patch_from(&f, &mut errors);
        assert_eq!(
            errors.expires.as_deref(),
            Some(Invalid::PastSecretExpiry.to_string().as_str())
        );
        let text = SecretForm {
            value: "{\"broken\":".into(),
            ..SecretForm::default()
        };
        let mut errors = FieldErrors::default();
        assert!(
            value_from(&text, &mut errors).is_some(),
            "text takes anything"
        );
    }

    /// Issue 17: the warning window is a field of its own: blank is the default, a duration
    /// or seconds set it, a bad one is refused next to it, and an edit form shows it back.
    #[test]
    fn the_warning_window_is_set_cleared_and_checked() {
        let patch = |text: &str| {
            let f = SecretForm {
                notify_before: text.into(),
                ..SecretForm::default()
            };
            let mut errors = FieldErrors::default();
            let p = patch_from(&f, &mut errors);
            (p.notify_before, errors.notify_before)
        };
        assert_eq!(patch(""), (Some(None), None));
        assert_eq!(patch("30d"), (Some(Some(30 * 86_400)), None));
        assert_eq!(patch("0"), (Some(Some(0)), None));
        assert_eq!(patch("3600"), (Some(Some(3600)), None));
        let (_, bad) = patch("a while");
        assert!(bad.unwrap().contains("notify_before"));
        let (_, far) = patch("99999w");
        assert!(far.unwrap().contains("out of range"));
        let meta = Metadata {
            notify_before: Some(30 * 86_400),
            ..Metadata::default()
        };
        assert_eq!(SecretForm::of(&meta).notify_before, "30d");
        assert_eq!(SecretForm::of(&Metadata::default()).notify_before, "");
        assert_eq!(span_text(90 * 60), "90m");
        assert_eq!(span_text(61), "61");
    }

    #[test]
    fn a_refused_form_asks_for_the_value_again_and_never_shows_it() {
        let f = SecretForm {
            value: "planted-value-<b>".into(),
            ..SecretForm::default()
        };
        let html = value_field("Value", &f, &FieldErrors::default()).into_string();
        assert!(!html.contains("planted-value"), "{html}");
        assert!(html.contains("enter or drop it again"), "{html}");
        let untouched = value_field("Value", &SecretForm::default(), &FieldErrors::default());
        assert!(!untouched.into_string().contains("aria-invalid"));
    }
}
