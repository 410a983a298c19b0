//! SONiC's split of pins between images. An image's version files hold only
//! what it installs itself: what it inherits unchanged from the image it is
//! built on is left out, as SONiC's freeze does (a docker's files are its
//! `post-versions` minus the `pre-versions` its build started from;
//! `build/build-sonic-slave-<dist>` is what package builds installed beyond the
//! slave image; `host-image` what the image added to `host-base-image`).
//! `versions_manager.py generate` then re-merges a module with `default` (and
//! `host-image` with `host-base-image`, but no docker with its `FROM` parent)
//! into the pins that module's build applies: its *effective set*.
//!
//! [`ImageGraph`] says which image is built on which. [`split_tree`] leaves
//! out a pin only when every build it covers already has that version from the
//! parent chain, so no image's installed state changes; then it checks SONiC's
//! merge ([`effective`]) against the plain reading ([`lock_effective`]: the
//! more specific file wins, the module over `default`) at every dist and
//! architecture the tree names, and restates a pin at the narrower scope
//! wherever SONiC's generic-to-specific merge would pick another value.

use super::lockfile::Lock;
use super::sonic_versions::{
    ALL, CTYPES, Component, DEFAULT_MODULE, DEFAULT_OVERWRITE, ExportSummary, VersionTree,
    VersionsError, effective, is_aggregatable, lock_to_tree, merge_dbg_modules, scopes,
};
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// The host image module, which `generate` merges over `host-base-image`.
pub const HOST_IMAGE: &str = "host-image";
/// The debootstrap base of the host image.
pub const HOST_BASE_IMAGE: &str = "host-base-image";
/// The prefix of the modules that hold what package builds install in a slave.
pub const BUILD_SLAVE_PREFIX: &str = "build-sonic-slave-";
/// The file `export --format effective` lists its modules and scopes in.
pub const EFFECTIVE_INDEX: &str = "modules.txt";
/// A dist or arch the tree does not name: only `all`-scoped files apply to it.
const OTHER: &str = "*";

/// Errors building or applying an image graph.
#[derive(Debug, thiserror::Error)]
pub enum SplitError {
    /// A line of a parents file is malformed.
    #[error("{path}:{line}: {message}")]
    Parse {
        /// The file.
        path: String,
        /// 1-based line.
        line: usize,
        /// What is wrong.
        message: String,
    },
    /// An edge would make an image its own ancestor.
    #[error("image `{image}` on `{parent}` closes a cycle: {chain}")]
    Cycle {
        /// The image.
        image: String,
        /// Its declared parent.
        parent: String,
        /// The chain that leads back to the image.
        chain: String,
    },
    /// An image was given two different parents.
    #[error("image `{image}` is built on `{first}` and on `{second}`")]
    TwoParents {
        /// The image.
        image: String,
        /// The parent given first.
        first: String,
        /// The other parent.
        second: String,
    },
    /// The parents file could not be read.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The lock or tree could not be exported.
    #[error(transparent)]
    Versions(#[from] VersionsError),
}

/// Which image each image is built on, by lock image (SONiC module) name.
/// Fed from `image parent` lines ([`ImageGraph::parse`]) or from any list of
/// edges, such as the `FROM` chains of a manifest ([`ImageGraph::from_pairs`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImageGraph {
    parents: BTreeMap<String, String>,
}

impl ImageGraph {
    /// A graph without edges: every image stands alone.
    pub fn new() -> ImageGraph {
        ImageGraph::default()
    }

    /// Records that `image` is built on `parent`; refuses a second, different
    /// parent and an edge that closes a cycle.
    pub fn add(&mut self, image: &str, parent: &str) -> Result<(), SplitError> {
        if let Some(first) = self.parents.get(image) {
            if first == parent {
                return Ok(());
            }
            return Err(SplitError::TwoParents {
                image: image.into(),
                first: first.clone(),
                second: parent.into(),
            });
        }
        let mut chain = vec![image.to_string(), parent.to_string()];
        let mut cur = parent;
        while cur != image {
            match self.parents.get(cur) {
                Some(p) => {
                    chain.push(p.clone());
                    cur = p;
                }
                None => break,
            }
        }
        if cur == image {
            return Err(SplitError::Cycle {
                image: image.into(),
                parent: parent.into(),
                chain: chain.join(" -> "),
            });
        }
        self.parents.insert(image.into(), parent.into());
        Ok(())
    }

