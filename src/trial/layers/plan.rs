//! What a layer trial builds: from the candidate lock (and, when given, the
//! crawl manifest), each image's chain of parents, its suite, and its steps in
//! Dockerfile order: one apt transaction per `RUN` that installs pinned
//! packages, then the Python set.

use crate::lock::split::BUILD_SLAVE_PREFIX;
use crate::lock::{Lock, Pin};
use crate::manifest::{Ecosystem, Manifest};
use std::collections::{BTreeMap, BTreeSet};

/// What a step does in its container.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StepKind {
    /// One `apt-get install --no-install-recommends name=version ...`.
    Apt,
    /// `pip install` of the Python set, `pip check`, `pip freeze --all`.
    Pip,
}

/// One layer of an image.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Step {
    /// What it runs.
    pub kind: StepKind,
    /// How logs name it (`apt 1`, `pip`).
    pub label: String,
    /// `name -> version` installed explicitly by this step.
    pub install: BTreeMap<String, String>,
    /// True for the image's last apt step: every pinned package must be present after it.
    pub last_apt: bool,
    /// `name -> version` of debs the tree builds that this step installs as
    /// stand-ins of that name and version (the archive's package repacked,
    /// else an empty one), so that what depends on them installs as it does
    /// on the tree's deb (`ca-certificates` on the FIPS `openssl`); their
    /// dependencies are pinned and installed beside them.
    pub stand_ins: BTreeMap<String, String>,
}

/// One image to build.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImagePlan {
    /// The image (`docker-base-bullseye`).
    pub name: String,
    /// Its Debian suite (`bullseye`).
    pub suite: String,
    /// The image it is built `FROM`, when the tree builds that one too.
    pub parent: Option<String>,
    /// Debian pins in force: `name -> version` (the image's and its ancestors'),
    /// each required to be installed after the last apt step.
    pub deb_required: BTreeMap<String, String>,
    /// Debian pins that only constrain (the lock's `default` pins): checked when installed.
    pub deb_allowed: BTreeMap<String, String>,
    /// Python pins in force (normalised name -> version), image's and ancestors'.
    pub py_required: BTreeMap<String, String>,
    /// The steps, in order.
    pub steps: Vec<Step>,
    /// Notes for the trial log (tree-built packages stood in, py2 pins not checked).
    pub notes: Vec<String>,
}

/// Why no plan can be made.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum PlanError {
    /// A `--layers-parent` chain loops.
    #[error("image parents form a cycle through {0}")]
    Cycle(String),
    /// An image's suite is unknown.
    #[error("image {0}: no suite (no Debian pin or manifest dependency names one)")]
    NoSuite(String),
    /// `--layers-image` names an image the lock does not pin.
    #[error("image {0} is not in the lock")]
    UnknownImage(String),
    /// Nothing to build.
    #[error("the lock pins no Debian or Python package of any image")]
    Empty,
}

/// Inputs besides the lock.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    /// `image -> parent` (from `--layers-parent`), over the manifest's `FROM` graph.
    pub parents: BTreeMap<String, String>,
    /// Only this image (and the layers of its ancestors).
    pub only: Option<String>,
    /// The architecture pins must hold on (`amd64`).
    pub arch: String,
}

fn pin_applies(p: &Pin, arch: &str) -> bool {
    p.arch.as_deref().is_none_or(|a| a == arch)
}

/// The image a pin is installed in when built: the lock records what package
/// builds install in a slave under `build-sonic-slave-<dist>`, but the crawl
/// declares those packages in the slave (`sonic-slave-<dist>`), and one
/// solve chose them together, so the slave's layers install them too.
pub fn built_image(p: &Pin) -> Option<&str> {
    let img = p.image.as_deref()?;
    if img.starts_with(BUILD_SLAVE_PREFIX) {
        img.strip_prefix("build-")
    } else {
        Some(img)
    }
}

/// PEP 503 form of a Python name, as pip freeze output is compared.
pub fn normalize_py(name: &str) -> String {
    crate::lock::lockfile::canonical_name(Ecosystem::Py, name)
}

/// `image -> parent`: the manifest's `FROM` edges between images the lock
/// pins, then `--layers-parent`, which wins.
fn parents_of(
    images: &BTreeSet<String>,
    manifest: Option<&Manifest>,
    given: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    let mut parents: BTreeMap<String, String> = manifest
        .iter()
        .flat_map(|m| {
            m.images.keys().filter_map(|i| {
                let p = crate::manifest::images::parent_of(&m.images, i)?;
                (images.contains(i) && images.contains(p)).then(|| (i.clone(), p.to_string()))
            })
        })
        .collect();
    parents.extend(given.iter().map(|(i, p)| (i.clone(), p.clone())));
    parents
}

