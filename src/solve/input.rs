//! Root requirements from a manifest: the Debian dependencies of each image,
//! grouped into apt transactions in file order, with their origins.

use crate::manifest::{Constraint, Ecosystem, Manifest};
use crate::universe::{
    CmpOp, RelationKind, Requirement, Universe, UniverseError, VersionConstraint, debian,
};
use std::collections::BTreeMap;

/// Orders transactions of one image: declaring file, transaction index within it.
type TxKey = (String, u32, u32);

/// The apt transactions of one image, in order, each a list of requirements.
pub type Transactions = Vec<Vec<Requirement>>;

/// Transactions, each with whether apt may install Recommends in it.
pub type FlaggedTransactions = Vec<(Vec<Requirement>, bool)>;

/// Groups the manifest's `deb` dependencies by image and transaction and turns
/// them into requirements of `domain` (packages that do not exist stay as
/// requirements nothing satisfies, so the search explains them).
pub fn debian_transactions(
    u: &mut Universe,
    m: &Manifest,
    domain: &str,
) -> Result<BTreeMap<String, Transactions>, UniverseError> {
    Ok(debian_transactions_flagged(u, m, domain)?
        .into_iter()
        .map(|(img, txs)| (img, txs.into_iter().map(|(t, _)| t).collect()))
        .collect())
}

/// Per image, what its `apt-get remove/purge/autoremove` lines take out (the
/// crawler marks them `action=remove`, and `autoremove=true` when an
/// `autoremove` follows them); a removal after SONiC's freeze of the image
/// (`after-freeze`) is left out, since the recorded versions still list it.
pub fn removals(m: &Manifest) -> BTreeMap<String, super::remove::Removal> {
    let mut out: BTreeMap<String, super::remove::Removal> = BTreeMap::new();
    for d in m.dependencies.iter().filter(|d| {
        d.ecosystem == Ecosystem::Deb
            && d.attrs.get("action").is_some_and(|a| a == "remove")
            && !d.attrs.contains_key("after-freeze")
    }) {
        let image = d.context.image.clone().unwrap_or_else(|| "default".into());
        let r = out.entry(image).or_default();
        r.names
            .insert(d.name.split(':').next().unwrap_or(&d.name).to_string());
        r.autoremove |= d.attrs.get("autoremove").is_some_and(|a| a == "true");
    }
    out
}

/// Per image, the canonical names its `pip uninstall` lines take out before
/// SONiC's freeze of the image (`action=remove` on a `py` entry).
pub fn pip_removals(m: &Manifest) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut out: BTreeMap<String, std::collections::BTreeSet<String>> = BTreeMap::new();
    for d in m.dependencies.iter().filter(|d| {
        d.ecosystem == Ecosystem::Py
            && d.attrs.get("action").is_some_and(|a| a == "remove")
            && !d.attrs.contains_key("after-freeze")
    }) {
        let image = d.context.image.clone().unwrap_or_else(|| "default".into());
        out.entry(image)
            .or_default()
            .insert(crate::universe::python::normalize(&d.name));
    }
    out
}

