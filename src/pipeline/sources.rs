//! The lock's account of its sources: where each ecosystem was read, how "as
//! of the cutoff" was read there, and what could not be read at all. A lock
//! made where GitHub or snapshot.debian.org is out of reach says so in its
//! header and as gaps, so nobody takes it for complete.

use crate::lock::{Gap, Lock, SourceRecord};
use crate::manifest::Ecosystem;
use crate::source::debian::archive::Location;
use crate::source::error::origin_of;
use crate::source::index::{IndexReport, Missing, MissingCause, Sources};
use std::collections::{BTreeMap, BTreeSet};

/// Names listed in a gap's message before it says how many more there are.
const NAMES_SHOWN: usize = 40;

/// Records in `lock` the sources `report` was read from and, as gaps, what
/// could not be read; normalises the lock.
pub fn record(lock: &mut Lock, sources: &Sources, report: &IndexReport) {
    lock.sources = records(sources, report);
    lock.gaps.extend(gaps(report));
    lock.normalize();
}

/// True when `m` is missing because a source could not be read at all (an
/// unreachable host, a suite no source serves here, an added apt repository
/// out of reach) rather than because nothing matched: such a miss is a gap.
pub fn is_gap(m: &Missing) -> bool {
    matches!(
        m.cause,
        MissingCause::Unreachable { .. }
            | MissingCause::NoSuiteIndexed { .. }
            | MissingCause::AddedSourceUnread
    )
}

/// Removes from `manifest` the dependencies that `report` could not resolve
/// because their source is out of reach, so the images that declare them are
/// solved without them; [`gaps`] and the index's source gaps record them in
/// the lock. Returns how many were removed.
pub fn drop_gapped(manifest: &mut crate::manifest::Manifest, report: &IndexReport) -> usize {
    let gapped: BTreeSet<(Ecosystem, &str, &str)> = report
        .missing
        .iter()
        .filter(|m| is_gap(m))
        .map(|m| (m.ecosystem, m.name.as_str(), m.origin.as_str()))
        .collect();
    let before = manifest.dependencies.len();
    manifest.dependencies.retain(|d| {
        !gapped.contains(&(d.ecosystem, d.name.as_str(), d.origin.to_string().as_str()))
    });
    before - manifest.dependencies.len()
}

/// Removes the Python dependencies PyPI answered "no such project" for: a
/// name PyPI never had is a wheel the tree builds (swsssdk, sonic-py-common),
/// built before the images that need it. Returns a note for each.
pub fn drop_tree_wheels(
    manifest: &mut crate::manifest::Manifest,
    report: &IndexReport,
) -> Vec<String> {
    let unknown: BTreeSet<(&str, &str)> = report
        .missing
        .iter()
        .filter(|m| m.ecosystem == Ecosystem::Py && m.cause == MissingCause::NoSuchProject)
        .map(|m| (m.name.as_str(), m.origin.as_str()))
        .collect();
    let mut notes = Vec::new();
    manifest.dependencies.retain(|d| {
        let origin = d.origin.to_string();
        let tree =
            d.ecosystem == Ecosystem::Py && unknown.contains(&(d.name.as_str(), origin.as_str()));
        if tree {
            notes.push(format!(
                "{origin}: py {} is no PyPI project: taken as a wheel the tree builds",
                d.name
            ));
        }
        !tree
    });
    notes
}

