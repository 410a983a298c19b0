//! `sonic-lock lock` without `--candidate`: crawl, index, solve and lock in one
//! run, against a tree built in code and a loopback snapshot archive.

use crate::common;
use crate::common::loopback::{self, Server, file, redirect, serve, status, suite_files};
use crate::common::tree::{FUNCTIONS, Files, PLATFORM_TOML, SLAVE_MK, commit, init_bare};
use std::collections::HashMap;
use std::path::Path;

/// 2022-12-01T12:00:00Z: after the only snapshot, which the archive redirects to.
const COMMIT_TIME: i64 = 1_669_896_000;
const SNAPSHOT: &str = "20221201T000000Z";

/// A sonic-buildimage-shaped tree whose bullseye slave apt-installs two packages;
/// with `sub`, the image also installs a package built from the submodule
/// `src/sub` recorded at that commit.
fn tree_with(git_dep: &str, sub: Option<git2::Oid>) -> Files {
    let mut f = Files::default();
    f.add("slave.mk", SLAVE_MK)
        .add("rules/config", "DEFAULT_CONTAINER_REGISTRY ?=\n")
        .add("rules/functions", FUNCTIONS)
        .add("platform/testp/rules.mk", "include $(PLATFORM_PATH)/sdk.mk\ninclude $(PLATFORM_PATH)/one-image.mk\n")
        .add("platform/testp/sdk.mk", "SDK_VERSION = 1.0\n")
        .add("platform/testp/one-image.mk", "SONIC_ONE_IMAGE = sonic-testp.bin\nSONIC_INSTALLERS += $(SONIC_ONE_IMAGE)\nSONIC_ALL += $(SONIC_ONE_IMAGE)\n")
        .add(
            "sonic-slave-bullseye/Dockerfile.j2",
            format!(
                "FROM debian:bullseye\nRUN apt-get update && apt-get install -y \\\n        hello \\\n        libmnl0\nRUN pip3 install 'demo>=1,<3' plain\nRUN git clone -b main {git_dep} tool\nRUN wget -O /tmp/README https://github.com/acme/tool/raw/main/README\n"
            ),
        )
        .add("build_debian.sh", "#!/bin/bash\n");
    if let Some(sub) = sub {
        f.add(
            "rules/sub.mk",
            "SUBPKG = python3-sub_1.0_all.deb\n$(SUBPKG)_SRC_PATH = $(SRC_PATH)/sub\nSONIC_PYTHON_STDEB_DEBS += $(SUBPKG)\n",
        )
        .add(
            "platform/testp/one-image.mk",
            "SONIC_ONE_IMAGE = sonic-testp.bin\n$(SONIC_ONE_IMAGE)_INSTALLS += $(SUBPKG)\nSONIC_INSTALLERS += $(SONIC_ONE_IMAGE)\nSONIC_ALL += $(SONIC_ONE_IMAGE)\n",
        )
        .add(
            ".gitmodules",
            "[submodule \"src/sub\"]\n\tpath = src/sub\n\turl = https://github.com/acme/sub.git\n",
        )
        .link("src/sub", sub);
    }
    f
}

/// snapshot.debian.org with one bullseye snapshot; later timestamps redirect to it.
fn archive(pkgs: &'static [(&'static str, &'static str)], tool_at_cutoff: &str) -> Server {
    let (rel, files) = suite_files(
        "bullseye",
        "Thu, 01 Dec 2022 00:00:00 UTC",
        Some("Thu, 08 Dec 2022 00:00:00 UTC"),
        pkgs,
    );
    let mut site: HashMap<String, Vec<u8>> = HashMap::new();
    // GitHub raw files, by commit.
    site.insert(
        format!("/acme/tool/raw/{tool_at_cutoff}/README"),
        b"v1\n".to_vec(),
    );
    let base = format!("/archive/debian/{SNAPSHOT}/dists/bullseye");
    site.insert(format!("{base}/Release"), rel.into_bytes());
    for (p, b) in files {
        site.insert(format!("{base}/{p}"), b);
    }
    // PyPI: demo 3.0 and plain 4.0 appeared after the cutoff; demo 2.5rc1 is a pre-release.
    for (name, files) in [
        (
            "demo",
            &[
                ("1.0", "2020"),
                ("2.0", "2021"),
                ("2.5rc1", "2022"),
                ("3.0", "2023"),
            ][..],
        ),
        ("plain", &[("1.0", "2020"), ("4.0", "2023")][..]),
    ] {
        let files: Vec<String> = files
            .iter()
            .map(|(v, year)| {
                format!(
                    r#"{{"filename":"{name}-{v}.tar.gz","url":"/files/{name}-{v}.tar.gz","hashes":{{"sha256":"{}"}},"upload-time":"{year}-01-01T00:00:00Z"}}"#,
                    loopback::sha256(format!("{name}-{v}").as_bytes())
                )
            })
            .collect();
        site.insert(
            format!("/simple/{name}/"),
            format!(
                r#"{{"meta":{{"api-version":"1.1"}},"name":"{name}","files":[{}]}}"#,
                files.join(",")
            )
            .into_bytes(),
        );
    }
    serve(move |req, _| {
        if let Some(tail) = req.path.strip_prefix("/archive/debian/") {
            let (ts, rest) = tail.split_once('/').unwrap_or((tail, ""));
            if ts > SNAPSHOT {
                return redirect(&format!("/archive/debian/{SNAPSHOT}/{rest}"));
            }
        }
        match site.get(&req.path) {
            Some(b) => file(req, b),
            None => status(404),
        }
    })
}

