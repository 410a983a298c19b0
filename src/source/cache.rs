//! Content-addressed on-disk cache.
//!
//! Layout under the cache root:
//!
//! ```text
//! blobs/sha256/<2 hex>/<64 hex>   response bodies, named by their SHA-256
//! keys/<sha256 of key>.json       request key (URL + Accept) -> blob, final URL after redirects
//! partial/<sha256 of URL>         downloads in progress, resumed with HTTP Range
//! git/<sha256 of URL>.git         bare clones for the git source
//! parsed/<suite>/<key>.bin        parsed Debian suites (see `source::suitecache`)
//! ```
//!
//! Blobs are written atomically and re-hashed on every read; a blob whose
//! content no longer matches its name is deleted, reported (a warning naming
//! the blob and what it was read for) and never served. A key is written only
//! after its blob.
//!
//! `export` writes the blobs, keys and git clones as one file (format in
//! [`EXPORT_MAGIC`]); `import` verifies every blob before storing it and reads
//! every record in bounded chunks, so a declared length is never trusted.

use super::SourceError;
use serde::{Deserialize, Serialize};
use sha2::Digest;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

mod verify;
pub use verify::VerifyReport;

/// First line of an export file. The rest is a sequence of records:
/// `blob <sha256> <length>\n<bytes>\n`, `key <length>\n<json>\n`,
/// `git <path> <length>\n<bytes>\n` (one per file of a bare clone, `path`
/// relative to the cache root: `git/<64 hex>.git/...`), then
/// `end <blobs> <keys> <clones>\n`.
pub const EXPORT_MAGIC: &str = "sonic-lock-cache-export 2";

/// First line of exports made before git clones were carried (no `git`
/// records, `end <blobs> <keys>`); still imported.
pub const EXPORT_MAGIC_V1: &str = "sonic-lock-cache-export 1";

/// Largest `key` record accepted: a key is a small JSON object.
const MAX_KEY_RECORD: u64 = 1 << 20;

/// Chunk size for copying record bodies.
const CHUNK: usize = 1 << 16;

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
    warnings: Mutex<Vec<String>>,
}

/// What a read of a blob found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The blob, verified against its name.
    Hit(Vec<u8>),
    /// No such blob.
    Missing,
    /// The blob's content did not match its name; it was removed from this path.
    Corrupt(PathBuf),
}

