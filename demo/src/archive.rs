//! The demo world's Debian archive: snapshot.debian.org-shaped trees at several
//! timestamps (dists, pool, `/mr/` JSON) and a "today" mirror where old pool files are gone.

use super::server::{Resource, Routes};
use crate::fsio::{md5_hex, sha256_hex};
use std::collections::BTreeMap;
use std::io::Write;

/// One binary package version of the world, with the snapshots it is visible in.
#[derive(Debug, Clone)]
pub struct DebPackage {
    /// Binary package name.
    pub name: &'static str,
    /// Debian version.
    pub version: &'static str,
    /// Source package name.
    pub source: &'static str,
    /// `Depends` field, empty for none.
    pub depends: &'static str,
    /// `Provides` field, empty for none.
    pub provides: &'static str,
    /// Files the package ships; the demo builder "compiles" against these.
    pub files: &'static [&'static str],
    /// Index of the first snapshot that has it.
    pub from: usize,
    /// Index of the first snapshot that no longer has it, if any.
    pub until: Option<usize>,
}

/// One source package version (for dget / `apt-get source`).
#[derive(Debug, Clone)]
pub struct DebSource {
    /// Source package name.
    pub name: &'static str,
    /// Debian version.
    pub version: &'static str,
    /// Index of the first snapshot that has it.
    pub from: usize,
    /// Index of the first snapshot that no longer has it, if any.
    pub until: Option<usize>,
}

/// The archive's content over time.
#[derive(Debug, Clone)]
pub struct Archive {
    /// Snapshot timestamps, oldest first, `YYYYMMDDTHHMMSSZ`.
    pub snapshots: Vec<&'static str>,
    /// Suite served (`bullseye`).
    pub suite: &'static str,
    /// Binary packages.
    pub packages: Vec<DebPackage>,
    /// Source packages.
    pub sources: Vec<DebSource>,
}

fn visible(from: usize, until: Option<usize>, snap: usize) -> bool {
    snap >= from && until.is_none_or(|u| snap < u)
}

/// Pool path of a file, Debian style (`pool/main/i/isc-dhcp/...`, `lib` prefixes use four letters).
pub fn pool_dir(source: &str) -> String {
    let initial = if source.starts_with("lib") && source.len() > 3 {
        &source[..4]
    } else {
        &source[..1]
    };
    format!("pool/main/{initial}/{source}")
}

fn upstream(version: &str) -> &str {
    let v = version.split_once(':').map_or(version, |(_, v)| v);
    v.rsplit_once('-').map_or(v, |(u, _)| u)
}

impl DebPackage {
    /// The `.deb` file name in the pool.
    pub fn filename(&self) -> String {
        format!(
            "{}/{}_{}_amd64.deb",
            pool_dir(self.source),
            self.name,
            self.version.replace(':', "%3a")
        )
    }

    /// The `.deb` body: a manifest of the files it ships (the demo does not unpack real debs).
    pub fn body(&self) -> Vec<u8> {
        let mut s = format!("demo-deb {} {}\n", self.name, self.version);
        for f in self.files {
            s.push_str(f);
            s.push('\n');
        }
        s.into_bytes()
    }
}

impl DebSource {
    /// File names (relative to the pool directory) and bodies of the source package.
    pub fn files(&self) -> Vec<(String, Vec<u8>)> {
        let orig = format!("{}_{}.orig.tar.gz", self.name, upstream(self.version));
        let orig_body = format!(
            "demo orig tarball {} {}\n",
            self.name,
            upstream(self.version)
        )
        .into_bytes();
        let deb = format!("{}_{}.debian.tar.xz", self.name, self.version);
        let deb_body = format!("demo debian tarball {} {}\n", self.name, self.version).into_bytes();
        let mut dsc = format!(
            "Format: 3.0 (quilt)\nSource: {}\nBinary: {}\nArchitecture: any\nVersion: {}\nChecksums-Sha256:\n",
            self.name, self.name, self.version
        );
        for (n, b) in [(&orig, &orig_body), (&deb, &deb_body)] {
            dsc.push_str(&format!(" {} {} {}\n", sha256_hex(b), b.len(), n));
        }
        vec![
            (
                format!("{}_{}.dsc", self.name, self.version),
                dsc.into_bytes(),
            ),
            (orig, orig_body),
            (deb, deb_body),
        ]
    }
}

