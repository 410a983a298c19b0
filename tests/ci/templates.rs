//! The `ci/` templates, run: each template's YAML is parsed and its steps executed
//! in order (see `support.rs`) in a temporary workspace, with the real
//! `sonic-lock` binary, against a loopback world (a sonic-buildimage repository,
//! a Debian snapshot archive and a PyPI; see `common::world`). The template's
//! inputs are substituted: repository URL, mirror URLs (the extra `lock`
//! options), the builder command and the date to lock as of.
//!
//! Nights: 2022-11-10 builds (the lock is committed); on 2022-11-25 hello 2.0-1
//! breaks the build and the bisection names it (the job fails, the report is
//! uploaded); a build that fails once and then passes is recorded as good
//! (bisect exit 1); a builder that cannot judge (125) fails the job without a
//! bisection.

use crate::common::loopback::Server;
use crate::common::world::{archive, registry, setup};
use crate::support::{AzureRun, GithubRun, JobRun, StepRun, run_azure, run_github};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.org"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

struct World {
    dir: tempfile::TempDir,
    srv: Server,
    reg: Server,
}

impl World {
    fn new() -> World {
        let dir = tempfile::tempdir().unwrap();
        setup(dir.path());
        // The repository the pipeline lives in (it keeps lockfiles/).
        let d = dir.path();
        git(d, &["init", "-q", "--bare", "-b", "master", "ops.git"]);
        git(d, &["clone", "-q", "ops.git", "seed"]);
        std::fs::write(d.join("seed/README"), "nightly\n").unwrap();
        git(&d.join("seed"), &["add", "README"]);
        git(&d.join("seed"), &["commit", "-qm", "start"]);
        git(&d.join("seed"), &["push", "-q", "origin", "master"]);
        World {
            dir,
            srv: archive(),
            reg: registry(),
        }
    }

    fn p(&self, rel: &str) -> PathBuf {
        self.dir.path().join(rel)
    }

    /// A builder script: `body` runs with the candidate in SONIC_LOCK_VERSIONS_DIR.
    fn builder(&self, name: &str, body: &str) -> PathBuf {
        let path = self.p(name);
        std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
        Command::new("chmod").arg("+x").arg(&path).status().unwrap();
        path
    }

    fn lock_args(&self) -> String {
        let b = &self.srv.base;
        format!(
            "--platforms-dir {} --suite bullseye --snapshot-url {b} --allow-unsigned --pypi-url {b} --github-url {b} --docker-registry {} --retries 1",
            self.p("platforms").display(),
            self.reg.base
        )
    }

    fn repo_url(&self) -> String {
        format!("file://{}", self.p("repo.git").display())
    }

    /// A fresh checkout of the pipeline's repository for one night.
    fn checkout(&self, night: &str) -> (PathBuf, PathBuf) {
        let root = self.p(night);
        std::fs::create_dir_all(root.join("tmp")).unwrap();
        git(
            &root,
            &[
                "clone",
                "-q",
                &self.p("ops.git").display().to_string(),
                "ws",
            ],
        );
        (root.join("ws"), root.join("tmp"))
    }

    /// The last good lock as committed to the pipeline's repository.
    fn committed_lock(&self) -> Option<String> {
        let out = Command::new("git")
            .args(["show", "master:lockfiles/testbox.lock"])
            .current_dir(self.p("ops.git"))
            .output()
            .unwrap();
        out.status
            .success()
            .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
    }

    fn github(&self, night: &str, date: &str, builder: &Path) -> (JobRun, PathBuf) {
        let (ws, tmp) = self.checkout(night);
        let vars = BTreeMap::from([
            ("SONIC_BUILDIMAGE_URL".to_string(), self.repo_url()),
            ("SONIC_LOCK_LOCK_ARGS".to_string(), self.lock_args()),
            (
                "SONIC_LOCK_BUILDER".to_string(),
                builder.display().to_string(),
            ),
            ("SONIC_LOCK_DATE".to_string(), date.to_string()),
        ]);
        let workflow = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("ci/github-actions/nightly-lock-and-bisect.yml");
        let run = run_github(&GithubRun {
            workflow: &workflow,
            workspace: &ws,
            scratch: &tmp,
            vars,
            inputs: BTreeMap::from([("platform".to_string(), "testbox".to_string())]),
            bin_dir: bin_dir(),
        });
        (run, ws)
    }

