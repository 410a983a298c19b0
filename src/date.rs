//! The cutoff instant and the date formats the sources speak
//! (RFC 3339, RFC 2822 in Release files, snapshot.debian.org's `YYYYMMDDTHHMMSSZ`).
//!
//! The one rule for a bare date: `2022-12-06` means the end of that day, UTC,
//! inclusive (`2022-12-06T23:59:59Z`). SONiC and Debian users read "as of
//! 2022-12-06" as "with everything published that day", so every command that
//! takes a date (a source's cutoff, a platform's cutoff commit, a bisect bound)
//! reads it through [`Cutoff::parse`].

use chrono::{DateTime, FixedOffset, NaiveDate, NaiveDateTime, TimeZone, Utc};

/// A date or instant that could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DateError {
    /// Not one of the accepted forms, or not a day of the calendar.
    #[error(
        "bad date `{0}` (expected YYYY-MM-DD, RFC 3339 such as 2022-12-06T08:47:31Z, or YYYYMMDDTHHMMSSZ)"
    )]
    Malformed(String),
}

/// The instant "as of" which sources are asked; everything published after it is excluded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cutoff(pub DateTime<Utc>);

impl Cutoff {
    /// Parses a bare date (`YYYY-MM-DD` or `YYYYMMDD`: the end of that day, UTC),
    /// RFC 3339 (a space for the `T`, no seconds or no zone are accepted, no zone is UTC),
    /// or a snapshot timestamp.
    pub fn parse(s: &str) -> Result<Cutoff, DateError> {
        let s = s.trim();
        let bare = NaiveDate::parse_from_str(s, "%Y-%m-%d")
            .ok()
            .filter(|_| s.len() == 10)
            .or_else(|| {
                NaiveDate::parse_from_str(s, "%Y%m%d")
                    .ok()
                    .filter(|_| s.len() == 8)
            });
        if let Some(d) = bare {
            let end = d
                .and_hms_opt(23, 59, 59)
                .ok_or_else(|| DateError::Malformed(s.to_string()))?;
            return Ok(Cutoff(Utc.from_utc_datetime(&end)));
        }
        parse_snapshot_ts(s)
            .or_else(|| parse_rfc3339(s))
            .or_else(|| parse_loose(s))
            .map(Cutoff)
            .ok_or_else(|| DateError::Malformed(s.to_string()))
    }

    /// The snapshot.debian.org form, `20221206T084731Z`.
    pub fn snapshot_ts(&self) -> String {
        snapshot_ts(&self.0)
    }

    /// RFC 3339 with a `Z`, second precision.
    pub fn rfc3339(&self) -> String {
        rfc3339(&self.0)
    }

    /// Seconds since the Unix epoch.
    pub fn timestamp(&self) -> i64 {
        self.0.timestamp()
    }
}

impl std::fmt::Display for Cutoff {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.rfc3339())
    }
}

/// What people type besides strict RFC 3339: a space for the `T`, no seconds, no zone (UTC).
fn parse_loose(s: &str) -> Option<DateTime<Utc>> {
    let t = s.replacen(' ', "T", 1);
    let (clock, zone) = match t.strip_suffix('Z') {
        Some(c) => (c.to_string(), "+00:00".to_string()),
        None => match t.get(10..).and_then(|r| r.rfind(['+', '-'])) {
            Some(i) => (t[..10 + i].to_string(), t[10 + i..].to_string()),
            None => (t.clone(), "+00:00".to_string()),
        },
    };
    ["%Y-%m-%dT%H:%M:%S%.f%:z", "%Y-%m-%dT%H:%M%:z"]
        .iter()
        .find_map(|f| DateTime::<FixedOffset>::parse_from_str(&format!("{clock}{zone}"), f).ok())
        .map(|d| d.with_timezone(&Utc))
}

/// Formats an instant as snapshot.debian.org does, `YYYYMMDDTHHMMSSZ`.
pub fn snapshot_ts(t: &DateTime<Utc>) -> String {
    t.format("%Y%m%dT%H%M%SZ").to_string()
}

/// Formats an instant as RFC 3339 UTC with second precision.
pub fn rfc3339(t: &DateTime<Utc>) -> String {
    t.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}

/// Formats Unix seconds as RFC 3339 UTC (`2022-12-06T08:47:31Z`); empty when out of range.
pub fn rfc3339_secs(secs: i64) -> String {
    DateTime::from_timestamp(secs, 0)
        .map(|t| rfc3339(&t))
        .unwrap_or_default()
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
    fn a_bare_date_is_the_end_of_that_day_utc() {
        for d in ["2022-12-06", "20221206", " 2022-12-06 "] {
            assert_eq!(Cutoff::parse(d).unwrap().rfc3339(), "2022-12-06T23:59:59Z");
        }
        // Inclusive: an upload at the last second of the day counts, the next one does not.
        let c = Cutoff::parse("2022-12-06").unwrap();
        assert!(parse_rfc3339("2022-12-06T23:59:59Z").unwrap() <= c.0);
        assert!(parse_rfc3339("2022-12-07T00:00:00Z").unwrap() > c.0);
        assert!(
            Cutoff::parse("2022-02-30").is_err(),
            "not a day of the calendar"
        );
        assert!(Cutoff::parse("2022-13-01").is_err());
    }

    #[test]
    fn loose_instants_are_read_as_people_type_them() {
        let p = |s: &str| Cutoff::parse(s).unwrap().rfc3339();
        assert_eq!(p("2022-12-06T16:47:31+08:00"), "2022-12-06T08:47:31Z");
        assert_eq!(p("2022-12-06 08:47:31Z"), "2022-12-06T08:47:31Z");
        assert_eq!(p("2022-12-06T08:47Z"), "2022-12-06T08:47:00Z");
        assert_eq!(p("2022-12-06T08:47:31"), "2022-12-06T08:47:31Z");
        assert_eq!(p("2022-12-06T08:47:31-01:30"), "2022-12-06T10:17:31Z");
        assert_eq!(
            Cutoff::parse("last week").unwrap_err().to_string(),
            "bad date `last week` (expected YYYY-MM-DD, RFC 3339 such as 2022-12-06T08:47:31Z, or YYYYMMDDTHHMMSSZ)"
        );
    }

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
        assert_eq!(rfc3339_secs(0), "1970-01-01T00:00:00Z");
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
