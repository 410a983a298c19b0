//! Names and versions valid for their ecosystem at every entry point (lock,
//! version tree, export, manifest), and exports that are transactional and
//! leave the user's own files and modes alone.

use sonic_lock::lock::sonic_versions::{self, read_tree};
use sonic_lock::lock::{Lock, Pin, apt_prefs, pip_constraints};
use sonic_lock::manifest::{Constraint, Context, Dependency, Ecosystem, Manifest, Origin};
use std::collections::BTreeMap;
use std::path::Path;

const HEADER: &str = "version = 1\nplatform = \"p\"\ncommit = \"586d715f17\"\ncutoff = \"2022-12-06\"\ntool = \"sonic-lock 0.1.0\"\n";
const EVIL_PY: &str = "-ihttps://evil.example/simple/?x";

fn read_lock(dir: &Path, body: &str) -> Result<Lock, String> {
    let p = dir.join("t.lock");
    std::fs::write(&p, format!("{HEADER}{body}")).unwrap();
    Lock::read(&p).map_err(|e| e.to_string())
}

fn write_tree(files: &[(&str, &str)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for (rel, text) in files {
        let p = dir.path().join(rel);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(p, text).unwrap();
    }
    dir
}

#[test]
fn an_option_as_a_python_name_is_refused_by_the_lock_reader() {
    let dir = tempfile::tempdir().unwrap();
    let e = read_lock(
        dir.path(),
        &format!(
            "\n[[pin]]\necosystem = \"py\"\nname = \"{EVIL_PY}\"\nversion = \"1.0\"\npython = \"py3\"\n"
        ),
    )
    .unwrap_err();
    assert!(e.contains("t.lock:7:") && e.contains("field `name`"), "{e}");
    assert!(e.contains("not a valid py name"), "{e}");
}

#[test]
fn apt_globs_as_debian_names_are_refused_by_the_lock_reader() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["*", "/lib.*/", "a", "Libc6", "-x"] {
        let e = read_lock(
            dir.path(),
            &format!("\n[[pin]]\necosystem = \"deb\"\nname = \"{bad}\"\nversion = \"1.0\"\n"),
        )
        .unwrap_err();
        assert!(
            e.contains("t.lock:7:") && e.contains("not a valid deb name"),
            "{bad}: {e}"
        );
    }
    // Other ecosystems: URLs for git and web, module paths for go, references for docker.
    for (eco, name, version) in [
        (
            "git",
            "relative/x.git",
            "0123456789abcdef0123456789abcdef01234567",
        ),
        ("web", "x.tgz", "d41d8cd98f00b204e9800998ecf8427e"),
        ("go", "-x/y", "v1.0.0"),
        ("docker", "-debian", &format!("sha256:{}", "a".repeat(64))),
    ] {
        let e = read_lock(
            dir.path(),
            &format!(
                "\n[[pin]]\necosystem = \"{eco}\"\nname = \"{name}\"\nversion = \"{version}\"\n"
            ),
        )
        .unwrap_err();
        assert!(
            e.contains("t.lock:7:") && e.contains("field `name`"),
            "{eco}: {e}"
        );
    }
}

#[test]
fn import_refuses_an_option_as_a_python_name_naming_file_and_line() {
    let dir = write_tree(&[(
        "default/versions-py3",
        &format!("pyyaml==5.4.1\n{EVIL_PY}==1.0"),
    )]);
    let e = sonic_versions::import(dir.path()).unwrap_err().to_string();
    assert!(e.contains("default/versions-py3:2:"), "{e}");
    let dir = write_tree(&[("default/versions-deb", "libc6==2.31-13\n*==1.0")]);
    let e = read_tree(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains("default/versions-deb:2:") && e.contains("deb name"),
        "{e}"
    );
}

#[test]
fn rendering_refuses_invalid_names_as_a_last_defence() {
    let evil: BTreeMap<String, String> = [(EVIL_PY.to_string(), "1.0".to_string())].into();
    assert!(pip_constraints::render_constraints(&evil).is_err());
    let glob: BTreeMap<String, String> = [("*".to_string(), "1.0".to_string())].into();
    assert!(apt_prefs::render_stanzas(&glob, 999).is_err());
    let fine: BTreeMap<String, String> = [("pyyaml".to_string(), "5.4.1".to_string())].into();
    assert_eq!(
        pip_constraints::render_constraints(&fine).unwrap(),
        "pyyaml==5.4.1\n"
    );
    // A lock built in memory is checked before anything is rendered.
    let mut lock = Lock::new("p", "586d715f17", "2022-12-06");
    let mut pin = Pin::new(Ecosystem::Py, EVIL_PY, "1.0");
    pin.python = Some("py3".into());
    lock.pins.push(pin);
    let e = pip_constraints::render(&lock).unwrap_err().to_string();
    assert!(e.contains("field `name`"), "{e}");
}

