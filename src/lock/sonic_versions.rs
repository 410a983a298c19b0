//! SONiC's native version files: the `files/build/versions/` tree that
//! sonic-buildimage's version control (`SONIC_VERSION_CONTROL_COMPONENTS`)
//! enforces.
//!
//! Layout: one directory per *module* — `default/`, `host-image/`,
//! `host-base-image/`, `build/build-sonic-slave-<dist>/` and
//! `dockers/<image>/` — holding files `versions-<type>[-<dist>[-<arch>]]`
//! (`all` stands for any dist; the name is split on `-`). Every line is
//! `key==value`, split on the *last* `==` and trimmed; files are sorted
//! case-insensitively, joined by `\n` with no final newline, and Python names
//! are lower-cased. Empty files are not written.
//!
//! [`effective`] reproduces how the build merges a module with `default`
//! for one dist and architecture: components are applied generic to
//! specific (`versions-deb` < `versions-deb-all-amd64` < `versions-deb-bullseye`
//! < `versions-deb-bullseye-amd64`), a module's file overrides `default`'s file
//! of the same specificity, `default`'s deb/py2/py3 pins do not reach the slave
//! and host images, and `host-image` inherits `host-base-image`.

use super::lockfile::{
    Archive, FieldError, Lock, LockError, Pin, canonical_name, check_archive, check_context_word,
    check_image_name, check_version, is_arbitrary_py_version,
};
use crate::manifest::{Ecosystem, check_name};
use crate::universe::scheme_for;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Prefix of every version file name.
pub const VERSION_PREFIX: &str = "versions-";
/// The module whose pins apply to every docker image.
pub const DEFAULT_MODULE: &str = "default";
/// Component types SONiC's build reads.
pub const CTYPES: [&str; 7] = ["deb", "py2", "py3", "git", "web", "docker", "mirror"];
/// Component types of `default` that slave and host images do not inherit.
pub const DEFAULT_OVERWRITE: [&str; 3] = ["deb", "py2", "py3"];
/// The dist or arch word that stands for every dist or architecture.
pub const ALL: &str = "all";

/// Errors reading or writing a version tree.
#[derive(Debug, thiserror::Error)]
pub enum VersionsError {
    /// A file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A line of a version file is malformed.
    #[error("{path}:{line}: {message}")]
    Line {
        /// The version file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// A file or directory name is not part of SONiC's layout, or is unsafe.
    #[error("{path}: {message}")]
    Layout {
        /// The path.
        path: String,
        /// What is wrong.
        message: String,
    },
    /// A pin of the lock cannot be written as a SONiC version line.
    #[error("cannot export {pin}: {message}")]
    Pin {
        /// The pin's key.
        pin: String,
        /// Why.
        message: String,
    },
    /// The lock itself is invalid.
    #[error(transparent)]
    Lock(#[from] LockError),
}

/// One version file's content: a component type, its dist/arch scope and its pins.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Component {
    /// `deb`, `py2`, `py3`, `git`, `web`, `docker` or `mirror`.
    pub ctype: String,
    /// Dist scope; `all` for every dist.
    pub dist: String,
    /// Arch scope; `all` for every architecture.
    pub arch: String,
    /// key → value.
    pub versions: BTreeMap<String, String>,
}

impl Component {
    /// An empty component of `ctype` scoped to `dist` and `arch` (`all` for any).
    pub fn new(ctype: &str, dist: &str, arch: &str) -> Component {
        Component {
            ctype: ctype.to_string(),
            dist: dist.to_string(),
            arch: arch.to_string(),
            versions: BTreeMap::new(),
        }
    }

    /// The file name SONiC gives this component.
    pub fn file_name(&self) -> String {
        let mut name = format!("{VERSION_PREFIX}{}", self.ctype);
        if self.arch != ALL {
            name.push('-');
            name.push_str(&self.dist);
            name.push('-');
            name.push_str(&self.arch);
        } else if self.dist != ALL {
            name.push('-');
            name.push_str(&self.dist);
        }
        name
    }

    /// Generic-to-specific sort key, `all` sorting first.
    pub fn order_key(&self) -> (String, String, String) {
        let blank = |s: &str| {
            if s == ALL {
                String::new()
            } else {
                s.to_string()
            }
        };
        (self.ctype.clone(), blank(&self.dist), blank(&self.arch))
    }

    /// The file body: sorted case-insensitively, `\n`-joined, no final newline.
    pub fn render(&self) -> String {
        let mut keys: Vec<&String> = self.versions.keys().collect();
        keys.sort_by(|a, b| (casefold(a), *a).cmp(&(casefold(b), *b)));
        let lines: Vec<String> = keys
            .into_iter()
            .map(|k| format!("{k}=={}", self.versions[k]))
            .collect();
        lines.join("\n")
    }

    fn overwritable_by(&self, other: &Component, all_dist: bool, all_arch: bool) -> bool {
        self.ctype == other.ctype
            && (self.dist == other.dist || (all_dist && self.dist == ALL))
            && (self.arch == other.arch || (all_arch && self.arch == ALL))
    }

