//! The demo world's Python package index: the PEP 691 Simple JSON API with PEP 700
//! upload times and PEP 658 core-metadata files.

use super::server::{Resource, Routes};
use crate::fsio::sha256_hex;

/// One release of a distribution (one wheel file).
#[derive(Debug, Clone)]
pub struct PyRelease {
    /// Distribution name as published.
    pub name: &'static str,
    /// PEP 440 version.
    pub version: &'static str,
    /// Upload time, RFC 3339.
    pub uploaded: &'static str,
    /// `Requires-Python`, empty for none.
    pub requires_python: &'static str,
    /// `Requires-Dist` lines.
    pub requires_dist: &'static [&'static str],
    /// For an sdist-only release: the `python_requires` its `setup.py` declares, which
    /// neither the index nor the JSON API carries (an old upload): pip learns it only
    /// when it builds the sdist. Empty for a wheel with declared metadata.
    pub sdist_requires_python: &'static str,
}

impl PyRelease {
    /// Whether the release is an sdist whose metadata only a build reveals.
    pub fn is_sdist(&self) -> bool {
        !self.sdist_requires_python.is_empty()
    }

    fn filename(&self) -> String {
        if self.is_sdist() {
            return format!("{}-{}.tar.gz", self.name.replace('-', "_"), self.version);
        }
        format!(
            "{}-{}-py3-none-any.whl",
            self.name.replace('-', "_"),
            self.version
        )
    }

    /// The `PKG-INFO` a build of the sdist produces.
    pub fn built_metadata(&self) -> String {
        let mut m = format!(
            "Metadata-Version: 1.2\nName: {}\nVersion: {}\nRequires-Python: {}\n",
            self.name, self.version, self.sdist_requires_python
        );
        for r in self.requires_dist {
            m.push_str(&format!("Requires-Dist: {r}\n"));
        }
        m
    }

    /// The core metadata (`METADATA`) of the release.
    pub fn metadata(&self) -> String {
        let mut m = format!(
            "Metadata-Version: 2.1\nName: {}\nVersion: {}\n",
            self.name, self.version
        );
        if !self.requires_python.is_empty() {
            m.push_str(&format!("Requires-Python: {}\n", self.requires_python));
        }
        for r in self.requires_dist {
            m.push_str(&format!("Requires-Dist: {r}\n"));
        }
        m
    }
}

/// PEP 503 normalised name.
pub fn normalize(name: &str) -> String {
    let mut out = String::new();
    for c in name.chars() {
        let c = if c == '_' || c == '.' {
            '-'
        } else {
            c.to_ascii_lowercase()
        };
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// Routes for `/simple/<name>/` (JSON), `/files/<wheel>` and `/files/<wheel>.metadata`.
pub fn routes(base: &str, releases: &[PyRelease]) -> Routes {
    let mut routes = Routes::new();
    let mut names: Vec<&str> = releases.iter().map(|r| r.name).collect();
    names.sort();
    names.dedup();
    for name in &names {
        let mut files = Vec::new();
        let mut versions = Vec::new();
        for r in releases.iter().filter(|r| r.name == *name) {
            if r.is_sdist() {
                let fname = r.filename();
                let body = format!(
                    "demo sdist {} {}\nPKG-INFO:\n{}",
                    r.name,
                    r.version,
                    r.built_metadata()
                )
                .into_bytes();
                let url = format!("{base}/files/{fname}");
                files.push(serde_json::json!({
                    "filename": fname,
                    "url": url,
                    "hashes": { "sha256": sha256_hex(&body) },
                    "upload-time": r.uploaded,
                    "yanked": false,
                    "size": body.len(),
                }));
                let legacy_file = serde_json::json!({
                    "filename": fname,
                    "url": url,
                    "digests": { "sha256": sha256_hex(&body) },
                    "upload_time_iso_8601": r.uploaded,
                    "requires_python": null,
                    "yanked": false,
                });
                routes.insert(
                    format!("/pypi/{}/{}/json", normalize(name), r.version),
                    Resource {
                        content_type: "application/json".into(),
                        body: serde_json::json!({
                            "info": {
                                "name": r.name,
                                "version": r.version,
                                "requires_dist": r.requires_dist,
                                "requires_python": null,
                            },
                            "urls": [legacy_file],
                        })
                        .to_string()
                        .into_bytes(),
                    },
                );
                versions.push(r.version);
                routes.insert(
                    format!("/files/{fname}"),
                    Resource {
                        content_type: "application/octet-stream".into(),
                        body,
                    },
                );
                continue;
            }
            let wheel = format!("demo wheel {} {}\n", r.name, r.version).into_bytes();
            let metadata = r.metadata().into_bytes();
            let fname = r.filename();
            files.push(serde_json::json!({
                "filename": fname,
                "url": format!("{base}/files/{fname}"),
                "hashes": { "sha256": sha256_hex(&wheel) },
                "requires-python": if r.requires_python.is_empty() { serde_json::Value::Null } else { r.requires_python.into() },
                "upload-time": r.uploaded,
                "yanked": false,
                "size": wheel.len(),
                "core-metadata": { "sha256": sha256_hex(&metadata) },
                "data-dist-info-metadata": { "sha256": sha256_hex(&metadata) },
            }));
            versions.push(r.version);
            routes.insert(
                format!("/files/{fname}"),
                Resource {
                    content_type: "application/octet-stream".into(),
                    body: wheel,
                },
            );
            routes.insert(
                format!("/files/{fname}.metadata"),
                Resource {
                    content_type: "text/plain".into(),
                    body: metadata,
                },
            );
        }
        let page = serde_json::json!({
            "meta": { "api-version": "1.1" },
            "name": normalize(name),
            "versions": versions,
            "files": files,
        });
        routes.insert(
            format!("/simple/{}/", normalize(name)),
            Resource {
                content_type: "application/vnd.pypi.simple.v1+json".into(),
                body: page.to_string().into_bytes(),
            },
        );
    }
    routes
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_page_lists_files_with_upload_times_and_metadata() {
        let rel = [PyRelease {
            name: "Py_Foo",
            version: "2.0",
            uploaded: "2023-02-01T00:00:00Z",
            requires_python: ">=3.10",
            requires_dist: &["pybar>=1"],
            sdist_requires_python: "",
        }];
        let routes = routes("http://h", &rel);
        let page: serde_json::Value =
            serde_json::from_slice(&routes["/simple/py-foo/"].body).unwrap();
        assert_eq!(page["files"][0]["upload-time"], "2023-02-01T00:00:00Z");
        assert_eq!(page["files"][0]["requires-python"], ">=3.10");
        let meta = String::from_utf8(
            routes["/files/Py_Foo-2.0-py3-none-any.whl.metadata"]
                .body
                .clone(),
        )
        .unwrap();
        assert!(meta.contains("Requires-Dist: pybar>=1"));
    }
}
