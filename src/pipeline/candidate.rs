//! Index and solve: every source as of the cutoff into a universe, every
//! image's apt transactions, Build-Depends, pip and Go solved in it, and the
//! result (plus the git, web and docker pins the index resolved) turned into a
//! candidate lock that the learn loop can then prove.

use super::metadata::LiveMetadata;
use super::{Pipeline, PipelineError};
use crate::date::Cutoff;
use crate::lock::{Lock, Pin};
use crate::manifest::{Ecosystem, Manifest, Severity};
use crate::solve::candidate;
use crate::solve::images::{ManifestOptions, ManifestSolve, solve_manifest};
use crate::solve::{Nogood, Reference};
use crate::source::index::{self, IndexReport};
use crate::universe::{PackageKey, Requirement, Universe};
use std::collections::BTreeMap;

pub use crate::solve::images::{ImageResults, per_suite_transactions, solve_images};

/// The final installed picks of every image, or the first image with no solution.
pub fn final_picks(
    results: &ImageResults,
) -> Result<BTreeMap<String, BTreeMap<PackageKey, String>>, PipelineError> {
    let mut picks = BTreeMap::new();
    for (image, r) in results {
        match r {
            Ok(states) => {
                if let Some(last) = states.last() {
                    picks.insert(image.clone(), last.installed.picks.clone());
                }
            }
            Err((i, unsat)) => {
                return Err(PipelineError::Unsat {
                    image: image.clone(),
                    transaction: *i,
                    explanation: unsat.explain(),
                });
            }
        }
    }
    Ok(picks)
}

/// Adds the pins the index resolved outside Debian: git repositories at the
/// cutoff commit, web files at their immutable URL with hashes, and base
/// images at their per-architecture digest.
pub fn add_index_pins(lock: &mut Lock, report: &IndexReport) {
    // The snapshot each archive was read at: SONiC's versions-mirror, so apt fetches
    // the pinned versions from where they existed rather than from today's mirror.
    for s in &report.suites {
        let (Some(ts), Some((name, _))) = (&s.snapshot, s.suite.split_once(':')) else {
            continue;
        };
        if lock.archives.iter().any(|a| a.name == name) {
            continue;
        }
        lock.archives.push(crate::lock::lockfile::Archive {
            name: name.to_string(),
            snapshot: ts.clone(),
            url: s
                .url
                .split_once("/dists/")
                .map(|(base, _)| base.to_string()),
        });
    }
    for g in &report.git {
        let mut pin = Pin::new(Ecosystem::Git, &g.url, &g.commit);
        pin.first_seen = Some(g.date.clone()).filter(|d| !d.is_empty());
        lock.upsert(pin);
    }
    for w in &report.web {
        // SONiC's versions-web keys a file by the URL fetched and checks its md5.
        let mut pin = Pin::new(Ecosystem::Web, &w.immutable_url, &w.md5);
        pin.url = Some(w.immutable_url.clone());
        if w.immutable_url != w.url {
            pin.declared_url = Some(w.url.clone());
        }
        pin.md5 = Some(w.md5.clone());
        pin.sha256 = Some(w.sha256.clone()).filter(|s| !s.is_empty());
        lock.upsert(pin);
    }
    for d in &report.docker {
        // SONiC's versions-docker keys a base image by `<arch>:<reference as written in FROM>`.
        let mut pin = Pin::new(Ecosystem::Docker, &d.image, &d.digest);
        pin.arch = Some(d.arch.clone());
        pin.url = Some(format!("{}@{}", d.repository, d.digest));
        pin.sha256 = d.digest.strip_prefix("sha256:").map(str::to_string);
        pin.first_seen = d.created.clone();
        pin.why = d.origins.clone();
        lock.upsert(pin);
    }
    lock.normalize();
}

/// A solved manifest and the candidate lock made from it.
pub struct Solved {
    /// Every image's solve.
    pub solve: ManifestSolve,
    /// The candidate lock.
    pub lock: Lock,
    /// Notes of the solve (pins kept over a build dependency's wish, Go notes).
    pub notes: Vec<String>,
}

