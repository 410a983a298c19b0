//! Builds small sonic-buildimage-shaped git repositories in code.
#![allow(dead_code)]

use git2::{Oid, Repository, Signature, Time};
use std::collections::BTreeMap;
use std::path::Path;

/// A tree under construction: files and gitlinks by path.
#[derive(Default, Clone)]
pub struct Files {
    pub blobs: BTreeMap<String, Vec<u8>>,
    pub links: BTreeMap<String, Oid>,
}

impl Files {
    pub fn add(&mut self, path: &str, text: impl AsRef<[u8]>) -> &mut Self {
        self.blobs.insert(path.to_string(), text.as_ref().to_vec());
        self
    }
    pub fn link(&mut self, path: &str, commit: Oid) -> &mut Self {
        self.links.insert(path.to_string(), commit);
        self
    }
}

enum Node {
    Blob(Oid),
    Link(Oid),
    Dir(BTreeMap<String, Node>),
}

fn insert(root: &mut BTreeMap<String, Node>, path: &str, node: Node) {
    match path.split_once('/') {
        Some((d, rest)) => {
            let e = root
                .entry(d.to_string())
                .or_insert_with(|| Node::Dir(BTreeMap::new()));
            if let Node::Dir(m) = e {
                insert(m, rest, node);
            }
        }
        None => {
            root.insert(path.to_string(), node);
        }
    }
}

fn write(repo: &Repository, dir: &BTreeMap<String, Node>) -> Oid {
    let mut tb = repo.treebuilder(None).unwrap();
    for (name, n) in dir {
        match n {
            Node::Blob(o) => tb.insert(name, *o, 0o100644).unwrap(),
            Node::Link(o) => tb.insert(name, *o, 0o160000).unwrap(),
            Node::Dir(m) => {
                let o = write(repo, m);
                tb.insert(name, o, 0o040000).unwrap()
            }
        };
    }
    tb.write().unwrap()
}

/// Commits `files` on `refs/heads/master` at `time` (Unix seconds).
pub fn commit(repo: &Repository, files: &Files, msg: &str, time: i64) -> Oid {
    let mut root = BTreeMap::new();
    for (p, b) in &files.blobs {
        let o = repo.blob(b).unwrap();
        insert(&mut root, p, Node::Blob(o));
    }
    for (p, c) in &files.links {
        insert(&mut root, p, Node::Link(*c));
    }
    let tree = repo.find_tree(write(repo, &root)).unwrap();
    let sig = Signature::new("t", "t@example.org", &Time::new(time, 0)).unwrap();
    let parent = repo
        .refname_to_id("refs/heads/master")
        .ok()
        .map(|o| repo.find_commit(o).unwrap());
    let parents: Vec<&git2::Commit> = parent.iter().collect();
    repo.commit(Some("refs/heads/master"), &sig, &sig, msg, &tree, &parents)
        .unwrap()
}

pub fn init_bare(dir: &Path) -> Repository {
    let r = Repository::init_bare(dir).unwrap();
    r.set_head("refs/heads/master").unwrap();
    r
}

