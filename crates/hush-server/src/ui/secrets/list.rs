//! The secrets list: filters, one page of matches, who uses each secret, and the pager.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hush_core::model::SecretRow;
use hush_core::{clock, Error, ListFilter, Status};
use maud::{html, Markup};
use serde::Deserialize;

use super::{list_or_dash, shown_status, status_label};
use crate::ui::layout::{self, error_page, notice, Notice};
use crate::ui::session::Session;
use crate::ui::{blank_to_none, done_message, html_response, when};
use crate::AppState;

/// Secrets per page of the list.
const PAGE_SIZE: usize = 50;
/// Rows asked of the store at a time while filtering.
const FETCH: usize = 200;

#[derive(Deserialize, Default)]
pub(in crate::ui) struct ListParams {
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

pub(in crate::ui) async fn list(
    State(s): State<AppState>,
    session: Session,
    Query(p): Query<ListParams>,
) -> Response {
    let wanted_status = p.status.as_str();
    let core_status = match wanted_status {
        "active" => Some(Status::Active),
        "expiring" => Some(Status::Expiring),
        "revoked" => Some(Status::Revoked),
        "expired" => Some(Status::Expired),
        _ => None,
    };
    let text = p.q.trim().to_lowercase();
    let mut filter = ListFilter {
        env: blank_to_none(&p.env),
        app: blank_to_none(&p.app),
        prefix: None,
        status: core_status,
        after: blank_to_none(&p.after),
        limit: Some(FETCH),
    };
    // Filter pages of the store's list until one page of matches (or the end).
    let mut shown: Vec<SecretRow> = Vec::new();
    let mut more = false;
    'pages: loop {
        let rows = match s.hush.list(&session.ws, &filter, &session.actor).await {
            Ok(r) => r,
            Err(Error::Invalid(e)) => {
                return list_page(&s, &session, &p, &[], false, Some(&e.to_string())).await
            }
            Err(e) => return error_page(e),
        };
        let full = rows.len() == FETCH;
        for r in rows {
            filter.after = Some(r.key.clone());
            let matches_text = text.is_empty()
                || r.key.to_lowercase().contains(&text)
                || r.meta
                    .description
                    .as_deref()
                    .is_some_and(|d| d.to_lowercase().contains(&text));
            if matches_text {
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
    list_page(&s, &session, &p, &shown, more, None).await
}

async fn list_page(
    s: &AppState,
    session: &Session,
    p: &ListParams,
    rows: &[SecretRow],
    more: bool,
    error: Option<&str>,
) -> Response {
    let keys: Vec<String> = rows.iter().map(|r| r.key.clone()).collect();
    let used_by: HashMap<String, Vec<String>> = match s.hush.usage(&session.ws, &keys).await {
        Ok(u) => u
            .into_iter()
            .map(|(key, uses)| (key, uses.into_iter().map(|u| u.app).collect()))
            .collect(),
        Err(e) => return error_page(e),
    };
    let body = list_body(p, rows, &used_by, more, error, clock::now());
    html_response(
        StatusCode::OK,
        layout::page("Secrets", Some(&session.viewer()), body),
    )
}

fn list_body(
    p: &ListParams,
    rows: &[SecretRow],
    used_by: &HashMap<String, Vec<String>>,
    more: bool,
    error: Option<&str>,
    now: i64,
) -> Markup {
    let next = rows.last().filter(|_| more);
    html! {
        @if let Some(m) = done_message(&p.msg) { (notice(Notice::Ok, m)) }
        @if let Some(e) = error { (notice(Notice::Error, e)) }
        form method="get" action="/ui/secrets" class="filters" role="search" {
            (layout::input("q", "Text", &p.q, "In keys and descriptions", None))
            (layout::select(
                "status",
                "Status",
                &[
                    ("", "Any"),
                    ("active", "Active"),
                    ("expiring", "Expiring soon"),
                    ("revoked", "Revoked"),
                    ("expired", "Expired"),
                ],
                &p.status,
            ))
            (layout::input("app", "App", &p.app, "Readable by this app", None))
            (layout::input("env", "Environment", &p.env, "Available in this environment", None))
            div class="field actions" {
                button type="submit" { "Filter" }
                " "
                a href="/ui/secrets" { "Clear" }
            }
        }
        @if rows.is_empty() {
            p class="empty" { "No secrets match." }
        } @else {
            div class="table-wrap" {
                table id="secrets" {
                    caption class="visually-hidden" { "Secrets" }
                    (layout::table_head(&[
                        "Key", "Description", "Type", "Scope", "Environments", "Status",
                        "Expires", "Used by", "Updated",
                    ]))
                    tbody {
                        @for r in rows {
                            (list_row(r, used_by.get(&r.key).map_or(&[][..], Vec::as_slice), now))
                        }
                    }
                }
            }
        }
        @if !p.after.is_empty() || next.is_some() {
            nav class="pager" aria-label="Pages" {
                @if !p.after.is_empty() {
                    a href={ "/ui/secrets?" (list_query(p, "")) } { "First page" }
                    " "
                }
                @if let Some(last) = next {
                    a href={ "/ui/secrets?" (list_query(p, &last.key)) } rel="next" { "Next page" }
                }
            }
        }
    }
}

fn list_row(r: &SecretRow, used_by: &[String], now: i64) -> Markup {
    let st = shown_status(r, now);
    html! {
        tr data-key=(r.key) {
            td { a href={ "/ui/secrets/" (r.key) } { (r.key) } }
            td { (r.meta.description.as_deref().unwrap_or("")) }
            td { (r.meta.token_type.map_or("—", |t| t.as_str())) }
            td { (list_or_dash(&r.meta.scope)) }
            td { (list_or_dash(&r.meta.envs)) }
            td { span class={ "status " (st) } { (status_label(st)) } }
            td { (when(r.meta.expires_at)) }
            td { (list_or_dash(used_by)) }
            td { (clock::rfc3339(r.updated_at)) }
        }
    }
}

/// The list's query string with the filters kept and the page starting after `after`.
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

#[cfg(test)]
mod tests {
    use hush_core::model::Metadata;
    use hush_core::StoredStatus;

    use super::*;

    const PLANTED: &str = r#"<script>alert("x")</script>"#;
    const ESCAPED: &str = "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;";

    fn row(key: &str, description: &str) -> SecretRow {
        SecretRow {
            id: "sec_1".into(),
            workspace_id: "ws_1".into(),
            key: key.into(),
            meta: Metadata {
                description: Some(description.into()),
                scope: vec![PLANTED.into()],
                ..Metadata::default()
            },
            status: StoredStatus::Active,
            version: 1,
            env_versions: Default::default(),
            revision: 1,
            created_at: 0,
            updated_at: 0,
            created_by: PLANTED.into(),
            updated_by: PLANTED.into(),
        }
    }

    #[test]
    fn keys_descriptions_and_filters_are_escaped() {
        let p = ListParams {
            q: PLANTED.into(),
            app: r#"" autofocus onfocus="alert(1)"#.into(),
            after: "k".into(),
            ..ListParams::default()
        };
        let rows = [row(PLANTED, PLANTED)];
        let used_by = HashMap::from([(PLANTED.to_string(), vec![PLANTED.to_string()])]);
        let html = list_body(&p, &rows, &used_by, true, Some(PLANTED), 0).into_string();
        assert!(!html.contains("<script"), "{html}");
        assert!(
            !html.contains(r#"" autofocus"#),
            "an attribute value broke out: {html}"
        );
        assert!(
            html.contains(&format!(r#"<tr data-key="{ESCAPED}">"#)),
            "{html}"
        );
        assert!(html.contains(&format!(r#"<td>{ESCAPED}</td>"#)), "{html}");
        assert!(
            html.contains(r#"value="&quot; autofocus onfocus=&quot;alert(1)""#),
            "{html}"
        );
    }

    /// Issue 17: the page shows the status every reader sees, `expiring` following the
    /// secret's own `notify_before`.
    #[test]
    fn expiring_follows_the_secrets_own_window() {
        let now = 1_000_000;
        let mut soon = row("SOON", "d");
        soon.meta.expires_at = Some(now + 3 * 86_400);
        let mut wide = row("WIDE", "d");
        wide.meta.expires_at = Some(now + 30 * 86_400);
        wide.meta.notify_before = Some(40 * 86_400);
        let mut quiet = row("QUIET", "d");
        quiet.meta.expires_at = Some(now + 86_400);
        quiet.meta.notify_before = Some(0);
        let label = |r: &SecretRow| {
            let html = list_row(r, &[], now).into_string();
            if html.contains("Expiring soon") {
                "expiring"
            } else if html.contains("Active") {
                "active"
            } else {
                panic!("{html}")
            }
        };
        assert_eq!(label(&soon), "expiring");
        assert_eq!(label(&wide), "expiring");
        assert_eq!(label(&quiet), "active");
    }

    #[test]
    fn the_pager_keeps_the_filters_and_escapes_its_links() {
        let p = ListParams {
            q: "a&b".into(),
            status: "active".into(),
            after: "k1".into(),
            ..ListParams::default()
        };
        let rows = [row("k2", "d")];
        let html = list_body(&p, &rows, &HashMap::new(), true, None, 0).into_string();
        assert!(
            html.contains(r#"<a href="/ui/secrets?q=a%26b&amp;status=active">First page</a> "#),
            "{html}"
        );
        assert!(
            html.contains(
                r#"href="/ui/secrets?q=a%26b&amp;status=active&amp;after=k2" rel="next""#
            ),
            "{html}"
        );
        let last = list_body(
            &ListParams::default(),
            &rows,
            &HashMap::new(),
            false,
            None,
            0,
        );
        assert!(
            !last.into_string().contains("pager"),
            "no pager on a single page"
        );
    }

    #[test]
    fn a_message_after_a_redirect_comes_from_the_fixed_list_only() {
        let p = ListParams {
            msg: PLANTED.into(),
            ..ListParams::default()
        };
        let html = list_body(&p, &[], &HashMap::new(), false, None, 0).into_string();
        assert!(!html.contains("notice"), "{html}");
        assert!(html.contains("No secrets match."));
    }
}
