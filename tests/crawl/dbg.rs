//! The `-dbg` dockers of a small tree built in code, shaped as
//! sonic-buildimage 202305 builds them: none by default; with
//! `INSTALL_DEBUG_TOOLS=y` (handed by `Makefile.work` to `slave.mk` as
//! `SONIC_INSTALL_DEBUG_TOOLS`) the installer takes `docker-x-dbg.gz`, built
//! FROM `docker-x` with the docker's `_DBG_DEPENDS` debs and its
//! `_DBG_IMAGE_PACKAGES` apt packages.

use crate::common::tree::*;
use sonic_lock::crawl::{CrawlOptions, CrawlOutput, crawl};
use sonic_lock::manifest::{Dependency, Ecosystem, Manifest};

const ORCHAGENT_MK: &str = "\
DOCKER_ORCHAGENT_STEM = docker-orchagent
DOCKER_ORCHAGENT = $(DOCKER_ORCHAGENT_STEM).gz
DOCKER_ORCHAGENT_DBG = $(DOCKER_ORCHAGENT_STEM)-$(DBG_IMAGE_MARK).gz
$(DOCKER_ORCHAGENT)_DEPENDS += $(SWSS)
$(DOCKER_ORCHAGENT)_DBG_DEPENDS = $($(DOCKER_BASE_BULLSEYE)_DBG_DEPENDS)
$(DOCKER_ORCHAGENT)_DBG_DEPENDS += $(SWSS_DBG) $(LIBX_DBG)
$(DOCKER_ORCHAGENT)_DBG_IMAGE_PACKAGES = $($(DOCKER_BASE_BULLSEYE)_DBG_IMAGE_PACKAGES)
$(DOCKER_ORCHAGENT)_PATH = $(DOCKERS_PATH)/$(DOCKER_ORCHAGENT_STEM)
$(DOCKER_ORCHAGENT)_LOAD_DOCKERS += $(DOCKER_BASE_BULLSEYE)
SONIC_DOCKER_IMAGES += $(DOCKER_ORCHAGENT)
SONIC_INSTALL_DOCKER_IMAGES += $(DOCKER_ORCHAGENT)
SONIC_DOCKER_DBG_IMAGES += $(DOCKER_ORCHAGENT_DBG)
SONIC_INSTALL_DOCKER_DBG_IMAGES += $(DOCKER_ORCHAGENT_DBG)
";

const ONE_IMAGE_MK: &str = "\
SONIC_ONE_IMAGE = sonic-testp.bin
ifeq ($(INSTALL_DEBUG_TOOLS),y)
$(SONIC_ONE_IMAGE)_DOCKERS += $(SONIC_INSTALL_DOCKER_DBG_IMAGES)
$(SONIC_ONE_IMAGE)_DOCKERS += $(filter-out $(patsubst %-$(DBG_IMAGE_MARK).gz,%.gz, $(SONIC_INSTALL_DOCKER_DBG_IMAGES)), $(SONIC_INSTALL_DOCKER_IMAGES))
else
$(SONIC_ONE_IMAGE)_DOCKERS = $(SONIC_INSTALL_DOCKER_IMAGES)
endif
SONIC_INSTALLERS += $(SONIC_ONE_IMAGE)
";

