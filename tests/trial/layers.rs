//! The layers builder against real containers: a loopback Debian archive of
//! real `.deb` files (made with `dpkg-deb --build`, indexed, `InRelease`
//! signed) and a loopback PyPI of real wheels, on a Debian base image made
//! with `mmdebstrap`. A passing image chain, an apt conflict with the base
//! and a pip pin failing `Requires-Python` learned and avoided by the lock
//! loop, layers reused across trials, and a killed run resumed.

use crate::common::containers::docker_usable;
use crate::common::loopback::{self, Reply, Server, file, serve, status};
use crate::common::{sonic_lock, text};
use crate::layers_world::{SUITE, archive, base_image, deb, wheel};
use sonic_lock::lock::{Lock, Pin, PinKey};
use sonic_lock::manifest::{Constraint, Context, Dependency, Ecosystem, Manifest, Origin};
use sonic_lock::trial::journal::Journal;
use sonic_lock::trial::layers::{LayersBuilder, LayersConfig};
use sonic_lock::trial::learn::{
    Assignment, Attribution, Forbid, LearnConfig, Learner, Search, SearchError,
};
use sonic_lock::trial::pool::Workspace;
use sonic_lock::trial::stage::LockStage;
use sonic_lock::trial::triage::Triage;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// The loopback world: a signed archive, a PyPI, the base image.
struct World {
    archive: Server,
    pypi: Server,
    keyring: PathBuf,
    base: String,
    _dir: tempfile::TempDir,
}

fn world() -> &'static World {
    static W: OnceLock<World> = OnceLock::new();
    W.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let debs = [
            deb(dir.path(), "sllib", "1.0", "", None),
            deb(dir.path(), "slhello", "1.0", "sllib (>= 1.0)", None),
            // Needs a newer C library than the base holds: apt cannot install it.
            deb(
                dir.path(),
                "slhello",
                "2.0",
                "sllib (>= 1.0), libc6 (>= 99.0)",
                None,
            ),
            deb(dir.path(), "sltool", "1.0", "sllib", None),
            deb(dir.path(), "slslow", "1.0", "", Some("sleep 4")),
            // Depends on two debs the tree builds: one a rebuild of an
            // archive package (slown 1.0 here, 2.0 in the tree), one that
            // no archive serves (slghost).
            deb(
                dir.path(),
                "slneedown",
                "1.0",
                "slown (>= 2.0), slghost",
                None,
            ),
            deb(
                dir.path(),
                "slown",
                "1.0",
                "",
                Some("test -f /usr/share/doc/slown/README"),
            ),
            // Its sibling of the same source, bound to its exact version.
            deb(dir.path(), "slowndev", "1.0", "slown (= 1.0)", None),
        ];
        let (archive, keyring) = archive(dir.path(), debs.to_vec());

        let mut py: HashMap<String, Vec<u8>> = HashMap::new();
        let mut links = String::new();
        for (v, rp) in [("1.0", ">=3.7"), ("2.0", ">=3.99")] {
            let (file, bytes) = wheel("slpy", v, rp);
            links.push_str(&format!(
                "<a href=\"/files/{file}#sha256={}\">{file}</a>\n",
                loopback::sha256(&bytes)
            ));
            py.insert(format!("/files/{file}"), bytes);
        }
        py.insert(
            "/simple/slpy/".into(),
            format!("<!DOCTYPE html><html><body>\n{links}</body></html>\n").into_bytes(),
        );
        // pip reads an index page only when it says it is HTML.
        let pypi = serve(move |req, _| match py.get(req.path.as_str()) {
            Some(b) if req.path.starts_with("/simple/") => Reply::Body {
                status: 200,
                body: b.clone(),
                headers: vec![("Content-Type".into(), "text/html".into())],
            },
            Some(b) => file(req, b),
            None => status(404),
        });
        World {
            archive,
            pypi,
            keyring,
            base: base_image(),
            _dir: dir,
        }
    })
}

fn pin(eco: Ecosystem, image: &str, name: &str, v: &str) -> Pin {
    let mut p = Pin::new(eco, name, v);
    p.image = Some(image.into());
    match eco {
        Ecosystem::Deb => p.suite = Some(SUITE.into()),
        _ => p.python = Some("py3".into()),
    }
    p
}

