//! The lockfile: schema, determinism, atomic writes, clear errors, candidate hashes,
//! diffs and URL rewrites.

use sonic_lock::lock::diff::{ChangeKind, diff};
use sonic_lock::lock::rewrite;
use sonic_lock::lock::{Archive, Lock, LockError, Pin, SourceRecord, TrialRecord};
use sonic_lock::manifest::Ecosystem;
use sonic_lock::trial::builder::Verdict;

fn sample() -> Lock {
    let mut l = Lock::new(
        "wedge100bf-32x",
        "586d715f172b1b72e9fc1e7b55625e2e5af590c2",
        "2022-12-06T08:47:31Z",
    );
    l.archives.push(Archive {
        name: "debian".into(),
        snapshot: "20221206T000000Z".into(),
        url: Some("https://snapshot.debian.org/archive/debian/20221206T000000Z/".into()),
    });
    let mut libc = Pin::new(Ecosystem::Deb, "libc6", "2.31-13+deb11u5");
    libc.image = Some("docker-base-bullseye".into());
    libc.suite = Some("bullseye".into());
    libc.arch = Some("amd64".into());
    libc.url = Some("https://snapshot.debian.org/archive/debian/20221206T000000Z/pool/main/g/glibc/libc6_2.31-13+deb11u5_amd64.deb".into());
    libc.sha256 = Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into());
    libc.first_seen = Some("2022-10-01T21:04:13Z".into());
    libc.why = vec!["dockers/docker-base-bullseye/Dockerfile.j2:20".into()];
    libc.dependents = vec!["libc6-dev".into(), "curl".into()];
    let mut yaml = Pin::new(Ecosystem::Py, "pyyaml", "5.4.1");
    yaml.python = Some("py3".into());
    yaml.image = Some("sonic-slave-bullseye".into());
    let mut dhcp = Pin::new(Ecosystem::DebSrc, "isc-dhcp", "4.4.1-2.3");
    dhcp.declared_url =
        Some("http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc".into());
    dhcp.url = Some("https://snapshot.debian.org/archive/debian/20221206T000000Z/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc".into());
    dhcp.why = vec!["src/isc-dhcp/Makefile:17".into()];
    let web = Pin::new(
        Ecosystem::Web,
        "https://example.org/f \"q\".tgz",
        "003b51a89a133b5db4cca98b2dea3117",
    );
    let _ = web; // a name with a space is invalid; exercised below
    l.sources.push(SourceRecord {
        ecosystem: Ecosystem::Git,
        url: "https://github.com".into(),
        as_of: "the declared branch's newest commit at or before the cutoff".into(),
        reached: false,
        note: None,
    });
    let mut lldpd = Pin::new(Ecosystem::Deb, "lldpd", "1.0.4-1");
    lldpd.image = Some("docker-lldp".into());
    lldpd.built = Some("lldpd_1.0.4-1_amd64.deb".into());
    l.pins = vec![yaml, libc, dhcp, lldpd];
    l.trials.push(TrialRecord {
        candidate: l.candidate_hash(),
        builder: "docker:sonic-slave-bullseye".into(),
        result: Verdict::Pass,
        detail: None,
    });
    l
}

#[test]
fn toml_round_trip_is_lossless_and_deterministic() {
    let l = sample();
    let text = l.to_toml_string();
    let back = Lock::from_toml_str(&text, "x.lock").unwrap();
    let mut normalized = l.clone();
    normalized.normalize();
    assert_eq!(back, normalized);
    assert_eq!(back.to_toml_string(), text);
    let mut shuffled = l.clone();
    shuffled.pins.reverse();
    shuffled.pins[0].dependents.reverse();
    assert_eq!(shuffled.to_toml_string(), text);
    assert!(text.starts_with("# sonic-lock lockfile"));
    assert!(text.contains("\n[[pin]]\necosystem = \"deb\"\nname = \"libc6\"\n"));
    assert!(text.contains("dependents = [\"curl\", \"libc6-dev\"]\n"));
    assert!(text.contains("[[trial]]\n"));
    assert!(text.contains("result = \"pass\""));
    assert!(text.contains("\n[[source]]\necosystem = \"git\"\nurl = \"https://github.com\"\n"));
    assert!(text.contains("reached = false\n"));
}

