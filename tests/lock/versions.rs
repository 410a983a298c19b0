//! SONiC version trees: export layout and line formats, import, the merge
//! order the build applies, and malformed input.

use sonic_lock::lock::sonic_versions::{self, VersionsError, effective, read_tree};
use sonic_lock::lock::{Archive, Lock, Pin, apt_prefs, pip_constraints};
use sonic_lock::manifest::Ecosystem;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

const SHA_A: &str = "0123456789abcdef0123456789abcdef01234567";
const DIGEST: &str = "sha256:f33900927c0a8bcf3f0e2281fd0237f4780cc6bc59729bb3a10e75b0703c5ca7";

fn pin(
    eco: Ecosystem,
    name: &str,
    version: &str,
    image: Option<&str>,
    suite: Option<&str>,
    arch: Option<&str>,
) -> Pin {
    let mut p = Pin::new(eco, name, version);
    p.image = image.map(str::to_string);
    p.suite = suite.map(str::to_string);
    p.arch = arch.map(str::to_string);
    p
}

fn py(name: &str, version: &str, flavour: &str, image: &str, arch: Option<&str>) -> Pin {
    let mut p = pin(Ecosystem::Py, name, version, Some(image), None, arch);
    p.python = Some(flavour.to_string());
    p
}

/// A lock touching every SONiC file type and module kind.
fn fixture() -> Lock {
    let mut l = Lock::new(
        "wedge100bf-32x",
        "586d715f172b1b72e9fc1e7b55625e2e5af590c2",
        "2022-12-06",
    );
    l.archives = vec![
        Archive {
            name: "debian-security".into(),
            snapshot: "20221206T000000Z".into(),
            url: None,
        },
        Archive {
            name: "debian".into(),
            snapshot: "20221205T210000Z".into(),
            url: Some("https://snapshot.debian.org/archive/debian/20221205T210000Z/".into()),
        },
    ];
    l.pins = vec![
        pin(
            Ecosystem::Deb,
            "libc6",
            "2.31-13+deb11u5",
            Some("docker-base-bullseye"),
            Some("bullseye"),
            None,
        ),
        pin(
            Ecosystem::Deb,
            "libc6",
            "2.31-13+deb11u4",
            Some("docker-base-bullseye"),
            Some("bullseye"),
            Some("arm64"),
        ),
        pin(
            Ecosystem::Deb,
            "curl",
            "7.74.0-1.3+deb11u3",
            Some("docker-base-bullseye"),
            Some("bullseye"),
            None,
        ),
        pin(Ecosystem::Deb, "apt", "2.2.4", None, None, None),
        pin(
            Ecosystem::Deb,
            "vim",
            "2:8.2.2434-3+deb11u1",
            Some("build-sonic-slave-bullseye"),
            Some("bullseye"),
            None,
        ),
        pin(
            Ecosystem::Deb,
            "linux-base",
            "4.6",
            Some("host-base-image"),
            Some("bullseye"),
            None,
        ),
        pin(
            Ecosystem::Deb,
            "sudo",
            "1.9.5p2-3+deb11u1",
            Some("host-image"),
            Some("bullseye"),
            None,
        ),
        py("PyYAML", "5.4.1", "py3", "docker-base-bullseye", None),
        py("Cython", "0.29.32", "py3", "docker-base-bullseye", None),
        py("ipaddress", "1.0.23", "py2", "sonic-slave-buster", None),
        py(
            "redis",
            "4.5.4",
            "py3",
            "build-sonic-slave-bullseye",
            Some("armhf"),
        ),
        py("gpg", "1.14.0-unknown", "py3", "sonic-slave-bullseye", None),
        pin(
            Ecosystem::Git,
            "https://github.com/CESNET/libyang.git",
            SHA_A,
            None,
            None,
            None,
        ),
        pin(
            Ecosystem::Web,
            "https://example.org/dl/B.tar.gz",
            "003b51a89a133b5db4cca98b2dea3117",
            None,
            None,
            None,
        ),
        pin(
            Ecosystem::Web,
            "https://example.org/dl/a.tar.gz",
            "c30873f4a513bb935afaf8f65e7de9e1",
            None,
            None,
            None,
        ),
        pin(
            Ecosystem::Docker,
            "debian:bullseye",
            DIGEST,
            None,
            None,
            Some("amd64"),
        ),
        pin(Ecosystem::DebSrc, "isc-dhcp", "4.4.1-2.3", None, None, None),
        pin(
            Ecosystem::Go,
            "github.com/openconfig/gnmi",
            "v0.0.0-20200617225440-d2b4e6a45802",
            None,
            None,
            None,
        ),
    ];
    l
}