/// img-base: slhello (with its dependency sllib) and slpy; img-child FROM img-base: sltool.
fn chain_lock(hello: &str, slpy: &str) -> Lock {
    let mut l = Lock::new("testbox", &"a".repeat(40), "2022-12-06");
    for p in [
        pin(Ecosystem::Deb, "img-base", "slhello", hello),
        pin(Ecosystem::Deb, "img-base", "sllib", "1.0"),
        pin(Ecosystem::Py, "img-base", "slpy", slpy),
        pin(Ecosystem::Deb, "img-child", "sltool", "1.0"),
    ] {
        l.upsert(p);
    }
    l.normalize();
    l
}

fn config(w: &World) -> LayersConfig {
    let mut c = LayersConfig::new(vec![w.archive.url("/debian")]);
    c.apt_keyring = Some(w.keyring.clone());
    c.pypi_index = Some(w.pypi.url("/simple/"));
    c.base = Some(w.base.clone());
    c.network_mode = Some("host".into());
    c.parents = [("img-child".to_string(), "img-base".to_string())].into();
    c.jobs = 2;
    c
}

/// `sonic-lock trial --builder layers` of `lock` in `ws`.
fn trial_cmd(w: &World, dir: &Path, lock: &Lock, ws: &str) -> Command {
    let versions = dir.join("versions");
    std::fs::create_dir_all(&versions).unwrap();
    let lockfile = dir.join(format!("{ws}.lock"));
    lock.write(&lockfile).unwrap();
    let mut cmd = sonic_lock();
    cmd.arg("trial")
        .arg("--versions")
        .arg(&versions)
        .arg("--lockfile")
        .arg(&lockfile)
        .arg("--workspace")
        .arg(dir.join(ws))
        .args([
            "--builder",
            "layers",
            "--network-mode",
            "host",
            "--jobs",
            "2",
        ])
        .arg("--apt-mirror")
        .arg(w.archive.url("/debian"))
        .arg("--apt-keyring")
        .arg(&w.keyring)
        .arg("--pypi-index")
        .arg(w.pypi.url("/simple/"))
        .args(["--layers-base", &w.base])
        .args([
            "--layers-parent",
            "img-child=img-base",
            "--layers-parent",
            "img-slow=img-base",
        ]);
    cmd
}

/// The trial log a `trial` run names.
fn log_of(stdout: &str) -> String {
    let path = stdout
        .split("log: ")
        .nth(1)
        .map(|s| s.lines().next().unwrap_or("").trim().to_string())
        .unwrap_or_default();
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("log {path}: {e}\n{stdout}"))
}

/// `(hits, built, failed)` from the log's summary line.
fn tally(log: &str) -> (usize, usize, usize) {
    let line = log
        .lines()
        .rfind(|l| l.starts_with("sonic-lock: layers: "))
        .unwrap_or_else(|| panic!("no summary in\n{log}"));
    let n: Vec<usize> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (n[0], n[1], n[2])
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker and mmdebstrap; runs under CI or with --include-ignored"
)]
fn an_image_chain_passes_and_a_second_trial_reuses_every_layer() {
    if !docker_usable() {
        return;
    }
    let w = world();
    let d = tempfile::tempdir().unwrap();
    let lock = chain_lock("1.0", "1.0");
    let o = trial_cmd(w, d.path(), &lock, "ws1").output().unwrap();
    let log = log_of(&String::from_utf8_lossy(&o.stdout));
    assert!(o.status.success(), "{}\n{log}", text(&o));
    assert!(
        log.contains("image img-base: passed") && log.contains("image img-child: passed"),
        "{log}"
    );
    // img-base: apt and pip; img-child: apt.
    let (hits, built, failed) = tally(&log);
    assert_eq!((hits + built, failed), (3, 0), "{log}");

    // A new workspace (no journal answer): every layer comes from the cache.
    let o = trial_cmd(w, d.path(), &lock, "ws2").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    let log = log_of(&String::from_utf8_lossy(&o.stdout));
    assert_eq!(tally(&log), (3, 0, 0), "{log}");
    assert!(log.contains("img-child: step apt 1: cache hit"), "{log}");

    // A pin the lock does not hold is caught by dpkg-query, not trusted.
    let mut wrong = lock.clone();
    wrong.upsert(pin(Ecosystem::Deb, "img-child", "sllib", "0.9"));
    let o = trial_cmd(w, d.path(), &wrong, "ws3").output().unwrap();
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
}

