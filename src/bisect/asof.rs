//! "The candidate lock as of timestamp T", for the time axis: either computed
//! in-process by the lock pipeline (crawl once, then index and solve as of each
//! probed timestamp through one source cache) or produced by an external command.
//! Locks are kept under the state directory, so a resumed bisection (or the
//! change-level search after the timestamps) reads them instead of recomputing.

use super::BisectError;
use super::engine::{Observation, Oracle};
use super::locks::{LockChanges, read_candidate};
use super::runner::{BuildOracle, TrialMemo};
use super::timeaxis::TimeAxis;
use crate::crawl::CrawlOptions;
use crate::date::Cutoff;
use crate::lock::Lock;
use crate::manifest::Manifest;
use crate::source::debian::archive::SuiteSpec;
use crate::source::index::Sources;
use crate::trial::builder::{Builder, Verdict};
use crate::trial::pipeline::{self, PipelineError, PipelineOptions};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::Duration;

/// Something that can say what the lock was as of a snapshot timestamp.
pub trait LockAt: Sync {
    /// The candidate lock as of `ts` (`YYYYMMDDTHHMMSSZ`). [`BisectError::NoCandidate`]
    /// means the sources had no consistent candidate then (the timestamp is skipped).
    fn lock_at(&self, ts: &str) -> Result<Lock, BisectError>;
    /// Words for reports: where the locks come from.
    fn describe(&self) -> String;
    /// Warnings of the productions so far (missing versions, crawl errors), each
    /// prefixed with its timestamp; drained.
    fn take_warnings(&self) -> Vec<String> {
        Vec::new()
    }
    /// Everything the locks depend on besides the timestamp (tree, commit, sources):
    /// stored locks made with another fingerprint are not reused.
    fn fingerprint(&self) -> String {
        self.describe()
    }
}

impl<L: LockAt + ?Sized> LockAt for Box<L> {
    fn lock_at(&self, ts: &str) -> Result<Lock, BisectError> {
        (**self).lock_at(ts)
    }
    fn describe(&self) -> String {
        (**self).describe()
    }
    fn take_warnings(&self) -> Vec<String> {
        (**self).take_warnings()
    }
    fn fingerprint(&self) -> String {
        (**self).fingerprint()
    }
}

/// The lock pipeline in-process: one crawl, then index + solve per timestamp.
pub struct PipelineLocks<'a> {
    platform: String,
    manifest: Manifest,
    crawl: CrawlOptions,
    sources: &'a Sources,
    suites: Vec<SuiteSpec>,
    domain: String,
    py_metadata: usize,
    gaps: Vec<crate::lock::lockfile::Gap>,
    source_key: String,
    warnings: Mutex<Vec<String>>,
}

impl<'a> PipelineLocks<'a> {
    /// Crawls the tree once (`crawl.rev`); every later [`LockAt::lock_at`] indexes
    /// and solves that manifest as of its timestamp with `sources`.
    pub fn crawl(
        platform: &str,
        crawl: CrawlOptions,
        sources: &'a Sources,
        suites: Vec<SuiteSpec>,
        domain: &str,
        py_metadata: usize,
    ) -> Result<PipelineLocks<'a>, BisectError> {
        let crawled = crate::crawl::crawl(&crawl, &|_, _| {}).map_err(|e| {
            BisectError::TimeAxis(format!("crawling {} at {}: {e}", crawl.repo, crawl.rev))
        })?;
        Ok(PipelineLocks {
            platform: platform.to_string(),
            gaps: pipeline::crawl_gaps(&crawled.manifest),
            source_key: String::new(),
            manifest: crawled.manifest,
            crawl,
            sources,
            suites,
            domain: domain.to_string(),
            py_metadata,
            warnings: Mutex::new(Vec::new()),
        })
    }

    /// The crawled manifest (its commit is the tree every timestamp is solved for).
    pub fn manifest(&self) -> &Manifest {
        &self.manifest
    }

    /// Names where the sources are (URLs, mirrors) for [`LockAt::fingerprint`]:
    /// locks stored for other sources are then not reused.
    pub fn with_source_key(mut self, key: &str) -> Self {
        self.source_key = key.to_string();
        self
    }

    /// What the crawl could not read; every lock records these as its gaps.
    pub fn gaps(&self) -> &[crate::lock::lockfile::Gap] {
        &self.gaps
    }
}