#[test]
fn a_source_record_with_a_bad_field_is_refused_naming_its_line() {
    let (s, e) = err(&format!(
        "{HEADER}\n[[source]]\necosystem = \"py\"\nurl = \"https://pypi.org\"\nas_of = \"\"\nreached = true\n"
    ));
    assert!(matches!(e, LockError::Invalid { line: 7, .. }), "{s}");
    assert!(s.contains("as_of"), "{s}");
    let (s, _) = err(&format!(
        "{HEADER}\n[[source]]\necosystem = \"rpm\"\nurl = \"https://x\"\nas_of = \"now\"\nreached = true\n"
    ));
    assert!(s.contains("t.lock:"), "{s}");
}

#[test]
fn write_is_atomic_and_read_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("lockfiles/x.lock");
    sample().write(&p).unwrap();
    let mut n = sample();
    n.normalize();
    assert_eq!(Lock::read(&p).unwrap(), n);
    // An invalid lock is refused and the old file stays intact.
    let mut bad = sample();
    bad.pins[0].version = "not a version".into();
    let before = std::fs::read(&p).unwrap();
    assert!(bad.write(&p).is_err());
    assert_eq!(std::fs::read(&p).unwrap(), before);
    assert_eq!(std::fs::read_dir(p.parent().unwrap()).unwrap().count(), 1);
}

fn err(text: &str) -> (String, LockError) {
    let e = Lock::from_toml_str(text, "t.lock").unwrap_err();
    (e.to_string(), e)
}

const HEADER: &str = "version = 1\nplatform = \"p\"\ncommit = \"586d715f17\"\ncutoff = \"2022-12-06\"\ntool = \"sonic-lock 0.1.0\"\n";

#[test]
fn newer_schema_version_is_named() {
    let (s, e) = err("# c\nversion = 2\nplatform = \"p\"\nfuture = { x = 1 }\n");
    assert!(
        matches!(
            e,
            LockError::Version {
                found: 2,
                line: 2,
                ..
            }
        ),
        "{s}"
    );
    assert!(
        s.contains("t.lock:2:") && s.contains("schema version 2"),
        "{s}"
    );
    let (s, _) = err("platform = \"p\"\n");
    assert!(s.contains("missing `version`"), "{s}");
    let (s, _) = err("version = \"1\"\n");
    assert!(s.contains("t.lock:1:") && s.contains("integer"), "{s}");
}

#[test]
fn duplicate_pins_name_both_lines() {
    let text = format!(
        "{HEADER}\n[[pin]]\necosystem = \"deb\"\nname = \"aa\"\nversion = \"1.0\"\n\n[[pin]]\necosystem = \"deb\"\nname = \"aa\"\nversion = \"2.0\"\n"
    );
    let (s, e) = err(&text);
    assert!(
        matches!(
            e,
            LockError::Duplicate {
                line: 12,
                first_line: 7,
                ..
            }
        ),
        "{s}"
    );
    assert!(
        s.contains("t.lock:12: duplicate pin `deb aa` (first at line 7)"),
        "{s}"
    );
    // The same name in another image is not a duplicate.
    let ok = text.replacen(
        "version = \"2.0\"\n",
        "version = \"2.0\"\nimage = \"docker-x\"\n",
        1,
    );
    assert_eq!(Lock::from_toml_str(&ok, "t.lock").unwrap().pins.len(), 2);
    let arch = format!(
        "{HEADER}\n[[archive]]\nname = \"debian\"\nsnapshot = \"20221205T000000Z\"\n\n[[archive]]\nname = \"debian\"\nsnapshot = \"20221206T000000Z\"\n"
    );
    let (s, _) = err(&arch);
    assert!(
        s.contains("t.lock:11: duplicate archive `debian` (first at line 7)"),
        "{s}"
    );
}