/// The sources the index read for `report`, each with its as-of rule and
/// whether it answered.
pub fn records(sources: &Sources, report: &IndexReport) -> Vec<SourceRecord> {
    let unreachable: BTreeSet<&str> = report
        .missing
        .iter()
        .filter_map(Missing::unreachable)
        .collect();
    let used = |eco: Ecosystem| report.counts.get(&eco).is_some_and(|c| c.dependencies > 0);
    let mut out = Vec::new();
    let mut add = |eco: Ecosystem, url: &str, as_of: String, note: Option<String>| {
        out.push(SourceRecord {
            ecosystem: eco,
            url: url.to_string(),
            as_of,
            reached: !unreachable.contains(origin_of(url).as_str()),
            note,
        })
    };
    for s in &report.suites {
        let as_of = match (&sources.debian, &s.snapshot) {
            (_, Some(ts)) => format!("snapshot {ts}"),
            (Location::Mirror { .. }, None) => format!(
                "the index served today (Release date {}): a plain mirror keeps no history",
                s.date.as_deref().unwrap_or("unknown")
            ),
            (Location::Snapshot { .. }, None) => "the snapshot at the cutoff".to_string(),
        };
        add(
            Ecosystem::Deb,
            &s.url,
            as_of,
            Some(format!("signature {}", s.signature.describe())),
        );
    }
    if used(Ecosystem::Py) {
        add(
            Ecosystem::Py,
            sources.pypi.base(),
            "the newest release uploaded at or before the cutoff".into(),
            None,
        );
    }
    if used(Ecosystem::Go) {
        add(
            Ecosystem::Go,
            sources.go.base(),
            "the newest version the proxy dates at or before the cutoff".into(),
            None,
        );
    }
    let mut hosts: BTreeSet<(Ecosystem, String)> = BTreeSet::new();
    for p in &report.git {
        hosts.insert((Ecosystem::Git, origin_of(&p.url)));
    }
    for p in &report.web {
        hosts.insert((Ecosystem::Web, origin_of(&p.url)));
    }
    for m in &report.missing {
        if matches!(m.ecosystem, Ecosystem::Git | Ecosystem::Web)
            && let Some(h) = m.unreachable()
        {
            hosts.insert((m.ecosystem, h.to_string()));
        }
    }
    for (eco, host) in hosts {
        let as_of = match eco {
            Ecosystem::Git => "the declared branch's newest commit at or before the cutoff",
            _ => {
                "moving GitHub URLs at the commit or release of the cutoff, Debian pool URLs \
                 through snapshot.debian.org, anything else as served today, pinned by hash"
            }
        };
        add(eco, &host, as_of.into(), None);
    }
    if used(Ecosystem::Docker) {
        add(
            Ecosystem::Docker,
            sources.docker.hub(),
            "the tag's digest as of the cutoff".into(),
            None,
        );
    }
    out.sort();
    out.dedup();
    out
}