/// [`debian_transactions`], each with whether its command lets apt install
/// Recommends (no `--no-install-recommends` on it).
pub fn debian_transactions_flagged(
    u: &mut Universe,
    m: &Manifest,
    domain: &str,
) -> Result<BTreeMap<String, FlaggedTransactions>, UniverseError> {
    type Rel = Option<(String, String)>;
    let mut grouped: BTreeMap<String, BTreeMap<TxKey, Vec<(Rel, Requirement)>>> = BTreeMap::new();
    let mut no_recommends: std::collections::BTreeSet<(String, TxKey)> = Default::default();
    let built = tree_built(m);
    let none = std::collections::BTreeSet::new();
    for d in &m.dependencies {
        // The crawler marks `apt-get remove/purge` lines with `action=remove`;
        // Build-Depends are rules of their own ([`build_rules`]), not installs.
        if d.ecosystem != Ecosystem::Deb
            || d.attrs.get("action").is_some_and(|a| a == "remove")
            || is_build_dep(d)
        {
            continue;
        }
        let image = d.context.image.clone().unwrap_or_else(|| "default".into());
        let name = d.name.split(':').next().unwrap_or(&d.name);
        debian::check_name(name).map_err(|e| UniverseError::Parse {
            file: d.origin.file.clone(),
            line: d.origin.line as usize,
            message: e.to_string(),
        })?;
        let pid = u.intern(crate::universe::PackageKey::new(
            Ecosystem::Deb,
            domain,
            name,
        ));
        if d.is_archive_depends() {
            let built = built.get(&image).unwrap_or(&none);
            let reqs = grouped
                .entry(image)
                .or_default()
                .entry((String::new(), 0, 0))
                .or_default();
            let wanted = match &d.constraint {
                Constraint::Exact(v) => Some(v.as_str()),
                _ => None,
            };
            let libraries_only = d.attrs.get("only").is_some_and(|o| o == "libraries");
            for r in archive_depends(u, pid, wanted, built, libraries_only) {
                let origin = format!("{} ({name}'s Depends in the archive)", d.origin);
                reqs.push((None, r.with_origin(origin)));
            }
            continue;
        }
        let constraint = match &d.constraint {
            Constraint::Exact(v) => VersionConstraint::Cmp(CmpOp::Eq, v.clone()),
            Constraint::Range(r) => parse_range(r),
            Constraint::None | Constraint::Ref(_) => VersionConstraint::Any,
        };
        let alt = crate::universe::Alternative {
            package: pid,
            constraint,
            arch: crate::universe::ArchQualifier::None,
        };
        let (file, tx) = match with_tree_debs(d) {
            true => (String::new(), 0),
            false => (d.origin.file.clone(), d.context.transaction.unwrap_or(0)),
        };
        // Alternatives of one relation (`a | b`) are one requirement.
        let rel = d
            .attrs
            .get("alternatives")
            .map(|a| (d.origin.to_string(), a.clone()));
        if d.attrs.contains_key("no-install-recommends") {
            no_recommends.insert((image.clone(), (file.clone(), tx, 0)));
        }
        let reqs = grouped
            .entry(image)
            .or_default()
            .entry((file, tx, 0))
            .or_default();
        match reqs.iter_mut().find(|(k, _)| rel.is_some() && *k == rel) {
            Some((_, r)) => r.alternatives.push(alt),
            None => reqs.push((
                rel,
                Requirement {
                    alternatives: vec![alt],
                    kind: RelationKind::Root,
                    origin: Some(d.origin.to_string()),
                },
            )),
        }
    }
    Ok(grouped
        .into_iter()
        .map(|(img, txs)| {
            let txs = txs
                .into_iter()
                .map(|(k, rs)| {
                    let recommends = !no_recommends.contains(&(img.clone(), k));
                    (rs.into_iter().map(|(_, r)| r).collect(), recommends)
                })
                .collect();
            (img, txs)
        })
        .collect())
}

/// Whether an entry is part of the `apt-get -f install` that follows the
/// `dpkg -i` of the tree's debs an image installs (before the image's own
/// transactions): their Depends, and in a `-dbg` docker the packages its
/// generated Dockerfile names on that same command (`_DBG_IMAGE_PACKAGES`).
fn with_tree_debs(d: &crate::manifest::Dependency) -> bool {
    d.attrs.contains_key("installed-by")
        || d.attrs
            .get("via")
            .is_some_and(|v| v == "_DBG_IMAGE_PACKAGES")
}

/// Per image, the names of the tree's debs it has: those it installs and
/// those its `FROM` ancestors installed. Only those satisfy a relation there;
/// elsewhere apt takes the archive's package of that name.
fn tree_built(m: &Manifest) -> BTreeMap<String, std::collections::BTreeSet<String>> {
    let mut out = BTreeMap::new();
    for image in m.images.keys() {
        let mut names = std::collections::BTreeSet::new();
        let mut at = Some(image);
        // A FROM chain is short; the bound only guards against a cycle.
        for _ in 0..m.images.len() {
            let Some(node) = at.and_then(|i| m.images.get(i)) else {
                break;
            };
            names.extend(
                node.debs
                    .iter()
                    .map(|d| d.target.split('_').next().unwrap_or(&d.target).to_string()),
            );
            at = node.parent.as_ref();
        }
        out.insert(image.clone(), names);
    }
    out
}