/// What `import` did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct ImportStats {
    /// Blobs stored (already present ones count too).
    pub blobs: usize,
    /// Keys stored.
    pub keys: usize,
    /// Git clones stored (already present ones count too).
    pub clones: usize,
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
        // Staging files of a killed run (`.<name>.<pid>.<n>.tmp`) are never
        // read, but they would pile up: remove those whose process is gone.
        let mut dirs = vec![root.join("keys"), root.join("partial")];
        // Sharded blobs and parsed suites (`parsed/<suite>/`) are one level down.
        for parent in [root.join("blobs/sha256"), root.join("parsed")] {
            if let Ok(subs) = std::fs::read_dir(&parent) {
                dirs.extend(subs.flatten().map(|e| e.path()).filter(|p| p.is_dir()));
            }
        }
        for d in dirs {
            crate::fsio::remove_stale_staged(&d).map_err(|e| SourceError::io(&d, e))?;
        }
        Ok(Cache {
            root: root.to_path_buf(),
            corrupt_removed: AtomicUsize::new(0),
            warnings: Mutex::new(Vec::new()),
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

    /// Warnings so far (corrupt blobs removed), oldest first.
    pub fn warnings(&self) -> Vec<String> {
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// Records a corrupt entry that was removed (a blob, a parsed suite):
    /// counted, kept among the warnings and printed at once, since a run
    /// that fails later may never print its report.
    pub fn note_corrupt(&self, msg: String) {
        self.corrupt_removed.fetch_add(1, Ordering::Relaxed);
        eprintln!("warning: {msg}");
        self.warnings
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .push(msg);
    }

    /// Reads the blob named `sha256`, re-hashing it; a corrupt blob is deleted and reported missing.
    pub fn get(&self, sha256: &str) -> Result<Option<Vec<u8>>, SourceError> {
        match self.lookup(sha256, sha256)? {
            Lookup::Hit(b) => Ok(Some(b)),
            Lookup::Missing | Lookup::Corrupt(_) => Ok(None),
        }
    }

    /// Reads the blob named `sha256` for `wanted_for` (a URL or key, named in
    /// the warning); a blob whose content does not match its name is deleted,
    /// warned about and reported as [`Lookup::Corrupt`].
    pub fn lookup(&self, sha256: &str, wanted_for: &str) -> Result<Lookup, SourceError> {
        if !is_sha256_hex(sha256) {
            return Ok(Lookup::Missing);
        }
        let p = self.blob_path(sha256);
        let bytes = match std::fs::read(&p) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Lookup::Missing),
            Err(e) => return Err(SourceError::io(&p, e)),
        };
        if crate::fsio::sha256_hex(&bytes) != sha256 {
            // Never serve it; the next fetch replaces it.
            let _ = std::fs::remove_file(&p);
            self.note_corrupt(format!(
                "corrupt cache blob {} (for {wanted_for}): its content does not match its name; removed",
                p.display()
            ));
            return Ok(Lookup::Corrupt(p));
        }
        Ok(Lookup::Hit(bytes))
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

    /// Writes every blob, key and git clone into one file, atomically.
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
            if let Lookup::Hit(bytes) = self.lookup(sha, "cache export")? {
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
        for clone in read_dir_sorted(&self.root.join("git"))? {
            // Only finished clones: temporary `.clone*` directories are half-done.
            let Some(name) = clone.file_name().and_then(|n| n.to_str()) else {
                continue;
            };
            if !is_clone_name(name) || !clone.join("HEAD").is_file() {
                continue;
            }
            let mut files = Vec::new();
            walk_files(&clone, &mut files)?;
            for f in files {
                let rel = f
                    .strip_prefix(&self.root)
                    .ok()
                    .and_then(|r| r.to_str())
                    .filter(|r| !r.contains(char::is_whitespace) && !r.contains('\\'))
                    .ok_or_else(|| {
                        SourceError::Invalid(format!(
                            "{}: cannot export a git file whose name has spaces or is not UTF-8",
                            f.display()
                        ))
                    })?
                    .to_string();
                let mut src = std::fs::File::open(&f).map_err(|e| SourceError::io(&f, e))?;
                let len = src.metadata().map_err(|e| SourceError::io(&f, e))?.len();
                writeln!(w, "git {rel} {len}").map_err(werr)?;
                // Exactly `len` bytes, even if the file grew meanwhile.
                let copied = std::io::copy(&mut (&mut src).take(len), &mut w)
                    .map_err(|e| SourceError::io(&f, e))?;
                if copied != len {
                    return Err(SourceError::Invalid(format!(
                        "{}: changed while being exported",
                        f.display()
                    )));
                }
                w.write_all(b"\n").map_err(werr)?;
            }
            stats.clones += 1;
        }
        writeln!(w, "end {} {} {}", stats.blobs, stats.keys, stats.clones).map_err(werr)?;
        w.flush().map_err(werr)?;
        drop(w);
        tmp.as_file().sync_all().map_err(werr)?;
        tmp.persist(out)
            .map_err(|e| SourceError::io(out, e.error))?;
        Ok(stats)
    }

    /// Reads an export file, verifying every blob's hash before storing it.
    ///
    /// Bodies are copied in bounded chunks, so a declared length larger than
    /// the file is an error naming the file and line, never an allocation.
    pub fn import(&self, input: &Path) -> Result<ImportStats, SourceError> {
        let f = std::fs::File::open(input).map_err(|e| SourceError::io(input, e))?;
        let mut r = BufReader::new(f);
        let mut line = String::new();
        read_header(&mut r, &mut line, input)?;
        let v2 = match line.trim_end() {
            EXPORT_MAGIC => true,
            EXPORT_MAGIC_V1 => false,
            _ => {
                return Err(SourceError::parse(
                    format!("{}:1", input.display()),
                    format!(
                        "not a sonic-lock cache export (first line must be `{EXPORT_MAGIC}` or `{EXPORT_MAGIC_V1}`)"
                    ),
                ));
            }
        };
        let mut at = Reader { input, line_no: 1 };
        let mut stats = ImportStats::default();
        let mut clone: Option<PendingClone> = None;
        loop {
            read_header(&mut r, &mut line, input)?;
            at.line_no += 1;
            let here = at.loc();
            let fields: Vec<&str> = line.split_whitespace().collect();
            match fields.as_slice() {
                ["blob", sha, len] => {
                    let len = parse_len(len, &here, "blob")?;
                    if !is_sha256_hex(sha) {
                        return Err(SourceError::parse(here, format!("bad blob name `{sha}`")));
                    }
                    let sha = sha.to_string();
                    self.import_blob(&mut r, &mut at, &sha, len)?;
                    stats.blobs += 1;
                }
                ["key", len] => {
                    let len = parse_len(len, &here, "key")?;
                    let mut bytes = Vec::new();
                    at.body(&mut r, len, "key", |chunk| {
                        if (bytes.len() + chunk.len()) as u64 > MAX_KEY_RECORD {
                            return Err(SourceError::parse(
                                here.clone(),
                                format!("key record longer than {MAX_KEY_RECORD} bytes"),
                            ));
                        }
                        bytes.extend_from_slice(chunk);
                        Ok(())
                    })?;
                    let e: KeyEntry = serde_json::from_slice(&bytes)
                        .map_err(|e| SourceError::parse(&here, format!("bad key record: {e}")))?;
                    if !self.has(&e.sha256) {
                        return Err(SourceError::parse(
                            here,
                            format!("key `{}` points to a blob not in the export", e.key),
                        ));
                    }
                    self.put_key(&e)?;
                    stats.keys += 1;
                }
                ["git", rel, len] if v2 => {
                    let len = parse_len(len, &here, "git")?;
                    let (name, inner) = split_git_path(rel).ok_or_else(|| {
                        SourceError::parse(&here, format!("bad git path `{rel}`"))
                    })?;
                    if clone.as_ref().is_none_or(|c| c.name != name) {
                        if let Some(done) = clone.take() {
                            self.finish_clone(done)?;
                            stats.clones += 1;
                        }
                        clone = Some(self.start_clone(name)?);
                    }
                    let Some(c) = clone.as_mut() else {
                        return Err(SourceError::Invalid("no clone in progress".into()));
                    };
                    let dest = c.dir.path().join(&inner);
                    if dest.exists() {
                        return Err(SourceError::parse(
                            here,
                            format!("git file `{rel}` appears twice"),
                        ));
                    }
                    if let Some(parent) = dest.parent() {
                        std::fs::create_dir_all(parent).map_err(|e| SourceError::io(parent, e))?;
                    }
                    let mut out =
                        std::fs::File::create(&dest).map_err(|e| SourceError::io(&dest, e))?;
                    at.body(&mut r, len, "git", |chunk| {
                        out.write_all(chunk).map_err(|e| SourceError::io(&dest, e))
                    })?;
                    out.sync_all().map_err(|e| SourceError::io(&dest, e))?;
                }
                ["end", b, k, rest @ ..] if rest.len() == usize::from(v2) => {
                    if let Some(done) = clone.take() {
                        self.finish_clone(done)?;
                        stats.clones += 1;
                    }
                    let clones_ok = rest
                        .first()
                        .is_none_or(|c| c.parse::<usize>().ok() == Some(stats.clones));
                    if b.parse::<usize>().ok() != Some(stats.blobs)
                        || k.parse::<usize>().ok() != Some(stats.keys)
                        || !clones_ok
                    {
                        return Err(SourceError::parse(
                            here,
                            "record counts do not match the end marker",
                        ));
                    }
                    return Ok(stats);
                }
                _ => {
                    return Err(SourceError::parse(
                        here,
                        format!("unexpected record `{}`", line.trim_end()),
                    ));
                }
            }
        }
    }

    /// Copies one blob body into a temporary file in the cache, hashing as it
    /// goes, and moves it into place only when it hashes to its name.
    fn import_blob(
        &self,
        r: &mut impl BufRead,
        at: &mut Reader<'_>,
        sha: &str,
        len: u64,
    ) -> Result<(), SourceError> {
        let here = at.loc();
        let pdir = self.root.join("partial");
        let mut tmp =
            tempfile::NamedTempFile::new_in(&pdir).map_err(|e| SourceError::io(&pdir, e))?;
        let tpath = tmp.path().to_path_buf();
        let mut h = sha2::Sha256::new();
        at.body(r, len, "blob", |chunk| {
            h.update(chunk);
            tmp.write_all(chunk).map_err(|e| SourceError::io(&tpath, e))
        })?;
        let got = hex::encode(h.finalize());
        if got != sha {
            return Err(SourceError::HashMismatch {
                url: here,
                what: "SHA-256".into(),
                expected: sha.to_string(),
                got,
            });
        }
        let p = self.blob_path(sha);
        if !p.exists() {
            if let Some(parent) = p.parent() {
                std::fs::create_dir_all(parent).map_err(|e| SourceError::io(parent, e))?;
            }
            tmp.as_file()
                .sync_all()
                .map_err(|e| SourceError::io(&tpath, e))?;
            tmp.persist(&p).map_err(|e| SourceError::io(&p, e.error))?;
        }
        Ok(())
    }

    fn start_clone(&self, name: String) -> Result<PendingClone, SourceError> {
        let gdir = self.root.join("git");
        let dir = tempfile::Builder::new()
            .prefix(".import")
            .tempdir_in(&gdir)
            .map_err(|e| SourceError::io(&gdir, e))?;
        Ok(PendingClone { name, dir })
    }

    /// Moves an imported clone into place; a clone already in the cache is kept
    /// (it is at least as new as an export of it).
    fn finish_clone(&self, c: PendingClone) -> Result<(), SourceError> {
        let dest = self.root.join("git").join(&c.name);
        git2::Repository::open_bare(c.dir.path()).map_err(|e| {
            SourceError::Invalid(format!(
                "imported git clone `git/{}` is not a usable repository: {}",
                c.name,
                e.message()
            ))
        })?;
        if dest.join("HEAD").exists() {
            return Ok(());
        }
        let tmp = c.dir.keep();
        if let Err(e) = std::fs::rename(&tmp, &dest) {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(SourceError::io(&dest, e));
        }
        Ok(())
    }
}

/// An imported clone being written, until its last file arrives.
struct PendingClone {
    name: String,
    dir: tempfile::TempDir,
}

/// Position in an export file, for messages (`file:line`).
struct Reader<'a> {
    input: &'a Path,
    line_no: usize,
}