    fn inherits_from(&self, base: &Component) -> bool {
        self.ctype == base.ctype
            && (self.dist == base.dist || base.dist == ALL)
            && (self.arch == base.arch || base.arch == ALL)
    }

    fn merge(&mut self, versions: &BTreeMap<String, String>) {
        for (k, v) in versions {
            self.versions.insert(k.clone(), v.clone());
        }
    }

    fn subtract(&mut self, versions: &BTreeMap<String, String>) {
        self.versions.retain(|k, v| versions.get(k) != Some(v));
    }

    /// Whether this component applies to a build for `dist` and `arch`.
    pub fn covers(&self, dist: &str, arch: &str) -> bool {
        (self.dist == ALL || self.dist == dist) && (self.arch == ALL || self.arch == arch)
    }
}

fn casefold(s: &str) -> String {
    s.to_lowercase()
}

/// A version tree in memory: module name → its components.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct VersionTree {
    /// Modules by name (`default`, `host-image`, `docker-orchagent`, `build-sonic-slave-bullseye`, ...).
    pub modules: BTreeMap<String, Vec<Component>>,
}

/// Directory of a module relative to the tree root, as SONiC places it.
pub fn module_dir(module: &str) -> PathBuf {
    match module {
        "default" | "host-image" | "host-base-image" => PathBuf::from(module),
        m if m.starts_with("build-sonic-slave-") => Path::new("build").join(m),
        m => Path::new("dockers").join(m),
    }
}

/// Whether a module inherits `default`'s deb and python pins (docker images do; slaves and host images do not).
pub fn is_aggregatable(module: &str) -> bool {
    !(module.starts_with("sonic-slave-")
        || module.starts_with("build-sonic-slave-")
        || module == DEFAULT_MODULE
        || module == "host-image"
        || module == "host-base-image")
}

/// Why a file name is not a SONiC version file name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FileNameError {
    /// Not `versions-...`.
    #[error("`{0}` does not start with `{VERSION_PREFIX}`")]
    Prefix(String),
    /// Empty parts or too many.
    #[error("`{0}` is not `versions-<type>[-<dist>[-<arch>]]`")]
    Shape(String),
    /// A component type SONiC does not know.
    #[error("unknown version file type `{ctype}` in `{name}` (expected one of {})", CTYPES.join(", "))]
    Type {
        /// The type found.
        ctype: String,
        /// The file name.
        name: String,
    },
    /// A dist or arch SONiC would misread.
    #[error("`{name}`: {source}")]
    Word {
        /// The file name.
        name: String,
        /// What is wrong with the word.
        source: FieldError,
    },
}

/// Parses a version file name into (ctype, dist, arch), `all` for absent parts.
pub fn parse_file_name(name: &str) -> Result<(String, String, String), FileNameError> {
    let rest = name
        .strip_prefix(VERSION_PREFIX)
        .ok_or_else(|| FileNameError::Prefix(name.to_string()))?;
    let items: Vec<&str> = rest.split('-').collect();
    if items.len() > 3 || items.iter().any(|s| s.is_empty()) {
        return Err(FileNameError::Shape(name.to_string()));
    }
    let ctype = items[0];
    if !CTYPES.contains(&ctype) {
        return Err(FileNameError::Type {
            ctype: ctype.to_string(),
            name: name.to_string(),
        });
    }
    let dist = items.get(1).copied().unwrap_or(ALL);
    let arch = items.get(2).copied().unwrap_or(ALL);
    for w in [dist, arch] {
        if w != ALL {
            check_context_word(w).map_err(|source| FileNameError::Word {
                name: name.to_string(),
                source,
            })?;
        }
    }
    Ok((ctype.to_string(), dist.to_string(), arch.to_string()))
}

