//! apt repositories that the scripts add, indexed end to end: a signed
//! repository served on loopback (its key fetched from where the script
//! fetches it) is read as of today and joins the apt view of the image that
//! adds it; an unreachable one is a gap that names the images needing it.

use crate::common::loopback::*;
use crate::common::run;
use std::collections::HashMap;

fn deb(name: &str, version: &str, image: &str, line: u32) -> String {
    format!(
        r#"{{"ecosystem":"deb","name":"{name}","constraint":{{"kind":"exact","value":"{version}"}},"pinned":true,"origin":{{"file":"{image}/Dockerfile.j2","line":{line}}},"context":{{"image":"{image}","suite":"bullseye","transaction":1}}}}"#
    )
}

fn source(url: &str, image: &str, line: u32, key: &str) -> String {
    format!(
        r#"{{"url":"{url}","suite":"bullseye","components":["stable"],"arch":"amd64","keys":["{key}"],"origin":{{"file":"{image}/Dockerfile.j2","line":{line}}},"context":{{"image":"{image}","suite":"bullseye"}}}}"#
    )
}

#[test]
fn added_repositories_are_indexed_verified_and_unreachable_ones_are_gaps() {
    let d = tempfile::tempdir().unwrap();
    let (key, keyring) = signing_key(d.path(), "docker");
    let mut site: HashMap<String, Vec<u8>> = HashMap::new();
    // Debian at its snapshot.
    let (rel, files) = suite_files(
        "bullseye",
        "Thu, 01 Dec 2022 00:00:00 UTC",
        None,
        &[("libc6", "2.31-13+deb11u5")],
    );
    let base = "/archive/debian/20221201T000000Z/dists/bullseye";
    site.insert(format!("{base}/Release"), rel.into_bytes());
    for (p, b) in files {
        site.insert(format!("{base}/{p}"), b);
    }
    // The added repository: no snapshots, signed, key at /linux/debian/gpg.
    let p = packages(&[
        ("containerd.io", "1.5.11-1"),
        ("docker-ce", "5:20.10.14~3-0~debian-bullseye"),
    ]);
    let rfiles = vec![
        ("stable/binary-amd64/Packages".to_string(), p.clone()),
        ("stable/binary-amd64/Packages.gz".to_string(), gz(&p)),
    ];
    let rrel = release_text("bullseye", "Mon, 05 Dec 2022 00:00:00 UTC", None, &rfiles)
        .replace("Components: main", "Components: stable");
    let rbase = "/linux/debian/dists/bullseye";
    site.insert(format!("{rbase}/InRelease"), clearsign(&key, &rrel));
    for (p, b) in rfiles {
        site.insert(format!("{rbase}/{p}"), b);
    }
    site.insert("/linux/debian/gpg".into(), std::fs::read(&keyring).unwrap());
    let srv = serve(move |req, _| {
        if let Some(tail) = req.path.strip_prefix("/archive/debian/")
            && !tail.starts_with("20221201T000000Z/")
        {
            let rest = tail.split_once('/').map_or("", |(_, r)| r);
            return redirect(&format!("/archive/debian/20221201T000000Z/{rest}"));
        }
        match site.get(&req.path) {
            Some(b) => file(req, b),
            None => status(404),
        }
    });
    // Nothing listens on port 9 of the loopback: connection refused.
    let dead = "http://127.0.0.1:9/apt";
    let repo = format!("{}/linux/debian", srv.base);
    let m = format!(
        r#"{{"schema_version":1,"platform":"wedge100bf-32x","commit":"586d715f172b1b72e9fc1e7b55625e2e5af590c2","commit_date":"2022-12-06T08:47:31Z","dependencies":[{},{},{}],"diagnostics":[],"apt_sources":[{},{}]}}"#,
        deb("containerd.io", "1.5.11-1", "sonic-slave-bullseye", 581),
        deb("libc6", "2.31-13+deb11u5", "sonic-slave-bullseye", 20),
        deb("kubelet", "1.22.2-00", "host-image", 266),
        source(&repo, "sonic-slave-bullseye", 572, &format!("{repo}/gpg")),
        source(dead, "host-image", 263, "http://127.0.0.1:9/key.gpg"),
    );
    let mp = d.path().join("manifest.json");
    std::fs::write(&mp, m).unwrap();
    let out = d.path().join("index.json");
    let uni = d.path().join("universe.json");
    let cache = d.path().join("cache");
    let (code, stdout, stderr) = run(&[
        "index",
        "--platform",
        "wedge100bf-32x",
        "--manifest",
        mp.to_str().unwrap(),
        "--suite",
        "bullseye",
        "--snapshot-url",
        &srv.base,
        "--allow-unsigned",
        "--retries",
        "0",
        "--cache",
        cache.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
        "--universe",
        uni.to_str().unwrap(),
        "--quiet",
    ]);
    assert_eq!(code, 1, "kubelet has no candidate\n{stdout}\n{stderr}");
    let r: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&out).unwrap()).unwrap();
    let added = &r["apt_sources"][0];
    assert_eq!(added["url"], repo.as_str(), "{r:#}");
    assert_eq!(added["as_of"], "today");
    assert_eq!(added["signature"]["status"], "verified", "{added:#}");
    assert_eq!(added["packages"], 2);
    assert!(
        added["notes"].to_string().contains("has no snapshots"),
        "{added:#}"
    );
    let gap = &r["source_gaps"][0];
    assert_eq!(gap["url"], dead);
    assert_eq!(gap["reason"], "unreachable", "{gap:#}");
    assert_eq!(gap["images"][0], "host-image");
    let missing = r["missing"].as_array().unwrap();
    let names: Vec<&str> = missing.iter().filter_map(|m| m["name"].as_str()).collect();
    assert_eq!(names, ["kubelet"], "{missing:#?}");
    assert!(
        missing[0]["reason"]
            .as_str()
            .unwrap()
            .contains("gap: http://127.0.0.1:9/apt unreachable"),
        "{missing:#?}"
    );
    // The repository's packages joined bullseye's apt view.
    let u = std::fs::read_to_string(&uni).unwrap();
    assert!(u.contains("containerd.io") && u.contains("docker-ce"));
    assert!(
        u.contains(&format!("{repo}/pool/")),
        "pool URLs under the repository root"
    );
}
