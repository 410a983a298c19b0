//! The demo world's content: what a small Barefoot-shaped sonic-buildimage declares,
//! and what its Debian archive, Python index and git origins held over time.
//!
//! The story: the tree was last touched for the platform on 2022-12-06 (the cutoff).
//! After that date things moved: a Debian source version vanished from the mirror,
//! libfoo's header moved in a new Debian version, a Python release dropped the
//! image's Python, a vendor branch advanced. Built "today", the tree fails; pinned
//! as of the cutoff, it builds.

use super::archive::{Archive, DebPackage, DebSource};
use super::pypi::PyRelease;
use super::repo::{CommitSpec, Entry};
use std::collections::BTreeMap;

/// Snapshot timestamps of the world's Debian archive, oldest first.
pub const SNAPSHOTS: [&str; 3] = ["20221101T000000Z", "20221205T000000Z", "20230315T000000Z"];

/// Commit time of the platform's last SDK update (the cutoff): 2022-12-06T08:47:31Z.
pub const CUTOFF_TIME: i64 = 1_670_316_451;

/// The world's Debian archive (bullseye, amd64).
pub fn archive() -> Archive {
    let p =
        |name, version, source, depends, files: &'static [&'static str], from, until| DebPackage {
            name,
            version,
            source,
            depends,
            provides: "",
            files,
            from,
            until,
        };
    Archive {
        snapshots: SNAPSHOTS.to_vec(),
        suite: "bullseye",
        packages: vec![
            p(
                "libc6",
                "2.31-13+deb11u5",
                "glibc",
                "",
                &["lib/x86_64-linux-gnu/libc.so.6"],
                0,
                Some(2),
            ),
            p(
                "libc6",
                "2.31-13+deb11u6",
                "glibc",
                "",
                &["lib/x86_64-linux-gnu/libc.so.6"],
                2,
                None,
            ),
            p(
                "libc6-dev",
                "2.31-13+deb11u5",
                "glibc",
                "libc6 (= 2.31-13+deb11u5)",
                &["usr/include/stdio.h"],
                0,
                Some(2),
            ),
            p(
                "libc6-dev",
                "2.31-13+deb11u6",
                "glibc",
                "libc6 (= 2.31-13+deb11u6)",
                &["usr/include/stdio.h"],
                2,
                None,
            ),
            p(
                "make",
                "4.3-4.1",
                "make-dfsg",
                "libc6 (>= 2.27)",
                &["usr/bin/make"],
                0,
                None,
            ),
            p(
                "gcc",
                "4:10.2.1-1",
                "gcc-defaults",
                "libc6-dev | libc-dev",
                &["usr/bin/gcc"],
                0,
                None,
            ),
            p(
                "build-essential",
                "12.9",
                "build-essential",
                "libc6-dev | libc-dev, gcc (>= 4:10.2), make",
                &[],
                0,
                None,
            ),
            p(
                "libfoo1",
                "1.2-1",
                "libfoo",
                "libc6 (>= 2.31)",
                &["usr/lib/libfoo.so.1"],
                0,
                None,
            ),
            p(
                "libfoo1",
                "2.0-1",
                "libfoo",
                "libc6 (>= 2.31)",
                &["usr/lib/libfoo.so.1"],
                1,
                None,
            ),
            p(
                "libfoo-dev",
                "1.2-1",
                "libfoo",
                "libfoo1 (= 1.2-1)",
                &["usr/include/foo/foo.h"],
                0,
                None,
            ),
            // 2.0 moved the header: code written against 1.x no longer compiles.
            p(
                "libfoo-dev",
                "2.0-1",
                "libfoo",
                "libfoo1 (= 2.0-1)",
                &["usr/include/foo-2/foo.h"],
                1,
                None,
            ),
            p(
                "libnl-3-dev",
                "3.4.0-1+b1",
                "libnl3",
                "libc6 (>= 2.14)",
                &["usr/include/libnl3/netlink/netlink.h"],
                0,
                None,
            ),
            p(
                "libnl-genl-3-dev",
                "3.4.0-1+b1",
                "libnl3",
                "libnl-3-dev (= 3.4.0-1+b1)",
                &["usr/include/libnl3/netlink/genl/genl.h"],
                0,
                None,
            ),
            p(
                "python3",
                "3.9.2-3",
                "python3-defaults",
                "libc6 (>= 2.31)",
                &["usr/bin/python3"],
                0,
                None,
            ),
            p(
                "python3-pip",
                "20.3.4-4+deb11u1",
                "python-pip",
                "python3 (>= 3.9)",
                &["usr/bin/pip3"],
                0,
                None,
            ),
        ],
        sources: vec![
            DebSource {
                name: "isc-dhcp",
                version: "4.4.1-2.3",
                from: 0,
                until: Some(2),
            },
            DebSource {
                name: "isc-dhcp",
                version: "4.4.1-2.3+deb11u2",
                from: 2,
                until: None,
            },
        ],
    }
}