    /// A graph from `(image, parent)` edges.
    pub fn from_pairs<I, A, B>(pairs: I) -> Result<ImageGraph, SplitError>
    where
        I: IntoIterator<Item = (A, B)>,
        A: AsRef<str>,
        B: AsRef<str>,
    {
        let mut g = ImageGraph::new();
        for (image, parent) in pairs {
            g.add(image.as_ref(), parent.as_ref())?;
        }
        Ok(g)
    }

    /// Reads `image parent` lines (blank lines and `#` comments skipped); `path` names the text in errors.
    pub fn parse(text: &str, path: &str) -> Result<ImageGraph, SplitError> {
        let mut g = ImageGraph::new();
        for (i, raw) in text.lines().enumerate() {
            let line = raw.split('#').next().unwrap_or("").trim();
            if line.is_empty() {
                continue;
            }
            let words: Vec<&str> = line.split_whitespace().collect();
            let err = |message: String| SplitError::Parse {
                path: path.into(),
                line: i + 1,
                message,
            };
            let [image, parent] = words.as_slice() else {
                return Err(err(format!(
                    "expected `image parent`, found `{}`",
                    line.escape_debug()
                )));
            };
            g.add(image, parent).map_err(|e| err(e.to_string()))?;
        }
        Ok(g)
    }

    /// Reads a parents file (see [`ImageGraph::parse`]).
    pub fn read(path: &Path) -> Result<ImageGraph, SplitError> {
        let text = std::fs::read_to_string(path).map_err(|source| SplitError::Io {
            path: path.display().to_string(),
            source,
        })?;
        ImageGraph::parse(&text, &path.display().to_string())
    }

    /// Adds the edges SONiC's build implies whatever the Dockerfiles say:
    /// `build-sonic-slave-<dist>` on `sonic-slave-<dist>`, `host-image` on
    /// `host-base-image` (for the modules named, unless already given).
    pub fn with_sonic_edges<'a>(mut self, modules: impl IntoIterator<Item = &'a str>) -> Self {
        for m in modules {
            let parent = if let Some(dist) = m.strip_prefix(BUILD_SLAVE_PREFIX) {
                format!("sonic-slave-{dist}")
            } else if m == HOST_IMAGE {
                HOST_BASE_IMAGE.to_string()
            } else {
                continue;
            };
            if !self.parents.contains_key(m) {
                // Neither parent has a parent of its own here, so no cycle can form.
                self.parents.insert(m.to_string(), parent);
            }
        }
        self
    }

    /// The image `image` is built on.
    pub fn parent(&self, image: &str) -> Option<&str> {
        self.parents.get(image).map(String::as_str)
    }

    /// `image`'s parent, grandparent, ... nearest first.
    pub fn ancestors(&self, image: &str) -> Vec<&str> {
        let mut out = Vec::new();
        let mut cur = image;
        while let Some(p) = self.parents.get(cur) {
            out.push(p.as_str());
            cur = p;
        }
        out
    }

    /// Every `(image, parent)` edge, sorted by image.
    pub fn edges(&self) -> impl Iterator<Item = (&str, &str)> {
        self.parents.iter().map(|(a, b)| (a.as_str(), b.as_str()))
    }
}

/// The value the most specific component of `comps` covering `dist`/`arch`
/// gives `key`, leaving component `skip` out.
fn resolve_key<'a>(
    comps: &'a [Component],
    ctype: &str,
    key: &str,
    dist: &str,
    arch: &str,
    skip: Option<usize>,
) -> Option<&'a String> {
    let mut best: Option<(_, &String)> = None;
    for (i, c) in comps.iter().enumerate() {
        if Some(i) == skip || c.ctype != ctype || !c.covers(dist, arch) {
            continue;
        }
        if let Some(v) = c.versions.get(key) {
            let k = c.order_key();
            if best.as_ref().is_none_or(|(b, _)| k > *b) {
                best = Some((k, v));
            }
        }
    }
    best.map(|(_, v)| v)
}

