//! Images solved parents first: a child image starts from its parent's
//! installed state, keeps it unless a relation forces a change (recorded as
//! an upgrade), a registry base image's `Priority: required` set is there
//! from the start, and the lock keeps only what each image adds or changes.

use sonic_lock::manifest::images::{BaseKind, ImageNode};
use sonic_lock::manifest::{Constraint, Context, Dependency, Ecosystem, Manifest, Origin};
use sonic_lock::pipeline::candidate::candidate_of;
use sonic_lock::solve::images::{ManifestOptions, solve_manifest};
use sonic_lock::universe::{Universe, debian};
use std::collections::BTreeMap;

const PACKAGES: &str = "\
Package: base-files
Version: 11.1
Architecture: amd64
Priority: required

Package: apt
Version: 2.2.4
Architecture: amd64
Priority: important

Package: libc6
Version: 2.28-1
Architecture: amd64

Package: libc6
Version: 2.31-13
Architecture: amd64

Package: keepme
Version: 1.0
Architecture: amd64

Package: keepme
Version: 2.0
Architecture: amd64

Package: app
Version: 3.0
Architecture: amd64
Depends: libc6 (>= 2.31)
";

fn dep(image: &str, name: &str, c: Constraint, line: u32) -> Dependency {
    Dependency {
        ecosystem: Ecosystem::Deb,
        name: name.into(),
        pinned: c.is_pinned(),
        constraint: c,
        origin: Origin {
            file: format!("dockers/{image}/Dockerfile.j2"),
            line,
        },
        context: Context {
            image: Some(image.into()),
            suite: Some("bullseye".into()),
            transaction: Some(1),
            ..Context::default()
        },
        attrs: BTreeMap::new(),
    }
}

fn solve() -> (Universe, Manifest, sonic_lock::solve::images::ManifestSolve) {
    let mut u = Universe::new();
    debian::load_packages(&mut u, PACKAGES.as_bytes(), "Packages", "bullseye/amd64").unwrap();
    let exact = |v: &str| Constraint::Exact(v.into());
    let mut m = Manifest::new(
        "p".into(),
        "a".repeat(40),
        "2022-12-01T00:00:00Z".into(),
        vec![
            dep("docker-config-engine-bullseye", "libc6", exact("2.28-1"), 2),
            dep("docker-config-engine-bullseye", "keepme", exact("1.0"), 3),
            dep("docker-database", "app", Constraint::None, 2),
        ],
        vec![],
    );
    let node = |parent: Option<&str>, base: Option<BaseKind>| ImageNode {
        parent: parent.map(String::from),
        base,
        suite: Some("bullseye".into()),
        ..ImageNode::default()
    };
    m.images.insert(
        "docker-base-bullseye".into(),
        node(None, Some(BaseKind::Minbase)),
    );
    m.images.insert(
        "docker-config-engine-bullseye".into(),
        node(Some("docker-base-bullseye"), None),
    );
    m.images.insert(
        "docker-database".into(),
        node(Some("docker-config-engine-bullseye"), None),
    );
    let opts = opts();
    let solved = solve_manifest(&mut u, &m, &opts).unwrap();
    (u, m, solved)
}

/// The options every test here solves with: bullseye/amd64, nothing learned.
fn opts() -> ManifestOptions<'static> {
    ManifestOptions {
        default_domain: "bullseye/amd64".into(),
        base: vec![],
        nogoods: &[],
        reference: None,
        source: None,
    }
}

fn final_picks(
    s: &sonic_lock::solve::images::ManifestSolve,
    image: &str,
) -> BTreeMap<String, String> {
    let states = s.deb[image].as_ref().unwrap();
    states
        .last()
        .unwrap()
        .installed
        .picks
        .iter()
        .map(|(k, v)| (k.name.clone(), v.clone()))
        .collect()
}

