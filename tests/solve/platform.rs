//! `sonic-lock solve --platform --sonic-repo`: crawl and index at the cutoff as
//! `lock` does, then solve every image's apt transactions and pip declarations
//! together with the Requires-Dist that PyPI publishes (PEP 658 metadata on a
//! loopback index), and answer `why` / `why-not` from the result.

use crate::common::loopback::{self, Server, file, redirect, serve, status, suite_files};
use crate::common::tree::{FUNCTIONS, Files, PLATFORM_TOML, SLAVE_MK, commit, init_bare};
use std::collections::HashMap;
use std::process::Command;

const COMMIT_TIME: i64 = 1_669_896_000; // 2022-12-01T12:00:00Z
const SNAPSHOT: &str = "20221201T000000Z";

/// (name, version, upload year, Requires-Dist lines, Requires-Python)
type Release = (
    &'static str,
    &'static str,
    &'static str,
    &'static [&'static str],
    Option<&'static str>,
);

const PYPI: &[Release] = &[
    // app 2.0 needs lib below 2 and a YAML library; 3.0 came after the cutoff.
    ("app", "1.0", "2020", &["lib"], None),
    ("app", "2.0", "2022", &["lib<2", "PyYAML>=5"], None),
    ("app", "3.0", "2023", &[], None),
    // lib 1.5 needs a newer Python than bullseye's 3.9; 1.2 brings helper.
    ("lib", "1.0", "2019", &[], None),
    (
        "lib",
        "1.2",
        "2020",
        &["helper>=1; python_version >= '3'"],
        None,
    ),
    ("lib", "1.5", "2021", &[], Some(">=3.10")),
    ("lib", "2.0", "2022", &[], None),
    ("helper", "1.0", "2020", &[], None),
    ("pyyaml", "5.3.1", "2020", &[], None),
    ("pyyaml", "5.4.1", "2021", &[], None),
];

fn tree(pip: &str) -> Files {
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
            format!(
                "FROM debian:bullseye\nRUN apt-get update && apt-get install -y \\\n        hello \\\n        python3-yaml\nRUN pip3 install {pip}\n"
            ),
        )
        .add("build_debian.sh", "#!/bin/bash\n");
    f
}

