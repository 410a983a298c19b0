//! Running trials: fresh per-candidate directories, and a pool that runs up to
//! `jobs` trials at once, consults and feeds the journal, and reports progress.

use super::builder::{Builder, TrialError, TrialInput, TrialResult, Verdict};
use super::journal::Journal;
use super::signal;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

/// The directory tree holding every trial's inputs and logs (`<root>/<candidate>/...`).
#[derive(Debug, Clone)]
pub struct Workspace {
    root: PathBuf,
}

fn safe_component(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 128
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

impl Workspace {
    /// A workspace rooted at `root` (created on demand).
    pub fn new(root: &Path) -> Workspace {
        Workspace {
            root: root.to_path_buf(),
        }
    }

    /// The workspace root.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Paths for one trial of `candidate_hash` by `builder`, with a fresh (empty)
    /// versions directory and work directory; the log name carries the builder
    /// so two builders never overwrite each other's log.
    pub fn input(&self, candidate_hash: &str, builder: &str) -> Result<TrialInput, TrialError> {
        if !safe_component(candidate_hash) {
            return Err(TrialError::Io {
                path: self.root.join(candidate_hash),
                source: std::io::Error::new(
                    std::io::ErrorKind::InvalidInput,
                    "candidate hash must be 1-128 characters of [A-Za-z0-9_-]",
                ),
            });
        }
        let dir = self.root.join(candidate_hash);
        let versions_dir = dir.join("versions");
        let work_dir = dir.join("work");
        for d in [&versions_dir, &work_dir] {
            fresh_dir(d)?;
        }
        let tag = &crate::fsio::sha256_hex(builder.as_bytes())[..12];
        Ok(TrialInput {
            candidate_hash: candidate_hash.to_string(),
            lockfile: dir.join("candidate.lock"),
            versions_dir,
            work_dir,
            log: dir.join(format!("build-{tag}.log")),
        })
    }

    /// Removes a finished trial's bulky directories, keeping its lockfile and log.
    pub fn tidy(&self, input: &TrialInput) {
        // Best effort: leftovers cost disk space, not correctness.
        let _ = std::fs::remove_dir_all(&input.work_dir);
        let _ = std::fs::remove_dir_all(&input.versions_dir);
    }
}

/// Removes `dir` if present and creates it empty.
pub(crate) fn fresh_dir(dir: &Path) -> Result<(), TrialError> {
    let io = |source| TrialError::Io {
        path: dir.to_path_buf(),
        source,
    };
    match std::fs::remove_dir_all(dir) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(io(e)),
    }
    std::fs::create_dir_all(dir).map_err(io)
}

/// Live counters for a progress display.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Trials not started yet.
    pub queued: usize,
    /// Trials building now.
    pub running: usize,
    /// Trials that passed.
    pub passed: usize,
    /// Trials that failed (including timeouts).
    pub failed: usize,
    /// Trials that could not judge (skip) or aborted.
    pub skipped: usize,
    /// Trials answered from the journal without building.
    pub cached: usize,
}

impl std::fmt::Display for Counts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "running {}, passed {}, failed {}, skipped {}, queued {}",
            self.running, self.passed, self.failed, self.skipped, self.queued
        )?;
        if self.cached > 0 {
            write!(f, " ({} from journal)", self.cached)?;
        }
        Ok(())
    }
}

/// One trial's outcome from [`run_all`].
#[derive(Debug)]
pub struct Outcome {
    /// The result, or why there is none (not started after an abort or Ctrl-C, builder error).
    pub result: Result<TrialResult, TrialError>,
    /// True when the journal already had the answer.
    pub cached: bool,
}

/// Runs one trial through the journal: a recorded answer is reused, a fresh
/// one is recorded before it is returned.
pub fn run_one(builder: &dyn Builder, journal: Option<&Journal>, input: &TrialInput) -> Outcome {
    let desc = builder.describe();
    let identity = builder.identity();
    if let Some(r) = journal.and_then(|j| j.lookup(&input.candidate_hash, &identity)) {
        return Outcome {
            result: Ok(r),
            cached: true,
        };
    }
    let result = builder.run(input).and_then(|r| {
        if let Some(j) = journal {
            j.record(&input.candidate_hash, &desc, &identity, &r)
                .map_err(|e| TrialError::Io {
                    path: j.path().to_path_buf(),
                    source: std::io::Error::other(e.to_string()),
                })?;
        }
        Ok(r)
    });
    Outcome {
        result,
        cached: false,
    }
}

