//! The on-disk journal of finished trials, so a killed run resumes without
//! repeating a build.
//!
//! Format: one line per trial, `<sha256 of JSON> <JSON>\n`, appended with a
//! single write and fsynced. Only finished trials are recorded (an interrupted
//! one never reaches [`Journal::record`]). A crash can at worst leave a torn
//! last line without its newline; [`Journal::open`] cuts it off. A complete
//! line whose checksum does not match is corruption from elsewhere and is an
//! error naming the file and line.
//!
//! Version 2 adds the builder's identity ([`Builder::identity`]): a verdict
//! is reused only by a builder of the same identity, so a run after the build
//! script changed builds again. Version 1 entries (no identity) are still read,
//! but never reused.
//!
//! [`Builder::identity`]: super::builder::Builder::identity

use super::builder::{TrialResult, Verdict};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;

/// Journal format version, stored in every entry.
pub const JOURNAL_VERSION: u32 = 2;

/// The oldest journal format version still read.
const OLDEST_VERSION: u32 = 1;

/// One recorded trial.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JournalEntry {
    /// Journal format version.
    pub v: u32,
    /// The candidate's stable hash.
    pub candidate_hash: String,
    /// The builder's description (`Builder::describe`).
    pub builder: String,
    /// What judged the verdict (`Builder::identity`); absent in version 1 entries.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub identity: Option<String>,
    /// What the builder reported.
    pub result: TrialResult,
}

/// Errors reading or appending to the journal.
#[derive(Debug, thiserror::Error)]
pub enum JournalError {
    /// An I/O error on the journal file.
    #[error("{path}: {source}")]
    Io {
        /// The journal file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A complete line that does not check out.
    #[error("{path}:{line}: corrupt journal entry: {source}")]
    Corrupt {
        /// The journal file.
        path: PathBuf,
        /// 1-based line number.
        line: usize,
        /// What is wrong with it.
        source: EntryError,
    },
}

struct State {
    file: File,
    latest: HashMap<(String, String), TrialResult>,
    entries: Vec<JournalEntry>,
}

/// An append-only, crash-safe record of finished trials, shared between threads.
pub struct Journal {
    path: PathBuf,
    state: Mutex<State>,
    torn_bytes: u64,
}

impl std::fmt::Debug for Journal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Journal").field("path", &self.path).finish()
    }
}

fn encode(entry: &JournalEntry) -> Result<Vec<u8>, serde_json::Error> {
    let json = serde_json::to_string(entry)?;
    let mut line = crate::fsio::sha256_hex(json.as_bytes());
    line.push(' ');
    line.push_str(&json);
    line.push('\n');
    Ok(line.into_bytes())
}

