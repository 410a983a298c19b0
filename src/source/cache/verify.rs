//! `Cache::verify`: every entry of the cache checked at once, as a read
//! would check it, so that a cache carried to an air-gapped host, or left by
//! a killed run, can be vouched for before it is used. Corrupt entries are
//! removed and named (an online run fetches them again).

use super::{Cache, KeyEntry, is_sha256_hex, read_dir_sorted, sha256_file};
use crate::source::SourceError;
use serde::Serialize;

/// What [`Cache::verify`] found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerifyReport {
    /// Blobs whose content matches their name.
    pub blobs: usize,
    /// Request keys that parse and name a blob present.
    pub keys: usize,
    /// Parsed suites whose checksum and encoding hold.
    pub parsed: usize,
    /// Git clones that open as bare repositories.
    pub clones: usize,
    /// What was wrong, one line per entry removed (or, for a clone, to remove by hand).
    pub problems: Vec<String>,
}

impl Cache {
    /// Re-hashes every blob, reads every key and parsed suite and opens every
    /// git clone; removes the corrupt ones (a clone is only named) and says why.
    pub fn verify(&self) -> Result<VerifyReport, SourceError> {
        let mut r = VerifyReport::default();
        let note = |r: &mut VerifyReport, msg: String| {
            self.note_corrupt(msg.clone());
            r.problems.push(msg);
        };
        for shard in read_dir_sorted(&self.root.join("blobs/sha256"))? {
            for p in read_dir_sorted(&shard)? {
                let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                    continue;
                };
                // A staging file of a live run is not an entry yet.
                if crate::fsio::staged_owner(name).is_some() {
                    continue;
                }
                let sound = is_sha256_hex(name) && sha256_file(&p)?.0 == name;
                if sound {
                    r.blobs += 1;
                } else {
                    let _ = std::fs::remove_file(&p);
                    note(
                        &mut r,
                        format!(
                            "corrupt cache blob {}: its content does not match its name; removed",
                            p.display()
                        ),
                    );
                }
            }
        }
        for p in read_dir_sorted(&self.root.join("keys"))? {
            let Some(name) = p.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if crate::fsio::staged_owner(name).is_some() {
                continue;
            }
            let entry: Option<KeyEntry> = std::fs::read(&p)
                .ok()
                .and_then(|b| serde_json::from_slice(&b).ok());
            let why = match &entry {
                None => Some("not a request key"),
                Some(e) if self.key_path(&e.key) != p => Some("its name is not its key's hash"),
                Some(e) if !self.has(&e.sha256) => Some("the blob it names is missing"),
                Some(_) => None,
            };
            match why {
                None => r.keys += 1,
                Some(why) => {
                    let _ = std::fs::remove_file(&p);
                    note(
                        &mut r,
                        format!("corrupt cache key {}: {why}; removed", p.display()),
                    );
                }
            }
        }
        for suite in read_dir_sorted(&self.root.join("parsed"))? {
            for p in read_dir_sorted(&suite)? {
                if p.extension().is_none_or(|x| x != "bin") {
                    continue;
                }
                let bytes = std::fs::read(&p).map_err(|e| SourceError::io(&p, e))?;
                match crate::source::suitecache::check_entry(&bytes) {
                    Ok(()) => r.parsed += 1,
                    Err(why) => {
                        let _ = std::fs::remove_file(&p);
                        note(
                            &mut r,
                            format!(
                                "corrupt parsed-suite cache entry {}: {why}; removed",
                                p.display()
                            ),
                        );
                    }
                }
            }
        }
        for p in read_dir_sorted(&self.root.join("git"))? {
            // `.clone*` is a clone in progress (or left by a killed run): never used.
            if p.file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| n.starts_with('.'))
            {
                continue;
            }
            match git2::Repository::open_bare(&p) {
                Ok(_) => r.clones += 1,
                Err(e) => note(
                    &mut r,
                    format!(
                        "git clone {} does not open ({}); remove it to clone again",
                        p.display(),
                        e.message()
                    ),
                ),
            }
        }
        Ok(r)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn verify_removes_and_names_a_corrupt_blob_a_dangling_key_and_a_bad_parsed_entry() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::open(d.path()).unwrap();
        let good = c.put(b"good").unwrap();
        let bad = c.put(b"bad").unwrap();
        for (key, sha) in [("http://h/good", &good), ("http://h/bad", &bad)] {
            c.put_key(&KeyEntry {
                key: key.into(),
                final_url: key.into(),
                sha256: sha.clone(),
                size: 3,
                status: 200,
            })
            .unwrap();
        }
        assert_eq!(c.verify().unwrap().problems, Vec::<String>::new());
        std::fs::write(c.blob_path(&bad), b"bad!").unwrap();
        let parsed = d.path().join("parsed/x");
        std::fs::create_dir_all(&parsed).unwrap();
        std::fs::write(parsed.join("k.bin"), b"half").unwrap();
        let r = c.verify().unwrap();
        assert_eq!((r.blobs, r.keys, r.parsed), (1, 1, 0), "{r:?}");
        assert_eq!(r.problems.len(), 3, "{r:?}");
        assert!(r.problems[0].contains(&bad) && r.problems[0].contains("removed"));
        assert!(r.problems[1].contains("the blob it names is missing"));
        assert!(r.problems[2].contains("k.bin"));
        // Removed: a second pass is clean.
        assert!(c.verify().unwrap().problems.is_empty());
        assert!(c.get_key("http://h/bad").is_none());
    }
}
