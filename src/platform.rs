//! Platform definitions (`platforms/*.toml`) and cutoff discovery: the commit
//! at which a platform was last supported, found as the last commit on a
//! branch that touched the platform's vendor SDK files.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What kind of target a platform definition describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum PlatformKind {
    /// A hardware switch with an installer image.
    Hardware,
    /// A software switch (such as SAI-P4-BM), built as a docker image.
    SoftwareSwitch,
}

/// How the cutoff commit is found.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CutoffRule {
    /// Branch whose first-parent history is searched.
    pub branch: String,
    /// Files (or directories) whose last change marks the cutoff.
    pub paths: Vec<String>,
}

/// One platform definition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Platform {
    /// Canonical name (`wedge100bf-32x`).
    pub name: String,
    /// Other names users know it by.
    #[serde(default)]
    pub aliases: Vec<String>,
    /// One line for humans.
    pub description: String,
    /// Hardware switch or software switch.
    pub kind: PlatformKind,
    /// sonic-buildimage `PLATFORM` (`barefoot`).
    pub sonic_platform: String,
    /// Device directory (`device/<vendor>/<machine>`), for hardware platforms.
    #[serde(default)]
    pub device_dir: Option<String>,
    /// ONIE machine name.
    #[serde(default)]
    pub machine: Option<String>,
    /// Directory of the platform's own module package.
    #[serde(default)]
    pub platform_module_dir: Option<String>,
    /// The make target producing the image (`target/sonic-barefoot.bin`).
    pub image_target: String,
    /// Debian suites whose slave containers the build needs, the image's own first.
    pub suites: Vec<String>,
    /// Debian architecture.
    pub arch: String,
    /// How the cutoff is found.
    pub cutoff: CutoffRule,
    /// Variables passed to `slave.mk` on the command line.
    #[serde(default)]
    pub make: BTreeMap<String, String>,
    /// Where the definition was read from (not part of the file).
    #[serde(skip)]
    pub source: String,
}

/// Errors loading definitions or finding a cutoff.
#[derive(Debug, thiserror::Error)]
pub enum PlatformError {
    /// A definition file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A definition file is malformed.
    #[error("{path}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// What is wrong, with line and column from the TOML parser.
        message: String,
    },
    /// No definition has this name or alias.
    #[error("unknown platform `{name}` (known: {known})")]
    Unknown {
        /// The name asked for.
        name: String,
        /// The names available.
        known: String,
    },
    /// Two definitions claim the same name or alias.
    #[error("platform name `{name}` is defined twice ({first} and {second})")]
    Duplicate {
        /// The name.
        name: String,
        /// One file.
        first: String,
        /// The other file.
        second: String,
    },
    /// git failed.
    #[error("{repo}: {message}")]
    Git {
        /// The repository.
        repo: String,
        /// What failed.
        message: String,
    },
    /// No commit on the branch touches the cutoff paths.
    #[error("{repo}: no commit on `{branch}` touches {paths}")]
    NoCutoff {
        /// The repository.
        repo: String,
        /// The branch.
        branch: String,
        /// The paths searched for.
        paths: String,
    },
}

const BUILTIN: [(&str, &str); 3] = [
    (
        "platforms/wedge100bf-32x.toml",
        include_str!("../platforms/wedge100bf-32x.toml"),
    ),
    (
        "platforms/wedge100bf-32qs.toml",
        include_str!("../platforms/wedge100bf-32qs.toml"),
    ),
    ("platforms/p4.toml", include_str!("../platforms/p4.toml")),
];

/// A set of platform definitions.
#[derive(Debug, Clone)]
pub struct Platforms {
    /// Definitions sorted by name.
    pub list: Vec<Platform>,
}

impl Platforms {
    /// The definitions shipped with sonic-lock.
    pub fn builtin() -> Result<Platforms, PlatformError> {
        Self::from_texts(
            BUILTIN
                .iter()
                .map(|(p, t)| (p.to_string(), t.to_string()))
                .collect(),
        )
    }

