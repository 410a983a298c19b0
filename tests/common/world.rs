//! A loopback world for time-axis and CI tests: a sonic-buildimage-shaped tree
//! (one commit), a Debian snapshot archive with four snapshots in which hello
//! 2.0-1 (the breaking change) and libmnl0 1.0.4-3 land together on 2022-11-20,
//! and a PyPI where demo 2.0 appeared on 2022-11-15.
#![allow(dead_code)]

use super::loopback::{self, Server, file, redirect, serve, status, suite_files};
use super::tree::{FUNCTIONS, Files, PLATFORM_TOML, SLAVE_MK, commit, init_bare};
use std::collections::HashMap;
use std::path::Path;

/// 2022-10-15T00:00:00Z: the tree's only commit, before every snapshot.
const COMMIT_TIME: i64 = 1_665_792_000;

/// The archive over time: hello 2.0-1 (which breaks the build) and libmnl0
/// 1.0.4-3 land together in the third snapshot.
/// (timestamp, Release date, packages)
type Snapshot = (
    &'static str,
    &'static str,
    &'static [(&'static str, &'static str)],
);

const SNAPSHOTS: [Snapshot; 4] = [
    (
        "20221101T000000Z",
        "Tue, 01 Nov 2022 00:00:00 UTC",
        &[
            ("hello", "1.0-1"),
            ("libmnl0", "1.0.4-1"),
            ("libc6", "2.31-13"),
        ],
    ),
    (
        "20221110T000000Z",
        "Thu, 10 Nov 2022 00:00:00 UTC",
        &[
            ("hello", "1.0-1"),
            ("libmnl0", "1.0.4-2"),
            ("libc6", "2.31-13"),
        ],
    ),
    (
        "20221120T000000Z",
        "Sun, 20 Nov 2022 00:00:00 UTC",
        &[
            ("hello", "2.0-1"),
            ("libmnl0", "1.0.4-3"),
            ("libc6", "2.31-13"),
        ],
    ),
    (
        "20221201T000000Z",
        "Thu, 01 Dec 2022 00:00:00 UTC",
        &[
            ("hello", "2.0-1"),
            ("libmnl0", "1.0.5-1"),
            ("libc6", "2.31-13"),
        ],
    ),
];

/// A tree whose bullseye slave apt-installs hello and libmnl0 and pip-installs demo.
pub fn tree() -> Files {
    let mut f = Files::default();
    f.add("slave.mk", SLAVE_MK)
        .add("rules/config", "DEFAULT_CONTAINER_REGISTRY ?=\n")
        .add("rules/functions", FUNCTIONS)
        .add(
            "platform/testp/rules.mk",
            "include $(PLATFORM_PATH)/sdk.mk\ninclude $(PLATFORM_PATH)/one-image.mk\n",
        )
        .add("platform/testp/sdk.mk", "SDK_VERSION = 1.0\n")
        .add(
            "platform/testp/one-image.mk",
            "SONIC_ONE_IMAGE = sonic-testp.bin\nSONIC_INSTALLERS += $(SONIC_ONE_IMAGE)\nSONIC_ALL += $(SONIC_ONE_IMAGE)\n",
        )
        .add(
            "sonic-slave-bullseye/Dockerfile.j2",
            "FROM debian:bullseye\nRUN apt-get update && apt-get install -y \\\n        hello \\\n        libmnl0\nRUN pip3 install demo\n",
        )
        .add("build_debian.sh", "#!/bin/bash\n");
    f
}

/// The snapshot archive (a timestamp redirects to the snapshot at or before it)
/// and a PyPI where demo 2.0 appeared on 2022-11-15.
pub fn archive() -> Server {
    let mut site: HashMap<String, Vec<u8>> = HashMap::new();
    for (ts, date, pkgs) in SNAPSHOTS {
        let (rel, files) = suite_files("bullseye", date, None, pkgs);
        let base = format!("/archive/debian/{ts}/dists/bullseye");
        site.insert(format!("{base}/Release"), rel.into_bytes());
        for (p, b) in files {
            site.insert(format!("{base}/{p}"), b);
        }
    }
    let files: Vec<String> = [("1.0", "2020-01-01"), ("2.0", "2022-11-15")]
        .iter()
        .map(|(v, day)| {
            format!(
                r#"{{"filename":"demo-{v}.tar.gz","url":"/files/demo-{v}.tar.gz","hashes":{{"sha256":"{}"}},"upload-time":"{day}T00:00:00Z"}}"#,
                loopback::sha256(format!("demo-{v}").as_bytes())
            )
        })
        .collect();
    site.insert(
        "/simple/demo/".into(),
        format!(
            r#"{{"meta":{{"api-version":"1.1"}},"name":"demo","files":[{}]}}"#,
            files.join(",")
        )
        .into_bytes(),
    );
    serve(move |req, _| {
        if let Some(tail) = req.path.strip_prefix("/archive/debian/") {
            let (ts, rest) = tail.split_once('/').unwrap_or((tail, ""));
            let at = SNAPSHOTS.iter().map(|s| s.0).rfind(|s| *s <= ts);
            match at {
                None => return status(404),
                Some(s) if s != ts => return redirect(&format!("/archive/debian/{s}/{rest}")),
                Some(_) => {}
            }
        }
        match site.get(&req.path) {
            Some(b) => file(req, b),
            None => status(404),
        }
    })
}

/// The repository and platform definitions under `dir`.
pub fn setup(dir: &Path) {
    let r = init_bare(&dir.join("repo.git"));
    commit(&r, &tree(), "first", COMMIT_TIME);
    std::fs::create_dir_all(dir.join("platforms")).unwrap();
    std::fs::write(dir.join("platforms/testbox.toml"), PLATFORM_TOML).unwrap();
}

/// Docker Hub for the slave's `FROM debian:bullseye`: one amd64 image, built
/// before every snapshot, so the base image is the same at every timestamp.
pub fn registry() -> Server {
    let mut r = loopback::registry::Registry::default();
    r.single(
        "library/debian",
        "bullseye",
        "amd64",
        "2022-10-01T00:00:00Z",
    );
    r.serve(true)
}