/// What `image` has installed for `key` in a `dist`/`arch` build: its own pin,
/// else the nearest ancestor's.
fn state_key<'a>(
    tree: &'a VersionTree,
    graph: &ImageGraph,
    image: &str,
    ctype: &str,
    key: &str,
    dist: &str,
    arch: &str,
) -> Option<&'a String> {
    std::iter::once(image)
        .chain(graph.ancestors(image))
        .find_map(|m| {
            tree.modules
                .get(m)
                .and_then(|c| resolve_key(c, ctype, key, dist, arch, None))
        })
}

/// The dists and architectures the tree names (sorted), each list ending in
/// [`OTHER`] when `other` is set.
fn words(tree: &VersionTree, other: bool) -> (Vec<String>, Vec<String>) {
    let mut dists = BTreeSet::new();
    let mut archs = BTreeSet::new();
    for c in tree.modules.values().flatten() {
        if c.dist != ALL {
            dists.insert(c.dist.clone());
        }
        if c.arch != ALL {
            archs.insert(c.arch.clone());
        }
    }
    let mut dists: Vec<String> = dists.into_iter().collect();
    let mut archs: Vec<String> = archs.into_iter().collect();
    if other {
        dists.push(OTHER.into());
        archs.push(OTHER.into());
    }
    (dists, archs)
}

fn combos(dists: &[String], archs: &[String]) -> Vec<(String, String)> {
    dists
        .iter()
        .flat_map(|d| archs.iter().map(move |a| (d.clone(), a.clone())))
        .collect()
}

/// Leaves out of each image's components the pins it inherits unchanged from
/// its parent chain. A pin goes only if, for every build it covers, the parent
/// chain has the same version and no less specific pin of the image would take
/// its place with another: the installed state of every image stays the same.
/// Returns how many pins were left out.
pub fn reduce(tree: &mut VersionTree, graph: &ImageGraph) -> usize {
    let (dists, archs) = words(tree, true);
    let all = combos(&dists, &archs);
    let names: Vec<String> = tree.modules.keys().cloned().collect();
    let mut dropped = 0;
    for m in names {
        let Some(parent) = graph.parent(&m).map(str::to_string) else {
            continue;
        };
        if m == DEFAULT_MODULE {
            continue;
        }
        // The module is out of the tree while it is reduced; it is not its own ancestor.
        let Some(mut comps) = tree.modules.remove(&m) else {
            continue;
        };
        for i in 0..comps.len() {
            let keys: Vec<String> = comps[i].versions.keys().cloned().collect();
            for k in keys {
                let c = &comps[i];
                let v = &c.versions[&k];
                let inherited = all.iter().filter(|(d, a)| c.covers(d, a)).all(|(d, a)| {
                    state_key(tree, graph, &parent, &c.ctype, &k, d, a) == Some(v)
                        && resolve_key(&comps, &c.ctype, &k, d, a, Some(i)).is_none_or(|w| w == v)
                });
                if inherited {
                    comps[i].versions.remove(&k);
                    dropped += 1;
                }
            }
        }
        comps.retain(|c| !c.versions.is_empty());
        tree.modules.insert(m, comps);
    }
    dropped
}

/// The pins `module`'s build applies on `dist`/`arch`, read plainly: `default`
/// (without its deb and python pins for slaves and host images), then for
/// `host-image` the `host-base-image`, then the module itself; within each, the
/// more specific file wins (`versions-deb` < `-all-<arch>` < `-<dist>` <
/// `-<dist>-<arch>`). This is what the lock means; [`split_tree`] makes SONiC's
/// merge agree with it.
pub fn lock_effective(
    tree: &VersionTree,
    module: &str,
    dist: &str,
    arch: &str,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    let mut layer = |name: &str, skip_overwrite: bool| {
        let Some(comps) = tree.modules.get(name) else {
            return;
        };
        let mut apply: Vec<&Component> = comps
            .iter()
            .filter(|c| c.covers(dist, arch))
            .filter(|c| !(skip_overwrite && DEFAULT_OVERWRITE.contains(&c.ctype.as_str())))
            .collect();
        apply.sort_by_key(|c| c.order_key());
        for c in apply {
            let e = out.entry(c.ctype.clone()).or_default();
            for (k, v) in &c.versions {
                e.insert(k.clone(), v.clone());
            }
        }
    };
    if module != DEFAULT_MODULE {
        layer(DEFAULT_MODULE, !is_aggregatable(module));
    }
    if module == HOST_IMAGE {
        layer(HOST_BASE_IMAGE, false);
    }
    layer(module, false);
    out.retain(|_, v| !v.is_empty());
    out
}