    /// Every `*.toml` in `dir`.
    pub fn load_dir(dir: &Path) -> Result<Platforms, PlatformError> {
        let rd = std::fs::read_dir(dir).map_err(|source| PlatformError::Io {
            path: dir.display().to_string(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = Vec::new();
        for e in rd {
            let e = e.map_err(|source| PlatformError::Io {
                path: dir.display().to_string(),
                source,
            })?;
            if e.path().extension().is_some_and(|x| x == "toml") {
                paths.push(e.path());
            }
        }
        paths.sort();
        let mut texts = Vec::new();
        for p in paths {
            let t = std::fs::read_to_string(&p).map_err(|source| PlatformError::Io {
                path: p.display().to_string(),
                source,
            })?;
            texts.push((p.display().to_string(), t));
        }
        Self::from_texts(texts)
    }

    fn from_texts(texts: Vec<(String, String)>) -> Result<Platforms, PlatformError> {
        let mut list: Vec<Platform> = Vec::new();
        let mut names: BTreeMap<String, String> = BTreeMap::new();
        for (path, text) in texts {
            let mut p: Platform = toml::from_str(&text).map_err(|e| PlatformError::Parse {
                path: path.clone(),
                message: e.to_string().trim().to_string(),
            })?;
            if p.suites.is_empty() || p.cutoff.paths.is_empty() {
                return Err(PlatformError::Parse {
                    path,
                    message: "`suites` and `cutoff.paths` must not be empty".to_string(),
                });
            }
            p.source = path.clone();
            for n in std::iter::once(&p.name).chain(p.aliases.iter()) {
                if let Some(first) = names.insert(n.clone(), path.clone()) {
                    return Err(PlatformError::Duplicate {
                        name: n.clone(),
                        first,
                        second: path,
                    });
                }
            }
            list.push(p);
        }
        list.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(Platforms { list })
    }

    /// The definition with this name or alias (case-insensitive).
    pub fn find(&self, name: &str) -> Result<&Platform, PlatformError> {
        let n = name.to_ascii_lowercase();
        self.list
            .iter()
            .find(|p| p.name == n || p.aliases.contains(&n))
            .ok_or_else(|| PlatformError::Unknown {
                name: name.to_string(),
                known: self
                    .list
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", "),
            })
    }
}

/// A cutoff commit: the commit and when it was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CutoffCommit {
    /// Full commit id.
    pub commit: String,
    /// Commit date, RFC 3339 in UTC.
    pub date: String,
    /// First line of the commit message.
    pub summary: String,
    /// How it was found: `paths`, `rev` or `date`.
    pub method: String,
}

/// How to choose the cutoff.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CutoffQuery {
    /// The last first-parent commit touching the rule's paths.
    Rule,
    /// An explicit revision.
    Rev(String),
    /// The last first-parent commit of the branch at or before this time (Unix seconds,
    /// from [`crate::date::Cutoff::timestamp`]).
    Date(i64),
}

/// Finds the cutoff commit in `repo_dir` for `rule`.
///
/// The branch is walked along first parents (the branch's own history: a
/// merge counts as the commit that brought the change), comparing each
/// path's tree entry with the parent's.
pub fn find_cutoff(
    repo_dir: &Path,
    rule: &CutoffRule,
    query: &CutoffQuery,
) -> Result<CutoffCommit, PlatformError> {
    let name = repo_dir.display().to_string();
    let git = |e: git2::Error| PlatformError::Git {
        repo: name.clone(),
        message: e.message().to_string(),
    };
    let repo = git2::Repository::open(repo_dir).map_err(git)?;
    let mk = |c: &git2::Commit, method: &str| CutoffCommit {
        commit: c.id().to_string(),
        date: crate::date::rfc3339_secs(c.time().seconds()),
        summary: String::from_utf8_lossy(c.summary_bytes().unwrap_or(b"")).into_owned(),
        method: method.to_string(),
    };
    if let CutoffQuery::Rev(r) = query {
        let c = repo
            .revparse_single(r)
            .and_then(|o| o.peel_to_commit())
            .map_err(|e| PlatformError::Git {
                repo: name.clone(),
                message: format!("revision `{r}`: {}", e.message()),
            })?;
        return Ok(mk(&c, "rev"));
    }
    let tip = repo
        .revparse_single(&rule.branch)
        .or_else(|_| repo.revparse_single(&format!("origin/{}", rule.branch)))
        .and_then(|o| o.peel_to_commit())
        .map_err(|e| PlatformError::Git {
            repo: name.clone(),
            message: format!("branch `{}`: {}", rule.branch, e.message()),
        })?;
    let mut walk = repo.revwalk().map_err(git)?;
    walk.push(tip.id()).map_err(git)?;
    walk.simplify_first_parent().map_err(git)?;
    for oid in walk {
        let c = repo.find_commit(oid.map_err(git)?).map_err(git)?;
        match query {
            CutoffQuery::Date(t) => {
                if c.time().seconds() <= *t {
                    return Ok(mk(&c, "date"));
                }
            }
            _ => {
                let tree = c.tree().map_err(git)?;
                let parent_tree = match c.parent(0) {
                    Ok(p) => Some(p.tree().map_err(git)?),
                    Err(_) => None,
                };
                let touched = rule.paths.iter().any(|p| {
                    let now = tree.get_path(Path::new(p)).ok().map(|e| e.id());
                    let before = parent_tree
                        .as_ref()
                        .and_then(|t| t.get_path(Path::new(p)).ok())
                        .map(|e| e.id());
                    now != before
                });
                if touched {
                    return Ok(mk(&c, "paths"));
                }
            }
        }
    }
    Err(PlatformError::NoCutoff {
        repo: name,
        branch: rule.branch.clone(),
        paths: rule.paths.join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtin_definitions_load_and_resolve_aliases() {
        let p = Platforms::builtin().unwrap();
        assert_eq!(p.find("wedge100-32x").unwrap().name, "wedge100bf-32x");
        assert_eq!(p.find("wedge1000-32qs").unwrap().name, "wedge100bf-32qs");
        assert_eq!(p.find("p4").unwrap().kind, PlatformKind::SoftwareSwitch);
        assert!(p.find("nope").is_err());
        let qs = p.find("wedge100bf-32qs").unwrap();
        assert_eq!(
            qs.device_dir.as_deref(),
            Some("device/accton/x86_64-accton_wedge100bf_32qs-r0")
        );
        assert_eq!(qs.suites, vec!["bullseye", "buster"]);
    }

    #[test]
    fn malformed_definition_names_file() {
        let e = Platforms::from_texts(vec![("x.toml".into(), "name = 3\n".into())]).unwrap_err();
        assert!(e.to_string().starts_with("x.toml:"));
    }
}
