//! Content-addressed on-disk cache.
//!
//! Layout under the cache root:
//!
//! ```text
//! blobs/sha256/<2 hex>/<64 hex>   response bodies, named by their SHA-256
//! keys/<sha256 of key>.json       request key (URL + Accept) -> blob, final URL after redirects
//! partial/<sha256 of URL>         downloads in progress, resumed with HTTP Range
//! git/<sha256 of URL>.git         bare clones for the git source
//! ```
//!
//! Blobs are written atomically and re-hashed on every read; a blob whose
//! content no longer matches its name is deleted and treated as missing, so a
//! corrupt entry is never served. A key is written only after its blob.
//!
//! `export` writes the blobs and keys as one file (format in [`EXPORT_MAGIC`]);
//! `import` verifies every blob before storing it.

use super::SourceError;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

/// First line of an export file. The rest is a sequence of records:
/// `blob <sha256> <length>\n<bytes>\n`, `key <length>\n<json>\n`, then `end <blobs> <keys>\n`.
pub const EXPORT_MAGIC: &str = "sonic-lock-cache-export 1";

/// What a request key maps to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyEntry {
    /// The request key (URL, plus the Accept header when one was sent).
    pub key: String,
    /// The URL the content finally came from, after redirects.
    pub final_url: String,
    /// SHA-256 of the body: the blob's name.
    pub sha256: String,
    /// Body length in bytes.
    pub size: u64,
    /// HTTP status: 200, or 404/410 for a remembered "does not exist" (so `--offline` can answer it too).
    #[serde(default = "status_ok")]
    pub status: u16,
}

fn status_ok() -> u16 {
    200
}

/// The on-disk cache.
#[derive(Debug)]
pub struct Cache {
    root: PathBuf,
    corrupt_removed: AtomicUsize,
}

/// What `import` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ImportStats {
    /// Blobs stored (already present ones count too).
    pub blobs: usize,
    /// Keys stored.
    pub keys: usize,
}

fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

impl Cache {
    /// The default root: `<user cache dir>/sonic-lock`.
    pub fn default_root() -> Option<PathBuf> {
        dirs::cache_dir().map(|d| d.join("sonic-lock"))
    }

    /// Opens (creating if needed) a cache rooted at `root`.
    pub fn open(root: &Path) -> Result<Cache, SourceError> {
        for sub in ["blobs/sha256", "keys", "partial", "git"] {
            let d = root.join(sub);
            std::fs::create_dir_all(&d).map_err(|e| SourceError::io(&d, e))?;
        }
        Ok(Cache {
            root: root.to_path_buf(),
            corrupt_removed: AtomicUsize::new(0),
        })
    }

    /// The cache root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// How many corrupt blobs were found and deleted since this cache was opened.
    pub fn corrupt_removed(&self) -> usize {
        self.corrupt_removed.load(Ordering::Relaxed)
    }

    fn blob_path(&self, sha256: &str) -> PathBuf {
        self.root
            .join("blobs/sha256")
            .join(&sha256[..2])
            .join(sha256)
    }

    fn key_path(&self, key: &str) -> PathBuf {
        self.root
            .join("keys")
            .join(format!("{}.json", crate::fsio::sha256_hex(key.as_bytes())))
    }

    /// Where a download of `url` in progress is kept between attempts.
    pub fn partial_path(&self, url: &str) -> PathBuf {
        self.root
            .join("partial")
            .join(crate::fsio::sha256_hex(url.as_bytes()))
    }

    /// Where the bare clone of a git repository lives.
    pub fn git_path(&self, url: &str) -> PathBuf {
        self.root
            .join("git")
            .join(format!("{}.git", crate::fsio::sha256_hex(url.as_bytes())))
    }

    /// Stores `bytes` (atomically) and returns their SHA-256.
    pub fn put(&self, bytes: &[u8]) -> Result<String, SourceError> {
        let sha = crate::fsio::sha256_hex(bytes);
        let p = self.blob_path(&sha);
        if !p.exists() {
            crate::fsio::write_atomic(&p, bytes).map_err(|e| SourceError::io(&p, e))?;
        }
        Ok(sha)
    }

    /// Stores `bytes` only if they hash to `expected_sha256`.
    pub fn put_verified(
        &self,
        bytes: &[u8],
        expected_sha256: &str,
        url: &str,
    ) -> Result<(), SourceError> {
        let got = crate::fsio::sha256_hex(bytes);
        if got != expected_sha256 {
            return Err(SourceError::HashMismatch {
                url: url.to_string(),
                what: "SHA-256".into(),
                expected: expected_sha256.to_string(),
                got,
            });
        }
        self.put(bytes).map(|_| ())
    }

