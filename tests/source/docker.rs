//! Base images as of the cutoff from a loopback registry that behaves like
//! Docker Hub: bearer-token challenge, manifest lists, dated tags, missing
//! tags, lying digests, and the cache under `--offline`.

use crate::common::loopback;
use crate::common::loopback::registry::{Registry, TOKEN};
use sonic_lock::date::Cutoff;
use sonic_lock::source::cache::Cache;
use sonic_lock::source::docker::DockerRegistry;
use sonic_lock::source::http::{Http, HttpConfig};
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const CUTOFF: &str = "2022-12-06T08:47:31Z";

struct World {
    reg: loopback::Server,
    /// amd64, arm64 and arm/v7 digests of `debian:bullseye-20221205`.
    dated: Vec<String>,
    /// amd64 digest of what `debian:bullseye` names today.
    current: Vec<String>,
    current_list: String,
    single: String,
    broken_amd64: String,
}

fn world() -> World {
    let mut r = Registry::default();
    let plats = |created: &'static str| -> Vec<(&'static str, Option<&'static str>, &'static str)> {
        vec![
            ("amd64", None, created),
            ("arm64", Some("v8"), created),
            ("arm", Some("v7"), created),
        ]
    };
    r.multi(
        "library/debian",
        "bullseye-20221114",
        &plats("2022-11-14T00:00:00Z"),
    );
    let (_, dated) = r.multi(
        "library/debian",
        "bullseye-20221205",
        &plats("2022-12-05T00:00:00Z"),
    );
    // Dated after the cutoff's day: never chosen.
    r.multi(
        "library/debian",
        "bullseye-20221207",
        &plats("2022-12-07T00:00:00Z"),
    );
    let (current_list, current) =
        r.multi("library/debian", "bullseye", &plats("2023-01-09T00:00:00Z"));
    // A tag whose name merely starts like a dated one.
    r.multi(
        "library/debian",
        "bullseye-slim",
        &plats("2022-01-01T00:00:00Z"),
    );
    let single = r.single("acme/tool", "1", "amd64", "2021-05-01T00:00:00Z");
    let (_, broken) = r.multi("library/debian", "broken", &plats("2022-01-01T00:00:00Z"));
    r.corrupt("library/debian", &broken[0]);
    World {
        reg: r.serve(true),
        dated,
        current,
        current_list,
        single,
        broken_amd64: broken[0].clone(),
    }
}

fn client(cache: &Path, base: &str, offline: bool) -> DockerRegistry {
    let cfg = HttpConfig {
        retries: 1,
        base_delay: Duration::from_millis(10),
        offline,
        ..HttpConfig::default()
    };
    let http = Arc::new(Http::new(cfg, Cache::open(cache).unwrap()).unwrap());
    DockerRegistry::new(http, base).unwrap()
}

#[test]
fn a_tag_that_moved_after_the_cutoff_falls_back_to_the_newest_dated_tag() {
    let w = world();
    let d = tempfile::tempdir().unwrap();
    let c = client(d.path(), &w.reg.base, false);
    let cutoff = Cutoff::parse(CUTOFF).unwrap();
    let p = c.pin("debian:bullseye", "amd64", &cutoff).unwrap();
    assert_eq!(p.resolved, "bullseye-20221205");
    assert_eq!(p.digest, w.dated[0]);
    assert_eq!(p.repository, "docker.io/library/debian");
    assert_eq!(p.created.as_deref(), Some("2022-12-05T00:00:00Z"));
    assert!(p.note.contains("moved after the cutoff"), "{}", p.note);
    assert_ne!(
        p.list_digest, p.digest,
        "a list digest differs from the platform's"
    );

    // The token was fetched once and every registry request after the challenge carried it.
    let reqs = w.reg.requests();
    assert_eq!(
        reqs.iter().filter(|r| r.path.starts_with("/token")).count(),
        1
    );
    let authed: Vec<_> = reqs
        .iter()
        .filter(|r| r.path.starts_with("/v2/") && r.authorization.is_some())
        .collect();
    assert!(
        authed
            .iter()
            .all(|r| r.authorization.as_deref() == Some(&format!("Bearer {TOKEN}")))
    );
    assert!(
        authed.len() >= 5,
        "manifests, configs and tags by token: {reqs:?}"
    );
    let first_manifest = reqs
        .iter()
        .find(|r| r.path.contains("/manifests/"))
        .unwrap();
    let accept = first_manifest.accept.as_deref().unwrap_or("");
    assert!(
        accept.contains("application/vnd.oci.image.index.v1+json")
            && accept.contains("application/vnd.docker.distribution.manifest.list.v2+json"),
        "{accept}"
    );

    // Other architectures pick their own manifest from the same list.
    let arm = c.pin("debian:bullseye", "armhf", &cutoff).unwrap();
    assert_eq!(arm.digest, w.dated[2]);
    let arm64 = c.pin("debian:bullseye", "arm64", &cutoff).unwrap();
    assert_eq!(arm64.digest, w.dated[1]);
    let err = c
        .pin("debian:bullseye", "s390x", &cutoff)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("no linux/s390x image") && err.contains("linux/arm/v7"),
        "{err}"
    );

    // After the tag moved, the tag itself is the answer.
    let later = Cutoff::parse("2023-02-01").unwrap();
    let p = c.pin("debian:bullseye", "amd64", &later).unwrap();
    assert_eq!(
        (p.resolved.as_str(), &p.digest),
        ("bullseye", &w.current[0])
    );
    assert_eq!(p.list_digest, w.current_list);

    // Offline, from the cache alone: the same answers, no request reaches the registry.
    let before = w.reg.requests().len();
    let off = client(d.path(), &w.reg.base, true);
    let again = off.pin("debian:bullseye", "amd64", &cutoff).unwrap();
    assert_eq!(again.digest, w.dated[0]);
    assert_eq!(w.reg.requests().len(), before);
}