pub const SLAVE_MK: &str = r#".ONESHELL:
SHELL = /bin/bash
.SECONDEXPANSION:
USER = $(shell id -un)
SRC_PATH = src
RULES_PATH = rules
TARGET_PATH = target
DOCKERS_PATH = dockers
BLDENV := $(shell lsb_release -cs)
CONFIGURED_PLATFORM := $(shell cat .platform)
PLATFORM_PATH = platform/$(CONFIGURED_PLATFORM)
DEBS_PATH = $(TARGET_PATH)/debs/$(BLDENV)
include $(RULES_PATH)/config
-include $(RULES_PATH)/config.user
include $(RULES_PATH)/functions
include $(RULES_PATH)/*.mk
include $(PLATFORM_PATH)/rules.mk

$(addprefix $(TARGET_PATH)/, $(SONIC_INSTALLERS)) : $(TARGET_PATH)/% : \
        .platform \
        build_debian.sh \
        $$(addprefix $(DEBS_PATH)/,$$($$*_INSTALLS)) \
        $$(addprefix $(TARGET_PATH)/,$$($$*_DOCKERS)) \
        $(addprefix $(DEBS_PATH)/,$(KERNEL))
	$(HEADER)
	export sonic_asic_platform="$(patsubst %-$(CONFIGURED_ARCH),%,$(CONFIGURED_PLATFORM))"
	export include_nat="$(INCLUDE_NAT)"
	j2 files/build_templates/sonic_debian_extension.j2 > sonic_debian_extension.sh
	./build_debian.sh
"#;

pub const FUNCTIONS: &str =
    "define add_derived_package\n$(2)_MAIN_DEB = $(1)\n$(1)_DERIVED_DEBS += $(2)\nendef\n";

/// The test platform definition (platform directory `platform/testp`).
pub const PLATFORM_TOML: &str = r#"name = "testbox"
aliases = ["tb"]
description = "A test switch"
kind = "hardware"
sonic_platform = "testp"
device_dir = "device/acme/x86_64-acme_testbox-r0"
machine = "x86_64-acme_testbox-r0"
image_target = "target/sonic-testp.bin"
suites = ["bullseye", "buster"]
arch = "amd64"

[cutoff]
branch = "master"
paths = ["platform/testp/sdk.mk"]

[make]
CONFIGURED_PLATFORM = "testp"
CONFIGURED_ARCH = "amd64"
BLDENV = "bullseye"
NOBUSTER = "0"
"#;

pub const SLAVE_DOCKERFILE: &str = r#"{% set prefix = DEFAULT_CONTAINER_REGISTRY %}
{%- if CONFIGURED_ARCH == "armhf" %}
FROM {{ prefix }}multiarch/debian-debootstrap:armhf-bullseye
{%- else -%}
FROM {{ prefix }}debian:bullseye
{%- endif %}
ARG arch=amd64
RUN apt-get update && apt-get install -y \
        libmnl0=1.0.4-2 \
        libboost1.74-dev:$arch \
        make
RUN pip3 install pytest-runner==5.2 nnpy 'lxml>=4.6,<5'
RUN git clone https://github.com/jpirko/libteam.git && cd libteam && git checkout -f c7237377a7d7cb1e5e1cbca9d8e6ef4b5c0b38c8
RUN git clone https://chromium.googlesource.com/chromium/tools/depot_tools.git
RUN wget -O /usr/local/bin/bazel https://github.com/bazelbuild/bazelisk/releases/latest/download/bazelisk-linux-amd64
RUN apt-get purge -y make
{%- if CROSS_BUILD_ENVIRON == "y" %}
RUN apt-get install -y crossbuild-essential-armhf
{%- endif %}
RUN pip3 install {{ some_runtime_list }}
"#;

/// The main test tree; `sub` is the submodule commit recorded at `src/sub`.
pub fn tree(sub: Oid, sdk_version: &str) -> Files {
    let mut f = Files::default();
    f.add("slave.mk", SLAVE_MK)
        .add("Makefile", "all:\n\tmake -f Makefile.work\n")
        .add("rules/config", "INCLUDE_NAT = y\nDEFAULT_CONTAINER_REGISTRY ?=\nFOO_FLAVOUR = $(shell date)\n")
        .add("rules/functions", FUNCTIONS)
        .add("rules/foo.mk", "FOO_VERSION = 4.4.1\nFOO_VERSION_FULL = ${FOO_VERSION}-2.3\nexport FOO_VERSION FOO_VERSION_FULL\nFOO = foo_$(FOO_VERSION_FULL)_amd64.deb\n$(FOO)_SRC_PATH = $(SRC_PATH)/foo\nSONIC_MAKE_DEBS += $(FOO)\nFOO_DBG = foo-dbgsym_$(FOO_VERSION_FULL)_amd64.deb\n$(eval $(call add_derived_package,$(FOO),$(FOO_DBG)))\n")
        .add("rules/sub.mk", "SUBPKG = python3-sub_1.0_all.deb\n$(SUBPKG)_SRC_PATH = $(SRC_PATH)/sub\nSONIC_PYTHON_STDEB_DEBS += $(SUBPKG)\n")
        .add("rules/kernel.mk", "KERNEL = linux-image_5.10_amd64.deb\n$(KERNEL)_SRC_PATH = $(SRC_PATH)/kernel\n")
        .add("rules/unused.mk", "UNUSED = unused_1.0_amd64.deb\n$(UNUSED)_SRC_PATH = $(SRC_PATH)/unused\nSONIC_MAKE_DEBS += $(UNUSED)\n")
        .add("rules/docker-x.mk", "DOCKER_X = docker-x.gz\n$(DOCKER_X)_PATH = $(DOCKERS_PATH)/docker-x\n$(DOCKER_X)_DEPENDS += $(FOO) $(SUBPKG)\n$(DOCKER_X)_LOAD_DOCKERS += docker-config-engine-bullseye.gz\nSONIC_INSTALL_DOCKER_IMAGES += $(DOCKER_X)\ndocker-config-engine-bullseye.gz_PATH = $(DOCKERS_PATH)/docker-config-engine-bullseye\n")
        .add("rules/docker-old.mk", "DOCKER_OLD = docker-old.gz\n$(DOCKER_OLD)_PATH = $(DOCKERS_PATH)/docker-old\n$(DOCKER_OLD)_DEPENDS += $(BAR)\nBAR = bar_2.0_amd64.deb\n$(BAR)_SRC_PATH = $(SRC_PATH)/bar\nifeq ($(INCLUDE_NAT), y)\nSONIC_INSTALL_DOCKER_IMAGES += $(DOCKER_OLD)\nendif\nSONIC_BUSTER_DOCKERS += $(DOCKER_OLD)\n")
        .add("platform/testp/rules.mk", "include $(PLATFORM_PATH)/sdk.mk\ninclude $(PLATFORM_PATH)/one-image.mk\n$(SONIC_ONE_IMAGE)_INSTALLS += $(SDK)\n")
        .add("platform/testp/sdk.mk", format!("SDK = sdk_{sdk_version}_deb11.deb\n$(SDK)_URL = \"https://github.com/vendor/pkgs/raw/dev/$(SDK)\"\nSONIC_ONLINE_DEBS += $(SDK)\n"))
        .add("platform/testp/one-image.mk", "SONIC_ONE_IMAGE = sonic-testp.bin\n$(SONIC_ONE_IMAGE)_DOCKERS = $(SONIC_INSTALL_DOCKER_IMAGES)\nSONIC_INSTALLERS += $(SONIC_ONE_IMAGE)\nSONIC_ALL += $(SONIC_ONE_IMAGE)\n")
        .add("sonic-slave-bullseye/Dockerfile.j2", SLAVE_DOCKERFILE)
        .add("sonic-slave-buster/Dockerfile.j2", "FROM debian:buster\nRUN apt-get install -y python-dev\n")
        .add("sonic-slave-stretch/Dockerfile.j2", "FROM debian:stretch\nRUN apt-get install -y stretchonly\n")
        .add("dockers/docker-config-engine-bullseye/Dockerfile.j2", "FROM docker-base-bullseye-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}\nRUN pip3 install j2cli==0.3.10\n")
        // No make target names docker-base-bullseye: only the FROM chain brings it in.
        .add("dockers/docker-base-bullseye/Dockerfile.j2", "FROM busybox:1.0\nRUN apt-get install -y baseonly\n")
        .add("dockers/docker-x/Dockerfile.j2", "FROM docker-config-engine-bullseye-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}\nRUN apt-get update && apt-get install -f -y libxdeps\nRUN pip3 install $SONIC_X_WHEEL_NAME\n")
        .add("dockers/docker-old/Dockerfile.j2", "FROM docker-config-engine-buster-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}\nRUN apt-get install -y oldlib\n")
        .add("build_debian.sh", "#!/bin/bash\nsudo LANG=C chroot $FILESYSTEM_ROOT apt-get -y install busybox linux-base\nsudo https_proxy=$https_proxy LANG=C chroot $FILESYSTEM_ROOT pip3 install \"j2cli==0.3.10\" psutil\nsudo cp files/image_config/runtime.sh $FILESYSTEM_ROOT/usr/bin/\nTARGET_PATH=target scripts/helper.sh\n")
        .add("scripts/helper.sh", "#!/bin/bash\nsudo LANG=C chroot $FILESYSTEM_ROOT apt-get -y install helperpkg\nsudo LANG=C chroot $FILESYSTEM_ROOT apt-get -y install linux-headers-$(uname -r)\n")
        .add("files/build_templates/sonic_debian_extension.j2", "#!/bin/bash\n{% if sonic_asic_platform == \"testp\" %}\nsudo LANG=C chroot $FILESYSTEM_ROOT apt-get -y install testp-tools\n{% else %}\nsudo LANG=C chroot $FILESYSTEM_ROOT apt-get -y install other-tools\n{% endif %}\n{% if include_nat == 'y' %}\nsudo LANG=C chroot $FILESYSTEM_ROOT apt-get -y install conntrack\n{% endif %}\nsudo LANG=C chroot $FILESYSTEM_ROOT pip3 install $(basename {{sonic_utilities_py3_wheel_path}})\n")
        .add("files/build_templates/init_cfg.json.j2", "{%- set f = [(\"bgp\", \"{% if x %}disabled{% else %}enabled{% endif %}\")] %}\n{ \"apt-get install\": 1 }\n")
        .add("src/foo/Makefile", ".ONESHELL:\nSHELL = /bin/bash\nMAIN_TARGET = $(FOO)\n$(addprefix $(DEST)/, $(MAIN_TARGET)): $(DEST)/% :\n\trm -rf ./foo-$(FOO_VERSION)\n\tdget http://deb.debian.org/debian/pool/main/f/foo/foo_$(FOO_VERSION_FULL).dsc\n\twget -O x.tgz https://example.org/$(NOT_DEFINED_ANYWHERE)/x.tgz\n\tgit clone --depth 1 -b v2.0 https://github.com/acme/foo-extra.git\n\t./latin1.sh\n\tbash blob.sh\n\t. ./unterminated.sh\n\tpython3 setup.py bdist_wheel\n\tpip3 install -r requirements.txt\n\tdpkg-buildpackage -b -Ppkg.foo.nortr\n")
        .add("src/foo/debian/control", "Source: foo\nBuild-Depends: debhelper (>= 9.0.0),\n  python3,\n  libfoo-dev [amd64] | libbar-dev,\n  librtr-dev <!pkg.foo.nortr>\n\nPackage: foo\nDepends: ${misc:Depends}\n")
        .add("src/foo/setup.py", "from setuptools import setup\nsetup(\n    name='foo',\n    install_requires=[\n        'click==7.0',\n        'natsort',\n    ],\n)\n")
        .add("src/foo/requirements.txt", "six\nPyYAML==5.4.1\n")
        .add("src/foo/go.mod", "module example.org/foo\n\ngo 1.15\n\nrequire (\n\tgithub.com/golang/glog v1.0.0\n)\n")
        .add("src/foo/go.sum", "github.com/golang/glog v1.0.0 h1:nfP3RFugxnNRyKgeWd4oI1nYvXpxrx8ck8ZrcizshdQ=\n")
        .add("src/foo/latin1.sh", b"#!/bin/sh\n# caf\xe9\napt-get install -y latin1pkg\n")
        .add("src/foo/blob.sh", b"\x00\x01binary apt-get install -y nope\n")
        .add("src/foo/unterminated.sh", "apt-get install -y tailpkg \\")
        .add("src/foo/logo.png", b"\x89PNG\r\n\x1a\n\x00\x00")
        // Out of scope: CI and test files no target runs, and a script only copied.
        .add("src/foo/ci/install.sh", "#!/bin/sh\napt-get install -y cionly linux-headers-$(uname -r)\n")
        .add("src/foo/tests/requirements.txt", "testonly==1.0\n")
        .add("src/foo/copied.sh", "#!/bin/sh\napt-get install -y copiedonly\n")
        .add("files/image_config/runtime.sh", "#!/bin/sh\napt-get install -y runtimeonly\n")
        .add("src/bar/Makefile", "all:\n\tapt-get install -y barbuild\n")
        .add("src/unused/Makefile", "all:\n\tapt-get install -y unusedpkg\n")
        .add(".gitmodules", "[submodule \"src/sub\"]\n\tpath = src/sub\n\turl = https://github.com/acme/sub.git\n\tbranch = main\n")
        .link("src/sub", sub);
    f
}

/// The submodule's own tree.
pub fn sub_tree() -> Files {
    let mut f = Files::default();
    f.add("requirements.txt", "requests==2.28.1\nidna\n")
        .add(
            "setup.py",
            "reqs = open('requirements.txt').read().splitlines()\nsetup(name='sub', install_requires=['pyroute2'])\n",
        )
        .add(".azure-pipelines/build.sh", "#!/bin/sh\napt-get install -y subci\n");
    f
}

/// The `testbox` platform of [`PLATFORM_TOML`], written to `dir/platforms`
/// and loaded from there as a platforms directory is.
pub fn testbox_platform(dir: &Path) -> sonic_lock::platform::Platform {
    let platforms = dir.join("platforms");
    std::fs::create_dir_all(&platforms).unwrap();
    std::fs::write(platforms.join("t.toml"), PLATFORM_TOML).unwrap();
    sonic_lock::platform::Platforms::load_dir(&platforms)
        .unwrap()
        .find("testbox")
        .unwrap()
        .clone()
}

/// Crawl options for `repo` at `master` and the `testbox` platform, with the
/// cache in `dir/cache`: no submodules, no make variables.
pub fn crawl_options(repo: &Path, dir: &Path) -> sonic_lock::crawl::CrawlOptions {
    sonic_lock::crawl::CrawlOptions {
        repo: repo.display().to_string(),
        rev: "master".into(),
        platform: Some(testbox_platform(dir)),
        all: false,
        submodules: None,
        clone_submodules: false,
        cache_dir: dir.join("cache"),
        make_vars: Default::default(),
    }
}