/// The dists to evaluate a module on: those its files (and what it inherits) name, else `all`.
pub fn module_dists(tree: &VersionTree, module: &str) -> Vec<String> {
    let (dists, _) = scopes(tree, module, &CTYPES);
    if dists.is_empty() {
        vec![ALL.to_string()]
    } else {
        dists.into_iter().collect()
    }
}

/// The `(ctype, key, value)` pins where SONiC's merge and [`lock_effective`] disagree;
/// `value` is `None` where SONiC's merge has a pin the plain reading does not.
fn disagreements(
    tree: &VersionTree,
    module: &str,
    dist: &str,
    arch: &str,
) -> Vec<(String, String, Option<String>)> {
    let want = lock_effective(tree, module, dist, arch);
    let got = effective(tree, module, dist, arch);
    let mut out = Vec::new();
    for (ctype, pins) in &want {
        for (k, v) in pins {
            if got.get(ctype).and_then(|g| g.get(k)) != Some(v) {
                out.push((ctype.clone(), k.clone(), Some(v.clone())));
            }
        }
    }
    for (ctype, pins) in &got {
        for k in pins.keys() {
            if !want.get(ctype).is_some_and(|w| w.contains_key(k)) {
                out.push((ctype.clone(), k.clone(), None));
            }
        }
    }
    out
}

/// Restates pins at the narrowest scope wherever SONiC's merge of `module`
/// would not yield [`lock_effective`], for every module and every dist and
/// architecture the tree names (plus `extra_archs`). Returns how many pins were
/// restated; fails if a disagreement cannot be fixed that way.
pub fn restate(tree: &mut VersionTree, extra_archs: &[String]) -> Result<usize, VersionsError> {
    let (_, mut archs) = words(tree, false);
    archs.extend(extra_archs.iter().cloned());
    archs.sort();
    archs.dedup();
    if archs.is_empty() {
        archs.push(ALL.to_string());
    }
    let mut restated = 0;
    // `default` first: its pins reach the other modules.
    let mut names: Vec<String> = tree.modules.keys().cloned().collect();
    names.sort_by_key(|m| (m != DEFAULT_MODULE, m.clone()));
    for m in &names {
        for dist in module_dists(tree, m) {
            for arch in &archs {
                let wrong = disagreements(tree, m, &dist, arch);
                if wrong.is_empty() {
                    continue;
                }
                for (ctype, k, v) in &wrong {
                    let Some(v) = v else {
                        return Err(VersionsError::Pin {
                            pin: format!("{ctype} {k} [{m} {dist} {arch}]"),
                            message: "SONiC's merge yields a pin the lock does not have there"
                                .into(),
                        });
                    };
                    let comps = tree.modules.entry(m.clone()).or_default();
                    let pos = comps
                        .iter()
                        .position(|c| c.ctype == *ctype && c.dist == dist && c.arch == *arch);
                    let c = match pos {
                        Some(p) => &mut comps[p],
                        None => {
                            comps.push(Component::new(ctype, &dist, arch));
                            let last = comps.len() - 1;
                            &mut comps[last]
                        }
                    };
                    c.versions.insert(k.clone(), v.clone());
                    restated += 1;
                }
                if let Some((ctype, k, _)) = disagreements(tree, m, &dist, arch).first() {
                    return Err(VersionsError::Pin {
                        pin: format!("{ctype} {k} [{m} {dist} {arch}]"),
                        message: "SONiC's merge cannot be made to yield the lock's pin".into(),
                    });
                }
            }
        }
    }
    // A pin restated in `default` could change a module checked before it; check all again.
    for m in &names {
        for dist in module_dists(tree, m) {
            for arch in &archs {
                if let Some((ctype, k, _)) = disagreements(tree, m, &dist, arch).first() {
                    return Err(VersionsError::Pin {
                        pin: format!("{ctype} {k} [{m} {dist} {arch}]"),
                        message: "SONiC's merge cannot be made to yield the lock's pin".into(),
                    });
                }
            }
        }
    }
    Ok(restated)
}

