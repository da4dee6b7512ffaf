//! Tables for people, JSON for scripts.

use std::io::Write as _;

use anyhow::Result;
use hush_wire::{SecretMeta, UsedBy, VersionInfo};

pub fn print_json<T: serde::Serialize>(value: &T) -> Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    out.write_all(b"\n")?;
    Ok(())
}

/// A cell as printable text: control characters (ESC, CR, LF, …) are shown escaped (`\u{1b}`,
/// `\r`, `\n`), so a stored description can neither colour the terminal nor forge a row. hush
/// refuses them on write; rows written before that, or by other tools, still print safely.
fn printable(cell: &str) -> String {
    if !cell.chars().any(char::is_control) {
        return cell.to_string();
    }
    cell.chars()
        .map(|c| {
            if c.is_control() {
                c.escape_default().to_string()
            } else {
                c.to_string()
            }
        })
        .collect()
}

/// Left-aligned columns separated by two spaces; the last column is not padded. Every cell
/// goes through [`printable`].
pub fn print_table(header: &[&str], rows: &[Vec<String>]) -> Result<()> {
    let rows: Vec<Vec<String>> = rows
        .iter()
        .map(|r| r.iter().map(|c| printable(c)).collect())
        .collect();
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for row in &rows {
        for (i, cell) in row.iter().enumerate() {
            widths[i] = widths[i].max(cell.chars().count());
        }
    }
    let mut out = std::io::stdout().lock();
    let line = |cells: Vec<&str>| -> String {
        let n = cells.len();
        let mut s = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            s.push_str(c);
            if i + 1 < n {
                s.push_str(&" ".repeat(widths[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    writeln!(out, "{}", line(header.to_vec()))?;
    for row in &rows {
        writeln!(out, "{}", line(row.iter().map(String::as_str).collect()))?;
    }
    Ok(())
}

fn or_dash(s: &str) -> String {
    if s.is_empty() {
        "-".into()
    } else {
        s.into()
    }
}

fn expiry(m: &SecretMeta) -> String {
    m.expires_at
        .map(hush_core::clock::rfc3339)
        .unwrap_or_else(|| "never".into())
}

/// The environments with a value of their own, with each one's version: `dev v2, prd v1`.
fn own_values(m: &SecretMeta) -> String {
    m.env_versions
        .iter()
        .map(|(e, v)| format!("{e} v{v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn secrets_table(list: &[SecretMeta]) -> Result<()> {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|m| {
            vec![
                m.key.clone(),
                m.status.clone(),
                m.version.to_string(),
                or_dash(m.token_type.as_deref().unwrap_or("")),
                or_dash(&m.scope.join(",")),
                or_dash(&m.envs.join(",")),
                or_dash(&own_values(m)),
                expiry(m),
                m.updated_at.clone(),
                or_dash(m.description.as_deref().unwrap_or("")),
            ]
        })
        .collect();
    print_table(
        &[
            "KEY",
            "STATUS",
            "VERSION",
            "TYPE",
            "SCOPE",
            "ENVS",
            "OWN VALUES",
            "EXPIRES",
            "UPDATED",
            "DESCRIPTION",
        ],
        &rows,
    )
}

pub fn secret_detail(m: &SecretMeta) -> Result<()> {
    let mut rows = vec![
        vec!["key".into(), m.key.clone()],
        vec!["workspace".into(), m.workspace.clone()],
        vec!["id".into(), m.id.clone()],
        vec![
            "description".into(),
            or_dash(m.description.as_deref().unwrap_or("")),
        ],
        vec![
            "type".into(),
            or_dash(m.token_type.as_deref().unwrap_or("")),
        ],
        vec![
            "scope".into(),
            if m.scope.is_empty() {
                "all apps".into()
            } else {
                m.scope.join(", ")
            },
        ],
        vec![
            "envs".into(),
            if m.envs.is_empty() {
                "all environments".into()
            } else {
                m.envs.join(", ")
            },
        ],
        vec![
            "own values".into(),
            if m.env_versions.is_empty() {
                "none: every environment reads the shared value".into()
            } else {
                own_values(m)
            },
        ],
        vec!["expires".into(), expiry(m)],
        vec![
            "warn before".into(),
            match m.notify_before {
                Some(secs) => hush_core::clock::human_span(secs),
                None => format!(
                    "{} (default)",
                    hush_core::clock::human_span(hush_core::model::DEFAULT_NOTIFY_BEFORE)
                ),
            },
        ],
        vec!["status".into(), m.status.clone()],
        vec!["version".into(), m.version.to_string()],
        vec![
            "created".into(),
            format!("{} by {}", m.created_at, m.created_by),
        ],
        vec![
            "updated".into(),
            format!("{} by {}", m.updated_at, m.updated_by),
        ],
    ];
    if let Some(used_by) = &m.used_by {
        rows.push(vec!["used by".into(), used_by_line(used_by)]);
    }
    let mut out = std::io::stdout().lock();
    for r in rows {
        writeln!(out, "{:<12} {}", r[0], printable(&r[1]))?;
    }
    Ok(())
}

/// The apps naming a secret, each with its last read and the environment it was made in:
/// `web (last read 2026-01-02T03:04:05Z in prd), cron (never read)`.
fn used_by_line(used_by: &[UsedBy]) -> String {
    if used_by.is_empty() {
        return "no registered app".into();
    }
    used_by
        .iter()
        .map(|u| match (&u.last_read_at, &u.env) {
            (None, _) => format!("{} (never read)", u.app),
            (Some(at), None) => format!("{} (last read {at})", u.app),
            (Some(at), Some(env)) => format!("{} (last read {at} in {env})", u.app),
        })
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn versions_table(list: &[VersionInfo]) -> Result<()> {
    let rows: Vec<Vec<String>> = list
        .iter()
        .map(|v| {
            vec![
                v.env.clone().unwrap_or_else(|| "(shared)".into()),
                v.version.to_string(),
                v.created_at.clone(),
                v.created_by.clone(),
                if v.current { "*".into() } else { String::new() },
            ]
        })
        .collect();
    print_table(
        &["ENV", "VERSION", "CREATED", "CREATED_BY", "CURRENT"],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    /// Regression: a description with ESC/CR/LF printed raw coloured the terminal and forged a
    /// table row.
    #[test]
    fn control_characters_print_escaped() {
        let out = super::printable("\u{1b}[31mred\r\nINJECT\tx");
        assert!(!out.chars().any(char::is_control), "{out:?}");
        assert_eq!(out, "\\u{1b}[31mred\\r\\nINJECT\\tx");
        assert_eq!(super::printable("plain é"), "plain é");
    }
}