impl LockAt for PipelineLocks<'_> {
    fn lock_at(&self, ts: &str) -> Result<Lock, BisectError> {
        let cutoff =
            Cutoff::parse(ts).map_err(|e| BisectError::TimeAxis(format!("timestamp {ts}: {e}")))?;
        let opts = PipelineOptions {
            crawl: self.crawl.clone(),
            sources: self.sources,
            suites: self.suites.clone(),
            cutoff: Some(cutoff),
            domain: self.domain.clone(),
            py_metadata: self.py_metadata,
        };
        let out = match pipeline::candidate_from_manifest(
            &self.platform,
            self.manifest.clone(),
            &opts,
            &|_| {},
        ) {
            Ok(o) => o,
            Err(e @ PipelineError::Unsat { .. }) => {
                return Err(BisectError::NoCandidate {
                    timestamp: ts.to_string(),
                    message: e.to_string(),
                });
            }
            Err(e) => {
                return Err(BisectError::TimeAxis(format!("lock as of {ts}: {e}")));
            }
        };
        if let Ok(mut w) = self.warnings.lock() {
            // Crawl errors are the gaps, reported once by the caller.
            w.extend(
                out.warnings
                    .iter()
                    .filter(|m| !m.starts_with("crawl: "))
                    .map(|m| format!("{ts}: {m}")),
            );
        }
        let mut lock = out.candidate;
        lock.cutoff = cutoff.rfc3339();
        lock.gaps = self.gaps.clone();
        lock.normalize();
        Ok(lock)
    }

    fn take_warnings(&self) -> Vec<String> {
        match self.warnings.lock() {
            Ok(mut w) => std::mem::take(&mut *w),
            Err(p) => std::mem::take(&mut *p.into_inner()),
        }
    }

    fn describe(&self) -> String {
        format!(
            "lock pipeline: {} at {} indexed as of each timestamp",
            self.crawl.repo, self.manifest.commit
        )
    }

    fn fingerprint(&self) -> String {
        format!(
            "{}\nplatform {}\nsuites {:?}\ndomain {}\npy-metadata {}\nsources {}\ngaps {}",
            self.describe(),
            self.platform,
            self.suites,
            self.domain,
            self.py_metadata,
            self.source_key,
            self.gaps.len()
        )
    }
}

/// An external command that writes the lock as of `{timestamp}` to `{out}`
/// (`{platform}` is substituted too); argv split on spaces, no shell.
pub struct CommandLocks {
    template: Vec<String>,
    platform: String,
    scratch: PathBuf,
}

impl CommandLocks {
    /// `template` as given to `--lock-at`; temporary outputs go below `scratch`.
    pub fn new(template: &str, platform: &str, scratch: &Path) -> CommandLocks {
        CommandLocks {
            template: template.split_whitespace().map(str::to_string).collect(),
            platform: platform.to_string(),
            scratch: scratch.to_path_buf(),
        }
    }
}

fn prepare_err(path: &Path, e: impl std::fmt::Display) -> BisectError {
    BisectError::Prepare {
        path: path.display().to_string(),
        message: e.to_string(),
    }
}

impl LockAt for CommandLocks {
    fn lock_at(&self, ts: &str) -> Result<Lock, BisectError> {
        std::fs::create_dir_all(&self.scratch).map_err(|e| prepare_err(&self.scratch, e))?;
        let tmp = tempfile::Builder::new()
            .prefix(&format!("{ts}-"))
            .suffix(".lock")
            .tempfile_in(&self.scratch)
            .map_err(|e| prepare_err(&self.scratch, e))?
            .into_temp_path();
        let subst = |a: &String| {
            a.replace("{timestamp}", ts)
                .replace("{platform}", &self.platform)
                .replace("{out}", &tmp.display().to_string())
        };
        let argv: Vec<String> = self.template.iter().map(subst).collect();
        let Some((prog, rest)) = argv.split_first() else {
            return Err(BisectError::TimeAxis("--lock-at is empty".into()));
        };
        // Its output goes to stderr: stdout carries bisect's own report (`--json`).
        let status = std::process::Command::new(prog)
            .args(rest)
            .stdout(std::io::stderr())
            .status()
            .map_err(|e| BisectError::TimeAxis(format!("cannot run `{prog}`: {e}")))?;
        if !status.success() {
            return Err(BisectError::TimeAxis(format!(
                "`{}` failed ({status}) for {ts}",
                argv.join(" ")
            )));
        }
        read_candidate(&tmp)
    }