/// The world's PyPI releases.
pub fn pypi() -> Vec<PyRelease> {
    let r = |name, version, uploaded, requires_python, requires_dist| PyRelease {
        name,
        version,
        uploaded,
        requires_python,
        requires_dist,
        sdist_requires_python: "",
    };
    vec![
        r("pyfoo", "1.0", "2022-09-01T10:00:00Z", ">=3.7", &[]),
        r("pyfoo", "1.1", "2022-11-20T10:00:00Z", ">=3.7", &[]),
        // Before the cutoff, an sdist whose setup.py already wants Python 3.10; the
        // index does not say so, only pip's build does.
        PyRelease {
            sdist_requires_python: ">=3.10",
            ..r("pyfoo", "1.2", "2022-12-01T10:00:00Z", "", &[])
        },
        // Released after the cutoff, and no longer installable on bullseye's Python 3.9.
        r("pyfoo", "2.0", "2023-02-01T10:00:00Z", ">=3.10", &[]),
        r(
            "pybar",
            "3.1",
            "2022-08-01T10:00:00Z",
            ">=3.6",
            &["pyfoo>=1.0"],
        ),
        r(
            "pybar",
            "3.2",
            "2023-01-10T10:00:00Z",
            ">=3.6",
            &["pyfoo>=2.0"],
        ),
        r("pytest-runner", "5.2", "2019-10-20T10:00:00Z", ">=2.7", &[]),
        r(
            "pytest-runner",
            "6.0.0",
            "2022-02-05T10:00:00Z",
            ">=3.7",
            &[],
        ),
    ]
}

/// Where the generated sonic-buildimage points for its downloads.
#[derive(Debug, Clone)]
pub struct Urls {
    /// The world's "deb.debian.org/debian" mirror (today's state).
    pub mirror: String,
    /// GitHub-shaped web origin (`<web>/<owner>/<repo>/raw/<ref>/<path>`).
    pub github: String,
    /// Base URL of git repositories (`<git>/<owner>/<repo>.git`).
    pub git: String,
}

fn file(s: String) -> Entry {
    Entry::File(s.into_bytes())
}

