//! Time-axis mode, as debbisect does on snapshot.debian.org: first bisect the
//! snapshot timestamps between a good and a bad date down to two adjacent
//! snapshots, then bisect the individual changes between those two (with the
//! change engine, which needs far fewer builds than upgrading one by one).
//!
//! The axis is abstract ([`TimeAxis`]): something that can list timestamps and
//! judge "the candidate as of timestamp T".

use super::BisectError;
use super::engine::{BisectStatus, Observation, Window};
use crate::trial::builder::Verdict;
use serde::{Deserialize, Serialize};

/// A sequence of points in time that can each be judged.
pub trait TimeAxis: Sync {
    /// Judges the candidate as of snapshot timestamp `ts` (`YYYYMMDDTHHMMSSZ`).
    fn judge_at(&self, ts: &str) -> Result<Observation, BisectError>;
}

/// One judged timestamp.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeTrial {
    /// The snapshot timestamp.
    pub timestamp: String,
    /// Parallel round, from 0.
    pub round: usize,
    /// The judgement.
    pub verdict: Verdict,
    /// Build duration in milliseconds.
    pub duration_ms: u64,
    /// True when replayed from the journal.
    pub replayed: bool,
    /// Build log, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
}

/// Result of the timestamp bisection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeOutcome {
    /// `Culprit` when two adjacent timestamps were found, `Undecidable` when skipped
    /// timestamps remain between them (the changes still lie between the two).
    pub status: BisectStatus,
    /// Latest timestamp known to pass.
    pub last_good: String,
    /// Earliest timestamp known to fail.
    pub first_bad: String,
    /// Every trial, in order.
    pub trials: Vec<TimeTrial>,
    /// Builds actually run.
    pub builds: usize,
    /// Parallel rounds.
    pub rounds: usize,
}

/// Checks a snapshot timestamp (`20221206T000000Z`).
pub fn parse_timestamp(s: &str) -> Result<(u32, u32, u32, u32, u32, u32), BisectError> {
    let bad = || {
        BisectError::TimeAxis(format!(
            "`{s}` is not a snapshot timestamp (YYYYMMDDTHHMMSSZ)"
        ))
    };
    let b = s.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return Err(bad());
    }
    let num = |r: std::ops::Range<usize>| -> Result<u32, BisectError> {
        let t = s.get(r).ok_or_else(bad)?;
        if !t.bytes().all(|c| c.is_ascii_digit()) {
            return Err(bad());
        }
        t.parse::<u32>().map_err(|_| bad())
    };
    let v = (
        num(0..4)?,
        num(4..6)?,
        num(6..8)?,
        num(9..11)?,
        num(11..13)?,
        num(13..15)?,
    );
    if !(1..=12).contains(&v.1) || !(1..=31).contains(&v.2) || v.3 > 23 || v.4 > 59 || v.5 > 60 {
        return Err(bad());
    }
    Ok(v)
}

/// Reads a date or instant as every command does ([`crate::date::Cutoff::parse`]: a bare
/// date is the end of that day, UTC) and returns its snapshot timestamp.
pub fn normalize_date(s: &str) -> Result<String, BisectError> {
    crate::date::Cutoff::parse(s)
        .map(|c| c.snapshot_ts())
        .map_err(|_| {
            BisectError::TimeAxis(format!(
                "cannot read date `{s}` (use YYYY-MM-DD or YYYYMMDDTHHMMSSZ)"
            ))
        })
}

pub(crate) fn to_epoch(ts: &str) -> Result<i64, BisectError> {
    parse_timestamp(ts)?;
    crate::date::parse_snapshot_ts(ts)
        .map(|t| t.timestamp())
        .ok_or_else(|| BisectError::TimeAxis(format!("`{ts}` is not a date on the calendar")))
}

pub(crate) fn from_epoch(t: i64) -> String {
    chrono::DateTime::from_timestamp(t, 0)
        .map(|d| crate::date::snapshot_ts(&d))
        .unwrap_or_default()
}