fn xz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = xz2::write::XzEncoder::new(Vec::new(), 6);
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn sha1_hex(bytes: &[u8]) -> String {
    use sha1::Digest;
    hex::encode(sha1::Sha1::digest(bytes))
}

/// A version as it appears in a `/mr/` request path (`:`, `+` and `~` percent-encoded).
fn mr_enc(v: &str) -> String {
    v.replace(':', "%3A")
        .replace('+', "%2B")
        .replace('~', "%7E")
}

fn gz(bytes: &[u8]) -> Vec<u8> {
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    // Writing into a Vec cannot fail.
    let _ = enc.write_all(bytes);
    enc.finish().unwrap_or_default()
}

fn res(content_type: &str, body: Vec<u8>) -> Resource {
    Resource {
        content_type: content_type.to_string(),
        body,
    }
}

/// RFC 2822 date of a snapshot timestamp, as Release files carry it.
fn release_date(ts: &str) -> String {
    let months = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    let m: usize = ts[4..6].parse().unwrap_or(1);
    format!(
        "{} {} {} {}:{}:{} UTC",
        &ts[6..8],
        months[m.saturating_sub(1).min(11)],
        &ts[0..4],
        &ts[9..11],
        &ts[11..13],
        &ts[13..15]
    )
}

impl Archive {
    /// The `Packages` text of snapshot `snap`.
    pub fn packages_text(&self, snap: usize) -> String {
        let mut out = String::new();
        let mut pkgs: Vec<&DebPackage> = self
            .packages
            .iter()
            .filter(|p| visible(p.from, p.until, snap))
            .collect();
        pkgs.sort_by(|a, b| (a.name, a.version).cmp(&(b.name, b.version)));
        for p in pkgs {
            let body = p.body();
            out.push_str(&format!("Package: {}\n", p.name));
            if p.source != p.name {
                out.push_str(&format!("Source: {}\n", p.source));
            }
            out.push_str(&format!(
                "Version: {}\nArchitecture: amd64\nMaintainer: Demo World <demo@example.org>\n",
                p.version
            ));
            if !p.depends.is_empty() {
                out.push_str(&format!("Depends: {}\n", p.depends));
            }
            if !p.provides.is_empty() {
                out.push_str(&format!("Provides: {}\n", p.provides));
            }
            out.push_str(&format!(
                "Priority: optional\nSection: libs\nFilename: {}\nSize: {}\nMD5sum: {}\nSHA256: {}\nDescription: demo package {}\n\n",
                p.filename(),
                body.len(),
                md5_hex(&body),
                sha256_hex(&body),
                p.name
            ));
        }
        out
    }

    /// The `Contents-amd64` text of snapshot `snap`: which package ships each file.
    pub fn contents_text(&self, snap: usize) -> String {
        let mut owners: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for p in self
            .packages
            .iter()
            .filter(|p| visible(p.from, p.until, snap))
        {
            for f in p.files {
                let o = owners.entry(f).or_default();
                if !o.contains(&p.name) {
                    o.push(p.name);
                }
            }
        }
        owners
            .into_iter()
            .map(|(f, pkgs)| {
                let list: Vec<String> = pkgs.iter().map(|p| format!("libs/{p}")).collect();
                format!("{f:<60} {}\n", list.join(","))
            })
            .collect()
    }

    /// The `Sources` text of snapshot `snap`.
    pub fn sources_text(&self, snap: usize) -> String {
        let mut out = String::new();
        for s in self
            .sources
            .iter()
            .filter(|s| visible(s.from, s.until, snap))
        {
            out.push_str(&format!(
                "Package: {}\nVersion: {}\nDirectory: {}\nChecksums-Sha256:\n",
                s.name,
                s.version,
                pool_dir(s.name)
            ));
            for (n, b) in s.files() {
                out.push_str(&format!(" {} {} {}\n", sha256_hex(&b), b.len(), n));
            }
            out.push('\n');
        }
        out
    }