struct Setup {
    dir: tempfile::TempDir,
    tool_at_cutoff: String,
    srv: Server,
    reg: Server,
    /// amd64 digest of `debian:bullseye-20221130`, what `debian:bullseye` named at the cutoff.
    debian_at_cutoff: String,
}

/// Docker Hub with a `debian:bullseye` that moved after the cutoff, and its dated tags.
fn registry() -> (Server, String) {
    let mut r = loopback::registry::Registry::default();
    let (_, dated) = r.multi(
        "library/debian",
        "bullseye-20221130",
        &[
            ("amd64", None, "2022-11-30T00:00:00Z"),
            ("arm64", Some("v8"), "2022-11-30T00:00:00Z"),
        ],
    );
    r.multi(
        "library/debian",
        "bullseye",
        &[
            ("amd64", None, "2023-01-09T00:00:00Z"),
            ("arm64", Some("v8"), "2023-01-09T00:00:00Z"),
        ],
    );
    (r.serve(true), dated[0].clone())
}

impl Setup {
    fn new(pkgs: &'static [(&'static str, &'static str)]) -> Setup {
        Setup::build(pkgs, false)
    }

    /// A tree with a submodule whose clone is nowhere to be found.
    fn with_unreadable_submodule(pkgs: &'static [(&'static str, &'static str)]) -> Setup {
        Setup::build(pkgs, true)
    }

    fn build(pkgs: &'static [(&'static str, &'static str)], with_sub: bool) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        // A git dependency on a branch: one commit before the cutoff, one after.
        let tool = init_bare(&dir.path().join("tool.git"));
        let mut f = Files::default();
        f.add("README", "v1\n");
        let before = commit(&tool, &f, "v1", COMMIT_TIME - 86_400);
        f.add("README", "v2\n");
        let after = commit(&tool, &f, "v2", COMMIT_TIME + 86_400);
        tool.reference("refs/heads/main", after, true, "main")
            .unwrap();
        let srv = archive(pkgs, &before.to_string());
        let r = init_bare(&dir.path().join("repo.git"));
        let tool_path = dir.path().join("tool.git").display().to_string();
        let sub = with_sub.then(|| git2::Oid::from_str(&"5".repeat(40)).unwrap());
        commit(&r, &tree_with(&tool_path, sub), "first", COMMIT_TIME);
        std::fs::create_dir_all(dir.path().join("platforms")).unwrap();
        std::fs::write(dir.path().join("platforms/testbox.toml"), PLATFORM_TOML).unwrap();
        let (reg, debian_at_cutoff) = registry();
        Setup {
            tool_at_cutoff: before.to_string(),
            dir,
            srv,
            reg,
            debian_at_cutoff,
        }
    }