#[test]
fn single_platform_images_digest_pins_missing_tags_and_no_dated_tag() {
    let w = world();
    let d = tempfile::tempdir().unwrap();
    let c = client(d.path(), &w.reg.base, false);
    let cutoff = Cutoff::parse(CUTOFF).unwrap();

    let p = c.pin("acme/tool:1", "amd64", &cutoff).unwrap();
    assert_eq!(
        (p.digest.as_str(), p.list_digest.as_str()),
        (w.single.as_str(), w.single.as_str())
    );
    let err = c
        .pin("acme/tool:1", "arm64", &cutoff)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("single-platform image is linux/amd64"),
        "{err}"
    );

    // A declared digest is taken as it is, even from an image made after the cutoff.
    let by_digest = format!("debian@{}", w.current_list);
    let p = c.pin(&by_digest, "amd64", &cutoff).unwrap();
    assert_eq!(p.digest, w.current[0]);
    assert_eq!(p.note, "pinned by digest");

    let err = c.pin("debian:nosuch", "amd64", &cutoff).unwrap_err();
    assert!(err.is_not_found(), "{err}");
    assert!(
        err.to_string()
            .contains("/v2/library/debian/manifests/nosuch"),
        "{err}"
    );

    // Too early for any dated tag.
    let early = Cutoff::parse("2022-11-01").unwrap();
    let err = c
        .pin("debian:bullseye", "amd64", &early)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("moved after the cutoff") && err.contains("no dated tag"),
        "{err}"
    );

    for hostile in ["../../etc:x", "Debian:bullseye", "debian:bad tag"] {
        let err = c.pin(hostile, "amd64", &cutoff).unwrap_err().to_string();
        assert!(err.contains("image reference"), "{hostile}: {err}");
    }
}

#[test]
fn a_manifest_that_does_not_match_its_digest_is_refused_and_never_cached() {
    let w = world();
    let d = tempfile::tempdir().unwrap();
    let c = client(d.path(), &w.reg.base, false);
    let cutoff = Cutoff::parse(CUTOFF).unwrap();
    let err = c
        .pin("debian:broken", "amd64", &cutoff)
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("does not match") && err.contains(&w.broken_amd64[7..]),
        "{err}"
    );
    assert!(!Cache::open(d.path()).unwrap().has(&w.broken_amd64[7..]));
    // Offline, the lie is not served from the cache either.
    let off = client(d.path(), &w.reg.base, true);
    let err = off
        .pin("debian:broken", "amd64", &cutoff)
        .unwrap_err()
        .to_string();
    assert!(err.contains("offline"), "{err}");
}

#[test]
fn a_registry_that_wants_credentials_is_named() {
    let srv = loopback::serve(|_, _| loopback::Reply::Body {
        status: 401,
        body: vec![],
        headers: vec![("WWW-Authenticate".into(), r#"Basic realm="private""#.into())],
    });
    let d = tempfile::tempdir().unwrap();
    let c = client(d.path(), &srv.base, false);
    let err = c
        .pin("debian:bullseye", "amd64", &Cutoff::parse(CUTOFF).unwrap())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("wants credentials") && err.contains("Basic"),
        "{err}"
    );
}

#[test]
fn dated_tags_are_found_past_the_first_page_of_the_tag_list() {
    let mut r = Registry::default();
    r.filler_tags("library/debian", 1500);
    let (_, dated) = r.multi(
        "library/debian",
        "bullseye-20221205",
        &[("amd64", None, "2022-12-05T00:00:00Z")],
    );
    r.multi(
        "library/debian",
        "bullseye",
        &[("amd64", None, "2023-01-09T00:00:00Z")],
    );
    let reg = r.serve(false);
    let d = tempfile::tempdir().unwrap();
    let c = client(d.path(), &reg.base, false);
    let p = c
        .pin("debian:bullseye", "amd64", &Cutoff::parse(CUTOFF).unwrap())
        .unwrap();
    assert_eq!(
        (p.resolved.as_str(), &p.digest),
        ("bullseye-20221205", &dated[0])
    );
    let pages: Vec<String> = reg
        .requests()
        .into_iter()
        .filter(|q| q.path.contains("/tags/list"))
        .map(|q| q.path)
        .collect();
    assert_eq!(pages.len(), 2, "{pages:?}");
    assert!(pages[1].ends_with("&last=aa0999"), "{pages:?}");
}