/// The `Pre-Depends` and `Depends` of the archive's binary package `pid` at
/// `version` when the archive has it, else at the newest version not above
/// it (a rebuild such as `+fips` is newer than what it rebuilds), else at
/// its newest, provided that one is of the same upstream major release (a
/// `frr` 8 links other libraries than the archive's `frr` 7). Relations a
/// `built` package can satisfy are left out, since the tree's own deb
/// satisfies them; with `libraries_only`, so is everything but shared
/// libraries (`lib*`). Empty when the archive has no such package (a deb
/// only the tree makes).
fn archive_depends(
    u: &Universe,
    pid: crate::universe::PackageId,
    version: Option<&str>,
    built: &std::collections::BTreeSet<String>,
    libraries_only: bool,
) -> Vec<Requirement> {
    let cands = u.candidates_of(pid);
    let scheme = u.scheme(pid);
    let pick = version
        .and_then(|v| {
            cands.iter().find(|&&c| {
                scheme.compare(&u.candidate(c).version, v) != std::cmp::Ordering::Greater
            })
        })
        .or_else(|| cands.first());
    let Some(&c) = pick else {
        return Vec::new();
    };
    if let Some(v) = version
        && upstream_major(v) != upstream_major(&u.candidate(c).version)
    {
        return Vec::new();
    }
    u.candidate(c)
        .depends
        .iter()
        .filter(|r| {
            !r.alternatives.iter().any(|a| {
                let name = &u.key(a.package).name;
                built.contains(name) || (libraries_only && !name.starts_with("lib"))
            })
        })
        .map(|r| Requirement {
            alternatives: r.alternatives.clone(),
            kind: RelationKind::Root,
            origin: None,
        })
        .collect()
}

/// A Debian version's upstream major release: `2:2.9.0-14` -> `2`.
fn upstream_major(version: &str) -> &str {
    let upstream = version.split_once(':').map_or(version, |(_, v)| v);
    upstream
        .split(|c: char| !c.is_ascii_alphanumeric())
        .next()
        .unwrap_or(upstream)
}

/// Whether a manifest entry is a `Build-Depends*` relation of a `debian/control`.
pub fn is_build_dep(d: &crate::manifest::Dependency) -> bool {
    d.ecosystem == Ecosystem::Deb
        && d.attrs
            .get("field")
            .is_some_and(|f| f.starts_with("build-depends"))
}

/// Whether a relation's `<profile ...>` restriction formula (as the crawler
/// records it: alternatives of conjunctions of `Enabled("p")`/`Disabled("p")`)
/// holds with the `active` build profiles.
pub fn profiles_hold(formula: &str, active: &[&str]) -> bool {
    let mut groups = Vec::new();
    for group in formula.split("], [") {
        let mut terms = Vec::new();
        let mut rest = group;
        while let Some(i) = rest.find("abled(\"") {
            let enabled = rest[..i].ends_with("En");
            let after = &rest[i + 7..];
            let end = after.find('"').unwrap_or(after.len());
            terms.push((enabled, after[..end].to_string()));
            rest = &after[end..];
        }
        if !terms.is_empty() {
            groups.push(terms);
        }
    }
    groups.is_empty()
        || groups.iter().any(|g| {
            g.iter()
                .all(|(enabled, p)| active.contains(&p.as_str()) == *enabled)
        })
}

/// Whether a relation's `[arch ...]` restriction (space-separated, `!` negates) includes `arch`.
pub fn arch_holds(restriction: &str, arch: &str) -> bool {
    let matches = |a: &str| {
        a == arch
            || a == "any"
            || a == "linux-any"
            || a == format!("any-{arch}")
            || a == format!("linux-{arch}")
    };
    let list: Vec<&str> = restriction.split_whitespace().collect();
    if list.is_empty() {
        return true;
    }
    let (neg, pos): (Vec<&str>, Vec<&str>) = list.iter().partition(|a| a.starts_with('!'));
    if !pos.is_empty() {
        pos.iter().any(|a| matches(a))
    } else {
        !neg.iter().any(|a| matches(a.trim_start_matches('!')))
    }
}