impl Reader<'_> {
    fn loc(&self) -> String {
        format!("{}:{}", self.input.display(), self.line_no)
    }

    /// Feeds exactly `len` body bytes to `sink` in bounded chunks, then
    /// requires the newline that ends the record.
    fn body(
        &mut self,
        r: &mut impl BufRead,
        len: u64,
        kind: &str,
        mut sink: impl FnMut(&[u8]) -> Result<(), SourceError>,
    ) -> Result<(), SourceError> {
        let here = self.loc();
        let mut buf = vec![0u8; CHUNK];
        let mut got = 0u64;
        while got < len {
            let want = usize::try_from((len - got).min(CHUNK as u64)).unwrap_or(CHUNK);
            let k = r
                .read(&mut buf[..want])
                .map_err(|e| SourceError::io(self.input, e))?;
            if k == 0 {
                return Err(SourceError::parse(
                    here,
                    format!("{kind} record declares {len} bytes but only {got} follow"),
                ));
            }
            sink(&buf[..k])?;
            self.line_no += buf[..k].iter().filter(|&&b| b == b'\n').count();
            got += k as u64;
        }
        let mut nl = [0u8; 1];
        r.read_exact(&mut nl).map_err(|_| {
            SourceError::parse(
                &here,
                format!("{kind} record: truncated (no newline after its {len} bytes)"),
            )
        })?;
        if nl[0] != b'\n' {
            return Err(SourceError::parse(
                here,
                format!("{kind} record: declared length {len} does not match its body"),
            ));
        }
        self.line_no += 1;
        Ok(())
    }
}