/// `trial_cmd` of one image with a crawl manifest: its output and its trial log.
fn manifest_trial(
    w: &World,
    dir: &Path,
    lock: &Lock,
    ws: &str,
    manifest: &Path,
    image: &str,
) -> (std::process::Output, String) {
    let o = trial_cmd(w, dir, lock, ws)
        .arg("--layers-manifest")
        .arg(manifest)
        .args(["--layers-image", image])
        .output()
        .unwrap();
    let log = log_of(&String::from_utf8_lossy(&o.stdout));
    (o, log)
}

/// A crawl manifest declaring Debian packages as (image, name, constraint,
/// apt transaction) in `dockers/<image>/Dockerfile`, written into `dir`.
fn write_manifest(dir: &Path, deps: &[(&str, &str, Constraint, u32)]) -> PathBuf {
    let mut m = Manifest::new(
        "testbox".into(),
        "a".repeat(40),
        "2022-12-06".into(),
        vec![],
        vec![],
    );
    m.dependencies = deps
        .iter()
        .enumerate()
        .map(|(i, (image, name, constraint, tx))| Dependency {
            ecosystem: Ecosystem::Deb,
            name: name.to_string(),
            constraint: constraint.clone(),
            pinned: false,
            origin: Origin {
                file: format!("dockers/{image}/Dockerfile"),
                line: i as u32 + 3,
            },
            context: Context {
                image: Some(image.to_string()),
                suite: Some(SUITE.into()),
                transaction: Some(*tx),
                ..Context::default()
            },
            attrs: BTreeMap::new(),
        })
        .collect();
    let path = dir.join("manifest.json");
    m.write(&path).unwrap();
    path
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker and mmdebstrap; runs under CI or with --include-ignored"
)]
fn a_pin_change_rebuilds_only_the_layers_after_the_step_it_changes() {
    if !docker_usable() {
        return;
    }
    let w = world();
    let d = tempfile::tempdir().unwrap();
    let lock_of = |extra: bool| {
        let mut l = Lock::new("testbox", &"a".repeat(40), "2022-12-06");
        l.upsert(pin(Ecosystem::Deb, "img-two", "sllib", "1.0"));
        l.upsert(pin(Ecosystem::Deb, "img-two", "sltool", "1.0"));
        l.upsert(pin(Ecosystem::Py, "img-two", "slpy", "1.0"));
        if extra {
            l.upsert(pin(Ecosystem::Deb, "img-two", "slslow", "1.0"));
        }
        l.normalize();
        l
    };
    // Two apt transactions; the second lock adds slslow to the second.
    let manifest = write_manifest(
        d.path(),
        &[
            ("img-two", "sllib", Constraint::None, 1),
            ("img-two", "sltool", Constraint::None, 2),
            ("img-two", "slslow", Constraint::None, 2),
        ],
    );
    let run = |lock: &Lock, ws: &str| {
        let (o, log) = manifest_trial(w, d.path(), lock, ws, &manifest, "img-two");
        assert!(o.status.success(), "{}\n{log}", text(&o));
        log
    };
    let first = run(&lock_of(false), "ws1");
    assert_eq!(tally(&first).2, 0, "{first}");
    let log = run(&lock_of(true), "ws2");
    // apt 1 installs the same under pins that agree on all it holds; apt 2 changed.
    assert!(
        log.contains("img-two: step apt 1: cache hit") && log.contains("made under other pins"),
        "{log}"
    );
    assert!(!log.contains("img-two: step apt 1: passed"), "{log}");
    // apt 2 and pip are built (or found, when this daemon ran the test before).
    let (hits, built, failed) = tally(&log);
    assert_eq!((hits + built, failed), (3, 0), "{log}");
    // A pin no layer holds (a default pin) rebuilds nothing: both apt layers
    // are found by what they hold, the pip layer by its key, not mistaken
    // for the apt layer whose labels it inherits.
    let mut unused = lock_of(true);
    let mut p = Pin::new(Ecosystem::Deb, "slhello", "1.0");
    p.suite = Some(SUITE.into());
    unused.upsert(p);
    let log = run(&unused, "ws4");
    assert_eq!(tally(&log), (3, 0, 0), "{log}");
    assert!(log.contains("img-two: step pip: cache hit"), "{log}");
    // A pin that disagrees with what the earlier layer holds rebuilds it.
    let mut wrong = lock_of(true);
    wrong.upsert(pin(Ecosystem::Deb, "img-two", "sllib", "0.9"));
    let (o, log) = manifest_trial(w, d.path(), &wrong, "ws3", &manifest, "img-two");
    assert_eq!(o.status.code(), Some(1), "{}\n{log}", text(&o));
    assert!(!log.contains("img-two: step apt 1: cache hit"), "{log}");
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker and mmdebstrap; runs under CI or with --include-ignored"
)]
fn a_deb_the_tree_builds_is_stood_in_at_its_version_by_the_archives_package_or_an_empty_one() {
    if !docker_usable() {
        return;
    }
    let w = world();
    let d = tempfile::tempdir().unwrap();
    let mut lock = Lock::new("testbox", &"a".repeat(40), "2022-12-06");
    lock.upsert(pin(Ecosystem::Deb, "img-own", "slneedown", "1.0"));
    lock.normalize();
    // The image installs slneedown from the archive and the tree's slown 2.0.
    let manifest = write_manifest(
        d.path(),
        &[
            ("img-own", "slneedown", Constraint::None, 0),
            ("img-own", "slown", Constraint::Exact("2.0".into()), 0),
            ("img-own", "slghost", Constraint::Exact("3.0".into()), 0),
            ("img-own", "slowndev", Constraint::Exact("2.0".into()), 0),
        ],
    );
    let (o, log) = manifest_trial(w, d.path(), &lock, "ws", &manifest, "img-own");
    assert!(o.status.success(), "{}\n{log}", text(&o));
    assert!(log.contains("image img-own: passed"), "{log}");
    assert!(log.contains("stood in by a slown 2.0 stand-in"), "{log}");
    // slown's own files and maintainer scripts, at the tree's version.
    assert!(
        log.contains("stand-in slown 2.0: the archive's package repacked"),
        "{log}"
    );
    assert!(log.contains("Setting up slown (2.0)"), "{log}");
    assert!(
        log.contains("stand-in slghost 3.0: an empty package"),
        "{log}"
    );
    assert!(log.contains("Setting up slghost (3.0)"), "{log}");
    // The sibling's `slown (= 1.0)` follows the rebuild to 2.0.
    assert!(log.contains("Setting up slowndev (2.0)"), "{log}");
}