fn tree() -> Files {
    // slave.mk turns Makefile.work's SONIC_INSTALL_DEBUG_TOOLS into INSTALL_DEBUG_TOOLS.
    let slave_mk = SLAVE_MK.replace(
        "include $(RULES_PATH)/functions\n",
        "include $(RULES_PATH)/functions\nDBG_IMAGE_MARK = dbg\nifeq ($(SONIC_INSTALL_DEBUG_TOOLS),y)\nINSTALL_DEBUG_TOOLS = y\nendif\n",
    );
    let mut f = Files::default();
    f.add("slave.mk", slave_mk)
        .add("Makefile.work", "SONIC_BUILD_INSTRUCTION :=  $(MAKE) \\\n    -f slave.mk \\\n    PLATFORM=$(PLATFORM) \\\n    SONIC_INSTALL_DEBUG_TOOLS=$(INSTALL_DEBUG_TOOLS) \\\n    SLAVE_DIR=$(SLAVE_DIR)\n")
        .add("rules/config", "# INSTALL_DEBUG_TOOLS = y\nDEFAULT_CONTAINER_REGISTRY ?=\n")
        .add("rules/functions", FUNCTIONS)
        .add("rules/swss.mk", "SWSS = swss_1.0_amd64.deb\n$(SWSS)_SRC_PATH = $(SRC_PATH)/swss\nSONIC_DPKG_DEBS += $(SWSS)\n$(SWSS)_RDEPENDS += $(LIBX)\nSWSS_DBG = swss-dbg_1.0_amd64.deb\n$(eval $(call add_derived_package,$(SWSS),$(SWSS_DBG)))\nLIBX = libx_1.0_amd64.deb\n$(LIBX)_SRC_PATH = $(SRC_PATH)/libx\nSONIC_DPKG_DEBS += $(LIBX)\nLIBX_DBG = libx-dbgsym_1.0_amd64.deb\n$(eval $(call add_derived_package,$(LIBX),$(LIBX_DBG)))\n")
        .add("rules/docker-base-bullseye.mk", "DOCKER_BASE_BULLSEYE = docker-base-bullseye.gz\n$(DOCKER_BASE_BULLSEYE)_PATH = $(DOCKERS_PATH)/docker-base-bullseye\nGDB = gdb\nSTRACE = strace\n$(DOCKER_BASE_BULLSEYE)_DBG_IMAGE_PACKAGES += $(GDB) $(STRACE)\nSONIC_DOCKER_IMAGES += $(DOCKER_BASE_BULLSEYE)\n")
        .add("rules/docker-orchagent.mk", ORCHAGENT_MK)
        .add("platform/testp/rules.mk", "include $(PLATFORM_PATH)/one-image.mk\n")
        .add("platform/testp/one-image.mk", ONE_IMAGE_MK)
        .add("platform/testp/sdk.mk", "\n")
        .add("sonic-slave-bullseye/Dockerfile.j2", "FROM debian:bullseye\n")
        .add("dockers/docker-base-bullseye/Dockerfile.j2", "FROM debian:bullseye\n")
        .add("dockers/docker-orchagent/Dockerfile.j2", "FROM docker-base-bullseye-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}\n")
        .add("build_debian.sh", "#!/bin/bash\n")
        .add("src/swss/debian/control", "Source: swss\n\nPackage: swss\nDepends: libhiredis0.14, libx\n\nPackage: swss-dbg\nDepends: swss (= ${binary:Version}), libdw1\n")
        .add("src/libx/debian/control", "Source: libx\n\nPackage: libx\nDepends: libc6\n");
    f
}

fn crawl_with(vars: &[(&str, &str)]) -> CrawlOutput {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo.git");
    commit(&init_bare(&repo), &tree(), "dbg", 1_650_000_000);
    let o = CrawlOptions {
        make_vars: vars
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        ..crawl_options(&repo, dir.path())
    };
    crawl(&o, &|_, _| {}).unwrap()
}

fn in_image<'a>(m: &'a Manifest, image: &str) -> Vec<&'a Dependency> {
    m.dependencies
        .iter()
        .filter(|d| d.ecosystem == Ecosystem::Deb && d.context.image.as_deref() == Some(image))
        .collect()
}

fn names<'a>(deps: &[&'a Dependency]) -> Vec<&'a str> {
    let mut v: Vec<&str> = deps.iter().map(|d| d.name.as_str()).collect();
    v.sort();
    v.dedup();
    v
}

#[test]
fn no_dbg_image_by_default() {
    let out = crawl_with(&[]);
    let m = &out.manifest;
    assert!(m.make_vars.is_empty());
    assert!(m.images.contains_key("docker-orchagent"), "{:?}", m.images);
    assert!(
        !m.images.keys().any(|i| i.ends_with("-dbg")),
        "{:?}",
        m.images
    );
    assert!(
        !out.targets.iter().any(|t| t.contains("dbg")),
        "{:?}",
        out.targets
    );
    assert_eq!(
        names(&in_image(m, "docker-orchagent")),
        ["libc6", "libhiredis0.14"]
    );
    // The manifest says nothing of make variables it was not given.
    let json = serde_json::to_string(m).unwrap();
    assert!(!json.contains("make_vars"));
}