/// What crawl and index produced: the inputs of a solve.
pub struct Indexed {
    /// The crawl manifest.
    pub manifest: Manifest,
    /// What the index found.
    pub report: IndexReport,
    /// Every candidate at the cutoff.
    pub universe: Universe,
    /// The cutoff used.
    pub cutoff: Cutoff,
    /// Things the caller should show (crawl errors, universe notes, missing dependencies).
    pub warnings: Vec<String>,
}

impl Pipeline<'_> {
    /// Indexes every source of `manifest` as of `cutoff` (the tree's cutoff
    /// when `None`: a requested date, else the manifest's commit date).
    pub fn index(
        &self,
        mut manifest: Manifest,
        cutoff: Option<Cutoff>,
        on_stage: &dyn Fn(&str),
    ) -> Result<Indexed, PipelineError> {
        let mut warnings = Vec::new();
        for d in manifest
            .diagnostics
            .iter()
            .filter(|d| d.severity == Severity::Error)
        {
            warnings.push(format!("crawl: {}: {}", d.origin, d.message));
        }
        let cutoff = match cutoff.or(self.tree.cutoff) {
            Some(c) => c,
            None => Cutoff::parse(&manifest.commit_date).map_err(|source| {
                PipelineError::CommitDate {
                    date: manifest.commit_date.clone(),
                    source: Box::new(source),
                }
            })?,
        };
        let suites = self.tree.index_suites()?;
        on_stage("indexing sources as of the cutoff");
        let mut universe = Universe::new();
        let report = index::run(
            self.sources,
            &manifest,
            &cutoff,
            &suites,
            self.options.py_metadata,
            self.options.freeze_apt_python,
            |si| index::load_suite(&mut universe, si).map(|_| ()),
        )?;
        warnings.extend(index::add_report(&mut universe, &manifest, &report)?);
        let arch = self.tree.domain.split('/').nth(1).unwrap_or("amd64");
        let indexed = report
            .suites
            .iter()
            .map(|s| {
                let suite = s.suite.rsplit(':').next().unwrap_or(&s.suite);
                crate::universe::suite::dist_of(suite).to_string()
            })
            .collect();
        let (build_deps, notes) =
            super::builddep::build_dep_dependencies(&manifest, &report.build_deps, &indexed, arch);
        manifest.dependencies.extend(build_deps);
        warnings.extend(notes);
        for a in &report.apt_sources {
            for n in &a.notes {
                warnings.push(format!("apt source {} {}: {n}", a.url, a.suite));
            }
        }
        warnings.extend(report.source_gaps.iter().map(|g| g.message()));
        warnings.extend(report.apt_python.notes.iter().cloned());
        for m in &report.missing {
            warnings.push(format!(
                "no version at the cutoff: {} {} ({}): {}",
                m.ecosystem, m.name, m.origin, m.reason
            ));
        }
        Ok(Indexed {
            manifest,
            report,
            universe,
            cutoff,
            warnings,
        })
    }

    /// Solves an indexed manifest (Debian, Python through Requires-Dist read as
    /// needed from the sources, Go by minimal version selection) honouring
    /// `nogoods`, closest to `reference` where given, into a candidate lock.
    pub fn solve(
        &self,
        indexed: &mut Indexed,
        nogoods: &[Nogood],
        reference: Option<&Reference>,
    ) -> Result<Solved, PipelineError> {
        self.solve_on(indexed, &[], nogoods, reference)
    }

    /// As [`Pipeline::solve`], with `base` added to every apt transaction
    /// (`solve --base essential|required`).
    pub fn solve_on(
        &self,
        indexed: &mut Indexed,
        base: &[Requirement],
        nogoods: &[Nogood],
        reference: Option<&Reference>,
    ) -> Result<Solved, PipelineError> {
        let live = LiveMetadata::new(self.sources, indexed.cutoff);
        let mopts = ManifestOptions {
            default_domain: self.tree.domain.clone(),
            base: base.to_vec(),
            nogoods,
            reference,
            source: Some(&live),
        };
        let solve = solve_manifest(&mut indexed.universe, &indexed.manifest, &mopts)?;
        let (lock, notes) = candidate_of(
            &self.platform,
            &indexed.manifest,
            &indexed.universe,
            Some(&indexed.report),
            &solve,
        )?;
        Ok(Solved { solve, lock, notes })
    }
}