    fn azure(&self, night: &str, date: &str, builder: &Path) -> (JobRun, PathBuf) {
        let (ws, tmp) = self.checkout(night);
        let pipeline_ws = self.p(night).join("pipeline");
        std::fs::create_dir_all(&pipeline_ws).unwrap();
        let parameters = BTreeMap::from([
            ("platform".to_string(), "testbox".to_string()),
            ("sonicBuildimageUrl".to_string(), self.repo_url()),
            ("lockArgs".to_string(), self.lock_args()),
            ("builder".to_string(), builder.display().to_string()),
            ("lockDate".to_string(), date.to_string()),
        ]);
        let pipeline = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("ci/azure-pipelines/nightly-lock-and-bisect.yml");
        let run = run_azure(&AzureRun {
            pipeline: &pipeline,
            sources: &ws,
            pipeline_workspace: &pipeline_ws,
            scratch: &tmp,
            parameters,
            bin_dir: bin_dir(),
        });
        (run, ws)
    }
}

fn bin_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The build breaks when hello 2.0-1 is in the candidate.
const BREAKS_ON_HELLO_2: &str = "if grep -rqx 'hello==2.0-1' \"$SONIC_LOCK_VERSIONS_DIR\"; then echo 'fatal error: foo.h: No such file or directory'; exit 1; fi; echo built";

fn exists(p: &Path) -> bool {
    p.exists()
}

fn check_built_night(run: &JobRun, ws: &Path, names: [&str; 4]) {
    let [tonight, bisect, record, fail] = names;
    assert!(!run.failed, "{}", run.log);
    assert!(!run.log.contains("command not found"), "{}", run.log);
    assert_eq!(run.step(tonight), &StepRun::Exited(0), "{}", run.log);
    assert_eq!(run.step(bisect), &StepRun::Skipped);
    assert_eq!(run.step(record), &StepRun::Exited(0), "{}", run.log);
    assert_eq!(run.step(fail), &StepRun::Skipped);
    // Uploaded: the lock, the versions tree and the build log.
    for a in ["tonight.lock", "tonight-versions", "tonight-build.log"] {
        let p = ws.join(a);
        assert!(
            run.artifacts.contains(&p) && exists(&p),
            "{a}: {:?}",
            run.artifacts
        );
    }
    assert!(
        std::fs::read_to_string(ws.join("tonight-build.log"))
            .unwrap()
            .contains("built")
    );
}

fn check_broken_night(run: &JobRun, ws: &Path, names: [&str; 4]) {
    let [tonight, bisect, record, fail] = names;
    assert!(run.failed, "a culprit fails the job:\n{}", run.log);
    assert!(!run.log.contains("command not found"), "{}", run.log);
    assert_eq!(run.step(tonight), &StepRun::Exited(0), "{}", run.log);
    assert_eq!(run.step(bisect), &StepRun::Exited(0), "{}", run.log);
    assert_eq!(run.step(record), &StepRun::Skipped);
    assert_eq!(run.step(fail), &StepRun::Exited(1));
    assert!(
        run.log.contains("the culprit is in the bisection report"),
        "{}",
        run.log
    );
    let report = ws.join("bisect-report");
    assert!(run.artifacts.contains(&report), "{:?}", run.artifacts);
    for f in ["report.md", "report.html", "report.json", "timeline.svg"] {
        assert!(report.join(f).is_file(), "{f}");
    }
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(report.join("report.json")).unwrap())
            .unwrap();
    assert_eq!(j["outcome"]["status"], "culprit");
    let c = j["outcome"]["culprit_sets"][0]["changes"][0]
        .as_u64()
        .unwrap() as usize;
    assert!(
        j["changes"][c]["summary"]
            .as_str()
            .unwrap()
            .contains("hello"),
        "{}",
        j["changes"][c]
    );
    assert_eq!(
        j["outcome"]["culprit_sets"][0]["confirmation"]["runs"], 2,
        "the template confirms twice"
    );
    assert!(run.summary.contains("culprit found") && run.summary.contains("hello"));
}

const GH: [&str; 4] = [
    "Lock tonight's versions and build",
    "Bisect against the last lock that built",
    "Record tonight's lock as the last one that built",
    "Fail the job when tonight's lock does not build",
];