/// The sonic-buildimage history: an initial tree, the platform's last SDK update (the
/// cutoff), and a later unrelated commit. `submodule_sha` is the gitlink of the submodule.
pub fn sonic_buildimage(urls: &Urls, submodule_url: &str, submodule_sha: &str) -> Vec<CommitSpec> {
    let mut first = BTreeMap::new();
    first.insert(
        ".gitmodules".into(),
        file(format!(
            "[submodule \"src/sonic-demo-utils\"]\n\tpath = src/sonic-demo-utils\n\turl = {submodule_url}\n\tbranch = master\n"
        )),
    );
    first.insert(
        "src/sonic-demo-utils".into(),
        Entry::Gitlink(submodule_sha.to_string()),
    );
    first.insert("slave.mk".into(), file(SLAVE_MK.into()));
    first.insert("rules/functions".into(), file(String::new()));
    first.insert(
        "rules/sonic-demo-utils.mk".into(),
        file(
            "# sonic-demo-utils python wheel\nSONIC_DEMO_UTILS_PY3 = sonic_demo_utils-1.0-py3-none-any.whl\n\
             $(SONIC_DEMO_UTILS_PY3)_SRC_PATH = $(SRC_PATH)/sonic-demo-utils\n\
             $(SONIC_DEMO_UTILS_PY3)_PYTHON_VERSION = 3\nSONIC_PYTHON_WHEELS += $(SONIC_DEMO_UTILS_PY3)\n"
                .into(),
        ),
    );
    first.insert(
        "platform/barefoot/one-image.mk".into(),
        file(
            "# sonic one image installer\nSONIC_ONE_IMAGE = sonic-barefoot.bin\n$(SONIC_ONE_IMAGE)_MACHINE = barefoot\n\
             $(SONIC_ONE_IMAGE)_IMAGE_TYPE = onie\n\
             $(SONIC_ONE_IMAGE)_INSTALLS += $(BFN_PLATFORM) $(BFN_SAI) $(ISC_DHCP_RELAY) $(LIBTEAM)\n\
             SONIC_INSTALLERS += $(SONIC_ONE_IMAGE)\n"
                .into(),
        ),
    );
    first.insert(
        "rules/config".into(),
        file(
            "# Build configuration\nSONIC_CONFIG_BUILD_JOBS = 1\nNOBUSTER = 1\nNOSTRETCH = 1\n"
                .into(),
        ),
    );
    first.insert(
        "rules/isc-dhcp.mk".into(),
        file(
            "# isc-dhcp packages\n\nISC_DHCP_VERSION = 4.4.1\nISC_DHCP_VERSION_FULL = ${ISC_DHCP_VERSION}-2.3\n\n\
             ISC_DHCP_RELAY = isc-dhcp-relay_$(ISC_DHCP_VERSION_FULL)_$(CONFIGURED_ARCH).deb\n\
             $(ISC_DHCP_RELAY)_SRC_PATH = $(SRC_PATH)/isc-dhcp\nSONIC_MAKE_DEBS += $(ISC_DHCP_RELAY)\n"
                .into(),
        ),
    );
    first.insert(
        "src/isc-dhcp/Makefile".into(),
        file(format!(
            ".ONESHELL:\nSHELL = /bin/bash\n\nMAIN_TARGET = $(ISC_DHCP_RELAY)\n\n$(addprefix $(DEST)/, $(MAIN_TARGET)): $(DEST)/% :\n\
             \trm -rf ./isc-dhcp-$(ISC_DHCP_VERSION)\n\
             \tdget {}/pool/main/i/isc-dhcp/isc-dhcp_$(ISC_DHCP_VERSION_FULL).dsc\n\
             \tpushd ./isc-dhcp-$(ISC_DHCP_VERSION)\n\tdpkg-buildpackage -rfakeroot -b -us -uc\n",
            urls.mirror
        )),
    );
    first.insert(
        "rules/libteam.mk".into(),
        file(
            "LIBTEAM_VERSION = 1.31-1\n\nLIBTEAM = libteam5_$(LIBTEAM_VERSION)_$(CONFIGURED_ARCH).deb\n\
             $(LIBTEAM)_SRC_PATH = $(SRC_PATH)/libteam\nSONIC_MAKE_DEBS += $(LIBTEAM)\n"
                .into(),
        ),
    );
    first.insert(
        "src/libteam/Makefile".into(),
        file(format!(
            ".ONESHELL:\nSHELL = /bin/bash\n\nMAIN_TARGET = libteam5_$(LIBTEAM_VERSION)_$(CONFIGURED_ARCH).deb\n\n\
             $(addprefix $(DEST)/, $(MAIN_TARGET)): $(DEST)/% :\n\trm -rf ./libteam\n\
             \tgit clone {}/jpirko/libteam.git\n\tpushd ./libteam\n\tdpkg-buildpackage -rfakeroot -b -us -uc\n",
            urls.git
        )),
    );
    first.insert(
        "sonic-slave-bullseye/Dockerfile.j2".into(),
        file(
            "{% set prefix = DEFAULT_CONTAINER_REGISTRY %}\nFROM {{ prefix }}debian:bullseye\n\n\
             ## Make apt-get non-interactive\nENV DEBIAN_FRONTEND=noninteractive\n\n\
             RUN apt-get update && apt-get install -y \\\n        build-essential \\\n        libfoo-dev \\\n\
             \x20       python3 \\\n        python3-pip\n\n\
             RUN apt-get install -y libnl-genl-3-dev=3.4.0-1+b1\n\n\
             RUN pip3 install pyfoo\nRUN pip3 install pytest-runner==5.2\n"
                .into(),
        ),
    );
    first.insert(
        "platform/barefoot/rules.mk".into(),
        file(
            "include $(PLATFORM_PATH)/bfn-sai.mk\ninclude $(PLATFORM_PATH)/bfn-platform.mk\n\
             include $(PLATFORM_PATH)/one-image.mk\n\nSONIC_ALL += $(SONIC_ONE_IMAGE)\n"
                .into(),
        ),
    );
    first.insert(
        "platform/barefoot/bfn-platform.mk".into(),
        file("BFN_PLATFORM = bfnplatform_20221101_deb11.deb\n$(BFN_PLATFORM)_URL = \"".to_string()
            + &urls.github
            + "/barefootnetworks/sonic-release-pkgs/raw/dev/$(BFN_PLATFORM)\"\nSONIC_ONLINE_DEBS += $(BFN_PLATFORM)\n"),
    );
    first.insert(
        "platform/barefoot/bfn-sai.mk".into(),
        file(bfn_sai_mk(urls, "20221101")),
    );
    first.insert(
        "README.md".into(),
        file("# sonic-buildimage (demo world)\n".into()),
    );

    let cutoff = BTreeMap::from([(
        "platform/barefoot/bfn-sai.mk".to_string(),
        file(bfn_sai_mk(urls, "20221130")),
    )]);
    let later = BTreeMap::from([(
        "README.md".to_string(),
        file(
            "# sonic-buildimage (demo world)\n\nThe Barefoot platform is no longer maintained.\n"
                .into(),
        ),
    )]);
    vec![
        CommitSpec {
            time: CUTOFF_TIME - 40 * 86_400,
            message: "Initial tree".into(),
            files: first,
        },
        CommitSpec {
            time: CUTOFF_TIME,
            message: "[BFN] Update BFN sdk to SAI 1.11.0".into(),
            files: cutoff,
        },
        CommitSpec {
            time: CUTOFF_TIME + 60 * 86_400,
            message: "Update README".into(),
            files: later,
        },
    ]
}