fn files_under(root: &Path) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read_to_string(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn export_writes_sonic_layout_and_line_formats() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("versions");
    let summary = sonic_versions::export(&fixture(), &out).unwrap();
    let files = files_under(&out);
    let expected: BTreeMap<String, String> = [
        ("default/versions-deb", "apt==2.2.4".to_string()),
        ("default/versions-git", format!("https://github.com/CESNET/libyang.git=={SHA_A}")),
        // Case-insensitive order, as SONiC sorts: `a` before `B`.
        (
            "default/versions-web",
            "https://example.org/dl/a.tar.gz==c30873f4a513bb935afaf8f65e7de9e1\nhttps://example.org/dl/B.tar.gz==003b51a89a133b5db4cca98b2dea3117".to_string(),
        ),
        ("default/versions-docker", format!("amd64:debian:bullseye=={DIGEST}")),
        ("default/versions-mirror", "debian==20221205T210000Z\ndebian-security==20221206T000000Z".to_string()),
        (
            "dockers/docker-base-bullseye/versions-deb-bullseye",
            "curl==7.74.0-1.3+deb11u3\nlibc6==2.31-13+deb11u5".to_string(),
        ),
        ("dockers/docker-base-bullseye/versions-deb-bullseye-arm64", "libc6==2.31-13+deb11u4".to_string()),
        // Python names lower-cased, pip-freeze style.
        ("dockers/docker-base-bullseye/versions-py3", "cython==0.29.32\npyyaml==5.4.1".to_string()),
        ("dockers/sonic-slave-buster/versions-py2", "ipaddress==1.0.23".to_string()),
        // Not PEP 440: pip's arbitrary equality, as pip freeze writes it.
        ("dockers/sonic-slave-bullseye/versions-py3", "gpg===1.14.0-unknown".to_string()),
        ("build/build-sonic-slave-bullseye/versions-deb-bullseye", "vim==2:8.2.2434-3+deb11u1".to_string()),
        ("build/build-sonic-slave-bullseye/versions-py3-all-armhf", "redis==4.5.4".to_string()),
        ("host-base-image/versions-deb-bullseye", "linux-base==4.6".to_string()),
        ("host-image/versions-deb-bullseye", "sudo==1.9.5p2-3+deb11u1".to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(files, expected);
    assert_eq!(summary.pins, 16);
    assert_eq!(
        summary.not_representable.len(),
        2,
        "deb-src and go are reported: {:?}",
        summary.not_representable
    );
    // Nothing but the tree itself was created next to it.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 1);
}

#[test]
fn export_is_deterministic_and_removes_stale_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut shuffled = fixture();
    shuffled.pins.reverse();
    shuffled.archives.reverse();
    sonic_versions::export(&fixture(), &dir.path().join("a")).unwrap();
    sonic_versions::export(&shuffled, &dir.path().join("b")).unwrap();
    assert_eq!(
        files_under(&dir.path().join("a")),
        files_under(&dir.path().join("b"))
    );

    // Re-exporting a smaller lock into the same directory leaves no stale pins behind.
    let mut smaller = fixture();
    smaller.pins.retain(|p| p.ecosystem != Ecosystem::Py);
    let s = sonic_versions::export(&smaller, &dir.path().join("a")).unwrap();
    assert_eq!(s.removed.len(), 4, "{:?}", s.removed);
    assert_eq!(
        files_under(&dir.path().join("a")),
        files_under(&{
            let p = dir.path().join("c");
            sonic_versions::export(&smaller, &p).unwrap();
            p
        })
    );
}

#[test]
fn export_removes_staging_files_a_killed_export_left() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("v");
    sonic_versions::export(&fixture(), &out).unwrap();
    // The id of a process that has exited stands for the killed export.
    let mut child = std::process::Command::new("true").spawn().unwrap();
    let dead = child.id();
    child.wait().unwrap();
    let left = out.join(format!("default/.versions-deb.{dead}.3.tmp"));
    let users = out.join("default/.versions-deb.notes.tmp");
    std::fs::write(&left, "half").unwrap();
    std::fs::write(&users, "mine").unwrap();
    sonic_versions::export(&fixture(), &out).unwrap();
    assert!(users.exists(), "a file of the user's own was removed");
    // (Unless the id was reused at once by a live process, which keeps it.)
    let alive = unsafe { libc::kill(dead as libc::pid_t, 0) } == 0;
    assert!(
        alive || !left.exists(),
        "{} was left behind",
        left.display()
    );
}

