//! git repositories as of the cutoff, read from a cached bare clone (git2):
//! the commit a branch pointed to at D and the tags that existed at D.
//!
//! Without the server's reflog the branch position at D is reconstructed from
//! its first-parent chain. Committer dates on that chain are not monotonic
//! (skewed clocks, rebases), so the rule is: the branch at D is the newest
//! chain commit dated at or before D. A commit is taken to exist at D when it
//! or a chain descendant is dated at or before D (a descendant cannot be made
//! before its ancestors), so an ancestor dated after D does not stop the walk;
//! such ancestors are reported as skew.

use crate::date::Cutoff;
use crate::date::rfc3339;
use crate::manifest::Ecosystem;
use crate::manifest::{Constraint, Dependency};
use crate::source::cache::Cache;
use crate::source::{History, SourceError, VersionAt, VersionSource};
use chrono::DateTime;
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

/// Git access through cached bare clones.
pub struct GitSource {
    root: PathBuf,
    offline: bool,
    /// One lock per clone: parallel pins of one repository fetch it once at a time.
    busy: Mutex<HashMap<PathBuf, Arc<Mutex<()>>>>,
}

/// Where a branch pointed at the cutoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BranchAt {
    /// Full commit SHA.
    pub commit: String,
    /// Its committer date.
    pub committer_date: String,
    /// Chain commits whose dates are out of order around the cutoff (`sha date`), for the report.
    pub skew: Vec<String>,
}

/// A tag that existed at the cutoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TagAt {
    /// Tag name without `refs/tags/`.
    pub name: String,
    /// The commit it points to.
    pub commit: String,
    /// Tagger date for annotated tags, else the commit's committer date.
    pub date: String,
}

fn gerr(url: &str, e: git2::Error) -> SourceError {
    // A repository that cannot be reached is a network failure like any other
    // source's, so it is reported (and recorded as a gap) the same way.
    if matches!(
        e.class(),
        git2::ErrorClass::Net | git2::ErrorClass::Http | git2::ErrorClass::Ssl
    ) {
        return SourceError::Network {
            url: url.to_string(),
            what: "git repository".into(),
            attempts: 1,
            message: e.message().to_string(),
        };
    }
    SourceError::Git {
        url: url.to_string(),
        message: e.message().to_string(),
    }
}

fn when(t: git2::Time) -> String {
    DateTime::from_timestamp(t.seconds(), 0)
        .map(|d| rfc3339(&d))
        .unwrap_or_default()
}

impl GitSource {
    /// Clones live under the cache's `git/` directory.
    pub fn new(cache: &Cache, offline: bool) -> GitSource {
        GitSource {
            root: cache.root().join("git"),
            offline,
            busy: Mutex::new(HashMap::new()),
        }
    }

    /// Opens the cached bare clone of `url`, cloning or fetching it first unless offline.
    pub fn repo(&self, url: &str) -> Result<git2::Repository, SourceError> {
        if url.starts_with('-') || url.trim().is_empty() {
            return Err(SourceError::Invalid(format!("bad git URL `{url}`")));
        }
        let path = self
            .root
            .join(format!("{}.git", crate::fsio::sha256_hex(url.as_bytes())));
        let slot = self
            .busy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .entry(path.clone())
            .or_default()
            .clone();
        let _held = slot.lock().unwrap_or_else(|p| p.into_inner());
        let exists = path.join("HEAD").exists();
        if self.offline {
            if !exists {
                return Err(SourceError::Offline {
                    url: url.to_string(),
                    what: "git clone".into(),
                    cache: self.root.clone(),
                });
            }
            return git2::Repository::open_bare(&path).map_err(|e| gerr(url, e));
        }
        // Clone into a temporary directory and rename, so a half-done clone is never used.
        let repo = if exists {
            git2::Repository::open_bare(&path).map_err(|e| gerr(url, e))?
        } else {
            std::fs::create_dir_all(&self.root).map_err(|e| SourceError::io(&self.root, e))?;
            let tmp = tempfile::Builder::new()
                .prefix(".clone")
                .tempdir_in(&self.root)
                .map_err(|e| SourceError::io(&self.root, e))?;
            {
                let r = git2::Repository::init_bare(tmp.path()).map_err(|e| gerr(url, e))?;
                fetch_all(&r, url)?;
            }
            if let Err(e) = std::fs::rename(tmp.path(), &path) {
                // Another clone of the same URL (a parallel pin, another process) won
                // the race: use its complete clone and drop ours.
                if !path.join("HEAD").exists() {
                    return Err(SourceError::io(&path, e));
                }
            } else {
                // Renamed away: nothing is left for the guard to remove.
                let _ = tmp.keep();
            }
            return git2::Repository::open_bare(&path).map_err(|e| gerr(url, e));
        };
        fetch_all(&repo, url)?;
        Ok(repo)
    }

