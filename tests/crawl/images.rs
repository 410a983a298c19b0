//! The image graph of a small tree built in code: `FROM` parents, the Debian
//! base of root images, a built deb's `Depends` reaching the image that
//! installs it, and a wheel's `install_requires` reaching the installing
//! image and, per building target, the slave, while the slave keeps `setup_requires`, `tests_require` (the build
//! runs the tests) and PEP 517 build requirements.

use sonic_lock::crawl::images::{ReadFile, compute};
use sonic_lock::crawl::make::Evaluator;
use sonic_lock::crawl::scope::Scope;
use sonic_lock::crawl::text::Sink;
use sonic_lock::manifest::images::{BaseKind, installs_recommends};
use sonic_lock::manifest::{Context, Dependency, Ecosystem};
use std::collections::BTreeMap;

const RULES: &str = "\
SRC_PATH = src
LIBA = liba_1.0_amd64.deb
$(LIBA)_SRC_PATH = $(SRC_PATH)/liba
LIBB = libb_1.0_amd64.deb
$(LIBB)_SRC_PATH = $(SRC_PATH)/libb
$(LIBA)_RDEPENDS += $(LIBB)
PYX = pyx-1.0-py3-none-any.whl
$(PYX)_SRC_PATH = $(SRC_PATH)/pyx
$(PYX)_PYTHON_VERSION = 3
PYZ = pyz-1.0-py3-none-any.whl
$(PYZ)_SRC_PATH = $(SRC_PATH)/pyz
$(PYZ)_PYTHON_VERSION = 3
$(PYZ)_DEPENDS += $(PYX)
DOCKER_BASE = docker-base-bullseye.gz
$(DOCKER_BASE)_PATH = dockers/docker-base-bullseye
DOCKER_ENGINE = docker-config-engine-bullseye.gz
$(DOCKER_ENGINE)_PATH = dockers/docker-config-engine-bullseye
$(DOCKER_ENGINE)_DEPENDS += $(LIBA)
$(DOCKER_ENGINE)_PYTHON_WHEELS += $(PYX)
DOCKER_DB = docker-database.gz
$(DOCKER_DB)_PATH = dockers/docker-database
SNMP = libsnmp40_5.9+dfsg-4_amd64.deb
$(SNMP)_SRC_PATH = $(SRC_PATH)/snmpd
FRR = frr_8.5.1-sonic-0_amd64.deb
$(FRR)_SRC_PATH = $(SRC_PATH)/sonic-frr
$(DOCKER_DB)_DEPENDS += $(SNMP) $(FRR)
";

struct Files(BTreeMap<&'static str, &'static str>);

impl ReadFile for Files {
    fn read(&self, path: &str) -> Option<String> {
        self.0.get(path).map(|s| s.to_string())
    }

    fn glob(&self, pattern: &str) -> Vec<String> {
        self.0
            .keys()
            .filter(|p| sonic_lock::crawl::tree::glob_match(pattern, p))
            .map(|p| p.to_string())
            .collect()
    }
}

fn files() -> Files {
    Files(
        [
            ("dockers/docker-base-bullseye/Dockerfile.j2", "{% if CONFIGURED_ARCH == \"armhf\" %}\nFROM multiarch/debian-debootstrap:armhf-bullseye\n{% else %}\nFROM {{ prefix }}debian:bullseye\n{% endif %}\nCOPY [\"no_install_recommend_suggest\", \"/etc/apt/apt.conf.d\"]\n"),
            ("dockers/docker-base-bullseye/no_install_recommend_suggest", "APT::Install-Recommends \"false\";\n"),
            ("dockers/docker-config-engine-bullseye/Dockerfile.j2", "FROM docker-base-bullseye-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}\n"),
            ("dockers/docker-database/Dockerfile.j2", "FROM docker-config-engine-bullseye-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}\n"),
            ("sonic-slave-bullseye/Dockerfile.j2", "FROM {{ prefix }}debian:bullseye\n"),
            ("src/liba/debian/control", "Source: liba\nBuild-Depends: debhelper\n\nPackage: liba\nArchitecture: any\nDepends: ${shlibs:Depends}, libc6 (>= 2.28),\n libb, foo | bar\n\nPackage: liba-dev\nDepends: liba, never-installed\n"),
            ("src/libb/debian/control", "Source: libb\n\nPackage: libb\nPre-Depends: zlib1g\n"),
            ("src/pyx/setup.py", "setup(\n    name='pyx',\n    install_requires=['lxml==4.9.1'],\n    setup_requires=['pytest-runner'],\n    tests_require=['pytest'],\n)\n"),
            ("src/sonic-frr/frr/debian/control", "Source: frr\n\nPackage: frr\nArchitecture: any\nDepends: ${shlibs:Depends}, iproute2\n"),
            ("src/sonic-frr/doc/debian/control", "Source: doc\n\nPackage: frr-doc\nArchitecture: all\n"),
            ("src/pyz/setup.py", "setup(\n    name='pyz',\n    install_requires=['click'],\n)\n"),
            ("src/pyx/pyproject.toml", "[build-system]\nrequires = [\n  \"setuptools>=40\",\n  \"wheel\",\n]\n"),
        ]
        .into(),
    )
}

