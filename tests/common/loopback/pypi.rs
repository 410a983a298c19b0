//! A fake PyPI with the real layouts: PEP 691 Simple JSON pages (PEP 700
//! upload times, PEP 658/714 `core-metadata` when advertised), distribution
//! files (served with or without `Range`), `.metadata` files next to wheels
//! whether advertised or not, and the per-version JSON API (404 unless
//! given). Distributions are made in code: wheels with the zip crate,
//! sdists with tar and gzip.

use super::{Server, file_ranged, ok, serve, sha256, status};
use std::collections::BTreeMap;
use std::io::Write;

/// One file of a release.
#[derive(Clone)]
pub struct Dist {
    pub filename: String,
    pub body: Vec<u8>,
    /// The SHA-256 the index lists (the body's unless set otherwise).
    pub index_sha256: String,
    /// A `.metadata` file served next to it, and whether the index advertises it.
    pub metadata: Option<(Vec<u8>, bool)>,
    /// Listed in the index but answered 404 (a file deleted since).
    pub missing: bool,
}

impl Dist {
    pub fn new(filename: &str, body: Vec<u8>) -> Dist {
        Dist {
            filename: filename.into(),
            index_sha256: sha256(&body),
            body,
            metadata: None,
            missing: false,
        }
    }

    /// Lists the file but answers 404 for it.
    pub fn missing(mut self) -> Dist {
        self.missing = true;
        self
    }

    /// Serves `meta` as `<file>.metadata`; `advertised` puts it in the Simple JSON page.
    pub fn with_metadata(mut self, meta: &[u8], advertised: bool) -> Dist {
        self.metadata = Some((meta.to_vec(), advertised));
        self
    }
}

/// The fake index: projects by normalised name.
#[derive(Default)]
pub struct FakePyPi {
    pub projects: BTreeMap<String, Vec<Dist>>,
    /// `/pypi/<name>/<version>/json` answers; every other is a 404 (as PyPI answers here for old releases).
    pub version_json: BTreeMap<String, String>,
    /// When false the file server ignores `Range` and sends the whole file with a 200.
    pub ranges: bool,
}

impl FakePyPi {
    pub fn new(ranges: bool) -> FakePyPi {
        FakePyPi {
            ranges,
            ..FakePyPi::default()
        }
    }

    pub fn add(mut self, project: &str, dist: Dist) -> FakePyPi {
        self.projects.entry(project.into()).or_default().push(dist);
        self
    }

    fn simple_page(name: &str, dists: &[Dist]) -> String {
        let files: Vec<serde_json::Value> = dists
            .iter()
            .map(|d| {
                let mut f = serde_json::json!({
                    "filename": d.filename,
                    "url": format!("/files/{}", d.filename),
                    "hashes": {"sha256": d.index_sha256},
                    "upload-time": "2021-01-01T00:00:00Z",
                    "yanked": false,
                });
                if let Some((m, true)) = &d.metadata {
                    f["core-metadata"] = serde_json::json!({"sha256": sha256(m)});
                }
                f
            })
            .collect();
        serde_json::json!({"meta": {"api-version": "1.1"}, "name": name, "files": files})
            .to_string()
    }

    pub fn serve(self) -> Server {
        let mut pages = BTreeMap::new();
        let mut files = BTreeMap::new();
        for (name, dists) in &self.projects {
            pages.insert(format!("/simple/{name}/"), Self::simple_page(name, dists));
            for d in dists.iter().filter(|d| !d.missing) {
                files.insert(format!("/files/{}", d.filename), d.body.clone());
                if let Some((m, _)) = &d.metadata {
                    files.insert(format!("/files/{}.metadata", d.filename), m.clone());
                }
            }
        }
        let json: BTreeMap<String, String> = self
            .version_json
            .into_iter()
            .map(|(k, v)| (format!("/pypi/{k}/json"), v))
            .collect();
        let ranges = self.ranges;
        serve(move |req, _| {
            if let Some(p) = pages.get(&req.path) {
                return ok(p.clone());
            }
            if let Some(j) = json.get(&req.path) {
                return ok(j.clone());
            }
            match files.get(&req.path) {
                Some(b) if ranges => file_ranged(req, b),
                Some(b) => ok(b.clone()),
                None => status(404),
            }
        })
    }
}

/// Bytes that do not compress (a fixed xorshift stream), as a wheel's binaries are.
pub fn noise(n: usize) -> Vec<u8> {
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

/// A wheel of `name`-`version`: a module of `filler` incompressible bytes
/// (stored), then `<name>-<version>.dist-info/METADATA` (deflated) and RECORD.
pub fn wheel(name: &str, version: &str, metadata: &str, filler: usize) -> Vec<u8> {
    use zip::write::SimpleFileOptions;
    let mut z = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let stored = SimpleFileOptions::default().compression_method(zip::CompressionMethod::Stored);
    let deflated =
        SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    z.start_file(format!("{name}/_native.so"), stored).unwrap();
    z.write_all(&noise(filler)).unwrap();
    let info = format!("{name}-{version}.dist-info");
    z.start_file(format!("{info}/METADATA"), deflated).unwrap();
    z.write_all(metadata.as_bytes()).unwrap();
    z.start_file(format!("{info}/RECORD"), deflated).unwrap();
    z.write_all(b"").unwrap();
    z.finish().unwrap().into_inner()
}

/// An sdist `<name>-<version>.tar.gz` with `PKG-INFO` and a `setup.py`.
pub fn sdist(name: &str, version: &str, pkg_info: &str) -> Vec<u8> {
    sdist_with(name, version, pkg_info, &[])
}

/// [`sdist`] with more members (`("demo.egg-info/requires.txt", "six\n")`).
pub fn sdist_with(name: &str, version: &str, pkg_info: &str, more: &[(&str, &str)]) -> Vec<u8> {
    let mut t = tar::Builder::new(Vec::new());
    let files = [
        ("setup.py", "from setuptools import setup\nsetup()\n"),
        ("PKG-INFO", pkg_info),
    ];
    for &(path, body) in files.iter().chain(more) {
        let mut h = tar::Header::new_gnu();
        h.set_size(body.len() as u64);
        h.set_mode(0o644);
        h.set_cksum();
        t.append_data(&mut h, format!("{name}-{version}/{path}"), body.as_bytes())
            .unwrap();
    }
    super::gz(&t.into_inner().unwrap())
}