fn bfn_sai_mk(urls: &Urls, date: &str) -> String {
    format!(
        "BFN_SAI = bfnsdk_{date}_sai_1.11.0_deb11.deb\n$(BFN_SAI)_URL = \"{}/barefootnetworks/sonic-release-pkgs/raw/dev/$(BFN_SAI)\"\n\n\
         SONIC_ONLINE_DEBS += $(BFN_SAI)\n",
        urls.github
    )
}

/// The submodule's history: a Python package whose `setup.py` pulls `pybar` unpinned.
pub fn submodule() -> Vec<CommitSpec> {
    let files = BTreeMap::from([
        (
            "setup.py".to_string(),
            file(
                "from setuptools import setup\n\nsetup(\n    name='sonic-demo-utils',\n    version='1.0',\n\
                 \x20   install_requires=[\n        'pybar',\n        'pyfoo>=1.0',\n    ],\n)\n"
                    .into(),
            ),
        ),
        ("README.md".to_string(), file("# sonic-demo-utils\n".into())),
    ]);
    vec![CommitSpec {
        time: CUTOFF_TIME - 50 * 86_400,
        message: "Initial sonic-demo-utils".into(),
        files,
    }]
}

/// libteam's upstream: its master branch moved after the cutoff to a commit that breaks the build.
pub fn libteam() -> Vec<CommitSpec> {
    let c = |days: i64, msg: &str, content: &str| CommitSpec {
        time: CUTOFF_TIME + days * 86_400,
        message: msg.into(),
        files: BTreeMap::from([("teamd/teamd.c".to_string(), file(content.to_string()))]),
    };
    vec![
        c(-300, "libteam 1.31", "int main(void) { return 0; }\n"),
        c(
            -20,
            "teamd: fix a leak",
            "int main(void) { return 0; } /* leak fixed */\n",
        ),
        c(
            45,
            "teamd: require libfoo 2",
            "#include <foo-2/foo.h>\nint main(void) { return 0; }\n",
        ),
    ]
}