fn slave() -> Context {
    Context {
        image: Some("sonic-slave-bullseye".into()),
        suite: Some("bullseye".into()),
        ..Context::default()
    }
}

fn crawl() -> (sonic_lock::crawl::images::Images, Vec<Dependency>) {
    crawl_building_pyz_for(&["bullseye"])
}

/// The crawl with wheel pyz built in the slaves of `suites`.
fn crawl_building_pyz_for(suites: &[&str]) -> (sonic_lock::crawl::images::Images, Vec<Dependency>) {
    let mut ev = Evaluator::new(None, None);
    ev.db.set_command_line("CONFIGURED_ARCH", "amd64");
    let mut sink = Sink::new("rules/x.mk");
    ev.eval_text(RULES, &mut sink);
    let mut scope = Scope::default();
    for t in [
        "liba_1.0_amd64.deb",
        "libb_1.0_amd64.deb",
        "pyx-1.0-py3-none-any.whl",
        "pyz-1.0-py3-none-any.whl",
        "docker-base-bullseye.gz",
        "docker-config-engine-bullseye.gz",
        "docker-database.gz",
        "libsnmp40_5.9+dfsg-4_amd64.deb",
        "frr_8.5.1-sonic-0_amd64.deb",
    ] {
        scope
            .targets
            .insert(t.to_string(), ["bullseye".to_string()].into());
    }
    scope.targets.insert(
        "pyz-1.0-py3-none-any.whl".into(),
        suites.iter().map(|s| s.to_string()).collect(),
    );
    scope.slaves.insert("bullseye".into());
    // What the parsers read from the wheel's setup.py, in the slave that builds it.
    let mut s = Sink::new("src/pyx/setup.py");
    sonic_lock::crawl::python::setup_py(files().0["src/pyx/setup.py"], &slave(), &mut s);
    let mut deps = s.deps;
    let mut s = Sink::new("src/pyz/setup.py");
    sonic_lock::crawl::python::setup_py(files().0["src/pyz/setup.py"], &slave(), &mut s);
    deps.append(&mut s.deps);
    let out = compute(&ev.db, &scope, &files(), &mut deps);
    deps.extend(out.deps.iter().cloned());
    (out, deps)
}

fn in_image<'a>(deps: &'a [Dependency], eco: Ecosystem, name: &str) -> Vec<&'a str> {
    deps.iter()
        .filter(|d| d.ecosystem == eco && d.name == name)
        .filter_map(|d| d.context.image.as_deref())
        .collect()
}

#[test]
fn from_chains_and_bases() {
    let (out, _) = crawl();
    let g = &out.graph;
    let base = &g["docker-base-bullseye"];
    assert_eq!(base.parent, None);
    assert_eq!(base.base, Some(BaseKind::Minbase));
    assert_eq!(base.from.as_deref(), Some("debian:bullseye"));
    assert_eq!(
        g["docker-config-engine-bullseye"].parent.as_deref(),
        Some("docker-base-bullseye")
    );
    assert_eq!(
        g["docker-database"].parent.as_deref(),
        Some("docker-config-engine-bullseye")
    );
    assert_eq!(g["sonic-slave-bullseye"].base, Some(BaseKind::Minbase));
    // docker-base's apt configuration turns Recommends off for it and its
    // children; the slave keeps apt's default.
    assert_eq!(base.install_recommends, Some(false));
    assert!(!installs_recommends(g, "docker-database"));
    assert!(installs_recommends(g, "sonic-slave-bullseye"));
    assert_eq!(g["host-image"].base, Some(BaseKind::Debootstrap));
    let debs: Vec<&str> = g["docker-config-engine-bullseye"]
        .debs
        .iter()
        .map(|d| d.target.as_str())
        .collect();
    assert_eq!(debs, vec!["liba_1.0_amd64.deb", "libb_1.0_amd64.deb"]);
    assert_eq!(
        g["docker-config-engine-bullseye"].wheels[0]
            .source
            .as_deref(),
        Some("src/pyx/setup.py")
    );
}

#[test]
fn a_built_debs_depends_reach_the_image_that_installs_it() {
    let (_, deps) = crawl();
    assert_eq!(
        in_image(&deps, Ecosystem::Deb, "libc6"),
        vec!["docker-config-engine-bullseye"]
    );
    assert_eq!(
        in_image(&deps, Ecosystem::Deb, "zlib1g"),
        vec!["docker-config-engine-bullseye"]
    );
    // The tree's own libb is no archive package; liba-dev is not installed.
    assert!(in_image(&deps, Ecosystem::Deb, "libb").is_empty());
    assert!(in_image(&deps, Ecosystem::Deb, "never-installed").is_empty());
    let foo = deps.iter().find(|d| d.name == "foo").unwrap();
    assert_eq!(foo.attrs["alternatives"], "foo | bar");
    assert_eq!(
        (foo.origin.file.as_str(), foo.origin.line),
        ("src/liba/debian/control", 7)
    );
    assert_eq!(foo.attrs["installed-by"], "liba_1.0_amd64.deb");
}

