//! File-system helpers shared by every stage: atomic writes and content hashes.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Writes `bytes` to `path` atomically: a temporary file in the same directory,
/// fsynced, then renamed over the target, so a reader never sees half a file.
/// A new file gets the mode the umask gives (`0666 & !umask`), a replaced file
/// keeps its mode.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    std::fs::create_dir_all(dir)?;
    Staged::new(path, bytes)?.commit()
}

/// A file's next content, written and fsynced beside it under a temporary name
/// but not yet in place: [`Staged::commit`] renames it over the target, and
/// dropping it uncommitted removes the temporary file. Staging every file of a
/// tree before committing any lets a failed write leave the old tree untouched.
#[derive(Debug)]
pub struct Staged {
    tmp: PathBuf,
    target: PathBuf,
    done: bool,
}

impl Staged {
    /// Writes `bytes` to a new temporary file in `target`'s directory (which must exist).
    pub fn new(target: &Path, bytes: &[u8]) -> std::io::Result<Staged> {
        static COUNTER: AtomicU64 = AtomicU64::new(0);
        let dir = match target.parent() {
            Some(d) if !d.as_os_str().is_empty() => d,
            _ => Path::new("."),
        };
        let base = target
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        // Created through `OpenOptions` (mode 0666 less the umask), unlike
        // `tempfile`, which creates 0600 files.
        let (tmp, mut file) = loop {
            let n = COUNTER.fetch_add(1, Ordering::Relaxed);
            let tmp = dir.join(format!(".{base}.{}.{n}.tmp", std::process::id()));
            match std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .open(&tmp)
            {
                Ok(f) => break (tmp, f),
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            }
        };
        let staged = Staged {
            tmp,
            target: target.to_path_buf(),
            done: false,
        };
        file.write_all(bytes)?;
        if let Ok(old) = std::fs::metadata(target)
            && old.is_file()
        {
            file.set_permissions(old.permissions())?;
        }
        file.sync_all()?;
        Ok(staged)
    }

    /// The file this will replace.
    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Renames the staged file over its target.
    pub fn commit(mut self) -> std::io::Result<()> {
        std::fs::rename(&self.tmp, &self.target)?;
        self.done = true;
        Ok(())
    }
}

impl Drop for Staged {
    fn drop(&mut self) {
        if !self.done {
            let _ = std::fs::remove_file(&self.tmp);
        }
    }
}

/// The process id in a staging file's name (`.<name>.<pid>.<n>.tmp`, as
/// [`Staged`] names them), or `None` for any other name.
pub fn staged_owner(file_name: &str) -> Option<u32> {
    let inner = file_name.strip_prefix('.')?.strip_suffix(".tmp")?;
    let (rest, n) = inner.rsplit_once('.')?;
    let (name, pid) = rest.rsplit_once('.')?;
    let digits = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit());
    if name.is_empty() || !digits(n) || !digits(pid) {
        return None;
    }
    pid.parse().ok()
}

/// True while a process with this id exists (it may be another program that
/// reused the id: then its staging files are kept, erring on the safe side).
fn process_alive(pid: u32) -> bool {
    let Ok(pid) = libc::pid_t::try_from(pid) else {
        return false;
    };
    if pid <= 0 {
        return false;
    }
    // SAFETY: signal 0 only checks that the process exists; nothing is sent.
    let r = unsafe { libc::kill(pid, 0) };
    r == 0 || std::io::Error::last_os_error().raw_os_error() == Some(libc::EPERM)
}

/// Removes the staging files a killed run left in `dir` (not below it): files
/// named as [`Staged`] names them whose process is gone. Files of a running
/// process, this one included, are kept. Returns the files removed.
pub fn remove_stale_staged(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for e in entries {
        let e = e?;
        let name = e.file_name();
        let Some(pid) = name.to_str().and_then(staged_owner) else {
            continue;
        };
        if pid == std::process::id() || process_alive(pid) || !e.file_type()?.is_file() {
            continue;
        }
        match std::fs::remove_file(e.path()) {
            Ok(()) => removed.push(e.path()),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
            Err(err) => return Err(err),
        }
    }
    Ok(removed)
}

/// [`remove_stale_staged`] in `root` and every directory below it (symlinks
/// are not followed), for trees a run writes as a whole (an export).
pub fn remove_stale_staged_tree(root: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut removed = remove_stale_staged(root)?;
    let entries = match std::fs::read_dir(root) {
        Ok(e) => e,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    let mut dirs = Vec::new();
    for e in entries {
        let e = e?;
        if e.file_type()?.is_dir() {
            dirs.push(e.path());
        }
    }
    dirs.sort();
    for d in dirs {
        removed.extend(remove_stale_staged_tree(&d)?);
    }
    Ok(removed)
}

/// Lower-case hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// Lower-case hex MD5 of `bytes` (SONiC's web version files record md5).
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::Digest;
    hex::encode(md5::Md5::digest(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn atomic_write_replaces_whole_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("sub/x.txt");
        write_atomic(&p, b"one").unwrap();
        write_atomic(&p, b"two").unwrap();
        assert_eq!(std::fs::read(&p).unwrap(), b"two");
        assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
    }

    #[cfg(unix)]
    #[test]
    fn atomic_write_respects_umask_and_keeps_an_existing_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        // The process umask, read without changing it (creating a file applies it).
        let probe = dir.path().join("probe");
        std::fs::write(&probe, b"").unwrap();
        let umask_mode = mode(&probe);
        let fresh = dir.path().join("fresh");
        write_atomic(&fresh, b"x").unwrap();
        assert_eq!(mode(&fresh), umask_mode);
        let kept = dir.path().join("kept");
        std::fs::write(&kept, b"old").unwrap();
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o640)).unwrap();
        write_atomic(&kept, b"new").unwrap();
        assert_eq!(mode(&kept), 0o640);
        assert_eq!(std::fs::read(&kept).unwrap(), b"new");
    }

    #[test]
    fn a_dropped_staged_file_leaves_nothing_behind() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("x");
        drop(Staged::new(&p, b"x").unwrap());
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
    }

    #[test]
    fn hashes_match_known_values() {
        assert_eq!(md5_hex(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn staging_names_are_recognised_and_only_dead_owners_swept() {
        assert_eq!(staged_owner(".versions-deb.123.7.tmp"), Some(123));
        assert_eq!(staged_owner(".a.b.42.0.tmp"), Some(42));
        for other in [
            "versions-deb",
            ".x.tmp",
            ".x.12.tmp",
            ".x.a.1.tmp",
            "x.1.2.tmp",
            "..1.2.tmp",
        ] {
            assert_eq!(staged_owner(other), None, "{other}");
        }
        let dir = tempfile::tempdir().unwrap();
        // A process that has exited: its id is free (or reused, then kept).
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        let sub = dir.path().join("dockers/x");
        std::fs::create_dir_all(&sub).unwrap();
        let stale = sub.join(format!(".versions-deb.{dead}.0.tmp"));
        let mine = dir
            .path()
            .join(format!(".versions-py3.{}.0.tmp", std::process::id()));
        let user = dir.path().join(".notes.tmp");
        for p in [&stale, &mine, &user] {
            std::fs::write(p, b"x").unwrap();
        }
        let removed = remove_stale_staged_tree(dir.path()).unwrap();
        if !process_alive(dead) {
            assert_eq!(removed, vec![stale.clone()]);
            assert!(!stale.exists());
        }
        assert!(mine.exists() && user.exists());
    }
}