    fn describe(&self) -> String {
        format!("command: {}", self.template.join(" "))
    }
}

/// Locks as of each timestamp, produced once and kept as `<dir>/<ts>.lock`.
/// Production is serialised (an index of a whole Debian suite is large); the
/// builds that judge the locks still run in parallel.
pub struct StoredLocks<L: LockAt> {
    inner: L,
    dir: PathBuf,
    busy: Mutex<()>,
}

impl<L: LockAt> StoredLocks<L> {
    /// Keeps the locks of `inner` under `dir`. Locks left there by a producer with
    /// another fingerprint (other tree, commit or sources: `dir/fingerprint`) are
    /// removed, so a state directory reused with other options never answers with
    /// stale locks; returns how many were removed.
    pub fn open(inner: L, dir: &Path) -> Result<(StoredLocks<L>, usize), BisectError> {
        let key = inner.fingerprint();
        let key_file = dir.join("fingerprint");
        std::fs::create_dir_all(dir).map_err(|e| prepare_err(dir, e))?;
        let mut removed = 0;
        let old = std::fs::read(&key_file).ok();
        if old.as_deref() != Some(key.as_bytes()) {
            let entries = std::fs::read_dir(dir).map_err(|e| prepare_err(dir, e))?;
            for entry in entries {
                let path = entry.map_err(|e| prepare_err(dir, e))?.path();
                let stored_lock = path
                    .file_name()
                    .and_then(|n| n.to_str())
                    .and_then(|n| n.strip_suffix(".lock"))
                    .is_some_and(|ts| super::timeaxis::parse_timestamp(ts).is_ok());
                if stored_lock {
                    std::fs::remove_file(&path).map_err(|e| prepare_err(&path, e))?;
                    removed += 1;
                }
            }
            crate::fsio::write_atomic(&key_file, key.as_bytes())
                .map_err(|e| prepare_err(&key_file, e))?;
        }
        Ok((
            StoredLocks {
                inner,
                dir: dir.to_path_buf(),
                busy: Mutex::new(()),
            },
            removed,
        ))
    }

    /// The producer.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    /// The lock as of `ts`, from `<dir>/<ts>.lock` or produced now and stored there.
    pub fn lock(&self, ts: &str) -> Result<Lock, BisectError> {
        super::timeaxis::parse_timestamp(ts)?;
        let path = self.dir.join(format!("{ts}.lock"));
        let _guard = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        if path.is_file() {
            return read_candidate(&path);
        }
        let lock = self.inner.lock_at(ts)?;
        std::fs::create_dir_all(&self.dir).map_err(|e| prepare_err(&self.dir, e))?;
        lock.write(&path).map_err(|e| prepare_err(&path, e))?;
        Ok(lock)
    }

    /// Where the lock as of `ts` is kept.
    pub fn path(&self, ts: &str) -> PathBuf {
        self.dir.join(format!("{ts}.lock"))
    }
}

/// The time axis over stored locks, judged by a builder through the trial journal.
pub struct LockAxis<'a, L: LockAt> {
    /// Where the locks come from.
    pub locks: &'a StoredLocks<L>,
    /// The builder judging each lock.
    pub builder: &'a dyn Builder,
    /// Finished trials (resume).
    pub memo: Option<&'a dyn TrialMemo>,
    /// Where trials are prepared.
    pub trials_dir: PathBuf,
    /// Polled before each build.
    pub interrupted: &'a (dyn Fn() -> bool + Sync),
}