    /// The commit `branch` pointed to at the cutoff.
    pub fn branch_at(
        &self,
        url: &str,
        branch: &str,
        cutoff: &Cutoff,
    ) -> Result<BranchAt, SourceError> {
        let repo = self.repo(url)?;
        branch_at(&repo, url, branch, cutoff)
    }

    /// Tags that existed at the cutoff, sorted by date then name.
    pub fn tags_at(&self, url: &str, cutoff: &Cutoff) -> Result<Vec<TagAt>, SourceError> {
        let repo = self.repo(url)?;
        tags_at(&repo, url, cutoff)
    }
}

fn fetch_all(repo: &git2::Repository, url: &str) -> Result<(), SourceError> {
    let mut remote = repo.remote_anonymous(url).map_err(|e| gerr(url, e))?;
    remote
        .fetch(
            &["+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"],
            None,
            None,
        )
        .map_err(|e| gerr(url, e))?;
    // Record the remote's default branch as HEAD, so "no branch given" means what a clone would check out.
    if let Ok(b) = remote.default_branch()
        && let Ok(name) = b.as_str()
    {
        let _ = repo.set_head(name);
    }
    Ok(())
}

/// The commit `branch` of `repo` pointed to at the cutoff (see the module notes for the rule).
pub fn branch_at(
    repo: &git2::Repository,
    url: &str,
    branch: &str,
    cutoff: &Cutoff,
) -> Result<BranchAt, SourceError> {
    let r = repo
        .find_reference(&format!("refs/heads/{branch}"))
        .or_else(|_| repo.find_reference(&format!("refs/remotes/origin/{branch}")))
        .map_err(|_| SourceError::Git {
            url: url.to_string(),
            message: format!("no branch `{branch}`"),
        })?;
    let mut c = r.peel_to_commit().map_err(|e| gerr(url, e))?;
    // Chain from the tip back to the root along first parents.
    let mut chain: Vec<(git2::Oid, i64)> = Vec::new();
    loop {
        chain.push((c.id(), c.committer().when().seconds()));
        match c.parent(0) {
            Ok(p) => c = p,
            Err(_) => break,
        }
    }
    let d = cutoff.0.timestamp();
    // Newest chain commit with a date at or before D: it and all its ancestors existed at D.
    let Some(pos) = chain.iter().position(|&(_, t)| t <= d) else {
        return Err(SourceError::Git {
            url: url.to_string(),
            message: format!("branch `{branch}` has no commit dated at or before {cutoff}"),
        });
    };
    let (id, t) = chain[pos];
    let skew: Vec<String> = chain[pos + 1..]
        .iter()
        .filter(|&&(_, at)| at > d)
        .map(|&(o, at)| {
            format!(
                "{o} {}",
                DateTime::from_timestamp(at, 0)
                    .map(|x| rfc3339(&x))
                    .unwrap_or_default()
            )
        })
        .collect();
    Ok(BranchAt {
        commit: id.to_string(),
        committer_date: DateTime::from_timestamp(t, 0)
            .map(|x| rfc3339(&x))
            .unwrap_or_default(),
        skew,
    })
}

/// Tags of `repo` that existed at the cutoff.
pub fn tags_at(
    repo: &git2::Repository,
    url: &str,
    cutoff: &Cutoff,
) -> Result<Vec<TagAt>, SourceError> {
    let names = repo.tag_names(None).map_err(|e| gerr(url, e))?;
    let mut out = Vec::new();
    for i in 0..names.len() {
        let Ok(Some(name)) = names.get(i) else {
            continue;
        };
        let Ok(r) = repo.find_reference(&format!("refs/tags/{name}")) else {
            continue;
        };
        let direct = r.target().and_then(|o| repo.find_tag(o).ok());
        let Ok(commit) = r.peel_to_commit() else {
            continue;
        };
        let time = match direct.as_ref().and_then(|t| t.tagger()) {
            Some(sig) => sig.when(),
            None => commit.committer().when(),
        };
        if time.seconds() <= cutoff.0.timestamp() {
            out.push(TagAt {
                name: name.to_string(),
                commit: commit.id().to_string(),
                date: when(time),
            });
        }
    }
    out.sort_by(|a, b| (&a.date, &a.name).cmp(&(&b.date, &b.name)));
    Ok(out)
}

