//! Crawl of small sonic-buildimage-shaped repositories built in code.

use crate::common::tree::*;
use sonic_lock::crawl::{CrawlOptions, crawl};
use sonic_lock::manifest::{Constraint, Dependency, Ecosystem, Manifest, Severity};
use sonic_lock::platform::{CutoffQuery, Platform, Platforms, find_cutoff};
use std::path::Path;

struct World {
    _dir: tempfile::TempDir,
    repo: std::path::PathBuf,
    subs: std::path::PathBuf,
    cache: std::path::PathBuf,
    platform: Platform,
    commits: Vec<git2::Oid>,
}

fn world() -> World {
    let dir = tempfile::tempdir().unwrap();
    // The submodule, cloned where --submodules will look for it (by path).
    let subs = dir.path().join("subs");
    let sub_repo = git2::Repository::init(subs.join("src/sub")).unwrap();
    let sub_commit = commit(&sub_repo, &sub_tree(), "sub", 1_600_000_000);
    let repo = dir.path().join("sonic-buildimage.git");
    let r = init_bare(&repo);
    let c1 = commit(&r, &tree(sub_commit, "1.0"), "first", 1_650_000_000);
    let c2 = commit(&r, &tree(sub_commit, "1.1"), "[BFN] sdk 1.1", 1_660_000_000);
    let mut later = tree(sub_commit, "1.1");
    later.add("README.md", "unrelated\n");
    let c3 = commit(&r, &later, "docs", 1_670_000_000);
    let platforms_dir = dir.path().join("platforms");
    std::fs::create_dir_all(&platforms_dir).unwrap();
    std::fs::write(platforms_dir.join("testbox.toml"), PLATFORM_TOML).unwrap();
    let platform = Platforms::load_dir(&platforms_dir)
        .unwrap()
        .find("tb")
        .unwrap()
        .clone();
    World {
        cache: dir.path().join("cache"),
        _dir: dir,
        repo,
        subs,
        platform,
        commits: vec![c1, c2, c3],
    }
}

fn opts(w: &World, all: bool, subs: bool) -> CrawlOptions {
    CrawlOptions {
        repo: w.repo.display().to_string(),
        rev: "master".to_string(),
        platform: Some(w.platform.clone()),
        all,
        submodules: subs.then(|| w.subs.clone()),
        clone_submodules: false,
        cache_dir: w.cache.clone(),
        make_vars: Default::default(),
    }
}

fn find<'a>(m: &'a Manifest, eco: Ecosystem, name: &str) -> Vec<&'a Dependency> {
    m.dependencies
        .iter()
        .filter(|d| d.ecosystem == eco && d.name == name)
        .collect()
}

fn one<'a>(m: &'a Manifest, eco: Ecosystem, name: &str) -> &'a Dependency {
    let v = find(m, eco, name);
    assert_eq!(v.len(), 1, "{eco} {name}: {v:#?}");
    v[0]
}

#[test]
fn cutoff_is_last_commit_touching_the_sdk_files() {
    let w = world();
    let c = find_cutoff(&w.repo, &w.platform.cutoff, &CutoffQuery::Rule).unwrap();
    assert_eq!(c.commit, w.commits[1].to_string());
    assert_eq!(c.summary, "[BFN] sdk 1.1");
    assert_eq!(c.date, "2022-08-08T23:06:40Z");
    let d = find_cutoff(
        &w.repo,
        &w.platform.cutoff,
        &CutoffQuery::Date(1_655_000_000),
    )
    .unwrap();
    assert_eq!(d.commit, w.commits[0].to_string());
    let r = find_cutoff(
        &w.repo,
        &w.platform.cutoff,
        &CutoffQuery::Rev("master~2".into()),
    )
    .unwrap();
    assert_eq!(r.commit, w.commits[0].to_string());
    let mut rule = w.platform.cutoff.clone();
    rule.paths = vec!["platform/nowhere.mk".into()];
    assert!(find_cutoff(&w.repo, &rule, &CutoffQuery::Rule).is_err());
}

