//! The secrets pages: the list ([`list`](mod@list)), adding one ([`new`]), one secret with
//! its edit, replace, revoke and restore forms ([`detail`]), and deleting one
//! ([`delete`](mod@delete)). The forms' fields and their checks are in [`form`]. No page ever
//! carries a value: the value fields start empty, and a refused form asks for the value again
//! instead of sending it back.

mod delete;
mod detail;
mod form;
mod list;
mod new;

use hush_core::model::SecretRow;

pub(super) use delete::{delete, delete_page};
pub(super) use detail::{delete_env_value, detail_page, edit_meta, replace_value, restore, revoke};
pub(super) use list::list;
pub(super) use new::{create, new_page};

/// What a secret's status is, as the pages show it: the status every reader sees
/// (`expiring` within the secret's warning window, `notify_before`, default 14 days).
fn shown_status(row: &SecretRow, now: i64) -> &'static str {
    row.status_at(now).as_str()
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

/// Names joined by commas, or a dash for none.
fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "—".into()
    } else {
        items.join(", ")
    }
}
