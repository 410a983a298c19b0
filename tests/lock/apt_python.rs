//! `pip freeze` sees what apt installed: an image whose Debian packages put a
//! Python distribution in `dist-packages` (`python3-yaml` -> PyYAML 5.3.1)
//! gets it in its exported `versions-py3`, as SONiC's freeze records it; an
//! image that inherits it unchanged through its `FROM` chain does not repeat
//! it, an image without it does not list it, and pip's own install of the
//! same name wins.

use sonic_lock::lock::split;
use sonic_lock::manifest::images::{BaseKind, ImageNode};
use sonic_lock::manifest::{Constraint, Context, Dependency, Ecosystem, Manifest, Origin};
use sonic_lock::pipeline::candidate::{add_apt_python_pins, candidate_of};
use sonic_lock::solve::images::{ManifestOptions, solve_manifest};
use sonic_lock::universe::python::apt::{AptPython, AptPythonEntry, PyDist};
use sonic_lock::universe::python::{PythonEnv, add_distribution};
use sonic_lock::universe::{CandidateMeta, Universe, debian};
use std::collections::BTreeMap;
use std::path::Path;

const PACKAGES: &str = "\
Package: base-files
Version: 11.1
Architecture: amd64
Priority: required

Package: apt
Version: 2.2.4
Architecture: amd64
Priority: important

Package: python3
Version: 3.9.2-3
Architecture: amd64

Package: python3-pip
Version: 20.3.4-4
Architecture: all
Depends: python3

Package: python3-yaml
Version: 5.3.1-5
Architecture: amd64
Depends: python3
";

fn dep(eco: Ecosystem, image: &str, name: &str, c: Constraint) -> Dependency {
    Dependency {
        ecosystem: eco,
        name: name.into(),
        pinned: c.is_pinned(),
        constraint: c,
        origin: Origin {
            file: format!("dockers/{image}/Dockerfile.j2"),
            line: 3,
        },
        context: Context {
            image: Some(image.into()),
            suite: Some("bullseye".into()),
            transaction: Some(1),
            python: (eco == Ecosystem::Py).then(|| "py3".to_string()),
            ..Context::default()
        },
        attrs: BTreeMap::new(),
    }
}

fn mapping() -> AptPython {
    let d = |name: &str, version: &str| PyDist {
        python: "py3".into(),
        name: name.into(),
        version: version.into(),
    };
    let e = |package: &str, deb: &str, dist: PyDist| AptPythonEntry {
        dist: "bullseye".into(),
        suite: "debian:bullseye".into(),
        package: package.into(),
        deb_versions: vec![deb.into()],
        dists: vec![dist],
    };
    let mut m = AptPython::default();
    m.extend([
        e("python3-yaml", "5.3.1-5", d("pyyaml", "5.3.1")),
        e("python3-pip", "20.3.4-4", d("pip", "20.3.4")),
    ]);
    m
}

/// docker-base-bullseye (pip from Debian) -> docker-config-engine-bullseye
/// (python3-yaml) -> docker-database (nothing of its own) and docker-snmp
/// (`pip3 install pyyaml==6.0`); docker-other on docker-base-bullseye alone.
fn locked(apt: &AptPython) -> sonic_lock::lock::Lock {
    locked_upgrading(apt, false)
}