/// The images to build, parents before children.
pub fn plan(
    lock: &Lock,
    manifest: Option<&Manifest>,
    opts: &PlanOptions,
) -> Result<Vec<ImagePlan>, PlanError> {
    let mut images: BTreeSet<String> = lock
        .pins
        .iter()
        .filter(|p| matches!(p.ecosystem, Ecosystem::Deb | Ecosystem::Py))
        .filter_map(|p| built_image(p).map(str::to_string))
        .collect();
    let parents = parents_of(&images, manifest, &opts.parents);
    images.extend(parents.values().cloned());
    if images.is_empty() {
        return Err(PlanError::Empty);
    }
    if let Some(only) = &opts.only
        && !images.contains(only)
    {
        return Err(PlanError::UnknownImage(only.clone()));
    }
    // Ancestors of each image, root first.
    let chain = |img: &str| -> Result<Vec<String>, PlanError> {
        let mut out = vec![img.to_string()];
        let mut cur = img.to_string();
        while let Some(p) = parents.get(&cur) {
            if out.contains(p) {
                return Err(PlanError::Cycle(p.clone()));
            }
            out.push(p.clone());
            cur = p.clone();
        }
        out.reverse();
        Ok(out)
    };
    let wanted: BTreeSet<String> = match &opts.only {
        Some(only) => chain(only)?.into_iter().collect(),
        None => images.clone(),
    };
    let mut out = Vec::new();
    for img in &wanted {
        let ancestors = chain(img)?;
        out.push(image_plan(lock, manifest, opts, img, &ancestors)?);
    }
    // Parents first: sort by depth, then name.
    let depth = |p: &ImagePlan| chain(&p.name).map(|c| c.len()).unwrap_or(0);
    out.sort_by(|a, b| (depth(a), &a.name).cmp(&(depth(b), &b.name)));
    Ok(out)
}

fn image_plan(
    lock: &Lock,
    manifest: Option<&Manifest>,
    opts: &PlanOptions,
    img: &str,
    ancestors: &[String],
) -> Result<ImagePlan, PlanError> {
    // A package the tree builds is stood in by its dependencies, never fetched.
    let own =
        |p: &&Pin| built_image(p) == Some(img) && pin_applies(p, &opts.arch) && p.built.is_none();
    let suite = lock
        .pins
        .iter()
        .filter(own)
        .filter(|p| p.ecosystem == Ecosystem::Deb)
        .find_map(|p| p.suite.clone())
        .or_else(|| {
            manifest?
                .dependencies
                .iter()
                .filter(|d| d.context.image.as_deref() == Some(img))
                .find_map(|d| d.context.suite.clone())
        })
        .or_else(|| {
            // An image without Debian pins of its own is on its parent's suite.
            let parent = ancestors.iter().rev().nth(1)?;
            lock.pins
                .iter()
                .filter(|p| built_image(p) == Some(parent.as_str()))
                .find_map(|p| p.suite.clone())
        })
        .ok_or_else(|| PlanError::NoSuite(img.to_string()))?;
    let on_suite = |p: &Pin| p.suite.as_deref().is_none_or(|s| s == suite);
    let mut deb_required = BTreeMap::new();
    let mut py_required = BTreeMap::new();
    let mut notes = Vec::new();
    for a in ancestors {
        for p in lock.pins.iter().filter(|p| {
            built_image(p) == Some(a.as_str())
                && pin_applies(p, &opts.arch)
                && on_suite(p)
                && p.built.is_none()
        }) {
            match (p.ecosystem, p.python.as_deref()) {
                (Ecosystem::Deb, _) => {
                    deb_required.insert(p.name.clone(), p.version.clone());
                }
                // apt installed it; the image's apt steps put it there, pip must not.
                (Ecosystem::Py, _) if p.installed_by_apt().is_some() => {}
                (Ecosystem::Py, None | Some("py3")) => {
                    py_required.insert(normalize_py(&p.name), p.version.clone());
                }
                (Ecosystem::Py, Some(other)) if a == img => notes.push(format!(
                    "py {} {} ({other}) is not checked: only the image's python3 is",
                    p.name, p.version
                )),
                _ => {}
            }
        }
    }
    // The stand-ins of the tree's debs are installed like any pin.
    for a in ancestors {
        let theirs: BTreeMap<String, String> = lock
            .pins
            .iter()
            .filter(|p| {
                built_image(p) == Some(a.as_str())
                    && p.ecosystem == Ecosystem::Deb
                    && p.built.is_none()
                    && pin_applies(p, &opts.arch)
                    && on_suite(p)
            })
            .map(|p| (p.name.clone(), p.version.clone()))
            .collect();
        deb_required.extend(tree_debs(manifest, a, &theirs));
    }
    let deb_allowed = lock
        .pins
        .iter()
        .filter(|p| {
            p.image.is_none()
                && p.ecosystem == Ecosystem::Deb
                && pin_applies(p, &opts.arch)
                && on_suite(p)
        })
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let own_deb: BTreeMap<String, String> = lock
        .pins
        .iter()
        .filter(own)
        .filter(|p| p.ecosystem == Ecosystem::Deb && on_suite(p))
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let own_py: BTreeMap<String, String> = lock
        .pins
        .iter()
        .filter(own)
        .filter(|p| {
            p.ecosystem == Ecosystem::Py
                && p.python.as_deref().is_none_or(|f| f == "py3")
                && p.installed_by_apt().is_none()
        })
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect();
    let mut steps = apt_steps(manifest, img, &own_deb, &mut notes);
    if let Some(last) = steps.iter_mut().rev().find(|s| s.kind == StepKind::Apt) {
        last.last_apt = true;
    }
    if !own_py.is_empty() {
        steps.push(Step {
            kind: StepKind::Pip,
            label: "pip".into(),
            install: own_py,
            last_apt: false,
            stand_ins: BTreeMap::new(),
        });
    }
    Ok(ImagePlan {
        name: img.to_string(),
        suite,
        parent: ancestors.iter().rev().nth(1).cloned(),
        deb_required,
        deb_allowed,
        py_required,
        steps,
        notes,
    })
}

