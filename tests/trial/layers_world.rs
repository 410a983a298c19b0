//! The layers builder's loopback world, shared by its tests and its bench:
//! a Debian base image made with `mmdebstrap`, real `.deb` files made with
//! `dpkg-deb --build`, a signed loopback archive of them, and real wheels.
#![allow(dead_code)]

use crate::common::loopback::{self, Server, clearsign, release_text, signing_key_of, site};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// The Debian suite of the base image and of the loopback archive.
pub const SUITE: &str = "bookworm";

/// The base every chain starts from: Debian minbase with python3-pip, made
/// once with mmdebstrap and kept by the tag of its recipe.
pub fn base_image() -> String {
    let recipe = format!(
        "mmdebstrap --variant=minbase --include=python3-pip,ca-certificates {SUITE} http://deb.debian.org/debian"
    );
    let tag = format!(
        "sonic-lock-test/layers-base:{}",
        &sonic_lock::fsio::sha256_hex(recipe.as_bytes())[..16]
    );
    let have = Command::new("docker")
        .args(["image", "inspect", &tag])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    if !have.success() {
        let d = tempfile::tempdir().unwrap();
        let tar = d.path().join("base.tar");
        let st = Command::new("mmdebstrap")
            .args([
                "--variant=minbase",
                "--include=python3-pip,ca-certificates",
                SUITE,
            ])
            .arg(&tar)
            .arg("http://deb.debian.org/debian")
            .status()
            .expect("mmdebstrap (apt-get install mmdebstrap)");
        assert!(st.success(), "mmdebstrap failed");
        let st = Command::new("docker")
            .args(["import", "--change", "CMD [\"/bin/sh\"]"])
            .arg(&tar)
            .arg(&tag)
            .status()
            .unwrap();
        assert!(st.success());
    }
    tag
}

/// A real `.deb` built by `dpkg-deb --build`: its control stanza and bytes.
pub fn deb(
    dir: &Path,
    name: &str,
    version: &str,
    depends: &str,
    postinst: Option<&str>,
) -> (String, Vec<u8>) {
    let root = dir.join(format!("{name}_{version}"));
    std::fs::create_dir_all(root.join("DEBIAN")).unwrap();
    std::fs::create_dir_all(root.join(format!("usr/share/doc/{name}"))).unwrap();
    std::fs::write(
        root.join(format!("usr/share/doc/{name}/README")),
        format!("{name} {version}\n"),
    )
    .unwrap();
    let mut control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: amd64\nMaintainer: Test <t@example.org>\nPriority: optional\nSection: misc\n"
    );
    if !depends.is_empty() {
        control.push_str(&format!("Depends: {depends}\n"));
    }
    control.push_str(&format!("Description: test package {name}\n"));
    std::fs::write(root.join("DEBIAN/control"), &control).unwrap();
    if let Some(script) = postinst {
        use std::os::unix::fs::PermissionsExt;
        let p = root.join("DEBIAN/postinst");
        std::fs::write(&p, format!("#!/bin/sh\n{script}\n")).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    }
    let out = dir.join(format!("{name}_{version}_amd64.deb"));
    let st = Command::new("dpkg-deb")
        .args(["--root-owner-group", "-Zgzip", "--build"])
        .arg(&root)
        .arg(&out)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(st.success(), "dpkg-deb --build {name}");
    (control, std::fs::read(out).unwrap())
}

