//! From a solution to a candidate lock: every chosen Debian package becomes a pin
//! in the image that installs it, with its immutable URL, hash and the manifest
//! origins that asked for it, ready for trial builds and export.

use crate::lock::{Lock, Pin};
use crate::manifest::{Ecosystem, Manifest};
use crate::universe::{PackageKey, Universe};
use std::collections::{BTreeMap, BTreeSet};

/// The lock's image (SONiC module) for a pin of manifest image `image` that
/// `why` declared. SONiC records a slave image's own installs under
/// `dockers/sonic-slave-<dist>` and what package builds install in it under
/// `build/build-sonic-slave-<dist>`: a slave pin declared only outside the
/// slave's own directory (a `debian/control`, a `setup.py`, a `rules/*.mk`)
/// goes to the build module; one its Dockerfile declares, or that only
/// dependencies pulled in, stays with the slave image.
pub fn lock_image(image: &str, why: &[String]) -> String {
    let dir = format!("{image}/");
    if image.starts_with("sonic-slave-")
        && !why.is_empty()
        && why.iter().all(|o| !o.starts_with(&dir))
    {
        build_module(image)
    } else {
        image.to_string()
    }
}

/// SONiC's module of what the package builds in `slave` installed there
/// (`build-sonic-slave-bullseye`).
pub fn build_module(slave: &str) -> String {
    format!("build-{slave}")
}

/// Manifest origins (`file:line`) per (image, Debian package name).
pub fn deb_origins(m: &Manifest) -> BTreeMap<(String, String), BTreeSet<String>> {
    let mut out: BTreeMap<(String, String), BTreeSet<String>> = BTreeMap::new();
    for d in m
        .dependencies
        .iter()
        .filter(|d| d.ecosystem == Ecosystem::Deb)
    {
        let image = d.context.image.clone().unwrap_or_else(|| "default".into());
        let name = d.name.split(':').next().unwrap_or(&d.name).to_string();
        out.entry((image, name))
            .or_default()
            .insert(d.origin.to_string());
    }
    out
}

/// Pins for one image's chosen Debian packages (`picks`), in the universe's `domain` (`<suite>/<arch>`).
pub fn deb_pins(
    u: &Universe,
    image: &str,
    picks: &BTreeMap<PackageKey, String>,
    origins: &BTreeMap<(String, String), BTreeSet<String>>,
) -> Vec<Pin> {
    // Which picked packages depend on each picked package: the lock's `dependents`,
    // so that a later change of one is known to drag the other along.
    let mut dependents: BTreeMap<&str, BTreeSet<String>> = BTreeMap::new();
    for (key, version) in picks {
        let Some(c) = u.lookup(key).and_then(|p| u.find_version(p, version)) else {
            continue;
        };
        // A Recommends apt followed drags its package along as a Depends does.
        let cand = u.candidate(c);
        for r in cand.depends.iter().chain(&cand.meta.recommends) {
            for alt in &r.alternatives {
                let target = u.key(alt.package);
                if target.name != key.name && picks.contains_key(target) {
                    dependents
                        .entry(target.name.as_str())
                        .or_default()
                        .insert(key.name.clone());
                }
            }
        }
    }
    let mut pins = Vec::new();
    for (key, version) in picks {
        if key.ecosystem != Ecosystem::Deb {
            continue;
        }
        let mut pin = Pin::new(Ecosystem::Deb, &key.name, version);
        let mut parts = key.domain.splitn(2, '/');
        pin.suite = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
        pin.arch = parts.next().filter(|s| !s.is_empty()).map(str::to_string);
        if let Some(c) = u.lookup(key).and_then(|p| u.find_version(p, version)) {
            let meta = &u.candidate(c).meta;
            pin.url = meta.url.clone();
            pin.sha256 = meta.sha256.clone();
            pin.first_seen = meta.first_seen.clone();
        }
        if let Some(o) = origins.get(&(image.to_string(), key.name.clone())) {
            pin.why = o.iter().cloned().collect();
        }
        pin.image = Some(lock_image(image, &pin.why));
        if let Some(d) = dependents.get(key.name.as_str()) {
            pin.dependents = d.iter().cloned().collect();
        }
        pins.push(pin);
    }
    pins
}

/// A candidate lock for `platform` from the per-image picks of a solve over `m`'s dependencies.
pub fn candidate_lock(
    platform: &str,
    m: &Manifest,
    u: &Universe,
    per_image: &BTreeMap<String, BTreeMap<PackageKey, String>>,
) -> Lock {
    let origins = deb_origins(m);
    let mut lock = Lock::new(platform, &m.commit, &m.commit_date);
    lock.make_vars = m.make_vars.clone();
    for (image, picks) in per_image {
        lock.upsert_all(deb_pins(u, image, picks, &origins));
    }
    lock.normalize();
    lock
}