/// Proposes, per key, the first version of its list that no nogood forbids.
struct Versions {
    domains: BTreeMap<PinKey, Vec<String>>,
    nogoods: Vec<Vec<(PinKey, String)>>,
}

impl Search for Versions {
    type Key = PinKey;

    fn propose(&mut self) -> Result<Assignment<PinKey>, SearchError> {
        let mut a: Assignment<PinKey> = BTreeMap::new();
        for (k, vs) in &self.domains {
            let v = vs
                .iter()
                .find(|v| {
                    !self
                        .nogoods
                        .iter()
                        .any(|n| n.len() == 1 && n[0].0 == *k && &n[0].1 == *v)
                })
                .ok_or_else(|| SearchError::Unsat(format!("no version of {k} left")))?;
            a.insert(k.clone(), v.clone());
        }
        Ok(a)
    }

    fn forbid(&mut self, picks: Vec<(PinKey, String)>, _reason: &str) -> Forbid {
        self.nogoods.push(picks);
        Forbid::Learned
    }
}

/// The picks of one learned nogood.
type Picks = Vec<(PinKey, String)>;

/// Runs the lock loop from `template` with `key`'s versions newest first; the learned picks.
fn learn(template: Lock, key: &str, versions: &[&str]) -> (Assignment<PinKey>, Vec<Picks>, usize) {
    let w = world();
    let d = tempfile::tempdir().unwrap();
    let builder = LayersBuilder::new(config(w)).unwrap();
    let mut domains: BTreeMap<PinKey, Vec<String>> = LockStage::assignment_of(&template)
        .into_iter()
        .map(|(k, v)| (k, vec![v]))
        .collect();
    let k = domains.keys().find(|k| k.name == key).unwrap().clone();
    domains.insert(k, versions.iter().map(|v| v.to_string()).collect());
    let mut search = Versions {
        domains,
        nogoods: Vec::new(),
    };
    let ws = Workspace::new(&d.path().join("ws"));
    let journal = Journal::open(&d.path().join("journal")).unwrap();
    let triage = Triage::builtin().unwrap();
    let stage = LockStage::new(template);
    let learner = Learner {
        builder: &builder,
        journal: Some(&journal),
        workspace: &ws,
        triage: &triage,
        stage: &stage,
        config: LearnConfig {
            jobs: 1,
            max_builds: 5,
        },
        on_event: &|_| {},
    };
    let locked = learner.run(&mut search, None).unwrap();
    for l in &locked.learned {
        assert!(
            matches!(l.attribution, Attribution::Triage(_)),
            "{:?}",
            l.attribution
        );
    }
    let picks = locked.learned.iter().map(|l| l.picks.clone()).collect();
    (locked.assignment, picks, locked.builds)
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker and mmdebstrap; runs under CI or with --include-ignored"
)]
fn an_apt_conflict_with_the_base_is_learned_and_avoided() {
    if !docker_usable() {
        return;
    }
    let (a, learned, builds) = learn(chain_lock("2.0", "1.0"), "slhello", &["2.0", "1.0"]);
    let hello = a.iter().find(|(k, _)| k.name == "slhello").unwrap().1;
    assert_eq!(hello, "1.0");
    assert_eq!(builds, 2);
    assert_eq!(learned.len(), 1);
    assert_eq!(learned[0].len(), 1, "{learned:?}");
    assert_eq!(
        (learned[0][0].0.name.as_str(), learned[0][0].1.as_str()),
        ("slhello", "2.0")
    );
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker and mmdebstrap; runs under CI or with --include-ignored"
)]
fn a_pip_pin_failing_requires_python_is_learned_and_avoided() {
    if !docker_usable() {
        return;
    }
    let (a, learned, builds) = learn(chain_lock("1.0", "2.0"), "slpy", &["2.0", "1.0"]);
    let slpy = a.iter().find(|(k, _)| k.name == "slpy").unwrap().1;
    assert_eq!(slpy, "1.0");
    assert_eq!(builds, 2);
    assert_eq!(learned.len(), 1);
    assert_eq!(
        (learned[0][0].0.name.as_str(), learned[0][0].1.as_str()),
        ("slpy", "2.0")
    );
}

