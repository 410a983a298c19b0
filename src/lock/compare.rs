//! Two `files/build/versions/` trees compared as SONiC's build reads them:
//! per module and kind, the *effective* sets (what `versions_manager.py
//! generate` yields: `default` merged in, `host-base-image` under
//! `host-image`), not the files, since one pin can sit in different files of
//! two trees and mean the same build.

use super::sonic_versions::{ALL, DEFAULT_MODULE, DEFAULT_OVERWRITE, VersionTree, effective};
use super::split::module_dists;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet};

/// One module and kind (`versions-deb-bullseye`, `versions-py3`, ...) compared.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct KindRow {
    /// The module (`docker-database`, `sonic-slave-bullseye`, `host-image`, ...).
    pub module: String,
    /// The kind, named like the version file it comes from.
    pub kind: String,
    /// The component type (`deb`, `py3`, `web`, `git`, ...).
    pub ctype: String,
    /// Names pinned to the same version in both.
    pub exact: usize,
    /// Names pinned in both to different versions: (name, recorded, ours).
    pub other_version: Vec<(String, String, String)>,
    /// Names only the recorded tree pins: (name, recorded version).
    pub missing: Vec<(String, String)>,
    /// Names only our tree pins: (name, our version).
    pub extra: Vec<(String, String)>,
}

impl KindRow {
    /// Whether the two sets differ at all.
    pub fn differs(&self) -> bool {
        !(self.other_version.is_empty() && self.missing.is_empty() && self.extra.is_empty())
    }
}

/// Counts over several rows.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Totals {
    /// Module x kind rows.
    pub rows: usize,
    /// Rows that differ.
    pub differing_rows: usize,
    /// Same name, same version.
    pub exact: usize,
    /// Same name, other version.
    pub other_version: usize,
    /// Recorded only.
    pub missing: usize,
    /// Ours only.
    pub extra: usize,
}

impl Totals {
    /// Names the recorded tree pins.
    pub fn recorded(&self) -> usize {
        self.exact + self.other_version + self.missing
    }
}

/// The comparison of two trees for one architecture.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Comparison {
    /// The architecture the effective sets are taken for.
    pub arch: String,
    /// One row per module and kind present in either tree.
    pub rows: Vec<KindRow>,
}

impl Comparison {
    /// Totals per component type, and over all under `all`.
    pub fn totals(&self) -> BTreeMap<String, Totals> {
        let mut out: BTreeMap<String, Totals> = BTreeMap::new();
        for r in &self.rows {
            for key in [r.ctype.as_str(), ALL] {
                let t = out.entry(key.to_string()).or_default();
                t.rows += 1;
                t.differing_rows += usize::from(r.differs());
                t.exact += r.exact;
                t.other_version += r.other_version.len();
                t.missing += r.missing.len();
                t.extra += r.extra.len();
            }
        }
        out
    }

    /// Whether any row differs.
    pub fn differs(&self) -> bool {
        self.rows.iter().any(KindRow::differs)
    }
}

/// The kind name of a component type's effective set on `dist`, for a module evaluated on `n_dists` dists.
fn kind_name(ctype: &str, dist: &str, n_dists: usize) -> String {
    if dist != ALL && (ctype == "deb" || n_dists > 1) {
        format!("versions-{ctype}-{dist}")
    } else {
        format!("versions-{ctype}")
    }
}

/// A kind's pins by name: a Python pin read as `name===version` keeps its
/// name, and Python names compare as PEP 503 normalizes them (`pip freeze`
/// spells `pkgutil_resolve_name` as the distribution's metadata does; the
/// lock writes `pkgutil-resolve-name`).
fn names(pins: Option<&BTreeMap<String, String>>, ctype: &str) -> BTreeMap<String, String> {
    let py = ctype == "py2" || ctype == "py3";
    pins.into_iter()
        .flatten()
        .map(|(k, v)| {
            let k = match py {
                true => crate::universe::python::normalize(k.trim_end_matches('=')),
                false => k.to_string(),
            };
            (k, v.clone())
        })
        .collect()
}