#[test]
fn a_child_image_is_solved_on_its_parents_state() {
    let (_, _, s) = solve();
    let base = final_picks(&s, "docker-base-bullseye");
    assert_eq!(base["base-files"], "11.1");
    assert_eq!(base["apt"], "2.2.4");
    let engine = final_picks(&s, "docker-config-engine-bullseye");
    assert_eq!(
        (engine["libc6"].as_str(), engine["keepme"].as_str()),
        ("2.28-1", "1.0")
    );
    assert!(engine.contains_key("base-files"), "{engine:?}");
    let db = final_picks(&s, "docker-database");
    // Kept: keepme stays at 1.0 although 2.0 is newer; forced: app needs a newer libc6.
    assert_eq!(db["keepme"], "1.0");
    assert_eq!(db["libc6"], "2.31-13");
    assert_eq!(db["app"], "3.0");
    assert_eq!(
        s.upgrades["docker-database"],
        vec!["libc6 2.28-1 -> 2.31-13".to_string()]
    );
    assert!(!s.upgrades.contains_key("docker-config-engine-bullseye"));
    assert_eq!(
        s.parents["docker-database"],
        "docker-config-engine-bullseye"
    );
}

#[test]
fn the_lock_keeps_what_each_image_adds_or_changes() {
    let (u, m, s) = solve();
    let (lock, _) = candidate_of("p", &m, &u, None, &s).unwrap();
    let mut by_image: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for p in &lock.pins {
        by_image
            .entry(p.image.clone().unwrap_or_default())
            .or_default()
            .push(format!("{}={}", p.name, p.version));
    }
    assert_eq!(
        by_image["docker-config-engine-bullseye"],
        vec!["keepme=1.0", "libc6=2.28-1"]
    );
    assert_eq!(
        by_image["docker-database"],
        vec!["app=3.0", "libc6=2.31-13"]
    );
    // The registry base image's own packages come with its digest, not the lock.
    assert!(
        !by_image.contains_key("docker-base-bullseye"),
        "{by_image:?}"
    );
}

const RECOMMENDING: &str = "\
Package: base-files
Version: 11.1
Architecture: amd64
Priority: required

Package: tool
Version: 1.0
Architecture: amd64
Recommends: helper, extra | other, badrec

Package: helper
Version: 1.0
Architecture: amd64
Depends: libhelper
Recommends: deeper

Package: libhelper
Version: 1.0
Architecture: amd64

Package: deeper
Version: 1.0
Architecture: amd64

Package: extra
Version: 1.0
Architecture: amd64

Package: other
Version: 1.0
Architecture: amd64

Package: badrec
Version: 1.0
Architecture: amd64
Conflicts: tool

Package: tool2
Version: 1.0
Architecture: amd64
Recommends: extra2

Package: extra2
Version: 1.0
Architecture: amd64
";

#[test]
fn apt_installs_recommends_unless_the_image_or_the_command_says_not_to() {
    let mut u = Universe::new();
    debian::load_packages(
        &mut u,
        RECOMMENDING.as_bytes(),
        "Packages",
        "bullseye/amd64",
    )
    .unwrap();
    let mut no_rec = dep("sonic-slave-bullseye", "tool2", Constraint::None, 9);
    no_rec.context.transaction = Some(2);
    no_rec
        .attrs
        .insert("no-install-recommends".into(), "true".into());
    let mut m = Manifest::new(
        "p".into(),
        "a".repeat(40),
        "2022-12-01T00:00:00Z".into(),
        vec![
            dep("sonic-slave-bullseye", "tool", Constraint::None, 2),
            no_rec,
            dep("docker-quiet", "tool", Constraint::None, 2),
            dep("docker-child", "tool", Constraint::None, 2),
        ],
        vec![],
    );
    let root = |off: bool| ImageNode {
        base: Some(BaseKind::Minbase),
        suite: Some("bullseye".into()),
        install_recommends: off.then_some(false),
        ..ImageNode::default()
    };
    m.images.insert("sonic-slave-bullseye".into(), root(false));
    m.images.insert("docker-quiet".into(), root(true));
    m.images.insert(
        "docker-child".into(),
        ImageNode {
            parent: Some("docker-quiet".into()),
            suite: Some("bullseye".into()),
            ..ImageNode::default()
        },
    );
    let opts = opts();
    let s = solve_manifest(&mut u, &m, &opts).unwrap();
    let slave = final_picks(&s, "sonic-slave-bullseye");
    // Recommends, their Depends, and Recommends of what they brought in; the
    // first alternative; never one that cannot be installed beside the rest.
    for p in ["tool", "helper", "libhelper", "deeper", "extra", "tool2"] {
        assert!(slave.contains_key(p), "{p}: {slave:?}");
    }
    for p in ["other", "badrec", "extra2"] {
        assert!(!slave.contains_key(p), "{p}: {slave:?}");
    }
    // An image whose apt configuration turns Recommends off, and its children.
    for image in ["docker-quiet", "docker-child"] {
        let picks = final_picks(&s, image);
        assert!(picks.contains_key("tool"), "{picks:?}");
        assert!(!picks.contains_key("helper"), "{image}: {picks:?}");
    }
    // The pin says what brought it in.
    let (lock, _) = candidate_of("p", &m, &u, None, &s).unwrap();
    let helper = lock
        .pins
        .iter()
        .find(|p| p.name == "helper" && p.image.as_deref() == Some("sonic-slave-bullseye"))
        .unwrap();
    assert_eq!(helper.dependents, ["tool"]);
}

