//! What package builds pip-install in the slave: a wheel target's recipe runs
//! `pip install .`, which leaves the wheel's `install_requires` in the slave.
//! They are solved target after target on top of the slave's own pip state,
//! as pip does (what is installed stays unless a requirement forces another
//! version), and pinned under `build-sonic-slave-<dist>`; the slave's own
//! pins stay in `sonic-slave-<dist>`, whatever a build later changes.

use sonic_lock::lock::split;
use sonic_lock::manifest::images::{BaseKind, ImageNode};
use sonic_lock::manifest::{Constraint, Context, Dependency, Ecosystem, Manifest, Origin};
use sonic_lock::pipeline::candidate::candidate_of;
use sonic_lock::solve::images::{ManifestOptions, solve_manifest};
use sonic_lock::universe::python::{PythonEnv, add_distribution};
use sonic_lock::universe::{CandidateMeta, Universe};
use std::collections::BTreeMap;

const SLAVE: &str = "sonic-slave-bullseye";
const BUILD: &str = "build-sonic-slave-bullseye";

/// A py3 requirement of `image` declared at `file:line`, run by `target`'s build when given.
fn py(image: &str, name: &str, c: Constraint, at: (&str, u32), target: Option<&str>) -> Dependency {
    let mut attrs = BTreeMap::new();
    if let Some(t) = target {
        attrs.insert("setup".to_string(), "install_requires".to_string());
        attrs.insert("build-run".to_string(), t.to_string());
    }
    Dependency {
        ecosystem: Ecosystem::Py,
        name: name.into(),
        pinned: c.is_pinned(),
        constraint: c,
        origin: Origin {
            file: at.0.into(),
            line: at.1,
        },
        context: Context {
            image: Some(image.into()),
            suite: Some("bullseye".into()),
            python: Some("py3".into()),
            transaction: target.is_none().then_some(1),
            ..Context::default()
        },
        attrs,
    }
}

fn universe() -> Universe {
    let mut u = Universe::new();
    let env = PythonEnv::linux_cpython("py3", "3.9.2").unwrap();
    let releases: [(&str, &str, &[&str]); 8] = [
        ("lxml", "4.6.2", &[]),
        ("lxml", "4.9.1", &[]),
        ("click", "7.0", &[]),
        ("click", "8.1.3", &[]),
        ("docker", "6.1.3", &["websocket-client>=0.32.0"]),
        ("websocket-client", "1.5.3", &[]),
        ("natsort", "6.2.1", &[]),
        ("natsort", "8.4.0", &[]),
    ];
    for (name, v, reqs) in releases {
        add_distribution(
            &mut u,
            &env,
            name,
            v,
            reqs,
            None,
            &[],
            CandidateMeta::default(),
        )
        .unwrap();
    }
    u
}

