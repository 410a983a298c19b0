//! `apt-get build-dep SOURCE` in a script installs that source package's
//! `Build-Depends`, `Build-Depends-Arch` and `Build-Depends-Indep`, as the
//! suites' `Sources` index gives them for the newest version apt sees: the
//! slaves' `build-dep linux`, `build-dep openssh`, `build-dep isc-dhcp`. The
//! crawl records the request (`deb-src`, `action=build-dep`); the index stage
//! brings the stanzas; this turns them into the image's apt transaction.

use crate::crawl::debcontrol;
use crate::manifest::{Dependency, Ecosystem, Manifest};
use crate::solve::input::{arch_holds, profiles_hold};
use crate::source::suitecache::SourceBuildDeps;
use crate::universe::suite::dist_of;
use crate::universe::version::scheme_for;

/// The `deb` entries that each `apt-get build-dep` of `m` installs, from the
/// `found` stanzas (distribution, stanza) of the `indexed` distributions:
/// relations whose `[arch]` excludes `arch` or whose `<profile>` needs a
/// profile are left out, as apt does with no profile given. With a note for
/// each request no stanza answers and each relation that cannot be read.
pub fn build_dep_dependencies(
    m: &Manifest,
    found: &[(String, SourceBuildDeps)],
    indexed: &std::collections::BTreeSet<String>,
    arch: &str,
) -> (Vec<Dependency>, Vec<String>) {
    let debian_order = scheme_for(Ecosystem::DebSrc);
    let mut deps = Vec::new();
    let mut notes = Vec::new();
    for d in m.dependencies.iter().filter(|d| {
        d.ecosystem == Ecosystem::DebSrc
            && d.attrs.get("action").is_some_and(|a| a == "build-dep")
            && !d.attrs.contains_key("after-freeze")
    }) {
        let dist = d.context.suite.as_deref().map(dist_of).unwrap_or("");
        let newest = found
            .iter()
            .filter(|(x, s)| s.name == d.name && (dist.is_empty() || x == dist))
            .map(|(_, s)| s)
            .max_by(|a, b| debian_order.compare(&a.version, &b.version));
        let Some(stanza) = newest else {
            let why = match dist.is_empty() || indexed.contains(dist) {
                true => "no source package of that name at the cutoff",
                false => "no suite of its distribution was indexed",
            };
            notes.push(format!(
                "{}: apt-get build-dep {} ({}): {why}; its build dependencies are not installed",
                d.origin,
                d.name,
                if dist.is_empty() {
                    "any distribution"
                } else {
                    dist
                }
            ));
            continue;
        };
        let (entries, diags) =
            debcontrol::relation_text(&stanza.relations, "build-dep", &d.context, &d.origin);
        notes.extend(diags.into_iter().map(|g| {
            format!(
                "{}: apt-get build-dep {} {}: {}",
                g.origin, stanza.name, stanza.version, g.message
            )
        }));
        let of = format!("{} {}", stanza.name, stanza.version);
        deps.extend(
            entries
                .into_iter()
                .filter(|e| {
                    e.attrs
                        .get("architectures")
                        .is_none_or(|a| arch_holds(a, arch))
                        && e.attrs
                            .get("profiles")
                            .is_none_or(|f| profiles_hold(f, &[]))
                })
                .map(|mut e| {
                    e.attrs.insert("build-dep-of".into(), of.clone());
                    e
                }),
        );
    }
    (deps, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Constraint, Context, Origin};

    fn request(name: &str) -> Dependency {
        Dependency {
            ecosystem: Ecosystem::DebSrc,
            name: name.into(),
            constraint: Constraint::None,
            pinned: false,
            origin: Origin {
                file: "sonic-slave-bullseye/Dockerfile.j2".into(),
                line: 461,
            },
            context: Context {
                image: Some("sonic-slave-bullseye".into()),
                suite: Some("bullseye".into()),
                transaction: Some(6),
                ..Context::default()
            },
            attrs: [("action".to_string(), "build-dep".to_string())].into(),
        }
    }

    fn stanza(version: &str, relations: &str) -> (String, SourceBuildDeps) {
        (
            "bullseye".into(),
            SourceBuildDeps {
                name: "linux".into(),
                version: version.into(),
                relations: relations.into(),
            },
        )
    }

    #[test]
    fn the_newest_version_s_build_dependencies_for_the_architecture() {
        let m = Manifest::new(
            "p".into(),
            "c".into(),
            "2022-12-06T08:47:31Z".into(),
            vec![request("linux"), request("nosuch")],
            vec![],
        );
        let found = [
            stanza("5.10.140-1", "old-dev"),
            stanza(
                "5.10.158-2",
                "debhelper-compat (= 12), gcc-10 [amd64] | gcc, libelf-dev <!stage1>, kernel-wedge [!amd64], python3-sphinx <!nodoc>, dwarves:native",
            ),
        ];
        let indexed = ["bullseye".to_string()].into();
        let (deps, notes) = build_dep_dependencies(&m, &found, &indexed, "amd64");
        let got: Vec<(&str, Option<&str>)> = deps
            .iter()
            .map(|d| {
                (
                    d.name.as_str(),
                    d.attrs.get("alternatives").map(String::as_str),
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                ("debhelper-compat", None),
                ("gcc-10", Some("gcc-10 [amd64] | gcc")),
                ("gcc", Some("gcc-10 [amd64] | gcc")),
                ("libelf-dev", None),
                ("python3-sphinx", None),
                ("dwarves", None),
            ]
        );
        let first = &deps[0];
        assert_eq!(first.ecosystem, Ecosystem::Deb);
        assert_eq!(first.constraint, Constraint::Exact("12".into()));
        assert_eq!(first.context.transaction, Some(6));
        assert_eq!(
            first.origin.to_string(),
            "sonic-slave-bullseye/Dockerfile.j2:461"
        );
        assert_eq!(first.attrs["build-dep-of"], "linux 5.10.158-2");
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert!(
            notes[0].contains("apt-get build-dep nosuch (bullseye): no source package"),
            "{notes:?}"
        );
        // A request in a distribution that was not indexed says so.
        let mut buster = request("linux");
        buster.context.suite = Some("buster".into());
        let m = Manifest::new(
            "p".into(),
            "c".into(),
            "2022-12-06T08:47:31Z".into(),
            vec![buster],
            vec![],
        );
        let (deps, notes) = build_dep_dependencies(&m, &found, &indexed, "amd64");
        assert!(deps.is_empty());
        assert!(
            notes[0].contains("no suite of its distribution was indexed"),
            "{notes:?}"
        );
    }
}