/// Timestamps from `good` to `bad` inclusive every `step_hours`; snapshot archives
/// answer a timestamp with the nearest earlier snapshot, so a grid is a valid axis
/// (identical snapshots give identical candidates, which are built once).
pub fn grid(good: &str, bad: &str, step_hours: u32) -> Result<Vec<String>, BisectError> {
    let (a, b) = (to_epoch(good)?, to_epoch(bad)?);
    if a >= b {
        return Err(BisectError::TimeAxis(format!(
            "good date {good} is not before bad date {bad}"
        )));
    }
    if step_hours == 0 {
        return Err(BisectError::TimeAxis(
            "step must be at least one hour".into(),
        ));
    }
    let step = i64::from(step_hours) * 3600;
    let mut out: Vec<String> = (0..)
        .map(|i| a + i * step)
        .take_while(|&t| t < b)
        .map(from_epoch)
        .collect();
    out.push(from_epoch(b));
    Ok(out)
}

/// The listed timestamps strictly between `good` and `bad`, sorted and
/// deduplicated, with `good` first and `bad` last.
pub fn between(good: &str, bad: &str, listed: &[String]) -> Result<Vec<String>, BisectError> {
    let (a, b) = (to_epoch(good)?, to_epoch(bad)?);
    if a >= b {
        return Err(BisectError::TimeAxis(format!(
            "good date {good} is not before bad date {bad}"
        )));
    }
    let mut inner: Vec<(i64, String)> = Vec::new();
    for ts in listed {
        let t = to_epoch(ts)?;
        if t > a && t < b {
            inner.push((t, ts.clone()));
        }
    }
    inner.sort();
    inner.dedup();
    let mut out = vec![good.to_string()];
    out.extend(inner.into_iter().map(|(_, s)| s));
    out.push(bad.to_string());
    Ok(out)
}