#[test]
fn two_spellings_of_one_python_name_are_one_pin() {
    let dir = tempfile::tempdir().unwrap();
    let pin = |name: &str, v: &str| {
        format!(
            "\n[[pin]]\necosystem = \"py\"\nname = \"{name}\"\nversion = \"{v}\"\nimage = \"docker-x\"\npython = \"py3\"\n"
        )
    };
    let body = format!(
        "{}{}",
        pin("zope.interface", "5.4.0"),
        pin("Zope_Interface", "5.4.0")
    );
    let lock = read_lock(dir.path(), &body).unwrap();
    assert_eq!(lock.pins.len(), 1, "{:?}", lock.pins);
    assert_eq!(lock.pins[0].name, "zope.interface");
    let body = format!(
        "{}{}",
        pin("zope.interface", "5.4.0"),
        pin("zope-interface", "5.5.0")
    );
    let e = read_lock(dir.path(), &body).unwrap_err();
    assert!(
        e.contains("t.lock:14:") && e.contains("line 7") && e.contains("two versions"),
        "{e}"
    );

    let tree = write_tree(&[(
        "dockers/docker-x/versions-py3",
        "zope.interface==5.4.0\nzope-interface==5.4.0",
    )]);
    let lock = sonic_versions::import(tree.path()).unwrap();
    assert_eq!(lock.pins.len(), 1, "{:?}", lock.pins);
    assert_eq!(lock.pins[0].name, "zope.interface");
    let tree = write_tree(&[(
        "dockers/docker-x/versions-py3",
        "zope.interface==5.4.0\nzope-interface==5.5.0",
    )]);
    let e = sonic_versions::import(tree.path()).unwrap_err().to_string();
    assert!(
        e.contains("versions-py3:2:") && e.contains("`zope.interface` at line 1"),
        "{e}"
    );
}

fn manifest_with(eco: Ecosystem, name: &str, exact: &str) -> Manifest {
    Manifest::new(
        "p".into(),
        "586d715f172b1b72e9fc1e7b55625e2e5af590c2".into(),
        "2022-12-06T08:47:31Z".into(),
        vec![Dependency {
            ecosystem: eco,
            name: name.into(),
            constraint: Constraint::Exact(exact.into()),
            pinned: true,
            origin: Origin {
                file: "dockers/docker-x/Dockerfile.j2".into(),
                line: 12,
            },
            context: Context::default(),
            attrs: BTreeMap::new(),
        }],
        Vec::new(),
    )
}

#[test]
fn a_manifest_with_an_invalid_exact_version_is_refused_at_load() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("manifest.json");
    for (eco, name, bad) in [
        (Ecosystem::Deb, "libc6", "1:"),
        (Ecosystem::Deb, "libc6", "../../etc/passwd"),
        (Ecosystem::Py, "pyyaml", "../../etc/passwd"),
        (Ecosystem::Go, "github.com/x/y", "1.2.3"),
    ] {
        manifest_with(eco, name, bad).write(&p).unwrap();
        let e = Manifest::read(&p).unwrap_err().to_string();
        assert!(
            e.contains("dockers/docker-x/Dockerfile.j2:12") && e.contains("exact version"),
            "{bad}: {e}"
        );
    }
    manifest_with(Ecosystem::Py, EVIL_PY, "1.0")
        .write(&p)
        .unwrap();
    let e = Manifest::read(&p).unwrap_err().to_string();
    assert!(
        e.contains("Dockerfile.j2:12") && e.contains("py name"),
        "{e}"
    );
    // Valid ones, and a version the crawler could not expand, load.
    for (eco, name, ok) in [
        (Ecosystem::Deb, "libc6", "1:2.31-13+deb11u5"),
        (Ecosystem::Py, "pyyaml", "5.4.1"),
        (Ecosystem::Go, "github.com/x/y", "v1.2.3"),
        (Ecosystem::Deb, "libfoo", "${binary:Version}"),
    ] {
        manifest_with(eco, name, ok).write(&p).unwrap();
        Manifest::read(&p).unwrap();
    }
}