    /// Index files of one dists tree plus its Release listing their hashes.
    fn dists(&self, snap: usize, date: &str) -> Vec<(String, Vec<u8>)> {
        let packages = self.packages_text(snap).into_bytes();
        let sources = self.sources_text(snap).into_bytes();
        let contents = self.contents_text(snap).into_bytes();
        let files = vec![
            ("main/Contents-amd64.gz".to_string(), gz(&contents)),
            ("main/binary-amd64/Packages".to_string(), packages.clone()),
            ("main/binary-amd64/Packages.xz".to_string(), xz(&packages)),
            ("main/source/Sources".to_string(), sources.clone()),
            ("main/source/Sources.xz".to_string(), xz(&sources)),
        ];
        let mut release = format!(
            "Origin: Debian\nLabel: Debian\nSuite: oldstable\nCodename: {}\nDate: {date}\nValid-Until: {date}\nAcquire-By-Hash: no\nArchitectures: amd64\nComponents: main\nDescription: sonic-lock demo archive\n",
            self.suite
        );
        release.push_str("MD5Sum:\n");
        for (n, b) in &files {
            release.push_str(&format!(" {} {:>8} {}\n", md5_hex(b), b.len(), n));
        }
        release.push_str("SHA256:\n");
        for (n, b) in &files {
            release.push_str(&format!(" {} {:>8} {}\n", sha256_hex(b), b.len(), n));
        }
        let mut out = files;
        out.push(("Release".to_string(), release.into_bytes()));
        out
    }

    /// Every pool file visible at snapshot `snap`.
    fn pool(&self, snap: usize) -> Vec<(String, Vec<u8>)> {
        let mut out = Vec::new();
        for p in self
            .packages
            .iter()
            .filter(|p| visible(p.from, p.until, snap))
        {
            out.push((p.filename(), p.body()));
        }
        for s in self
            .sources
            .iter()
            .filter(|s| visible(s.from, s.until, snap))
        {
            for (n, b) in s.files() {
                out.push((format!("{}/{n}", pool_dir(s.name)), b));
            }
        }
        out
    }

    /// Routes for `/archive/debian/<ts>/...` at every snapshot, `/mr/` JSON, and
    /// the "today" mirror under `/debian/` (the newest snapshot's state).
    pub fn routes(&self) -> Routes {
        let mut routes = Routes::new();
        for (i, ts) in self.snapshots.iter().enumerate() {
            let base = format!("/archive/debian/{ts}");
            for (n, b) in self.dists(i, &release_date(ts)) {
                routes.insert(
                    format!("{base}/dists/{}/{n}", self.suite),
                    res("text/plain", b),
                );
            }
            for (n, b) in self.pool(i) {
                routes.insert(format!("{base}/{n}"), res("application/octet-stream", b));
            }
        }
        if let Some(last) = self.snapshots.len().checked_sub(1) {
            let date = release_date(self.snapshots[last]);
            for (n, b) in self.dists(last, &date) {
                routes.insert(
                    format!("/debian/dists/{}/{n}", self.suite),
                    res("text/plain", b),
                );
            }
            for (n, b) in self.pool(last) {
                routes.insert(format!("/debian/{n}"), res("application/octet-stream", b));
            }
        }
        self.mr_routes(&mut routes);
        routes
    }