#[test]
fn malformed_fields_name_the_line() {
    let pin = |body: &str| format!("{HEADER}\n[[pin]]\n{body}");
    let cases = [
        (
            "ecosystem = \"deb\"\nname = \"aa\"\nversion = \"x1\"\n",
            "field `version`",
        ),
        (
            "ecosystem = \"py\"\nname = \"aa\"\nversion = \"1.0\"\npython = \"py4\"\n",
            "field `python`",
        ),
        (
            "ecosystem = \"deb\"\nname = \"aa\"\nversion = \"1.0\"\nsha256 = \"abc\"\n",
            "field `sha256`",
        ),
        (
            "ecosystem = \"deb\"\nname = \"aa\"\nversion = \"1.0\"\nimage = \"../x\"\n",
            "field `image`",
        ),
        (
            "ecosystem = \"deb\"\nname = \"aa\"\nversion = \"1.0\"\nwhy = [\"nowhere\"]\n",
            "field `why`",
        ),
        (
            "ecosystem = \"git\"\nname = \"https://x/y.git\"\nversion = \"master\"\n",
            "field `version`",
        ),
        (
            "ecosystem = \"docker\"\nname = \"debian:bullseye\"\nversion = \"latest\"\n",
            "field `version`",
        ),
        (
            "ecosystem = \"go\"\nname = \"m\"\nversion = \"1.2.3\"\n",
            "field `version`",
        ),
        (
            "ecosystem = \"deb\"\nname = \"aa\"\nversion = \"1.0\"\ndeclared_url = \"http://x\"\n",
            "field `declared_url`",
        ),
    ];
    for (body, want) in cases {
        let (s, e) = err(&pin(body));
        assert!(
            matches!(e, LockError::Invalid { line: 7, .. }),
            "{body}: {s}"
        );
        assert!(
            s.contains(want) && s.starts_with("t.lock:7:"),
            "{body}: {s}"
        );
    }
    // Type errors and unknown fields come from the TOML layer, with a line.
    let (s, e) = err(&pin("ecosystem = \"deb\"\nname = \"aa\"\nversion = 3\n"));
    assert!(matches!(e, LockError::Parse { line: 10, .. }), "{s}");
    let (s, e) = err(&pin(
        "ecosystem = \"rpm\"\nname = \"aa\"\nversion = \"1\"\n",
    ));
    assert!(matches!(e, LockError::Parse { line: 8, .. }), "{s}");
    let (s, _) = err(&pin(
        "ecosystem = \"deb\"\nname = \"aa\"\nversion = \"1\"\nversoin = \"2\"\n",
    ));
    assert!(s.contains("versoin"), "{s}");
    let (s, e) = err(
        "version = 1\nplatform = \"p\"\ncommit = \"main\"\ncutoff = \"2022-12-06\"\ntool = \"t\"\n",
    );
    assert!(
        matches!(
            e,
            LockError::Invalid {
                line: 3,
                field: "commit",
                ..
            }
        ),
        "{s}"
    );
    let (s, _) = err(
        "version = 1\nplatform = \"p\"\ncommit = \"586d715f17\"\ncutoff = \"yesterday\"\ntool = \"t\"\n",
    );
    assert!(s.contains("t.lock:4:") && s.contains("cutoff"), "{s}");
    let (s, _) = err("version = 1\n[[pin]\n");
    assert!(s.contains("t.lock:2:"), "{s}");
}

#[test]
fn non_utf8_lock_is_a_clear_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("x.lock");
    let mut bytes = HEADER.as_bytes().to_vec();
    bytes.extend_from_slice(b"# \xff\n");
    std::fs::write(&p, bytes).unwrap();
    let s = Lock::read(&p).unwrap_err().to_string();
    assert!(
        s.contains("x.lock:6: malformed lockfile: not valid UTF-8"),
        "{s}"
    );
    let s = Lock::read(&dir.path().join("missing.lock"))
        .unwrap_err()
        .to_string();
    assert!(s.contains("missing.lock"), "{s}");
}

