//! The searches the learn loop drives: proposals are solver solutions (closest
//! to the candidate lock first), learned nogoods become solver clauses. Keys are
//! lock pin keys so the lock stage applies unchanged; this module also maps lock
//! pins to universe packages and back.

use super::learn::{Assignment, Forbid, Search, SearchError};
use crate::lock::{Lock, PinKey};
use crate::manifest::Ecosystem;
use crate::solve::{Nogood, Preference, Reference, Solver};
use crate::universe::{PackageKey, RelationKind, Requirement, Universe, VersionConstraint};
use std::collections::BTreeMap;

/// The lock pin key of a universe package: Debian domains `suite/arch` give
/// suite and architecture, Python domains `py2`/`py3` the flavour.
pub fn pin_key(k: &PackageKey) -> PinKey {
    let (mut suite, mut arch, mut python) = (None, None, None);
    match k.ecosystem {
        Ecosystem::Deb | Ecosystem::DebSrc => {
            let mut parts = k.domain.splitn(2, '/');
            suite = parts.next().filter(|s| !s.is_empty()).map(String::from);
            arch = parts.next().filter(|s| !s.is_empty()).map(String::from);
        }
        Ecosystem::Py => {
            python = Some(crate::solve::python::flavour(&k.domain).to_string());
        }
        // Their domain is the ecosystem itself: nothing more to key on.
        Ecosystem::Go | Ecosystem::Git | Ecosystem::Web | Ecosystem::Docker => {}
    }
    PinKey {
        ecosystem: k.ecosystem,
        image: None,
        suite,
        arch,
        python,
        name: k.name.clone(),
    }
}

/// The universe package a pin key names (the inverse of [`pin_key`]).
pub fn package_key(k: &PinKey) -> PackageKey {
    let domain = match k.ecosystem {
        Ecosystem::Deb | Ecosystem::DebSrc => match (&k.suite, &k.arch) {
            (Some(s), Some(a)) => format!("{s}/{a}"),
            (Some(s), None) => s.clone(),
            (None, Some(a)) => format!("/{a}"),
            (None, None) => String::new(),
        },
        Ecosystem::Py => k.python.clone().unwrap_or_else(|| "py3".into()),
        Ecosystem::Go | Ecosystem::Git | Ecosystem::Web | Ecosystem::Docker => String::new(),
    };
    PackageKey::new(k.ecosystem, &domain, &k.name)
}

/// A previous lock as the solver's reference: each pin's universe package and
/// version, for a solve that stays as close to it as the sources allow.
/// Python pins are kept per image, in every interpreter domain of their
/// flavour: an image's name need not say its suite (docker-sonic-mgmt-framework
/// runs buster's), and one image solves in one domain per flavour. Those of
/// distributions Debian packages install are left to apt's pins.
pub fn reference_of(lock: &Lock) -> Reference {
    let mut r = Reference::default();
    for p in &lock.pins {
        let k = p.key();
        if k.ecosystem != Ecosystem::Py {
            r.packages.insert(package_key(&k), p.version.clone());
        } else if p.installed_by_apt().is_none() {
            let flavour = k.python.as_deref().unwrap_or("py3");
            let image = r.python.entry(p.image_name().to_string()).or_default();
            for domain in PY_DOMAINS
                .into_iter()
                .filter(|d| crate::solve::python::flavour(d) == flavour)
            {
                image.insert(
                    PackageKey::new(Ecosystem::Py, domain, &k.name),
                    p.version.clone(),
                );
            }
        }
    }
    r
}

/// The interpreter domains a Python pin can live in.
const PY_DOMAINS: [&str; 4] = ["py3", "buster-py3", "py2", "buster-py2"];

/// The domain of the interpreter a Python pin's image runs: a buster
/// image's `py3` is `buster-py3`.
fn python_domain(k: &PinKey) -> String {
    let flavour = k.python.as_deref().unwrap_or("py3");
    let suite = k.image.as_deref().and_then(|i| {
        ["buster", "bullseye", "bookworm"]
            .into_iter()
            .find(|d| i.ends_with(&format!("-{d}")) || i.contains(&format!("-{d}-")))
    });
    crate::universe::suite::python_env_for(suite, Some(flavour)).0
}

/// The universe package of a lock pin: Python pins are looked up in the domain of
/// their image's interpreter (a buster image's `py3` is `buster-py3`), then in any
/// domain of the same flavour that has the name; others as [`package_key`] says.
pub fn resolve_key(u: &Universe, k: &PinKey) -> PackageKey {
    if k.ecosystem == Ecosystem::Py {
        let flavour = k.python.as_deref().unwrap_or("py3");
        let first = python_domain(k);
        for domain in std::iter::once(first.as_str()).chain(PY_DOMAINS) {
            if crate::solve::python::flavour(domain) == flavour
                && u.lookup_name(Ecosystem::Py, domain, &k.name).is_some()
            {
                return PackageKey::new(Ecosystem::Py, domain, &k.name);
            }
        }
    }
    package_key(k)
}

