//! SONiC's split of pins between images (`export --parents`), the effective
//! sets (`export --format effective`) and `compare-versions`: small trees and
//! locks built in code.

use crate::common::run;
use sonic_lock::lock::compare::{ALL_MODULES, ModuleScope, compare_trees};
use sonic_lock::lock::sonic_versions::{VersionTree, effective, read_tree};
use sonic_lock::lock::split::{ImageGraph, SplitError, SplitOptions, lock_effective, split_tree};
use sonic_lock::lock::{Lock, Pin};
use sonic_lock::manifest::Ecosystem;
use std::collections::BTreeMap;
use std::path::Path;

fn deb(name: &str, version: &str, image: &str, suite: Option<&str>) -> Pin {
    let mut p = Pin::new(Ecosystem::Deb, name, version);
    p.image = Some(image.into());
    p.suite = suite.map(str::to_string);
    p.arch = suite.map(|_| "amd64".to_string());
    p
}

fn py(name: &str, version: &str, image: &str) -> Pin {
    let mut p = Pin::new(Ecosystem::Py, name, version);
    p.image = Some(image.into());
    p.python = Some("py3".into());
    p
}

const PARENTS: &str = "# image parent\n\
    docker-base-bullseye debian:bullseye\n\
    docker-config-engine-bullseye docker-base-bullseye  # FROM\n\
    \n\
    docker-database docker-config-engine-bullseye\n";

/// Every image with its whole installed state, as a solve on top of the parent's state gives it.
fn chain_lock() -> Lock {
    let mut l = Lock::new("p", &"a".repeat(40), "2022-12-06");
    let b = Some("bullseye");
    for (image, pins) in [
        ("docker-base-bullseye", vec![("libc6", "1"), ("bash", "5")]),
        (
            "docker-config-engine-bullseye",
            vec![("libc6", "1"), ("bash", "5"), ("python3", "3.9")],
        ),
        (
            "docker-database",
            vec![
                ("libc6", "1"),
                ("bash", "5.1"),
                ("python3", "3.9"),
                ("redis", "6"),
            ],
        ),
        (
            "sonic-slave-bullseye",
            vec![("libc6", "1"), ("make", "4.3")],
        ),
        (
            "build-sonic-slave-bullseye",
            vec![("libc6", "1"), ("make", "4.3"), ("debhelper", "13")],
        ),
        ("host-base-image", vec![("libc6", "1")]),
        ("host-image", vec![("libc6", "1"), ("grub-pc", "2.04")]),
    ] {
        for (n, v) in pins {
            l.pins.push(deb(n, v, image, b));
        }
    }
    l.pins
        .push(py("pyyaml", "5.4.1", "docker-config-engine-bullseye"));
    l.pins.push(py("pyyaml", "5.4.1", "docker-database"));
    l.pins.push(py("redis", "4.5.4", "docker-database"));
    let mut git = Pin::new(
        Ecosystem::Git,
        "https://github.com/x/y.git",
        &"b".repeat(40),
    );
    git.image = None;
    l.pins.push(git);
    l.normalize();
    l
}

fn opts(parents: &str) -> SplitOptions {
    SplitOptions {
        graph: ImageGraph::parse(parents, "parents").unwrap(),
        archs: vec!["amd64".into()],
        ..SplitOptions::default()
    }
}

/// What the lock says `image` has installed (deb and py3): its own pins.
fn state(lock: &Lock, image: &str) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for p in lock
        .pins
        .iter()
        .filter(|p| p.image.as_deref() == Some(image))
    {
        let ctype = if p.ecosystem == Ecosystem::Py {
            "py3"
        } else {
            "deb"
        };
        out.entry(ctype.into())
            .or_default()
            .insert(p.name.clone(), p.version.clone());
    }
    out
}