    /// snapshot.debian.org's machine-readable API for the world's packages.
    fn mr_routes(&self, routes: &mut Routes) {
        let json = |v: serde_json::Value| res("application/json", v.to_string().into_bytes());
        let mut by_source: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
        for s in &self.sources {
            by_source.entry(s.name).or_default().push(s.version);
        }
        for p in &self.packages {
            by_source.entry(p.source).or_default().push(p.version);
        }
        for (src, mut versions) in by_source {
            versions.sort();
            versions.dedup();
            let result: Vec<_> = versions
                .iter()
                .map(|v| serde_json::json!({ "version": v }))
                .collect();
            routes.insert(
                format!("/mr/package/{src}/"),
                json(serde_json::json!({ "_comment": "foo", "package": src, "result": result })),
            );
        }
        let mut by_binary: BTreeMap<&str, Vec<&DebPackage>> = BTreeMap::new();
        for p in &self.packages {
            by_binary.entry(p.name).or_default().push(p);
        }
        for (bin, pkgs) in by_binary {
            let result: Vec<_> = pkgs
                .iter()
                .map(|p| {
                    serde_json::json!({ "binary_version": p.version, "name": p.name, "source": p.source, "version": p.version })
                })
                .collect();
            routes.insert(
                format!("/mr/binary/{bin}/"),
                json(serde_json::json!({ "_comment": "foo", "binary": bin, "result": result })),
            );
        }
        // File lists with first-seen info, as `srcfiles`/`binfiles?fileinfo=1` answer
        // them, and `/mr/file/<sha1>/info`: one record per pool file.
        let file_list = |rows: Vec<serde_json::Value>,
                         info: serde_json::Map<String, serde_json::Value>| {
            json(serde_json::json!({ "_comment": "foo", "result": rows, "fileinfo": info }))
        };
        let record = |name: &str, source: &str, from: usize, size: usize| {
            serde_json::json!({
                "archive_name": "debian",
                "first_seen": self.snapshots.get(from).copied().unwrap_or_default(),
                "name": name,
                "path": format!("/{}", pool_dir(source)),
                "size": size,
            })
        };
        for src in &self.sources {
            let mut rows = Vec::new();
            let mut info = serde_json::Map::new();
            for (name, body) in src.files() {
                let sha1 = sha1_hex(&body);
                rows.push(serde_json::json!({ "hash": sha1 }));
                let r = record(&name, src.name, src.from, body.len());
                info.insert(sha1, serde_json::json!([r]));
            }
            routes.insert(
                format!("/mr/package/{}/{}/srcfiles", src.name, mr_enc(src.version)),
                file_list(rows, info),
            );
        }
        for p in &self.packages {
            let body = p.body();
            let sha1 = sha1_hex(&body);
            let filename = p.filename();
            let name = filename.rsplit('/').next().unwrap_or_default();
            let r = record(name, p.source, p.from, body.len());
            let mut info = serde_json::Map::new();
            info.insert(sha1.clone(), serde_json::json!([r.clone()]));
            routes.insert(
                format!("/mr/binary/{}/{}/binfiles", p.name, mr_enc(p.version)),
                file_list(
                    vec![serde_json::json!({ "architecture": "amd64", "hash": sha1 })],
                    info,
                ),
            );
            routes.insert(
                format!("/mr/file/{sha1}/info"),
                json(serde_json::json!({ "_comment": "foo", "hash": sha1, "result": [r] })),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn archive() -> Archive {
        Archive {
            snapshots: vec!["20221101T000000Z", "20221206T000000Z"],
            suite: "bullseye",
            packages: vec![
                DebPackage {
                    name: "libfoo-dev",
                    version: "1.2-1",
                    source: "libfoo",
                    depends: "",
                    provides: "",
                    files: &["usr/include/foo/foo.h"],
                    from: 0,
                    until: Some(1),
                },
                DebPackage {
                    name: "libfoo-dev",
                    version: "1.2-2",
                    source: "libfoo",
                    depends: "",
                    provides: "",
                    files: &["usr/include/foo/foo.h"],
                    from: 1,
                    until: None,
                },
            ],
            sources: vec![DebSource {
                name: "isc-dhcp",
                version: "4.4.1-2.3",
                from: 0,
                until: Some(1),
            }],
        }
    }

    #[test]
    fn release_lists_the_hashes_of_the_indices_it_serves() {
        let routes = archive().routes();
        let release = String::from_utf8(
            routes["/archive/debian/20221206T000000Z/dists/bullseye/Release"]
                .body
                .clone(),
        )
        .unwrap();
        let packages =
            &routes["/archive/debian/20221206T000000Z/dists/bullseye/main/binary-amd64/Packages"]
                .body;
        assert!(release.contains(&sha256_hex(packages)));
        assert!(String::from_utf8_lossy(packages).contains("Version: 1.2-2"));
        assert!(!String::from_utf8_lossy(packages).contains("Version: 1.2-1"));
        assert!(release.contains("Date: 06 Dec 2022 00:00:00 UTC"));
    }

    #[test]
    fn vanished_pool_files_are_gone_from_the_mirror_but_not_the_snapshot() {
        let routes = archive().routes();
        assert!(routes.contains_key(
            "/archive/debian/20221101T000000Z/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc"
        ));
        assert!(!routes.contains_key("/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc"));
        assert!(routes.contains_key("/debian/pool/main/libf/libfoo/libfoo-dev_1.2-2_amd64.deb"));
        assert!(routes.contains_key("/mr/binary/libfoo-dev/"));
    }
}