/// A [`Search`] over lock pin keys backed by the solver; pins of the candidate
/// that the universe does not know are kept as they are in every proposal.
pub struct SolverSearch<'u> {
    solver: Solver<'u>,
    fixed: Assignment<PinKey>,
    /// The images each universe package is pinned in by the candidate: the solver
    /// knows packages, the lock knows in which image they are installed.
    images: BTreeMap<PackageKey, Vec<Option<String>>>,
    /// The universe each proposal and nogood is read in.
    universe: &'u Universe,
}

impl<'u> SolverSearch<'u> {
    /// A search wrapping `solver` as is (roots and preference already set).
    pub fn new(solver: Solver<'u>) -> SolverSearch<'u> {
        SolverSearch {
            universe: solver.universe(),
            solver,
            fixed: BTreeMap::new(),
            images: BTreeMap::new(),
        }
    }

    /// A search whose roots are the candidate's pins known to `u` (any version,
    /// the candidate's first), the others staying fixed.
    pub fn for_candidate(u: &'u Universe, candidate: &Lock) -> SolverSearch<'u> {
        let mut roots = Vec::new();
        let mut prefer = BTreeMap::new();
        let mut fixed = BTreeMap::new();
        let mut images: BTreeMap<PackageKey, Vec<Option<String>>> = BTreeMap::new();
        for p in &candidate.pins {
            let pk = resolve_key(u, &p.key());
            let slot = images.entry(pk.clone()).or_default();
            if !slot.contains(&p.image) {
                slot.push(p.image.clone());
            }
            match u.lookup(&pk) {
                Some(id) => {
                    let origin = p
                        .why
                        .first()
                        .cloned()
                        .unwrap_or_else(|| format!("candidate lock: {}", p.key()));
                    roots.push(
                        Requirement::single(id, VersionConstraint::Any)
                            .with_kind(RelationKind::Root)
                            .with_origin(origin),
                    );
                    prefer.insert(pk, p.version.clone());
                }
                None => {
                    fixed.insert(p.key(), p.version.clone());
                }
            }
        }
        let mut solver = Solver::new(u, roots);
        solver.set_preference(Preference::Closest(prefer));
        SolverSearch {
            solver,
            fixed,
            images,
            universe: u,
        }
    }

    /// The images a picked package goes to: those of the candidate, else the
    /// candidate's only image of that ecosystem (a new dependency pulled in there).
    fn images_of(&self, k: &PackageKey) -> Vec<Option<String>> {
        if let Some(v) = self.images.get(k) {
            return v.clone();
        }
        let mut seen: Vec<&Option<String>> = self
            .images
            .iter()
            .filter(|(pk, _)| pk.ecosystem == k.ecosystem)
            .flat_map(|(_, v)| v)
            .collect();
        seen.sort();
        seen.dedup();
        match seen.as_slice() {
            [one] => vec![(*one).clone()],
            _ => vec![None],
        }
    }

    /// The wrapped solver (with every learned nogood).
    pub fn solver(&self) -> &Solver<'u> {
        &self.solver
    }
}

impl Search for SolverSearch<'_> {
    type Key = PinKey;

    fn propose(&mut self) -> Result<Assignment<PinKey>, SearchError> {
        let solution = self
            .solver
            .solve()
            .map_err(|u| SearchError::Unsat(u.explain()))?;
        let mut a = self.fixed.clone();
        for (k, v) in solution.picks {
            if crate::universe::python::is_interpreter(&k) {
                continue;
            }
            for image in self.images_of(&k) {
                let mut pk = pin_key(&k);
                pk.image = image;
                a.insert(pk, v.clone());
            }
        }
        Ok(a)
    }

    fn forbid(&mut self, picks: Vec<(PinKey, String)>, reason: &str) -> Forbid {
        // Pins the universe does not know have no alternatives and are in every
        // proposal: the nogood holds over the others, and over none when only they are blamed.
        let picks: Vec<(PackageKey, String)> = picks
            .into_iter()
            .filter(|(k, _)| !self.fixed.contains_key(k))
            .map(|(k, v)| (resolve_key(self.universe, &k), v))
            .filter(|(k, _)| self.universe.lookup(k).is_some())
            .collect();
        if picks.is_empty() {
            return Forbid::Unchangeable;
        }
        self.solver.add_nogood(Nogood::new(picks, reason));
        Forbid::Learned
    }
}