#[test]
fn debs_the_tree_builds_are_pinned_where_installed_with_their_target_version() {
    use sonic_lock::manifest::images::BuiltPackage;
    let (u, mut m, s) = solve();
    let built = |t: &str| BuiltPackage {
        target: t.into(),
        source: None,
    };
    if let Some(n) = m.images.get_mut("docker-config-engine-bullseye") {
        n.debs = vec![built("libswsscommon_1.0.0_amd64.deb")];
    }
    if let Some(n) = m.images.get_mut("docker-database") {
        n.debs = vec![
            built("libswsscommon_1.0.0_amd64.deb"),
            built("lldpd_1.0.4-1_amd64.deb"),
            built("not a deb.tar.gz"),
        ];
    }
    let (lock, _) = candidate_of("p", &m, &u, None, &s).unwrap();
    let built_pins: Vec<(String, String, String, String)> = lock
        .pins
        .iter()
        .filter_map(|p| {
            Some((
                p.image.clone()?,
                p.name.clone(),
                p.version.clone(),
                p.built.clone()?,
            ))
        })
        .collect();
    assert_eq!(
        built_pins,
        [
            (
                "docker-config-engine-bullseye".to_string(),
                "libswsscommon".to_string(),
                "1.0.0".to_string(),
                "libswsscommon_1.0.0_amd64.deb".to_string()
            ),
            (
                "docker-database".to_string(),
                "lldpd".to_string(),
                "1.0.4-1".to_string(),
                "lldpd_1.0.4-1_amd64.deb".to_string()
            ),
        ]
    );
    let lldpd = lock.pins.iter().find(|p| p.name == "lldpd").unwrap();
    assert_eq!(
        (lldpd.suite.as_deref(), lldpd.arch.as_deref()),
        (Some("bullseye"), Some("amd64"))
    );
}

#[test]
fn a_build_rule_does_not_pin_what_the_slave_inherits_from_its_base() {
    let mut u = Universe::new();
    debian::load_packages(&mut u, PACKAGES.as_bytes(), "Packages", "bullseye/amd64").unwrap();
    let mut bd = dep("sonic-slave-bullseye", "keepme", Constraint::None, 4);
    bd.origin.file = "src/x/debian/control".into();
    bd.attrs.insert("field".into(), "build-depends".into());
    let mut m = Manifest::new(
        "p".into(),
        "a".repeat(40),
        "2022-12-01T00:00:00Z".into(),
        vec![dep("sonic-slave-bullseye", "app", Constraint::None, 2), bd],
        vec![],
    );
    m.images.insert(
        "sonic-slave-bullseye".into(),
        ImageNode {
            base: Some(BaseKind::Minbase),
            suite: Some("bullseye".into()),
            ..ImageNode::default()
        },
    );
    let opts = opts();
    let s = solve_manifest(&mut u, &m, &opts).unwrap();
    let (lock, _) = candidate_of("p", &m, &u, None, &s).unwrap();
    let names: Vec<(&str, &str)> = lock
        .pins
        .iter()
        .map(|p| (p.image.as_deref().unwrap_or(""), p.name.as_str()))
        .collect();
    // base-files and apt come with debian:bullseye; the slave's own install
    // and the build dependency are pinned.
    assert!(
        names.iter().all(|(_, n)| *n != "base-files" && *n != "apt"),
        "{names:?}"
    );
    assert!(names.iter().any(|(_, n)| *n == "app"), "{names:?}");
    assert!(
        names.contains(&("build-sonic-slave-bullseye", "keepme")),
        "{names:?}"
    );
}