impl VersionSource for GitSource {
    fn ecosystem(&self) -> Ecosystem {
        Ecosystem::Git
    }

    /// For git, the versions are the tags that existed at D; `name` is the repository URL.
    fn history(&self, name: &str, cutoff: &Cutoff) -> Result<History, SourceError> {
        let repo = self.repo(name)?;
        let all = repo.tag_names(None).map_err(|e| gerr(name, e))?.len();
        let tags = tags_at(&repo, name, cutoff)?;
        Ok(History {
            ecosystem: Ecosystem::Git,
            name: name.to_string(),
            later: all.saturating_sub(tags.len()),
            versions: tags
                .into_iter()
                .map(|t| VersionAt {
                    version: t.name,
                    published: Some(t.date),
                    url: None,
                    sha256: Some(t.commit),
                    requires: None,
                    requires_python: None,
                })
                .collect(),
            notes: Vec::new(),
        })
    }
}

/// A git dependency resolved at the cutoff.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GitPin {
    /// Repository URL.
    pub url: String,
    /// Branch, tag or commit as declared.
    pub reference: String,
    /// The commit at the cutoff.
    pub commit: String,
    /// Its committer date.
    pub date: String,
    /// How it was found.
    pub note: String,
}

/// Resolves one git dependency (commit, branch, tag or the default branch) to its commit at the cutoff.
pub fn git_pin(git: &GitSource, d: &Dependency, cutoff: &Cutoff) -> Result<GitPin, SourceError> {
    let repo = git.repo(&d.name)?;
    match &d.constraint {
        Constraint::Exact(sha) => {
            let oid = git2::Oid::from_str(sha).map_err(|e| SourceError::Git {
                url: d.name.clone(),
                message: format!("bad commit `{sha}`: {}", e.message()),
            })?;
            let c = repo.find_commit(oid).map_err(|_| SourceError::Git {
                url: d.name.clone(),
                message: format!("commit {sha} is not in the repository (force-pushed away?)"),
            })?;
            let t = c.committer().when().seconds();
            let date = chrono::DateTime::from_timestamp(t, 0)
                .map(|x| rfc3339(&x))
                .unwrap_or_default();
            if t > cutoff.0.timestamp() {
                return Err(SourceError::Git {
                    url: d.name.clone(),
                    message: format!("commit {sha} is dated {date}, after the cutoff"),
                });
            }
            Ok(GitPin {
                url: d.name.clone(),
                reference: sha.clone(),
                commit: c.id().to_string(),
                date,
                note: "pinned commit".into(),
            })
        }
        // `HEAD` is what a plain `git clone` checks out: the default branch.
        Constraint::Ref(r) if r != "HEAD" => {
            if let Ok(b) = branch_at(&repo, &d.name, r, cutoff) {
                return Ok(GitPin {
                    url: d.name.clone(),
                    reference: r.clone(),
                    commit: b.commit,
                    date: b.committer_date,
                    note: format!("branch at cutoff; {} skewed ancestor(s)", b.skew.len()),
                });
            }
            let tags = tags_at(&repo, &d.name, cutoff)?;
            let t = tags
                .into_iter()
                .find(|t| &t.name == r)
                .ok_or_else(|| SourceError::Git {
                    url: d.name.clone(),
                    message: format!("no branch or tag `{r}` existed at {cutoff}"),
                })?;
            Ok(GitPin {
                url: d.name.clone(),
                reference: r.clone(),
                commit: t.commit,
                date: t.date,
                note: "tag".into(),
            })
        }
        Constraint::None | Constraint::Range(_) | Constraint::Ref(_) => {
            let head = repo
                .find_reference("HEAD")
                .ok()
                .and_then(|h| h.symbolic_target().ok().flatten().map(str::to_string));
            let branch = head
                .as_deref()
                .and_then(|h| h.strip_prefix("refs/heads/"))
                .unwrap_or("master")
                .to_string();
            let b = branch_at(&repo, &d.name, &branch, cutoff)?;
            Ok(GitPin {
                url: d.name.clone(),
                reference: branch,
                commit: b.commit,
                date: b.committer_date,
                note: "default branch at cutoff".into(),
            })
        }
    }
}