/// The installed state SONiC's build reaches for `image`: `generate`'s pins
/// for each image of its chain applied in turn, root first.
fn built_state(
    tree: &VersionTree,
    graph: &ImageGraph,
    image: &str,
) -> BTreeMap<String, BTreeMap<String, String>> {
    let mut chain: Vec<&str> = graph.ancestors(image);
    chain.reverse();
    chain.push(image);
    let mut out: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for m in chain {
        for (ctype, pins) in effective(tree, m, "bullseye", "amd64") {
            if ctype == "deb" || ctype == "py3" {
                out.entry(ctype).or_default().extend(pins);
            }
        }
    }
    out
}

fn file(root: &Path, rel: &str) -> String {
    std::fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

#[test]
fn each_image_keeps_only_what_it_installs_and_generate_gives_back_its_state() {
    let lock = chain_lock();
    let o = opts(PARENTS);
    let (tree, summary, modules) = split_tree(&lock, &o).unwrap();
    assert_eq!(modules.len(), 8, "{modules:?}");
    // config-engine's libc6/bash, database's libc6/python3/pyyaml, the build's libc6/make, host-image's libc6.
    assert_eq!(summary.inherited, 8, "{summary:?}");
    assert_eq!(summary.restated, 0);
    let get = |m: &str, ctype: &str| -> Vec<String> {
        let mut v: Vec<String> = tree.modules[m]
            .iter()
            .filter(|c| c.ctype == ctype)
            .flat_map(|c| c.versions.iter().map(|(k, v)| format!("{k}=={v}")))
            .collect();
        v.sort();
        v
    };
    assert_eq!(get("docker-database", "deb"), ["bash==5.1", "redis==6"]);
    assert_eq!(get("docker-database", "py3"), ["redis==4.5.4"]);
    assert_eq!(
        get("docker-config-engine-bullseye", "deb"),
        ["python3==3.9"]
    );
    assert_eq!(get("docker-base-bullseye", "deb"), ["bash==5", "libc6==1"]);
    // SONiC's own edges: package builds on the slave, the host image on its base.
    assert_eq!(get("build-sonic-slave-bullseye", "deb"), ["debhelper==13"]);
    assert_eq!(
        get("sonic-slave-bullseye", "deb"),
        ["libc6==1", "make==4.3"]
    );
    assert_eq!(get("host-image", "deb"), ["grub-pc==2.04"]);

    // Round trip: building each image on its parent with generate's pins gives the lock's state.
    let graph = o
        .graph
        .clone()
        .with_sonic_edges(modules.iter().map(String::as_str));
    for m in &modules {
        assert_eq!(built_state(&tree, &graph, m), state(&lock, m), "{m}");
    }
    // And generate's merge of each module is the lock's effective set.
    for m in &modules {
        assert_eq!(
            effective(&tree, m, "bullseye", "amd64"),
            lock_effective(&tree, m, "bullseye", "amd64"),
            "{m}"
        );
    }
    // host-image's effective set is its whole state: generate merges host-base-image back.
    assert_eq!(
        effective(&tree, "host-image", "bullseye", "amd64")["deb"],
        state(&lock, "host-image")["deb"]
    );
    // Dockers inherit default's git pin; the slave too (default's git is for everyone).
    assert!(effective(&tree, "docker-database", "bullseye", "amd64").contains_key("git"));
}

#[test]
fn without_parents_only_sonic_edges_apply_and_no_split_keeps_everything() {
    let lock = chain_lock();
    let (_, s, _) = split_tree(&lock, &opts("")).unwrap();
    // build-sonic-slave on the slave (2) and host-image on host-base-image (1).
    assert_eq!(s.inherited, 3);
    let none = SplitOptions {
        no_split: true,
        ..opts("")
    };
    let (tree, s, _) = split_tree(&lock, &none).unwrap();
    assert_eq!(s.inherited, 0);
    assert_eq!(s.pins, lock.pins.len());
    assert_eq!(
        effective(&tree, "docker-database", "bullseye", "amd64")["deb"].len(),
        4
    );
}

#[test]
fn a_specific_pin_that_hides_a_generic_one_stays() {
    let mut l = Lock::new("p", &"a".repeat(40), "2022-12-06");
    let mut p = deb("xx", "1", "parent", Some("bullseye"));
    p.arch = None;
    l.pins.push(p);
    // The child pins x=2 everywhere but keeps 1 on bullseye: dropping that would let 2 through.
    l.pins.push(deb("xx", "2", "child", None));
    let mut b = deb("xx", "1", "child", Some("bullseye"));
    b.arch = None;
    l.pins.push(b);
    l.normalize();
    let (tree, s, _) = split_tree(&l, &opts("child parent\n")).unwrap();
    assert_eq!(s.inherited, 0);
    assert_eq!(
        effective(&tree, "child", "bullseye", "amd64")["deb"]["xx"],
        "1"
    );
    assert_eq!(
        effective(&tree, "child", "buster", "amd64")["deb"]["xx"],
        "2"
    );
}

#[test]
fn a_pin_sonics_merge_would_lose_is_restated_at_the_narrower_scope() {
    // default's bullseye file beats a module's generic file in SONiC's merge,
    // while the lock means the module's pin for the module.
    let mut l = Lock::new("p", &"a".repeat(40), "2022-12-06");
    let mut d = deb("xx", "1", "docker-a", Some("bullseye"));
    d.image = None;
    d.arch = None;
    l.pins.push(d);
    l.pins.push(deb("xx", "2", "docker-a", None));
    l.pins.push(deb("yy", "1", "docker-a", Some("bullseye")));
    l.normalize();
    let (plain, _) = sonic_lock::lock::sonic_versions::lock_to_tree(&l).unwrap();
    assert_eq!(
        effective(&plain, "docker-a", "bullseye", "amd64")["deb"]["xx"],
        "1",
        "SONiC's merge order, unchanged"
    );
    let (tree, s, _) = split_tree(&l, &opts("")).unwrap();
    assert_eq!(s.restated, 1, "{s:?}");
    assert_eq!(
        effective(&tree, "docker-a", "bullseye", "amd64")["deb"]["xx"],
        "2"
    );
    assert!(
        tree.modules["docker-a"]
            .iter()
            .any(|c| c.file_name() == "versions-deb-bullseye-amd64" && c.versions["xx"] == "2")
    );
    // Another docker still gets default's pin.
    assert_eq!(
        effective(&tree, "docker-b", "bullseye", "amd64")["deb"]["xx"],
        "1"
    );
}

#[test]
fn image_graph_reads_parents_and_refuses_bad_ones() {
    let g = ImageGraph::parse(PARENTS, "parents").unwrap();
    assert_eq!(
        g.ancestors("docker-database"),
        [
            "docker-config-engine-bullseye",
            "docker-base-bullseye",
            "debian:bullseye"
        ]
    );
    assert_eq!(g.edges().count(), 3);
    let e = ImageGraph::parse("a b\nb c d\n", "p.txt").unwrap_err();
    assert!(matches!(e, SplitError::Parse { line: 2, .. }), "{e}");
    assert!(e.to_string().starts_with("p.txt:2: "), "{e}");
    let e = ImageGraph::parse("a b\nb c\nc a\n", "p.txt").unwrap_err();
    assert!(e.to_string().contains("cycle: c -> a -> b -> c"), "{e}");
    let e = ImageGraph::from_pairs([("a", "b"), ("a", "c")]).unwrap_err();
    assert!(matches!(e, SplitError::TwoParents { .. }), "{e}");
    assert!(ImageGraph::from_pairs([("a", "b"), ("a", "b")]).is_ok());
    // An explicit parent wins over SONiC's implied one.
    let g = ImageGraph::from_pairs([("host-image", "x")])
        .unwrap()
        .with_sonic_edges(["host-image", "build-sonic-slave-buster", "docker-a"]);
    assert_eq!(g.parent("host-image"), Some("x"));
    assert_eq!(
        g.parent("build-sonic-slave-buster"),
        Some("sonic-slave-buster")
    );
    assert_eq!(g.parent("docker-a"), None);
}

#[test]
fn export_cli_splits_with_parents_and_writes_effective_sets() {
    let dir = tempfile::tempdir().unwrap();
    let lock_path = dir.path().join("c.lock");
    chain_lock().write(&lock_path).unwrap();
    let parents = dir.path().join("parents.txt");
    std::fs::write(&parents, PARENTS).unwrap();
    let out = dir.path().join("versions");
    let (code, stdout, stderr) = run(&[
        "export",
        "--lock",
        lock_path.to_str().unwrap(),
        "--format",
        "sonic-versions",
        "--parents",
        parents.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("left out 8 pins"), "{stdout}");
    assert_eq!(
        file(&out, "dockers/docker-database/versions-deb-bullseye-amd64"),
        "bash==5.1\nredis==6"
    );
    assert_eq!(
        file(
            &out,
            "build/build-sonic-slave-bullseye/versions-deb-bullseye-amd64"
        ),
        "debhelper==13"
    );
    assert_eq!(
        file(
            &out,
            "dockers/sonic-slave-bullseye/versions-deb-bullseye-amd64"
        ),
        "libc6==1\nmake==4.3"
    );

    let eff = dir.path().join("effective");
    let (code, stdout, stderr) = run(&[
        "export",
        "--lock",
        lock_path.to_str().unwrap(),
        "--format",
        "effective",
        "--parents",
        parents.to_str().unwrap(),
        "--out",
        eff.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let index = file(&eff, "modules.txt");
    assert!(
        index.lines().any(|l| l == "docker-database bullseye amd64"),
        "{index}"
    );
    assert!(index.lines().any(|l| l == "default all amd64"), "{index}");
    assert_eq!(
        file(&eff, "docker-database/bullseye-amd64/versions-deb"),
        "bash==5.1\nredis==6\n"
    );
    assert_eq!(
        file(&eff, "host-image/bullseye-amd64/versions-deb"),
        "grub-pc==2.04\nlibc6==1\n"
    );
    assert_eq!(
        file(&eff, "docker-database/bullseye-amd64/versions-git"),
        format!("https://github.com/x/y.git=={}\n", "b".repeat(40))
    );

    // The written tree read back means the same as the effective files.
    let (tree, _) = read_tree(&out).unwrap();
    assert_eq!(
        effective(&tree, "docker-database", "bullseye", "amd64")["deb"],
        BTreeMap::from([
            ("bash".to_string(), "5.1".to_string()),
            ("redis".to_string(), "6".to_string())
        ])
    );

    let (code, _, stderr) = run(&[
        "export",
        "--lock",
        lock_path.to_str().unwrap(),
        "--format",
        "sonic-versions",
        "--parents",
        dir.path().join("missing.txt").to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("missing.txt"), "{stderr}");
}

fn write_tree(root: &Path, files: &[(&str, &str)]) {
    for (rel, text) in files {
        let p = root.join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
}

#[test]
fn compare_versions_counts_per_module_and_kind_through_effective_sets() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("recorded");
    let ours = dir.path().join("ours");
    let md5 = "d41d8cd98f00b204e9800998ecf8427e";
    write_tree(
        &rec,
        &[
            ("default/versions-web", &format!("http://x/a.deb=={md5}")),
            (
                "dockers/docker-a/versions-deb-bullseye",
                "aa==1\nbb==1\ncc==1",
            ),
            (
                "dockers/docker-a/versions-py3",
                "gpg===1.14.0-unknown\nsix==1.16.0\npkgutil_resolve_name==1.3.10",
            ),
        ],
    );
    // The same web pin in the module instead of default: the same effective set.
    write_tree(
        &ours,
        &[
            (
                "dockers/docker-a/versions-web",
                &format!("http://x/a.deb=={md5}"),
            ),
            (
                "dockers/docker-a/versions-deb-bullseye-amd64",
                "aa==1\nbb==2\ndd==1",
            ),
            (
                "dockers/docker-a/versions-py3",
                "gpg===1.14.0-unknown\nsix==1.16.0\npkgutil-resolve-name==1.3.10",
            ),
        ],
    );
    let (r, _) = read_tree(&rec).unwrap();
    let (o, _) = read_tree(&ours).unwrap();
    let c = compare_trees(&r, &o, "amd64", ModuleScope::Both);
    let row = |m: &str, k: &str| {
        c.rows
            .iter()
            .find(|r| r.module == m && r.kind == k)
            .unwrap_or_else(|| panic!("no row {m} {k}: {:?}", c.rows))
    };
    let d = row("docker-a", "versions-deb-bullseye");
    assert_eq!(d.exact, 1);
    assert_eq!(d.other_version, [("bb".into(), "1".into(), "2".into())]);
    assert_eq!(d.missing, [("cc".into(), "1".into())]);
    assert_eq!(d.extra, [("dd".into(), "1".into())]);
    // Web pins are compared once, over what every module gets.
    assert!(!row(ALL_MODULES, "versions-web").differs());
    assert!(
        c.rows
            .iter()
            .all(|r| r.module == ALL_MODULES || r.ctype != "web")
    );
    // pip freeze's spelling of a name and the lock's are one distribution (PEP 503).
    assert_eq!(row("docker-a", "versions-py3").exact, 3);
    let t = c.totals();
    assert_eq!(t["deb"].recorded(), 3);
    assert_eq!(t["all"].differing_rows, 1);

    let (code, stdout, _) = run(&[
        "compare-versions",
        rec.to_str().unwrap(),
        ours.to_str().unwrap(),
        "--differences",
    ]);
    assert_eq!(code, 1, "{stdout}");
    assert!(
        stdout.contains("other    bb: recorded 1, ours 2"),
        "{stdout}"
    );
    assert!(stdout.contains("missing  cc==1"), "{stdout}");
    assert!(
        stdout.contains("deb: 1 module x kind rows (1 differ); exact 1/3 (33.3%)"),
        "{stdout}"
    );
    let (code, stdout, _) = run(&[
        "--json",
        "compare-versions",
        rec.to_str().unwrap(),
        rec.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}");
    let v: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(v["totals"]["all"]["differing_rows"], 0);
    assert_eq!(v["arch"], "amd64");
    assert!(v["rows"].as_array().unwrap().len() >= 3);
}

#[test]
fn compare_versions_only_ours_leaves_out_other_platforms_dockers() {
    let dir = tempfile::tempdir().unwrap();
    let rec = dir.path().join("recorded");
    let ours = dir.path().join("ours");
    write_tree(
        &rec,
        &[
            (
                "default/versions-git",
                "https://x/a.git==0123456789abcdef0123456789abcdef01234567",
            ),
            ("dockers/docker-a/versions-deb-bullseye", "aa==1"),
            (
                "dockers/docker-syncd-other/versions-deb-bullseye",
                "vendor==1",
            ),
        ],
    );
    write_tree(
        &ours,
        &[("dockers/docker-a/versions-deb-bullseye", "aa==1")],
    );
    let (r, _) = read_tree(&rec).unwrap();
    let (o, _) = read_tree(&ours).unwrap();
    let modules = |s| -> Vec<String> {
        compare_trees(&r, &o, "amd64", s)
            .rows
            .into_iter()
            .map(|r| r.module)
            .collect()
    };
    assert_eq!(
        modules(ModuleScope::Both),
        ["docker-a", "docker-syncd-other", ALL_MODULES]
    );
    assert_eq!(modules(ModuleScope::Ours), ["docker-a", ALL_MODULES]);
    let c = compare_trees(&r, &o, "amd64", ModuleScope::Ours);
    assert_eq!(c.totals()["git"].missing, 1);
    assert_eq!(c.totals()["deb"].exact, 1);
}

#[test]
fn a_dbg_docker_is_merged_into_its_docker_as_sonics_freeze_does() {
    let mut lock = chain_lock();
    let b = Some("bullseye");
    // docker-database-dbg: FROM docker-database, plus gdb; its apt upgraded bash.
    for (n, v) in [
        ("libc6", "1"),
        ("bash", "5.2"),
        ("python3", "3.9"),
        ("redis", "6"),
        ("gdb", "10.1"),
    ] {
        lock.pins.push(deb(n, v, "docker-database-dbg", b));
    }
    lock.pins.push(py("pyyaml", "5.4.1", "docker-database-dbg"));
    lock.pins.push(py("redis", "4.5.4", "docker-database-dbg"));
    lock.normalize();
    let parents = format!("{PARENTS}docker-database-dbg docker-database\n");
    let o = opts(&parents);
    let (tree, summary, modules) = split_tree(&lock, &o).unwrap();
    // No module of its own: `_merge_dgb_modules` drops it after the merge.
    assert!(!tree.modules.contains_key("docker-database-dbg"));
    assert!(!modules.iter().any(|m| m.ends_with("-dbg")), "{modules:?}");
    let debs: BTreeMap<String, String> = effective(&tree, "docker-database", "bullseye", "amd64")
        .remove("deb")
        .unwrap_or_default();
    // The dbg module overwrites: its bash wins, its gdb is added, the rest is the docker's.
    assert_eq!(debs["bash"], "5.2");
    assert_eq!(debs["gdb"], "10.1");
    assert_eq!(debs["redis"], "6");
    // Building the docker on its chain with generate's pins gives the dbg image's state.
    let graph = o
        .graph
        .clone()
        .with_sonic_edges(modules.iter().map(String::as_str));
    assert_eq!(
        built_state(&tree, &graph, "docker-database"),
        state(&lock, "docker-database-dbg")
    );
    // The docker's own files hold them; what it inherits unchanged stays with its base.
    let own: Vec<String> = tree.modules["docker-database"]
        .iter()
        .filter(|c| c.ctype == "deb")
        .flat_map(|c| c.versions.iter().map(|(k, v)| format!("{k}=={v}")))
        .collect();
    let mut own = own;
    own.sort();
    assert_eq!(own, ["bash==5.2", "gdb==10.1", "redis==6"]);
    // Pins counted once: the dbg module's pins the docker already had are not extra lines.
    let (_, plain, _) = split_tree(&chain_lock(), &o).unwrap();
    assert_eq!(summary.pins, plain.pins + 1, "{summary:?} vs {plain:?}");
    // Without the split each image keeps its own module, the dbg one included.
    let no_split = SplitOptions {
        no_split: true,
        ..opts(&parents)
    };
    let (tree, _, _) = split_tree(&lock, &no_split).unwrap();
    assert!(tree.modules.contains_key("docker-database-dbg"));
}

#[test]
fn a_transient_pin_is_locked_but_not_exported() {
    // docker-config-engine installs build-essential, builds, then purges it:
    // the lock keeps its version for the build, SONiC's freeze never lists it.
    let mut l = Lock::new("p", &"a".repeat(40), "2022-12-06");
    l.pins.push(deb(
        "vim",
        "2",
        "docker-config-engine-bullseye",
        Some("bullseye"),
    ));
    let mut be = deb(
        "build-essential",
        "12.9",
        "docker-config-engine-bullseye",
        Some("bullseye"),
    );
    be.transient = true;
    l.pins.push(be);
    l.normalize();
    let text = l.to_toml_string();
    assert!(text.contains("transient = true"), "{text}");
    let back = Lock::from_toml_str(&text, "t.lock").unwrap();
    assert!(
        back.pins
            .iter()
            .any(|p| p.name == "build-essential" && p.transient)
    );
    let (tree, s, _) = split_tree(&back, &opts("")).unwrap();
    assert_eq!(s.transient, 1, "{s:?}");
    let eff = effective(&tree, "docker-config-engine-bullseye", "bullseye", "amd64");
    assert_eq!(eff["deb"].get("vim").map(String::as_str), Some("2"));
    assert!(!eff["deb"].contains_key("build-essential"), "{eff:?}");
}