/// The build dependencies of one source package built in an image.
#[derive(Debug, Clone)]
pub struct BuildRule {
    /// The image it is built in (a slave).
    pub image: String,
    /// Its `debian/control`.
    pub control: String,
    /// The apt view of the image's suite.
    pub domain: String,
    /// `build-essential` (implied) and every Build-Depends, -Arch and -Indep
    /// relation that applies to `arch` and the active profiles, alternatives kept together.
    pub requirements: Vec<Requirement>,
}

/// Every source package's Build-Depends as a rule of its own, resolved in
/// `domain_of(suite)` for the image that builds it. `profiles` are the active
/// build profiles (none by default: `<!nocheck>` relations then apply).
pub fn build_rules(
    u: &mut Universe,
    m: &Manifest,
    domain_of: &dyn Fn(Option<&str>) -> String,
    profiles: &[&str],
) -> Result<Vec<BuildRule>, UniverseError> {
    // (image, control file) -> (line, alternatives text) -> alternatives
    type Rel = (u32, String);
    let mut rules: BTreeMap<(String, String), (String, BTreeMap<Rel, Requirement>)> =
        BTreeMap::new();
    for d in m.dependencies.iter().filter(|d| is_build_dep(d)) {
        let domain = domain_of(d.context.suite.as_deref());
        let arch = domain.split('/').nth(1).unwrap_or("amd64").to_string();
        if let Some(a) = d.attrs.get("architectures")
            && !arch_holds(a, &arch)
        {
            continue;
        }
        if let Some(f) = d.attrs.get("profiles") {
            // The crawler records what the build that reads this control activates.
            let mut active: Vec<&str> = profiles.to_vec();
            if let Some(own) = d.attrs.get("build_profiles") {
                active.extend(own.split_whitespace());
            }
            if !profiles_hold(f, &active) {
                continue;
            }
        }
        let name = d.name.split(':').next().unwrap_or(&d.name);
        debian::check_name(name).map_err(|e| UniverseError::Parse {
            file: d.origin.file.clone(),
            line: d.origin.line as usize,
            message: e.to_string(),
        })?;
        let image = d.context.image.clone().unwrap_or_else(|| "default".into());
        let pid = u.intern(crate::universe::PackageKey::new(
            Ecosystem::Deb,
            &domain,
            name,
        ));
        let constraint = match &d.constraint {
            Constraint::Exact(v) => VersionConstraint::Cmp(CmpOp::Eq, v.clone()),
            Constraint::Range(r) => parse_range(r),
            Constraint::None | Constraint::Ref(_) => VersionConstraint::Any,
        };
        let alt = crate::universe::Alternative {
            package: pid,
            constraint,
            arch: crate::universe::ArchQualifier::None,
        };
        let key = (
            d.origin.line,
            d.attrs
                .get("alternatives")
                .cloned()
                .unwrap_or_else(|| d.name.clone()),
        );
        let entry = rules
            .entry((image, d.origin.file.clone()))
            .or_insert_with(|| (domain.clone(), BTreeMap::new()));
        let req = entry.1.entry(key).or_insert_with(|| Requirement {
            alternatives: Vec::new(),
            kind: RelationKind::Root,
            origin: Some(d.origin.to_string()),
        });
        req.alternatives.push(alt);
    }
    let mut out = Vec::new();
    for ((image, control), (domain, reqs)) in rules {
        let be = u.intern(crate::universe::PackageKey::new(
            Ecosystem::Deb,
            &domain,
            "build-essential",
        ));
        let mut requirements = vec![
            Requirement::single(be, VersionConstraint::Any)
                .with_kind(RelationKind::Root)
                .with_origin(format!("{control} (implied)")),
        ];
        requirements.extend(reqs.into_values());
        out.push(BuildRule {
            image,
            control,
            domain,
            requirements,
        });
    }
    Ok(out)
}