/// Parses one version file's text (strictly: every non-blank line must be `key==value`, keys unique).
pub fn parse_file(
    text: &str,
    path: &str,
    ctype: &str,
) -> Result<BTreeMap<String, String>, VersionsError> {
    let mut out = BTreeMap::new();
    // key -> (line, key as written)
    let mut first_line: BTreeMap<String, (usize, String)> = BTreeMap::new();
    // A UTF-8 byte order mark is not part of the first name.
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    for (i, raw) in text.split('\n').enumerate() {
        let line = i + 1;
        let err = |message: String| VersionsError::Line {
            path: path.to_string(),
            line,
            message,
        };
        if raw.trim().is_empty() {
            continue;
        }
        let Some(off) = raw.rfind("==") else {
            return Err(err(format!("missing `==` in `{}`", raw.escape_debug())));
        };
        let mut key = raw[..off].trim().to_string();
        let value = raw[off + 2..].trim().to_string();
        if key.is_empty() {
            return Err(err("empty name before `==`".into()));
        }
        if value.is_empty() {
            return Err(err(format!("empty version after `==` for `{key}`")));
        }
        if let Some(c) = key
            .chars()
            .chain(value.chars())
            .find(|c| c.is_whitespace() || c.is_control())
        {
            return Err(err(format!("{c:?} inside `{}`", raw.escape_debug())));
        }
        let py = ctype == "py2" || ctype == "py3";
        // `name===version` (pip's arbitrary equality) splits as `name=` / `version`.
        let arbitrary = py && key.ends_with('=');
        if arbitrary {
            key.pop();
            if key.is_empty() || key.ends_with('=') {
                return Err(err(format!("malformed `===` in `{}`", raw.escape_debug())));
            }
            if !is_arbitrary_py_version(&value) {
                return Err(err(format!(
                    "`{key}`: `{}` cannot follow `===`",
                    value.escape_debug()
                )));
            }
        }
        let eco = match ctype {
            "deb" => Some(Ecosystem::Deb),
            "py2" | "py3" => Some(Ecosystem::Py),
            "git" => Some(Ecosystem::Git),
            "web" => Some(Ecosystem::Web),
            "docker" => Some(Ecosystem::Docker),
            _ => None,
        };
        if py && !arbitrary {
            // A plain `==` must carry a PEP 440 version, or pip rejects the constraint.
            scheme_for(Ecosystem::Py).validate(&value).map_err(|e| {
                err(format!(
                    "`{key}`: `{}` is not a PEP 440 version: {e}",
                    value.escape_debug()
                ))
            })?;
        }
        if ctype == "mirror" && !is_mirror_release(&key, &value) {
            let archive = Archive {
                name: key.clone(),
                snapshot: value.clone(),
                url: None,
            };
            check_archive(&archive).map_err(|(_, m)| err(m))?;
        }
        if let Some(eco) = eco {
            // Docker keys are `<arch>:<image>`; the image is the name.
            let name = match (eco, key.split_once(':')) {
                (Ecosystem::Docker, Some((arch, name))) if check_context_word(arch).is_ok() => name,
                _ => key.as_str(),
            };
            check_name(eco, name).map_err(|e| err(e.to_string()))?;
            check_version(eco, &value).map_err(|m| err(format!("`{key}`: {m}")))?;
        }
        let written = key.clone();
        if py {
            // The build lower-cases Python names.
            key = key.to_lowercase();
        }
        // One distribution, one line: `zope.interface` is `zope-interface`; the
        // first spelling is kept.
        let identity = if py {
            canonical_name(Ecosystem::Py, &key)
        } else {
            key.clone()
        };
        if let Some((first, first_spelling)) = first_line.get(&identity) {
            let first_value = out.get(first_spelling.to_lowercase().as_str());
            if *first_spelling == written || first_value != Some(&value) {
                return Err(err(if *first_spelling == written {
                    format!("duplicate key `{written}` (first at line {first})")
                } else {
                    format!(
                        "duplicate key `{written}` (`{first_spelling}` at line {first} is the same Python distribution, pinned to {})",
                        first_value.map_or("", String::as_str)
                    )
                }));
            }
            continue;
        }
        first_line.insert(identity, (line, written));
        out.insert(key, value);
    }
    Ok(out)
}

fn io(path: &Path) -> impl Fn(std::io::Error) -> VersionsError + '_ {
    move |source| VersionsError::Io {
        path: path.display().to_string(),
        source,
    }
}

fn sorted_dir(dir: &Path) -> Result<Vec<(String, PathBuf, std::fs::FileType)>, VersionsError> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io(dir))? {
        let entry = entry.map_err(io(dir))?;
        let ft = entry.file_type().map_err(io(&entry.path()))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        out.push((name, entry.path(), ft));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(out)
}