/// The slave pins lxml 4.6.2 and installs click; wheel `a` (installed in
/// docker-config-engine-bullseye too) needs lxml 4.9.1, docker and any
/// click; wheel `b` needs click 7.0 and natsort 6.2.1; wheel `c` any natsort.
fn solved() -> (sonic_lock::lock::Lock, Vec<String>) {
    let mut u = universe();
    let none = Constraint::None;
    let exact = |v: &str| Constraint::Exact(v.into());
    let (a, b, c) = (
        Some("a-1.0-py3-none-any.whl"),
        Some("b-1.0-py3-none-any.whl"),
        Some("c-1.0-py3-none-any.whl"),
    );
    let dockerfile = "sonic-slave-bullseye/Dockerfile.j2";
    let mut m = Manifest::new(
        "p".into(),
        "a".repeat(40),
        "2022-12-01T00:00:00Z".into(),
        vec![
            py(SLAVE, "lxml", exact("4.6.2"), (dockerfile, 10), None),
            py(SLAVE, "click", none.clone(), (dockerfile, 11), None),
            py(
                "docker-config-engine-bullseye",
                "lxml",
                exact("4.9.1"),
                ("src/a/setup.py", 5),
                None,
            ),
            py(SLAVE, "lxml", exact("4.9.1"), ("src/a/setup.py", 5), a),
            py(SLAVE, "docker", none.clone(), ("src/a/setup.py", 6), a),
            py(SLAVE, "click", none.clone(), ("src/a/setup.py", 7), a),
            py(SLAVE, "click", exact("7.0"), ("src/b/setup.py", 4), b),
            py(SLAVE, "natsort", exact("6.2.1"), ("src/b/setup.py", 5), b),
            py(SLAVE, "natsort", none.clone(), ("src/c/setup.py", 4), c),
        ],
        vec![],
    );
    for image in [SLAVE, "docker-config-engine-bullseye"] {
        m.images.insert(
            image.into(),
            ImageNode {
                base: Some(BaseKind::Minbase),
                suite: Some("bullseye".into()),
                ..ImageNode::default()
            },
        );
    }
    let opts = ManifestOptions {
        default_domain: "bullseye/amd64".into(),
        base: vec![],
        nogoods: &[],
        reference: None,
        source: None,
    };
    let solved = solve_manifest(&mut u, &m, &opts).unwrap();
    assert_eq!(solved.builds.len(), 3);
    assert!(solved.builds.iter().all(|b| b.outcome.is_ok()));
    candidate_of("p", &m, &u, None, &solved).unwrap()
}

fn pins(lock: &sonic_lock::lock::Lock, image: &str) -> Vec<(String, String)> {
    lock.pins
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Py && p.image.as_deref() == Some(image))
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

fn owned(v: &[(&str, &str)]) -> Vec<(String, String)> {
    v.iter()
        .map(|(a, b)| (a.to_string(), b.to_string()))
        .collect()
}

#[test]
fn builds_pip_install_on_top_of_the_slave_and_are_pinned_apart() {
    let (lock, notes) = solved();
    lock.validate().unwrap();
    assert!(
        !notes.iter().any(|n| n.contains("cannot be installed")),
        "{notes:?}"
    );
    // The slave's own state: its Dockerfile's lxml pin stays (no conflict
    // with the wheel's lxml==4.9.1 in the slave's own problem).
    assert_eq!(
        pins(&lock, SLAVE),
        owned(&[("click", "8.1.3"), ("lxml", "4.6.2")])
    );
    // pip upgrades lxml for a's build, keeps the installed click for it,
    // then downgrades click for b's; c keeps b's natsort.
    assert_eq!(
        pins(&lock, BUILD),
        owned(&[
            ("click", "7.0"),
            ("docker", "6.1.3"),
            ("lxml", "4.9.1"),
            ("natsort", "6.2.1"),
            ("websocket-client", "1.5.3"),
        ])
    );
    let ws = lock
        .pins
        .iter()
        .find(|p| p.name == "websocket-client")
        .unwrap();
    assert_eq!(ws.dependents, vec!["docker".to_string()]);
    let lxml = lock
        .pins
        .iter()
        .find(|p| p.name == "lxml" && p.image.as_deref() == Some(BUILD))
        .unwrap();
    assert_eq!(lxml.why, vec!["src/a/setup.py:5".to_string()]);
    assert_eq!(
        pins(&lock, "docker-config-engine-bullseye"),
        owned(&[("lxml", "4.9.1")])
    );
}

#[test]
fn the_export_writes_them_to_the_build_module() {
    let (lock, _) = solved();
    let dir = tempfile::tempdir().unwrap();
    split::export(&lock, &Default::default(), dir.path()).unwrap();
    let read = |rel: &str| std::fs::read_to_string(dir.path().join(rel)).unwrap_or_default();
    assert_eq!(
        read("build/build-sonic-slave-bullseye/versions-py3"),
        "click==7.0\ndocker==6.1.3\nlxml==4.9.1\nnatsort==6.2.1\nwebsocket-client==1.5.3"
    );
    assert_eq!(
        read("dockers/sonic-slave-bullseye/versions-py3"),
        "click==8.1.3\nlxml==4.6.2"
    );
}
