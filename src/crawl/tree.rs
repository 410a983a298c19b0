//! Git tree access through git2, without a checkout: the file list of a
//! commit (bare or non-bare repository, or a URL cloned into the cache),
//! submodules read at their gitlink commits from local clones, and blob reads
//! that rayon workers can do in parallel (each worker opens its own handles).

use git2::{ObjectType, Oid, Repository, TreeWalkMode, TreeWalkResult};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

/// Errors reaching the repository or a commit in it.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    /// git2 failed on a repository.
    #[error("{repo}: {message}")]
    Git {
        /// The repository path or URL.
        repo: String,
        /// What failed.
        message: String,
    },
    /// The revision does not name a commit.
    #[error("{repo}: revision `{rev}` not found: {message}")]
    Rev {
        /// The repository.
        repo: String,
        /// The revision asked for.
        rev: String,
        /// What git said.
        message: String,
    },
    /// A cache directory could not be prepared.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
}

/// Why a file's blob could not be read.
#[derive(Debug, thiserror::Error)]
pub enum BlobError {
    /// The repository holding it could not be opened.
    #[error("repository cannot be opened")]
    NoRepository,
    /// git2 could not read the blob.
    #[error("{0}")]
    Git(String),
}

/// One regular file of the (super)project tree.
#[derive(Debug, Clone)]
pub struct FileEntry {
    /// Path relative to the superproject root (submodule files include the submodule path).
    pub path: String,
    /// Blob id.
    pub oid: Oid,
    /// Index into [`Tree::repos`] of the repository holding the blob.
    pub repo: usize,
}

/// A submodule entry (gitlink) of a tree.
#[derive(Debug, Clone)]
pub struct Gitlink {
    /// Path relative to the superproject root.
    pub path: String,
    /// The commit the superproject records.
    pub commit: Oid,
    /// Repository index whose tree holds this gitlink.
    pub parent: usize,
    /// Repository index of the clone it was read from, when available.
    pub resolved: Option<usize>,
    /// Why it could not be read, when it could not.
    pub missing: Option<String>,
}

/// Finds a submodule's declared (name, URL) from its path.
pub type SubmoduleLookup<'a> = dyn Fn(&Tree, &str) -> Option<(String, String)> + 'a;

/// The files of a commit, including those of the submodules that could be read.
#[derive(Debug, Clone)]
pub struct Tree {
    /// Git directories: index 0 is the superproject, then submodule clones.
    pub repos: Vec<PathBuf>,
    /// Regular files, in tree order.
    pub files: Vec<FileEntry>,
    /// Submodules met in any of the trees.
    pub gitlinks: Vec<Gitlink>,
    index: HashMap<String, usize>,
}

/// True for what should be cloned rather than opened.
pub fn is_url(spec: &str) -> bool {
    spec.contains("://") || (spec.starts_with("git@") && spec.contains(':'))
}

