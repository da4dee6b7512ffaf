//! The audit log (admins): the chain's verdict, filters by key and actor, and the rows. The
//! row table is also the "recent activity" of a secret's page.

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use hush_core::audit::{AuditFilter, AuditRow, Verdict};
use hush_core::clock;
use maud::{html, Markup};
use serde::Deserialize;

use super::layout::{self, error_page, notice, Notice};
use super::session::Session;
use super::{blank_to_none, html_response};
use crate::AppState;

/// Rows shown at most.
const LIMIT: usize = 200;

#[derive(Deserialize, Default)]
pub(super) struct AuditParams {
    #[serde(default)]
    key: String,
    #[serde(default)]
    actor: String,
}

pub(super) async fn page(
    State(s): State<AppState>,
    session: Session,
    Query(p): Query<AuditParams>,
) -> Response {
    let filter = AuditFilter {
        key: blank_to_none(&p.key),
        actor: blank_to_none(&p.actor),
        limit: Some(LIMIT),
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
    let body = html! {
        (verdict_notice(&verdict))
        form method="get" action="/ui/audit" class="filters" role="search" {
            (layout::input("key", "Key", &p.key, "Rows about this secret", None))
            (layout::input("actor", "Actor", &p.actor, "Token id or name", None))
            div class="field actions" {
                button type="submit" { "Filter" }
                " "
                a href="/ui/audit" { "Clear" }
            }
        }
        (table(&rows))
    };
    html_response(
        StatusCode::OK,
        layout::page("Audit log", Some(&session.viewer()), body),
    )
}

fn verdict_notice(v: &Verdict) -> Markup {
    match v {
        Verdict::Intact { rows, head, .. } => notice(
            Notice::Ok,
            &format!(
                "Chain verified: all {rows} rows link up and match their MACs. Head: {}:{}",
                head.seq, head.mac
            ),
        ),
        Verdict::Broken { seq, reason, .. } => notice(
            Notice::Error,
            &format!("Chain BROKEN at row {seq}: {reason}"),
        ),
    }
}

/// Audit rows as a table (or a line saying there are none).
pub(super) fn table(rows: &[AuditRow]) -> Markup {
    html! {
        @if rows.is_empty() {
            p { "No audit rows." }
        } @else {
            div class="table-wrap" {
                table class="audit" {
                    (layout::table_head(&[
                        "#", "When", "Actor", "Action", "Key", "Version", "Outcome", "From",
                    ]))
                    tbody {
                        @for r in rows {
                            tr {
                                td { (r.seq) }
                                td { (clock::rfc3339_ms(r.entry.ts_ms)) }
                                td { (r.entry.actor_name) }
                                td { (r.entry.action) }
                                td { (keys_cell(&r.entry)) }
                                td { @if let Some(v) = r.entry.version { (v) } }
                                td { (r.entry.outcome) }
                                td { (r.entry.remote.as_deref().unwrap_or("")) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The key of a row, or for a row naming several (one resolve) its first keys and how many.
fn keys_cell(e: &hush_core::audit::AuditEntry) -> String {
    const SHOWN: usize = 5;
    if e.items.is_empty() {
        return e.key.clone().unwrap_or_default();
    }
    let first: Vec<&str> = e.items.iter().take(SHOWN).map(|i| i.key.as_str()).collect();
    match e.items.len().saturating_sub(SHOWN) {
        0 => first.join(", "),
        more => format!("{} and {more} more", first.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use hush_core::audit::AuditEntry;

    use super::*;

    #[test]
    fn audit_fields_are_escaped() {
        let planted = r#"<img src=x onerror="alert(1)">"#;
        let row = AuditRow {
            seq: 7,
            entry: AuditEntry {
                ts_ms: 0,
                actor_id: "tok_1".into(),
                actor_name: planted.into(),
                action: planted.into(),
                workspace: None,
                key: Some(planted.into()),
                version: Some(3),
                outcome: planted.into(),
                env: None,
                remote: Some(planted.into()),
                request_id: None,
                detail: None,
                items: Vec::new(),
            },
            prev_mac: String::new(),
            mac: String::new(),
        };
        let html = table(&[row]).into_string();
        assert!(!html.contains("<img"), "{html}");
        assert_eq!(
            html.matches("<td>&lt;img src=x onerror=&quot;alert(1)&quot;&gt;</td>")
                .count(),
            5,
            "{html}"
        );
        assert!(
            html.contains("<td>7</td>") && html.contains("<td>3</td>"),
            "{html}"
        );
        assert_eq!(table(&[]).into_string(), "<p>No audit rows.</p>");
    }
}
