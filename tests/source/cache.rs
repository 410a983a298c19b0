//! The cache's hostile inputs: export files declaring more bytes than they
//! hold, corrupt blobs on disk, hostile git paths; and the air-gapped promise
//! (an export carries the git clones, so an offline index finds them).

use crate::common::loopback::*;
use git2::{Repository, Signature, Time};
use sonic_lock::date::Cutoff;
use sonic_lock::source::SourceError;
use sonic_lock::source::cache::{Cache, EXPORT_MAGIC, EXPORT_MAGIC_V1};
use sonic_lock::source::git::GitSource;
use sonic_lock::source::http::{Http, HttpConfig, Request};
use std::path::Path;
use std::process::Command;
use std::time::Duration;

const HUGE: [u64; 2] = [u64::MAX, 1 << 40];

fn export_with(dir: &Path, records: &str) -> std::path::PathBuf {
    let f = dir.join("hostile.export");
    std::fs::write(&f, format!("{EXPORT_MAGIC}\n{records}")).unwrap();
    f
}

#[test]
fn blob_declaring_more_bytes_than_the_file_holds_is_an_error_not_an_allocation() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(&d.path().join("c")).unwrap();
    for len in HUGE {
        let f = export_with(
            d.path(),
            &format!("blob {} {len}\nhello\n", sha256(b"hello")),
        );
        let err = c.import(&f).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{}:2", f.display()))
                && err.contains(&format!("declares {len} bytes but only 6 follow")),
            "{err}"
        );
    }
    // Nothing half-written is left behind.
    assert_eq!(
        std::fs::read_dir(d.path().join("c/partial"))
            .unwrap()
            .count(),
        0
    );
    assert!(!c.has(&sha256(b"hello")));
}

#[test]
fn key_declaring_more_bytes_than_the_file_holds_is_an_error_not_an_allocation() {
    let d = tempfile::tempdir().unwrap();
    let c = Cache::open(&d.path().join("c")).unwrap();
    for len in HUGE {
        let f = export_with(d.path(), &format!("key {len}\n{{\"key\":\"x\"}}\n"));
        let err = c.import(&f).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{}:2", f.display()))
                && err.contains(&format!("declares {len} bytes but only 12 follow")),
            "{err}"
        );
    }
    // A key record longer than any key is refused before it is read whole.
    let f = export_with(
        d.path(),
        &format!("key 2000000\n{}\n", "x".repeat(2_000_000)),
    );
    let err = c.import(&f).unwrap_err().to_string();
    assert!(err.contains("key record longer than"), "{err}");
}

#[test]
fn cli_import_of_a_huge_declared_length_exits_2_naming_the_file() {
    let d = tempfile::tempdir().unwrap();
    let f = export_with(
        d.path(),
        &format!("blob {} {}\nhello\n", sha256(b"hello"), u64::MAX),
    );
    let o = Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .arg("cache")
        .arg("--cache")
        .arg(d.path().join("c"))
        .arg("import")
        .arg(&f)
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains(&f.display().to_string()) && err.contains("declares"),
        "{err}"
    );
    assert!(!err.contains("panicked"), "{err}");
}

#[test]
fn export_of_the_previous_format_still_imports() {
    let d = tempfile::tempdir().unwrap();
    let sha = sha256(b"old\nbody");
    let key = format!(
        "{{\"key\":\"http://x/old\",\"final_url\":\"http://x/old\",\"sha256\":\"{sha}\",\"size\":8}}"
    );
    let f = d.path().join("v1.export");
    std::fs::write(
        &f,
        format!(
            "{EXPORT_MAGIC_V1}\nblob {sha} 8\nold\nbody\nkey {}\n{key}\nend 1 1\n",
            key.len()
        ),
    )
    .unwrap();
    let c = Cache::open(&d.path().join("c")).unwrap();
    let s = c.import(&f).unwrap();
    assert_eq!((s.blobs, s.keys, s.clones), (1, 1, 0));
    assert_eq!(c.get_key("http://x/old").unwrap().sha256, sha);
    assert_eq!(c.get(&sha).unwrap().unwrap(), b"old\nbody");
    // A line count after a multi-line body still points at the right line.
    std::fs::write(
        &f,
        format!("{EXPORT_MAGIC_V1}\nblob {sha} 8\nold\nbody\nbogus\n"),
    )
    .unwrap();
    let err = Cache::open(&d.path().join("c2"))
        .unwrap()
        .import(&f)
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("{}:5", f.display())), "{err}");
}

// ------------------------------------------------------------- corrupt blobs

fn cfg(offline: bool) -> HttpConfig {
    HttpConfig {
        retries: 1,
        base_delay: Duration::from_millis(10),
        read_timeout: Duration::from_secs(5),
        offline,
        ..HttpConfig::default()
    }
}

fn corrupt_cached(dir: &Path, url: &str) -> std::path::PathBuf {
    let http = Http::new(cfg(false), Cache::open(dir).unwrap()).unwrap();
    let f = http.get(&Request::new(url, "the file")).unwrap();
    let blob = dir
        .join("blobs/sha256")
        .join(&f.sha256[..2])
        .join(&f.sha256);
    std::fs::write(&blob, "tampered").unwrap();
    blob
}