const AZ: [&str; 4] = [
    "Lock tonight's versions and build",
    "Bisect against the last lock that built",
    "Record tonight's lock as the last one that built",
    "Fail when tonight's lock does not build",
];

#[test]
fn github_actions_nights_lock_build_bisect_and_record() {
    let w = World::new();
    let builder = w.builder("build.sh", BREAKS_ON_HELLO_2);

    // Night 1: builds; the lock becomes the last good one.
    let (run, ws) = w.github("night1", "2022-11-10", &builder);
    check_built_night(&run, &ws, GH);
    let good = w.committed_lock().expect("lock committed");
    assert!(
        good.contains("name = \"hello\"\nversion = \"1.0-1\""),
        "{good}"
    );
    assert!(
        std::fs::read_to_string(
            ws.join("tonight-versions/dockers/sonic-slave-bullseye/versions-deb-bullseye-amd64")
        )
        .unwrap()
        .contains("hello==1.0-1")
    );

    // Night 2: hello 2.0-1 breaks it; bisect names it and the job fails.
    let (run, ws) = w.github("night2", "2022-11-25", &builder);
    check_broken_night(&run, &ws, GH);
    assert_eq!(
        w.committed_lock().as_deref(),
        Some(good.as_str()),
        "not recorded"
    );

    // Night 3: hello 2.0-1 fails only twice, then builds: the final verdicts do
    // not reproduce, bisect exits 3 and the job fails without blaming anything.
    let flaky = w.builder(
        "flaky.sh",
        &format!(
            "if grep -rqx 'hello==2.0-1' \"$SONIC_LOCK_VERSIONS_DIR\"; then n=$(cat {c} 2>/dev/null || echo 0); echo $((n+1)) > {c}; if [ $n -lt 2 ]; then echo 'fatal error'; exit 1; fi; fi; echo built",
            c = w.p("flaky-count").display()
        ),
    );
    let (run, ws) = w.github("night3", "2022-11-25", &flaky);
    assert!(run.failed, "{}", run.log);
    assert_eq!(run.step(GH[1]), &StepRun::Exited(0), "{}", run.log);
    assert_eq!(run.step(GH[2]), &StepRun::Skipped);
    assert_eq!(run.step(GH[3]), &StepRun::Exited(1));
    assert!(run.log.contains("flaky or undecidable"), "{}", run.log);
    let j: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(ws.join("bisect-report/report.json")).unwrap(),
    )
    .unwrap();
    assert!(
        j["outcome"]["status"] == "flaky" || j["outcome"]["status"] == "undecidable",
        "{}",
        j["outcome"]
    );
    assert_eq!(
        j["changes"].as_array().unwrap().len(),
        4,
        "{}",
        j["changes"]
    );
    assert!(j["outcome"]["culprit_sets"].as_array().unwrap().is_empty());

    // Night 4: tonight's build fails once, then builds: bisect exits 1, the lock is recorded.
    let once = w.builder(
        "once.sh",
        &format!(
            "if [ ! -f {m} ]; then touch {m}; echo 'network hiccup'; exit 1; fi; echo built",
            m = w.p("failed-once").display()
        ),
    );
    let (run, _) = w.github("night4", "2022-11-25", &once);
    assert!(!run.failed, "{}", run.log);
    assert_eq!(run.step(GH[1]), &StepRun::Exited(0));
    assert_eq!(run.step(GH[2]), &StepRun::Exited(0), "{}", run.log);
    assert_eq!(run.step(GH[3]), &StepRun::Skipped);
    assert!(w.committed_lock().unwrap().contains("version = \"2.0-1\""));

    // Night 5: the builder cannot judge (125): no bisection, the job fails.
    let cannot = w.builder("cannot.sh", "echo 'docker is not usable'; exit 125");
    let (run, ws) = w.github("night5", "2022-11-25", &cannot);
    assert!(run.failed);
    assert_eq!(run.step(GH[1]), &StepRun::Skipped);
    assert_eq!(run.step(GH[3]), &StepRun::Exited(1));
    assert!(
        run.log.contains("tonight's build: skip (exit 125)"),
        "{}",
        run.log
    );
    assert!(!ws.join("bisect-report").exists());

    // Night 6: a corrupt last good lock is an input error (bisect exit 2): the
    // bisect step itself fails the job, and nothing is recorded.
    let seed = w.p("seed");
    git(&seed, &["pull", "-q"]);
    std::fs::write(
        seed.join("lockfiles/testbox.lock"),
        "version = 1\n[[pin]]\n",
    )
    .unwrap();
    git(&seed, &["commit", "-qam", "break the lock"]);
    git(&seed, &["push", "-q", "origin", "master"]);
    let (run, _) = w.github("night6", "2022-11-25", &builder);
    assert!(run.failed);
    assert_eq!(run.step(GH[1]), &StepRun::Exited(2), "{}", run.log);
    assert_eq!(run.step(GH[2]), &StepRun::Skipped);
    assert_eq!(run.step(GH[3]), &StepRun::Skipped);
    assert!(
        run.log.contains("last-good.lock"),
        "the error names the file: {}",
        run.log
    );
}