fn read_module(
    dir: &Path,
    name: &str,
    warnings: &mut Vec<String>,
) -> Result<Vec<Component>, VersionsError> {
    let mut comps: Vec<Component> = Vec::new();
    let mut from_file: BTreeMap<(String, String, String), String> = BTreeMap::new();
    for (fname, path, ft) in sorted_dir(dir)? {
        if !fname.starts_with(VERSION_PREFIX) {
            warnings.push(format!("{}: ignored (not a version file)", path.display()));
            continue;
        }
        if !ft.is_file() {
            return Err(VersionsError::Layout {
                path: path.display().to_string(),
                message: "a version file must be a regular file".into(),
            });
        }
        let (ctype, dist, arch) = parse_file_name(&fname).map_err(|e| VersionsError::Layout {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if ctype == "mirror" && name != DEFAULT_MODULE {
            return Err(VersionsError::Layout {
                path: path.display().to_string(),
                message: "versions-mirror is only read from default/".into(),
            });
        }
        if ctype == "docker" && (dist != ALL || arch != ALL) {
            return Err(VersionsError::Layout {
                path: path.display().to_string(),
                message:
                    "docker digests live in a plain `versions-docker` (the arch is in each key)"
                        .into(),
            });
        }
        if let Some(other) =
            from_file.insert((ctype.clone(), dist.clone(), arch.clone()), fname.clone())
        {
            return Err(VersionsError::Layout {
                path: path.display().to_string(),
                message: format!(
                    "same scope as `{other}` in the same directory (which one wins is undefined)"
                ),
            });
        }
        let bytes = std::fs::read(&path).map_err(io(&path))?;
        let p = path.display().to_string();
        let text = String::from_utf8(bytes).map_err(|e| {
            let upto = &e.as_bytes()[..e.utf8_error().valid_up_to()];
            VersionsError::Line {
                path: p.clone(),
                line: upto.iter().filter(|&&b| b == b'\n').count() + 1,
                message: "not valid UTF-8".into(),
            }
        })?;
        let mut c = Component::new(&ctype, &dist, &arch);
        c.versions = parse_file(&text, &p, &ctype)?;
        comps.push(c);
    }
    Ok(comps)
}

/// Reads a `files/build/versions/` tree (the directory holding `default/`, `dockers/`, ...).
/// Returns the tree and warnings about entries SONiC ignores too.
pub fn read_tree(dir: &Path) -> Result<(VersionTree, Vec<String>), VersionsError> {
    let meta = std::fs::metadata(dir).map_err(io(dir))?;
    if !meta.is_dir() {
        return Err(VersionsError::Layout {
            path: dir.display().to_string(),
            message: "not a directory (expected a files/build/versions/ tree)".into(),
        });
    }
    let mut tree = VersionTree::default();
    let mut warnings = Vec::new();
    let mut seen_at: BTreeMap<String, PathBuf> = BTreeMap::new();
    let mut add = |name: String,
                   path: PathBuf,
                   tree: &mut VersionTree,
                   warnings: &mut Vec<String>|
     -> Result<(), VersionsError> {
        check_image_name(&name).map_err(|e| VersionsError::Layout {
            path: path.display().to_string(),
            message: e.to_string(),
        })?;
        if let Some(prev) = seen_at.insert(name.clone(), path.clone()) {
            return Err(VersionsError::Layout {
                path: path.display().to_string(),
                message: format!("module `{name}` also at {}", prev.display()),
            });
        }
        let comps = read_module(&path, &name, warnings)?;
        tree.modules.insert(name, comps);
        Ok(())
    };
    for (name, path, ft) in sorted_dir(dir)? {
        if !ft.is_dir() {
            warnings.push(format!(
                "{}: ignored (not a module directory)",
                path.display()
            ));
            continue;
        }
        if name == DEFAULT_MODULE || name.starts_with("host-") {
            add(name, path, &mut tree, &mut warnings)?;
        } else if name == "dockers" || name == "build" {
            for (sub, subpath, subft) in sorted_dir(&path)? {
                if !subft.is_dir() {
                    warnings.push(format!(
                        "{}: ignored (not a module directory)",
                        subpath.display()
                    ));
                    continue;
                }
                add(sub, subpath, &mut tree, &mut warnings)?;
            }
        } else {
            warnings.push(format!(
                "{}: ignored (SONiC reads only default/, host-*/, dockers/ and build/)",
                path.display()
            ));
        }
    }
    Ok((tree, warnings))
}

fn opt(s: &str) -> Option<String> {
    if s == ALL { None } else { Some(s.to_string()) }
}

/// Converts a tree into a lock: one pin per line, with the module as the image
/// (`None` for `default`), the file's dist/arch as suite/arch, and
/// `versions-mirror` as the archives. Lossless for everything SONiC records.
pub fn tree_to_lock(tree: &VersionTree) -> Lock {
    let mut lock = Lock::new("imported", "unknown", "unknown");
    for (module, comps) in &tree.modules {
        let image = if module == DEFAULT_MODULE {
            None
        } else {
            Some(module.clone())
        };
        for c in comps {
            for (k, v) in &c.versions {
                let (eco, python) = match c.ctype.as_str() {
                    "deb" => (Ecosystem::Deb, None),
                    "py2" | "py3" => (Ecosystem::Py, Some(c.ctype.clone())),
                    "git" => (Ecosystem::Git, None),
                    "web" => (Ecosystem::Web, None),
                    "docker" => (Ecosystem::Docker, None),
                    // A mirror without snapshots is recorded by its Release
                    // date: it names what the build saw, not an archive apt
                    // can be pointed at again, so it is no lock archive.
                    _ if is_mirror_release(k, v) => continue,
                    _ => {
                        lock.archives.push(Archive {
                            name: k.clone(),
                            snapshot: v.clone(),
                            url: None,
                        });
                        continue;
                    }
                };
                let mut pin = Pin::new(eco, k, v);
                pin.image = image.clone();
                pin.suite = opt(&c.dist);
                pin.arch = opt(&c.arch);
                pin.python = python;
                if let (Ecosystem::Docker, Some((arch, name))) = (eco, k.split_once(':')) {
                    pin.arch = Some(arch.to_string());
                    pin.name = name.to_string();
                }
                if eco == Ecosystem::Web {
                    pin.md5 = Some(v.clone());
                }
                lock.pins.push(pin);
            }
        }
    }
    if let Some(ts) = lock
        .archives
        .iter()
        .find(|a| a.name == "debian")
        .and_then(|a| snapshot_to_rfc3339(&a.snapshot))
    {
        lock.cutoff = ts;
    }
    lock.normalize();
    lock
}

/// `20230919T000224Z` → `2023-09-19T00:02:24Z`.
/// A `versions-mirror` line of a mirror without snapshots: its Release file's
/// path with `/` as `_` (`download.docker.com_linux_debian_dists_bullseye`),
/// then the Release `Date` (`2023-10-18T15:15:34Z`).
fn is_mirror_release(key: &str, value: &str) -> bool {
    let b = value.as_bytes();
    let date = b.len() == 20
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
        && b[13] == b':'
        && b[16] == b':'
        && b[19] == b'Z'
        && b.iter()
            .enumerate()
            .all(|(i, c)| matches!(i, 4 | 7 | 10 | 13 | 16 | 19) || c.is_ascii_digit());
    date && key.contains("_dists_")
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '%' | '+' | '-'))
}

