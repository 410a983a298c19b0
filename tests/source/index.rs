//! `sonic-lock index` and `sonic-lock cache` end to end against loopback
//! servers: snapshot.debian.org layout, PyPI Simple JSON and a Go proxy;
//! then offline from the cache, and from a cache moved as one file.

use crate::common::loopback::{self, *};
use crate::common::run;
use std::collections::HashMap;
use std::path::Path;

fn manifest(dir: &Path, git_url: &str) -> std::path::PathBuf {
    let dep = |eco: &str,
               name: &str,
               kind: &str,
               value: Option<&str>,
               line: u32,
               suite: Option<&str>| {
        let c = match value {
            Some(v) => format!(r#"{{"kind":"{kind}","value":"{v}"}}"#),
            None => format!(r#"{{"kind":"{kind}"}}"#),
        };
        let ctx = match suite {
            Some(s) => format!(r#"{{"suite":"{s}"}}"#),
            None => "{}".into(),
        };
        format!(
            r#"{{"ecosystem":"{eco}","name":"{name}","constraint":{c},"pinned":false,"origin":{{"file":"rules/x.mk","line":{line}}},"context":{ctx}}}"#
        )
    };
    let deps = [
        dep("deb", "hello", "none", None, 1, Some("bullseye")),
        dep(
            "deb",
            "libmnl0:amd64",
            "exact",
            Some("1.0.4-3"),
            2,
            Some("bullseye"),
        ),
        dep(
            "deb",
            "libmnl0",
            "exact",
            Some("9.9-9"),
            3,
            Some("bullseye"),
        ),
        dep("deb", "vanished", "none", None, 4, Some("bullseye")),
        dep("deb-src", "hello", "none", None, 5, Some("bullseye")),
        dep("py", "Demo", "range", Some(">=1.0,<3"), 6, None),
        dep("py", "demo", "exact", Some("3.0"), 7, None),
        dep(
            "go",
            "github.com/Azure/go-autorest",
            "exact",
            Some("v0.2.0"),
            8,
            None,
        ),
        dep("git", git_url, "ref", Some("master"), 9, None),
        dep(
            "go",
            "example.com/pseudo",
            "exact",
            Some("v0.0.0-20210301100000-abcdefabcdef"),
            11,
            None,
        ),
        dep(
            "go",
            "example.com/pseudo",
            "exact",
            Some("v0.0.0-20230301100000-abcdefabcdef"),
            12,
            None,
        ),
        dep(
            "docker",
            "debian:bullseye",
            "ref",
            Some("bullseye"),
            10,
            None,
        ),
    ];
    let m = format!(
        r#"{{"schema_version":1,"platform":"wedge100bf-32x","commit":"586d715f172b1b72e9fc1e7b55625e2e5af590c2","commit_date":"2022-12-06T08:47:31Z","dependencies":[{}],"diagnostics":[]}}"#,
        deps.join(",")
    );
    let p = dir.join("manifest.json");
    std::fs::write(&p, m).unwrap();
    p
}

fn services() -> Server {
    let (rel, files) = suite_files(
        "bullseye",
        "Thu, 01 Dec 2022 00:00:00 UTC",
        Some("Thu, 08 Dec 2022 00:00:00 UTC"),
        &[("hello", "2.10-2"), ("libmnl0", "1.0.4-3")],
    );
    let mut site: HashMap<String, Vec<u8>> = HashMap::new();
    let base = "/archive/debian/20221201T000000Z/dists/bullseye";
    site.insert(format!("{base}/Release"), rel.into_bytes());
    for (p, b) in files {
        site.insert(format!("{base}/{p}"), b);
    }
    let simple = r#"{"meta":{"api-version":"1.1"},"name":"demo","files":[
 {"filename":"demo-1.0.tar.gz","url":"/files/demo-1.0.tar.gz","hashes":{},"upload-time":"2020-01-01T00:00:00Z"},
 {"filename":"demo-3.0.tar.gz","url":"/files/demo-3.0.tar.gz","hashes":{},"upload-time":"2023-01-01T00:00:00Z"}]}"#;
    site.insert("/simple/demo/".into(), simple.as_bytes().to_vec());
    site.insert(
        "/example.com/pseudo/@v/v0.0.0-20210301100000-abcdefabcdef.info".into(),
        br#"{"Version":"v0.0.0-20210301100000-abcdefabcdef","Time":"2021-03-01T10:00:00Z"}"#
            .to_vec(),
    );
    site.insert(
        "/example.com/pseudo/@v/v0.0.0-20230301100000-abcdefabcdef.info".into(),
        br#"{"Version":"v0.0.0-20230301100000-abcdefabcdef","Time":"2023-03-01T10:00:00Z"}"#
            .to_vec(),
    );
    site.insert(
        "/mr/binary/libmnl0/".into(),
        br#"{"binary":"libmnl0","result":[{"binary_version":"9.9-9","name":"libmnl0","source":"libmnl","version":"9.9-9"},{"binary_version":"1.0.4-3","name":"libmnl0","source":"libmnl","version":"1.0.4-3"}]}"#.to_vec(),
    );
    site.insert(
        "/mr/binary/libmnl0/9.9-9/binfiles?fileinfo=1".into(),
        br#"{"fileinfo":{"cccccccccccccccccccccccccccccccccccccccc":[{"archive_name":"debian","first_seen":"20230301T000000Z","name":"libmnl0_9.9-9_amd64.deb","path":"/pool/main/libm/libmnl","size":9}]},"result":[{"architecture":"amd64","hash":"cccccccccccccccccccccccccccccccccccccccc"}]}"#.to_vec(),
    );
    site.insert(
        "/github.com/!azure/go-autorest/@v/list".into(),
        b"v0.2.0\n".to_vec(),
    );
    site.insert(
        "/github.com/!azure/go-autorest/@v/v0.2.0.info".into(),
        br#"{"Version":"v0.2.0","Time":"2021-03-01T10:00:00Z"}"#.to_vec(),
    );
    serve(move |req, _| {
        if let Some(tail) = req.path.strip_prefix("/archive/debian/") {
            // Non-exact timestamps redirect to the snapshot at or before.
            let mut it = tail.splitn(2, '/');
            let (ts, rest) = (it.next().unwrap_or(""), it.next().unwrap_or(""));
            if ts != "20221201T000000Z" {
                return if ts > "20221201T000000Z" {
                    redirect(&format!("/archive/debian/20221201T000000Z/{rest}"))
                } else {
                    status(404)
                };
            }
        }
        match site.get(&req.path) {
            Some(b) => file(req, b),
            None => status(404),
        }
    })
}

fn git_repo(dir: &Path) -> String {
    let repo = git2::Repository::init(dir).unwrap();
    let sig =
        git2::Signature::new("t", "t@example.org", &git2::Time::new(1_640_995_200, 0)).unwrap();
    let tree = repo
        .find_tree(repo.treebuilder(None).unwrap().write().unwrap())
        .unwrap();
    repo.commit(Some("refs/heads/master"), &sig, &sig, "init", &tree, &[])
        .unwrap();
    dir.display().to_string()
}

#[test]
fn index_reports_counts_snapshot_and_missing_then_works_offline_and_from_an_export() {
    let d = tempfile::tempdir().unwrap();
    let srv = services();
    let mut r = loopback::registry::Registry::default();
    let (_, debian) = r.multi(
        "library/debian",
        "bullseye",
        &[("amd64", None, "2022-11-01T00:00:00Z")],
    );
    let reg = r.serve(true);
    let git_url = git_repo(&d.path().join("repo"));
    let m = manifest(d.path(), &git_url);
    let cache = d.path().join("cache");
    let out = d.path().join("index.json");
    let common = |cache: &Path, extra: &[&str]| -> Vec<String> {
        let mut v: Vec<String> = [
            "index",
            "--platform",
            "wedge100bf-32x",
            "--manifest",
            m.to_str().unwrap(),
            "--suite",
            "bullseye",
            "--snapshot-url",
            &srv.base,
            "--allow-unsigned",
            "--pypi-url",
            &srv.base,
            "--goproxy",
            &srv.base,
            "--docker-registry",
            &reg.base,
            "--retries",
            "1",
            "--cache",
            cache.to_str().unwrap(),
            "--quiet",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        v.extend(extra.iter().map(|s| s.to_string()));
        v
    };
    let uni = d.path().join("universe.json");
    let args = common(
        &cache,
        &[
            "--out",
            out.to_str().unwrap(),
            "--universe",
            uni.to_str().unwrap(),
        ],
    );
    let (code, stdout, stderr) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(
        code, 1,
        "missing dependencies give exit 1\n{stdout}\n{stderr}"
    );
    assert!(stdout.contains("snapshot 20221201T000000Z"), "{stdout}");
    assert!(stdout.contains("signature not checked"), "{stdout}");
    assert!(stdout.contains("Valid-Until"), "{stdout}");
    assert!(
        stdout.contains("deb vanished (rules/x.mk:4): not in any index at the cutoff"),
        "{stdout}"
    );
    assert!(
        stdout.contains("deb libmnl0 (rules/x.mk:3): version 9.9-9 not in the indices"),
        "{stdout}"
    );
    assert!(
        stdout.contains("py demo (rules/x.mk:7): version 3.0 did not exist at the cutoff"),
        "{stdout}"
    );
    assert!(
        !stdout.contains("rules/x.mk:2)"),
        "libmnl0:amd64 1.0.4-3 exists\n{stdout}"
    );
    assert!(
        !stdout.contains("rules/x.mk:6)"),
        "a range with 1.0 in it is satisfied\n{stdout}"
    );
    assert!(stdout.contains("universe: "), "{stdout}");
    let u = sonic_lock::universe::Universe::read(&uni).unwrap();
    use sonic_lock::manifest::Ecosystem;
    let hello = u
        .lookup_name(Ecosystem::Deb, "bullseye/amd64", "hello")
        .unwrap();
    let c = u.candidates_of(hello);
    assert_eq!(c.len(), 1);
    assert_eq!(u.candidate(c[0]).version, "2.10-2");
    assert!(
        u.candidate(c[0])
            .meta
            .provenance
            .as_deref()
            .unwrap()
            .contains("/archive/debian/20221201T000000Z/")
    );
    let demo = u.lookup_name(Ecosystem::Py, "py3", "demo").unwrap();
    let dv: Vec<&str> = u
        .candidates_of(demo)
        .iter()
        .map(|c| u.candidate(*c).version.as_str())
        .collect();
    assert_eq!(dv, ["1.0"], "3.0 came after the cutoff");
    let go = u
        .lookup_name(Ecosystem::Go, "go", "github.com/Azure/go-autorest")
        .unwrap();
    assert_eq!(u.candidates_of(go).len(), 1);
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&out).unwrap()).unwrap();
    assert_eq!(report["counts"]["deb"]["dependencies"], 4);
    assert_eq!(report["counts"]["deb"]["missing"], 2);
    assert_eq!(report["counts"]["py"]["versions"], 1);
    assert_eq!(
        report["counts"]["go"]["missing"], 1,
        "only the pseudo-version dated after the cutoff"
    );
    assert!(stdout.contains("go example.com/pseudo (rules/x.mk:12): version v0.0.0-20230301100000-abcdefabcdef is dated 2023-03-01T10:00:00Z, after the cutoff"), "{stdout}");
    assert_eq!(report["git"][0]["reference"], "master");
    assert_eq!(report["not_indexed"].as_array().unwrap().len(), 0);
    assert_eq!(report["docker"][0]["image"], "debian:bullseye");
    assert_eq!(report["docker"][0]["digest"], debian[0].as_str());
    assert_eq!(report["docker"][0]["origins"][0], "rules/x.mk:10");
    assert_eq!(report["suites"][0]["snapshot"], "20221201T000000Z");

    // Offline: same answer from the cache alone.
    let out2 = d.path().join("index2.json");
    let args = common(&cache, &["--offline", "--out", out2.to_str().unwrap()]);
    let (code, stdout, _) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1, "{stdout}");
    assert_eq!(
        std::fs::read(&out).unwrap(),
        std::fs::read(&out2).unwrap(),
        "deterministic and identical offline"
    );

    // Moved as one file to another cache; the git clone is not part of an export, so drop the git dependency.
    let export = d.path().join("cache.export");
    let (code, stdout, stderr) = run(&[
        "cache",
        "--cache",
        cache.to_str().unwrap(),
        "export",
        export.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    let moved = d.path().join("moved");
    let (code, stdout, stderr) = run(&[
        "cache",
        "--cache",
        moved.to_str().unwrap(),
        "import",
        export.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{stdout}{stderr}");
    assert!(stdout.contains("imported"), "{stdout}");
    let args = common(&moved, &["--offline", "--date", "2022-12-06T08:47:31Z"]);
    let (code, stdout, _) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 1);
    assert!(
        stdout.contains("snapshot 20221201T000000Z") && stdout.contains("0 request(s)"),
        "{stdout}"
    );

    // Offline with an empty cache names the first URL it lacks.
    let empty = d.path().join("empty");
    let args = common(&empty, &["--offline"]);
    let (code, _, stderr) = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code, 2);
    assert!(
        stderr.contains("offline") && stderr.contains("/dists/bullseye/InRelease"),
        "{stderr}"
    );
}

#[test]
fn index_rejects_bad_input_clearly() {
    let d = tempfile::tempdir().unwrap();
    let m = d.path().join("m.json");
    std::fs::write(&m, "{ not json").unwrap();
    let (code, _, stderr) = run(&[
        "index",
        "--platform",
        "p",
        "--manifest",
        m.to_str().unwrap(),
        "--cache",
        d.path().to_str().unwrap(),
        "--offline",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("m.json:1:"), "{stderr}");
    std::fs::write(&m, r#"{"schema_version":1,"platform":"other","commit":"x","commit_date":"2022-12-06T00:00:00Z","dependencies":[],"diagnostics":[]}"#).unwrap();
    let (code, _, stderr) = run(&[
        "index",
        "--platform",
        "p",
        "--manifest",
        m.to_str().unwrap(),
        "--cache",
        d.path().to_str().unwrap(),
        "--offline",
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("not `p`"), "{stderr}");
    let (code, _, stderr) = run(&[
        "index",
        "--platform",
        "other",
        "--manifest",
        m.to_str().unwrap(),
        "--date",
        "last week",
        "--cache",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("bad date `last week`"), "{stderr}");
    let (code, _, stderr) = run(&[
        "index",
        "--platform",
        "other",
        "--manifest",
        m.to_str().unwrap(),
        "--suite",
        "../../etc",
        "--cache",
        d.path().to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(stderr.contains("bad suite"), "{stderr}");
}

/// A manifest of one Debian package, for the signature policy tests.
fn deb_only_manifest(dir: &Path) -> std::path::PathBuf {
    let m = r#"{"schema_version":1,"platform":"wedge100bf-32x","commit":"586d715f172b1b72e9fc1e7b55625e2e5af590c2","commit_date":"2022-12-06T08:47:31Z","dependencies":[{"ecosystem":"deb","name":"hello","constraint":{"kind":"none"},"pinned":false,"origin":{"file":"rules/x.mk","line":1},"context":{"suite":"bullseye"}}],"diagnostics":[]}"#;
    let p = dir.join("manifest.json");
    std::fs::write(&p, m).unwrap();
    p
}

#[test]
fn unsigned_archive_is_refused_unless_allowed_and_a_missing_keyring_names_the_paths_tried() {
    let d = tempfile::tempdir().unwrap();
    let srv = services();
    let m = deb_only_manifest(d.path());
    let index = |keyring_paths: &str, extra: &[&str]| {
        let mut cmd = crate::common::sonic_lock();
        cmd.env("SONIC_LOCK_KEYRING_PATHS", keyring_paths)
            .args(["index", "--platform", "wedge100bf-32x", "--manifest"])
            .arg(&m)
            .args(["--suite", "bullseye", "--snapshot-url", &srv.base])
            .args(["--retries", "1", "--cache"])
            .arg(d.path().join("cache"))
            .args(extra);
        crate::common::run_cmd(&mut cmd)
    };
    // A system keyring is found (here: a directory of *.asc), so the unsigned suite is refused.
    let keys = d.path().join("trusted.gpg.d");
    std::fs::create_dir(&keys).unwrap();
    signing_key(&keys, "archive");
    let (code, stdout, stderr) = index(keys.to_str().unwrap(), &[]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    assert!(
        stderr.contains("suite debian:bullseye is unsigned"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!(
            "{}/archive/debian/20221201T000000Z/dists/bullseye/Release",
            srv.base
        )),
        "{stderr}"
    );
    assert!(stderr.contains("--allow-unsigned"), "{stderr}");

    // --allow-unsigned reads it and says so.
    let (code, stdout, stderr) = index(keys.to_str().unwrap(), &["--allow-unsigned"]);
    assert_eq!(code, 0, "{stdout}\n{stderr}");
    assert!(stdout.contains("signature not checked"), "{stdout}");

    // No keyring on the system and no flag: the error names every path tried.
    let a = d.path().join("none/debian-archive-keyring.gpg");
    let b = d.path().join("none/trusted.gpg.d");
    let paths = std::env::join_paths([&a, &b]).unwrap();
    let (code, stdout, stderr) = index(paths.to_str().unwrap(), &[]);
    assert_eq!(code, 2, "{stdout}\n{stderr}");
    for want in [
        a.to_str().unwrap(),
        b.to_str().unwrap(),
        "--keyring FILE",
        "--allow-unsigned",
    ] {
        assert!(stderr.contains(want), "{want}: {stderr}");
    }
}