#[test]
fn debs_without_their_control_in_the_tree_ask_for_the_archive_depends() {
    let (out, deps) = crawl();
    // (name, image, only, version, origin)
    type Ask<'a> = (&'a str, &'a str, Option<&'a str>, Option<&'a str>, String);
    let asks: Vec<Ask> = deps
        .iter()
        .filter(|d| d.is_archive_depends())
        .map(|d| {
            (
                d.name.as_str(),
                d.context.image.as_deref().unwrap_or(""),
                d.attrs.get("only").map(String::as_str),
                match &d.constraint {
                    sonic_lock::manifest::Constraint::Exact(v) => Some(v.as_str()),
                    _ => None,
                },
                d.origin.to_string(),
            )
        })
        .collect();
    assert_eq!(
        asks,
        vec![
            // liba's control is in the tree but its Depends take ${shlibs:Depends}.
            (
                "liba",
                "docker-config-engine-bullseye",
                Some("libraries"),
                Some("1.0"),
                "rules/x.mk:3".to_string()
            ),
            (
                "libsnmp40",
                "docker-database",
                None,
                Some("5.9+dfsg-4"),
                "rules/x.mk:23".to_string()
            ),
            (
                "frr",
                "docker-database",
                Some("libraries"),
                Some("8.5.1-sonic-0"),
                "rules/x.mk:25".to_string()
            ),
        ]
    );
    // frr's control is one directory down, in the submodule its Makefile builds in.
    let iproute2: Vec<&Dependency> = deps.iter().filter(|d| d.name == "iproute2").collect();
    assert_eq!(iproute2.len(), 1);
    assert_eq!(iproute2[0].origin.file, "src/sonic-frr/frr/debian/control");
    let frr = out.graph["docker-database"]
        .debs
        .iter()
        .find(|d| d.target.starts_with("frr_"));
    assert_eq!(
        frr.and_then(|d| d.source.as_deref()),
        Some("src/sonic-frr/frr/debian/control")
    );
    assert!(
        out.diags.iter().any(|d| d.message.contains("libsnmp40_5.9+dfsg-4_amd64.deb is installed into docker-database but its debian/control is not in the tree")),
        "{:?}",
        out.diags
    );
}

#[test]
fn install_requires_reach_the_installing_image_and_the_slave_gets_what_building_needs() {
    let (_, deps) = crawl();
    // The installing image gets them; so does the slave, per target whose
    // build pip-installs them: pyx's own, and pyz's, which installs pyx first.
    let lxml: Vec<(&str, Option<&str>)> = deps
        .iter()
        .filter(|d| d.name == "lxml")
        .map(|d| {
            (
                d.context.image.as_deref().unwrap_or(""),
                d.attrs.get("build-run").map(String::as_str),
            )
        })
        .collect();
    assert_eq!(
        lxml,
        vec![
            ("docker-config-engine-bullseye", None),
            ("sonic-slave-bullseye", Some("pyx-1.0-py3-none-any.whl")),
            ("sonic-slave-bullseye", Some("pyz-1.0-py3-none-any.whl")),
        ]
    );
    // No image installs pyz: its requirements are only its build's.
    let click: Vec<&Dependency> = deps.iter().filter(|d| d.name == "click").collect();
    assert_eq!(click.len(), 1);
    assert_eq!(click[0].attrs["build-run"], "pyz-1.0-py3-none-any.whl");
    assert_eq!(click[0].context.python.as_deref(), Some("py3"));
    assert_eq!(
        in_image(&deps, Ecosystem::Py, "pytest-runner"),
        vec!["sonic-slave-bullseye"]
    );
    let pytest = deps.iter().find(|d| d.name == "pytest").unwrap();
    assert_eq!(
        pytest.context.image.as_deref(),
        Some("sonic-slave-bullseye")
    );
    assert_eq!(pytest.attrs["tests-run"], "pyx-1.0-py3-none-any.whl");
    for n in ["setuptools", "wheel"] {
        assert_eq!(
            in_image(&deps, Ecosystem::Py, n),
            vec!["sonic-slave-bullseye"],
            "{n}"
        );
    }
    let st = deps.iter().find(|d| d.name == "setuptools").unwrap();
    assert_eq!(
        (st.origin.file.as_str(), st.origin.line),
        ("src/pyx/pyproject.toml", 3)
    );
}

#[test]
fn a_wheel_built_in_two_slaves_leaves_its_requirements_in_both() {
    let (_, deps) = crawl_building_pyz_for(&["bullseye", "buster"]);
    let mut click: Vec<(&str, &str)> = deps
        .iter()
        .filter(|d| d.name == "click")
        .map(|d| {
            (
                d.context.image.as_deref().unwrap_or(""),
                d.context.suite.as_deref().unwrap_or(""),
            )
        })
        .collect();
    click.sort();
    assert_eq!(
        click,
        vec![
            ("sonic-slave-bullseye", "bullseye"),
            ("sonic-slave-buster", "buster")
        ]
    );
}