fn snapshot_to_rfc3339(ts: &str) -> Option<String> {
    let b = ts.as_bytes();
    if b.len() != 16 || b[8] != b'T' || b[15] != b'Z' {
        return None;
    }
    if !b[..8].iter().chain(&b[9..15]).all(u8::is_ascii_digit) {
        return None;
    }
    Some(format!(
        "{}-{}-{}T{}:{}:{}Z",
        &ts[..4],
        &ts[4..6],
        &ts[6..8],
        &ts[9..11],
        &ts[11..13],
        &ts[13..15]
    ))
}

/// Refuses a tree read from `dir` that holds no versions file at all: an
/// empty import would read as "nothing pinned", most likely the wrong directory.
pub fn require_versions(tree: &VersionTree, dir: &Path) -> Result<(), VersionsError> {
    if tree.modules.values().all(|c| c.is_empty()) {
        return Err(VersionsError::Layout {
            path: dir.display().to_string(),
            message: "no versions-* file found (expected default/, dockers/<image>/, ... \
                      as in files/build/versions/)"
                .into(),
        });
    }
    Ok(())
}

/// Reads a `files/build/versions/` tree into a lock (see [`tree_to_lock`]).
pub fn import(dir: &Path) -> Result<Lock, VersionsError> {
    let (tree, _warnings) = read_tree(dir)?;
    require_versions(&tree, dir)?;
    let lock = tree_to_lock(&tree);
    lock.validate()?;
    Ok(lock)
}

/// Lines of one export that SONiC cannot record (they are reported, not dropped silently).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ExportSummary {
    /// Files written, relative to the output directory.
    pub files: Vec<String>,
    /// Number of pins written.
    pub pins: usize,
    /// Pins SONiC's version files cannot carry (`deb-src`, `go`): they need URL rewrites or go.sum.
    pub not_representable: Vec<String>,
    /// Stale `versions-*` files removed from the output directory.
    pub removed: Vec<String>,
    /// Pins left out of an image's files because it inherits them unchanged from its base image.
    pub inherited: usize,
    /// Pins written again at a narrower scope so that SONiC's merge yields the effective set.
    pub restated: usize,
}

/// Builds the tree a lock exports to; fails on pins SONiC cannot represent
/// unambiguously. Pins of `deb-src` and `go` are listed in the summary instead.
pub fn lock_to_tree(lock: &Lock) -> Result<(VersionTree, ExportSummary), VersionsError> {
    lock.validate()?;
    let mut modules: BTreeMap<String, BTreeMap<(String, String, String), Component>> =
        BTreeMap::new();
    let mut summary = ExportSummary::default();
    for pin in &lock.pins {
        let bad = |message: String| VersionsError::Pin {
            pin: pin.key().to_string(),
            message,
        };
        let ctype = match pin.ecosystem {
            Ecosystem::Deb => "deb",
            Ecosystem::Py => pin.python.as_deref().unwrap_or("py3"),
            Ecosystem::Git => "git",
            Ecosystem::Web => "web",
            Ecosystem::Docker => "docker",
            Ecosystem::DebSrc | Ecosystem::Go => {
                summary.not_representable.push(pin.key().to_string());
                continue;
            }
        };
        let module = pin.image_name().to_string();
        let dist = pin.suite.clone().unwrap_or_else(|| ALL.into());
        let (arch, key) = if pin.ecosystem == Ecosystem::Docker {
            if pin.suite.is_some() {
                return Err(bad("docker pins have no suite".into()));
            }
            let key = match &pin.arch {
                Some(a) => format!("{a}:{}", pin.name),
                None => pin.name.clone(),
            };
            (ALL.to_string(), key)
        } else {
            (
                pin.arch.clone().unwrap_or_else(|| ALL.into()),
                pin.name.clone(),
            )
        };
        let key = if ctype == "py2" || ctype == "py3" {
            key.to_lowercase()
        } else {
            key
        };
        if key.starts_with("==") || pin.version.contains("==") {
            return Err(bad(
                "`==` cannot appear there in a SONiC version line".into()
            ));
        }
        let py = ctype == "py2" || ctype == "py3";
        let key = if py && pin.version.parse::<pep440_rs::Version>().is_err() {
            format!("{key}=")
        } else {
            key
        };
        let comp = modules
            .entry(module)
            .or_default()
            .entry((ctype.to_string(), dist.clone(), arch.clone()))
            .or_insert_with(|| Component::new(ctype, &dist, &arch));
        if let Some(prev) = comp.versions.insert(key.clone(), pin.version.clone()) {
            return Err(bad(format!(
                "collides with another pin written as `{key}=={prev}` in {}",
                comp.file_name()
            )));
        }
        summary.pins += 1;
    }
    if !lock.archives.is_empty() {
        let comp = modules
            .entry(DEFAULT_MODULE.to_string())
            .or_default()
            .entry(("mirror".into(), ALL.into(), ALL.into()))
            .or_insert_with(|| Component::new("mirror", ALL, ALL));
        for a in &lock.archives {
            comp.versions.insert(a.name.clone(), a.snapshot.clone());
        }
    }
    let tree = VersionTree {
        modules: modules
            .into_iter()
            .map(|(m, comps)| (m, comps.into_values().collect()))
            .collect(),
    };
    Ok((tree, summary))
}

