//! pip constraints files for `PIP_CONSTRAINT`. Unlike SONiC's `pip install -c`,
//! the environment variable also reaches the PEP 517 isolated build
//! environments, so build requirements (Cython under PyYAML 5.4.1) are pinned too.

use super::lockfile::{Lock, check_version};
use super::sonic_versions::{VersionsError, effective, lock_to_tree, scopes};
use crate::manifest::{Ecosystem, check_name};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// `name==version` lines, sorted case-insensitively, each ending in a newline.
/// Refuses a name or version that is not Python's: pip reads a line such as
/// `-ihttps://...` as an option (`--index-url`), not a constraint.
pub fn render_constraints(versions: &BTreeMap<String, String>) -> Result<String, VersionsError> {
    for (k, v) in versions {
        let refuse = |message: String| VersionsError::Pin {
            pin: format!("py {}", k.escape_debug()),
            message: format!("{message} (refusing to write a pip constraint)"),
        };
        // `name=` carries a version pip can only match literally (`name===version`).
        let name = k.strip_suffix('=').unwrap_or(k);
        check_name(Ecosystem::Py, name).map_err(|e| refuse(e.to_string()))?;
        check_version(Ecosystem::Py, v).map_err(|e| refuse(e.to_string()))?;
    }
    let mut keys: Vec<&String> = versions.keys().collect();
    keys.sort_by(|a, b| (a.to_lowercase(), *a).cmp(&(b.to_lowercase(), *b)));
    Ok(keys
        .into_iter()
        .map(|k| format!("{k}=={}\n", versions[k]))
        .collect())
}

/// Files `<image>/constraints-<py2|py3>[-<suite|all>[-<arch>]].txt` (relative path → text),
/// merged for each image exactly as the build merges its `versions-py*` files.
pub fn render(lock: &Lock) -> Result<BTreeMap<PathBuf, String>, VersionsError> {
    let (tree, _) = lock_to_tree(lock)?;
    let mut files = BTreeMap::new();
    for module in tree.modules.keys() {
        let (dists, archs) = scopes(&tree, module, &["py2", "py3"]);
        let mut dist_list = vec!["all".to_string()];
        dist_list.extend(dists);
        let mut arch_list = vec!["all".to_string()];
        arch_list.extend(archs);
        for dist in &dist_list {
            for arch in &arch_list {
                let eff = effective(&tree, module, dist, arch);
                for py in ["py2", "py3"] {
                    let Some(pins) = eff.get(py) else { continue };
                    // Named like SONiC's version files: `-<dist>-<arch>` with `all` for any dist.
                    let mut name = format!("constraints-{py}");
                    if arch != "all" {
                        name.push_str(&format!("-{dist}-{arch}"));
                    } else if dist != "all" {
                        name.push_str(&format!("-{dist}"));
                    }
                    name.push_str(".txt");
                    files.insert(PathBuf::from(module).join(name), render_constraints(pins)?);
                }
            }
        }
    }
    Ok(files)
}