fn representable(l: &Lock) -> Vec<Pin> {
    let mut v: Vec<Pin> = l
        .pins
        .iter()
        .filter(|p| !matches!(p.ecosystem, Ecosystem::DebSrc | Ecosystem::Go))
        .map(|p| Pin::new(p.ecosystem, &p.name, &p.version))
        .collect();
    v.sort_by_key(|p| p.key());
    v
}

#[test]
fn export_then_import_gives_the_same_pins() {
    let dir = tempfile::tempdir().unwrap();
    let lock = fixture();
    sonic_versions::export(&lock, dir.path()).unwrap();
    let back = sonic_versions::import(dir.path()).unwrap();
    let key_ver = |l: &Lock| -> Vec<(String, String)> {
        let mut v: Vec<(String, String)> = l
            .pins
            .iter()
            .filter(|p| !matches!(p.ecosystem, Ecosystem::DebSrc | Ecosystem::Go))
            .map(|p| {
                let mut k = p.key();
                if k.ecosystem == Ecosystem::Py {
                    k.name = k.name.to_lowercase();
                }
                (k.to_string(), p.version.clone())
            })
            .collect();
        v.sort();
        v
    };
    assert_eq!(key_ver(&back), key_ver(&lock));
    assert_eq!(representable(&back).len(), 16);
    let mut archives = lock.archives.clone();
    archives.sort();
    let names: Vec<(String, String)> = back
        .archives
        .iter()
        .map(|a| (a.name.clone(), a.snapshot.clone()))
        .collect();
    assert_eq!(
        names,
        archives
            .iter()
            .map(|a| (a.name.clone(), a.snapshot.clone()))
            .collect::<Vec<_>>()
    );
    // The import's cutoff comes from the debian snapshot.
    assert_eq!(back.cutoff, "2022-12-05T21:00:00Z");
    // A second round trip is byte-identical.
    let dir2 = tempfile::tempdir().unwrap();
    sonic_versions::export(&back, dir2.path()).unwrap();
    assert_eq!(files_under(dir.path()), files_under(dir2.path()));
    assert_eq!(sonic_versions::import(dir2.path()).unwrap(), back);
}

/// Writes `files` (relative path → text) under a fresh temporary tree.
fn tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

const GIT_LINE: &str =
    "https://github.com/CESNET/libyang.git==0123456789abcdef0123456789abcdef01234567";

fn override_fixture() -> tempfile::TempDir {
    tree(&[
        ("default/versions-deb", "aa==1\nbb==1\ncc==1"),
        ("default/versions-deb-bullseye", "aa==2"),
        ("default/versions-py3", "bar==2.0\nfoo==0.9"),
        ("default/versions-git", GIT_LINE),
        ("dockers/docker-x/versions-deb", "aa==3\nbb==3"),
        ("dockers/docker-x/versions-deb-bullseye-amd64", "bb==4"),
        ("dockers/docker-x/versions-py3", "Foo==1.0"),
        ("dockers/docker-z/versions-deb", "pp==1"),
        ("dockers/docker-z/versions-deb-all-amd64", "pp==2"),
        ("dockers/docker-z/versions-deb-bullseye", "pp==1"),
        (
            "dockers/sonic-slave-bullseye/versions-deb-bullseye",
            "ss==1",
        ),
        (
            "build/build-sonic-slave-bullseye/versions-deb-bullseye",
            "tt==1",
        ),
        ("host-base-image/versions-deb-bullseye", "aa==5\nhh==1"),
        ("host-image/versions-deb-bullseye", "hh==2"),
    ])
}