/// Every file of the tree: path relative to the root → bytes.
pub fn render_tree(tree: &VersionTree) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    for (module, comps) in &tree.modules {
        for c in comps {
            if c.versions.is_empty() {
                continue;
            }
            files.insert(module_dir(module).join(c.file_name()), c.render());
        }
    }
    files
}

/// Refuses to write through a symlink or a non-directory inside `root`, so nothing lands outside it.
fn check_inside(root: &Path, rel: &Path) -> Result<(), VersionsError> {
    let mut cur = root.to_path_buf();
    for part in rel.components() {
        match part {
            std::path::Component::Normal(p) => cur.push(p),
            _ => {
                return Err(VersionsError::Layout {
                    path: root.join(rel).display().to_string(),
                    message: "path leaves the output directory".into(),
                });
            }
        }
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(VersionsError::Layout {
                    path: cur.display().to_string(),
                    message: "is a symlink; refusing to write through it".into(),
                });
            }
            _ => {}
        }
    }
    Ok(())
}

/// Writes `files` (relative path → text) under `out_dir` as one transaction:
/// every path is checked, then every file is written beside its target under a
/// temporary name, and only when all are written are they renamed into place.
/// A failure before the renames removes the temporary files (and the directories
/// this call created) and leaves the old files untouched. New files get the mode
/// the umask gives; replaced files keep theirs. Returns the relative paths written.
pub fn write_files(
    out_dir: &Path,
    files: &BTreeMap<PathBuf, String>,
) -> Result<Vec<String>, VersionsError> {
    for rel in files.keys() {
        check_inside(out_dir, rel)?;
    }
    // A run killed between staging and renaming left `.<name>.<pid>.<n>.tmp` files.
    let dirs: BTreeSet<PathBuf> = files
        .keys()
        .filter_map(|rel| out_dir.join(rel).parent().map(Path::to_path_buf))
        .collect();
    for d in &dirs {
        crate::fsio::remove_stale_staged(d).map_err(io(d))?;
    }
    let mut created: Vec<PathBuf> = Vec::new();
    let staged = stage_all(out_dir, files, &mut created);
    let staged = match staged {
        Ok(s) => s,
        Err(e) => {
            // Deepest first, and only if still empty: never a directory with user files.
            for d in created.iter().rev() {
                let _ = std::fs::remove_dir(d);
            }
            return Err(untouched(e));
        }
    };
    let mut written = Vec::new();
    let total = staged.len();
    for (i, (rel, s)) in staged.into_iter().enumerate() {
        let path = s.target().to_path_buf();
        s.commit().map_err(|source| VersionsError::Io {
            path: path.display().to_string(),
            source: std::io::Error::new(
                source.kind(),
                format!(
                    "{source} (after {i} of {total} files were replaced: {})",
                    if written.is_empty() {
                        "none".to_string()
                    } else {
                        written.join(", ")
                    }
                ),
            ),
        })?;
        written.push(rel.display().to_string());
    }
    Ok(written)
}

/// Says in a write error that nothing of the old tree was changed.
fn untouched(e: VersionsError) -> VersionsError {
    match e {
        VersionsError::Io { path, source } => VersionsError::Io {
            path,
            source: std::io::Error::new(
                source.kind(),
                format!("{source} (nothing was written; the output directory is unchanged)"),
            ),
        },
        VersionsError::Layout { path, message } => VersionsError::Layout {
            path,
            message: format!("{message} (nothing was written; the output directory is unchanged)"),
        },
        other => other,
    }
}