#[test]
fn candidate_hash_covers_pins_and_snapshots_only() {
    let l = sample();
    let h = l.candidate_hash();
    assert_eq!(h.len(), 64);
    let mut reordered = l.clone();
    reordered.pins.reverse();
    reordered.trials.clear();
    reordered.pins[0].why.push("other:1".into());
    reordered.pins[0].sha256 = None;
    assert_eq!(reordered.candidate_hash(), h);
    let mut bumped = l.clone();
    bumped.pins[1].version = "2.31-13+deb11u6".into();
    assert_ne!(bumped.candidate_hash(), h);
    let mut moved = l.clone();
    moved.pins[1].image = Some("docker-orchagent".into());
    assert_ne!(moved.candidate_hash(), h);
    let mut snap = l.clone();
    snap.archives[0].snapshot = "20221207T000000Z".into();
    assert_ne!(snap.candidate_hash(), h);
}

fn deb(name: &str, v: &str) -> Pin {
    Pin::new(Ecosystem::Deb, name, v)
}

#[test]
fn diff_classifies_by_ecosystem_ordering() {
    let mut a = Lock::new("p", "586d715f17", "2022-12-06");
    let mut b = a.clone();
    let py = |n: &str, v: &str| {
        let mut p = Pin::new(Ecosystem::Py, n, v);
        p.python = Some("py3".into());
        p
    };
    a.pins = vec![
        deb("gone", "1.0"),
        deb("libc6", "2.31-13+deb11u4"),
        deb("tzdata", "2021a-1+deb11u8"),
        py("cython", "0.29.9"),
        Pin::new(
            Ecosystem::Git,
            "https://x/y.git",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        deb("same", "1.0"),
        py("legacy", "1.14.0-unknown"),
    ];
    b.pins = vec![
        deb("libc6", "2.31-13+deb11u5"),
        // `~` sorts before everything in Debian order: a string compare would say upgrade.
        deb("tzdata", "2021a-1+deb11u8~1"),
        // 0.29.10 > 0.29.9 numerically, < lexically.
        py("cython", "0.29.10"),
        Pin::new(
            Ecosystem::Git,
            "https://x/y.git",
            "1123456789abcdef0123456789abcdef01234567",
        ),
        deb("same", "1.0"),
        deb("new", "1.0"),
        py("legacy", "1.14.0-dirty"),
    ];
    b.archives.push(Archive {
        name: "debian".into(),
        snapshot: "20230101T000000Z".into(),
        url: None,
    });
    let d = diff(&a, &b);
    let kinds: Vec<(String, ChangeKind)> = d
        .changes
        .iter()
        .map(|c| (c.key.name.clone(), c.kind))
        .collect();
    assert_eq!(
        kinds,
        vec![
            ("gone".into(), ChangeKind::Removed),
            ("libc6".into(), ChangeKind::Upgraded),
            ("new".into(), ChangeKind::Added),
            ("tzdata".into(), ChangeKind::Downgraded),
            ("cython".into(), ChangeKind::Upgraded),
            ("legacy".into(), ChangeKind::Changed),
            ("https://x/y.git".into(), ChangeKind::Changed),
        ]
    );
    assert_eq!(d.archives.len(), 1);
    let human = d.render_human();
    assert!(human.contains("deb default:"), "{human}");
    assert!(
        human.contains("upgraded   libc6 2.31-13+deb11u4 -> 2.31-13+deb11u5"),
        "{human}"
    );
    assert!(human.contains("7 pin changes (1 added, 1 removed, 2 upgraded, 1 downgraded, 2 changed), 1 archive changes"), "{human}");
    let json = serde_json::to_value(&d).unwrap();
    assert_eq!(json["changes"][1]["kind"], "upgraded");
    assert!(diff(&a, &a).is_empty());

    // Provenance alone is a change too (same version, other bytes).
    let mut c = a.clone();
    c.pins[1].sha256 =
        Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad".into());
    let d2 = diff(&a, &c);
    assert_eq!(d2.changes.len(), 1);
    assert_eq!(d2.changes[0].kind, ChangeKind::Changed);
}

#[test]
fn applying_changes_moves_from_good_towards_bad() {
    let mut good = Lock::new("p", "586d715f17", "2022-12-06");
    let mut bad = good.clone();
    good.pins = vec![deb("a", "1.0"), deb("b", "1.0"), deb("c", "1.0")];
    bad.pins = vec![deb("a", "2.0"), deb("c", "1.0"), deb("d", "1.0")];
    let d = diff(&good, &bad);
    assert_eq!(d.changes.len(), 3); // a upgraded, b removed, d added
    let none = d.apply(&good, &[]);
    assert_eq!(none.pins, good.pins);
    let all = d.apply(&good, &[0, 1, 2]);
    assert!(diff(&all, &bad).changes.is_empty());
    let only_a = d.apply(&good, &[0]);
    let names: Vec<(&str, &str)> = only_a
        .pins
        .iter()
        .map(|p| (p.name.as_str(), p.version.as_str()))
        .collect();
    assert_eq!(names, vec![("a", "2.0"), ("b", "1.0"), ("c", "1.0")]);
    let only_removal = d.apply(&good, &[1, 1]);
    assert_eq!(only_removal.pins.len(), 2);
    assert!(d.try_apply(&good, &[3]).is_err());
    assert_eq!(d.apply(&good, &[3]).pins, good.pins);
}

#[test]
fn rewrites_list_and_sed_script() {
    let l = sample();
    let rw = rewrite::rewrites(&l).unwrap();
    // The exact URL, then its directory (Makefiles spell the file with variables).
    assert_eq!(rw.len(), 2);
    assert_eq!(rw[0].origins, vec!["src/isc-dhcp/Makefile:17".to_string()]);
    assert_eq!(
        (rw[1].from.as_str(), rw[1].to.as_str()),
        (
            "http://deb.debian.org/debian/pool/main/i/isc-dhcp/",
            "https://snapshot.debian.org/archive/debian/20221206T000000Z/pool/main/i/isc-dhcp/"
        )
    );
    assert_eq!(rw[1].origins, rw[0].origins);
    let list = rewrite::render_list(&rw);
    assert!(list.contains(
        "http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc https://snapshot.debian.org/archive/debian/20221206T000000Z/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc\n"
    ));
    let sed = rewrite::render_sed(&rw);
    assert!(sed.contains("s|http://deb\\.debian\\.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4\\.4\\.1-2\\.3\\.dsc|https://snapshot"), "{sed}");

    // The sed script really rewrites a Makefile line (when sed is available).
    if let Ok(true) = std::process::Command::new("sed")
        .arg("--version")
        .output()
        .map(|o| o.status.success())
    {
        let dir = tempfile::tempdir().unwrap();
        let script = dir.path().join("r.sed");
        let mk = dir.path().join("Makefile");
        std::fs::write(&script, &sed).unwrap();
        std::fs::write(&mk, "\tdget http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc\n\tdget http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_$(ISC_DHCP_VERSION_FULL).dsc\n\tdget http://deb.debian.org/debian/pool/main/i/isc-dhcpd/x.dsc\n").unwrap();
        let st = std::process::Command::new("sed")
            .arg("-i")
            .arg("-f")
            .arg(&script)
            .arg(&mk)
            .status()
            .unwrap();
        assert!(st.success());
        let out = std::fs::read_to_string(&mk).unwrap();
        assert_eq!(
            out,
            "\tdget https://snapshot.debian.org/archive/debian/20221206T000000Z/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc\n\tdget https://snapshot.debian.org/archive/debian/20221206T000000Z/pool/main/i/isc-dhcp/isc-dhcp_$(ISC_DHCP_VERSION_FULL).dsc\n\tdget http://deb.debian.org/debian/pool/main/i/isc-dhcpd/x.dsc\n"
        );
    }

    // Two pins wanting different replacements for one URL is an error.
    let mut c = l.clone();
    let mut other = c
        .pins
        .iter()
        .find(|p| p.ecosystem == Ecosystem::DebSrc)
        .unwrap()
        .clone();
    other.image = Some("sonic-slave-buster".into());
    other.url = Some("https://snapshot.debian.org/archive/debian/20200101T000000Z/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc".into());
    c.pins.push(other);
    let e = rewrite::rewrites(&c).unwrap_err().to_string();
    assert!(e.contains("rewritten both to"), "{e}");
}

#[test]
fn immutable_url_helpers() {
    let archives = vec![Archive {
        name: "debian".into(),
        snapshot: "20221206T000000Z".into(),
        url: None,
    }];
    assert_eq!(
        rewrite::snapshot_pool_url(
            "http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc",
            &archives
        )
        .as_deref(),
        Some(
            "https://snapshot.debian.org/archive/debian/20221206T000000Z/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc"
        )
    );
    assert_eq!(
        rewrite::snapshot_pool_url(
            "http://deb.debian.org/debian/dists/bullseye/Release",
            &archives
        ),
        None
    );
    assert_eq!(
        rewrite::snapshot_pool_url(
            "http://security.debian.org/pool/updates/main/x.deb",
            &archives
        ),
        None
    );
    let sha = "0123456789abcdef0123456789abcdef01234567";
    assert_eq!(
        rewrite::github_at_commit("https://github.com/barefootnetworks/sonic-release-pkgs/raw/dev/bfnsdk_20221206_sai_1.11.0_deb11.deb", sha).as_deref(),
        Some("https://github.com/barefootnetworks/sonic-release-pkgs/raw/0123456789abcdef0123456789abcdef01234567/bfnsdk_20221206_sai_1.11.0_deb11.deb")
    );
    assert_eq!(
        rewrite::github_at_commit("https://raw.githubusercontent.com/o/r/master/a/b.sh", sha)
            .as_deref(),
        Some(
            "https://raw.githubusercontent.com/o/r/0123456789abcdef0123456789abcdef01234567/a/b.sh"
        )
    );
    assert_eq!(
        rewrite::github_at_commit(&format!("https://github.com/o/r/raw/{sha}/x"), sha),
        None
    );
    assert_eq!(
        rewrite::github_at_commit("https://github.com/o/r/raw/dev/x", "dev"),
        None
    );
    assert_eq!(
        rewrite::github_release_at_tag(
            "https://github.com/bazelbuild/bazelisk/releases/latest/download/bazelisk-linux-amd64",
            "v1.15.0"
        )
        .as_deref(),
        Some(
            "https://github.com/bazelbuild/bazelisk/releases/download/v1.15.0/bazelisk-linux-amd64"
        )
    );
}

proptest::proptest! {
    // Regressions live beside this file; by default proptest keeps them in
    // tests/proptest-regressions/<module>.txt, one name space for all binaries.
    #![proptest_config(proptest::prelude::ProptestConfig {
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..proptest::prelude::ProptestConfig::default()
    })]

    /// Arbitrary text never panics the readers; it parses or gives an error.
    #[test]
    fn readers_never_panic(body in "(version = 1\n)?([a-z_]{1,8} = (\"[ -~]{0,12}\"|[0-9]{1,3}|\\[\\])\n|\\[\\[(pin|archive|trial)\\]\\]\n|[ -~]{0,20}\n){0,12}") {
        let text = format!("{HEADER}{body}");
        let _ = Lock::from_toml_str(&text, "p.lock");
        let _ = Lock::from_toml_str(&body, "p.lock");
        for ctype in ["deb", "py3", "git", "web", "docker", "mirror"] {
            let _ = sonic_lock::lock::sonic_versions::parse_file(&body, "versions-x", ctype);
        }
    }

    /// Valid deb pins survive the TOML round trip unchanged.
    #[test]
    fn deb_pins_round_trip(names in proptest::collection::btree_set("[a-z][a-z0-9+.-]{1,10}", 1..8), epoch in 0u32..3) {
        let mut l = Lock::new("p", "586d715f17", "2022-12-06");
        for (i, n) in names.iter().enumerate() {
            l.pins.push(deb(n, &format!("{epoch}:{i}.0-1")));
        }
        let text = l.to_toml_string();
        let back = Lock::from_toml_str(&text, "p.lock").unwrap();
        l.normalize();
        proptest::prop_assert_eq!(back, l);
    }
}