/// How an export splits the lock between images.
#[derive(Debug, Clone, Default)]
pub struct SplitOptions {
    /// `FROM` edges; SONiC's own edges ([`ImageGraph::with_sonic_edges`]) are added.
    pub graph: ImageGraph,
    /// Write every pin where the lock puts it: no edges, nothing left out.
    pub no_split: bool,
    /// Architectures to check and evaluate besides those the lock names.
    pub archs: Vec<String>,
}

fn pin_count(tree: &VersionTree) -> usize {
    tree.modules
        .values()
        .flatten()
        .map(|c| c.versions.len())
        .sum()
}

/// The tree a lock exports to, split between images, and the export summary.
/// Also returns every module the lock names (a module can lose all its pins
/// to its parent and still have an effective set).
pub fn split_tree(
    lock: &Lock,
    opts: &SplitOptions,
) -> Result<(VersionTree, ExportSummary, Vec<String>), VersionsError> {
    let (mut tree, mut summary) = lock_to_tree(lock)?;
    if !opts.no_split {
        let before = pin_count(&tree);
        merge_dbg_modules(&mut tree);
        // A debug docker's pin that replaces its docker's pin is one line, not two.
        summary.pins = summary
            .pins
            .saturating_sub(before.saturating_sub(pin_count(&tree)));
    }
    let modules: Vec<String> = tree.modules.keys().cloned().collect();
    if !opts.no_split {
        let graph = opts
            .graph
            .clone()
            .with_sonic_edges(modules.iter().map(String::as_str));
        summary.inherited = reduce(&mut tree, &graph);
    }
    summary.restated = restate(&mut tree, &opts.archs)?;
    summary.pins = summary.pins - summary.inherited + summary.restated;
    Ok((tree, summary, modules))
}

/// Writes the lock as a `files/build/versions/` tree, split between images.
pub fn export(
    lock: &Lock,
    opts: &SplitOptions,
    out_dir: &Path,
) -> Result<ExportSummary, VersionsError> {
    let (tree, summary, _) = split_tree(lock, opts)?;
    super::sonic_versions::export_tree(&tree, summary, out_dir)
}

/// One effective file's text as `generate` writes it: sorted case-insensitively,
/// one `key==value` a line, a final newline; a Python version that is not
/// PEP 440 is written `name===version`.
pub fn render_effective(ctype: &str, pins: &BTreeMap<String, String>) -> String {
    let mut keys: Vec<&String> = pins.keys().collect();
    keys.sort_by(|a, b| (a.to_lowercase(), *a).cmp(&(b.to_lowercase(), *b)));
    let py = ctype == "py2" || ctype == "py3";
    let mut out = String::new();
    for k in keys {
        let v = &pins[k];
        let arbitrary = py && !k.ends_with('=') && v.parse::<pep440_rs::Version>().is_err();
        out.push_str(k);
        if arbitrary {
            out.push('=');
        }
        out.push_str("==");
        out.push_str(v);
        out.push('\n');
    }
    out
}

/// Every module's effective set as files `<module>/<dist>-<arch>/versions-<ctype>`
/// (the layout `generate -t` writes), plus [`EFFECTIVE_INDEX`] listing
/// `module dist arch` a line, for `modules` on the dists each names and on `archs`.
pub fn effective_files(
    tree: &VersionTree,
    modules: &[String],
    archs: &[String],
) -> BTreeMap<PathBuf, String> {
    let mut files = BTreeMap::new();
    let mut index = String::new();
    let mut names: BTreeSet<&str> = modules.iter().map(String::as_str).collect();
    names.extend(tree.modules.keys().map(String::as_str));
    for m in names {
        for dist in module_dists(tree, m) {
            for arch in archs {
                index.push_str(&format!("{m} {dist} {arch}\n"));
                let dir = PathBuf::from(m).join(format!("{dist}-{arch}"));
                for (ctype, pins) in lock_effective(tree, m, &dist, arch) {
                    files.insert(
                        dir.join(format!("versions-{ctype}")),
                        render_effective(&ctype, &pins),
                    );
                }
            }
        }
    }
    files.insert(PathBuf::from(EFFECTIVE_INDEX), index);
    files
}