/// The vendor package repository behind the `raw/dev/` URLs; `dev` advanced after the cutoff.
pub fn release_pkgs() -> Vec<CommitSpec> {
    let deb = |name: &str, build: &str| {
        (
            name.to_string(),
            file(format!("demo vendor deb {name} build {build}\n")),
        )
    };
    vec![
        CommitSpec {
            time: CUTOFF_TIME - 30 * 86_400,
            message: "bfn: sdk 20221101".into(),
            files: BTreeMap::from([
                deb("bfnsdk_20221101_sai_1.11.0_deb11.deb", "1"),
                deb("bfnplatform_20221101_deb11.deb", "1"),
            ]),
        },
        CommitSpec {
            time: CUTOFF_TIME - 86_400,
            message: "bfn: sdk 20221130".into(),
            files: BTreeMap::from([deb("bfnsdk_20221130_sai_1.11.0_deb11.deb", "1")]),
        },
        // Same file names, new content: the moving branch breaks the md5 pins.
        CommitSpec {
            time: CUTOFF_TIME + 90 * 86_400,
            message: "bfn: rebuild".into(),
            files: BTreeMap::from([
                deb("bfnsdk_20221130_sai_1.11.0_deb11.deb", "2"),
                deb("bfnplatform_20221101_deb11.deb", "2"),
            ]),
        },
    ]
}

/// A C source of the world's own tree, compiled against libfoo's header.
pub const ORCH_C: &str = "#include <foo/foo.h>\nint orch(void) { return 0; }\n";

/// The slave image's apt transactions, in order, as its Dockerfile.j2 declares them.
pub const SLAVE_APT: [&[&str]; 2] = [
    &["build-essential", "libfoo-dev", "python3", "python3-pip"],
    &["libnl-genl-3-dev=3.4.0-1+b1"],
];

/// The slave's pip requirements: the Dockerfile's bare and pinned installs, then the submodule's `install_requires`.
pub const SLAVE_PIP: [&str; 4] = ["pyfoo", "pytest-runner==5.2", "pybar", "pyfoo>=1.0"];

/// The Python version of the bullseye slave.
pub const SLAVE_PYTHON: &str = "3.9.2";

/// The world's `slave.mk`: the variables, includes and installer rule that scope a build.
const SLAVE_MK: &str = r#".ONESHELL:
SHELL = /bin/bash
.SECONDEXPANSION:
SRC_PATH = src
RULES_PATH = rules
TARGET_PATH = target
CONFIGURED_PLATFORM := $(shell cat .platform)
PLATFORM_PATH = platform/$(CONFIGURED_PLATFORM)
DEBS_PATH = $(TARGET_PATH)/debs/$(BLDENV)
PYTHON_WHEELS_PATH = $(TARGET_PATH)/python-wheels/$(BLDENV)
include $(RULES_PATH)/config
-include $(RULES_PATH)/config.user
include $(RULES_PATH)/functions
include $(RULES_PATH)/*.mk
include $(PLATFORM_PATH)/rules.mk

$(addprefix $(TARGET_PATH)/, $(SONIC_INSTALLERS)) : $(TARGET_PATH)/% : \
        .platform \
        build_debian.sh \
        $$(addprefix $(DEBS_PATH)/,$$($$*_INSTALLS)) \
        $(addprefix $(PYTHON_WHEELS_PATH)/,$(SONIC_DEMO_UTILS_PY3))
	$(HEADER)
	export sonic_asic_platform="$(CONFIGURED_PLATFORM)"
	./build_debian.sh
"#;

/// Name of the demo's platform definition.
pub const PLATFORM: &str = "demo-barefoot";

/// The demo's platform definition (written to a platforms directory for `--platforms-dir`).
pub const PLATFORM_TOML: &str = r#"# The demo world's Barefoot-shaped platform (generated by `sonic-lock demo`).
name = "demo-barefoot"
description = "Demo Barefoot switch in a generated sonic-buildimage"
kind = "hardware"
sonic_platform = "barefoot"
image_target = "target/sonic-barefoot.bin"
suites = ["bullseye"]
arch = "amd64"

[cutoff]
branch = "master"
paths = ["platform/barefoot/bfn-sai.mk", "platform/barefoot/bfn-platform.mk"]

[make]
PLATFORM = "barefoot"
CONFIGURED_PLATFORM = "barefoot"
CONFIGURED_ARCH = "amd64"
PLATFORM_ARCH = "amd64"
BLDENV = "bullseye"
NOBUSTER = "1"
NOBULLSEYE = "0"
"#;

/// The date the demo's "tonight" nightly resolves its unpinned dependencies at.
pub const NIGHTLY_DATE: &str = "2023-03-20";