/// Creates the directories and writes every file under a temporary name; each
/// target must be absent or a regular file, so no rename can fail on a directory.
fn stage_all(
    out_dir: &Path,
    files: &BTreeMap<PathBuf, String>,
    created: &mut Vec<PathBuf>,
) -> Result<Vec<(PathBuf, crate::fsio::Staged)>, VersionsError> {
    let mut staged = Vec::new();
    for (rel, text) in files {
        let path = out_dir.join(rel);
        if let Some(dir) = path.parent() {
            create_dirs(dir, created)?;
        }
        match std::fs::symlink_metadata(&path) {
            Ok(m) if !m.file_type().is_file() => {
                return Err(VersionsError::Layout {
                    path: path.display().to_string(),
                    message: "exists and is not a regular file".into(),
                });
            }
            _ => {}
        }
        let s = crate::fsio::Staged::new(&path, text.as_bytes()).map_err(io(&path))?;
        staged.push((rel.clone(), s));
    }
    Ok(staged)
}

/// `create_dir_all`, remembering each directory it made (outermost first).
fn create_dirs(dir: &Path, created: &mut Vec<PathBuf>) -> Result<(), VersionsError> {
    let mut missing = Vec::new();
    let mut cur = Some(dir);
    while let Some(d) = cur {
        if d.as_os_str().is_empty() || std::fs::symlink_metadata(d).is_ok() {
            break;
        }
        missing.push(d.to_path_buf());
        cur = d.parent();
    }
    for d in missing.into_iter().rev() {
        std::fs::create_dir(&d).map_err(io(&d))?;
        created.push(d);
    }
    Ok(())
}

/// `versions-*` files under `out_dir`'s module directories that are not in `keep`
/// (as SONiC's own dump does), so a re-export never leaves stale pins behind.
/// Only names SONiC reads as version files count (`versions-<type>[-<dist>[-<arch>]]`
/// with a known type): a `versions-deb.bak`, `versions-deb~` or notes file is the
/// user's and stays.
fn stale_files(out_dir: &Path, keep: &BTreeSet<PathBuf>) -> Result<Vec<PathBuf>, VersionsError> {
    let mut stale = Vec::new();
    if !out_dir.is_dir() {
        return Ok(stale);
    }
    let mut module_dirs = Vec::new();
    for (name, path, ft) in sorted_dir(out_dir)? {
        if !ft.is_dir() {
            continue;
        }
        if name == "dockers" || name == "build" {
            for (sub, subpath, subft) in sorted_dir(&path)? {
                if subft.is_dir() {
                    module_dirs.push((Path::new(&name).join(sub), subpath));
                }
            }
        } else if name == DEFAULT_MODULE || name.starts_with("host-") {
            module_dirs.push((PathBuf::from(name), path));
        }
    }
    for (rel_dir, dir) in module_dirs {
        for (fname, _, ft) in sorted_dir(&dir)? {
            let rel = rel_dir.join(&fname);
            if ft.is_file() && parse_file_name(&fname).is_ok() && !keep.contains(&rel) {
                stale.push(rel);
            }
        }
    }
    Ok(stale)
}

/// Writes the lock as a `files/build/versions/` tree rooted at `out_dir`.
/// Everything is rendered and checked before the first write; the new files are
/// written as one transaction ([`write_files`]), and only then are stale version
/// files removed.
pub fn export(lock: &Lock, out_dir: &Path) -> Result<ExportSummary, VersionsError> {
    let (tree, summary) = lock_to_tree(lock)?;
    export_tree(&tree, summary, out_dir)
}

/// Writes `tree` under `out_dir` as [`export`] does, completing `summary`.
pub fn export_tree(
    tree: &VersionTree,
    mut summary: ExportSummary,
    out_dir: &Path,
) -> Result<ExportSummary, VersionsError> {
    let files = render_tree(tree);
    for rel in files.keys() {
        check_inside(out_dir, rel)?;
    }
    let stale = stale_files(out_dir, &files.keys().cloned().collect())?;
    summary.files = write_files(out_dir, &files)?;
    for rel in stale {
        let path = out_dir.join(&rel);
        std::fs::remove_file(&path).map_err(io(&path))?;
        summary.removed.push(rel.display().to_string());
    }
    Ok(summary)
}

/// Generic-to-specific overwrite of `base` by `module`'s components, then the
/// redundancy removal SONiC applies after every overwrite.
fn overwrite(base: &mut Vec<Component>, module: &[Component], all_dist: bool, all_arch: bool) {
    let mut incoming: Vec<&Component> = module.iter().collect();
    incoming.sort_by_key(|c| c.order_key());
    for m in incoming {
        let mut merged = false;
        for c in base.iter_mut() {
            if c.overwritable_by(m, all_dist, all_arch) {
                c.merge(&m.versions);
                merged = true;
            }
        }
        if !merged {
            let mut c = m.clone();
            if all_dist && c.ctype != "deb" {
                c.dist = ALL.into();
            }
            if all_arch {
                c.arch = ALL.into();
            }
            base.push(c);
        }
    }
    adjust(base);
}

