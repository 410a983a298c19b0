//! End to end: `sonic-lock demo` runs every stage against its generated world;
//! the lock, what the trial builds taught, the export and the bisect verdict
//! are checked against what the world is known to hold.

#[path = "common/mod.rs"]
mod common;

use std::path::Path;
use std::process::Command;

fn run_demo(dir: &Path, extra: &[&str]) -> (i32, String, String) {
    let o = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(["demo", "--keep"])
        .arg(dir)
        .args(extra)
        .output()
        .unwrap();
    (
        o.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

fn pins(lock: &toml::Value) -> Vec<&toml::Value> {
    lock["pin"].as_array().unwrap().iter().collect()
}

fn pin<'a>(lock: &'a toml::Value, eco: &str, name_has: &str) -> &'a toml::Value {
    pins(lock)
        .into_iter()
        .find(|p| {
            p["ecosystem"].as_str() == Some(eco) && p["name"].as_str().unwrap().contains(name_has)
        })
        .unwrap_or_else(|| panic!("no {eco} pin named like {name_has}"))
}

/// The commit of `branch` in a world repository at or before the cutoff.
fn at_cutoff(repo: &Path) -> (String, String) {
    let r = git2::Repository::open(repo).unwrap();
    let mut walk = r.revwalk().unwrap();
    walk.push_head().unwrap();
    let c = walk
        .map(|o| r.find_commit(o.unwrap()).unwrap())
        .find(|c| c.time().seconds() <= sonic_lock_demo::world::CUTOFF_TIME)
        .unwrap();
    (
        c.id().to_string(),
        c.summary().unwrap().unwrap_or("").to_string(),
    )
}

#[test]
fn the_demo_locks_proves_exports_and_bisects_its_world() {
    check_demo("command");
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker; runs under CI or with --include-ignored"
)]
fn the_demo_runs_its_trial_builds_in_docker() {
    if !common::containers::docker_usable() {
        return;
    }
    check_demo("docker");
}