fn world() -> Server {
    let (rel, files) = suite_files(
        "bullseye",
        "Thu, 01 Dec 2022 00:00:00 UTC",
        Some("Thu, 08 Dec 2022 00:00:00 UTC"),
        &[
            ("hello", "2.10-2"),
            ("python3-yaml", "5.3.1-5"),
            ("libc6", "2.31-13"),
        ],
    );
    let mut site: HashMap<String, Vec<u8>> = HashMap::new();
    let base = format!("/archive/debian/{SNAPSHOT}/dists/bullseye");
    site.insert(format!("{base}/Release"), rel.into_bytes());
    for (p, b) in files {
        site.insert(format!("{base}/{p}"), b);
    }
    let mut projects: HashMap<&str, Vec<String>> = HashMap::new();
    for (name, v, year, reqs, rp) in PYPI {
        let mut meta = format!("Metadata-Version: 2.1\nName: {name}\nVersion: {v}\n");
        for r in *reqs {
            meta.push_str(&format!("Requires-Dist: {r}\n"));
        }
        if let Some(rp) = rp {
            meta.push_str(&format!("Requires-Python: {rp}\n"));
        }
        let whl = format!("{name}-{v}-py3-none-any.whl");
        site.insert(format!("/files/{whl}.metadata"), meta.clone().into_bytes());
        let rp_json = rp
            .map(|r| format!(r#","requires-python":"{r}""#))
            .unwrap_or_default();
        projects.entry(name).or_default().push(format!(
            r#"{{"filename":"{whl}","url":"/files/{whl}","hashes":{{"sha256":"{}"}},"upload-time":"{year}-06-01T00:00:00Z","core-metadata":{{"sha256":"{}"}}{rp_json}}}"#,
            loopback::sha256(whl.as_bytes()),
            loopback::sha256(meta.as_bytes()),
        ));
    }
    for (name, files) in projects {
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
    srv: Server,
}

impl Setup {
    fn new(pip: &str) -> Setup {
        let dir = tempfile::tempdir().unwrap();
        let r = init_bare(&dir.path().join("repo.git"));
        commit(&r, &tree(pip), "first", COMMIT_TIME);
        std::fs::create_dir_all(dir.path().join("platforms")).unwrap();
        std::fs::write(dir.path().join("platforms/testbox.toml"), PLATFORM_TOML).unwrap();
        Setup { dir, srv: world() }
    }

    fn p(&self, rel: &str) -> String {
        self.dir.path().join(rel).display().to_string()
    }

    fn run(&self, args: &[&str]) -> (i32, String, String) {
        let o = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
            .args(args)
            .output()
            .unwrap();
        (
            o.status.code().unwrap_or(-1),
            String::from_utf8_lossy(&o.stdout).into_owned(),
            String::from_utf8_lossy(&o.stderr).into_owned(),
        )
    }

    fn solve(&self, extra: &[&str]) -> (i32, String, String) {
        let mut args = vec![
            "solve".to_string(),
            "--platform".into(),
            "testbox".into(),
            "--platforms-dir".into(),
            self.p("platforms"),
            "--sonic-repo".into(),
            self.p("repo.git"),
            "--suite".into(),
            "bullseye".into(),
            "--snapshot-url".into(),
            self.srv.base.clone(),
            "--allow-unsigned".into(),
            "--pypi-url".into(),
            self.srv.base.clone(),
            "--docker-registry".into(),
            self.srv.base.clone(),
            "--retries".into(),
            "1".into(),
            "--cache".into(),
            self.p("cache"),
            "--quiet".into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.run(&args)
    }
}

fn py_pins(lock: &sonic_lock::lock::Lock) -> Vec<(String, String)> {
    lock.pins
        .iter()
        .filter(|p| p.ecosystem == sonic_lock::manifest::Ecosystem::Py)
        .map(|p| (p.name.clone(), p.version.clone()))
        .collect()
}

#[test]
fn solve_platform_pins_python_through_requires_dist_and_answers_why() {
    let s = Setup::new("app");
    let (code, stdout, stderr) = s.solve(&[
        "--lock-out",
        &s.p("candidate.lock"),
        "--manifest-out",
        &s.p("manifest.json"),
        "--universe-out",
        &s.p("universe.json"),
    ]);
    assert_eq!(code, 0, "stdout:\n{stdout}\nstderr:\n{stderr}");
    let lock = sonic_lock::lock::Lock::read(std::path::Path::new(&s.p("candidate.lock"))).unwrap();
    // app 2.0 (3.0 is after the cutoff) forces lib below 2; lib 1.5 needs Python 3.10,
    // so 1.2, which brings helper; python3-yaml 5.3.1 stays (pip keeps what Debian installed).
    assert_eq!(
        py_pins(&lock),
        vec![
            ("app".into(), "2.0".into()),
            ("helper".into(), "1.0".into()),
            ("lib".into(), "1.2".into()),
            ("pyyaml".into(), "5.3.1".into()),
        ]
    );
    let lib = lock.pins.iter().find(|p| p.name == "lib").unwrap();
    assert_eq!(lib.dependents, vec!["app".to_string()]);
    assert_eq!(lib.image.as_deref(), Some("sonic-slave-bullseye"));
    assert_eq!(lib.python.as_deref(), Some("py3"));
    assert!(
        lib.url
            .as_deref()
            .unwrap_or("")
            .ends_with("/files/lib-1.2-py3-none-any.whl")
    );
    let app = lock.pins.iter().find(|p| p.name == "app").unwrap();
    assert!(
        app.why[0].starts_with("sonic-slave-bullseye/Dockerfile.j2:"),
        "{:?}",
        app.why
    );
    // Metadata was read for the picks only: never for lib 2.0 or app 1.0.
    let reqs: Vec<String> = s.srv.requests().into_iter().map(|r| r.path).collect();
    assert!(
        reqs.iter()
            .any(|p| p == "/files/lib-1.2-py3-none-any.whl.metadata"),
        "{reqs:?}"
    );
    assert!(
        !reqs
            .iter()
            .any(|p| p == "/files/app-1.0-py3-none-any.whl.metadata"),
        "{reqs:?}"
    );
    assert!(lock.pins.iter().any(|p| p.name == "hello"));

    // why / why-not against the written result, without the network.
    let common = [
        "--universe",
        &s.p("universe.json"),
        "--manifest",
        &s.p("manifest.json"),
        "--image",
        "sonic-slave-bullseye",
    ];
    let mut why = vec!["why", "helper"];
    why.extend(common);
    let (code, out, err) = s.run(&why);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(
        out.contains("app=2.0") && out.contains("lib=1.2") && out.contains("helper=1.0"),
        "{out}"
    );
    // lib 2.0 is possible (with app 1.0); lib 1.5 is not on Python 3.9.
    let mut why_not = vec!["why-not", "lib=2.0"];
    why_not.extend(common);
    let (code, out, err) = s.run(&why_not);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("possible"), "{out}");
    let mut why_not = vec!["why-not", "lib=1.5"];
    why_not.extend(common);
    let (code, out, err) = s.run(&why_not);
    assert_eq!(code, 1, "{out}\n{err}");
    assert!(
        out.contains("lib=1.5 depends on python (>=3.10)")
            && out.contains("which the image's Python 3.9.2 does not satisfy"),
        "{out}"
    );
    let mut why_deb = vec!["why", "hello"];
    why_deb.extend(common);
    let (code, out, err) = s.run(&why_deb);
    assert_eq!(code, 0, "{out}\n{err}");
    assert!(out.contains("hello=2.10-2"), "{out}");
}

#[test]
fn solve_platform_explains_a_pin_that_contradicts_a_requirement() {
    // Unpinned, app would fall back to 1.0; pinned, lib==2.0 contradicts app 2.0's `lib<2`.
    let s = Setup::new("'app==2.0' 'lib==2.0'");
    let (code, stdout, stderr) = s.solve(&["--lock-out", &s.p("candidate.lock")]);
    assert_eq!(code, 1, "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("pip has no solution"), "{stdout}");
    // Both the pin's line and app's metadata are named.
    assert!(
        stdout.contains("sonic-slave-bullseye/Dockerfile.j2:"),
        "{stdout}"
    );
    assert!(stdout.contains("lib"), "{stdout}");
    assert!(!std::path::Path::new(&s.p("candidate.lock")).exists());
}

#[test]
fn go_minimal_version_selection_reads_go_mod_files_from_the_proxy() {
    use sonic_lock::source::cache::Cache;
    use sonic_lock::source::go::GoProxy;
    use sonic_lock::source::http::{Http, HttpConfig};
    let mut site: HashMap<String, Vec<u8>> = HashMap::new();
    // Upper-case letters are escaped as `!x` in proxy paths.
    site.insert(
        "/github.com/!acme/a/@v/v1.0.0.mod".into(),
        b"module github.com/Acme/a\n\ngo 1.16\n\nrequire (\n\tgolang.org/x/net v0.2.0\n\tgithub.com/c/d v1.1.0 // indirect\n)\nreplace github.com/c/d => ../d\n".to_vec(),
    );
    site.insert(
        "/golang.org/x/net/@v/v0.2.0.mod".into(),
        b"module golang.org/x/net\n\nrequire golang.org/x/text v0.3.7\n".to_vec(),
    );
    site.insert(
        "/golang.org/x/text/@v/v0.3.7.mod".into(),
        b"module golang.org/x/text\n".to_vec(),
    );
    site.insert(
        "/golang.org/x/text/@v/v0.3.3.mod".into(),
        b"module golang.org/x/text\n".to_vec(),
    );
    let srv = loopback::site(site);
    let dir = tempfile::tempdir().unwrap();
    let cfg = HttpConfig {
        retries: 1,
        ..HttpConfig::default()
    };
    let http =
        std::sync::Arc::new(Http::new(cfg, Cache::open(&dir.path().join("c")).unwrap()).unwrap());
    let proxy = GoProxy::new(http, &srv.base);
    // A dependency's replace directive does not apply: c/d is left out.
    assert_eq!(
        proxy.requires("github.com/Acme/a", "v1.0.0").unwrap(),
        vec![("golang.org/x/net".to_string(), "v0.2.0".to_string())]
    );
    let read = |m: &str, v: &str| proxy.requires(m, v).map_err(|e| e.to_string());
    let roots = vec![
        ("github.com/Acme/a".to_string(), "v1.0.0".to_string()),
        ("golang.org/x/text".to_string(), "v0.3.3".to_string()),
        ("example.com/gone".to_string(), "v1.0.0".to_string()),
    ];
    let bl = sonic_lock::solve::mvs::select(&roots, Some(&read));
    // x/text: the main module asks for v0.3.3, x/net's go.mod for v0.3.7; MVS takes the higher.
    assert_eq!(bl.selected["golang.org/x/text"], "v0.3.7");
    assert_eq!(bl.selected["golang.org/x/net"], "v0.2.0");
    assert_eq!(
        bl.required_by["golang.org/x/text"]
            .iter()
            .collect::<Vec<_>>(),
        vec!["golang.org/x/net"]
    );
    // A go.mod the proxy does not have is reported, not guessed.
    assert_eq!(bl.notes.len(), 1, "{:?}", bl.notes);
    assert!(
        bl.notes[0].contains("example.com/gone@v1.0.0"),
        "{:?}",
        bl.notes
    );
}

#[test]
fn solve_manifest_fetches_python_metadata_on_request() {
    let srv = world();
    let dir = tempfile::tempdir().unwrap();
    let p = |rel: &str| dir.path().join(rel).display().to_string();
    std::fs::write(
        p("Packages"),
        "Package: hello\nVersion: 2.10-2\nArchitecture: amd64\n",
    )
    .unwrap();
    let m = serde_json::json!({
        "schema_version": 1, "platform": "testbox", "commit": "a".repeat(40),
        "commit_date": "2022-12-01T12:00:00Z",
        "dependencies": [{
            "ecosystem": "py", "name": "App", "constraint": { "kind": "none" }, "pinned": false,
            "origin": { "file": "dockers/docker-x/Dockerfile.j2", "line": 4 },
            "context": { "image": "docker-x", "suite": "bullseye", "python": "py3" }, "attrs": {}
        }],
        "diagnostics": []
    });
    std::fs::write(p("manifest.json"), serde_json::to_vec(&m).unwrap()).unwrap();
    let base = [
        "solve",
        "--packages",
        &p("Packages"),
        "--manifest",
        &p("manifest.json"),
        "--lock-out",
        &p("c.lock"),
    ];
    // Without --fetch-metadata the universe is all there is: app is unknown there.
    let o = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(base)
        .output()
        .unwrap();
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(base)
        .args([
            "--fetch-metadata",
            "--pypi-url",
            &srv.base,
            "--cache",
            &p("cache"),
            "--retries",
            "1",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let lock = sonic_lock::lock::Lock::read(std::path::Path::new(&p("c.lock"))).unwrap();
    // No python3-yaml in this image: PyYAML comes from PyPI, the newest at the cutoff.
    assert_eq!(
        py_pins(&lock),
        vec![
            ("app".into(), "2.0".into()),
            ("helper".into(), "1.0".into()),
            ("lib".into(), "1.2".into()),
            ("pyyaml".into(), "5.4.1".into()),
        ]
    );
}