/// One gap per source that could not be reached and per suite that was not
/// indexed, naming every dependency left unresolved because of it.
pub fn gaps(report: &IndexReport) -> Vec<Gap> {
    let mut groups: BTreeMap<(String, Ecosystem), Vec<&Missing>> = BTreeMap::new();
    for m in &report.missing {
        let why = match &m.cause {
            MissingCause::Unreachable { origin } => {
                format!("{origin} could not be reached from where this lock was made")
            }
            MissingCause::NoSuiteIndexed { suite } => format!("no suite indexed for {suite}"),
            // Added apt repositories have gaps of their own (the index's source gaps).
            _ => continue,
        };
        groups.entry((why, m.ecosystem)).or_default().push(m);
    }
    let mut out = Vec::new();
    for ((why, eco), mut ms) in groups {
        ms.sort_by(|a, b| a.origin.cmp(&b.origin));
        let names: BTreeSet<&str> = ms.iter().map(|m| m.name.as_str()).collect();
        let listed: Vec<&str> = names.iter().copied().take(NAMES_SHOWN).collect();
        let more = names.len().saturating_sub(NAMES_SHOWN);
        let more = if more > 0 {
            format!(" and {more} more")
        } else {
            String::new()
        };
        out.push(Gap {
            origin: ms[0].origin.clone(),
            message: format!(
                "{why}: {eco} dependencies not resolved ({}): {}{more}",
                ms.len(),
                listed.join(", ")
            )
            .replace(|c: char| c.is_control(), " "),
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::Constraint;

    fn missing(
        eco: Ecosystem,
        name: &str,
        origin: &str,
        reason: &str,
        cause: MissingCause,
    ) -> Missing {
        Missing {
            ecosystem: eco,
            name: name.into(),
            constraint: Constraint::None,
            origin: origin.into(),
            reason: reason.into(),
            cause,
        }
    }

    fn unreachable(host: &str) -> MissingCause {
        MissingCause::Unreachable {
            origin: host.into(),
        }
    }

    fn report(missing: Vec<Missing>) -> IndexReport {
        IndexReport {
            schema_version: 1,
            platform: "p".into(),
            cutoff: "2022-12-06T08:47:31Z".into(),
            suites: vec![],
            counts: BTreeMap::new(),
            missing,
            histories: vec![],
            git: vec![],
            web: vec![],
            docker: vec![],
            not_indexed: vec![],
            apt_sources: vec![],
            source_gaps: vec![],
            added: vec![],
            apt_python: Default::default(),
            build_deps: vec![],
        }
    }

    #[test]
    fn gaps_group_by_unreachable_source_and_missing_suite_and_skip_real_misses() {
        let report = report(vec![
            missing(
                Ecosystem::Git,
                "b",
                "rules/b.mk:9",
                "x",
                unreachable("https://github.com"),
            ),
            missing(
                Ecosystem::Git,
                "a",
                "rules/a.mk:3",
                "x",
                unreachable("https://github.com"),
            ),
            missing(
                Ecosystem::Deb,
                "vim",
                "d/Dockerfile.j2:4",
                "no suite indexed for buster",
                MissingCause::NoSuiteIndexed {
                    suite: "buster".into(),
                },
            ),
            missing(
                Ecosystem::Deb,
                "nosuch",
                "d/Dockerfile.j2:5",
                "not in any index at the cutoff",
                MissingCause::NoVersionAtCutoff,
            ),
        ]);
        let g = gaps(&report);
        assert_eq!(g.len(), 2, "{g:?}");
        let git = g.iter().find(|g| g.message.contains("github")).unwrap();
        assert_eq!(git.origin, "rules/a.mk:3");
        assert!(
            git.message
                .ends_with("git dependencies not resolved (2): a, b"),
            "{}",
            git.message
        );
        let buster = g.iter().find(|g| g.message.contains("buster")).unwrap();
        assert_eq!(
            buster.message,
            "no suite indexed for buster: deb dependencies not resolved (1): vim"
        );
    }

    /// Each cause, with a reason that says nothing (the decision must not read it).
    fn one_of_each() -> Vec<Missing> {
        [
            ("u", unreachable("https://github.com")),
            ("p", MissingCause::NoSuchProject),
            (
                "s",
                MissingCause::NoSuiteIndexed {
                    suite: "buster".into(),
                },
            ),
            ("a", MissingCause::AddedSourceUnread),
            ("v", MissingCause::NoVersionAtCutoff),
            ("t", MissingCause::NotExpanded),
            ("e", MissingCause::Error),
        ]
        .into_iter()
        .map(|(n, c)| missing(Ecosystem::Py, n, "f:1", "-", c))
        .collect()
    }

    #[test]
    fn a_gap_is_an_unreachable_source_an_unindexed_suite_or_an_unread_added_source() {
        let gap: Vec<String> = one_of_each()
            .into_iter()
            .filter(is_gap)
            .map(|m| m.name)
            .collect();
        assert_eq!(gap, ["u", "s", "a"]);
    }

    #[test]
    fn only_no_such_project_makes_a_tree_wheel() {
        let report = report(one_of_each());
        let mut m =
            crate::manifest::Manifest::new("p".into(), "c".into(), "d".into(), vec![], vec![]);
        for x in &report.missing {
            m.dependencies.push(crate::manifest::Dependency {
                ecosystem: Ecosystem::Py,
                name: x.name.clone(),
                constraint: Constraint::None,
                pinned: false,
                origin: crate::manifest::Origin {
                    file: "f".into(),
                    line: 1,
                },
                context: Default::default(),
                attrs: Default::default(),
            });
        }
        let notes = drop_tree_wheels(&mut m, &report);
        assert_eq!(notes.len(), 1, "{notes:?}");
        let left: Vec<&str> = m.dependencies.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(left, ["u", "s", "a", "v", "t", "e"]);
        // Gaps in the lock: one for the host, one for the suite, none for the others.
        let g = gaps(&report);
        assert_eq!(g.len(), 2, "{g:?}");
    }
}