// ---- export ----

fn small_lock(version: &str) -> Lock {
    let mut lock = Lock::new("p", "586d715f17", "2022-12-06");
    lock.pins.push(Pin::new(Ecosystem::Deb, "libc6", version));
    let mut py = Pin::new(Ecosystem::Py, "pyyaml", "5.4.1");
    py.python = Some("py3".into());
    lock.pins.push(py);
    lock
}

fn snapshot(root: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![root.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(root).unwrap().display().to_string();
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

#[test]
fn export_keeps_the_users_own_files() {
    let out = write_tree(&[
        ("NOTES", "my notes"),
        ("default/notes.txt", "keep me"),
        ("default/versions-deb.bak", "old==1"),
        ("default/versions-deb.orig", "old==1"),
        ("default/x~", "x"),
        ("default/versions-deb~", "x"),
        (
            "default/versions-git",
            "https://x/y.git==0123456789abcdef0123456789abcdef01234567",
        ),
    ]);
    let summary = sonic_versions::export(&small_lock("2.31-13"), out.path()).unwrap();
    assert_eq!(summary.removed, vec!["default/versions-git".to_string()]);
    let files = snapshot(out.path());
    for kept in [
        "NOTES",
        "default/notes.txt",
        "default/versions-deb.bak",
        "default/versions-deb.orig",
        "default/x~",
        "default/versions-deb~",
    ] {
        assert!(files.contains_key(kept), "{kept} was removed: {files:?}");
    }
    assert_eq!(files["default/versions-deb"], b"libc6==2.31-13");
}

#[cfg(unix)]
#[test]
fn export_gives_new_files_the_umask_mode_and_keeps_existing_modes() {
    use std::os::unix::fs::PermissionsExt;
    let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    let out = write_tree(&[("default/versions-deb", "libc6==2.31-12")]);
    let deb = out.path().join("default/versions-deb");
    std::fs::set_permissions(&deb, std::fs::Permissions::from_mode(0o644)).unwrap();
    // What the process umask makes of a new file (the test does not change it).
    let probe = out.path().join("probe");
    std::fs::write(&probe, b"").unwrap();
    let umask_mode = mode(&probe);
    sonic_versions::export(&small_lock("2.31-13"), out.path()).unwrap();
    assert_eq!(mode(&deb), 0o644);
    assert_eq!(mode(&out.path().join("default/versions-py3")), umask_mode);
    assert_eq!(std::fs::read(&deb).unwrap(), b"libc6==2.31-13");
}

#[test]
fn a_failed_export_leaves_the_old_tree_untouched() {
    let out = write_tree(&[
        ("default/versions-deb", "libc6==2.31-12"),
        (
            "default/versions-git",
            "https://x/y.git==0123456789abcdef0123456789abcdef01234567",
        ),
    ]);
    // Where the new versions-py3 must go, something else already is.
    std::fs::create_dir_all(out.path().join("default/versions-py3/inner")).unwrap();
    let before = snapshot(out.path());
    let e = sonic_versions::export(&small_lock("2.31-13"), out.path())
        .unwrap_err()
        .to_string();
    assert!(e.contains("versions-py3") && e.contains("unchanged"), "{e}");
    assert_eq!(snapshot(out.path()), before);
    let names: Vec<String> = std::fs::read_dir(out.path().join("default"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(!names.iter().any(|n| n.ends_with(".tmp")), "{names:?}");
}

#[test]
fn import_of_a_directory_without_versions_files_names_it_and_a_bom_is_not_a_name() {
    let dir = write_tree(&[("default/README", "not a versions file")]);
    let e = sonic_versions::import(dir.path()).unwrap_err().to_string();
    assert!(
        e.contains(&dir.path().display().to_string()) && e.contains("no versions-* file found"),
        "{e}"
    );
    let dir = write_tree(&[("default/versions-py3", "\u{feff}pyyaml==5.4.1\n")]);
    let lock = sonic_versions::import(dir.path()).unwrap();
    assert_eq!(lock.pins[0].name, "pyyaml", "{:?}", lock.pins);
}
