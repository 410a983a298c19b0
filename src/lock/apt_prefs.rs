//! Apt preferences (`Package`/`Pin`/`Pin-Priority` stanzas) for every image,
//! suite and architecture, with the same merge the build applies to its
//! version files, so the stanzas are exactly what lands in
//! `/etc/apt/preferences.d/` of that image.

use super::lockfile::{Lock, check_version};
use super::sonic_versions::{VersionsError, effective, lock_to_tree, scopes};
use crate::manifest::{Ecosystem, check_name};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::PathBuf;

/// Priority SONiC gives its pins: above 1000 would allow downgrades of installed
/// packages, below 990 would lose to the target release.
pub const PIN_PRIORITY: u32 = 999;

/// Stanzas for `versions` (package → version), sorted case-insensitively.
/// Refuses a name or version that is not Debian's: apt reads a `Package:` value
/// such as `*` or `/lib.*/` as a pattern that would pin every package.
pub fn render_stanzas(
    versions: &BTreeMap<String, String>,
    priority: u32,
) -> Result<String, VersionsError> {
    for (k, v) in versions {
        let refuse = |message: String| VersionsError::Pin {
            pin: format!("deb {}", k.escape_debug()),
            message: format!("{message} (refusing to write an apt preference)"),
        };
        check_name(Ecosystem::Deb, k).map_err(|e| refuse(e.to_string()))?;
        check_version(Ecosystem::Deb, v).map_err(|e| refuse(e.to_string()))?;
    }
    let mut keys: Vec<&String> = versions.keys().collect();
    keys.sort_by(|a, b| (a.to_lowercase(), *a).cmp(&(b.to_lowercase(), *b)));
    let mut out = String::new();
    for (i, k) in keys.into_iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        let _ = write!(
            out,
            "Package: {k}\nPin: version {}\nPin-Priority: {priority}\n",
            versions[k]
        );
    }
    Ok(out)
}

/// Files `<image>/01-versions-deb-<suite|all>[-<arch>]` (relative path → text), one per
/// image and scope that pins any Debian package. `all` stands for a suite no
/// version file names; `<arch>` is omitted for the pins that hold on every
/// architecture.
pub fn render(lock: &Lock) -> Result<BTreeMap<PathBuf, String>, VersionsError> {
    let (tree, _) = lock_to_tree(lock)?;
    let mut files = BTreeMap::new();
    for module in tree.modules.keys() {
        let (dists, archs) = scopes(&tree, module, &["deb"]);
        // `all`: what an image gets on a suite that no file names.
        let mut dist_list = vec!["all".to_string()];
        dist_list.extend(dists);
        for dist in &dist_list {
            let mut arch_list = vec!["all".to_string()];
            arch_list.extend(archs.iter().cloned());
            for arch in arch_list {
                let eff = effective(&tree, module, dist, &arch);
                let Some(debs) = eff.get("deb") else { continue };
                let mut name = format!("01-versions-deb-{dist}");
                if arch != "all" {
                    name.push('-');
                    name.push_str(&arch);
                }
                files.insert(
                    PathBuf::from(module).join(name),
                    render_stanzas(debs, PIN_PRIORITY)?,
                );
            }
        }
    }
    Ok(files)
}