/// Containers (running or not) that process `pid` owns.
fn containers_owned_by(pid: u32) -> Vec<String> {
    let out = Command::new("docker")
        .args(["ps", "-a", "-q", "--filter"])
        .arg(format!("label=sonic-lock.owner-pid={pid}"))
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .map(String::from)
        .collect()
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs docker and mmdebstrap; runs under CI or with --include-ignored"
)]
fn a_killed_run_resumes_and_its_containers_are_removed() {
    if !docker_usable() {
        return;
    }
    let w = world();
    let d = tempfile::tempdir().unwrap();
    let mut lock = chain_lock("1.0", "1.0");
    // A step whose package takes seconds to configure: the kill lands inside it.
    lock.upsert(pin(Ecosystem::Deb, "img-slow", "slslow", "1.0"));
    lock.normalize();
    let mut child = trial_cmd(w, d.path(), &lock, "ws")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let pid = child.id();
    let mut seen = false;
    for _ in 0..1200 {
        let log = std::fs::read_dir(d.path().join("ws"))
            .into_iter()
            .flatten()
            .flatten()
            .any(|e| {
                let p = e.path().join("work/img-slow/1/step.log");
                std::fs::read_to_string(p).is_ok_and(|t| t.contains("Unpacking slslow"))
            });
        if log && !containers_owned_by(pid).is_empty() {
            seen = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(seen, "the slow step never started");
    // SIGKILL: the run cannot clean up; its step container stays behind.
    child.kill().unwrap();
    child.wait().unwrap();

    let o = trial_cmd(w, d.path(), &lock, "ws").output().unwrap();
    assert!(o.status.success(), "{}", text(&o));
    assert!(
        containers_owned_by(pid).is_empty(),
        "orphaned containers were not removed"
    );
    let log = log_of(&String::from_utf8_lossy(&o.stdout));
    let (hits, built, failed) = tally(&log);
    // img-base's two layers were committed before the kill; the slow one is built now.
    assert!(hits >= 2 && built >= 1 && failed == 0, "{log}");
    assert!(log.contains("image img-slow: passed"), "{log}");
}