#[test]
fn gaps_round_trip_and_malformed_gaps_name_the_line() {
    let mut l = sample();
    l.gaps.push(sonic_lock::lock::Gap {
        origin: ".gitmodules:12".into(),
        message: "submodule src/sonic-frr/frr at 5555 could not be read (no clone); its files were not crawled [https://github.com/sonic-net/sonic-frr.git]".into(),
    });
    let text = l.to_toml_string();
    assert!(
        text.contains("\n[[gap]]\norigin = \".gitmodules:12\"\n"),
        "{text}"
    );
    let back = Lock::from_toml_str(&text, "x.lock").unwrap();
    assert_eq!(back, {
        let mut n = l.clone();
        n.normalize();
        n
    });
    assert_eq!(back.candidate_hash(), sample().candidate_hash());

    let bad = text.replace("origin = \".gitmodules:12\"", "origin = \".gitmodules\"");
    // The error names the `[[gap]]` line.
    let line = bad.lines().position(|x| x == "[[gap]]").unwrap() + 1;
    let (msg, _) = err(&bad);
    assert!(
        msg.contains(&format!("t.lock:{line}: gap field `origin`")),
        "{msg}"
    );
    let bad = text.replace("\n[[gap]]\n", "\n[[gap]]\nwhat = \"x\"\n");
    assert!(err(&bad).0.contains("unknown field"), "{}", err(&bad).0);
}