    fn p(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    fn lock(&self, extra: &[&str]) -> (i32, String, String) {
        self.lock_with_registry(&self.reg.base, extra)
    }

    fn lock_with_registry(&self, registry: &str, extra: &[&str]) -> (i32, String, String) {
        common::run_cmd(
            common::sonic_lock()
                .args([
                    "lock",
                    "--platform",
                    "testbox",
                    "--platforms-dir",
                    &self.p("platforms"),
                    "--sonic-repo",
                    &self.p("repo.git"),
                    "--suite",
                    "bullseye",
                    "--snapshot-url",
                    &self.srv.base,
                    "--allow-unsigned",
                    "--pypi-url",
                    &self.srv.base,
                    "--github-url",
                    &self.srv.base,
                    "--docker-registry",
                    registry,
                    "--github-git",
                    &self.p("{repo}.git"),
                    "--retries",
                    "1",
                    "--cache",
                    &self.p("cache"),
                    "--lockfiles",
                    &self.p("lockfiles"),
                    "--workspace",
                    &self.p("trials"),
                    "--quiet",
                ])
                .args(extra),
        )
    }

    fn written(&self) -> toml::Value {
        let text = std::fs::read_to_string(self.dir.path().join("lockfiles/testbox.lock")).unwrap();
        toml::from_str(&text).unwrap()
    }
}

fn deb_pins(lock: &toml::Value) -> Vec<(String, String, Vec<String>)> {
    lock["pin"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"].as_str() == Some("deb"))
        .map(|p| {
            let why = p
                .get("why")
                .and_then(|w| w.as_array())
                .map(|w| w.iter().map(|s| s.as_str().unwrap().to_string()).collect())
                .unwrap_or_default();
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
                why,
            )
        })
        .collect()
}

#[test]
fn lock_without_candidate_crawls_indexes_solves_and_writes_an_unproven_lock() {
    let s = Setup::new(&[
        ("hello", "2.10-2"),
        ("libmnl0", "1.0.4-3"),
        ("libc6", "2.31-13"),
        ("unrelated", "1.0"),
    ]);
    let (code, stdout, stderr) = s.lock(&[
        "--export",
        &s.p("versions"),
        "--candidate-out",
        &s.p("candidate.lock"),
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("UNPROVEN"), "{stderr}");
    let lock = s.written();
    let pins = deb_pins(&lock);
    let names: Vec<&str> = pins.iter().map(|p| p.0.as_str()).collect();
    assert!(
        names.contains(&"hello") && names.contains(&"libmnl0") && names.contains(&"libc6"),
        "{pins:?}"
    );
    assert!(!names.contains(&"unrelated"), "{pins:?}");
    let hello = pins.iter().find(|p| p.0 == "hello").unwrap();
    assert_eq!(hello.1, "2.10-2");
    assert!(
        hello
            .2
            .iter()
            .any(|o| o.starts_with("sonic-slave-bullseye/Dockerfile.j2:")),
        "origin of hello: {:?}",
        hello.2
    );
    // The pin names a URL the build can fetch: the pool path under the snapshot it came from.
    let hello_url = lock["pin"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["ecosystem"].as_str() == Some("deb") && p["name"].as_str() == Some("hello"))
        .and_then(|p| p["url"].as_str())
        .unwrap_or_default()
        .to_string();
    assert!(
        hello_url.starts_with("http://127.0.0.1:")
            && hello_url.contains("/archive/debian/")
            && hello_url.ends_with("/pool/main/h/hello/hello_2.10-2_amd64.deb"),
        "{hello_url}"
    );
    assert!(Path::new(&s.p("versions")).is_dir());
    // The candidate is the same set of pins, before any trial.
    let cand = sonic_lock::lock::Lock::read(Path::new(&s.p("candidate.lock"))).unwrap();
    assert_eq!(cand.pins.len(), lock["pin"].as_array().unwrap().len());
    assert!(cand.trials.is_empty());
    // git: the branch's commit at the cutoff, not its tip.
    let git: Vec<(&str, &str)> = lock["pin"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"].as_str() == Some("git"))
        .map(|p| (p["name"].as_str().unwrap(), p["version"].as_str().unwrap()))
        .collect();
    assert_eq!(
        git,
        vec![(s.p("tool.git").as_str(), s.tool_at_cutoff.as_str())]
    );
    // web: the moving GitHub URL pinned to the commit at the cutoff, keyed by md5.
    let web: Vec<&toml::Value> = lock["pin"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"].as_str() == Some("web"))
        .collect();
    assert_eq!(web.len(), 1, "{web:?}");
    let immutable = format!("{}/acme/tool/raw/{}/README", s.srv.base, s.tool_at_cutoff);
    assert_eq!(web[0]["name"].as_str(), Some(immutable.as_str()));
    assert_eq!(web[0]["url"].as_str(), Some(immutable.as_str()));
    assert_eq!(
        web[0]["declared_url"].as_str(),
        Some("https://github.com/acme/tool/raw/main/README")
    );
    let md5 = sonic_lock::fsio::md5_hex(b"v1\n");
    assert_eq!(web[0]["version"].as_str(), Some(md5.as_str()));
    assert_eq!(web[0]["md5"].as_str(), Some(md5.as_str()));
    // Python: the newest release at the cutoff within the declared range.
    let py: Vec<(String, String)> = lock["pin"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"].as_str() == Some("py"))
        .map(|p| {
            (
                p["name"].as_str().unwrap().to_string(),
                p["version"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        py,
        vec![
            ("demo".into(), "2.0".into()),
            ("plain".into(), "1.0".into())
        ]
    );
    // docker: the slave's base image at the platform's arch, as it was at the cutoff.
    let docker: Vec<&toml::Value> = lock["pin"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| p["ecosystem"].as_str() == Some("docker"))
        .collect();
    assert_eq!(docker.len(), 1, "{docker:?}");
    assert_eq!(docker[0]["name"].as_str(), Some("debian:bullseye"));
    assert_eq!(docker[0]["arch"].as_str(), Some("amd64"));
    assert_eq!(
        docker[0]["version"].as_str(),
        Some(s.debian_at_cutoff.as_str())
    );
    assert_eq!(
        docker[0]["first_seen"].as_str(),
        Some("2022-11-30T00:00:00Z")
    );
    assert_eq!(
        std::fs::read_to_string(s.p("versions/default/versions-docker")).unwrap(),
        format!("amd64:debian:bullseye=={}", s.debian_at_cutoff)
    );
    // The header names every source read and how "as of the cutoff" was read there.
    let sources: Vec<(String, String, String, bool)> = lock["source"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["ecosystem"].as_str().unwrap().to_string(),
                r["url"].as_str().unwrap().to_string(),
                r["as_of"].as_str().unwrap().to_string(),
                r["reached"].as_bool().unwrap(),
            )
        })
        .collect();
    let eco = |e: &str| sources.iter().filter(|r| r.0 == e).count();
    assert!(
        eco("deb") >= 1 && eco("py") == 1 && eco("git") == 1 && eco("docker") == 1,
        "{sources:?}"
    );
    let deb = sources.iter().find(|r| r.0 == "deb").unwrap();
    assert!(deb.1.contains("/dists/bullseye"), "{deb:?}");
    assert!(deb.2.starts_with("snapshot "), "{deb:?}");
    assert!(sources.iter().all(|r| r.3), "{sources:?}");
    assert!(lock.get("gap").is_none(), "{lock:?}");
}

#[test]
fn a_source_out_of_reach_is_named_in_the_header_and_its_dependencies_are_gaps() {
    let s = Setup::new(&[
        ("hello", "2.10-2"),
        ("libmnl0", "1.0.4-3"),
        ("libc6", "2.31-13"),
    ]);
    // Nothing listens on the discard port: the registry cannot be reached.
    let (code, stdout, stderr) = s.lock_with_registry("http://127.0.0.1:9", &[]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lock = s.written();
    let registry = lock["source"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ecosystem"].as_str() == Some("docker"))
        .unwrap_or_else(|| panic!("no docker source in {lock:?}"));
    assert_eq!(registry["url"].as_str(), Some("http://127.0.0.1:9"));
    assert_eq!(registry["reached"].as_bool(), Some(false));
    let gaps = lock["gap"].as_array().unwrap();
    assert!(
        gaps.iter().any(|g| {
            let m = g["message"].as_str().unwrap_or_default();
            m.starts_with("http://127.0.0.1:9 could not be reached")
                && m.contains("docker dependencies not resolved (1): debian")
        }),
        "{gaps:?}"
    );
}

#[test]
fn lock_without_candidate_learns_from_a_failing_build_and_avoids_the_version() {
    let s = Setup::new(&[
        ("hello", "2.10-1"),
        ("hello", "2.10-2"),
        ("libmnl0", "1.0.4-3"),
        ("libc6", "2.31-13"),
    ]);
    // The newest hello cannot be installed; apt says so in words triage knows.
    let script = "if grep -rqx 'hello==2.10-2' \"$SONIC_LOCK_VERSIONS_DIR\"; then \
                  echo \"E: Version '2.10-2' for 'hello' was not found\"; exit 100; fi";
    let (code, stdout, stderr) = s.lock(&["--builder", "command", "--", "/bin/sh", "-c", script]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("proven by a passing build"), "{stdout}");
    let lock = s.written();
    let pins = deb_pins(&lock);
    let hello = pins.iter().find(|p| p.0 == "hello").unwrap();
    assert_eq!(hello.1, "2.10-1", "{pins:?}");
    assert!(pins.iter().any(|p| p.0 == "libmnl0" && p.1 == "1.0.4-3"));
    // Pins the search does not choose among (the base image) survive the learn loop.
    assert!(
        lock["pin"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["ecosystem"].as_str() == Some("docker")
                && p["version"].as_str() == Some(s.debian_at_cutoff.as_str())),
        "{lock:?}"
    );
    let trials = lock["trial"].as_array().unwrap();
    assert_eq!(trials.len(), 2, "{trials:?}");
    assert!(
        trials.iter().any(|t| t
            .get("detail")
            .and_then(|d| d.as_str())
            .unwrap_or("")
            .contains("hello")),
        "{trials:?}"
    );
}

#[test]
fn lock_without_candidate_explains_an_unsolvable_image_and_writes_nothing() {
    let s = Setup::new(&[("hello", "2.10-2"), ("libc6", "2.31-13")]);
    let (code, stdout, stderr) = s.lock(&[]);
    assert_ne!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains("no solution") && stderr.contains("libmnl0"),
        "{stderr}"
    );
    assert!(!Path::new(&s.p("lockfiles/testbox.lock")).exists());
}

#[test]
fn lock_defaults_to_the_public_tree_and_checks_the_platform_first() {
    // Without --candidate or --sonic-repo, lock crawls sonic-buildimage on GitHub;
    // an unknown platform is refused before anything is fetched.
    let (code, _, err) = common::run(&["lock", "--platform", "testbox"]);
    assert_eq!(code, 2);
    assert!(
        err.contains("unknown platform `testbox`") && err.contains("wedge100bf-32x"),
        "{err}"
    );
    let (_, help, _) = common::run(&["lock", "--help"]);
    assert!(help.contains("https://github.com/sonic-net/sonic-buildimage"));
}

#[test]
fn lock_refuses_an_incomplete_crawl_unless_told_and_then_records_the_gap() {
    let s = Setup::with_unreadable_submodule(&[
        ("hello", "2.10-2"),
        ("libmnl0", "1.0.4-3"),
        ("libc6", "2.31-13"),
    ]);
    let (code, stdout, stderr) = s.lock(&[]);
    assert_eq!(code, 2, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(
        stderr.contains(".gitmodules:1: submodule src/sub at 5555555555555555555555555555555555555555 could not be read"),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-incomplete"), "{stderr}");
    assert!(!Path::new(&s.p("lockfiles/testbox.lock")).exists());
    // Nothing was indexed: the refusal comes before any network work.
    assert!(s.srv.requests().is_empty() && s.reg.requests().is_empty());

    let (code, stdout, stderr) = s.lock(&["--allow-missing-submodules", "--json"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stderr.contains("recorded as gaps"), "{stderr}");
    let report: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(report["proven"], false);
    assert_eq!(report["gaps"][0]["origin"], ".gitmodules:1");
    let lock = s.written();
    let gaps = lock["gap"].as_array().unwrap();
    // The crawl's gap, and the submodule's own git pin, whose host this world does not serve.
    assert_eq!(gaps.len(), 2, "{gaps:?}");
    assert!(
        gaps.iter()
            .all(|g| g["origin"].as_str() == Some(".gitmodules:1")),
        "{gaps:?}"
    );
    assert!(
        gaps.iter().any(|g| g["message"]
            .as_str()
            .unwrap_or_default()
            .starts_with("https://github.com could not be reached")),
        "{gaps:?}"
    );
    let msg = gaps
        .iter()
        .filter_map(|g| g["message"].as_str())
        .find(|m| m.contains("could not be read"))
        .unwrap_or_default();
    assert!(
        msg.contains("src/sub") && msg.contains("https://github.com/acme/sub.git"),
        "{msg}"
    );
    // The gap survives a read and a re-write, and does not change the candidate hash.
    let read = sonic_lock::lock::Lock::read(Path::new(&s.p("lockfiles/testbox.lock"))).unwrap();
    assert_eq!(read.gaps.len(), 2);
    let mut without = read.clone();
    without.gaps.clear();
    assert_eq!(without.candidate_hash(), read.candidate_hash());
    assert!(!deb_pins(&lock).is_empty());
}