impl<L: LockAt> TimeAxis for LockAxis<'_, L> {
    fn judge_at(&self, ts: &str) -> Result<Observation, BisectError> {
        let lock = match self.locks.lock(ts) {
            Ok(l) => l,
            // No consistent candidate at this time: nothing to build, route around it.
            Err(BisectError::NoCandidate { .. }) => {
                return Ok(Observation {
                    verdict: Verdict::Skip,
                    exit_code: None,
                    duration: Duration::ZERO,
                    log: None,
                    replayed: false,
                });
            }
            Err(e) => return Err(e),
        };
        // The whole lock as of `ts` is "G with no change applied" against itself.
        let changes = LockChanges::new(lock.clone(), &lock);
        let oracle = BuildOracle::new(
            self.builder,
            &changes,
            &self.trials_dir,
            self.memo,
            self.interrupted,
        );
        oracle.judge(&[], 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bisect::timeaxis::{bisect_time, grid};
    use crate::lock::Pin;
    use crate::manifest::Ecosystem;
    use crate::trial::command::CommandBuilder;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// pkg 1.0 before the 10th, nothing solvable on the 10th, pkg 2.0 from the 11th.
    struct Fake(AtomicUsize);
    impl LockAt for Fake {
        fn lock_at(&self, ts: &str) -> Result<Lock, BisectError> {
            self.0.fetch_add(1, Ordering::SeqCst);
            if ts.starts_with("20221110") {
                return Err(BisectError::NoCandidate {
                    timestamp: ts.into(),
                    message: "pkg: no version".into(),
                });
            }
            let v = if ts < "20221110" { "1.0" } else { "2.0" };
            let mut l = Lock::new("p", &"a".repeat(40), "2022-11-01");
            l.upsert(Pin::new(Ecosystem::Py, "pkg", v));
            Ok(l)
        }
        fn describe(&self) -> String {
            "fake".into()
        }
    }

    #[test]
    fn locks_are_produced_once_and_unsolvable_timestamps_are_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let (stored, removed) =
            StoredLocks::open(Fake(AtomicUsize::new(0)), &dir.path().join("snapshots")).unwrap();
        assert_eq!(removed, 0);
        let a = stored.lock("20221105T000000Z").unwrap();
        let b = stored.lock("20221105T000000Z").unwrap();
        assert_eq!(a.candidate_hash(), b.candidate_hash());
        assert_eq!(
            stored.inner().0.load(Ordering::SeqCst),
            1,
            "second read from disk"
        );
        assert!(stored.path("20221105T000000Z").is_file());
        // Reopened by the same producer: kept; by another: removed.
        let (stored, removed) =
            StoredLocks::open(Fake(AtomicUsize::new(0)), &dir.path().join("snapshots")).unwrap();
        assert_eq!(removed, 0);
        assert!(stored.path("20221105T000000Z").is_file());
        struct Other;
        impl LockAt for Other {
            fn lock_at(&self, ts: &str) -> Result<Lock, BisectError> {
                Err(BisectError::TimeAxis(ts.into()))
            }
            fn describe(&self) -> String {
                "other sources".into()
            }
        }
        let (_, removed) = StoredLocks::open(Other, &dir.path().join("snapshots")).unwrap();
        assert_eq!(removed, 1);
        assert!(!dir.path().join("snapshots/20221105T000000Z.lock").exists());
        let (stored, _) =
            StoredLocks::open(Fake(AtomicUsize::new(0)), &dir.path().join("snapshots")).unwrap();
        stored.lock("20221105T000000Z").unwrap();
        assert!(matches!(
            stored.lock("not-a-timestamp"),
            Err(BisectError::TimeAxis(_))
        ));

        let builder = CommandBuilder::new(vec![
            "sh".into(),
            "-c".into(),
            "! grep -rqx 'pkg==2.0' \"$SONIC_LOCK_VERSIONS_DIR\"".into(),
        ]);
        let never = || false;
        let axis = LockAxis {
            locks: &stored,
            builder: &builder,
            memo: None,
            trials_dir: dir.path().join("trials"),
            interrupted: &never,
        };
        let stamps = grid("20221101T000000Z", "20221120T000000Z", 24).unwrap();
        let out = bisect_time(&axis, &stamps, 1).unwrap();
        // The 10th cannot be judged: the answer brackets it.
        assert_eq!(out.status, crate::bisect::engine::Status::Undecidable);
        assert_eq!(
            (out.last_good.as_str(), out.first_bad.as_str()),
            ("20221109T000000Z", "20221111T000000Z")
        );
        assert!(
            out.trials
                .iter()
                .any(|t| t.timestamp == "20221110T000000Z" && t.verdict == Verdict::Skip)
        );
        assert!(
            out.trials
                .iter()
                .all(|t| t.verdict == Verdict::Skip || t.log.is_some())
        );
    }
}