/// The module name of the rows that compare what every module shares.
pub const ALL_MODULES: &str = "(all modules)";

/// Which modules get rows of their own.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum ModuleScope {
    /// Every module of either tree.
    #[default]
    Both,
    /// Only the modules our tree has (what our platform builds): a release
    /// branch records every platform's dockers.
    Ours,
}

/// Compares the effective sets of every module (but `default`) of either tree
/// (or of ours only), on every dist either names for it, for `arch`. Debian and
/// Python sets are per module; web, git, docker and mirror pins, which
/// `default` gives every module, are compared once over the union of all
/// modules' effective sets (module [`ALL_MODULES`]).
pub fn compare_trees(
    recorded: &VersionTree,
    ours: &VersionTree,
    arch: &str,
    scope: ModuleScope,
) -> Comparison {
    // `default` is no image: it is compared through every module that inherits it.
    let modules: BTreeSet<&String> = match scope {
        ModuleScope::Both => recorded.modules.keys().chain(ours.modules.keys()).collect(),
        ModuleScope::Ours => ours.modules.keys().collect(),
    };
    let modules: BTreeSet<&String> = modules
        .into_iter()
        .filter(|m| *m != DEFAULT_MODULE)
        .collect();
    let per_module = |c: &str| DEFAULT_OVERWRITE.contains(&c);
    let mut rows = Vec::new();
    // Shared kinds: (ctype) -> union of names over modules, for each tree.
    type Union = BTreeMap<String, BTreeMap<String, String>>;
    let (mut shared_r, mut shared_o): (Union, Union) = Default::default();
    for m in modules
        .iter()
        .copied()
        .chain(std::iter::once(&DEFAULT_MODULE.to_string()))
    {
        let mut dists: BTreeSet<String> = module_dists(recorded, m).into_iter().collect();
        dists.extend(module_dists(ours, m));
        if dists.len() > 1 {
            dists.remove(ALL);
        }
        for dist in &dists {
            let r = effective(recorded, m, dist, arch);
            let o = effective(ours, m, dist, arch);
            let ctypes: BTreeSet<&String> = r.keys().chain(o.keys()).collect();
            for ctype in ctypes {
                let rp = names(r.get(ctype), ctype);
                let op = names(o.get(ctype), ctype);
                if !per_module(ctype) {
                    shared_r.entry(ctype.clone()).or_default().extend(rp);
                    shared_o.entry(ctype.clone()).or_default().extend(op);
                    continue;
                }
                if m == DEFAULT_MODULE {
                    continue;
                }
                rows.push(row(
                    m,
                    &kind_name(ctype, dist, dists.len()),
                    ctype,
                    &rp,
                    &op,
                ));
            }
        }
    }
    let ctypes: BTreeSet<&String> = shared_r.keys().chain(shared_o.keys()).collect();
    let empty = BTreeMap::new();
    for ctype in ctypes {
        let rp = shared_r.get(ctype).unwrap_or(&empty);
        let op = shared_o.get(ctype).unwrap_or(&empty);
        rows.push(row(ALL_MODULES, &kind_name(ctype, ALL, 1), ctype, rp, op));
    }
    Comparison {
        arch: arch.to_string(),
        rows,
    }
}

/// One module and kind: recorded `rp` against ours `op`.
fn row(
    module: &str,
    kind: &str,
    ctype: &str,
    rp: &BTreeMap<String, String>,
    op: &BTreeMap<String, String>,
) -> KindRow {
    let mut row = KindRow {
        module: module.to_string(),
        kind: kind.to_string(),
        ctype: ctype.to_string(),
        ..KindRow::default()
    };
    for (name, rv) in rp {
        match op.get(name) {
            Some(ov) if ov == rv => row.exact += 1,
            Some(ov) => row
                .other_version
                .push((name.clone(), rv.clone(), ov.clone())),
            None => row.missing.push((name.clone(), rv.clone())),
        }
    }
    for (name, ov) in op {
        if !rp.contains_key(name) {
            row.extra.push((name.clone(), ov.clone()));
        }
    }
    row
}