#[test]
fn platform_scope_finds_every_kind_with_origins() {
    let w = world();
    let out = crawl(&opts(&w, false, false), &|_, _| {}).unwrap();
    let m = &out.manifest;
    assert_eq!(out.slaves, vec!["bullseye", "buster"]);

    // apt in the slave Dockerfile: order, pins, arch, transactions, removal.
    let mnl = one(m, Ecosystem::Deb, "libmnl0");
    assert!(mnl.pinned);
    assert_eq!(mnl.origin.file, "sonic-slave-bullseye/Dockerfile.j2");
    assert_eq!(mnl.origin.line, 9);
    assert_eq!(mnl.context.image.as_deref(), Some("sonic-slave-bullseye"));
    assert_eq!(mnl.context.suite.as_deref(), Some("bullseye"));
    let boost = one(m, Ecosystem::Deb, "libboost1.74-dev");
    assert_eq!(boost.context.arch.as_deref(), Some("amd64"));
    assert_eq!(boost.constraint, Constraint::None);
    let purge = find(m, Ecosystem::Deb, "make");
    assert!(
        purge
            .iter()
            .any(|d| d.attrs.get("action").map(String::as_str) == Some("remove"))
    );
    assert!(purge.iter().any(|d| !d.attrs.contains_key("action")));
    // Jinja branches over known variables are decided: no armhf image, no cross packages.
    assert!(find(m, Ecosystem::Docker, "multiarch/debian-debootstrap").is_empty());
    assert!(find(m, Ecosystem::Deb, "crossbuild-essential-armhf").is_empty());
    let bases: Vec<_> = find(m, Ecosystem::Docker, "debian")
        .iter()
        .map(|d| {
            (
                d.constraint.clone(),
                d.context.image.clone().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        bases,
        vec![
            (
                Constraint::Ref("bullseye".into()),
                "sonic-slave-bullseye".to_string()
            ),
            (
                Constraint::Ref("buster".into()),
                "sonic-slave-buster".to_string()
            )
        ]
    );

    // pip: pinned, bare, range.
    assert!(one(m, Ecosystem::Py, "pytest-runner").pinned);
    assert_eq!(one(m, Ecosystem::Py, "nnpy").constraint, Constraint::None);
    assert!(matches!(
        one(m, Ecosystem::Py, "lxml").constraint,
        Constraint::Range(_)
    ));

    // git: checked-out SHA pins; a bare clone follows the default branch.
    assert!(one(m, Ecosystem::Git, "https://github.com/jpirko/libteam.git").pinned);
    let dt = one(
        m,
        Ecosystem::Git,
        "https://chromium.googlesource.com/chromium/tools/depot_tools.git",
    );
    assert!(!dt.pinned);
    assert_eq!(
        one(m, Ecosystem::Git, "https://github.com/acme/foo-extra.git").constraint,
        Constraint::Ref("v2.0".into())
    );

    // web: `latest` URLs and make `_URL` of online debs, with $(SDK) expanded.
    let bz = one(
        m,
        Ecosystem::Web,
        "https://github.com/bazelbuild/bazelisk/releases/latest/download/bazelisk-linux-amd64",
    );
    assert_eq!(bz.constraint, Constraint::Ref("latest".into()));
    let sdk = one(
        m,
        Ecosystem::Web,
        "https://github.com/vendor/pkgs/raw/dev/sdk_1.1_deb11.deb",
    );
    assert_eq!(sdk.constraint, Constraint::Ref("dev".into()));
    assert_eq!(sdk.origin.file, "platform/testp/sdk.mk");
    assert_eq!(sdk.origin.line, 2);

    // A package Makefile: make variables from rules/*.mk expanded into dget.
    let src = one(m, Ecosystem::DebSrc, "foo");
    assert_eq!(src.constraint, Constraint::Exact("4.4.1-2.3".into()));
    assert_eq!(
        (src.origin.file.as_str(), src.origin.line),
        ("src/foo/Makefile", 6)
    );
    // An unknown variable is kept, with a diagnostic naming file and line.
    let unknown: Vec<_> = m
        .dependencies
        .iter()
        .filter(|d| d.name.contains("$(NOT_DEFINED_ANYWHERE)"))
        .collect();
    assert_eq!(unknown.len(), 1);
    assert!(
        m.diagnostics
            .iter()
            .any(|d| d.origin.file == "src/foo/Makefile" && d.origin.line == 7)
    );

    // debian/control, setup.py, requirements, go.mod.
    let dh = one(m, Ecosystem::Deb, "debhelper");
    assert_eq!(dh.constraint, Constraint::Range(">= 9.0.0".into()));
    assert_eq!(dh.origin.file, "src/foo/debian/control");
    assert_eq!(one(m, Ecosystem::Deb, "libbar-dev").origin.line, 4);
    // `dpkg-buildpackage -Ppkg.foo.nortr` in src/foo/Makefile: the profile is the control's.
    let rtr = one(m, Ecosystem::Deb, "librtr-dev");
    assert_eq!(
        rtr.attrs.get("build_profiles").map(String::as_str),
        Some("pkg.foo.nortr")
    );
    assert!(rtr.attrs["profiles"].contains("pkg.foo.nortr"));
    assert!(one(m, Ecosystem::Py, "click").pinned);
    assert_eq!(one(m, Ecosystem::Py, "natsort").origin.line, 6);
    assert!(one(m, Ecosystem::Py, "pyyaml").pinned);
    let glog = one(m, Ecosystem::Go, "github.com/golang/glog");
    assert!(glog.attrs.contains_key("go-sum"));

    // Host image: chroot'ed apt and pip in build_debian.sh.
    let bb = one(m, Ecosystem::Deb, "busybox");
    assert_eq!(bb.context.image.as_deref(), Some("host-image"));
    assert!(
        find(m, Ecosystem::Py, "j2cli")
            .iter()
            .any(|d| d.origin.file == "build_debian.sh")
    );

    // Templates rendered by the image build see the installer recipe's exports.
    let tt = one(m, Ecosystem::Deb, "testp-tools");
    assert_eq!(
        (tt.origin.file.as_str(), tt.origin.line),
        ("files/build_templates/sonic_debian_extension.j2", 3)
    );
    assert_eq!(tt.context.image.as_deref(), Some("host-image"));
    assert!(find(m, Ecosystem::Deb, "other-tools").is_empty());
    assert!(!find(m, Ecosystem::Deb, "conntrack").is_empty());
    assert!(
        m.diagnostics
            .iter()
            .all(|d| d.origin.file != "files/build_templates/init_cfg.json.j2"),
        "a JSON template is not a script"
    );

    // The buster docker and what it needs are built in the buster slave.
    assert_eq!(
        one(m, Ecosystem::Deb, "oldlib").context.suite.as_deref(),
        Some("buster")
    );
    let bar = one(m, Ecosystem::Deb, "barbuild");
    assert_eq!(bar.context.image.as_deref(), Some("sonic-slave-buster"));
    assert_eq!(
        one(m, Ecosystem::Deb, "python-dev")
            .context
            .image
            .as_deref(),
        Some("sonic-slave-buster")
    );
    // The docker's own dependencies, and its local base image is not external.
    assert_eq!(
        one(m, Ecosystem::Deb, "libxdeps").context.image.as_deref(),
        Some("docker-x")
    );
    assert!(
        find(
            m,
            Ecosystem::Docker,
            "docker-config-engine-bullseye-{{DOCKER_USERNAME}}"
        )
        .is_empty()
    );
    assert!(
        find(m, Ecosystem::Py, "j2cli")
            .iter()
            .any(
                |d| d.context.image.as_deref() == Some("docker-config-engine-bullseye") && d.pinned
            )
    );

    // Out of scope: an unused package and an unused slave.
    assert!(find(m, Ecosystem::Deb, "unusedpkg").is_empty());
    assert!(find(m, Ecosystem::Deb, "stretchonly").is_empty());

    // Odd inputs: non-UTF-8 parsed with a warning, binary skipped with a warning,
    // unterminated continuation kept with a warning.
    assert!(!find(m, Ecosystem::Deb, "latin1pkg").is_empty());
    assert!(
        m.diagnostics
            .iter()
            .any(|d| d.origin.file == "src/foo/latin1.sh" && d.message.contains("UTF-8"))
    );
    assert!(find(m, Ecosystem::Deb, "nope").is_empty());
    assert!(
        m.diagnostics
            .iter()
            .any(|d| d.origin.file == "src/foo/blob.sh" && d.message.contains("binary"))
    );
    assert!(!find(m, Ecosystem::Deb, "tailpkg").is_empty());
    assert!(
        m.diagnostics.iter().any(
            |d| d.origin.file == "src/foo/unterminated.sh" && d.message.contains("end of file")
        )
    );
    // An undecidable Jinja expression keeps its text and says so.
    assert!(
        m.diagnostics
            .iter()
            .any(|d| d.origin.file == "sonic-slave-bullseye/Dockerfile.j2" && d.origin.line == 20)
    );
    // A wheel named by a variable is the tree's own, reported, not a dependency.
    assert!(
        m.diagnostics
            .iter()
            .any(|d| d.origin.file == "dockers/docker-x/Dockerfile.j2"
                && d.message.contains("wheel"))
    );

    // The submodule: pinned by its gitlink, with its branch; missing clone is an error.
    let sub = one(m, Ecosystem::Git, "https://github.com/acme/sub.git");
    assert!(sub.pinned);
    assert_eq!(sub.attrs.get("branch").map(String::as_str), Some("main"));
    assert_eq!(
        (sub.origin.file.as_str(), sub.origin.line),
        (".gitmodules", 1)
    );
    let err: Vec<_> = m
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(err.len(), 1, "{err:#?}");
    assert!(err[0].message.contains("src/sub"));
    assert!(find(m, Ecosystem::Py, "requests").is_empty());
    assert_eq!(out.submodules.len(), 1);
    assert!(!out.submodules[0].crawled);
}

#[test]
fn submodules_are_read_from_local_clones_at_their_gitlink() {
    let w = world();
    let out = crawl(&opts(&w, false, true), &|_, _| {}).unwrap();
    let m = &out.manifest;
    assert!(
        m.diagnostics.iter().all(|d| d.severity != Severity::Error),
        "{:#?}",
        m.diagnostics
    );
    let req = one(m, Ecosystem::Py, "requests");
    assert_eq!(req.origin.file, "src/sub/requirements.txt");
    assert_eq!(req.context.image.as_deref(), Some("sonic-slave-bullseye"));
    assert_eq!(
        one(m, Ecosystem::Py, "pyroute2").origin.file,
        "src/sub/setup.py"
    );
    assert!(out.submodules[0].crawled);
}

#[test]
fn a_submodule_clone_without_the_commit_is_reported() {
    let w = world();
    // Replace the clone with one that lacks the recorded commit.
    std::fs::remove_dir_all(w.subs.join("src/sub")).unwrap();
    let other = git2::Repository::init(w.subs.join("src/sub")).unwrap();
    let mut f = Files::default();
    f.add("x", "y");
    commit(&other, &f, "other", 1);
    let out = crawl(&opts(&w, false, true), &|_, _| {}).unwrap();
    let e: Vec<_> = out
        .manifest
        .diagnostics
        .iter()
        .filter(|d| d.severity == Severity::Error)
        .collect();
    assert_eq!(e.len(), 1);
    assert!(e[0].message.contains("lacks commit"), "{}", e[0].message);
}

#[test]
fn all_crawls_the_whole_tree() {
    let w = world();
    let out = crawl(&opts(&w, true, false), &|_, _| {}).unwrap();
    let m = &out.manifest;
    assert_eq!(m.platform, "all");
    assert!(!find(m, Ecosystem::Deb, "unusedpkg").is_empty());
    assert!(!find(m, Ecosystem::Deb, "stretchonly").is_empty());
    assert_eq!(
        one(m, Ecosystem::Deb, "stretchonly")
            .context
            .suite
            .as_deref(),
        Some("stretch")
    );
}

#[test]
fn output_is_deterministic_and_same_for_bare_non_bare_and_url() {
    let w = world();
    let a = crawl(&opts(&w, false, true), &|_, _| {}).unwrap().manifest;
    let b = crawl(&opts(&w, false, true), &|_, _| {}).unwrap().manifest;
    assert_eq!(
        serde_json::to_string(&a).unwrap(),
        serde_json::to_string(&b).unwrap()
    );
    // A non-bare clone with a working tree.
    let nb = w.cache.parent().unwrap().join("non-bare");
    git2::Repository::clone(w.repo.to_str().unwrap(), &nb).unwrap();
    let mut o = opts(&w, false, true);
    o.repo = nb.display().to_string();
    o.rev = "origin/master".into();
    let c = crawl(&o, &|_, _| {}).unwrap().manifest;
    assert_eq!(a.dependencies, c.dependencies);
    // A URL is cloned into the cache (and reused the second time).
    let mut u = opts(&w, false, true);
    u.repo = format!("file://{}", w.repo.display());
    let d = crawl(&u, &|_, _| {}).unwrap().manifest;
    assert_eq!(a.dependencies, d.dependencies);
    let e = crawl(&u, &|_, _| {}).unwrap().manifest;
    assert_eq!(a.dependencies, e.dependencies);
    // The manifest round-trips through its file.
    let path = w.cache.join("m.json");
    a.write(&path).unwrap();
    assert_eq!(Manifest::read(&path).unwrap(), a);
}

#[test]
fn bad_revision_and_missing_repository_are_errors() {
    let w = world();
    let mut o = opts(&w, false, false);
    o.rev = "no-such-branch".into();
    let e = crawl(&o, &|_, _| {}).unwrap_err().to_string();
    assert!(e.contains("no-such-branch"), "{e}");
    let mut o = opts(&w, false, false);
    o.repo = Path::new("/nonexistent/repo").display().to_string();
    assert!(crawl(&o, &|_, _| {}).is_err());
}

#[test]
fn submodules_can_be_cloned_into_the_cache() {
    let dir = tempfile::tempdir().unwrap();
    let sub_dir = dir.path().join("upstream/sub");
    let sub_repo = git2::Repository::init(&sub_dir).unwrap();
    let sub_commit = commit(&sub_repo, &sub_tree(), "sub", 1_600_000_000);
    let repo = dir.path().join("sb.git");
    let r = init_bare(&repo);
    let mut f = tree(sub_commit, "1.0");
    f.add(
        ".gitmodules",
        format!(
            "[submodule \"src/sub\"]\n\tpath = src/sub\n\turl = file://{}\n",
            sub_dir.display()
        ),
    );
    commit(&r, &f, "c", 1_650_000_000);
    let o = CrawlOptions {
        clone_submodules: true,
        ..crawl_options(&repo, dir.path())
    };
    let out = crawl(&o, &|_, _| {}).unwrap();
    assert!(
        out.submodules.iter().all(|s| s.crawled),
        "{:?}",
        out.submodules
    );
    assert_eq!(
        one(&out.manifest, Ecosystem::Py, "requests").origin.file,
        "src/sub/requirements.txt"
    );
    // Without cloning, the same tree reports the submodule as missing.
    let o = CrawlOptions {
        clone_submodules: false,
        ..o
    };
    let out = crawl(&o, &|_, _| {}).unwrap();
    assert!(
        out.manifest
            .diagnostics
            .iter()
            .any(|d| d.severity == Severity::Error && d.message.contains("src/sub"))
    );
}

fn chain(out: &sonic_lock::crawl::CrawlOutput, file: &str) -> Vec<String> {
    out.provenance
        .get(file)
        .unwrap_or_else(|| panic!("{file} not in scope"))
        .chain
        .iter()
        .map(|l| l.node.clone())
        .collect()
}

#[test]
fn scope_is_what_the_targets_read_and_run() {
    let w = world();
    let out = crawl(&opts(&w, false, true), &|_, _| {}).unwrap();
    let m = &out.manifest;
    // CI, tests, copied and runtime scripts, a submodule's pipelines: nobody runs them.
    for name in ["cionly", "copiedonly", "runtimeonly", "subci"] {
        assert!(find(m, Ecosystem::Deb, name).is_empty(), "{name}");
    }
    assert!(find(m, Ecosystem::Py, "testonly").is_empty());
    for f in [
        "src/foo/ci/install.sh",
        "src/foo/tests/requirements.txt",
        "src/foo/copied.sh",
        "files/image_config/runtime.sh",
        "src/sub/.azure-pipelines/build.sh",
    ] {
        assert!(!out.provenance.contains_key(f), "{f}");
    }
    // A script the image build runs, with its chain.
    let h = one(m, Ecosystem::Deb, "helperpkg");
    assert_eq!(h.context.image.as_deref(), Some("host-image"));
    assert_eq!(
        chain(&out, "scripts/helper.sh"),
        ["scripts/helper.sh", "build_debian.sh", "sonic-testp.bin"]
    );
    assert_eq!(
        out.provenance["scripts/helper.sh"].chain[0].why,
        "run at build_debian.sh:5"
    );
    // The template is rendered by the installer's recipe.
    let t = &out.provenance["files/build_templates/sonic_debian_extension.j2"];
    assert!(t.crawled);
    assert!(
        t.chain[0].why.starts_with("rendered at slave.mk:"),
        "{:?}",
        t.chain
    );
    // A deb built with make, whose Makefile runs dpkg-buildpackage.
    assert_eq!(
        chain(&out, "src/foo/debian/control"),
        [
            "src/foo/debian/control",
            "src/foo/Makefile",
            "foo_4.4.1-2.3_amd64.deb",
            "docker-x.gz",
            "sonic-testp.bin"
        ]
    );
    // A wheel target reads its setup.py, and the requirements file it opens.
    let wheel = &out.provenance["src/sub/setup.py"];
    assert!(wheel.crawled);
    assert_eq!(
        chain(&out, "src/sub/requirements.txt")[..2],
        ["src/sub/requirements.txt", "src/sub/setup.py"]
    );
    // The FROM chain: docker-base-bullseye is no make target, yet docker-x sits on it.
    let base = one(m, Ecosystem::Deb, "baseonly");
    assert_eq!(base.context.image.as_deref(), Some("docker-base-bullseye"));
    let c = &out.provenance["dockers/docker-base-bullseye/Dockerfile.j2"].chain;
    assert_eq!(
        c[0].why,
        "FROM of dockers/docker-config-engine-bullseye/Dockerfile.j2:1"
    );
}

#[test]
fn a_name_that_is_not_a_package_is_a_diagnostic_not_a_dependency() {
    let w = world();
    let out = crawl(&opts(&w, false, true), &|_, _| {}).unwrap();
    let m = &out.manifest;
    assert!(
        m.dependencies
            .iter()
            .all(|d| !(d.ecosystem == Ecosystem::Deb && d.name.starts_with("linux-headers"))),
        "{:#?}",
        find(m, Ecosystem::Deb, "linux-headers-$(uname -r)")
    );
    let d: Vec<_> = m
        .diagnostics
        .iter()
        .filter(|d| d.origin.file == "scripts/helper.sh" && d.origin.line == 3)
        .collect();
    assert!(
        d.iter()
            .any(|d| d.message.contains("left out of the manifest")),
        "{d:#?}"
    );
    // The rest of the file is still read.
    assert!(!find(m, Ecosystem::Deb, "helperpkg").is_empty());
}

#[test]
fn nested_submodules_are_declared_by_their_enclosing_submodule() {
    let dir = tempfile::tempdir().unwrap();
    let subs = dir.path().join("subs");
    // The nested clone is found by its repository name, as a directory of clones names it.
    let inner = git2::Repository::init(subs.join("inner")).unwrap();
    let mut f = Files::default();
    f.add("README", "inner\n");
    let ic = commit(&inner, &f, "inner", 1_500_000_000);
    let sub = git2::Repository::init(subs.join("src/sub")).unwrap();
    let mut st = sub_tree();
    st.add(
        ".gitmodules",
        "[submodule \"deep\"]\n\tpath = ./deep/inner/\n\turl = https://github.com/acme/inner.git\n",
    )
    .link("deep/inner", ic);
    let sc = commit(&sub, &st, "sub", 1_600_000_000);
    let repo = dir.path().join("sb.git");
    let r = init_bare(&repo);
    commit(&r, &tree(sc, "1.0"), "c", 1_650_000_000);
    let o = CrawlOptions {
        submodules: Some(subs),
        ..crawl_options(&repo, dir.path())
    };
    let out = crawl(&o, &|_, _| {}).unwrap();
    let nested = out
        .submodules
        .iter()
        .find(|s| s.path == "src/sub/deep/inner")
        .expect("nested submodule listed");
    assert!(nested.crawled, "{nested:?}");
    let m = &out.manifest;
    assert!(
        m.diagnostics
            .iter()
            .all(|d| !d.message.contains("not declared")),
        "{:#?}",
        m.diagnostics
    );
    let pin = one(m, Ecosystem::Git, "https://github.com/acme/inner.git");
    assert_eq!(pin.constraint, Constraint::Exact(ic.to_string()));
    assert_eq!(
        (pin.origin.file.as_str(), pin.origin.line),
        ("src/sub/.gitmodules", 1)
    );
}