fn eff(t: &sonic_versions::VersionTree, m: &str, d: &str, a: &str, ctype: &str) -> String {
    effective(t, m, d, a)
        .get(ctype)
        .map(|v| {
            v.iter()
                .map(|(k, v)| format!("{k}=={v}"))
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default()
}

/// Expected values were checked against the build's own merge for the same tree.
#[test]
fn effective_versions_follow_sonic_override_order() {
    let dir = override_fixture();
    let (t, warnings) = read_tree(dir.path()).unwrap();
    assert!(warnings.is_empty(), "{warnings:?}");
    // Specificity first: default's versions-deb-bullseye beats the docker's generic versions-deb;
    // the docker's bullseye-amd64 beats everything; same specificity: docker beats default.
    assert_eq!(
        eff(&t, "docker-x", "bullseye", "amd64", "deb"),
        "aa==2 bb==4 cc==1"
    );
    assert_eq!(
        eff(&t, "docker-x", "bullseye", "arm64", "deb"),
        "aa==2 bb==3 cc==1"
    );
    assert_eq!(
        eff(&t, "docker-x", "buster", "amd64", "deb"),
        "aa==3 bb==3 cc==1"
    );
    assert_eq!(
        eff(&t, "docker-x", "bullseye", "amd64", "py3"),
        "bar==2.0 foo==1.0"
    );
    // A docker without its own directory gets default.
    assert_eq!(
        eff(&t, "docker-y", "bullseye", "amd64", "deb"),
        "aa==2 bb==1 cc==1"
    );
    assert_eq!(
        eff(&t, "docker-y", "bullseye", "amd64", "py3"),
        "bar==2.0 foo==0.9"
    );
    // Slaves and host images do not inherit default's deb/py pins, but do inherit git.
    assert_eq!(
        eff(&t, "sonic-slave-bullseye", "bullseye", "amd64", "deb"),
        "ss==1"
    );
    assert_eq!(
        eff(&t, "sonic-slave-bullseye", "bullseye", "amd64", "py3"),
        ""
    );
    assert_eq!(
        eff(&t, "sonic-slave-bullseye", "bullseye", "amd64", "git"),
        GIT_LINE
    );
    assert_eq!(
        eff(&t, "build-sonic-slave-bullseye", "bullseye", "amd64", "deb"),
        "tt==1"
    );
    // host-image inherits host-base-image and overrides it.
    assert_eq!(
        eff(&t, "host-image", "bullseye", "amd64", "deb"),
        "aa==5 hh==2"
    );
    assert_eq!(
        eff(&t, "host-base-image", "bullseye", "amd64", "deb"),
        "aa==5 hh==1"
    );
    assert_eq!(eff(&t, "host-image", "bullseye", "amd64", "git"), GIT_LINE);
    // The build drops `pp==1` from versions-deb-bullseye as redundant with versions-deb,
    // so versions-deb-all-amd64's pp==2 wins on amd64.
    assert_eq!(
        eff(&t, "docker-z", "bullseye", "amd64", "deb"),
        "aa==2 bb==1 cc==1 pp==2"
    );
    assert_eq!(
        eff(&t, "docker-z", "bullseye", "arm64", "deb"),
        "aa==2 bb==1 cc==1 pp==1"
    );
}

#[test]
fn import_reads_every_module_kind() {
    let dir = override_fixture();
    let lock = sonic_versions::import(dir.path()).unwrap();
    let find = |name: &str, image: Option<&str>| {
        lock.pins
            .iter()
            .filter(|p| p.name == name && p.image.as_deref() == image)
            .map(|p| (p.suite.clone(), p.arch.clone(), p.version.clone()))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        find("aa", None),
        vec![
            (None, None, "1".into()),
            (Some("bullseye".into()), None, "2".into())
        ]
    );
    assert_eq!(find("pp", Some("docker-z")).len(), 3);
    assert_eq!(
        find("pp", Some("docker-z"))[1],
        (None, Some("amd64".into()), "2".into())
    );
    assert_eq!(
        find("foo", Some("docker-x")),
        vec![(None, None, "1.0".into())]
    );
    assert_eq!(find("tt", Some("build-sonic-slave-bullseye")).len(), 1);
    assert_eq!(find("hh", Some("host-base-image")).len(), 1);
    assert_eq!(find("hh", Some("host-image")).len(), 1);
    assert_eq!(lock.commit, "unknown");
}

#[test]
fn apt_preferences_and_pip_constraints_use_the_merged_versions() {
    let dir = override_fixture();
    let lock = sonic_versions::import(dir.path()).unwrap();
    let apt = apt_prefs::render(&lock).unwrap();
    let x = &apt[&PathBuf::from("docker-x/01-versions-deb-bullseye-amd64")];
    assert_eq!(
        x,
        "Package: aa\nPin: version 2\nPin-Priority: 999\n\nPackage: bb\nPin: version 4\nPin-Priority: 999\n\nPackage: cc\nPin: version 1\nPin-Priority: 999\n"
    );
    let slave = &apt[&PathBuf::from("sonic-slave-bullseye/01-versions-deb-bullseye")];
    assert_eq!(slave, "Package: ss\nPin: version 1\nPin-Priority: 999\n");
    let pip = pip_constraints::render(&lock).unwrap();
    assert_eq!(
        pip[&PathBuf::from("docker-x/constraints-py3.txt")],
        "bar==2.0\nfoo==1.0\n"
    );
    assert!(
        !pip.keys().any(|k| k.starts_with("sonic-slave-bullseye")),
        "{:?}",
        pip.keys()
    );

    let pip = pip_constraints::render(&fixture()).unwrap();
    assert_eq!(
        pip[&PathBuf::from("sonic-slave-bullseye/constraints-py3.txt")],
        "gpg===1.14.0-unknown\n"
    );
    assert_eq!(
        pip[&PathBuf::from("build-sonic-slave-bullseye/constraints-py3-all-armhf.txt")],
        "redis==4.5.4\n"
    );
}

fn read_err(files: &[(&str, &str)]) -> String {
    let dir = tree(files);
    match read_tree(dir.path()) {
        Ok(_) => panic!("{files:?} was accepted"),
        Err(e) => {
            let s = e.to_string();
            // Every message names the tree it came from.
            assert!(s.contains(&dir.path().display().to_string()), "{s}");
            s
        }
    }
}

#[test]
fn malformed_version_files_are_clear_errors() {
    let e = read_err(&[("default/versions-deb", "aa==1\nlibfoo 1.0\n")]);
    assert!(e.contains("versions-deb:2: missing `==`"), "{e}");
    let e = read_err(&[(
        "dockers/docker-x/versions-deb-bullseye",
        "aa==1\nbb==2\naa==1",
    )]);
    assert!(
        e.contains("versions-deb-bullseye:3: duplicate key `aa` (first at line 1)"),
        "{e}"
    );
    // Python names are case-insensitive: these collide.
    let e = read_err(&[(
        "dockers/docker-x/versions-py3",
        "PyYAML==5.4.1\npyyaml==6.0",
    )]);
    assert!(e.contains(":2: duplicate key `pyyaml`"), "{e}");
    for bad in ["x1.0", "1.0$", "1:"] {
        let e = read_err(&[("default/versions-deb", &format!("ok==1.0\naa=={bad}"))]);
        assert!(
            e.contains("versions-deb:2:") && e.contains("not a Debian version"),
            "{e}"
        );
    }
    let e = read_err(&[("default/versions-py3", "ok==1.0\nbad==1.0-unknown")]);
    assert!(
        e.contains("versions-py3:2:") && e.contains("PEP 440"),
        "{e}"
    );
    let e = read_err(&[("default/versions-git", "https://x/y.git==master")]);
    assert!(
        e.contains("versions-git:1:") && e.contains("commit SHA"),
        "{e}"
    );
    let e = read_err(&[("default/versions-web", "https://x/y.tgz==123")]);
    assert!(e.contains("versions-web:1:") && e.contains("md5"), "{e}");
    let e = read_err(&[("default/versions-docker", "amd64:debian:bullseye==latest")]);
    assert!(e.contains("versions-docker:1:"), "{e}");
    let e = read_err(&[("default/versions-deb", "==1.0")]);
    assert!(e.contains(":1: empty name"), "{e}");
    let e = read_err(&[("default/versions-deb", "aa==")]);
    assert!(e.contains(":1: empty version"), "{e}");
    let e = read_err(&[("default/versions-deb-bullseye-amd64-x", "aa==1")]);
    assert!(e.contains("is not `versions-<type>"), "{e}");
    let e = read_err(&[("default/versions-npm", "aa==1")]);
    assert!(e.contains("unknown version file type `npm`"), "{e}");
    let e = read_err(&[(
        "dockers/docker-x/versions-mirror",
        "debian==20221206T000000Z",
    )]);
    assert!(e.contains("only read from default/"), "{e}");
    let e = read_err(&[
        ("default/versions-deb", "aa==1"),
        ("default/versions-deb-all", "bb==1"),
    ]);
    assert!(e.contains("same scope as `versions-deb`"), "{e}");
    let e = read_err(&[
        ("dockers/default/versions-deb", "aa==1"),
        ("default/versions-deb", "aa==1"),
    ]);
    assert!(e.contains("module `default` also at"), "{e}");

    let dir = tree(&[]);
    std::fs::create_dir_all(dir.path().join("default")).unwrap();
    std::fs::write(
        dir.path().join("default/versions-deb"),
        b"aa==1\nbb==\xff\xfe",
    )
    .unwrap();
    let e = read_tree(dir.path()).unwrap_err().to_string();
    assert!(e.contains("versions-deb:2: not valid UTF-8"), "{e}");
}

#[test]
fn blank_lines_and_crlf_are_tolerated_like_the_build() {
    let dir = tree(&[("default/versions-deb", "\naa==1\r\n\nbb==2\n")]);
    let lock = sonic_versions::import(dir.path()).unwrap();
    assert_eq!(lock.pins.len(), 2);
    assert_eq!(lock.pins[0].version, "1");
}

fn assert_nothing_written(dir: &Path) {
    let leftovers: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn hostile_image_names_are_refused_before_anything_is_written() {
    for bad in ["../x", "..", "a/b", "/etc", ".hidden", "x\ny", ""] {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        let mut lock = fixture();
        lock.pins.push(pin(
            Ecosystem::Deb,
            "evil",
            "1.0",
            Some(bad),
            Some("bullseye"),
            None,
        ));
        let err = sonic_versions::export(&lock, &out).unwrap_err();
        assert!(matches!(err, VersionsError::Lock(_)), "{bad:?}: {err}");
        assert!(err.to_string().contains("image"), "{err}");
        assert_nothing_written(root.path());
    }
    // Suites and arches become `-`-separated file name parts.
    for (suite, arch) in [
        (Some("bullseye-backports"), None),
        (None, Some("../x")),
        (Some("all"), None),
    ] {
        let root = tempfile::tempdir().unwrap();
        let mut lock = fixture();
        lock.pins.push(pin(
            Ecosystem::Deb,
            "evil",
            "1.0",
            Some("docker-x"),
            suite,
            arch,
        ));
        assert!(sonic_versions::export(&lock, &root.path().join("out")).is_err());
        assert_nothing_written(root.path());
    }
}

#[test]
fn colliding_pins_are_refused_before_anything_is_written() {
    let root = tempfile::tempdir().unwrap();
    let mut lock = fixture();
    // Distinct pins in the lock, one line in versions-py3 once lower-cased.
    lock.pins
        .push(py("pyyaml", "6.0", "py3", "docker-base-bullseye", None));
    let err = sonic_versions::export(&lock, &root.path().join("out"))
        .unwrap_err()
        .to_string();
    assert!(
        (err.contains("collides") && err.contains("versions-py3"))
            || err.contains("duplicate pin `py pyyaml"),
        "{err}"
    );
    assert_nothing_written(root.path());
}

#[cfg(unix)]
#[test]
fn export_does_not_write_through_symlinks() {
    let root = tempfile::tempdir().unwrap();
    let outside = root.path().join("outside");
    let out = root.path().join("out");
    std::fs::create_dir_all(&outside).unwrap();
    std::fs::create_dir_all(out.join("dockers")).unwrap();
    std::os::unix::fs::symlink(&outside, out.join("dockers/docker-base-bullseye")).unwrap();
    let err = sonic_versions::export(&fixture(), &out)
        .unwrap_err()
        .to_string();
    assert!(err.contains("symlink"), "{err}");
    assert_nothing_written(&outside);
    assert!(!out.join("default").exists());
}

#[test]
fn web_pins_carry_md5_and_docker_pins_split_arch() {
    let dir = tree(&[
        (
            "default/versions-web",
            "https://example.org/x?a==b==003b51a89a133b5db4cca98b2dea3117",
        ),
        (
            "default/versions-docker",
            &format!("arm64:arm64v8/debian:bullseye=={DIGEST}"),
        ),
    ]);
    let lock = sonic_versions::import(dir.path()).unwrap();
    let web = lock
        .pins
        .iter()
        .find(|p| p.ecosystem == Ecosystem::Web)
        .unwrap();
    // Split on the last `==`, as the build does.
    assert_eq!(web.name, "https://example.org/x?a==b");
    assert_eq!(web.md5.as_deref(), Some("003b51a89a133b5db4cca98b2dea3117"));
    let d = lock
        .pins
        .iter()
        .find(|p| p.ecosystem == Ecosystem::Docker)
        .unwrap();
    assert_eq!(
        (d.arch.as_deref(), d.name.as_str()),
        (Some("arm64"), "arm64v8/debian:bullseye")
    );
    let out = tempfile::tempdir().unwrap();
    sonic_versions::export(&lock, out.path()).unwrap();
    assert_eq!(files_under(out.path()), files_under(dir.path()));
}