/// Why one complete journal line does not check out.
#[derive(Debug, thiserror::Error)]
pub enum EntryError {
    /// The line is not UTF-8.
    #[error("not UTF-8: {0}")]
    Utf8(#[from] std::str::Utf8Error),
    /// No space between checksum and entry.
    #[error("missing checksum")]
    NoChecksum,
    /// The entry does not match its checksum.
    #[error("checksum mismatch")]
    Checksum,
    /// The entry is not the JSON of an entry.
    #[error("{0}")]
    Json(#[from] serde_json::Error),
    /// Written by another journal version.
    #[error("journal version {0} (this sonic-lock reads {OLDEST_VERSION} to {JOURNAL_VERSION})")]
    Version(u32),
}

fn decode(line: &[u8]) -> Result<JournalEntry, EntryError> {
    let text = std::str::from_utf8(line)?;
    let (sum, json) = text.split_once(' ').ok_or(EntryError::NoChecksum)?;
    if crate::fsio::sha256_hex(json.as_bytes()) != sum {
        return Err(EntryError::Checksum);
    }
    let entry: JournalEntry = serde_json::from_str(json)?;
    if !(OLDEST_VERSION..=JOURNAL_VERSION).contains(&entry.v) {
        return Err(EntryError::Version(entry.v));
    }
    Ok(entry)
}

impl Journal {
    /// Opens (creating if absent) the journal at `path`, dropping a torn last line.
    pub fn open(path: &Path) -> Result<Journal, JournalError> {
        let io = |source| JournalError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|source| JournalError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        let mut file = OpenOptions::new()
            .read(true)
            .append(true)
            .create(true)
            .open(path)
            .map_err(io)?;
        let mut bytes = Vec::new();
        file.read_to_end(&mut bytes).map_err(io)?;
        let complete = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
        let torn_bytes = (bytes.len() - complete) as u64;
        if torn_bytes > 0 {
            // A crash in the middle of an append: that trial was never recorded.
            file.set_len(complete as u64).map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        let mut latest = HashMap::new();
        let mut entries = Vec::new();
        for (i, line) in bytes[..complete].split(|&b| b == b'\n').enumerate() {
            if line.is_empty() {
                continue;
            }
            let entry = decode(line).map_err(|source| JournalError::Corrupt {
                path: path.to_path_buf(),
                line: i + 1,
                source,
            })?;
            if let Some(id) = &entry.identity {
                latest.insert(
                    (entry.candidate_hash.clone(), id.clone()),
                    entry.result.clone(),
                );
            }
            entries.push(entry);
        }
        Ok(Journal {
            path: path.to_path_buf(),
            state: Mutex::new(State {
                file,
                latest,
                entries,
            }),
            torn_bytes,
        })
    }

    /// The journal's file.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Bytes of a torn last line dropped by [`Journal::open`] (0 after a clean shutdown).
    pub fn torn_bytes(&self) -> u64 {
        self.torn_bytes
    }

    /// The latest finished result of `candidate_hash` judged by a builder of
    /// `identity` (`Builder::identity`). Aborted trials are not results: they
    /// are retried on resume.
    pub fn lookup(&self, candidate_hash: &str, identity: &str) -> Option<TrialResult> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .latest
            .get(&(candidate_hash.to_string(), identity.to_string()))
            .filter(|r| r.verdict != Verdict::Abort)
            .cloned()
    }

    /// Number of entries judged by a builder of another identity than
    /// `identity` (version 1 entries included): they are never reused.
    pub fn foreign(&self, identity: &str) -> usize {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state
            .entries
            .iter()
            .filter(|e| e.identity.as_deref() != Some(identity))
            .count()
    }

    /// Appends a finished trial of `candidate_hash`, judged by the builder
    /// described as `builder` with identity `identity`, durably (one write,
    /// then fsync) before returning.
    pub fn record(
        &self,
        candidate_hash: &str,
        builder: &str,
        identity: &str,
        result: &TrialResult,
    ) -> Result<(), JournalError> {
        let entry = JournalEntry {
            v: JOURNAL_VERSION,
            candidate_hash: candidate_hash.to_string(),
            builder: builder.to_string(),
            identity: Some(identity.to_string()),
            result: result.clone(),
        };
        let line = encode(&entry).map_err(|e| JournalError::Io {
            path: self.path.clone(),
            source: std::io::Error::other(e),
        })?;
        let mut state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        let io = |source| JournalError::Io {
            path: self.path.clone(),
            source,
        };
        state.file.write_all(&line).map_err(io)?;
        state.file.sync_data().map_err(io)?;
        state.latest.insert(
            (entry.candidate_hash.clone(), identity.to_string()),
            entry.result.clone(),
        );
        state.entries.push(entry);
        Ok(())
    }

    /// Every recorded trial in order, including superseded ones.
    pub fn entries(&self) -> Vec<JournalEntry> {
        let state = self.state.lock().unwrap_or_else(|p| p.into_inner());
        state.entries.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn result(verdict: Verdict) -> TrialResult {
        TrialResult {
            verdict,
            exit_code: Some(1),
            duration: Duration::from_millis(1500),
            log: PathBuf::from("/tmp/x.log"),
            timed_out: false,
            requeues: Vec::new(),
        }
    }

    #[test]
    fn records_survive_reopen() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("j/journal");
        let j = Journal::open(&p).unwrap();
        assert!(j.lookup("h1", "b").is_none());
        j.record("h1", "b", "b", &result(Verdict::Fail)).unwrap();
        j.record("h2", "b", "b", &result(Verdict::Pass)).unwrap();
        drop(j);
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.lookup("h1", "b").unwrap().verdict, Verdict::Fail);
        assert_eq!(j.lookup("h2", "b").unwrap().verdict, Verdict::Pass);
        assert!(j.lookup("h1", "other builder").is_none());
        assert_eq!(j.entries().len(), 2);
        assert_eq!(j.torn_bytes(), 0);
    }

    #[test]
    fn torn_last_line_is_dropped_and_appends_continue() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("journal");
        let j = Journal::open(&p).unwrap();
        j.record("h1", "b", "b", &result(Verdict::Fail)).unwrap();
        drop(j);
        let full = std::fs::read(&p).unwrap();
        let mut torn = full.clone();
        torn.extend_from_slice(&full[..full.len() / 2]);
        std::fs::write(&p, &torn).unwrap();
        let j = Journal::open(&p).unwrap();
        assert!(j.torn_bytes() > 0);
        assert_eq!(j.entries().len(), 1);
        j.record("h2", "b", "b", &result(Verdict::Pass)).unwrap();
        drop(j);
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.entries().len(), 2);
        assert_eq!(j.torn_bytes(), 0);
    }

    #[test]
    fn corrupt_complete_line_names_file_and_line() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("journal");
        let j = Journal::open(&p).unwrap();
        j.record("h1", "b", "b", &result(Verdict::Fail)).unwrap();
        j.record("h2", "b", "b", &result(Verdict::Fail)).unwrap();
        drop(j);
        let text = std::fs::read_to_string(&p).unwrap().replacen("h2", "h3", 1);
        std::fs::write(&p, text).unwrap();
        let e = Journal::open(&p).unwrap_err().to_string();
        assert!(e.contains("journal:2:") && e.contains("checksum"), "{e}");
    }

    #[test]
    fn aborted_trials_are_retried() {
        let d = tempfile::tempdir().unwrap();
        let j = Journal::open(&d.path().join("journal")).unwrap();
        j.record("h", "b", "b", &result(Verdict::Abort)).unwrap();
        assert!(j.lookup("h", "b").is_none());
        j.record("h", "b", "b", &result(Verdict::Skip)).unwrap();
        assert_eq!(j.lookup("h", "b").unwrap().verdict, Verdict::Skip);
    }

    #[test]
    fn only_entries_of_the_same_identity_are_reused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("journal");
        let j = Journal::open(&p).unwrap();
        j.record("h", "command: ./build.sh", "id-a", &result(Verdict::Fail))
            .unwrap();
        drop(j);
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.lookup("h", "id-a").unwrap().verdict, Verdict::Fail);
        // Same description, script edited: another identity.
        assert!(j.lookup("h", "id-b").is_none());
        assert!(j.lookup("h", "command: ./build.sh").is_none());
        assert_eq!((j.foreign("id-a"), j.foreign("id-b")), (0, 1));
    }

    #[test]
    fn version_1_entries_are_read_but_not_reused() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("journal");
        let json = r#"{"v":1,"candidate_hash":"h","builder":"b","result":{"verdict":"fail","exit_code":1,"duration":{"secs":1,"nanos":0},"log":"x.log","timed_out":false}}"#;
        let line = format!("{} {json}\n", crate::fsio::sha256_hex(json.as_bytes()));
        std::fs::write(&p, line).unwrap();
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.entries().len(), 1);
        assert_eq!(j.entries()[0].identity, None);
        assert!(j.lookup("h", "b").is_none());
        assert!(j.lookup("h", "describe:b").is_none());
        assert_eq!(j.foreign("b"), 1);
        j.record("h", "b", "b", &result(Verdict::Pass)).unwrap();
        drop(j);
        let j = Journal::open(&p).unwrap();
        assert_eq!(j.lookup("h", "b").unwrap().verdict, Verdict::Pass);
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.lines().nth(1).unwrap().contains(r#""v":2"#), "{text}");
    }

    #[test]
    fn concurrent_records_are_whole_lines() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("journal");
        let j = Journal::open(&p).unwrap();
        std::thread::scope(|s| {
            for t in 0..4 {
                let j = &j;
                s.spawn(move || {
                    for i in 0..25 {
                        j.record(&format!("h{t}-{i}"), "b", "b", &result(Verdict::Pass))
                            .unwrap();
                    }
                });
            }
        });
        drop(j);
        assert_eq!(Journal::open(&p).unwrap().entries().len(), 100);
    }
}
