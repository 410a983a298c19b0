//! Go's minimal version selection: every module required (transitively) from
//! the roots at the versions their go.mod files name, and for each module the
//! highest of the versions required. Requirements are `>= v` constraints on
//! Go packages of the universe (a go.mod `require m v`).

use crate::manifest::Ecosystem;
use crate::universe::{
    CandidateId, PackageKey, Universe, UniverseError, VersionConstraint, scheme_for,
};
use std::collections::{BTreeMap, HashMap};

/// Runs MVS from `roots` (candidates of the main module or of direct requirements).
pub fn minimal_version_selection(
    u: &Universe,
    roots: &[CandidateId],
) -> Result<BTreeMap<PackageKey, String>, UniverseError> {
    let mut chosen: HashMap<crate::universe::PackageId, CandidateId> = HashMap::new();
    let mut visited = std::collections::HashSet::new();
    let mut stack: Vec<CandidateId> = roots.to_vec();
    while let Some(c) = stack.pop() {
        if !visited.insert(c) {
            continue;
        }
        let cand = u.candidate(c);
        let s = u.scheme(cand.package);
        match chosen.get(&cand.package) {
            Some(&old) if s.compare(&u.candidate(old).version, &cand.version).is_ge() => {}
            _ => {
                chosen.insert(cand.package, c);
            }
        }
        for r in &cand.depends {
            for alt in r.alternatives.iter().take(1) {
                let v = match &alt.constraint {
                    VersionConstraint::Cmp(_, v) => v.clone(),
                    _ => continue,
                };
                let d = u.find_version(alt.package, &v).ok_or_else(|| {
                    UniverseError::UnknownVersion {
                        package: u.key(alt.package).to_string(),
                        version: v.clone(),
                    }
                })?;
                stack.push(d);
            }
        }
    }
    Ok(chosen
        .into_iter()
        .map(|(p, c)| (u.key(p).clone(), u.candidate(c).version.clone()))
        .collect())
}

/// Go's version order: semantic versions after the `v`, by precedence (pseudo-versions
/// are pre-releases of the next patch, so they sort as Go sorts them).
fn go_compare(a: &str, b: &str) -> std::cmp::Ordering {
    scheme_for(Ecosystem::Go).compare(a, b)
}

/// Reads the requirements of `module@version` (its go.mod); `E` is the reader's own
/// error, which selection only reports.
pub type GoModReader<'a, E> = dyn Fn(&str, &str) -> Result<Vec<(String, String)>, E> + 'a;

/// The result of minimal version selection for one main module.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BuildList {
    /// Module path -> selected version.
    pub selected: BTreeMap<String, String>,
    /// Module path -> the modules (or `main`) whose go.mod asked for the selected version.
    pub required_by: BTreeMap<String, std::collections::BTreeSet<String>>,
    /// go.mod files that could not be read (their requirements are missing from the list).
    pub notes: Vec<String>,
}

/// Minimal version selection over the module graph: starting from the main
/// module's requirements, every reachable `module@version` contributes its
/// go.mod's requirements (read through `requires`), and each module gets the
/// highest version anything requires. Without `requires`, the main module's
/// own list is the answer (a tidy go.mod lists every module the build needs).
pub fn select<E: std::fmt::Display>(
    roots: &[(String, String)],
    requires: Option<&GoModReader<'_, E>>,
) -> BuildList {
    let mut out = BuildList::default();
    let mut visited = std::collections::BTreeSet::new();
    let mut queue: std::collections::VecDeque<(String, String, String)> = roots
        .iter()
        .map(|(m, v)| (m.clone(), v.clone(), "main".to_string()))
        .collect();
    while let Some((m, v, from)) = queue.pop_front() {
        match out.selected.get(&m) {
            Some(have) if go_compare(have, &v).is_gt() => {}
            Some(have) if go_compare(have, &v).is_eq() => {
                out.required_by.entry(m.clone()).or_default().insert(from);
            }
            _ => {
                out.selected.insert(m.clone(), v.clone());
                out.required_by.insert(m.clone(), [from].into());
            }
        }
        if !visited.insert((m.clone(), v.clone())) {
            continue;
        }
        let Some(req) = requires else { continue };
        match req(&m, &v) {
            Ok(list) => {
                for (dm, dv) in list {
                    queue.push_back((dm, dv, m.clone()));
                }
            }
            Err(e) => out.notes.push(format!("go.mod of {m}@{v} not read: {e}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_highest_required_version_wins_across_the_graph() {
        let graph = |m: &str, v: &str| -> Result<Vec<(String, String)>, String> {
            Ok(match (m, v) {
                ("a", "v1.0.0") => vec![("c".into(), "v1.2.0".into())],
                ("b", "v1.1.0") => vec![("c".into(), "v1.3.0".into())],
                ("c", "v1.3.0") => vec![("d".into(), "v0.0.0-20200101000000-abcdefabcdef".into())],
                ("c", "v1.2.0") => vec![("e".into(), "v2.0.0+incompatible".into())],
                ("d", _) => return Err("410 gone".into()),
                _ => vec![],
            })
        };
        let roots = vec![
            ("a".to_string(), "v1.0.0".to_string()),
            ("b".to_string(), "v1.1.0".to_string()),
            ("c".to_string(), "v1.1.0".to_string()),
        ];
        let bl = select(&roots, Some(&graph));
        let got: Vec<(&str, &str)> = bl
            .selected
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("a", "v1.0.0"),
                ("b", "v1.1.0"),
                ("c", "v1.3.0"),
                ("d", "v0.0.0-20200101000000-abcdefabcdef"),
                // Reached through c v1.2.0, which is not selected: MVS still counts it.
                ("e", "v2.0.0+incompatible"),
            ]
        );
        assert_eq!(bl.required_by["c"].iter().collect::<Vec<_>>(), vec!["b"]);
        assert_eq!(bl.notes.len(), 1);
        // Without go.mod files, the main module's list.
        let bl = select::<String>(&roots, None);
        assert_eq!(bl.selected["c"], "v1.1.0");
        assert!(go_compare("v1.10.0", "v1.9.0").is_gt());
        assert!(go_compare("v0.0.0-2020", "v0.0.1").is_lt());
    }
}