/// The mark of a docker's debug variant (`docker-orchagent-dbg`, slave.mk's `DBG_IMAGE_MARK`).
pub const DBG_SUFFIX: &str = "-dbg";

/// What SONiC's freeze does with debug dockers (`_merge_dgb_modules`): each
/// `<docker>-dbg` module overwrites its docker's module and is dropped, so the
/// docker's files hold what its debug variant installs as well. Returns the
/// modules merged away, sorted.
pub fn merge_dbg_modules(tree: &mut VersionTree) -> Vec<String> {
    let dbg: Vec<String> = tree
        .modules
        .keys()
        .filter(|m| m.len() > DBG_SUFFIX.len() && m.ends_with(DBG_SUFFIX))
        .cloned()
        .collect();
    for m in &dbg {
        let Some(comps) = tree.modules.remove(m) else {
            continue;
        };
        let base = m[..m.len() - DBG_SUFFIX.len()].to_string();
        overwrite(tree.modules.entry(base).or_default(), &comps, false, false);
    }
    dbg
}

/// Drops from each component the pins it would inherit unchanged from a more generic one.
/// This matters: the dropped pin then comes from whichever generic component the
/// final merge applies last, which can differ from the one that matched.
fn adjust(comps: &mut Vec<Component>) {
    let mut ctypes: Vec<String> = Vec::new();
    for c in comps.iter() {
        if !ctypes.contains(&c.ctype) {
            ctypes.push(c.ctype.clone());
        }
    }
    let mut result = Vec::new();
    for t in ctypes {
        let mut group: Vec<Component> = comps.iter().filter(|c| c.ctype == t).cloned().collect();
        group.sort_by_key(|c| c.order_key());
        let originals = group.clone();
        for (i, c) in group.iter_mut().enumerate() {
            let mut inherited = Component::new(&t, ALL, ALL);
            for base in &originals[..i] {
                if c.inherits_from(base) {
                    inherited.merge(&base.versions);
                }
            }
            c.subtract(&inherited.versions);
        }
        result.extend(group.into_iter().filter(|c| !c.versions.is_empty()));
    }
    *comps = result;
}

fn filtered(comps: Option<&Vec<Component>>, dist: &str, arch: &str) -> Vec<Component> {
    comps
        .map(|v| {
            v.iter()
                .filter(|c| c.dist == ALL || c.dist == dist)
                .filter(|c| c.arch == ALL || c.arch == arch)
                .cloned()
                .collect()
        })
        .unwrap_or_default()
}

/// The pins the build enforces for `module` on `dist`/`arch`: component type → key → value.
/// `module` need not exist in the tree (a docker without overrides gets `default`'s).
pub fn effective(
    tree: &VersionTree,
    module: &str,
    dist: &str,
    arch: &str,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let own = filtered(tree.modules.get(module), dist, arch);
    let default = filtered(tree.modules.get(DEFAULT_MODULE), dist, arch);
    let mut base: Vec<Component> = if is_aggregatable(module) {
        default
    } else {
        default
            .into_iter()
            .filter(|c| !DEFAULT_OVERWRITE.contains(&c.ctype.as_str()))
            .collect()
    };
    if module == "host-image" {
        let host_base = filtered(tree.modules.get("host-base-image"), dist, arch);
        overwrite(&mut base, &host_base, true, true);
    }
    let mut ctypes: Vec<String> = base.iter().map(|c| c.ctype.clone()).collect();
    overwrite(&mut base, &own, false, false);
    ctypes.extend(base.iter().map(|c| c.ctype.clone()));
    ctypes.sort();
    ctypes.dedup();
    let mut out = BTreeMap::new();
    for t in ctypes {
        let mut group: Vec<&Component> = base.iter().filter(|c| c.ctype == t).collect();
        group.sort_by_key(|c| c.order_key());
        let mut result = Component::new(&t, dist, arch);
        for c in group {
            if result.inherits_from(c) {
                result.merge(&c.versions);
            }
        }
        if !result.versions.is_empty() {
            out.insert(t, result.versions);
        }
    }
    out
}

/// Dists and architectures the tree scopes `module` (and the `default` it inherits) by,
/// for enumerating the combinations [`effective`] can differ on.
pub fn scopes(
    tree: &VersionTree,
    module: &str,
    ctypes: &[&str],
) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut dists = BTreeSet::new();
    let mut archs = BTreeSet::new();
    let mut mods = vec![module, DEFAULT_MODULE];
    if module == "host-image" {
        mods.push("host-base-image");
    }
    for m in mods {
        for c in tree.modules.get(m).into_iter().flatten() {
            if !ctypes.contains(&c.ctype.as_str()) {
                continue;
            }
            if m == DEFAULT_MODULE
                && m != module
                && !is_aggregatable(module)
                && DEFAULT_OVERWRITE.contains(&c.ctype.as_str())
            {
                continue;
            }
            if c.dist != ALL {
                dists.insert(c.dist.clone());
            }
            if c.arch != ALL {
                archs.insert(c.arch.clone());
            }
        }
    }
    (dists, archs)
}