fn parse_len(s: &str, here: &str, kind: &str) -> Result<u64, SourceError> {
    s.parse()
        .map_err(|_| SourceError::parse(here, format!("bad {kind} length `{s}`")))
}

/// `<64 hex>.git`: the name [`Cache::git_path`] gives a clone.
fn is_clone_name(name: &str) -> bool {
    name.strip_suffix(".git").is_some_and(is_sha256_hex)
}

/// Splits `git/<64 hex>.git/<inner>` into the clone name and the inner path,
/// refusing anything that could land outside the clone: absolute paths, `..`,
/// `.`, empty components.
fn split_git_path(rel: &str) -> Option<(String, PathBuf)> {
    let mut parts = rel.split('/');
    if parts.next()? != "git" {
        return None;
    }
    let name = parts.next()?;
    if !is_clone_name(name) {
        return None;
    }
    let mut inner = PathBuf::new();
    for p in parts {
        if p.is_empty() || p == "." || p == ".." || p.contains('\\') || p.contains('\0') {
            return None;
        }
        inner.push(p);
    }
    if inner.as_os_str().is_empty() {
        return None;
    }
    // Belt and braces: every component must be a plain name.
    inner
        .components()
        .all(|c| matches!(c, std::path::Component::Normal(_)))
        .then(|| (name.to_string(), inner))
}