#[test]
fn install_debug_tools_builds_the_dbg_image_on_its_docker() {
    let out = crawl_with(&[("INSTALL_DEBUG_TOOLS", "y")]);
    let m = &out.manifest;
    assert_eq!(m.make_vars["INSTALL_DEBUG_TOOLS"], "y");
    let dbg = &m.images["docker-orchagent-dbg"];
    assert_eq!(dbg.parent.as_deref(), Some("docker-orchagent"));
    assert_eq!(dbg.suite.as_deref(), Some("bullseye"));
    let debs: Vec<&str> = dbg.debs.iter().map(|d| d.target.as_str()).collect();
    assert_eq!(
        debs,
        ["swss-dbg_1.0_amd64.deb", "libx-dbgsym_1.0_amd64.deb"]
    );
    // The docker it loads is built too, with its own debs.
    assert_eq!(
        m.images["docker-orchagent"].parent.as_deref(),
        Some("docker-base-bullseye")
    );
    assert_eq!(
        names(&in_image(m, "docker-orchagent")),
        ["libc6", "libhiredis0.14"]
    );
    let deps = in_image(m, "docker-orchagent-dbg");
    // swss-dbg's Depends less the tree's own swss; the dbgsym brings nothing.
    assert_eq!(names(&deps), ["gdb", "libdw1", "strace"]);
    let libdw = deps.iter().find(|d| d.name == "libdw1").unwrap();
    assert_eq!(
        libdw.attrs.get("installed-by").map(String::as_str),
        Some("swss-dbg_1.0_amd64.deb")
    );
    // `_DBG_IMAGE_PACKAGES`: one `apt-get install` of the generated Dockerfile,
    // declared where the docker's variable is set.
    for p in ["gdb", "strace"] {
        let d = deps.iter().find(|d| d.name == p).unwrap();
        assert_eq!(d.origin.file, "rules/docker-orchagent.mk");
        assert_eq!(d.origin.line, 7);
        assert!(!d.attrs.contains_key("installed-by"));
    }
    assert!(
        !m.diagnostics.iter().any(|d| d.message.contains("dbgsym")),
        "{:?}",
        m.diagnostics
    );
    // Scope: the dbg image and what it installs, with why.
    for t in [
        "docker-orchagent-dbg.gz",
        "docker-orchagent.gz",
        "swss-dbg_1.0_amd64.deb",
        "libx-dbgsym_1.0_amd64.deb",
    ] {
        assert!(out.targets.iter().any(|x| x == t), "{t}: {:?}", out.targets);
    }
    let json = serde_json::to_value(m).unwrap();
    assert_eq!(json["make_vars"]["INSTALL_DEBUG_TOOLS"], "y");
    let back: Manifest = serde_json::from_value(json).unwrap();
    assert_eq!(&back, m);
}

/// A bad `--make-var` stops every command that crawls, before anything is read,
/// with an error that names the flag and says what is wrong.
#[test]
fn a_bad_make_var_is_refused_naming_the_flag() {
    for cmd in ["crawl", "solve", "lock"] {
        for (arg, why) in [
            ("INSTALL_DEBUG_TOOLS", "is not NAME=VALUE"),
            ("1X=y", "is not a make variable name"),
            ("A-B=y", "is not a make variable name"),
            ("A=x\ny", "line break"),
        ] {
            let (code, _, err) = crate::common::run(&[
                cmd,
                "--platform",
                "testbox",
                "--sonic-repo",
                "does-not-exist.git",
                "--make-var",
                arg,
            ]);
            assert_eq!(code, 2, "{cmd} {arg:?}: {err}");
            assert!(err.contains("--make-var"), "{cmd} {arg:?}: {err}");
            assert!(err.contains(why), "{cmd} {arg:?}: {err}");
        }
    }
}

/// `crawl --make-var` reaches the crawl: the manifest records it and has the dbg image.
#[test]
fn crawl_cli_takes_make_vars() {
    let dir = tempfile::tempdir().unwrap();
    let repo = dir.path().join("repo.git");
    commit(&init_bare(&repo), &tree(), "dbg", 1_650_000_000);
    std::fs::create_dir_all(dir.path().join("platforms")).unwrap();
    std::fs::write(dir.path().join("platforms/t.toml"), PLATFORM_TOML).unwrap();
    let out = dir.path().join("m.json");
    let p = |x: &std::path::Path| x.display().to_string();
    let (code, _, err) = crate::common::run_cmd(
        crate::common::sonic_lock()
            .args(["crawl", "--platform", "testbox", "--sonic-repo", &p(&repo)])
            .args(["--make-var", "INSTALL_DEBUG_TOOLS=n"])
            .args(["--make-var", "INSTALL_DEBUG_TOOLS=y", "-o", &p(&out)])
            .args([
                "--platforms-dir",
                &p(&dir.path().join("platforms")),
                "--quiet",
            ])
            .env("SONIC_LOCK_CACHE", p(&dir.path().join("cache"))),
    );
    assert!(code == 0 || code == 1, "{err}");
    let m = Manifest::read(&out).unwrap();
    // The last of one name wins, as in make.
    assert_eq!(m.make_vars["INSTALL_DEBUG_TOOLS"], "y");
    assert!(
        m.images.contains_key("docker-orchagent-dbg"),
        "{:?}",
        m.images
    );
}

/// A manifest whose `make_vars` could not have come from a command line is refused on read.
#[test]
fn a_manifest_with_a_bad_make_var_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("m.json");
    let mut m = crawl_with(&[("INSTALL_DEBUG_TOOLS", "y")]).manifest;
    m.write(&p).unwrap();
    assert_eq!(Manifest::read(&p).unwrap(), m);
    m.make_vars.insert("A B".into(), "y".into());
    let text = serde_json::to_string(&m).unwrap();
    std::fs::write(&p, text).unwrap();
    let e = Manifest::read(&p).unwrap_err().to_string();
    assert!(e.contains("make_vars") && e.contains("A B"), "{e}");
}
