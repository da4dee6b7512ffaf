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
use hush_core::Status;

pub(super) use delete::{delete, delete_page};
pub(super) use detail::{delete_env_value, detail_page, edit_meta, replace_value, restore, revoke};
pub(super) use list::list;
pub(super) use new::{create, new_page};

/// "Expiring soon": within this many seconds.
const EXPIRING_WITHIN: i64 = 14 * 86_400;

/// What a secret's status is, as the pages show it: `expiring` is an active secret that
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

/// Names joined by commas, or a dash for none.
fn list_or_dash(items: &[String]) -> String {
    if items.is_empty() {
        "—".into()
    } else {
        items.join(", ")
    }
}
