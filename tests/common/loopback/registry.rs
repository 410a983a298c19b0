//! A loopback container registry speaking the OCI Distribution API the way
//! Docker Hub does: anonymous bearer tokens from a `WWW-Authenticate`
//! challenge, manifest lists (OCI indexes) per tag, image manifests and config
//! blobs by digest, and `tags/list`.
#![allow(dead_code)]

use super::{Reply, Server, serve, sha256, status};
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

/// The token the registry hands out and then requires.
pub const TOKEN: &str = "loopback-token";

/// Documents by request path, and the tags of each repository.
#[derive(Default, Clone)]
pub struct Registry {
    pub docs: HashMap<String, Vec<u8>>,
    pub tags: BTreeMap<String, Vec<String>>,
}

pub fn digest(b: &[u8]) -> String {
    format!("sha256:{}", sha256(b))
}

impl Registry {
    fn blob(&mut self, repo: &str, body: Vec<u8>) -> String {
        let d = digest(&body);
        self.docs.insert(format!("/v2/{repo}/blobs/{d}"), body);
        d
    }

    fn manifest_by_digest(&mut self, repo: &str, body: Vec<u8>) -> String {
        let d = digest(&body);
        self.docs.insert(format!("/v2/{repo}/manifests/{d}"), body);
        d
    }

    fn tag(&mut self, repo: &str, tag: &str, body: Vec<u8>) -> String {
        let d = self.manifest_by_digest(repo, body.clone());
        self.docs
            .insert(format!("/v2/{repo}/manifests/{tag}"), body);
        self.tags.entry(repo.into()).or_default().push(tag.into());
        d
    }

    /// One platform's image (config + manifest); returns the manifest's digest and body.
    pub fn image(
        &mut self,
        repo: &str,
        arch: &str,
        variant: Option<&str>,
        created: &str,
    ) -> (String, Vec<u8>) {
        let variant_json = variant
            .map(|v| format!(r#","variant":"{v}""#))
            .unwrap_or_default();
        let config = format!(
            r#"{{"architecture":"{arch}","os":"linux"{variant_json},"created":"{created}","rootfs":{{"type":"layers","diff_ids":[]}}}}"#
        )
        .into_bytes();
        let clen = config.len();
        let cd = self.blob(repo, config);
        let m = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{cd}","size":{clen}}},"layers":[]}}"#
        )
        .into_bytes();
        (self.manifest_by_digest(repo, m.clone()), m)
    }

    /// A multi-platform tag; returns (index digest, per-platform manifest digests in order).
    pub fn multi(
        &mut self,
        repo: &str,
        tag: &str,
        platforms: &[(&str, Option<&str>, &str)],
    ) -> (String, Vec<String>) {
        let mut entries = Vec::new();
        let mut digests = Vec::new();
        for (arch, variant, created) in platforms {
            let (d, body) = self.image(repo, arch, *variant, created);
            let variant_json = variant
                .map(|v| format!(r#","variant":"{v}""#))
                .unwrap_or_default();
            entries.push(format!(
                r#"{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{d}","size":{},"platform":{{"architecture":"{arch}","os":"linux"{variant_json}}}}}"#,
                body.len()
            ));
            digests.push(d);
        }
        let index = format!(
            r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{}]}}"#,
            entries.join(",")
        )
        .into_bytes();
        (self.tag(repo, tag, index), digests)
    }

    /// A single-platform tag (a plain image manifest); returns its digest.
    pub fn single(&mut self, repo: &str, tag: &str, arch: &str, created: &str) -> String {
        let (_, body) = self.image(repo, arch, None, created);
        self.tag(repo, tag, body)
    }

    /// Lists `n` more tags (`aa0000`, ...) that name nothing, sorting before most real ones.
    pub fn filler_tags(&mut self, repo: &str, n: usize) {
        let t = self.tags.entry(repo.into()).or_default();
        t.extend((0..n).map(|i| format!("aa{i:04}")));
    }

    /// Makes the manifest stored at `digest` lie about its content.
    pub fn corrupt(&mut self, repo: &str, digest: &str) {
        let p = format!("/v2/{repo}/manifests/{digest}");
        if let Some(b) = self.docs.get_mut(&p) {
            b.extend_from_slice(b" ");
        }
    }

    /// Serves the registry; with `auth`, every `/v2/` request needs the bearer token.
    pub fn serve(self, auth: bool) -> Server {
        let base = Arc::new(Mutex::new(String::new()));
        let b2 = base.clone();
        let srv = serve(move |req, _| {
            let path = req.path.split('?').next().unwrap_or("");
            if path == "/token" {
                return if req.path.contains("scope=repository%3A")
                    && req.path.contains("service=loopback-registry")
                {
                    super::ok(format!(r#"{{"token":"{TOKEN}","expires_in":300}}"#))
                } else {
                    status(400)
                };
            }
            if auth
                && path.starts_with("/v2/")
                && req.authorization.as_deref() != Some(&format!("Bearer {TOKEN}"))
            {
                let repo = path
                    .trim_start_matches("/v2/")
                    .split("/manifests/")
                    .next()
                    .unwrap_or("")
                    .split("/blobs/")
                    .next()
                    .unwrap_or("")
                    .trim_end_matches("/tags/list");
                return Reply::Body {
                    status: 401,
                    body: br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_vec(),
                    headers: vec![(
                        "WWW-Authenticate".into(),
                        format!(
                            r#"Bearer realm="{}/token",service="loopback-registry",scope="repository:{repo}:pull""#,
                            b2.lock().unwrap()
                        ),
                    )],
                };
            }
            if let Some(repo) = path
                .strip_prefix("/v2/")
                .and_then(|p| p.strip_suffix("/tags/list"))
            {
                // Pages as the distribution spec says: lexical order, `n` at most, after `last`.
                let query = req.path.split_once('?').map(|(_, q)| q).unwrap_or("");
                let param = |k: &str| {
                    query
                        .split('&')
                        .find_map(|kv| kv.strip_prefix(&format!("{k}=")))
                        .map(str::to_string)
                };
                let n: usize = param("n")
                    .and_then(|v| v.parse().ok())
                    .unwrap_or(usize::MAX);
                let last = param("last").unwrap_or_default();
                return match self.tags.get(repo) {
                    Some(t) => {
                        let mut t = t.clone();
                        t.sort();
                        let page: Vec<String> = t
                            .into_iter()
                            .filter(|x| last.is_empty() || *x > last)
                            .take(n)
                            .map(|t| format!("\"{t}\""))
                            .collect();
                        super::ok(format!(
                            r#"{{"name":"{repo}","tags":[{}]}}"#,
                            page.join(",")
                        ))
                    }
                    None => status(404),
                };
            }
            match self.docs.get(path) {
                Some(b) => super::ok(b.clone()),
                None => status(404),
            }
        });
        *base.lock().unwrap() = srv.base.clone();
        srv
    }
}