/// Pins for the debs the tree builds and each image installs, with the
/// version of their make target (`lldpd_1.0.4-1_amd64.deb`), as SONiC's
/// freeze records every installed package; a deb an image's parent already
/// installs is inherited, not pinned again. `domain_of(suite)` gives the
/// image's `<suite>/<arch>`.
pub fn built_deb_pins(m: &Manifest, domain_of: &dyn Fn(Option<&str>) -> String) -> Vec<Pin> {
    let mut out = Vec::new();
    for (image, node) in &m.images {
        let mut inherited: BTreeSet<&str> = BTreeSet::new();
        let mut cur = crate::manifest::images::parent_of(&m.images, image);
        while let Some(p) = cur {
            if let Some(n) = m.images.get(p) {
                inherited.extend(n.debs.iter().map(|d| d.target.as_str()));
            }
            cur = crate::manifest::images::parent_of(&m.images, p);
        }
        for d in &node.debs {
            if inherited.contains(d.target.as_str()) {
                continue;
            }
            let Some(stem) = d.target.strip_suffix(".deb") else {
                continue;
            };
            let mut parts = stem.split('_');
            let (Some(name), Some(version)) = (parts.next(), parts.next()) else {
                continue;
            };
            if crate::manifest::check_name(Ecosystem::Deb, name).is_err()
                || crate::universe::scheme_for(Ecosystem::Deb)
                    .validate(version)
                    .is_err()
            {
                continue;
            }
            let domain = domain_of(node.suite.as_deref());
            let mut pin = Pin::new(Ecosystem::Deb, name, version);
            let mut dp = domain.splitn(2, '/');
            pin.suite = dp.next().filter(|s| !s.is_empty()).map(str::to_string);
            pin.arch = dp.next().filter(|s| !s.is_empty()).map(str::to_string);
            pin.image = Some(image.clone());
            pin.built = Some(d.target.clone());
            out.push(pin);
        }
    }
    out
}

/// Pins for one image's chosen Python distributions: flavour from the domain,
/// PyPI URL and hash, the image's declarations as `why`, the distributions
/// that required each as `dependents`.
pub fn py_pins(u: &Universe, image: &str, o: &super::python::PyOutcome) -> Vec<Pin> {
    let mut pins = Vec::new();
    for (key, version) in &o.picks {
        let mut pin = Pin::new(Ecosystem::Py, &key.name, version);
        pin.python = Some(super::python::flavour(&key.domain).to_string());
        if let Some(c) = u.lookup(key).and_then(|p| u.find_version(p, version)) {
            let meta = &u.candidate(c).meta;
            pin.url = meta.url.clone();
            pin.sha256 = meta.sha256.clone();
            pin.first_seen = meta.first_seen.clone();
        }
        if let Some(w) = o.why.get(key) {
            pin.why = w.iter().cloned().collect();
        }
        pin.image = Some(lock_image(image, &pin.why));
        if let Some(d) = o.dependents.get(key) {
            pin.dependents = d.iter().cloned().collect();
        }
        pins.push(pin);
    }
    pins
}

