//! The parsed-suite cache against a loopback mirror: a hit gives what a
//! fresh parse gives, a corrupt entry is reported and rebuilt, a changed
//! Release gives a new entry, and old entries are pruned.

use crate::common::loopback::*;
use sonic_lock::date::Cutoff;
use sonic_lock::source::cache::Cache;
use sonic_lock::source::debian::archive::{
    Location, SuitePlan, SuiteSpec, fetch_suite, plan_suite,
};
use sonic_lock::source::http::{Http, HttpConfig};
use sonic_lock::source::suitecache::{self, Cached, KEEP, ParsedSuite, SuiteCache};
use std::collections::HashMap;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// A mirror whose files can be replaced while it runs.
struct Mirror {
    files: Arc<Mutex<HashMap<String, Vec<u8>>>>,
    srv: Server,
}

impl Mirror {
    fn new() -> Mirror {
        let files: Arc<Mutex<HashMap<String, Vec<u8>>>> = Arc::default();
        let f = files.clone();
        let srv = serve(
            move |req, _| match f.lock().unwrap().get(req.path.as_str()) {
                Some(b) => file(req, b),
                None => status(404),
            },
        );
        Mirror { files, srv }
    }

    /// Serves bullseye with these packages (Release, Packages.xz, Sources.gz).
    fn publish(&self, pkgs: &[(&str, &str)]) {
        let (rel, files) = suite_files("bullseye", "Sat, 09 Aug 2025 09:16:30 UTC", None, pkgs);
        let mut m = self.files.lock().unwrap();
        m.clear();
        m.insert("/debian/dists/bullseye/Release".into(), rel.into_bytes());
        for (p, b) in files {
            m.insert(format!("/debian/dists/bullseye/{p}"), b);
        }
    }

    fn loc(&self) -> Location {
        Location::Mirror {
            base: self.srv.base.clone(),
        }
    }
}

fn http(dir: &Path, refresh: bool) -> Http {
    let cfg = HttpConfig {
        retries: 0,
        base_delay: Duration::from_millis(10),
        read_timeout: Duration::from_secs(5),
        refresh,
        ..HttpConfig::default()
    };
    Http::new(cfg, Cache::open(&dir.join("cache")).unwrap()).unwrap()
}

fn spec() -> SuiteSpec {
    SuiteSpec {
        archive: "debian".into(),
        suite: "bullseye".into(),
        components: vec!["main".into()],
        architectures: vec!["amd64".into()],
        sources: true,
    }
}

fn cutoff() -> Cutoff {
    Cutoff::parse("2022-12-06T08:47:31Z").unwrap()
}

fn plan(h: &Http, m: &Mirror) -> SuitePlan {
    plan_suite(h, &m.loc(), &spec(), &cutoff(), None).unwrap()
}

fn fresh(h: &Http, m: &Mirror) -> ParsedSuite {
    ParsedSuite::from_index(&fetch_suite(h, &m.loc(), &spec(), &cutoff(), None).unwrap()).unwrap()
}

fn entries(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("cache/parsed/debian_bullseye"))
        .map(|rd| rd.count())
        .unwrap_or(0)
}

#[test]
fn a_hit_gives_what_a_fresh_parse_gives_without_reading_the_indices() {
    let d = tempfile::tempdir().unwrap();
    let m = Mirror::new();
    m.publish(&[("hello", "2.10-2"), ("sed", "4.8-1")]);
    let h = http(d.path(), false);
    let (report, first) = suitecache::load(&h, plan(&h, &m)).unwrap();
    assert_eq!(report.suite, "debian:bullseye");
    assert_eq!(
        m.srv
            .hits("/debian/dists/bullseye/main/binary-amd64/Packages.xz"),
        1
    );
    assert_eq!(entries(d.path()), 1);
    // The cached index blobs are gone: a hit must not need them.
    std::fs::remove_dir_all(d.path().join("cache/blobs")).unwrap();
    m.files
        .lock()
        .unwrap()
        .retain(|k, _| k.ends_with("/Release"));
    let h2 = http(d.path(), false);
    let p = plan(&h2, &m);
    let Cached::Hit(hit) = SuiteCache::new(h2.cache()).get(&p).unwrap() else {
        panic!("expected a hit");
    };
    assert_eq!(hit, first);
    let (_, again) = suitecache::load(&h2, p).unwrap();
    assert_eq!(again, first);
    // And it is what parsing the indices gives.
    m.publish(&[("hello", "2.10-2"), ("sed", "4.8-1")]);
    assert_eq!(fresh(&http(&d.path().join("other"), false), &m), first);
    let names: Vec<_> = first.packages[0].1.versions().collect();
    assert_eq!(names, vec![("hello", "2.10-2"), ("sed", "4.8-1")]);
}

#[test]
fn a_corrupt_entry_is_reported_removed_and_rebuilt() {
    let d = tempfile::tempdir().unwrap();
    let m = Mirror::new();
    m.publish(&[("hello", "2.10-2")]);
    let h = http(d.path(), false);
    let (_, good) = suitecache::load(&h, plan(&h, &m)).unwrap();
    let path = SuiteCache::new(h.cache()).path(&plan(&h, &m));
    for damage in ["flip", "truncate", "garbage"] {
        let mut b = std::fs::read(&path).unwrap();
        match damage {
            "flip" => {
                let n = b.len() - 3;
                b[n] ^= 0x40;
            }
            "truncate" => b.truncate(b.len() / 2),
            _ => b = b"not an entry at all".to_vec(),
        }
        std::fs::write(&path, &b).unwrap();
        let h2 = http(d.path(), false);
        let (report, rebuilt) = suitecache::load(&h2, plan(&h2, &m)).unwrap();
        assert_eq!(rebuilt, good, "{damage}");
        assert!(
            report
                .warnings
                .iter()
                .any(|w| w.contains("corrupt parsed-suite cache entry") && w.contains("rebuilt")),
            "{damage}: {:?}",
            report.warnings
        );
        assert_eq!(h2.cache().corrupt_removed(), 1, "{damage}");
        // Rebuilt in place: the next read is a sound hit.
        assert!(matches!(
            SuiteCache::new(h2.cache()).get(&plan(&h2, &m)).unwrap(),
            Cached::Hit(_)
        ));
    }
}

#[test]
fn a_changed_release_gives_a_new_entry_and_old_ones_are_pruned() {
    let d = tempfile::tempdir().unwrap();
    let m = Mirror::new();
    let versions = ["2.10-1", "2.10-2", "2.10-3", "2.10-4", "2.10-5"];
    let mut keys = Vec::new();
    for v in versions {
        m.publish(&[("hello", v)]);
        // Refresh: the mirror's new Release is read, as an online run reads it.
        let h = http(d.path(), true);
        let p = plan(&h, &m);
        keys.push(SuiteCache::key(&p));
        let (_, parsed) = suitecache::load(&h, p).unwrap();
        let got: Vec<_> = parsed.packages[0].1.versions().map(|(_, v)| v).collect();
        assert_eq!(got, vec![v]);
        // Files written in the same instant would tie on their times.
        std::thread::sleep(Duration::from_millis(20));
    }
    keys.dedup();
    assert_eq!(keys.len(), versions.len());
    assert_eq!(entries(d.path()), KEEP);
}