/// A stored (uncompressed) zip archive.
pub fn zip(entries: &[(String, String)]) -> Vec<u8> {
    let (mut out, mut central) = (Vec::new(), Vec::new());
    for (name, body) in entries {
        let mut crc = flate2::Crc::new();
        crc.update(body.as_bytes());
        let (crc, len, off) = (crc.sum(), body.len() as u32, out.len() as u32);
        let common = |v: &mut Vec<u8>| {
            for x in [20u16, 0, 0, 0, 0x21] {
                v.extend_from_slice(&x.to_le_bytes());
            }
            for x in [crc, len, len] {
                v.extend_from_slice(&x.to_le_bytes());
            }
            v.extend_from_slice(&(name.len() as u16).to_le_bytes());
            v.extend_from_slice(&0u16.to_le_bytes());
        };
        out.extend_from_slice(&0x0403_4b50u32.to_le_bytes());
        common(&mut out);
        out.extend_from_slice(name.as_bytes());
        out.extend_from_slice(body.as_bytes());
        central.extend_from_slice(&0x0201_4b50u32.to_le_bytes());
        central.extend_from_slice(&20u16.to_le_bytes());
        common(&mut central);
        for x in [0u16, 0, 0] {
            central.extend_from_slice(&x.to_le_bytes());
        }
        central.extend_from_slice(&0u32.to_le_bytes());
        central.extend_from_slice(&off.to_le_bytes());
        central.extend_from_slice(name.as_bytes());
    }
    let (cd_off, cd_len, n) = (out.len() as u32, central.len() as u32, entries.len() as u16);
    out.extend_from_slice(&central);
    out.extend_from_slice(&0x0605_4b50u32.to_le_bytes());
    for x in [0u16, 0, n, n] {
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.extend_from_slice(&cd_len.to_le_bytes());
    out.extend_from_slice(&cd_off.to_le_bytes());
    out.extend_from_slice(&0u16.to_le_bytes());
    out
}

/// A real pure-Python wheel of `name` `version` with its `Requires-Python`.
pub fn wheel(name: &str, version: &str, requires_python: &str) -> (String, Vec<u8>) {
    let info = format!("{name}-{version}.dist-info");
    let files = vec![
        (
            format!("{name}/__init__.py"),
            format!("VERSION = '{version}'\n"),
        ),
        (
            format!("{info}/METADATA"),
            format!(
                "Metadata-Version: 2.1\nName: {name}\nVersion: {version}\nRequires-Python: {requires_python}\n"
            ),
        ),
        (
            format!("{info}/WHEEL"),
            "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
                .to_string(),
        ),
    ];
    let mut record: String = files.iter().map(|(n, _)| format!("{n},,\n")).collect();
    record.push_str(&format!("{info}/RECORD,,\n"));
    let mut all = files;
    all.push((format!("{info}/RECORD"), record));
    (format!("{name}-{version}-py3-none-any.whl"), zip(&all))
}

/// A loopback archive serving `debs` as suite [`SUITE`] under `/debian`, its
/// `InRelease` signed; the server and the keyring that verifies it.
pub fn archive(dir: &Path, debs: Vec<(String, Vec<u8>)>) -> (Server, PathBuf) {
    let mut files: HashMap<String, Vec<u8>> = HashMap::new();
    let mut packages = String::new();
    for (control, bytes) in debs {
        let field = |k: &str| {
            control
                .lines()
                .find_map(|l| l.strip_prefix(&format!("{k}: ")))
                .unwrap_or_default()
                .to_string()
        };
        let (n, v) = (field("Package"), field("Version"));
        let path = format!("pool/main/{}/{n}/{n}_{v}_amd64.deb", &n[..1]);
        packages.push_str(&control);
        packages.push_str(&format!(
            "Filename: {path}\nSize: {}\nSHA256: {}\n\n",
            bytes.len(),
            loopback::sha256(&bytes)
        ));
        files.insert(format!("/debian/{path}"), bytes);
    }
    let index = vec![(
        "main/binary-amd64/Packages".to_string(),
        packages.into_bytes(),
    )];
    let release = release_text(SUITE, "Tue, 01 Nov 2022 00:00:00 UTC", None, &index);
    // apt's gpgv verifies EdDSA keys in their pre-RFC 9580 form.
    let (key, keyring) =
        signing_key_of(dir, "layers-archive", pgp::composed::KeyType::Ed25519Legacy);
    let base = format!("/debian/dists/{SUITE}");
    files.insert(format!("{base}/InRelease"), clearsign(&key, &release));
    for (p, b) in index {
        files.insert(format!("{base}/{p}"), b);
    }
    (site(files), keyring)
}
