//! The cutoff instant and the date formats the sources speak
//! (RFC 3339, RFC 2822 in Release files, snapshot.debian.org's `YYYYMMDDTHHMMSSZ`).

use crate::source::SourceError;
use chrono::{DateTime, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// The instant "as of" which sources are asked; everything published after it is excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cutoff(pub DateTime<Utc>);

impl Cutoff {
    /// Parses `YYYY-MM-DD` (end of that day, UTC), RFC 3339, or a snapshot timestamp.
    pub fn parse(s: &str) -> Result<Cutoff, SourceError> {
        let s = s.trim();
        if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
            // A bare date means "anything published that day counts".
            let end = d
                .and_hms_opt(23, 59, 59)
                .ok_or_else(|| SourceError::Invalid(format!("bad date `{s}`")))?;
            return Ok(Cutoff(Utc.from_utc_datetime(&end)));
        }
        if let Some(t) = parse_snapshot_ts(s) {
            return Ok(Cutoff(t));
        }
        parse_rfc3339(s).map(Cutoff).ok_or_else(|| {
            SourceError::Invalid(format!(
                "bad date `{s}` (expected YYYY-MM-DD, RFC 3339 such as 2022-12-06T08:47:31Z, or YYYYMMDDTHHMMSSZ)"
            ))
        })
    }

    /// The snapshot.debian.org form, `20221206T084731Z`.
    pub fn snapshot_ts(&self) -> String {
        snapshot_ts(&self.0)
    }

    /// RFC 3339 with a `Z`, second precision.
    pub fn rfc3339(&self) -> String {
        rfc3339(&self.0)
    }
}

impl std::fmt::Display for Cutoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// Formats an instant as snapshot.debian.org does, `YYYYMMDDTHHMMSSZ`.
pub fn snapshot_ts(t: &DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Formats an instant as RFC 3339 UTC with second precision.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Parses `YYYYMMDDTHHMMSSZ`.
pub fn parse_snapshot_ts(s: &str) -> Option<DateTime<Utc>> {
    if s.len() != 16 || !s.ends_with('Z') {
        return None;
    }
    NaiveDateTime::parse_from_str(&s[..15], "%Y%m%dT%H%M%S")
        .ok()
        .map(|n| Utc.from_utc_datetime(&n))
}

/// Parses RFC 3339 (PyPI's `upload-time`, the Go proxy's `Time`), any offset, fractional seconds allowed.
pub fn parse_rfc3339(s: &str) -> Option<DateTime<Utc>> {
    DateTime::parse_from_rfc3339(s.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
        .or_else(|| {
            // The legacy PyPI JSON has `2019-01-01T12:00:00` without a zone: it is UTC.
            NaiveDateTime::parse_from_str(s.trim(), "%Y-%m-%dT%H:%M:%S%.f")
                .ok()
                .map(|n| Utc.from_utc_datetime(&n))
        })
}

/// Parses a Release file `Date:`/`Valid-Until:` (`Sat, 14 Aug 2021 07:55:44 UTC`).
pub fn parse_release_date(s: &str) -> Option<DateTime<Utc>> {
    let s = s.trim();
    // RFC 2822 knows `UT` and `GMT` but Debian writes `UTC`.
    let fixed = match s.strip_suffix(" UTC") {
        Some(head) => format!("{head} +0000"),
        None => s.to_string(),
    };
    DateTime::parse_from_rfc2822(&fixed)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// The current instant, from the system clock.
pub fn now() -> DateTime<Utc> {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    DateTime::from_timestamp(secs, 0).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form() {
        assert_eq!(
            Cutoff::parse("2022-12-06").unwrap().rfc3339(),
            "2022-12-06T23:59:59Z"
        );
        assert_eq!(
            Cutoff::parse("2022-12-06T08:47:31Z").unwrap().snapshot_ts(),
            "20221206T084731Z"
        );
        assert_eq!(
            Cutoff::parse("20221206T084731Z").unwrap().rfc3339(),
            "2022-12-06T08:47:31Z"
        );
        assert!(Cutoff::parse("yesterday").is_err());
        assert_eq!(
            rfc3339(&parse_release_date("Sat, 14 Aug 2021 07:55:44 UTC").unwrap()),
            "2021-08-14T07:55:44Z"
        );
        assert_eq!(
            rfc3339(&parse_rfc3339("2019-01-01T12:00:00.123456Z").unwrap()),
            "2019-01-01T12:00:00Z"
        );
        assert_eq!(
            rfc3339(&parse_rfc3339("2019-01-01T12:00:00").unwrap()),
            "2019-01-01T12:00:00Z"
        );
    }
}