/// Bisects `timestamps` (sorted; the first is trusted to pass, the last must fail)
/// with up to `jobs` builds per round. Skipped timestamps are routed around.
pub fn bisect_time<T: TimeAxis>(
    axis: &T,
    timestamps: &[String],
    jobs: usize,
) -> Result<TimeOutcome, BisectError> {
    for w in timestamps.windows(2) {
        if to_epoch(&w[0])? >= to_epoch(&w[1])? {
            return Err(BisectError::TimeAxis(format!(
                "timestamps are not increasing at {} -> {}",
                w[0], w[1]
            )));
        }
    }
    if timestamps.len() < 2 {
        return Err(BisectError::TimeAxis(
            "need at least a good and a bad timestamp".into(),
        ));
    }
    let mut trials: Vec<TimeTrial> = Vec::new();
    let mut round = 0usize;
    let mut judge =
        |idx: &[usize], trials: &mut Vec<TimeTrial>| -> Result<Vec<Verdict>, BisectError> {
            let mut out = Vec::new();
            for chunk in idx.chunks(jobs.max(1)) {
                let results: Vec<Result<Observation, BisectError>> = std::thread::scope(|s| {
                    let hs: Vec<_> = chunk
                        .iter()
                        .map(|&i| s.spawn(move || axis.judge_at(&timestamps[i])))
                        .collect();
                    hs.into_iter()
                        .map(|h| h.join().unwrap_or(Err(BisectError::Interrupted)))
                        .collect()
                });
                for (&i, r) in chunk.iter().zip(results) {
                    let obs = r?;
                    if obs.verdict == Verdict::Abort {
                        return Err(BisectError::Aborted {
                            code: obs.exit_code,
                            subset: timestamps[i].clone(),
                        });
                    }
                    trials.push(TimeTrial {
                        timestamp: timestamps[i].clone(),
                        round,
                        verdict: obs.verdict,
                        duration_ms: u64::try_from(obs.duration.as_millis()).unwrap_or(u64::MAX),
                        replayed: obs.replayed,
                        log: obs.log.as_ref().map(|l| l.display().to_string()),
                    });
                    out.push(obs.verdict);
                }
                round += 1;
            }
            Ok(out)
        };
    let last = timestamps.len() - 1;
    let v = judge(&[last], &mut trials)?;
    let mut w = Window::new(0, last);
    let status = if v[0] == Verdict::Pass {
        BisectStatus::BadPasses
    } else if v[0] == Verdict::Skip {
        BisectStatus::Undecidable
    } else {
        loop {
            if w.done() {
                break BisectStatus::Culprit;
            }
            let points = w.points(jobs);
            if points.is_empty() {
                break BisectStatus::Undecidable;
            }
            let v = judge(&points, &mut trials)?;
            w.narrow(&points, &v);
        }
    };
    let builds = trials.iter().filter(|t| !t.replayed).count();
    Ok(TimeOutcome {
        status,
        last_good: timestamps[w.lo].clone(),
        first_bad: timestamps[w.hi].clone(),
        trials,
        builds,
        rounds: round,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    struct Breaks(String, Vec<String>);
    impl TimeAxis for Breaks {
        fn judge_at(&self, ts: &str) -> Result<Observation, BisectError> {
            let verdict = if self.1.iter().any(|s| s == ts) {
                Verdict::Skip
            } else if ts >= self.0.as_str() {
                Verdict::Fail
            } else {
                Verdict::Pass
            };
            Ok(Observation {
                verdict,
                exit_code: None,
                duration: Duration::ZERO,
                log: None,
                replayed: false,
            })
        }
    }

    #[test]
    fn timestamps_parse_and_grid_is_regular() {
        // A bare date is the end of that day, as for every other date sonic-lock reads.
        assert_eq!(normalize_date("2022-12-06").unwrap(), "20221206T235959Z");
        assert_eq!(normalize_date("20221206").unwrap(), "20221206T235959Z");
        assert_eq!(
            normalize_date("2023-01-17T00:03:05Z").unwrap(),
            "20230117T000305Z"
        );
        assert!(normalize_date("2022-13-06").is_err());
        assert!(normalize_date("yesterday").is_err());
        let g = grid("20221231T120000Z", "20230101T120000Z", 6).unwrap();
        assert_eq!(
            g,
            [
                "20221231T120000Z",
                "20221231T180000Z",
                "20230101T000000Z",
                "20230101T060000Z",
                "20230101T120000Z"
            ]
        );
        assert!(grid("20230101T000000Z", "20221231T000000Z", 6).is_err());
        let listed: Vec<String> = [
            "20221205T000000Z",
            "20221130T000000Z",
            "20221203T010203Z",
            "20221205T000000Z",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(
            between("20221201T000000Z", "20221208T000000Z", &listed).unwrap(),
            [
                "20221201T000000Z",
                "20221203T010203Z",
                "20221205T000000Z",
                "20221208T000000Z"
            ]
        );
    }

    #[test]
    fn finds_adjacent_snapshots_in_log_time() {
        let ts = grid("20221201T000000Z", "20230101T000000Z", 6).unwrap();
        let axis = Breaks("20221217T060000Z".into(), vec![]);
        let out = bisect_time(&axis, &ts, 1).unwrap();
        assert_eq!(out.status, BisectStatus::Culprit);
        assert_eq!(
            (out.last_good.as_str(), out.first_bad.as_str()),
            ("20221217T000000Z", "20221217T060000Z")
        );
        assert!(out.builds <= 1 + 7, "{}", out.builds); // 125 snapshots: log2 = 7
        let skip = Breaks("20221217T060000Z".into(), vec!["20221217T060000Z".into()]);
        let out = bisect_time(&skip, &ts, 4).unwrap();
        assert_eq!(out.status, BisectStatus::Undecidable);
        assert_eq!(
            (out.last_good.as_str(), out.first_bad.as_str()),
            ("20221217T000000Z", "20221217T120000Z")
        );
    }
}
