//! git as of the cutoff on small repositories built with git2, with
//! non-monotonic committer dates and a merged side branch; and web pins of
//! moving GitHub URLs resolved through them.

use crate::common::loopback::*;
use git2::{Repository, Signature, Time};
use sonic_lock::date::Cutoff;
use sonic_lock::source::cache::Cache;
use sonic_lock::source::git::GitSource;
use sonic_lock::source::http::{Http, HttpConfig};
use sonic_lock::source::web::{WebConfig, WebKind, pin};
use std::collections::HashMap;
use std::path::Path;

fn ts(s: &str) -> i64 {
    Cutoff::parse(s).unwrap().0.timestamp()
}

fn commit(
    repo: &Repository,
    file: &str,
    content: &str,
    when: &str,
    parents: &[git2::Oid],
    update: Option<&str>,
) -> git2::Oid {
    let sig = Signature::new("t", "t@example.org", &Time::new(ts(when), 0)).unwrap();
    let blob = repo.blob(content.as_bytes()).unwrap();
    let mut tb = repo.treebuilder(None).unwrap();
    tb.insert(file, blob, 0o100644).unwrap();
    let tree = repo.find_tree(tb.write().unwrap()).unwrap();
    let ps: Vec<git2::Commit> = parents
        .iter()
        .map(|p| repo.find_commit(*p).unwrap())
        .collect();
    let pr: Vec<&git2::Commit> = ps.iter().collect();
    repo.commit(update, &sig, &sig, content, &tree, &pr)
        .unwrap()
}

struct Fixture {
    c1: git2::Oid,
    c2: git2::Oid,
    c3: git2::Oid,
    c4: git2::Oid,
    side: git2::Oid,
    merge: git2::Oid,
}

/// master: c1 (Jan) - c2 (Mar) - c3 (Feb, skewed) - c4 (Jun) - merge (Jun 5, of side dated Feb 10).
fn build(dir: &Path) -> Fixture {
    let repo = Repository::init(dir).unwrap();
    let c1 = commit(&repo, "f", "one", "2022-01-01T00:00:00Z", &[], None);
    let c2 = commit(&repo, "f", "two", "2022-03-01T00:00:00Z", &[c1], None);
    let c3 = commit(&repo, "f", "three", "2022-02-01T00:00:00Z", &[c2], None);
    let c4 = commit(&repo, "f", "four", "2022-06-01T00:00:00Z", &[c3], None);
    let side = commit(&repo, "f", "side", "2022-02-10T00:00:00Z", &[c1], None);
    let merge = commit(
        &repo,
        "f",
        "merged",
        "2022-06-05T00:00:00Z",
        &[c4, side],
        None,
    );
    repo.reference("refs/heads/master", merge, true, "")
        .unwrap();
    repo.reference("refs/heads/feature", side, true, "")
        .unwrap();
    repo.set_head("refs/heads/master").unwrap();
    let sig = Signature::new(
        "t",
        "t@example.org",
        &Time::new(ts("2022-01-02T00:00:00Z"), 0),
    )
    .unwrap();
    repo.tag(
        "v1.0",
        &repo.find_object(c1, None).unwrap(),
        &sig,
        "release 1.0",
        false,
    )
    .unwrap();
    repo.tag_lightweight("v2.0", &repo.find_object(c4, None).unwrap(), false)
        .unwrap();
    repo.tag_lightweight("v2.1-rc1", &repo.find_object(c3, None).unwrap(), false)
        .unwrap();
    Fixture {
        c1,
        c2,
        c3,
        c4,
        side,
        merge,
    }
}

fn src(d: &Path, offline: bool) -> GitSource {
    GitSource::new(&Cache::open(&d.join("cache")).unwrap(), offline)
}

