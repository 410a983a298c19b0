//! Writing generated git histories (the demo's sonic-buildimage, its submodule and
//! the git origins) with git2, each commit at a chosen date.

use std::collections::BTreeMap;
use std::path::Path;

/// Errors creating a generated repository.
#[derive(Debug, thiserror::Error)]
pub enum RepoError {
    /// libgit2 refused an operation.
    #[error("{path}: {message}")]
    Git {
        /// The repository.
        path: String,
        /// libgit2's message.
        message: String,
    },
}

/// A file's content at a commit: text or a gitlink (submodule commit).
#[derive(Debug, Clone)]
pub enum Entry {
    /// A regular file.
    File(Vec<u8>),
    /// A submodule pointing at this commit (hex SHA).
    Gitlink(String),
}

/// One commit to write: its date (seconds since the epoch), message and the files it changes.
#[derive(Debug, Clone)]
pub struct CommitSpec {
    /// Author and committer time, UTC seconds.
    pub time: i64,
    /// Commit message.
    pub message: String,
    /// Files added or replaced, by path.
    pub files: BTreeMap<String, Entry>,
}

/// Creates a non-bare repository at `dir` with `commits` on `branch`, in order; returns the SHAs.
pub fn write_history(
    dir: &Path,
    branch: &str,
    commits: &[CommitSpec],
) -> Result<Vec<String>, RepoError> {
    let err = |e: git2::Error| RepoError::Git {
        path: dir.display().to_string(),
        message: e.message().to_string(),
    };
    let mut opts = git2::RepositoryInitOptions::new();
    opts.initial_head(branch);
    let repo = git2::Repository::init_opts(dir, &opts).map_err(err)?;
    let mut state: BTreeMap<String, Entry> = BTreeMap::new();
    let mut parent: Option<git2::Oid> = None;
    let mut shas = Vec::new();
    for c in commits {
        for (path, entry) in &c.files {
            state.insert(path.clone(), entry.clone());
        }
        let tree = build_tree(&repo, &state).map_err(err)?;
        let tree = repo.find_tree(tree).map_err(err)?;
        let sig = git2::Signature::new(
            "Demo World",
            "demo@example.org",
            &git2::Time::new(c.time, 0),
        )
        .map_err(err)?;
        let parents: Vec<git2::Commit> = match parent {
            Some(p) => vec![repo.find_commit(p).map_err(err)?],
            None => vec![],
        };
        let refs: Vec<&git2::Commit> = parents.iter().collect();
        let oid = repo
            .commit(
                Some(&format!("refs/heads/{branch}")),
                &sig,
                &sig,
                &c.message,
                &tree,
                &refs,
            )
            .map_err(err)?;
        parent = Some(oid);
        shas.push(oid.to_string());
    }
    // Leave a work tree that matches HEAD, like a real clone.
    repo.checkout_head(Some(git2::build::CheckoutBuilder::new().force()))
        .map_err(err)?;
    Ok(shas)
}

/// Builds nested trees from a flat path map.
fn build_tree(
    repo: &git2::Repository,
    files: &BTreeMap<String, Entry>,
) -> Result<git2::Oid, git2::Error> {
    let mut here: BTreeMap<&str, &Entry> = BTreeMap::new();
    let mut dirs: BTreeMap<&str, BTreeMap<String, Entry>> = BTreeMap::new();
    for (path, entry) in files {
        match path.split_once('/') {
            Some((d, rest)) => {
                dirs.entry(d)
                    .or_default()
                    .insert(rest.to_string(), entry.clone());
            }
            None => {
                here.insert(path.as_str(), entry);
            }
        }
    }
    let mut tb = repo.treebuilder(None)?;
    for (name, entry) in here {
        match entry {
            Entry::File(bytes) => {
                let blob = repo.blob(bytes)?;
                tb.insert(name, blob, 0o100644)?;
            }
            Entry::Gitlink(sha) => {
                tb.insert(name, git2::Oid::from_str(sha)?, 0o160000)?;
            }
        }
    }
    for (name, sub) in dirs {
        let oid = build_tree(repo, &sub)?;
        tb.insert(name, oid, 0o040000)?;
    }
    tb.write()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_dated_commits_with_nested_files_and_gitlinks() {
        let dir = tempfile::tempdir().unwrap();
        let mut files = BTreeMap::new();
        files.insert("a/b/c.txt".to_string(), Entry::File(b"hi".to_vec()));
        files.insert(
            "src/sub".to_string(),
            Entry::Gitlink("0123456789abcdef0123456789abcdef01234567".into()),
        );
        let commits = vec![
            CommitSpec {
                time: 1_667_260_800,
                message: "one".into(),
                files,
            },
            CommitSpec {
                time: 1_670_316_451,
                message: "two".into(),
                files: BTreeMap::from([("x".to_string(), Entry::File(b"x".to_vec()))]),
            },
        ];
        let shas = write_history(dir.path(), "master", &commits).unwrap();
        let repo = git2::Repository::open(dir.path()).unwrap();
        let head = repo.head().unwrap().peel_to_commit().unwrap();
        assert_eq!(head.id().to_string(), shas[1]);
        assert_eq!(head.time().seconds(), 1_670_316_451);
        let tree = head.tree().unwrap();
        assert!(tree.get_path(Path::new("a/b/c.txt")).is_ok());
        assert_eq!(
            tree.get_path(Path::new("src/sub")).unwrap().filemode(),
            0o160000
        );
    }
}
