//! Time: unix seconds, RFC 3339, and the expiry forms people type.

use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use crate::invalid::Invalid;

/// Seconds since the unix epoch.
pub fn now() -> i64 {
    OffsetDateTime::now_utc().unix_timestamp()
}

/// Milliseconds since the unix epoch.
pub fn now_ms() -> i64 {
    (OffsetDateTime::now_utc().unix_timestamp_nanos() / 1_000_000) as i64
}

/// RFC 3339 in UTC (`2026-11-23T10:30:00Z`).
pub fn rfc3339(unix: i64) -> String {
    OffsetDateTime::from_unix_timestamp(unix)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| unix.to_string())
}

/// RFC 3339 in UTC with milliseconds, for audit times.
pub fn rfc3339_ms(ms: i64) -> String {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .ok()
        .and_then(|t| {
            t.replace_nanosecond((ms.rem_euclid(1000) as u32) * 1_000_000)
                .ok()
        })
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| ms.to_string())
}

/// Reads an expiry: `never` (none), unix seconds, RFC 3339, or a duration from `now` such as
/// `90d`, `12h`, `30m`, `45s`, `2w` or a sum like `1d12h`.
pub fn parse_expiry(text: &str, now: i64) -> Result<Option<i64>, Invalid> {
    let t = text.trim();
    let bad = || Invalid::Expiry {
        value: text.chars().take(100).collect(),
    };
    if t.eq_ignore_ascii_case("never") {
        return Ok(None);
    }
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t.parse::<i64>().map(Some).map_err(|_| bad());
    }
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return Ok(Some(dt.unix_timestamp()));
    }
    parse_duration(t)
        .and_then(|d| now.checked_add(d))
        .map(Some)
        .ok_or_else(bad)
}

/// Reads a time in the past, in unix milliseconds: RFC 3339 (to the millisecond), unix
/// seconds, or a duration *before* `now_ms` (`90d`: 90 days ago). `field` names the flag or
/// field in the error.
pub fn parse_past(field: &'static str, text: &str, now_ms: i64) -> Result<i64, Invalid> {
    let t = text.trim();
    let bad = || Invalid::PastTime {
        field,
        value: text.chars().take(100).collect(),
    };
    if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        return t
            .parse::<i64>()
            .ok()
            .and_then(|s| s.checked_mul(1000))
            .ok_or_else(bad);
    }
    if let Ok(dt) = OffsetDateTime::parse(t, &Rfc3339) {
        return i64::try_from(dt.unix_timestamp_nanos() / 1_000_000).map_err(|_| bad());
    }
    parse_duration(t)
        .and_then(|d| d.checked_mul(1000))
        .and_then(|d| now_ms.checked_sub(d))
        .ok_or_else(bad)
}

/// Reads a span of time in seconds: whole seconds (`3600`) or a duration (`30d`, `1d12h`).
/// `field` names the flag or field in the error.
pub fn parse_span(field: &'static str, text: &str) -> Result<i64, Invalid> {
    let t = text.trim();
    let parsed = if !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit()) {
        t.parse::<i64>().ok()
    } else {
        parse_duration(t)
    };
    parsed.ok_or_else(|| Invalid::Span {
        field,
        value: text.chars().take(100).collect(),
    })
}

/// A span for people, rounded down to its largest unit: `3 days`, `1 hour`, `5 minutes`,
/// `40 seconds`.
pub fn human_span(secs: i64) -> String {
    let secs = secs.max(0);
    let (n, unit) = match secs {
        s if s >= 86_400 => (s / 86_400, "day"),
        s if s >= 3600 => (s / 3600, "hour"),
        s if s >= 60 => (s / 60, "minute"),
        s => (s, "second"),
    };
    format!("{n} {unit}{}", if n == 1 { "" } else { "s" })
}

/// `90d`, `12h`, `1d12h`, `2w`: a sum of whole numbers each followed by s, m, h, d or w.
fn parse_duration(t: &str) -> Option<i64> {
    if t.is_empty() {
        return None;
    }
    let mut total: i64 = 0;
    let mut num: Option<i64> = None;
    for c in t.chars() {
        if let Some(d) = c.to_digit(10) {
            num = Some(
                num.unwrap_or(0)
                    .checked_mul(10)?
                    .checked_add(i64::from(d))?,
            );
            continue;
        }
        let unit = match c {
            's' => 1,
            'm' => 60,
            'h' => 3600,
            'd' => 86_400,
            'w' => 604_800,
            _ => return None,
        };
        total = total.checked_add(num.take()?.checked_mul(unit)?)?;
    }
    if num.is_some() {
        return None;
    }
    Some(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spans() {
        assert_eq!(parse_span("f", "30d").unwrap(), 30 * 86_400);
        assert_eq!(parse_span("f", "3600").unwrap(), 3600);
        assert_eq!(parse_span("f", "0").unwrap(), 0);
        assert!(parse_span("f", "soon").is_err());
        assert!(parse_span("f", "").is_err());
        assert_eq!(human_span(3 * 86_400 + 5), "3 days");
        assert_eq!(human_span(86_400), "1 day");
        assert_eq!(human_span(7200), "2 hours");
        assert_eq!(human_span(59), "59 seconds");
    }

    #[test]
    fn expiry_forms() {
        let now = 1_000_000;
        assert_eq!(parse_expiry("never", now).unwrap(), None);
        assert_eq!(
            parse_expiry("1735689600", now).unwrap(),
            Some(1_735_689_600)
        );
        assert_eq!(
            parse_expiry("2025-01-01T00:00:00Z", now).unwrap(),
            Some(1_735_689_600)
        );
        assert_eq!(
            parse_expiry("2025-01-01T01:00:00+01:00", now).unwrap(),
            Some(1_735_689_600)
        );
        assert_eq!(parse_expiry("90d", now).unwrap(), Some(now + 90 * 86_400));
        assert_eq!(parse_expiry("1d12h", now).unwrap(), Some(now + 36 * 3600));
        assert_eq!(parse_expiry("30m", now).unwrap(), Some(now + 1800));
        for bad in [
            "",
            "soon",
            "90",
            "d",
            "12x",
            "90d5",
            "2025-13-01T00:00:00Z",
            "99999999999999999999d",
        ] {
            if bad == "90" {
                continue; // plain digits are unix seconds
            }
            assert!(parse_expiry(bad, now).is_err(), "{bad}");
        }
    }

    #[test]
    fn past_forms() {
        let now = 1_000_000_000;
        let p = |t| parse_past("--before", t, now);
        assert_eq!(p("1735689600"), Ok(1_735_689_600_000));
        assert_eq!(p("2025-01-01T00:00:00.250Z"), Ok(1_735_689_600_250));
        assert_eq!(p("2025-01-01T01:00:00+01:00"), Ok(1_735_689_600_000));
        assert_eq!(p("90d"), Ok(now - 90 * 86_400_000));
        assert_eq!(p("1h30m"), Ok(now - 5_400_000));
        for bad in ["", "never", "soon", "d", "90d5", "2025-13-01T00:00:00Z"] {
            let e = p(bad).unwrap_err();
            assert!(e.to_string().contains("--before"), "{e}");
        }
    }

    #[test]
    fn rfc3339_formats_utc() {
        assert_eq!(rfc3339(1_735_689_600), "2025-01-01T00:00:00Z");
    }
}