/// Runs `inputs` with up to `jobs` trials at once, in input order of start;
/// stops starting new trials after Ctrl-C or an aborting verdict. `progress`
/// is called whenever a counter changes.
pub fn run_all(
    builder: &dyn Builder,
    journal: Option<&Journal>,
    inputs: &[TrialInput],
    jobs: usize,
    progress: &(dyn Fn(&Counts) + Sync),
) -> Vec<Outcome> {
    let jobs = jobs.clamp(1, inputs.len().max(1));
    let next = AtomicUsize::new(0);
    let stop = AtomicBool::new(false);
    let counts = Mutex::new(Counts {
        queued: inputs.len(),
        ..Counts::default()
    });
    let slots: Vec<Mutex<Option<Outcome>>> = inputs.iter().map(|_| Mutex::new(None)).collect();
    let update = |f: &dyn Fn(&mut Counts)| {
        let mut c = counts.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut c);
        progress(&c);
    };
    std::thread::scope(|s| {
        for _ in 0..jobs {
            s.spawn(|| {
                loop {
                    if stop.load(Ordering::SeqCst) || signal::interrupted() {
                        return;
                    }
                    let i = next.fetch_add(1, Ordering::SeqCst);
                    let Some(input) = inputs.get(i) else { return };
                    update(&|c| {
                        c.queued -= 1;
                        c.running += 1;
                    });
                    let outcome = run_one(builder, journal, input);
                    let verdict = outcome.result.as_ref().ok().map(|r| r.verdict);
                    if matches!(verdict, Some(Verdict::Abort) | None) {
                        stop.store(true, Ordering::SeqCst);
                    }
                    let cached = outcome.cached;
                    update(&|c| {
                        c.running -= 1;
                        match verdict {
                            Some(Verdict::Pass) => c.passed += 1,
                            Some(Verdict::Fail) => c.failed += 1,
                            _ => c.skipped += 1,
                        }
                        if cached {
                            c.cached += 1;
                        }
                    });
                    *slots[i].lock().unwrap_or_else(|p| p.into_inner()) = Some(outcome);
                }
            });
        }
    });
    slots
        .into_iter()
        .map(|m| {
            m.into_inner()
                .unwrap_or_else(|p| p.into_inner())
                .unwrap_or(Outcome {
                    result: Err(TrialError::Interrupted),
                    cached: false,
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::trial::command::CommandBuilder;

    #[test]
    fn workspace_rejects_hostile_hashes_and_gives_fresh_dirs() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::new(d.path());
        assert!(ws.input("../x", "b").is_err());
        assert!(ws.input("", "b").is_err());
        let i = ws.input("abc", "b").unwrap();
        std::fs::write(i.work_dir.join("junk"), "x").unwrap();
        let i = ws.input("abc", "b").unwrap();
        assert_eq!(std::fs::read_dir(&i.work_dir).unwrap().count(), 0);
        assert_ne!(i.log, ws.input("abc", "other").unwrap().log);
    }

    #[test]
    fn pool_runs_in_parallel_and_journal_answers_reruns() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::new(&d.path().join("ws"));
        let j = Journal::open(&d.path().join("journal")).unwrap();
        let counter = d.path().join("count");
        // Fails for candidates whose hash ends in an odd digit; counts builds.
        let script = format!(
            "echo x >> {}; case $SONIC_LOCK_CANDIDATE in *[13579]) exit 1;; esac",
            counter.display()
        );
        let b = CommandBuilder::new(vec!["/bin/sh".into(), "-c".into(), script]);
        let desc = b.describe();
        let inputs: Vec<_> = (0..6)
            .map(|i| ws.input(&format!("c{i}"), &desc).unwrap())
            .collect();
        let seen = Mutex::new(Vec::new());
        let out = run_all(&b, Some(&j), &inputs, 3, &|c| seen.lock().unwrap().push(*c));
        let verdicts: Vec<_> = out
            .iter()
            .map(|o| o.result.as_ref().unwrap().verdict)
            .collect();
        assert_eq!(
            verdicts,
            [
                Verdict::Pass,
                Verdict::Fail,
                Verdict::Pass,
                Verdict::Fail,
                Verdict::Pass,
                Verdict::Fail
            ]
        );
        let last = *seen.lock().unwrap().last().unwrap();
        assert_eq!(
            (last.passed, last.failed, last.running, last.queued),
            (3, 3, 0, 0)
        );
        let out = run_all(&b, Some(&j), &inputs, 2, &|_| {});
        assert!(out.iter().all(|o| o.cached));
        assert_eq!(
            std::fs::read_to_string(&counter).unwrap().lines().count(),
            6
        );
    }

    #[test]
    fn an_abort_stops_starting_new_trials() {
        let d = tempfile::tempdir().unwrap();
        let ws = Workspace::new(d.path());
        let b = CommandBuilder::new(vec!["/bin/sh".into(), "-c".into(), "exit 200".into()]);
        let inputs: Vec<_> = (0..4)
            .map(|i| ws.input(&format!("a{i}"), "x").unwrap())
            .collect();
        let out = run_all(&b, None, &inputs, 1, &|_| {});
        assert_eq!(out[0].result.as_ref().unwrap().verdict, Verdict::Abort);
        assert!(
            out[1..]
                .iter()
                .all(|o| matches!(o.result, Err(TrialError::Interrupted)))
        );
    }
}