/// The debs of `img` that the tree builds, with their versions: declared in
/// the image at one version and not pinned by the lock.
fn tree_debs(
    manifest: Option<&Manifest>,
    img: &str,
    own: &BTreeMap<String, String>,
) -> BTreeMap<String, String> {
    manifest
        .iter()
        .flat_map(|m| &m.dependencies)
        .filter(|d| {
            d.ecosystem == Ecosystem::Deb
                && d.context.image.as_deref() == Some(img)
                && d.attrs.get("action").is_none_or(|a| a != "remove")
        })
        .filter_map(|d| {
            let name = d.name.split(':').next().unwrap_or(&d.name);
            match &d.constraint {
                crate::manifest::Constraint::Exact(v) if !own.contains_key(name) => {
                    Some((name.to_string(), v.clone()))
                }
                _ => None,
            }
        })
        .collect()
}

/// The apt steps of an image: with a manifest, one per apt transaction in
/// order, each installing the pinned packages it declares (the last one also
/// every pin no transaction names: dependencies pulled in); without one, a
/// single step with every pin. Declared packages the lock does not pin are
/// built by the tree: the first step installs a stand-in of each one whose
/// version is known, and their declared dependencies, pinned, are
/// installed as dependencies pulled in.
fn apt_steps(
    manifest: Option<&Manifest>,
    img: &str,
    own: &BTreeMap<String, String>,
    notes: &mut Vec<String>,
) -> Vec<Step> {
    let mut txs: BTreeMap<(String, u32), BTreeMap<String, String>> = BTreeMap::new();
    let mut placed = BTreeSet::new();
    for d in manifest.iter().flat_map(|m| &m.dependencies).filter(|d| {
        d.ecosystem == Ecosystem::Deb
            && d.context.image.as_deref() == Some(img)
            && d.attrs.get("action").is_none_or(|a| a != "remove")
    }) {
        let name = d.name.split(':').next().unwrap_or(&d.name).to_string();
        let Some(v) = own.get(&name) else {
            notes.push(format!(
                "deb {name} ({}) is not pinned: built by the tree, stood in by {} and its pinned dependencies",
                d.origin,
                match &d.constraint {
                    crate::manifest::Constraint::Exact(v) => format!("a {name} {v} stand-in"),
                    _ => "nothing of its name (no version known)".to_string(),
                }
            ));
            continue;
        };
        let t = (d.origin.file.clone(), d.context.transaction.unwrap_or(0));
        txs.entry(t).or_default().insert(name.clone(), v.clone());
        placed.insert(name);
    }
    let mut steps: Vec<Step> = txs
        .into_values()
        .enumerate()
        .map(|(i, install)| Step {
            kind: StepKind::Apt,
            label: format!("apt {}", i + 1),
            install,
            last_apt: false,
            stand_ins: BTreeMap::new(),
        })
        .collect();
    let rest: BTreeMap<String, String> = own
        .iter()
        .filter(|(n, _)| !placed.contains(*n))
        .map(|(n, v)| (n.clone(), v.clone()))
        .collect();
    if !rest.is_empty() {
        match steps.last_mut() {
            Some(last) => last.install.extend(rest),
            None => steps.push(Step {
                kind: StepKind::Apt,
                label: "apt 1".into(),
                install: rest,
                last_apt: false,
                stand_ins: BTreeMap::new(),
            }),
        }
    }
    let stand_ins = tree_debs(manifest, img, own);
    if !stand_ins.is_empty() {
        match steps.first_mut() {
            Some(first) => first.stand_ins = stand_ins,
            None => steps.push(Step {
                kind: StepKind::Apt,
                label: "apt 1".into(),
                install: BTreeMap::new(),
                last_apt: false,
                stand_ins,
            }),
        }
    }
    steps
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Constraint, Context, Dependency, Origin};

    fn pin(eco: Ecosystem, img: &str, name: &str, v: &str) -> Pin {
        let mut p = Pin::new(eco, name, v);
        p.image = Some(img.into());
        if eco == Ecosystem::Deb {
            p.suite = Some("bookworm".into());
        }
        p
    }

    fn lock() -> Lock {
        let mut l = Lock::new("p", &"a".repeat(40), "2022-12-06");
        l.upsert(pin(Ecosystem::Deb, "base", "liba", "1.0"));
        l.upsert(pin(Ecosystem::Deb, "base", "libdep", "2.0"));
        l.upsert(pin(Ecosystem::Py, "base", "Six", "1.16.0"));
        l.upsert(pin(Ecosystem::Deb, "child", "libc-tool", "3.0"));
        l.upsert(Pin::new(Ecosystem::Deb, "libdefault", "9"));
        l.normalize();
        l
    }

    fn dep(img: &str, name: &str, tx: u32) -> Dependency {
        Dependency {
            ecosystem: Ecosystem::Deb,
            name: name.into(),
            constraint: Constraint::None,
            pinned: false,
            origin: Origin {
                file: format!("dockers/{img}/Dockerfile.j2"),
                line: tx,
            },
            context: Context {
                image: Some(img.into()),
                suite: Some("bookworm".into()),
                transaction: Some(tx),
                ..Context::default()
            },
            attrs: BTreeMap::new(),
        }
    }

    #[test]
    fn chains_steps_and_pins_follow_the_lock_and_manifest() {
        let opts = PlanOptions {
            parents: [("child".to_string(), "base".to_string())].into(),
            only: None,
            arch: "amd64".into(),
        };
        let plans = plan(&lock(), None, &opts).unwrap();
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["base", "child"]);
        let child = &plans[1];
        assert_eq!(child.parent.as_deref(), Some("base"));
        assert_eq!(child.deb_required.len(), 3);
        assert_eq!(child.py_required["six"], "1.16.0");
        assert_eq!(child.deb_allowed["libdefault"], "9");
        assert_eq!(child.steps.len(), 1);
        assert_eq!(plans[0].steps.len(), 2);
        assert!(plans[0].steps[0].last_apt);

        let mut m = Manifest::new("p".into(), "c".into(), "2022-12-06".into(), vec![], vec![]);
        m.dependencies = vec![
            dep("base", "libdep", 2),
            dep("base", "liba", 1),
            dep("base", "sonic-own", 1),
        ];
        // The tree's own `sonic-own` deb, pinned with its make target's version:
        // stood in, never fetched.
        let mut with_built = lock();
        let mut own = Pin::new(Ecosystem::Deb, "sonic-own", "1.0");
        own.image = Some("base".into());
        own.suite = Some("bookworm".into());
        own.built = Some("sonic-own_1.0_amd64.deb".into());
        with_built.upsert(own);
        let plans = plan(&with_built, Some(&m), &opts).unwrap();
        assert!(
            plans
                .iter()
                .flat_map(|p| &p.steps)
                .all(|s| !s.install.contains_key("sonic-own")),
            "{plans:?}"
        );
        assert!(!plans[1].deb_required.contains_key("sonic-own"));
        let base = &plans[0];
        let labels: Vec<_> = base
            .steps
            .iter()
            .map(|s| (s.label.as_str(), s.install.len()))
            .collect();
        assert_eq!(labels, [("apt 1", 1), ("apt 2", 1), ("pip", 1)]);
        assert!(
            base.notes.iter().any(|n| n.contains("sonic-own")),
            "{:?}",
            base.notes
        );

        let only = PlanOptions {
            only: Some("base".into()),
            ..opts.clone()
        };
        assert_eq!(plan(&lock(), None, &only).unwrap().len(), 1);
        let cyc = PlanOptions {
            parents: [("a".into(), "b".into()), ("b".into(), "a".into())].into(),
            ..opts
        };
        assert!(matches!(
            plan(&lock(), None, &cyc),
            Err(PlanError::Cycle(_))
        ));
    }

    #[test]
    fn the_manifests_from_graph_chains_the_images_without_being_told() {
        use crate::manifest::images::ImageNode;
        let mut m = Manifest::new("p".into(), "c".into(), "2022-12-06".into(), vec![], vec![]);
        let node = |parent: Option<&str>| ImageNode {
            parent: parent.map(String::from),
            ..ImageNode::default()
        };
        m.images.insert("base".into(), node(None));
        m.images.insert("child".into(), node(Some("base")));
        // A FROM edge to an image the lock does not pin builds nothing.
        m.images.insert("other".into(), node(Some("unpinned")));
        m.images.insert("unpinned".into(), node(None));
        let opts = PlanOptions {
            parents: BTreeMap::new(),
            only: Some("child".into()),
            arch: "amd64".into(),
        };
        let plans = plan(&lock(), Some(&m), &opts).unwrap();
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["base", "child"]);
        assert_eq!(plans[1].parent.as_deref(), Some("base"));
        // The child's check expects what its parent installed.
        assert_eq!(plans[1].deb_required["liba"], "1.0");
        assert_eq!(plans[1].py_required["six"], "1.16.0");
        // --layers-parent wins over the manifest.
        let given = PlanOptions {
            parents: [("child".to_string(), "other".to_string())].into(),
            only: Some("child".into()),
            ..opts
        };
        let plans = plan(&lock(), Some(&m), &given);
        assert!(matches!(plans, Err(PlanError::NoSuite(_))), "{plans:?}");
        assert_eq!(
            parents_of(
                &["base", "child"].map(String::from).into(),
                Some(&m),
                &BTreeMap::new()
            ),
            [("child".to_string(), "base".to_string())].into()
        );
    }

    #[test]
    fn what_package_builds_install_is_built_with_the_slave() {
        let mut l = Lock::new("p", &"a".repeat(40), "2022-12-06");
        l.upsert(pin(
            Ecosystem::Deb,
            "sonic-slave-bookworm",
            "dpkg-dev",
            "1.0",
        ));
        // Declared by a debian/control only, and pulled in by dpkg-dev.
        l.upsert(pin(
            Ecosystem::Deb,
            "build-sonic-slave-bookworm",
            "bzip2",
            "2.0",
        ));
        l.normalize();
        let mut m = Manifest::new("p".into(), "c".into(), "2022-12-06".into(), vec![], vec![]);
        let mut control = dep("sonic-slave-bookworm", "bzip2", 5);
        control.origin.file = "src/libfoo/debian/control".into();
        m.dependencies = vec![dep("sonic-slave-bookworm", "dpkg-dev", 1), control];
        let plans = plan(&l, Some(&m), &PlanOptions::default()).unwrap();
        let names: Vec<&str> = plans.iter().map(|p| p.name.as_str()).collect();
        assert_eq!(names, ["sonic-slave-bookworm"]);
        let slave = &plans[0];
        assert_eq!(slave.deb_required["bzip2"], "2.0");
        assert!(
            slave.steps.iter().any(|s| s.install.contains_key("bzip2")),
            "{:?}",
            slave.steps
        );
        assert!(slave.notes.is_empty(), "{:?}", slave.notes);
    }

    #[test]
    fn python_that_apt_installed_is_neither_pip_installed_nor_required() {
        let mut l = lock();
        let mut yaml = pin(Ecosystem::Py, "base", "pyyaml", "5.3.1");
        yaml.dependents = vec!["deb:python3-yaml".into()];
        l.upsert(yaml);
        l.normalize();
        let opts = PlanOptions {
            parents: [("child".to_string(), "base".to_string())].into(),
            only: None,
            arch: "amd64".into(),
        };
        let plans = plan(&l, None, &opts).unwrap();
        let pip = plans[0]
            .steps
            .iter()
            .find(|s| s.kind == StepKind::Pip)
            .unwrap();
        assert_eq!(pip.install.keys().collect::<Vec<_>>(), ["Six"]);
        for p in &plans {
            assert!(!p.py_required.contains_key("pyyaml"), "{}", p.name);
            assert_eq!(p.py_required["six"], "1.16.0");
        }
    }
}