/// [`locked`], docker-base-bullseye running `pip3 install --upgrade pip` when `upgrade`.
fn locked_upgrading(apt: &AptPython, upgrade: bool) -> sonic_lock::lock::Lock {
    let mut u = Universe::new();
    debian::load_packages(&mut u, PACKAGES.as_bytes(), "Packages", "bullseye/amd64").unwrap();
    let env = PythonEnv::linux_cpython("py3", "3.9.2").unwrap();
    for v in ["5.4.1", "6.0"] {
        add_distribution(
            &mut u,
            &env,
            "PyYAML",
            v,
            &[],
            None,
            &[],
            CandidateMeta::default(),
        )
        .unwrap();
    }
    // PyPI's pip only where pip asks for it (an index names what is reached).
    for v in ["20.3.4", "23.1.2"].into_iter().filter(|_| upgrade) {
        add_distribution(
            &mut u,
            &env,
            "pip",
            v,
            &[],
            None,
            &[],
            CandidateMeta::default(),
        )
        .unwrap();
    }
    let none = Constraint::None;
    let mut m = Manifest::new(
        "p".into(),
        "a".repeat(40),
        "2022-12-01T00:00:00Z".into(),
        vec![
            dep(
                Ecosystem::Deb,
                "docker-base-bullseye",
                "python3-pip",
                none.clone(),
            ),
            dep(
                Ecosystem::Deb,
                "docker-config-engine-bullseye",
                "python3-yaml",
                none.clone(),
            ),
            dep(
                Ecosystem::Py,
                "docker-snmp",
                "pyyaml",
                Constraint::Exact("6.0".into()),
            ),
        ],
        vec![],
    );
    if upgrade {
        let mut pip = dep(Ecosystem::Py, "docker-base-bullseye", "pip", none.clone());
        pip.context.transaction = Some(2);
        pip.attrs.insert("upgrade".into(), "y".into());
        m.dependencies.push(pip);
    }
    let node = |parent: Option<&str>| ImageNode {
        parent: parent.map(String::from),
        base: parent.is_none().then_some(BaseKind::Minbase),
        suite: Some("bullseye".into()),
        ..ImageNode::default()
    };
    for (image, parent) in [
        ("docker-base-bullseye", None),
        (
            "docker-config-engine-bullseye",
            Some("docker-base-bullseye"),
        ),
        ("docker-database", Some("docker-config-engine-bullseye")),
        ("docker-snmp", Some("docker-config-engine-bullseye")),
        ("docker-other", Some("docker-base-bullseye")),
    ] {
        m.images.insert(image.into(), node(parent));
    }
    let opts = ManifestOptions {
        default_domain: "bullseye/amd64".into(),
        base: vec![],
        nogoods: &[],
        reference: None,
        source: None,
    };
    let solved = solve_manifest(&mut u, &m, &opts).unwrap();
    let (mut lock, _) = candidate_of("p", &m, &u, None, &solved).unwrap();
    let notes = add_apt_python_pins(&mut lock, &solved, apt);
    assert!(notes.is_empty(), "{notes:?}");
    lock
}

fn py3(dir: &Path, image: &str) -> String {
    std::fs::read_to_string(dir.join("dockers").join(image).join("versions-py3"))
        .unwrap_or_default()
}

#[test]
fn each_image_freezes_what_its_own_apt_installs_and_pip_wins() {
    let lock = locked(&mapping());
    let yaml = lock
        .pins
        .iter()
        .find(|p| p.name == "pyyaml" && p.version == "5.3.1")
        .unwrap();
    assert_eq!(yaml.image.as_deref(), Some("docker-config-engine-bullseye"));
    assert_eq!(yaml.installed_by_apt(), Some("python3-yaml"));
    lock.validate().unwrap();

    let dir = tempfile::tempdir().unwrap();
    split::export(&lock, &Default::default(), dir.path()).unwrap();
    let d = dir.path();
    assert_eq!(py3(d, "docker-base-bullseye"), "pip==20.3.4");
    assert_eq!(py3(d, "docker-config-engine-bullseye"), "pyyaml==5.3.1");
    // Inherited unchanged from docker-config-engine-bullseye: not repeated.
    assert_eq!(py3(d, "docker-database"), "");
    // Never installed python3-yaml.
    assert_eq!(py3(d, "docker-other"), "");
    // pip's own PyYAML 6.0 shadows apt's 5.3.1.
    assert_eq!(py3(d, "docker-snmp"), "pyyaml==6.0");
}

#[test]
fn without_the_mapping_nothing_apt_installed_is_pinned() {
    let lock = locked(&AptPython::default());
    assert!(lock.pins.iter().all(|p| p.installed_by_apt().is_none()));
    assert!(
        !lock
            .pins
            .iter()
            .any(|p| p.name == "pyyaml" && p.version == "5.3.1")
    );
}

#[test]
fn pip_upgrading_itself_replaces_debians_pip_down_the_chain() {
    let lock = locked_upgrading(&mapping(), true);
    let dir = tempfile::tempdir().unwrap();
    split::export(&lock, &Default::default(), dir.path()).unwrap();
    let d = dir.path();
    // `pip3 install --upgrade pip` takes the newest release over Debian's 20.3.4.
    assert_eq!(py3(d, "docker-base-bullseye"), "pip==23.1.2");
    // Its children keep it: not repeated, and Debian's does not come back.
    assert_eq!(py3(d, "docker-other"), "");
    assert_eq!(py3(d, "docker-config-engine-bullseye"), "pyyaml==5.3.1");
    assert!(
        !lock
            .pins
            .iter()
            .any(|p| p.name == "pip" && p.version == "20.3.4")
    );
}