    /// Reads the blob named `sha256`, re-hashing it; a corrupt blob is deleted and reported missing.
    pub fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, SourceError> {
        if !is_sha256_hex(sha256) {
            return Ok(None);
        }
        let p = self.blob_path(sha256);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(SourceError::io(&p, e)),
        };
        if crate::fsio::sha256_hex(&bytes) != sha256 {
            // Never serve it; the next fetch replaces it.
            let _ = std::fs::remove_file(&p);
            self.corrupt_removed.fetch_add(1, Ordering::Relaxed);
            return Ok(None);
        }
        Ok(Some(bytes))
    }

    /// True when the blob exists (without verifying it).
    pub fn has(&self, sha256: &str) -> bool {
        is_sha256_hex(sha256) && self.blob_path(sha256).exists()
    }

    /// Records that `key` resolved to the blob in `entry` (write the blob first).
    pub fn put_key(&self, entry: &KeyEntry) -> Result<(), SourceError> {
        let p = self.key_path(&entry.key);
        let json = serde_json::to_vec(entry)
            .map_err(|e| SourceError::Invalid(format!("cannot serialise cache key: {e}")))?;
        crate::fsio::write_atomic(&p, &json).map_err(|e| SourceError::io(&p, e))
    }

    /// Looks a request key up; a malformed key file counts as missing.
    pub fn get_key(&self, key: &str) -> Option<KeyEntry> {
        let p = self.key_path(key);
        let bytes = std::fs::read(p).ok()?;
        let e: KeyEntry = serde_json::from_slice(&bytes).ok()?;
        (e.key == key && is_sha256_hex(&e.sha256)).then_some(e)
    }

    /// Writes every blob and key into one file, atomically.
    pub fn export(&self, out: &Path) -> Result<ImportStats, SourceError> {
        let dir = match out.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
            _ => PathBuf::from("."),
        };
        let tmp = tempfile::NamedTempFile::new_in(&dir).map_err(|e| SourceError::io(&dir, e))?;
        let mut w = std::io::BufWriter::new(tmp.as_file());
        let werr = |e| SourceError::io(out, e);
        writeln!(w, "{EXPORT_MAGIC}").map_err(werr)?;
        let mut stats = ImportStats::default();
        let mut blobs = Vec::new();
        let bdir = self.root.join("blobs/sha256");
        for sub in read_dir_sorted(&bdir)? {
            for f in read_dir_sorted(&sub)? {
                if let Some(name) = f.file_name().and_then(|n| n.to_str())
                    && is_sha256_hex(name)
                {
                    blobs.push(name.to_string());
                }
            }
        }
        for sha in &blobs {
            // Verified on the way out too: an export never carries a corrupt blob.
            if let Some(bytes) = self.get(sha)? {
                writeln!(w, "blob {sha} {}", bytes.len()).map_err(werr)?;
                w.write_all(&bytes).map_err(werr)?;
                w.write_all(b"\n").map_err(werr)?;
                stats.blobs += 1;
            }
        }
        for f in read_dir_sorted(&self.root.join("keys"))? {
            let Ok(bytes) = std::fs::read(&f) else {
                continue;
            };
            let Ok(e) = serde_json::from_slice::<KeyEntry>(&bytes) else {
                continue;
            };
            if !self.has(&e.sha256) {
                continue;
            }
            let json = serde_json::to_vec(&e)
                .map_err(|e| SourceError::Invalid(format!("cannot serialise cache key: {e}")))?;
            writeln!(w, "key {}", json.len()).map_err(werr)?;
            w.write_all(&json).map_err(werr)?;
            w.write_all(b"\n").map_err(werr)?;
            stats.keys += 1;
        }
        writeln!(w, "end {} {}", stats.blobs, stats.keys).map_err(werr)?;
        w.flush().map_err(werr)?;
        drop(w);
        tmp.as_file().sync_all().map_err(werr)?;
        tmp.persist(out)
            .map_err(|e| SourceError::io(out, e.error))?;
        Ok(stats)
    }

    /// Reads an export file, verifying every blob's hash before storing it.
    pub fn import(&self, input: &Path) -> Result<ImportStats, SourceError> {
        let f = std::fs::File::open(input).map_err(|e| SourceError::io(input, e))?;
        let mut r = BufReader::new(f);
        let loc = |n: usize| format!("{}: record {n}", input.display());
        let mut line = String::new();
        read_header(&mut r, &mut line, input)?;
        if line.trim_end() != EXPORT_MAGIC {
            return Err(SourceError::parse(
                input.display().to_string(),
                format!("not a sonic-lock cache export (first line must be `{EXPORT_MAGIC}`)"),
            ));
        }
        let mut stats = ImportStats::default();
        let mut n = 0usize;
        loop {
            n += 1;
            read_header(&mut r, &mut line, input)?;
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["blob", sha, len] => {
                    let len: usize = len
                        .parse()
                        .map_err(|_| SourceError::parse(loc(n), "bad blob length"))?;
                    if !is_sha256_hex(sha) {
                        return Err(SourceError::parse(loc(n), format!("bad blob name `{sha}`")));
                    }
                    let sha = sha.to_string();
                    let bytes = read_body(&mut r, len, &loc(n))?;
                    self.put_verified(&bytes, &sha, &loc(n))?;
                    stats.blobs += 1;
                }
                ["key", len] => {
                    let len: usize = len
                        .parse()
                        .map_err(|_| SourceError::parse(loc(n), "bad key length"))?;
                    let bytes = read_body(&mut r, len, &loc(n))?;
                    let e: KeyEntry = serde_json::from_slice(&bytes)
                        .map_err(|e| SourceError::parse(loc(n), format!("bad key record: {e}")))?;
                    if !self.has(&e.sha256) {
                        return Err(SourceError::parse(
                            loc(n),
                            format!("key `{}` points to a blob not in the export", e.key),
                        ));
                    }
                    self.put_key(&e)?;
                    stats.keys += 1;
                }
                ["end", b, k] => {
                    if b.parse::<usize>().ok() != Some(stats.blobs)
                        || k.parse::<usize>().ok() != Some(stats.keys)
                    {
                        return Err(SourceError::parse(
                            loc(n),
                            "record counts do not match the end marker",
                        ));
                    }
                    return Ok(stats);
                }
                _ => {
                    return Err(SourceError::parse(
                        loc(n),
                        format!("unexpected record `{}`", line.trim_end()),
                    ));
                }
            }
        }
    }
}