#[test]
fn offline_read_of_a_corrupt_blob_reports_corruption_and_removes_it() {
    let srv = serve(|_, _| ok("fresh body"));
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("cache");
    let url = srv.url("/f");
    let blob = corrupt_cached(&dir, &url);
    let off = Http::new(cfg(true), Cache::open(&dir).unwrap()).unwrap();
    let err = off.get(&Request::new(&url, "the file")).unwrap_err();
    assert!(matches!(err, SourceError::OfflineCorrupt { .. }), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains("corrupt") && msg.contains(&url) && msg.contains(&blob.display().to_string()),
        "{msg}"
    );
    assert!(!blob.exists());
    let w = off.cache().warnings();
    assert_eq!(w.len(), 1);
    assert!(
        w[0].contains(&blob.display().to_string()) && w[0].contains(&url),
        "{w:?}"
    );
    // Also by expected hash (the path trusted indexes take).
    let blob = corrupt_cached(&dir, &url);
    let off = Http::new(cfg(true), Cache::open(&dir).unwrap()).unwrap();
    let err = off
        .get(&Request::new(&url, "the file").expect(&sha256(b"fresh body"), None))
        .unwrap_err();
    assert!(matches!(err, SourceError::OfflineCorrupt { .. }), "{err}");
    assert!(!blob.exists());
    assert_eq!(srv.hits("/f"), 2);
}

#[test]
fn online_read_of_a_corrupt_blob_warns_and_fetches_it_again() {
    let srv = serve(|_, _| ok("fresh body"));
    let d = tempfile::tempdir().unwrap();
    let dir = d.path().join("cache");
    let url = srv.url("/f");
    let blob = corrupt_cached(&dir, &url);
    let on = Http::new(cfg(false), Cache::open(&dir).unwrap()).unwrap();
    let f = on.get(&Request::new(&url, "the file")).unwrap();
    assert_eq!(f.bytes, b"fresh body");
    assert!(!f.from_cache);
    assert_eq!(srv.hits("/f"), 2);
    assert_eq!(std::fs::read(&blob).unwrap(), b"fresh body");
    assert!(on.cache().warnings()[0].contains(&url));
}

// ------------------------------------------------------------ git clones

fn origin(dir: &Path) -> git2::Oid {
    let repo = Repository::init(dir).unwrap();
    let mut parent: Vec<git2::Oid> = Vec::new();
    let mut last = None;
    for (i, when) in [1_640_995_200i64, 1_646_092_800, 1_654_041_600]
        .into_iter()
        .enumerate()
    {
        let sig = Signature::new("t", "t@example.org", &Time::new(when, 0)).unwrap();
        let blob = repo.blob(format!("v{i}").as_bytes()).unwrap();
        let mut tb = repo.treebuilder(None).unwrap();
        tb.insert("f", blob, 0o100644).unwrap();
        let tree = repo.find_tree(tb.write().unwrap()).unwrap();
        let ps: Vec<git2::Commit> = parent
            .iter()
            .map(|p| repo.find_commit(*p).unwrap())
            .collect();
        let pr: Vec<&git2::Commit> = ps.iter().collect();
        let id = repo
            .commit(None, &sig, &sig, &format!("c{i}"), &tree, &pr)
            .unwrap();
        parent = vec![id];
        last = Some(id);
    }
    let tip = last.unwrap();
    repo.reference("refs/heads/master", tip, true, "").unwrap();
    repo.set_head("refs/heads/master").unwrap();
    tip
}

#[test]
fn export_carries_git_clones_so_an_offline_import_resolves_the_same_commit() {
    let d = tempfile::tempdir().unwrap();
    origin(&d.path().join("upstream"));
    let url = d.path().join("upstream").display().to_string();
    let cutoff = Cutoff::parse("2022-04-01").unwrap();
    let online = Cache::open(&d.path().join("online")).unwrap();
    let want = GitSource::new(&online, false)
        .branch_at(&url, "master", &cutoff)
        .unwrap();
    online.put(b"a blob too").unwrap();
    let file = d.path().join("all.export");
    let s = online.export(&file).unwrap();
    assert_eq!((s.blobs, s.clones), (1, 1));
    // Deterministic: the same cache exports the same bytes.
    let again = d.path().join("again.export");
    online.export(&again).unwrap();
    assert_eq!(
        std::fs::read(&file).unwrap(),
        std::fs::read(&again).unwrap()
    );

    // The air-gapped host: the origin is gone, the cache starts empty.
    std::fs::remove_dir_all(d.path().join("upstream")).unwrap();
    let gapped = Cache::open(&d.path().join("gapped")).unwrap();
    let s2 = gapped.import(&file).unwrap();
    assert_eq!(s2, s);
    let got = GitSource::new(&gapped, true)
        .branch_at(&url, "master", &cutoff)
        .unwrap();
    assert_eq!(got, want);
    // Importing again keeps the clone and counts it.
    assert_eq!(gapped.import(&file).unwrap().clones, 1);
}

#[test]
fn git_paths_outside_the_cache_are_refused() {
    let d = tempfile::tempdir().unwrap();
    let name = format!("{}.git", "a".repeat(64));
    let c = Cache::open(&d.path().join("c")).unwrap();
    for bad in [
        format!("git/{name}/../../../evil"),
        format!("git/{name}/./HEAD"),
        format!("git/{name}//HEAD"),
        "/etc/evil".to_string(),
        "../evil".to_string(),
        "blobs/sha256/evil".to_string(),
        "git/notaclone.git/HEAD".to_string(),
        format!("git/{name}"),
    ] {
        let f = export_with(d.path(), &format!("git {bad} 4\nevil\nend 0 0 1\n"));
        let err = c.import(&f).unwrap_err().to_string();
        assert!(
            err.contains(&format!("{}:2", f.display())) && err.contains("bad git path"),
            "{bad}: {err}"
        );
    }
    assert!(!d.path().join("evil").exists());
    // git records are not part of the previous format.
    let f = d.path().join("v1.export");
    std::fs::write(
        &f,
        format!("{EXPORT_MAGIC_V1}\ngit git/{name}/HEAD 4\nevil\nend 0 0\n"),
    )
    .unwrap();
    assert!(
        c.import(&f)
            .unwrap_err()
            .to_string()
            .contains("unexpected record")
    );
}