/// A Debian range such as `>= 1.2` or `(<< 3)`; several separated by commas are all required.
fn parse_range(r: &str) -> VersionConstraint {
    let mut all = Vec::new();
    for part in r.split(',') {
        let p = part
            .trim()
            .trim_start_matches('(')
            .trim_end_matches(')')
            .trim();
        let end = p
            .find(|c: char| !matches!(c, '<' | '>' | '='))
            .unwrap_or(p.len());
        let op = match &p[..end] {
            "<<" | "<" => CmpOp::Lt,
            "<=" => CmpOp::Le,
            "=" | "==" => CmpOp::Eq,
            ">=" => CmpOp::Ge,
            ">>" | ">" => CmpOp::Gt,
            _ => continue,
        };
        all.push(VersionConstraint::Cmp(op, p[end..].trim().to_string()));
    }
    match all.len() {
        0 => VersionConstraint::Any,
        1 => all.remove(0),
        _ => VersionConstraint::All(all),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Context, Dependency, Origin};

    fn dep(name: &str, line: u32, remove: bool) -> Dependency {
        let mut attrs = BTreeMap::new();
        if remove {
            attrs.insert("action".to_string(), "remove".to_string());
        }
        Dependency {
            ecosystem: Ecosystem::Deb,
            name: name.to_string(),
            constraint: Constraint::None,
            pinned: false,
            origin: Origin {
                file: "sonic-slave-bullseye/Dockerfile.j2".into(),
                line,
            },
            context: Context {
                image: Some("sonic-slave-bullseye".into()),
                transaction: Some(line),
                ..Context::default()
            },
            attrs,
        }
    }

    #[test]
    fn a_dbg_docker_installs_its_debs_and_packages_in_one_transaction() {
        let mut libdw = dep("libdw1", 4, false);
        libdw.origin.file = "src/swss/debian/control".into();
        libdw
            .attrs
            .insert("installed-by".into(), "swss-dbg.deb".into());
        let mut gdb = dep("gdb", 7, false);
        gdb.origin.file = "rules/docker-orchagent.mk".into();
        gdb.attrs.insert("via".into(), "_DBG_IMAGE_PACKAGES".into());
        let mut other = dep("vim", 9, false);
        other.origin.file = "rules/docker-orchagent.mk".into();
        let m = Manifest::new(
            "p".into(),
            "c".into(),
            "2022-12-06T08:47:31Z".into(),
            vec![other, gdb, libdw],
            vec![],
        );
        let mut u = Universe::new();
        let txs = debian_transactions(&mut u, &m, "bullseye/amd64").unwrap();
        let origins: Vec<Vec<&str>> = txs["sonic-slave-bullseye"]
            .iter()
            .map(|t| t.iter().filter_map(|r| r.origin.as_deref()).collect())
            .collect();
        assert_eq!(
            origins,
            [
                vec!["rules/docker-orchagent.mk:7", "src/swss/debian/control:4"],
                vec!["rules/docker-orchagent.mk:9"],
            ]
        );
    }

    /// The names a transaction's requirements ask for, in order.
    fn asked(u: &Universe, txs: &[Vec<Requirement>]) -> Vec<Vec<String>> {
        txs.iter()
            .map(|t| {
                t.iter()
                    .map(|r| {
                        r.alternatives
                            .iter()
                            .map(|a| u.key(a.package).name.clone())
                            .collect::<Vec<_>>()
                            .join(" | ")
                    })
                    .collect()
            })
            .collect()
    }

    fn twin(name: &str, version: Option<&str>, only_libraries: bool) -> Dependency {
        let mut d = dep(name, 5, false);
        d.origin.file = "rules/snmpd.mk".into();
        d.constraint = version.map_or(Constraint::None, |v| Constraint::Exact(v.into()));
        d.attrs.insert("field".into(), "archive-depends".into());
        d.attrs
            .insert("installed-by".into(), format!("{name}_x_amd64.deb"));
        if only_libraries {
            d.attrs.insert("only".into(), "libraries".into());
        }
        d
    }

    const TWINS: &str = "Package: snmpd\nVersion: 5.9+dfsg-4+deb11u1\nArchitecture: amd64\nDepends: libsnmp40 (= 5.9+dfsg-4+deb11u1), libpci3, adduser\n\n\
Package: snmpd\nVersion: 5.9+dfsg-3\nArchitecture: amd64\nDepends: libold1\n\n\
Package: frr\nVersion: 7.5.1-1.1\nArchitecture: amd64\nDepends: libyang1, libjson-c5\n\n\
Package: libsnmp40\nVersion: 5.9+dfsg-4+deb11u1\nArchitecture: amd64\n\n\
Package: libpci3\nVersion: 1:3.7.0-5\nArchitecture: amd64\n\n\
Package: adduser\nVersion: 3.118\nArchitecture: all\n\n";

    fn twins_manifest(deps: Vec<Dependency>) -> Manifest {
        let mut m = Manifest::new(
            "p".into(),
            "c".into(),
            "2022-12-06T08:47:31Z".into(),
            deps,
            vec![],
        );
        let node = m.images.entry("sonic-slave-bullseye".into()).or_default();
        node.debs.push(crate::manifest::images::BuiltPackage {
            target: "libsnmp40_5.9+dfsg-4+deb11u1_amd64.deb".into(),
            source: None,
        });
        m
    }

    #[test]
    fn a_rebuilt_debian_package_takes_the_archive_depends_of_its_version() {
        let mut u = Universe::new();
        debian::load_packages(&mut u, TWINS.as_bytes(), "Packages", "bullseye/amd64")
            .expect("fixture parses");
        // `+fips` is newer than what it rebuilds: the newest version not above it.
        let m = twins_manifest(vec![twin("snmpd", Some("5.9+dfsg-4+deb11u1+fips"), false)]);
        let txs = debian_transactions(&mut u, &m, "bullseye/amd64").unwrap();
        assert_eq!(
            asked(&u, &txs["sonic-slave-bullseye"]),
            [vec!["libpci3".to_string(), "adduser".to_string()]],
            "libsnmp40 is the tree's own, and snmpd itself is not asked for"
        );
        let origin = txs["sonic-slave-bullseye"][0][0].origin.clone();
        assert_eq!(
            origin.as_deref(),
            Some("rules/snmpd.mk:5 (snmpd's Depends in the archive)")
        );
        // An image that does not have the tree's libsnmp40 gets the archive's.
        let mut other = twin("snmpd", Some("5.9+dfsg-4+deb11u1"), false);
        other.context.image = Some("docker-lldp".into());
        let mut m = twins_manifest(vec![other]);
        m.images.entry("docker-lldp".into()).or_default();
        let txs = debian_transactions(&mut u, &m, "bullseye/amd64").unwrap();
        assert_eq!(
            asked(&u, &txs["docker-lldp"]),
            [vec![
                "libsnmp40".to_string(),
                "libpci3".to_string(),
                "adduser".to_string()
            ]]
        );
        let m = twins_manifest(vec![twin("snmpd", Some("5.9+dfsg-3"), true)]);
        let txs = debian_transactions(&mut u, &m, "bullseye/amd64").unwrap();
        assert_eq!(
            asked(&u, &txs["sonic-slave-bullseye"]),
            [vec!["libold1".to_string()]],
            "the exact version's Depends, libraries only"
        );
    }

    #[test]
    fn another_major_release_or_a_deb_only_the_tree_makes_asks_nothing() {
        let mut u = Universe::new();
        debian::load_packages(&mut u, TWINS.as_bytes(), "Packages", "bullseye/amd64")
            .expect("fixture parses");
        let m = twins_manifest(vec![
            twin("frr", Some("8.5.1-sonic-0"), true),
            twin("bfnsdk", Some("20221130"), false),
        ]);
        let txs = debian_transactions(&mut u, &m, "bullseye/amd64").unwrap();
        let asked = asked(&u, txs.get("sonic-slave-bullseye").map_or(&[][..], |t| t));
        assert!(asked.iter().all(Vec::is_empty), "{asked:?}");
        assert_eq!(upstream_major("2:2.9.0-14"), "2");
        assert_eq!(upstream_major("8.5.1-sonic-0"), "8");
    }

    #[test]
    fn pip_uninstalls_before_the_freeze_per_image() {
        let mut enum34 = dep("enum34", 24, true);
        enum34.ecosystem = Ecosystem::Py;
        let mut late = dep("Late_Pkg", 30, true);
        late.ecosystem = Ecosystem::Py;
        late.attrs.insert("after-freeze".into(), "true".into());
        let m = Manifest::new(
            "p".into(),
            "c".into(),
            "2022-12-06T08:47:31Z".into(),
            vec![enum34, late, dep("make", 3, true)],
            vec![],
        );
        let got = pip_removals(&m);
        assert_eq!(got.len(), 1);
        assert_eq!(
            got["sonic-slave-bullseye"].iter().collect::<Vec<_>>(),
            ["enum34"]
        );
    }

    #[test]
    fn removals_marked_by_the_crawler_are_not_installed() {
        let m = Manifest::new(
            "p".into(),
            "c".into(),
            "2022-12-06T08:47:31Z".into(),
            vec![dep("make", 3, false), dep("libfoo-dev", 7, true)],
            vec![],
        );
        let mut u = Universe::new();
        let txs = debian_transactions(&mut u, &m, "bullseye/amd64").unwrap();
        let reqs: Vec<&Requirement> = txs["sonic-slave-bullseye"].iter().flatten().collect();
        assert_eq!(reqs.len(), 1);
        assert_eq!(
            reqs[0].origin.as_deref(),
            Some("sonic-slave-bullseye/Dockerfile.j2:3")
        );
    }

    fn control_dep(name: &str, line: u32, attrs: &[(&str, &str)]) -> Dependency {
        let mut d = dep(name, line, false);
        d.origin.file = "src/libfoo/debian/control".into();
        d.context.transaction = None;
        d.context.suite = Some("bullseye".into());
        d.attrs.insert("field".into(), "build-depends".into());
        for (k, v) in attrs {
            d.attrs.insert(k.to_string(), v.to_string());
        }
        d
    }

    #[test]
    fn profiles_and_architectures() {
        let nocheck = r#"[[Disabled("nocheck")]]"#;
        assert!(profiles_hold(nocheck, &[]));
        assert!(!profiles_hold(nocheck, &["nocheck"]));
        let stage = r#"[[Enabled("stage1"), Disabled("cross")], [Enabled("pkg.x")]]"#;
        assert!(!profiles_hold(stage, &[]));
        assert!(profiles_hold(stage, &["stage1"]));
        assert!(!profiles_hold(stage, &["stage1", "cross"]));
        assert!(profiles_hold(stage, &["pkg.x"]));
        assert!(arch_holds("amd64 arm64", "amd64"));
        assert!(!arch_holds("!amd64", "amd64"));
        assert!(arch_holds("!armhf", "amd64"));
        assert!(arch_holds("linux-any", "amd64"));
        assert!(!arch_holds("armhf", "amd64"));
    }

    #[test]
    fn build_depends_are_rules_of_their_own_with_alternatives_together() {
        let alts = [("alternatives", "libfoo-dev | libbar-dev")];
        let m = Manifest::new(
            "p".into(),
            "c".into(),
            "2022-12-06T08:47:31Z".into(),
            vec![
                dep("make", 3, false),
                control_dep("debhelper", 5, &[]),
                control_dep("libfoo-dev", 6, &alts),
                control_dep("libbar-dev", 6, &alts),
                control_dep(
                    "python3-pytest",
                    7,
                    &[("profiles", r#"[[Enabled("check")]]"#)],
                ),
                control_dep("libarm-dev", 8, &[("architectures", "armhf")]),
            ],
            vec![],
        );
        let mut u = Universe::new();
        let txs = debian_transactions(&mut u, &m, "bullseye/amd64").unwrap();
        // Only the Dockerfile's install is a transaction of the image.
        assert_eq!(txs["sonic-slave-bullseye"].iter().flatten().count(), 1);
        let rules = build_rules(&mut u, &m, &|_| "bullseye/amd64".to_string(), &[]).unwrap();
        assert_eq!(rules.len(), 1);
        let r = &rules[0];
        assert_eq!(r.control, "src/libfoo/debian/control");
        let texts: Vec<(String, Option<String>)> = r
            .requirements
            .iter()
            .map(|q| {
                (
                    crate::solve::explain::requirement_text(&u, q),
                    q.origin.clone(),
                )
            })
            .collect();
        assert_eq!(
            texts,
            vec![
                (
                    "build-essential".to_string(),
                    Some("src/libfoo/debian/control (implied)".to_string())
                ),
                (
                    "debhelper".to_string(),
                    Some("src/libfoo/debian/control:5".to_string())
                ),
                (
                    "libfoo-dev | libbar-dev".to_string(),
                    Some("src/libfoo/debian/control:6".to_string())
                ),
            ]
        );
    }
}