fn read_header(r: &mut impl BufRead, line: &mut String, input: &Path) -> Result<(), SourceError> {
    line.clear();
    let n = r.read_line(line).map_err(|e| SourceError::io(input, e))?;
    if n == 0 {
        return Err(SourceError::parse(
            input.display().to_string(),
            "truncated export (no end marker)",
        ));
    }
    Ok(())
}

fn read_body(r: &mut impl Read, len: usize, loc: &str) -> Result<Vec<u8>, SourceError> {
    let mut bytes = vec![0u8; len];
    r.read_exact(&mut bytes)
        .map_err(|_| SourceError::parse(loc, "truncated record"))?;
    let mut nl = [0u8; 1];
    r.read_exact(&mut nl)
        .map_err(|_| SourceError::parse(loc, "truncated record"))?;
    if nl[0] != b'\n' {
        return Err(SourceError::parse(
            loc,
            "record length does not match its body",
        ));
    }
    Ok(bytes)
}

fn read_dir_sorted(dir: &Path) -> Result<Vec<PathBuf>, SourceError> {
    let rd = match std::fs::read_dir(dir) {
        Ok(rd) => rd,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(SourceError::io(dir, e)),
    };
    let mut v: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
    v.sort();
    Ok(v)
}

/// Streaming SHA-256 for bodies written to disk piece by piece.
pub fn sha256_file(path: &Path) -> Result<(String, u64), SourceError> {
    let mut f = std::fs::File::open(path).map_err(|e| SourceError::io(path, e))?;
    let mut h = sha2::Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut n = 0u64;
    loop {
        let k = f.read(&mut buf).map_err(|e| SourceError::io(path, e))?;
        if k == 0 {
            break;
        }
        h.update(&buf[..k]);
        n += k as u64;
    }
    Ok((hex::encode(h.finalize()), n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn corrupt_blob_is_never_served() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::open(d.path()).unwrap();
        let sha = c.put(b"hello").unwrap();
        assert_eq!(c.get(&sha).unwrap().unwrap(), b"hello");
        std::fs::write(c.blob_path(&sha), b"hellO").unwrap();
        assert_eq!(c.get(&sha).unwrap(), None);
        assert_eq!(c.corrupt_removed(), 1);
        assert!(!c.has(&sha));
    }

    #[test]
    fn export_import_round_trip_and_rejects_tampering() {
        let d = tempfile::tempdir().unwrap();
        let c = Cache::open(&d.path().join("a")).unwrap();
        let sha = c.put(b"payload\nwith newline").unwrap();
        c.put_key(&KeyEntry {
            key: "http://x/y".into(),
            final_url: "http://x/y".into(),
            sha256: sha.clone(),
            size: 20,
            status: 200,
        })
        .unwrap();
        let file = d.path().join("cache.export");
        let s = c.export(&file).unwrap();
        assert_eq!((s.blobs, s.keys), (1, 1));
        let c2 = Cache::open(&d.path().join("b")).unwrap();
        let s2 = c2.import(&file).unwrap();
        assert_eq!(s2, s);
        assert_eq!(c2.get_key("http://x/y").unwrap().sha256, sha);
        assert_eq!(c2.get(&sha).unwrap().unwrap(), b"payload\nwith newline");

        let mut bytes = std::fs::read(&file).unwrap();
        let pos = bytes.windows(7).position(|w| w == b"payload").unwrap();
        bytes[pos] = b'P';
        std::fs::write(&file, &bytes).unwrap();
        let c3 = Cache::open(&d.path().join("c")).unwrap();
        let err = c3.import(&file).unwrap_err().to_string();
        assert!(err.contains("does not match"), "{err}");
        assert!(!c3.has(&sha));

        std::fs::write(&file, b"garbage\n").unwrap();
        assert!(
            c3.import(&file)
                .unwrap_err()
                .to_string()
                .contains("not a sonic-lock cache export")
        );
    }
}