/// Pins for the Go modules built in one image. A module two main modules
/// select at different versions gets the higher one (the lock holds one pin
/// per image; each go.sum still enforces its own) and a note.
pub fn go_pins(image: &str, mods: &[super::images::GoModule]) -> (Vec<Pin>, Vec<String>) {
    #[derive(Default)]
    struct Acc<'a> {
        version: &'a str,
        why: BTreeSet<String>,
        dependents: BTreeSet<String>,
    }
    let mut best: BTreeMap<&str, Acc<'_>> = BTreeMap::new();
    let mut notes = Vec::new();
    for gm in mods {
        for (module, version) in &gm.build_list.selected {
            let e = best.entry(module).or_insert_with(|| Acc {
                version,
                ..Acc::default()
            });
            if e.version != version {
                notes.push(format!(
                    "go {module} [{image}]: main modules select {} and {version}; pinned to the higher",
                    e.version
                ));
                if crate::universe::scheme_for(Ecosystem::Go)
                    .compare(version, e.version)
                    .is_gt()
                {
                    e.version = version;
                }
            }
            if let Some(o) = gm.origins.get(module) {
                e.why.extend(o.iter().cloned());
            }
            if let Some(r) = gm.build_list.required_by.get(module) {
                e.dependents
                    .extend(r.iter().filter(|m| *m != "main").cloned());
            }
        }
    }
    let pins = best
        .into_iter()
        .map(|(module, acc)| {
            let mut pin = Pin::new(Ecosystem::Go, module, acc.version);
            pin.why = acc.why.into_iter().collect();
            pin.image = Some(lock_image(image, &pin.why));
            pin.dependents = acc.dependents.into_iter().collect();
            pin
        })
        .collect();
    (pins, notes)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Constraint, Context, Dependency, Origin};
    use crate::universe::{CandidateMeta, debian};

    #[test]
    fn slave_pins_go_where_sonic_records_them() {
        let why = |o: &[&str]| o.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        let slave = "sonic-slave-bullseye";
        assert_eq!(
            lock_image(slave, &why(&["sonic-slave-bullseye/Dockerfile.j2:60"])),
            slave
        );
        // Only a package build declares it: what building installs in the slave.
        assert_eq!(
            lock_image(slave, &why(&["src/libfoo/debian/control:5"])),
            "build-sonic-slave-bullseye"
        );
        assert_eq!(
            lock_image(
                slave,
                &why(&[
                    "src/libfoo/debian/control:5",
                    "sonic-slave-bullseye/Dockerfile.j2:9"
                ])
            ),
            slave
        );
        // Pulled in as a dependency: installed with the slave image.
        assert_eq!(lock_image(slave, &[]), slave);
        assert_eq!(
            lock_image("docker-database", &why(&["rules/x.mk:1"])),
            "docker-database"
        );
    }

    #[test]
    fn picks_become_pins_with_url_hash_and_origin() {
        let mut u = Universe::new();
        let packages = "Package: make\nVersion: 4.3-4.1\nArchitecture: amd64\n\
                        Filename: pool/main/m/make-dfsg/make_4.3-4.1_amd64.deb\n\
                        SHA256: 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\n\n";
        debian::load_packages(&mut u, packages.as_bytes(), "Packages", "bullseye/amd64").unwrap();
        let key = PackageKey::new(Ecosystem::Deb, "bullseye/amd64", "make");
        let m = Manifest::new(
            "wedge100bf-32x".into(),
            "586d715f172b1b72e9fc1e7b55625e2e5af590c2".into(),
            "2022-12-06T08:47:31Z".into(),
            vec![Dependency {
                ecosystem: Ecosystem::Deb,
                name: "make".into(),
                constraint: Constraint::None,
                pinned: false,
                origin: Origin {
                    file: "sonic-slave-bullseye/Dockerfile.j2".into(),
                    line: 60,
                },
                context: Context {
                    image: Some("sonic-slave-bullseye".into()),
                    ..Context::default()
                },
                attrs: BTreeMap::new(),
            }],
            vec![],
        );
        let per_image = BTreeMap::from([(
            "sonic-slave-bullseye".to_string(),
            BTreeMap::from([(key, "4.3-4.1".to_string())]),
        )]);
        let lock = candidate_lock("wedge100bf-32x", &m, &u, &per_image);
        assert_eq!(lock.pins.len(), 1);
        let p = &lock.pins[0];
        // Declared by the slave's Dockerfile: the slave image's own pin, as SONiC records it.
        assert_eq!(p.image.as_deref(), Some("sonic-slave-bullseye"));
        assert_eq!(
            (p.suite.as_deref(), p.arch.as_deref()),
            (Some("bullseye"), Some("amd64"))
        );
        assert_eq!(
            p.why,
            vec!["sonic-slave-bullseye/Dockerfile.j2:60".to_string()]
        );
        let meta: &CandidateMeta = &u
            .candidate(
                u.candidates_of(
                    u.lookup_name(Ecosystem::Deb, "bullseye/amd64", "make")
                        .unwrap(),
                )[0],
            )
            .meta;
        assert_eq!(p.sha256, meta.sha256);
        assert_eq!(lock.commit, m.commit);
        // A dependency's pin names the picked packages that depend on it.
        let packages = "Package: a\nVersion: 1\nArchitecture: amd64\nDepends: b (>= 1) | c\n\n\
                        Package: b\nVersion: 1\nArchitecture: amd64\n\n";
        debian::load_packages(&mut u, packages.as_bytes(), "P2", "bullseye/amd64").unwrap();
        let k = |n: &str| PackageKey::new(Ecosystem::Deb, "bullseye/amd64", n);
        let picks = BTreeMap::from([(k("a"), "1".to_string()), (k("b"), "1".to_string())]);
        let pins = deb_pins(&u, "sonic-slave-bullseye", &picks, &BTreeMap::new());
        let b = pins.iter().find(|p| p.name == "b").unwrap();
        assert_eq!(b.dependents, vec!["a".to_string()]);
        assert!(
            pins.iter()
                .find(|p| p.name == "a")
                .unwrap()
                .dependents
                .is_empty()
        );
        // The candidate is a valid lock: it round-trips through the lockfile format.
        let text = lock.to_toml_string();
        assert_eq!(Lock::from_toml_str(&text, "candidate.lock").unwrap(), lock);
    }
}