/// The learn loop of the trial stage drives the solver through this adapter:
/// each proposal is a fresh solve honouring every nogood learned so far.
impl Search for Solver<'_> {
    type Key = PackageKey;

    fn propose(&mut self) -> Result<Assignment<PackageKey>, SearchError> {
        self.solve()
            .map(|s| s.picks)
            .map_err(|e| SearchError::Unsat(e.explain()))
    }

    fn forbid(&mut self, picks: Vec<(PackageKey, String)>, reason: &str) -> Forbid {
        let u = self.universe();
        let picks: Vec<(PackageKey, String)> = picks
            .into_iter()
            .filter(|(k, _)| u.lookup(k).is_some())
            .collect();
        if picks.is_empty() {
            return Forbid::Unchangeable;
        }
        self.add_nogood(Nogood::new(picks, reason));
        Forbid::Learned
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lock::Pin;
    use crate::universe::CandidateMeta;

    fn universe() -> Universe {
        let mut u = Universe::new();
        for name in ["lxml", "pyyaml", "cython"] {
            let id = u.intern(PackageKey::new(Ecosystem::Py, "py3", name));
            for v in ["1.0", "2.0", "3.0"] {
                u.add_candidate(id, v, CandidateMeta::default(), vec![], vec![], vec![])
                    .unwrap();
            }
        }
        u
    }

    #[test]
    fn keys_round_trip() {
        for k in [
            PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "libc6"),
            PackageKey::new(Ecosystem::Py, "py2", "six"),
            PackageKey::new(Ecosystem::Git, "", "https://x/y.git"),
        ] {
            assert_eq!(package_key(&pin_key(&k)), k);
        }
        assert_eq!(
            pin_key(&PackageKey::new(Ecosystem::Deb, "buster/arm64", "x"))
                .suite
                .as_deref(),
            Some("buster")
        );
    }

    #[test]
    fn python_pins_resolve_in_their_images_interpreter() {
        let mut u = Universe::new();
        for (domain, name) in [
            ("py3", "lxml"),
            ("buster-py3", "lxml"),
            ("buster-py3", "old"),
        ] {
            let id = u.intern(PackageKey::new(Ecosystem::Py, domain, name));
            u.add_candidate(id, "1.0", CandidateMeta::default(), vec![], vec![], vec![])
                .unwrap();
        }
        let key = |image: &str, name: &str| PinKey {
            ecosystem: Ecosystem::Py,
            image: Some(image.into()),
            suite: None,
            arch: None,
            python: Some("py3".into()),
            name: name.into(),
        };
        let domain = |image: &str, name: &str| resolve_key(&u, &key(image, name)).domain;
        assert_eq!(domain("build-sonic-slave-buster", "lxml"), "buster-py3");
        assert_eq!(domain("build-sonic-slave-bullseye", "lxml"), "py3");
        assert_eq!(domain("docker-sonic-mgmt-framework", "lxml"), "py3");
        // Only buster's interpreter has it: found there whatever the image is called.
        assert_eq!(domain("docker-sonic-mgmt-framework", "old"), "buster-py3");
        let back = pin_key(&PackageKey::new(Ecosystem::Py, "buster-py3", "lxml"));
        assert_eq!(back.python.as_deref(), Some("py3"));
    }

    #[test]
    fn a_previous_locks_python_pins_count_per_image_in_every_interpreter_of_their_flavour() {
        let mut lock = Lock::new("p", &"a".repeat(40), "2022-12-06");
        for (n, v, image) in [
            ("lxml", "4.6.2", "sonic-slave-buster"),
            ("lxml", "4.9.1", "docker-config-engine-bullseye"),
        ] {
            let mut p = Pin::new(Ecosystem::Py, n, v);
            p.python = Some("py3".into());
            p.image = Some(image.into());
            lock.upsert(p);
        }
        let mut deb = Pin::new(Ecosystem::Deb, "libc6", "2.31-13+deb11u5");
        deb.suite = Some("bullseye".into());
        deb.arch = Some("amd64".into());
        lock.upsert(deb);
        // pip freeze's line for what python3-six installs is apt's to decide.
        let mut six = Pin::new(Ecosystem::Py, "six", "1.16.0");
        six.python = Some("py3".into());
        six.image = Some("docker-config-engine-bullseye".into());
        six.dependents = vec!["deb:python3-six".into()];
        lock.upsert(six);
        let r = reference_of(&lock);
        let py = |image: &str, d: &str, n: &str| {
            r.python[image]
                .get(&PackageKey::new(Ecosystem::Py, d, n))
                .map(String::as_str)
        };
        assert_eq!(
            py("sonic-slave-buster", "buster-py3", "lxml"),
            Some("4.6.2")
        );
        assert_eq!(
            py("docker-config-engine-bullseye", "py3", "lxml"),
            Some("4.9.1")
        );
        // Whichever interpreter of its flavour the image runs, not Python 2's.
        assert_eq!(
            py("docker-config-engine-bullseye", "buster-py3", "lxml"),
            Some("4.9.1")
        );
        assert_eq!(py("docker-config-engine-bullseye", "py2", "lxml"), None);
        assert_eq!(py("docker-config-engine-bullseye", "py3", "six"), None);
        assert_eq!(
            r.packages
                .get(&PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "libc6"))
                .map(String::as_str),
            Some("2.31-13+deb11u5")
        );
        assert!(r.packages.keys().all(|k| k.ecosystem != Ecosystem::Py));
    }

    #[test]
    fn proposals_keep_the_images_the_candidate_pins_packages_in() {
        let u = universe();
        let mut lock = Lock::new("p", &"a".repeat(40), "2022-12-06");
        for (n, image) in [
            ("lxml", "build-sonic-slave-bullseye"),
            ("lxml", "docker-sonic-mgmt-framework"),
            ("pyyaml", "build-sonic-slave-bullseye"),
        ] {
            let mut p = Pin::new(Ecosystem::Py, n, "2.0");
            p.python = Some("py3".into());
            p.image = Some(image.into());
            lock.upsert(p);
        }
        lock.normalize();
        let mut s = SolverSearch::for_candidate(&u, &lock);
        let a = s.propose().unwrap();
        let mut keys: Vec<(String, Option<String>)> = a
            .keys()
            .map(|k| (k.name.clone(), k.image.clone()))
            .collect();
        keys.sort();
        assert_eq!(
            keys,
            vec![
                (
                    "lxml".to_string(),
                    Some("build-sonic-slave-bullseye".into())
                ),
                (
                    "lxml".to_string(),
                    Some("docker-sonic-mgmt-framework".into())
                ),
                (
                    "pyyaml".to_string(),
                    Some("build-sonic-slave-bullseye".into())
                ),
            ]
        );
    }

    #[test]
    fn proposals_start_at_the_candidate_and_learn_nogoods() {
        let u = universe();
        let mut lock = Lock::new("p", &"a".repeat(40), "2022-12-06");
        for (n, v) in [("lxml", "2.0"), ("pyyaml", "3.0"), ("cython", "3.0")] {
            let mut p = Pin::new(Ecosystem::Py, n, v);
            p.python = Some("py3".into());
            lock.upsert(p);
        }
        lock.upsert(Pin::new(Ecosystem::Git, "https://x/y.git", &"b".repeat(40)));
        lock.normalize();
        let mut s = SolverSearch::for_candidate(&u, &lock);
        let a = s.propose().unwrap();
        let by_name: BTreeMap<String, String> =
            a.iter().map(|(k, v)| (k.name.clone(), v.clone())).collect();
        assert_eq!(by_name["lxml"], "2.0");
        assert_eq!(by_name["pyyaml"], "3.0");
        assert_eq!(by_name["https://x/y.git"], "b".repeat(40));
        let yaml = a.keys().find(|k| k.name == "pyyaml").unwrap().clone();
        let cy = a.keys().find(|k| k.name == "cython").unwrap().clone();
        assert_eq!(
            s.forbid(
                vec![(yaml.clone(), "3.0".into()), (cy.clone(), "3.0".into())],
                "cython_sources",
            ),
            Forbid::Learned
        );
        let b = s.propose().unwrap();
        assert!(!(b[&yaml] == "3.0" && b[&cy] == "3.0"), "{b:?}");
        // Blaming only a pin the universe does not know teaches the search nothing,
        // and it says so instead of dropping the nogood silently.
        let git = a
            .keys()
            .find(|k| k.name == "https://x/y.git")
            .unwrap()
            .clone();
        assert_eq!(
            s.forbid(vec![(git.clone(), "b".repeat(40))], "unknown revision"),
            Forbid::Unchangeable
        );
        assert_eq!(s.propose().unwrap(), b);
        // With a pin it can change, the nogood holds over that pin.
        assert_eq!(
            s.forbid(
                vec![(git, "b".repeat(40)), (yaml.clone(), b[&yaml].clone())],
                "x"
            ),
            Forbid::Learned
        );
        assert_ne!(s.propose().unwrap()[&yaml], b[&yaml]);
    }
}