/// Opens a local repository, or clones a URL (bare) into `cache` and fetches it.
pub fn open_or_clone(spec: &str, cache: &Path) -> Result<PathBuf, TreeError> {
    if !is_url(spec) {
        let repo = Repository::open(spec).map_err(|e| TreeError::Git {
            repo: spec.to_string(),
            message: e.message().to_string(),
        })?;
        return Ok(repo.path().to_path_buf());
    }
    let dir = cache.join("git").join(cache_name(spec));
    if dir.exists() {
        let repo = Repository::open_bare(&dir).map_err(|e| TreeError::Git {
            repo: spec.to_string(),
            message: e.message().to_string(),
        })?;
        let mut remote = repo.find_remote("origin").map_err(|e| TreeError::Git {
            repo: spec.to_string(),
            message: e.message().to_string(),
        })?;
        remote
            .fetch(
                &["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
                None,
                None,
            )
            .map_err(|e| TreeError::Git {
                repo: spec.to_string(),
                message: format!("fetch failed: {}", e.message()),
            })?;
        return Ok(dir);
    }
    let parent = cache.join("git");
    std::fs::create_dir_all(&parent).map_err(|source| TreeError::Io {
        path: parent.display().to_string(),
        source,
    })?;
    // Clone next to the final place and rename, so an interrupted clone never leaves a corrupt cache entry.
    let tmp = tempfile::Builder::new()
        .prefix(".clone-")
        .tempdir_in(&parent)
        .map_err(|source| TreeError::Io {
            path: parent.display().to_string(),
            source,
        })?;
    let target = tmp.path().join("repo");
    git2::build::RepoBuilder::new()
        .bare(true)
        .clone(spec, &target)
        .map_err(|e| TreeError::Git {
            repo: spec.to_string(),
            message: format!("clone failed: {}", e.message()),
        })?;
    std::fs::rename(&target, &dir).map_err(|source| TreeError::Io {
        path: dir.display().to_string(),
        source,
    })?;
    Ok(dir)
}

/// A file-system-safe, collision-free directory name for a URL.
pub fn cache_name(url: &str) -> String {
    let tail: String = url
        .trim_end_matches('/')
        .trim_end_matches(".git")
        .rsplit(['/', ':'])
        .next()
        .unwrap_or("repo")
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect();
    let tail = tail.trim_start_matches('.');
    format!(
        "{}-{}",
        if tail.is_empty() { "repo" } else { tail },
        &crate::fsio::sha256_hex(url.as_bytes())[..16]
    )
}

/// Resolves a revision to a commit: its full id and commit time (seconds, offset minutes).
pub fn resolve(repo_dir: &Path, rev: &str) -> Result<(Oid, i64, i32), TreeError> {
    let name = repo_dir.display().to_string();
    let repo = Repository::open(repo_dir).map_err(|e| TreeError::Git {
        repo: name.clone(),
        message: e.message().to_string(),
    })?;
    let obj = repo.revparse_single(rev).map_err(|e| TreeError::Rev {
        repo: name.clone(),
        rev: rev.to_string(),
        message: e.message().to_string(),
    })?;
    let commit = obj.peel_to_commit().map_err(|e| TreeError::Rev {
        repo: name,
        rev: rev.to_string(),
        message: e.message().to_string(),
    })?;
    let t = commit.time();
    Ok((commit.id(), t.seconds(), t.offset_minutes()))
}

impl Tree {
    /// Lists the files of `commit` in the repository at `repo_dir`.
    pub fn load(repo_dir: &Path, commit: Oid) -> Result<Tree, TreeError> {
        let mut t = Tree {
            repos: vec![repo_dir.to_path_buf()],
            files: Vec::new(),
            gitlinks: Vec::new(),
            index: HashMap::new(),
        };
        t.add_tree(0, commit, "")?;
        Ok(t)
    }

    fn add_tree(&mut self, repo_idx: usize, commit: Oid, prefix: &str) -> Result<(), TreeError> {
        let dir = &self.repos[repo_idx];
        let name = dir.display().to_string();
        let git = |e: git2::Error| TreeError::Git {
            repo: name.clone(),
            message: e.message().to_string(),
        };
        let repo = Repository::open(dir).map_err(git)?;
        let tree = repo
            .find_commit(commit)
            .and_then(|c| c.tree())
            .map_err(git)?;
        let mut files = Vec::new();
        let mut links = Vec::new();
        tree.walk(TreeWalkMode::PreOrder, |root, entry| {
            let Ok(n) = entry.name() else {
                return TreeWalkResult::Ok; // non-UTF-8 file names cannot be declarations
            };
            let path = format!("{prefix}{root}{n}");
            match entry.kind() {
                Some(ObjectType::Blob) if entry.filemode() != 0o120000 => files.push(FileEntry {
                    path,
                    oid: entry.id(),
                    repo: repo_idx,
                }),
                Some(ObjectType::Commit) => links.push(Gitlink {
                    path,
                    commit: entry.id(),
                    parent: repo_idx,
                    resolved: None,
                    missing: None,
                }),
                _ => {}
            }
            TreeWalkResult::Ok
        })
        .map_err(git)?;
        for f in files {
            self.index.insert(f.path.clone(), self.files.len());
            self.files.push(f);
        }
        self.gitlinks.extend(links);
        Ok(())
    }

    /// Reads the submodules for which `wanted(path)` holds from clones found
    /// under `dir` (by path, by name, or by the URL's last component), or cloned
    /// into `clone_cache` when given. `urls` maps submodule path to (name, URL).
    /// Submodules that cannot be read are marked with the reason.
    pub fn attach_submodules(
        &mut self,
        dir: Option<&Path>,
        clone_cache: Option<&Path>,
        urls: &SubmoduleLookup<'_>,
        wanted: &dyn Fn(&str) -> bool,
    ) {
        let mut i = 0;
        while i < self.gitlinks.len() {
            let link = self.gitlinks[i].clone();
            i += 1;
            if !wanted(&link.path) {
                continue;
            }
            let idx = i - 1;
            let decl = urls(self, &link.path);
            let mut candidates: Vec<PathBuf> = Vec::new();
            if let Some(d) = dir {
                candidates.push(d.join(&link.path));
                if let Some((name, url)) = &decl {
                    candidates.push(d.join(name));
                    let base = url
                        .trim_end_matches('/')
                        .trim_end_matches(".git")
                        .rsplit('/')
                        .next()
                        .unwrap_or("")
                        .to_string();
                    if !base.is_empty() {
                        candidates.push(d.join(&base));
                        candidates.push(d.join(format!("{base}.git")));
                    }
                }
                if let Some(last) = link.path.rsplit('/').next() {
                    candidates.push(d.join(last));
                }
            }
            let mut reason = match (&decl, dir) {
                (None, _) => "it is not declared in .gitmodules".to_string(),
                (Some(_), None) => "no --submodules directory was given".to_string(),
                (Some(_), Some(d)) => format!("no clone of it under {}", d.display()),
            };
            let mut found: Option<PathBuf> = None;
            for c in candidates {
                if let Ok(r) = Repository::open(&c) {
                    if r.find_commit(link.commit).is_ok() {
                        found = Some(r.path().to_path_buf());
                        break;
                    }
                    reason = format!("the clone at {} lacks commit {}", c.display(), link.commit);
                }
            }
            if found.is_none()
                && let (Some(cache), Some((_, url))) = (clone_cache, &decl)
            {
                match open_or_clone(url, cache) {
                    Ok(p) => match Repository::open(&p) {
                        Ok(r) if r.find_commit(link.commit).is_ok() => found = Some(p),
                        _ => reason = format!("the clone of {url} lacks commit {}", link.commit),
                    },
                    Err(e) => reason = e.to_string(),
                }
            }
            match found {
                Some(p) => {
                    let ridx = match self.repos.iter().position(|r| *r == p) {
                        Some(x) => x,
                        None => {
                            self.repos.push(p);
                            self.repos.len() - 1
                        }
                    };
                    match self.add_tree(ridx, link.commit, &format!("{}/", link.path)) {
                        Ok(()) => self.gitlinks[idx].resolved = Some(ridx),
                        Err(e) => self.gitlinks[idx].missing = Some(e.to_string()),
                    }
                }
                None => self.gitlinks[idx].missing = Some(reason),
            }
        }
    }

    /// The entry at `path`, if the tree has that file.
    pub fn get(&self, path: &str) -> Option<&FileEntry> {
        self.index.get(path).map(|&i| &self.files[i])
    }

    /// Opens one handle per repository (git2 handles cannot be shared between threads).
    pub fn open_all(&self) -> Vec<Option<Repository>> {
        self.repos
            .iter()
            .map(|p| Repository::open(p).ok())
            .collect()
    }

    /// Reads one blob, opening only the repository that holds it.
    pub fn read(&self, e: &FileEntry) -> Result<Vec<u8>, BlobError> {
        let repo = self
            .repos
            .get(e.repo)
            .and_then(|p| Repository::open(p).ok())
            .ok_or(BlobError::NoRepository)?;
        repo.find_blob(e.oid)
            .map(|b| b.content().to_vec())
            .map_err(|err| BlobError::Git(err.message().to_string()))
    }

    /// Reads a blob with the given handles.
    pub fn read_with(handles: &[Option<Repository>], e: &FileEntry) -> Result<Vec<u8>, BlobError> {
        let repo = handles
            .get(e.repo)
            .and_then(Option::as_ref)
            .ok_or(BlobError::NoRepository)?;
        repo.find_blob(e.oid)
            .map(|b| b.content().to_vec())
            .map_err(|err| BlobError::Git(err.message().to_string()))
    }

    /// Tree paths matching a glob (`*`, `?` within one component), sorted as make's glob does.
    pub fn glob(&self, pattern: &str) -> Vec<String> {
        let mut out: Vec<String> = self
            .files
            .iter()
            .filter(|f| glob_match(pattern, &f.path))
            .map(|f| f.path.clone())
            .collect();
        out.sort();
        out
    }
}

/// Matches `*` and `?` (not crossing `/`).
pub fn glob_match(pat: &str, s: &str) -> bool {
    let (p, t) = (pat.as_bytes(), s.as_bytes());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == t[ti] && p[pi] != b'*' || p[pi] == b'?' && t[ti] != b'/') {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == b'*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((sp, st)) = star {
            if t[st] == b'/' {
                return false;
            }
            pi = sp + 1;
            ti = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    while pi < p.len() && p[pi] == b'*' {
        pi += 1;
    }
    pi == p.len()
}

/// The tree seen as make's include source, through one thread's handles.
pub struct TreeFiles<'a> {
    /// The tree.
    pub tree: &'a Tree,
    /// Handles of the calling thread.
    pub handles: &'a [Option<Repository>],
}

impl super::make::Files for TreeFiles<'_> {
    fn read(&self, path: &str) -> Option<Vec<u8>> {
        let e = self.tree.get(path)?;
        Tree::read_with(self.handles, e).ok()
    }
    fn glob(&self, pattern: &str) -> Vec<String> {
        self.tree.glob(pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob_match("rules/*.mk", "rules/a.mk"));
        assert!(!glob_match("rules/*.mk", "rules/x/a.mk"));
        assert!(glob_match("a?c", "abc"));
        assert!(!glob_match("*.mk", "rules/a.mk"));
    }

    #[test]
    fn cache_names_are_safe() {
        let n = cache_name("https://github.com/sonic-net/../sonic-buildimage.git");
        assert!(n.starts_with("sonic-buildimage-"));
        assert!(!n.contains('/'));
    }
}
