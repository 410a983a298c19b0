//! Go's minimal version selection: every module required (transitively) from
//! the roots at the versions their go.mod files name, and for each module the
//! highest of the versions required. Requirements are `>= v` constraints on
//! Go packages of the universe (a go.mod `require m v`).

use crate::universe::{CandidateId, PackageKey, Universe, UniverseError, VersionConstraint};
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