#[test]
fn branch_at_cutoff_walks_first_parents_despite_skewed_dates() {
    let d = tempfile::tempdir().unwrap();
    let f = build(&d.path().join("upstream"));
    let url = d.path().join("upstream").display().to_string();
    let g = src(d.path(), false);
    // Feb 15: c3 (dated Feb 1) is the newest first-parent commit dated before; its parent c2 is dated after: skew.
    let b = g
        .branch_at(&url, "master", &Cutoff::parse("2022-02-15").unwrap())
        .unwrap();
    assert_eq!(b.commit, f.c3.to_string());
    assert_eq!(b.skew.len(), 1);
    assert!(b.skew[0].starts_with(&f.c2.to_string()));
    // The side commit (Feb 10) is not on the first-parent chain: never the answer for master.
    assert_ne!(b.commit, f.side.to_string());
    // Jun 3: c4; Jul: the merge.
    assert_eq!(
        g.branch_at(&url, "master", &Cutoff::parse("2022-06-03").unwrap())
            .unwrap()
            .commit,
        f.c4.to_string()
    );
    assert_eq!(
        g.branch_at(&url, "master", &Cutoff::parse("2022-07-01").unwrap())
            .unwrap()
            .commit,
        f.merge.to_string()
    );
    assert_eq!(
        g.branch_at(&url, "feature", &Cutoff::parse("2022-07-01").unwrap())
            .unwrap()
            .commit,
        f.side.to_string()
    );
    let err = g
        .branch_at(&url, "master", &Cutoff::parse("2021-01-01").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no commit dated at or before"), "{err}");
    let err = g
        .branch_at(&url, "nope", &Cutoff::parse("2022-07-01").unwrap())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no branch `nope`"), "{err}");
    let _ = f.c1;
}

#[test]
fn tags_as_of_cutoff_use_tagger_or_commit_dates() {
    let d = tempfile::tempdir().unwrap();
    let f = build(&d.path().join("upstream"));
    let url = d.path().join("upstream").display().to_string();
    let g = src(d.path(), false);
    let t = g
        .tags_at(&url, &Cutoff::parse("2022-02-15").unwrap())
        .unwrap();
    let names: Vec<&str> = t.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(names, ["v1.0", "v2.1-rc1"]);
    assert_eq!(t[0].commit, f.c1.to_string());
    assert_eq!(t[0].date, "2022-01-02T00:00:00Z");
    let all = g
        .tags_at(&url, &Cutoff::parse("2023-01-01").unwrap())
        .unwrap();
    assert_eq!(all.len(), 3);
    // Offline, the cached clone answers; an unknown repository is named.
    let off = src(d.path(), true);
    assert_eq!(
        off.tags_at(&url, &Cutoff::parse("2023-01-01").unwrap())
            .unwrap(),
        all
    );
    let err = off
        .tags_at("/nowhere/repo.git", &Cutoff::parse("2023-01-01").unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("offline") && err.contains("/nowhere/repo.git"),
        "{err}"
    );
}

#[test]
fn moving_github_urls_are_pinned_as_of_cutoff() {
    let d = tempfile::tempdir().unwrap();
    let f = build(&d.path().join("gh/acme/pkgs"));
    let three = b"three-deb".to_vec();
    let rc = b"rc-asset".to_vec();
    let v1 = b"v1-asset".to_vec();
    let mut files = HashMap::new();
    files.insert(
        format!("/acme/pkgs/raw/{}/bfnsdk_1.0_amd64.deb", f.c3),
        three.clone(),
    );
    files.insert(
        "/acme/pkgs/releases/download/v1.0/tool-linux-amd64".to_string(),
        v1.clone(),
    );
    files.insert(
        "/acme/pkgs/releases/download/v2.1-rc1/tool-linux-amd64".to_string(),
        rc,
    );
    let srv = site(files);
    let cfg = WebConfig {
        github: srv.base.clone(),
        github_git: format!("{}/gh/{{owner}}/{{repo}}", d.path().display()),
        snapshot: srv.base.clone(),
    };
    let cache = Cache::open(&d.path().join("cache")).unwrap();
    let git = GitSource::new(&cache, false);
    let http = Http::new(
        HttpConfig::default(),
        Cache::open(&d.path().join("cache")).unwrap(),
    )
    .unwrap();
    let cutoff = Cutoff::parse("2022-02-15").unwrap();

    let p = pin(
        &http,
        &git,
        &cfg,
        "https://github.com/acme/pkgs/raw/master/bfnsdk_1.0_amd64.deb",
        &cutoff,
    )
    .unwrap();
    assert!(matches!(p.kind, WebKind::GithubRaw { .. }));
    assert_eq!(
        p.immutable_url,
        srv.url(&format!("/acme/pkgs/raw/{}/bfnsdk_1.0_amd64.deb", f.c3))
    );
    assert_eq!(p.md5, sonic_lock::fsio::md5_hex(&three));
    assert_eq!(p.sha256, sha256(&three));

    // releases/latest at D skips the pre-release tag.
    let p = pin(
        &http,
        &git,
        &cfg,
        "https://github.com/acme/pkgs/releases/latest/download/tool-linux-amd64",
        &cutoff,
    )
    .unwrap();
    assert_eq!(
        p.immutable_url,
        srv.url("/acme/pkgs/releases/download/v1.0/tool-linux-amd64")
    );
    assert_eq!(p.md5, sonic_lock::fsio::md5_hex(&v1));
    let _ = (f.c4, f.merge);

    // A URL with no file at the pinned commit fails naming it.
    let err = pin(
        &http,
        &git,
        &cfg,
        "https://github.com/acme/pkgs/raw/master/missing.deb",
        &cutoff,
    )
    .unwrap_err()
    .to_string();
    assert!(
        err.contains(&f.c3.to_string()) && err.contains("missing.deb"),
        "{err}"
    );
}
