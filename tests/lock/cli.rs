//! `sonic-lock export`, `import` and `diff` end to end: files written, exit codes, errors.

use std::path::Path;
use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_sonic-lock"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

const LOCK: &str = r#"version = 1
platform = "wedge100bf-32x"
commit = "586d715f172b1b72e9fc1e7b55625e2e5af590c2"
cutoff = "2022-12-06"
tool = "sonic-lock 0.1.0"

[[archive]]
name = "debian"
snapshot = "20221206T000000Z"

[[pin]]
ecosystem = "deb"
name = "libc6"
version = "2.31-13+deb11u5"
image = "docker-base-bullseye"
suite = "bullseye"

[[pin]]
ecosystem = "py"
name = "PyYAML"
version = "5.4.1"
image = "docker-base-bullseye"
python = "py3"

[[pin]]
ecosystem = "deb-src"
name = "isc-dhcp"
version = "4.4.1-2.3"
url = "https://snapshot.debian.org/archive/debian/20221206T000000Z/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc"
declared_url = "http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc"
why = ["src/isc-dhcp/Makefile:17"]
"#;

fn write_lock(dir: &Path, name: &str, body: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, body).unwrap();
    p.display().to_string()
}

#[test]
fn export_import_diff_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let lock = write_lock(dir.path(), "a.lock", LOCK);
    let tree = dir.path().join("versions");
    let rw = dir.path().join("rewrite-urls.txt");
    let o = run(&[
        "export",
        "--lock",
        &lock,
        "--format",
        "sonic-versions",
        "--out",
        tree.to_str().unwrap(),
        "--rewrite-urls",
        rw.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    assert!(text(&o).contains("wrote 3 files (2 pins)"), "{}", text(&o));
    assert_eq!(
        std::fs::read_to_string(tree.join("dockers/docker-base-bullseye/versions-py3")).unwrap(),
        "pyyaml==5.4.1"
    );
    assert_eq!(
        std::fs::read_to_string(tree.join("default/versions-mirror")).unwrap(),
        "debian==20221206T000000Z"
    );
    assert!(
        std::fs::read_to_string(&rw)
            .unwrap()
            .contains("isc-dhcp_4.4.1-2.3.dsc https://snapshot.debian.org/")
    );
    assert!(dir.path().join("rewrite-urls.txt.sed").exists());

    // Import the tree back; diffing the tree against its import is clean.
    let back = dir.path().join("b.lock");
    let o = run(&[
        "import",
        "--sonic-versions",
        tree.to_str().unwrap(),
        "-o",
        back.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let o = run(&["diff", back.to_str().unwrap(), tree.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    assert!(text(&o).contains("0 pin changes"));

    // A changed lock differs: exit 1, human and JSON.
    let newer = write_lock(
        dir.path(),
        "c.lock",
        &LOCK.replace("2.31-13+deb11u5", "2.31-13+deb11u6"),
    );
    let o = run(&["diff", &lock, &newer]);
    assert_eq!(o.status.code(), Some(1), "{}", text(&o));
    assert!(
        text(&o).contains("upgraded   libc6 [bullseye] 2.31-13+deb11u5 -> 2.31-13+deb11u6"),
        "{}",
        text(&o)
    );
    let o = run(&["diff", "--json", &lock, &newer]);
    assert_eq!(o.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["changes"][0]["kind"], "upgraded");
}

#[test]
fn other_export_formats() {
    let dir = tempfile::tempdir().unwrap();
    let lock = write_lock(dir.path(), "a.lock", LOCK);
    let out = dir.path().join("o");
    for (format, file, want) in [
        (
            "apt-preferences",
            "docker-base-bullseye/01-versions-deb-bullseye",
            "Package: libc6\nPin: version 2.31-13+deb11u5\nPin-Priority: 999\n",
        ),
        (
            "pip-constraints",
            "docker-base-bullseye/constraints-py3.txt",
            "pyyaml==5.4.1\n",
        ),
    ] {
        let o = run(&[
            "export",
            "--lock",
            &lock,
            "--format",
            format,
            "--out",
            out.to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o));
        assert_eq!(std::fs::read_to_string(out.join(file)).unwrap(), want);
    }
    let o = run(&[
        "export",
        "--lock",
        &lock,
        "--format",
        "json",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o));
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("lock.json")).unwrap()).unwrap();
    assert_eq!(v["pin"][1]["name"], "isc-dhcp");
    // Without --rewrite-urls the needed rewrite is announced, not silently dropped.
    assert!(
        text(&o).contains("2 URL rewrites are needed"),
        "{}",
        text(&o)
    );
}

#[test]
fn bad_inputs_exit_2_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let bad = write_lock(
        dir.path(),
        "bad.lock",
        &LOCK.replace(
            "image = \"docker-base-bullseye\"\nsuite",
            "image = \"../x\"\nsuite",
        ),
    );
    let out = dir.path().join("out");
    let o = run(&[
        "export",
        "--lock",
        &bad,
        "--format",
        "sonic-versions",
        "--out",
        out.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("bad.lock:11:") && text(&o).contains("image"),
        "{}",
        text(&o)
    );
    assert!(!out.exists());

    let newer = write_lock(
        dir.path(),
        "newer.lock",
        &LOCK.replace("version = 1\n", "version = 7\n"),
    );
    let o = run(&["diff", &newer, &newer]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("newer.lock:1: lockfile schema version 7"),
        "{}",
        text(&o)
    );

    let tree = dir.path().join("tree/default");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("versions-deb"), "libc6==2.31\nlibfoo\n").unwrap();
    let o = run(&[
        "import",
        "--sonic-versions",
        dir.path().join("tree").to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        text(&o).contains("versions-deb:2: missing `==`"),
        "{}",
        text(&o)
    );
}

#[test]
fn import_errors_name_the_input_not_the_lock() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("tree");
    std::fs::create_dir_all(root.join("default")).unwrap();
    std::fs::write(root.join("default/versions-deb"), "libc6==2.31-13\n").unwrap();
    let root = root.to_str().unwrap();
    for (option, value) in [("--cutoff", "garbage"), ("--commit", "not-a-sha")] {
        let o = run(&["import", "--sonic-versions", root, option, value]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}");
        assert!(t.contains(option) && !t.contains("<lock>"), "{t}");
    }
    // A versions-mirror line becomes a snapshot URL: checked where it is read.
    for bad in [
        "debian==../../x",
        "debian==20221206",
        "Debian/x==20221206T000000Z",
    ] {
        std::fs::write(
            dir.path().join("tree/default/versions-mirror"),
            format!("debian-security==20221206T000000Z\n{bad}\n"),
        )
        .unwrap();
        let o = run(&["import", "--sonic-versions", root]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}");
        assert!(
            t.contains("versions-mirror:2:") && !t.contains("<lock>"),
            "{t}"
        );
    }
    // A mirror without snapshots is recorded by its Release date (SONiC 202305
    // writes these): read, and not taken for an archive apt can be sent to.
    for bad in [
        "download.docker.com_linux_debian_dists_bullseye==2023-10-18",
        "download.docker.com/linux==2023-10-18T15:15:34Z",
    ] {
        std::fs::write(
            dir.path().join("tree/default/versions-mirror"),
            format!("debian==20231021T000212Z\n{bad}\n"),
        )
        .unwrap();
        let o = run(&["import", "--sonic-versions", root]);
        assert_eq!(o.status.code(), Some(2), "{}", text(&o));
    }
    std::fs::write(
        dir.path().join("tree/default/versions-mirror"),
        "debian==20231021T000212Z\ndeb.nodesource.com_node%5f14.x_dists_bullseye==2023-02-17T00:35:28Z\ndownload.docker.com_linux_debian_dists_bullseye==2023-10-18T15:15:34Z\n",
    )
    .unwrap();
    let lock = dir.path().join("m.lock");
    let o = run(&[
        "import",
        "--sonic-versions",
        root,
        "-o",
        lock.to_str().unwrap(),
    ]);
    assert_eq!(o.status.code(), Some(0), "{}", text(&o));
    let lock = sonic_lock::lock::Lock::read(&lock).unwrap();
    let names: Vec<&str> = lock.archives.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(names, ["debian"]);
}

#[test]
fn importing_a_directory_without_versions_files_is_an_error_not_an_empty_lock() {
    let dir = tempfile::tempdir().unwrap();
    // A directory SONiC does not read (and an empty one) holds no pins to import.
    std::fs::create_dir_all(dir.path().join("tree/notes")).unwrap();
    std::fs::write(dir.path().join("tree/notes/README"), "x\n").unwrap();
    std::fs::create_dir_all(dir.path().join("empty")).unwrap();
    for sub in ["tree", "empty"] {
        let out = dir.path().join(format!("{sub}.lock"));
        let o = run(&[
            "import",
            "--sonic-versions",
            dir.path().join(sub).to_str().unwrap(),
            "-o",
            out.to_str().unwrap(),
        ]);
        let t = text(&o);
        assert_eq!(o.status.code(), Some(2), "{t}");
        assert!(t.contains("no versions-* file found"), "{t}");
        assert!(!out.exists(), "{sub}: a lock was written");
    }
}