#[test]
fn azure_pipelines_nights_lock_build_bisect_and_record() {
    let w = World::new();
    let builder = w.builder("build.sh", BREAKS_ON_HELLO_2);
    let (run, ws) = w.azure("night1", "2022-11-10", &builder);
    check_built_night(&run, &ws, AZ);
    let good = w.committed_lock().expect("lock committed");
    assert!(
        good.contains("name = \"hello\"\nversion = \"1.0-1\""),
        "{good}"
    );

    let (run, ws) = w.azure("night2", "2022-11-25", &builder);
    check_broken_night(&run, &ws, AZ);
    assert_eq!(
        w.committed_lock().as_deref(),
        Some(good.as_str()),
        "not recorded"
    );
    // The builder cannot judge (125): no bisection, the run fails.
    let cannot = w.builder("cannot.sh", "echo 'docker is not usable'; exit 125");
    let (run, ws) = w.azure("night3", "2022-11-25", &cannot);
    assert!(run.failed);
    assert_eq!(run.step(AZ[1]), &StepRun::Skipped);
    assert_eq!(run.step(AZ[2]), &StepRun::Skipped);
    assert_eq!(run.step(AZ[3]), &StepRun::Exited(1));
    assert!(
        run.log.contains("tonight's build: skip (exit 125)"),
        "{}",
        run.log
    );
    assert!(!run.log.contains("command not found"), "{}", run.log);
    assert!(!ws.join("bisect-report").exists());

    // Tonight's build fails once, then builds: bisect exits 1 and the lock is recorded.
    let once = w.builder(
        "once.sh",
        &format!(
            "if [ ! -f {m} ]; then touch {m}; echo 'network hiccup'; exit 1; fi; echo built",
            m = w.p("failed-once").display()
        ),
    );
    let (run, _) = w.azure("night4", "2022-11-25", &once);
    assert!(!run.failed, "{}", run.log);
    assert_eq!(run.step(AZ[1]), &StepRun::Exited(0));
    assert_eq!(run.step(AZ[2]), &StepRun::Exited(0), "{}", run.log);
    assert_eq!(run.step(AZ[3]), &StepRun::Skipped);
    assert!(w.committed_lock().unwrap().contains("version = \"2.0-1\""));
}

#[test]
fn expressions_follow_the_services_rules() {
    use crate::support::{Env, Val, eval, interpolate};
    struct E;
    impl Env for E {
        fn lookup(&self, path: &str) -> Val {
            match path {
                "vars.SET" => Val::Str("x".into()),
                "steps.a.outputs.rc" => Val::Str("0".into()),
                "variables.R" => Val::Str("Fail".into()),
                _ => Val::Null,
            }
        }
        fn call(&self, name: &str, args: &[Val]) -> Val {
            match name {
                "success" => Val::Bool(true),
                "eq" => Val::Bool(args[0] == args[1]),
                "and" => Val::Bool(args.iter().all(|a| *a == Val::Bool(true))),
                _ => Val::Null,
            }
        }
    }
    assert_eq!(interpolate("${{ vars.UNSET || 'dflt' }}/y", &E), "dflt/y");
    assert_eq!(interpolate("${{ vars.SET || 'dflt' }}", &E), "x");
    assert_eq!(eval("steps.a.outputs.rc != '0'", &E), Val::Bool(false));
    assert_eq!(eval("steps.b.outputs.rc != '1'", &E), Val::Bool(true));
    assert_eq!(
        eval("success() && (variables['R'] == 'fail')", &E),
        Val::Bool(true)
    );
    assert_eq!(eval("!(vars.SET == 'x')", &E), Val::Bool(false));
}