#[test]
fn make_vars_are_in_the_header_and_checked() {
    let mut l = sample();
    assert!(!l.to_toml_string().contains("make_vars"));
    l.make_vars.insert("INSTALL_DEBUG_TOOLS".into(), "y".into());
    l.make_vars.insert("X".into(), "a \"b\"".into());
    let text = l.to_toml_string();
    assert!(
        text.contains("\nmake_vars = { INSTALL_DEBUG_TOOLS = \"y\", X = \"a \\\"b\\\"\" }\n"),
        "{text}"
    );
    let back = Lock::from_toml_str(&text, "x.lock").unwrap();
    assert_eq!(back.make_vars, l.make_vars);
    let (s, e) = err(&format!("{HEADER}make_vars = {{ \"1X\" = \"y\" }}\n"));
    assert!(matches!(e, LockError::Invalid { line: 6, .. }), "{s}");
    assert!(s.contains("make_vars") && s.contains("1X"), "{s}");
}

#[test]
fn upsert_all_replaces_by_identity_and_appends_in_order_as_upsert_does() {
    let pin = |name: &str, image: &str, v: &str| {
        let mut p = Pin::new(Ecosystem::Deb, name, v);
        p.image = Some(image.into());
        p
    };
    let start = vec![pin("a", "x", "1"), pin("b", "x", "1"), pin("a", "y", "1")];
    let batch = vec![
        pin("b", "x", "2"),
        pin("c", "x", "1"),
        pin("a", "y", "3"),
        pin("c", "x", "2"),
    ];
    let mut one_by_one = Lock::new("p", &"a".repeat(40), "2022-12-06T08:47:31Z");
    one_by_one.pins = start.clone();
    for p in batch.clone() {
        one_by_one.upsert(p);
    }
    let mut batched = Lock::new("p", &"a".repeat(40), "2022-12-06T08:47:31Z");
    batched.pins = start;
    batched.upsert_all(batch);
    assert_eq!(batched.pins, one_by_one.pins);
    let got: Vec<(&str, &str, &str)> = batched
        .pins
        .iter()
        .map(|p| {
            (
                p.name.as_str(),
                p.image.as_deref().unwrap_or(""),
                p.version.as_str(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("a", "x", "1"),
            ("b", "x", "2"),
            ("a", "y", "3"),
            ("c", "x", "2")
        ]
    );
}