/// Every regular file under `dir`, sorted (symbolic links are not followed).
fn walk_files(dir: &Path, out: &mut Vec<PathBuf>) -> Result<(), SourceError> {
    for p in read_dir_sorted(dir)? {
        let ft = std::fs::symlink_metadata(&p)
            .map_err(|e| SourceError::io(&p, e))?
            .file_type();
        if ft.is_dir() {
            walk_files(&p, out)?;
        } else if ft.is_file() {
            out.push(p);
        }
    }
    Ok(())
}

fn read_header(r: &mut impl BufRead, line: &mut String, input: &Path) -> Result<(), SourceError> {
    line.clear();
    // A header is one short line: cap it, so a file without newlines is not read whole.
    let n = r
        .by_ref()
        .take(4096)
        .read_line(line)
        .map_err(|e| SourceError::io(input, e))?;
    if n == 0 {
        return Err(SourceError::parse(
            input.display().to_string(),
            "truncated export (no end marker)",
        ));
    }
    Ok(())
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
    fn staging_files_of_a_killed_run_are_swept_from_parsed_suites_too() {
        let d = tempfile::tempdir().unwrap();
        let suite = d.path().join("parsed/debian_bullseye");
        std::fs::create_dir_all(&suite).unwrap();
        // No process has this id (above any pid_max), so its writer is gone.
        let stale = suite.join(".abc.bin.999999999.8.tmp");
        let mine = suite.join(format!(".abc.bin.{}.9.tmp", std::process::id()));
        std::fs::write(&stale, b"half").unwrap();
        std::fs::write(&mine, b"in progress").unwrap();
        Cache::open(d.path()).unwrap();
        assert!(!stale.exists());
        assert!(mine.exists());
    }

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