fn check_demo(builder: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("demo");
    let (code, stdout, stderr) = run_demo(&dir, &["--builder", builder, "--json"]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");

    // Every stage ran as the command a user would type, in pipeline order.
    let mut at = 0;
    for cmd in [
        "cutoff", "crawl", "index", "solve", "lock", "export", "lock", "diff", "bisect",
    ] {
        let needle = format!("$ sonic-lock {cmd} ");
        let found = stderr[at..]
            .find(&needle)
            .unwrap_or_else(|| panic!("no `{needle}` after byte {at}:\n{stderr}"));
        at += found + needle.len();
    }

    // The lock: as of the cutoff, with what the trial build taught.
    let lock: toml::Value =
        toml::from_str(&std::fs::read_to_string(dir.join("lockfiles/demo-barefoot.lock")).unwrap())
            .unwrap();
    let version = |eco: &str, name: &str| {
        pin(&lock, eco, name)["version"]
            .as_str()
            .unwrap()
            .to_string()
    };
    // libfoo-dev 2.0-1 existed at the cutoff but moved its header: learned from the failed build.
    assert_eq!(version("deb", "libfoo-dev"), "1.2-1");
    assert_eq!(
        version("deb", "libfoo1"),
        "1.2-1",
        "dragged along by libfoo-dev's exact dependency"
    );
    assert_eq!(
        version("deb", "libc6"),
        "2.31-13+deb11u5",
        "u6 appeared after the cutoff"
    );
    assert_eq!(
        pin(&lock, "deb", "libfoo-dev")["image"].as_str(),
        Some("sonic-slave-bullseye"),
        "the slave's Dockerfile installs it: SONiC records it under dockers/sonic-slave-bullseye"
    );
    // pyfoo 2.0 and pybar 3.2 were released after the cutoff.
    assert_eq!(version("py", "pyfoo"), "1.1");
    assert_eq!(version("py", "pybar"), "3.1");
    assert_eq!(version("py", "pytest-runner"), "5.2");
    assert!(
        !pins(&lock)
            .iter()
            .any(|p| p["name"].as_str() == Some("python")),
        "the interpreter is not a pin"
    );
    // libteam's master moved after the cutoff: pinned to the commit it had then.
    let (libteam_sha, libteam_msg) = at_cutoff(&dir.join("world/git/jpirko/libteam.git"));
    assert_eq!(libteam_msg, "teamd: fix a leak");
    assert_eq!(version("git", "jpirko/libteam.git"), libteam_sha);
    // The vendor's raw/dev downloads: fetched at the commit dev had at the cutoff.
    let (pkgs_sha, _) = at_cutoff(&dir.join("world/git/barefootnetworks/sonic-release-pkgs.git"));
    let sdk = pin(&lock, "web", "bfnsdk_20221130");
    assert!(
        sdk["url"]
            .as_str()
            .unwrap()
            .contains(&format!("/raw/{pkgs_sha}/")),
        "{sdk:?}"
    );
    assert!(sdk["declared_url"].as_str().unwrap().contains("/raw/dev/"));
    let build1 = b"demo vendor deb bfnsdk_20221130_sai_1.11.0_deb11.deb build 1\n";
    assert_eq!(
        sdk["md5"].as_str().unwrap(),
        sonic_lock::fsio::md5_hex(build1)
    );
    // The dget'd source package vanished from today's mirror: fetched from the snapshot.
    let dsc = pin(&lock, "web", "isc-dhcp_4.4.1-2.3.dsc");
    assert!(
        dsc["url"]
            .as_str()
            .unwrap()
            .contains("/archive/debian/20221101T000000Z/pool/main/i/isc-dhcp/")
    );
    assert_eq!(
        lock["archive"][0]["snapshot"].as_str(),
        Some("20221205T000000Z")
    );
    // Proven: the last trial passed, and the failed one is recorded with what it taught.
    let trials = lock["trial"].as_array().unwrap();
    assert!(
        trials.iter().all(|t| t["builder"]
            .as_str()
            .unwrap()
            .starts_with(&format!("{builder}: "))),
        "{trials:?}"
    );
    assert!(trials.iter().any(|t| t["result"].as_str() == Some("pass")));
    let learned: Vec<&str> = trials
        .iter()
        .filter(|t| t["result"].as_str() == Some("fail"))
        .filter_map(|t| t["detail"].as_str())
        .collect();
    let mut learned = learned;
    learned.sort();
    assert_eq!(
        learned,
        vec![
            "deb libfoo-dev [sonic-slave-bullseye bullseye amd64] = 2.0-1",
            "py pyfoo [sonic-slave-bullseye py3] = 1.2",
        ]
    );
    // The failed build's log says why, in the words of a real build.
    let logs: String = walk(&dir.join("trials"))
        .into_iter()
        .filter(|p| p.extension().is_some_and(|e| e == "log"))
        .map(|p| std::fs::read_to_string(p).unwrap())
        .collect();
    assert!(
        logs.contains("fatal error: foo/foo.h: No such file or directory"),
        "{logs}"
    );
    // pyfoo 1.2 is an sdist whose Python requirement only its build reveals.
    assert!(
        logs.contains("ERROR: Package 'pyfoo' requires a different Python: 3.9.2 not in '>=3.10'"),
        "{logs}"
    );

    // The export: SONiC's own layout and formats.
    let v = dir.join("files/build/versions");
    let debs =
        std::fs::read_to_string(v.join("dockers/sonic-slave-bullseye/versions-deb-bullseye-amd64"))
            .unwrap();
    assert!(debs.lines().any(|l| l == "libfoo-dev==1.2-1"), "{debs}");
    let py = std::fs::read_to_string(v.join("dockers/sonic-slave-bullseye/versions-py3")).unwrap();
    assert!(py.lines().any(|l| l == "pyfoo==1.1"), "{py}");
    let mirror = std::fs::read_to_string(v.join("default/versions-mirror")).unwrap();
    assert_eq!(mirror.trim(), "debian==20221205T000000Z");
    let git = std::fs::read_to_string(v.join("default/versions-git")).unwrap();
    assert!(
        git.contains(&format!("jpirko/libteam.git=={libteam_sha}")),
        "{git}"
    );
    let web = std::fs::read_to_string(v.join("default/versions-web")).unwrap();
    assert!(
        web.contains(&format!(
            "/raw/{pkgs_sha}/bfnsdk_20221130_sai_1.11.0_deb11.deb=="
        )),
        "{web}"
    );

    // The bisect: tonight's nightly fails, and a culprit is named with its origin and source.
    let out: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(out["pins"].as_u64().unwrap() as usize, pins(&lock).len());
    let report = &out["bisect"];
    assert_eq!(report["outcome"]["status"], "culprit", "{report:#}");
    let sets = report["outcome"]["culprit_sets"].as_array().unwrap();
    assert_eq!(sets.len(), 1);
    let culprit = sets[0]["changes"].as_array().unwrap();
    assert!(!culprit.is_empty());
    let changes = report["changes"].as_array().unwrap();
    for c in culprit {
        let change = &changes[c.as_u64().unwrap() as usize];
        assert!(change["source"].is_string(), "{change:#}");
    }
    for f in ["report.md", "report.html", "report.json"] {
        assert!(dir.join("bisect-report").join(f).is_file(), "{f}");
    }
    // The nightly really differs from the lock and really fails, as the bisect says.
    let (code, _, _) = {
        let o = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
            .args([
                "diff",
                "lockfiles/demo-barefoot.lock",
                "nightly/demo-barefoot.lock",
            ])
            .current_dir(&dir)
            .output()
            .unwrap();
        (o.status.code().unwrap_or(-1), (), ())
    };
    assert_eq!(code, 1, "the nightly moved");
}

/// The world's build system reads lockfiles from their TOML, as a real build system
/// would: every field it acts on must come through from what `Lock::write` writes.
#[test]
fn the_world_build_reads_what_lock_write_writes() {
    use sonic_lock::lock::{Archive, Gap, Lock, Pin, TrialRecord};
    use sonic_lock::manifest::Ecosystem;
    use sonic_lock::trial::builder::Verdict;
    use sonic_lock_demo::lockfile::{self as demo_lock, BuildLock};

    let hex = |c: char, n: usize| c.to_string().repeat(n);
    // Exhaustive, so that a new ecosystem must be taught to the world's reader too.
    let sample = |eco: Ecosystem| -> (demo_lock::Ecosystem, String) {
        match eco {
            Ecosystem::Deb => (demo_lock::Ecosystem::Deb, "1.2-1".into()),
            Ecosystem::DebSrc => (demo_lock::Ecosystem::DebSrc, "4.4.1-2.3".into()),
            Ecosystem::Py => (demo_lock::Ecosystem::Py, "1.1".into()),
            Ecosystem::Go => (demo_lock::Ecosystem::Go, "v1.2.3".into()),
            Ecosystem::Git => (demo_lock::Ecosystem::Git, hex('a', 40)),
            Ecosystem::Web => (demo_lock::Ecosystem::Web, hex('b', 32)),
            Ecosystem::Docker => (
                demo_lock::Ecosystem::Docker,
                format!("sha256:{}", hex('c', 64)),
            ),
        }
    };
    let mut lock = Lock::new("barefoot", &hex('0', 40), "2022-12-06");
    lock.archives.push(Archive {
        name: "debian".into(),
        snapshot: "20221205T000000Z".into(),
        url: Some("http://127.0.0.1:1/archive/debian/20221205T000000Z".into()),
    });
    let mut want = Vec::new();
    for eco in Ecosystem::ALL {
        let (demo_eco, version) = sample(eco);
        let url = format!("http://origin/{eco}/thing");
        // Names valid for their ecosystem; git and web pins are named by URL.
        let name = match eco {
            Ecosystem::Deb | Ecosystem::DebSrc | Ecosystem::Py => format!("{eco}-thing"),
            Ecosystem::Go | Ecosystem::Docker => format!("origin.example/{eco}/thing"),
            Ecosystem::Git | Ecosystem::Web => url.clone(),
        };
        let mut pin = Pin::new(eco, &name, &version);
        pin.image = Some("sonic-slave-bullseye".into());
        pin.suite = Some("bullseye".into());
        pin.arch = Some("amd64".into());
        pin.python = (eco == Ecosystem::Py).then(|| "py3".into());
        pin.url = Some(url.clone());
        pin.declared_url = Some(format!("http://declared/{eco}/thing"));
        pin.sha256 = Some(hex('d', 64));
        pin.md5 = Some(if eco == Ecosystem::Web {
            version.clone()
        } else {
            hex('e', 32)
        });
        pin.first_seen = Some("2022-11-30".into());
        pin.why = vec!["rules/thing.mk:7".into()];
        pin.dependents = vec!["other".into()];
        let mut read = demo_lock::Pin::new(demo_eco, &name, &version);
        read.url = pin.url.clone();
        read.declared_url = pin.declared_url.clone();
        read.md5 = pin.md5.clone();
        lock.pins.push(pin);
        want.push(read);
    }
    lock.trials.push(TrialRecord {
        candidate: hex('f', 64),
        builder: "command".into(),
        result: Verdict::Pass,
        detail: Some("built".into()),
    });
    lock.gaps.push(Gap {
        origin: ".gitmodules:4".into(),
        message: "unreadable submodule".into(),
    });
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("barefoot.lock");
    lock.write(&path).unwrap();

    let read = BuildLock::read(&path).unwrap();
    assert_eq!(read.version, sonic_lock::lock::LOCK_VERSION);
    assert_eq!(
        read.archives,
        vec![demo_lock::Archive {
            name: "debian".into(),
            snapshot: "20221205T000000Z".into(),
        }]
    );
    let mut got = read.pins.clone();
    let key = |p: &demo_lock::Pin| (p.name.clone(), p.version.clone());
    got.sort_by_key(key);
    want.sort_by_key(key);
    assert_eq!(got, want);
}

#[test]
fn the_demo_refuses_a_directory_that_is_not_empty() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::write(tmp.path().join("precious"), "x").unwrap();
    let (code, _, stderr) = run_demo(tmp.path(), &["--builder", "command"]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not empty"), "{stderr}");
    assert_eq!(
        std::fs::read_to_string(tmp.path().join("precious")).unwrap(),
        "x"
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}