/// The candidate lock of a solved manifest: every image's Debian, Python and
/// Go pins, and the git, web and docker pins of the index `report` when there
/// is one; or the first image with no solution and why.
pub fn candidate_of(
    platform: &str,
    manifest: &Manifest,
    u: &Universe,
    report: Option<&IndexReport>,
    solved: &ManifestSolve,
) -> Result<(Lock, Vec<String>), PipelineError> {
    let (mut lock, mut notes) = manifest_candidate(platform, manifest, u, solved)?;
    if let Some(report) = report {
        add_index_pins(&mut lock, report);
        notes.extend(add_apt_python_pins(&mut lock, solved, &report.apt_python));
    }
    Ok((lock, notes))
}

/// Adds the `py` pins `pip freeze` shows for what each image's Debian
/// packages install (see [`crate::solve::freeze`]); returns its notes.
pub fn add_apt_python_pins(
    lock: &mut Lock,
    solved: &ManifestSolve,
    apt: &crate::universe::python::apt::AptPython,
) -> Vec<String> {
    if apt.entries.is_empty() {
        return Vec::new();
    }
    let (pins, notes) = crate::solve::freeze::apt_python_pins(solved, apt, lock);
    lock.upsert_all(pins);
    lock.normalize();
    notes
}

/// The Debian, Python and Go pins of every image of a solved manifest, or the
/// first image with no solution and why.
fn manifest_candidate(
    platform: &str,
    manifest: &Manifest,
    u: &Universe,
    solved: &ManifestSolve,
) -> Result<(Lock, Vec<String>), PipelineError> {
    let mut picks = final_picks(&solved.deb)?;
    // An image's pins are what it adds or changes over what it starts from.
    for (image, p) in &mut picks {
        if let Some(from) = solved.inherited.get(image) {
            p.retain(|k, v| from.get(k) != Some(v));
        }
    }
    let mut lock = candidate::candidate_lock(platform, manifest, u, &picks);
    // What an image's build installs and purges again is pinned as well (the
    // build must install the same), marked so the export leaves it out.
    let origins = candidate::deb_origins(manifest);
    for (image, gone) in &solved.transient {
        let mut gone = gone.clone();
        if let Some(from) = solved.inherited.get(image) {
            gone.retain(|k, v| from.get(k) != Some(v));
        }
        lock.upsert_all(
            candidate::deb_pins(u, image, &gone, &origins)
                .into_iter()
                .map(|mut pin| {
                    pin.transient = true;
                    pin
                }),
        );
    }
    lock.normalize();
    // The tree's own debs an image installs: dpkg puts them in before apt
    // resolves, so they stand where an archive package of that name would.
    let arch = lock
        .pins
        .iter()
        .find(|p| p.ecosystem == Ecosystem::Deb)
        .and_then(|p| p.arch.clone())
        .unwrap_or_else(|| "amd64".to_string());
    let domain_of = |suite: Option<&str>| format!("{}/{arch}", suite.unwrap_or("bullseye"));
    lock.upsert_all(candidate::built_deb_pins(manifest, &domain_of));
    let mut notes = solved.notes.clone();
    for (rule, r) in &solved.build {
        match r {
            Ok(sol) => {
                // What the slave inherits from its base image is no pin of its
                // own, whichever solution names it.
                let mut picks = sol.picks.clone();
                if let Some(from) = solved.inherited.get(&rule.image) {
                    picks.retain(|k, v| from.get(k) != Some(v));
                }
                let mut new = Vec::new();
                let have: BTreeMap<crate::lock::PinKey, &str> = lock
                    .pins
                    .iter()
                    .filter(|p| p.image.as_deref() == Some(rule.image.as_str()))
                    .map(|p| (p.key(), p.version.as_str()))
                    .collect();
                for pin in candidate::deb_pins(u, &rule.image, &picks, &origins) {
                    match have.get(&pin.key()) {
                        Some(&v) if v != pin.version => notes.push(format!(
                            "{}: {} needs {}={} but the image has {v}; the image's pin is kept",
                            rule.image, rule.control, pin.name, pin.version
                        )),
                        Some(_) => {}
                        None => new.push(pin),
                    }
                }
                lock.upsert_all(new);
            }
            Err(unsat) => {
                return Err(PipelineError::BuildDepsUnsat {
                    image: rule.image.clone(),
                    control: rule.control.clone(),
                    explanation: unsat.explain(),
                });
            }
        }
    }
    let uninstalled = crate::solve::input::pip_removals(manifest);
    for (image, r) in &solved.py {
        match r {
            Ok(o) => {
                let from = solved
                    .parents
                    .get(image)
                    .and_then(|p| solved.py.get(p))
                    .and_then(|r| r.as_ref().ok());
                let mut o = o.clone();
                if let Some(from) = from {
                    o.picks.retain(|k, v| from.picks.get(k) != Some(v));
                }
                // `pip uninstall` after the install (`enum34`, which pyangbind
                // pulls in): pip installs it, the image does not keep it.
                let gone = uninstalled.get(image);
                lock.upsert_all(candidate::py_pins(u, image, &o).into_iter().map(|mut pin| {
                    let name = crate::lock::lockfile::canonical_name(Ecosystem::Py, &pin.name);
                    pin.transient |= gone.is_some_and(|g| g.contains(&name));
                    pin
                }));
            }
            Err(unsat) => {
                return Err(PipelineError::PyUnsat {
                    image: image.clone(),
                    explanation: unsat.explain(),
                });
            }
        }
    }
    // What the package builds pip-installed in a slave: SONiC's freeze of the
    // slave after building, less what the slave image had, is the module
    // `build/build-<slave>`.
    for (image, o) in &solved.built {
        lock.upsert_all(candidate::py_pins(u, &candidate::build_module(image), o));
    }
    for t in &solved.builds {
        if let Err(unsat) = &t.outcome {
            notes.push(format!(
                "{}: the requirements of {} cannot be installed on top of it; its `pip install .` will fail:\n{}",
                t.image,
                t.target,
                unsat.explain()
            ));
        }
    }
    // `setup.py test` fetches a target's test requirements into its own
    // `.eggs`: SONiC's version files do not pin them, so neither does the lock.
    let mut tested: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    for t in &solved.tests {
        match &t.outcome {
            Ok(_) => {
                let e = tested.entry(t.image.as_str()).or_default();
                e.0 += 1;
                e.1 += t.requirements;
            }
            Err(unsat) => notes.push(format!(
                "{}: the test requirements of {} cannot be installed on top of it; its `setup.py test` will fail:\n{}",
                t.image,
                t.target,
                unsat.explain()
            )),
        }
    }
    for (image, (targets, reqs)) in tested {
        notes.push(format!(
            "{image}: the test requirements of {targets} targets ({reqs} in all) install on top of it (fetched by `setup.py test` into each package's .eggs; not pinned)"
        ));
    }
    for (image, mods) in &solved.go {
        let (pins, n) = candidate::go_pins(image, mods);
        notes.extend(n);
        lock.upsert_all(pins);
    }
    lock.normalize();
    Ok((lock, notes))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Constraint, Context, Dependency, Origin};
    use crate::universe::{Requirement, debian};

    fn universe() -> Universe {
        let mut u = Universe::new();
        let text = "Package: libx\nVersion: 1\nArchitecture: amd64\n\n\
                    Package: libx\nVersion: 2\nArchitecture: amd64\n\n\
                    Package: libx\nVersion: 3\nArchitecture: amd64\n\n";
        debian::load_packages(&mut u, text.as_bytes(), "Packages", "bullseye/amd64").unwrap();
        u
    }

    fn req(u: &mut Universe, rel: &str) -> Vec<Requirement> {
        debian::parse_requirements(u, "bullseye/amd64", rel, "test:1").unwrap()
    }

    fn picked(r: &ImageResults, image: &str) -> String {
        let states = r[image].as_ref().unwrap();
        let picks = &states.last().unwrap().installed.picks;
        picks.values().next().unwrap().clone()
    }

    #[test]
    fn images_solve_newest_or_closest_to_a_reference() {
        let mut u = universe();
        let mut txs = BTreeMap::new();
        txs.insert("one".to_string(), vec![req(&mut u, "libx")]);
        txs.insert(
            "two".to_string(),
            vec![req(&mut u, "libx"), req(&mut u, "libx (>= 1)")],
        );
        let r = solve_images(&u, &[], &txs, &[], None);
        assert_eq!(
            (picked(&r, "one"), picked(&r, "two")),
            ("3".into(), "3".into())
        );
        let reference: BTreeMap<PackageKey, String> = [(
            PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "libx"),
            "2".to_string(),
        )]
        .into();
        let r = solve_images(&u, &[], &txs, &[], Some(&reference));
        // The reference applies to single-transaction images only.
        assert_eq!(
            (picked(&r, "one"), picked(&r, "two")),
            ("2".into(), "3".into())
        );
        assert_eq!(final_picks(&r).unwrap().len(), 2);
    }

    #[test]
    fn each_image_resolves_in_its_own_suite() {
        let mut u = universe();
        let buster = "Package: libx\nVersion: 0.9\nArchitecture: amd64\n\n";
        debian::load_packages(&mut u, buster.as_bytes(), "Packages", "buster/amd64").unwrap();
        let dep = |image: &str, suite: Option<&str>, line: u32| Dependency {
            ecosystem: Ecosystem::Deb,
            name: "libx".into(),
            constraint: Constraint::None,
            pinned: false,
            origin: Origin {
                file: format!("{image}/Dockerfile.j2"),
                line,
            },
            context: Context {
                image: Some(image.into()),
                suite: suite.map(String::from),
                transaction: Some(1),
                ..Default::default()
            },
            attrs: BTreeMap::new(),
        };
        let m = Manifest::new(
            "p".into(),
            "a".repeat(40),
            "2022-12-01T00:00:00Z".into(),
            vec![
                dep("sonic-slave-buster", Some("buster"), 1),
                dep("sonic-slave-bullseye", Some("bullseye"), 2),
                dep("host", None, 3),
            ],
            vec![],
        );
        let txs = per_suite_transactions(&mut u, &m, "bullseye/amd64").unwrap();
        let r = solve_images(&u, &[], &txs, &[], None);
        let picks = final_picks(&r).unwrap();
        let of = |image: &str| -> Vec<(String, String)> {
            picks[image]
                .iter()
                .map(|(k, v)| (k.domain.clone(), v.clone()))
                .collect()
        };
        assert_eq!(
            of("sonic-slave-buster"),
            vec![("buster/amd64".into(), "0.9".into())]
        );
        assert_eq!(
            of("sonic-slave-bullseye"),
            vec![("bullseye/amd64".into(), "3".into())]
        );
        assert_eq!(of("host"), vec![("bullseye/amd64".into(), "3".into())]);
    }

    #[test]
    fn an_unsolvable_image_is_named() {
        let mut u = universe();
        let mut txs = BTreeMap::new();
        txs.insert("ok".to_string(), vec![req(&mut u, "libx")]);
        txs.insert("bad".to_string(), vec![req(&mut u, "libx (>= 4)")]);
        let r = solve_images(&u, &[], &txs, &[], None);
        match final_picks(&r) {
            Err(PipelineError::Unsat {
                image, transaction, ..
            }) => assert_eq!((image.as_str(), transaction), ("bad", 0)),
            other => panic!("expected unsat, got {:?}", other.map(|p| p.len())),
        }
    }

    fn py_dep(name: &str, constraint: Constraint, line: u32) -> Dependency {
        Dependency {
            ecosystem: Ecosystem::Py,
            name: name.into(),
            pinned: constraint.is_pinned(),
            constraint,
            origin: Origin {
                file: "dockers/docker-x/Dockerfile.j2".into(),
                line,
            },
            context: Context {
                image: Some("docker-x".into()),
                suite: Some("bullseye".into()),
                python: Some("py3".into()),
                ..Default::default()
            },
            attrs: BTreeMap::new(),
        }
    }

    fn py_world() -> Universe {
        let mut u = Universe::new();
        let env = crate::universe::python::PythonEnv::linux_cpython("py3", "3.9.2").unwrap();
        for (name, v, reqs) in [
            ("click", "6.7", vec![]),
            ("click", "7.0", vec![]),
            ("click", "7.1.2", vec!["colorama<1"]),
            ("click", "7.2rc1", vec![]),
            ("click", "8.0.0", vec![]),
            ("colorama", "0.4.6", vec![]),
            ("colorama", "1.0", vec![]),
            ("pre", "1.0", vec![]),
            ("pre", "2.0b1", vec![]),
        ] {
            crate::universe::python::add_distribution(
                &mut u,
                &env,
                name,
                v,
                &reqs,
                None,
                &[],
                crate::universe::CandidateMeta::default(),
            )
            .unwrap();
        }
        u
    }

    fn manifest(deps: Vec<Dependency>) -> Manifest {
        Manifest::new(
            "p".into(),
            "a".repeat(40),
            "2022-12-01T00:00:00Z".into(),
            deps,
            vec![],
        )
    }

    fn solve(u: &mut Universe, m: &Manifest) -> Result<(Lock, Vec<String>), PipelineError> {
        let opts = ManifestOptions {
            default_domain: "bullseye/amd64".into(),
            base: vec![],
            nogoods: &[],
            reference: None,
            source: None,
        };
        let solved = solve_manifest(u, m, &opts).unwrap();
        manifest_candidate("p", m, u, &solved)
    }

    #[test]
    fn py_pins_are_a_solution_of_every_declaration_and_requirement() {
        let m = manifest(vec![
            py_dep("Click", Constraint::Range(">=6".into()), 1),
            py_dep("click", Constraint::Range("<8".into()), 2),
            py_dep("pre", Constraint::Range(">=1.5".into()), 3),
            py_dep("broken", Constraint::Range(">=>1".into()), 4),
        ]);
        let mut u = py_world();
        let (lock, notes) = solve(&mut u, &m).unwrap();
        let got: Vec<(&str, &str)> = lock
            .pins
            .iter()
            .map(|p| (p.name.as_str(), p.version.as_str()))
            .collect();
        // 7.2rc1 is newer but a pre-release; colorama comes through Requires-Dist.
        assert_eq!(
            got,
            vec![("click", "7.1.2"), ("colorama", "0.4.6"), ("pre", "2.0b1")]
        );
        let click = &lock.pins[0];
        assert_eq!(click.why.len(), 2);
        assert_eq!(click.python.as_deref(), Some("py3"));
        assert_eq!(click.image.as_deref(), Some("docker-x"));
        assert_eq!(lock.pins[1].dependents, vec!["click".to_string()]);
        assert!(notes.iter().any(|n| n.contains("broken")), "{notes:?}");
    }

    #[test]
    fn what_pip_uninstall_takes_out_is_pinned_transient() {
        // click 7.1.2 pulls in colorama; `pip uninstall -y Colorama` takes it out again.
        let mut gone = py_dep("Colorama", Constraint::None, 2);
        gone.attrs.insert("action".into(), "remove".into());
        let m = manifest(vec![
            py_dep("click", Constraint::Exact("7.1.2".into()), 1),
            gone,
        ]);
        let mut u = py_world();
        let (lock, _) = solve(&mut u, &m).unwrap();
        let got: Vec<(&str, bool)> = lock
            .pins
            .iter()
            .map(|p| (p.name.as_str(), p.transient))
            .collect();
        assert_eq!(got, vec![("click", false), ("colorama", true)]);
    }

    #[test]
    fn an_unsatisfiable_pip_names_the_image_and_the_declarations() {
        let m = manifest(vec![
            py_dep("click", Constraint::Exact("7.1.2".into()), 1),
            py_dep("colorama", Constraint::Range(">=1".into()), 2),
        ]);
        let mut u = py_world();
        match solve(&mut u, &m) {
            Err(PipelineError::PyUnsat { image, explanation }) => {
                assert_eq!(image, "docker-x");
                assert!(
                    explanation.contains("Dockerfile.j2:1")
                        && explanation.contains("Dockerfile.j2:2"),
                    "{explanation}"
                );
            }
            other => panic!(
                "expected a pip conflict, got {:?}",
                other.map(|l| l.0.pins.len())
            ),
        }
    }
}
