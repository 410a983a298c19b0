//! Container base images as of the cutoff, from any registry speaking the OCI
//! Distribution API (Docker Registry HTTP API v2): `GET /v2/<repo>/manifests/<ref>`
//! with the manifest-list / OCI-index `Accept` types, anonymous bearer tokens
//! obtained from the `WWW-Authenticate` challenge (as Docker Hub does), the
//! platform's manifest picked out of a list, and its image config read for the
//! `created` date.
//!
//! A registry keeps no history: a tag names whatever was pushed last. What is
//! content-addressed, and so trustworthy, is the image config's `created` time.
//! When the image a tag names today was created after the cutoff, the tag moved
//! after the cutoff; the pin then falls back to the newest snapshot-dated tag of
//! the same name (`debian:bullseye-20221205`, as Debian's official images
//! publish them) dated at or before the cutoff, and says so. Every document is
//! fetched through the shared HTTP layer, so manifests and configs are cached
//! (fetched by digest, they are verified first) and `--offline` works.

use crate::date::{self, Cutoff};
use crate::source::SourceError;
use crate::source::http::{Http, Request};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

/// The registry that serves `docker.io` images.
pub const DOCKER_HUB_REGISTRY: &str = "https://registry-1.docker.io";

/// What a manifest request accepts: lists and indexes first, so the digest recorded for a tag is the one `docker pull` prints.
pub const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// A parsed image reference (`debian:bullseye`, `ghcr.io/o/r@sha256:…`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImageRef {
    /// Registry host (`docker.io` for Docker Hub).
    pub registry: String,
    /// Repository path in the registry (`library/debian`).
    pub repository: String,
    /// Tag, if given.
    pub tag: Option<String>,
    /// `sha256:<hex>` digest, if given.
    pub digest: Option<String>,
}

fn bad_ref(s: &str, why: &str) -> SourceError {
    SourceError::Invalid(format!("image reference `{}`: {why}", s.escape_debug()))
}

fn valid_component(c: &str) -> bool {
    // The distribution spec's path component: lower-case alphanumerics joined by `.`, `_`, `__` or `-`s.
    !c.is_empty()
        && c.bytes().all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'.' || b == b'_' || b == b'-'
        })
        && c.as_bytes()[0].is_ascii_alphanumeric()
        && c.as_bytes()[c.len() - 1].is_ascii_alphanumeric()
        && !c.contains("..")
}

fn valid_tag(t: &str) -> bool {
    !t.is_empty()
        && t.len() <= 128
        && t.as_bytes()[0] != b'.'
        && t.as_bytes()[0] != b'-'
        && t.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

fn valid_digest(d: &str) -> bool {
    d.strip_prefix("sha256:").is_some_and(|h| {
        h.len() == 64
            && h.bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
    })
}

impl ImageRef {
    /// Parses a reference the way the docker CLI normalises it: no host means
    /// `docker.io`, and a one-part Docker Hub name is an official `library/` image.
    pub fn parse(s: &str) -> Result<ImageRef, SourceError> {
        if s.is_empty() || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad_ref(s, "empty or contains whitespace"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => {
                if !valid_digest(d) {
                    return Err(bad_ref(s, "digest must be `sha256:` and 64 lower-case hex"));
                }
                (r, Some(d.to_string()))
            }
            None => (s, None),
        };
        let (name, tag) = match rest.rsplit_once(':') {
            Some((n, t)) if !t.contains('/') => (n, Some(t.to_string())),
            _ => (rest, None),
        };
        if let Some(t) = &tag
            && !valid_tag(t)
        {
            return Err(bad_ref(s, "bad tag"));
        }
        let mut parts: Vec<&str> = name.split('/').collect();
        let host_like = |p: &str| p.contains('.') || p.contains(':') || p == "localhost";
        let registry = if parts.len() > 1 && host_like(parts[0]) {
            let h = parts.remove(0);
            if h.is_empty()
                || h.starts_with(['.', '-', ':'])
                || h.contains("..")
                || !h
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'-' || b == b':')
            {
                return Err(bad_ref(s, "bad registry host"));
            }
            if h == "index.docker.io" || h == "registry-1.docker.io" {
                "docker.io".to_string()
            } else {
                h.to_string()
            }
        } else {
            "docker.io".to_string()
        };
        if parts.is_empty() || !parts.iter().all(|p| valid_component(p)) {
            return Err(bad_ref(
                s,
                "repository must be lower-case path components (no `..`, no empty parts)",
            ));
        }
        if registry == "docker.io" && parts.len() == 1 {
            parts.insert(0, "library");
        }
        Ok(ImageRef {
            registry,
            repository: parts.join("/"),
            tag,
            digest,
        })
    }

    /// The tag or digest to ask the registry for (`latest` when neither was given).
    pub fn reference(&self) -> &str {
        self.digest
            .as_deref()
            .or(self.tag.as_deref())
            .unwrap_or("latest")
    }

    /// `docker.io/library/debian`, the fully qualified repository.
    pub fn qualified(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// The OCI platform (architecture, variant) of a Debian architecture name.
pub fn oci_platform(debian_arch: &str) -> (&str, Option<&str>) {
    match debian_arch {
        "armhf" => ("arm", Some("v7")),
        "armel" => ("arm", Some("v5")),
        "arm64" => ("arm64", None),
        "i386" => ("386", None),
        "ppc64el" => ("ppc64le", None),
        "mips64el" => ("mips64le", None),
        other => (other, None),
    }
}

/// A base image resolved as of the cutoff, for one architecture.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DockerPin {
    /// The reference as the Dockerfile writes it (`debian:bullseye`): SONiC's `versions-docker` key.
    pub image: String,
    /// The fully qualified repository (`docker.io/library/debian`).
    pub repository: String,
    /// The tag (or digest) actually resolved: the declared one, or the dated tag it fell back to.
    pub resolved: String,
    /// Debian architecture the digest is for.
    pub arch: String,
    /// `sha256:` digest of that architecture's image manifest: what the lock pins.
    pub digest: String,
    /// `sha256:` digest of the manifest list / index the tag names (equal to `digest` for single-arch images).
    pub list_digest: String,
    /// The image config's `created` time, RFC 3339.
    pub created: Option<String>,
    /// How the pin was chosen, in words.
    pub note: String,
    /// Manifest origins (`file:line`) that declared this image.
    pub origins: Vec<String>,
}

/// The reference a docker dependency declares: its name plus the tag or digest the crawler split off.
pub fn declared_reference(name: &str, constraint: &crate::manifest::Constraint) -> String {
    use crate::manifest::Constraint;
    let has_ref = ImageRef::parse(name).is_ok_and(|r| r.tag.is_some() || r.digest.is_some());
    match constraint {
        _ if has_ref => name.to_string(),
        Constraint::Exact(d) if d.starts_with("sha256:") => format!("{name}@{d}"),
        Constraint::Exact(t) | Constraint::Ref(t) => format!("{name}:{t}"),
        Constraint::None | Constraint::Range(_) => name.to_string(),
    }
}

#[derive(Deserialize)]
struct Descriptor {
    digest: String,
    #[serde(default)]
    platform: Option<Platform>,
}

#[derive(Deserialize)]
struct Platform {
    architecture: String,
    os: String,
    #[serde(default)]
    variant: Option<String>,
}

/// An image manifest or manifest list (OCI or Docker v2), as a registry serves it.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestDoc {
    schema_version: u32,
    #[serde(default)]
    media_type: Option<String>,
    #[serde(default)]
    manifests: Option<Vec<Descriptor>>,
    #[serde(default)]
    config: Option<Descriptor>,
}

#[derive(Deserialize)]
struct ConfigDoc {
    #[serde(default)]
    created: Option<String>,
    #[serde(default)]
    architecture: Option<String>,
    #[serde(default)]
    os: Option<String>,
    #[serde(default)]
    variant: Option<String>,
}

#[derive(Deserialize)]
struct TagList {
    #[serde(default)]
    tags: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct TokenDoc {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

/// Reads a manifest or manifest list fetched from `url`; only schema 2 (OCI and Docker v2).
pub fn parse_manifest(bytes: &[u8], url: &str) -> Result<ManifestDoc, SourceError> {
    let doc: ManifestDoc = serde_json::from_slice(bytes)
        .map_err(|e| SourceError::parse(url, format!("bad manifest JSON: {e}")))?;
    if doc.schema_version != 2 {
        return Err(SourceError::parse(
            url,
            format!(
                "schema version {} manifests are not supported (only 2: OCI and Docker v2)",
                doc.schema_version
            ),
        ));
    }
    Ok(doc)
}

/// For a manifest list, the digest of the Debian architecture `arch`'s
/// linux image (an error when it has none); `None` for a single manifest.
pub fn platform_digest(
    doc: &ManifestDoc,
    arch: &str,
    url: &str,
) -> Result<Option<String>, SourceError> {
    let (os_arch, variant) = oci_platform(arch);
    let is_list = doc.manifests.is_some()
        || doc.media_type.as_deref().is_some_and(|m| {
            m.ends_with("manifest.list.v2+json") || m.ends_with("image.index.v1+json")
        });
    if !is_list {
        return Ok(None);
    }
    let entries = doc.manifests.as_deref().unwrap_or_default();
    let pick = entries.iter().find(|d| {
        d.platform.as_ref().is_some_and(|p| {
            p.os == "linux"
                && p.architecture == os_arch
                && (variant.is_none() || p.variant.as_deref() == variant)
        })
    });
    let Some(pick) = pick else {
        let have: Vec<String> = entries
            .iter()
            .filter_map(|d| d.platform.as_ref())
            .map(|p| {
                format!(
                    "{}/{}{}",
                    p.os,
                    p.architecture,
                    p.variant
                        .as_deref()
                        .map(|v| format!("/{v}"))
                        .unwrap_or_default()
                )
            })
            .collect();
        return Err(SourceError::parse(
            url,
            format!(
                "no linux/{os_arch}{} image in the manifest list (has: {})",
                variant.map(|v| format!("/{v}")).unwrap_or_default(),
                if have.is_empty() {
                    "none".into()
                } else {
                    have.join(", ")
                }
            ),
        ));
    };
    if !valid_digest(&pick.digest) {
        return Err(SourceError::parse(
            url,
            format!("bad digest `{}` in the manifest list", pick.digest),
        ));
    }
    Ok(Some(pick.digest.clone()))
}

/// The config blob digest of an image manifest.
pub fn config_digest(manifest: &ManifestDoc, url: &str) -> Result<String, SourceError> {
    let config = manifest
        .config
        .as_ref()
        .ok_or_else(|| SourceError::parse(url, "image manifest has no config"))?;
    if !valid_digest(&config.digest) {
        return Err(SourceError::parse(
            url,
            format!("bad config digest `{}`", config.digest),
        ));
    }
    Ok(config.digest.clone())
}

/// Reads an image config fetched from `curl` (for the manifest at `url`): its
/// creation time, after checking that a single-platform image (not reached
/// through a list) is `arch`'s.
pub fn parse_config(
    bytes: &[u8],
    curl: &str,
    url: &str,
    arch: &str,
    from_list: bool,
) -> Result<Option<String>, SourceError> {
    let (os_arch, variant) = oci_platform(arch);
    let cfg: ConfigDoc = serde_json::from_slice(bytes)
        .map_err(|e| SourceError::parse(curl, format!("bad image config JSON: {e}")))?;
    if !from_list
        && let (Some(a), Some(os)) = (&cfg.architecture, &cfg.os)
        && (a != os_arch
            || os != "linux"
            || (variant.is_some() && cfg.variant.as_deref() != variant))
    {
        return Err(SourceError::parse(
            url,
            format!("single-platform image is {os}/{a}, not linux/{os_arch}"),
        ));
    }
    match &cfg.created {
        Some(c) => Ok(Some(
            date::parse_rfc3339(c)
                .map(|t| date::rfc3339(&t))
                .ok_or_else(|| SourceError::parse(curl, format!("bad `created` time `{c}`")))?,
        )),
        None => Ok(None),
    }
}

/// A `WWW-Authenticate: Bearer realm=…,service=…,scope=…` challenge.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    /// The token endpoint.
    pub realm: String,
    /// The `service` parameter to pass back.
    pub service: Option<String>,
    /// The `scope` parameter to pass back.
    pub scope: Option<String>,
}

/// Parses a bearer challenge; `None` for other schemes (Basic needs credentials we do not have).
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let (scheme, params) = header.trim().split_once(char::is_whitespace)?;
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    let mut map = HashMap::new();
    let mut rest = params.trim();
    while !rest.is_empty() {
        let (k, after) = rest.split_once('=')?;
        let after = after.trim_start();
        let (v, tail) = if let Some(q) = after.strip_prefix('"') {
            let end = q.find('"')?;
            (&q[..end], &q[end + 1..])
        } else {
            match after.find(',') {
                Some(i) => (&after[..i], &after[i..]),
                None => (after, ""),
            }
        };
        map.insert(k.trim().to_ascii_lowercase(), v.to_string());
        rest = tail.trim_start().trim_start_matches(',').trim_start();
    }
    Some(Challenge {
        realm: map.remove("realm")?,
        service: map.remove("service"),
        scope: map.remove("scope"),
    })
}

/// A registry client over the shared HTTP layer.
pub struct DockerRegistry {
    http: Arc<Http>,
    hub: String,
    client: reqwest::blocking::Client,
    tokens: Mutex<HashMap<String, String>>,
}

impl DockerRegistry {
    /// The registry serving `docker.io` images.
    pub fn hub(&self) -> &str {
        &self.hub
    }

    /// A client; `hub` is the base URL serving `docker.io` images (a mirror, or a loopback registry in tests).
    pub fn new(http: Arc<Http>, hub: &str) -> Result<DockerRegistry, SourceError> {
        let cfg = http.config();
        // Token requests bypass the cache: tokens expire and must never be replayed offline.
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("sonic-lock/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.read_timeout)
            .build()
            .map_err(|e| SourceError::Invalid(format!("cannot build HTTP client: {e}")))?;
        Ok(DockerRegistry {
            http,
            hub: hub.trim_end_matches('/').to_string(),
            client,
            tokens: Mutex::new(HashMap::new()),
        })
    }

    fn base(&self, r: &ImageRef) -> String {
        if r.registry == "docker.io" {
            self.hub.clone()
        } else {
            format!("https://{}", r.registry)
        }
    }

    /// Anonymous pull token for `repository` at `base`, from the challenge the registry answers `url` with.
    fn token(&self, base: &str, repository: &str, url: &str) -> Result<String, SourceError> {
        let key = format!("{base} {repository}");
        if let Some(t) = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&key)
        {
            return Ok(t.clone());
        }
        let net = |u: &str, e: reqwest::Error| SourceError::Network {
            url: u.to_string(),
            what: format!("registry token for {repository}"),
            attempts: 1,
            message: e.to_string(),
        };
        let resp = self.client.get(url).send().map_err(|e| net(url, e))?;
        let header = resp
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        let Some(ch) = header.as_deref().and_then(parse_challenge) else {
            return Err(SourceError::Invalid(format!(
                "{url}: the registry wants credentials (challenge `{}`); only anonymous bearer tokens are supported",
                header.unwrap_or_else(|| "none".into())
            )));
        };
        let scope = ch
            .scope
            .clone()
            .unwrap_or_else(|| format!("repository:{repository}:pull"));
        let mut turl = reqwest::Url::parse(&ch.realm)
            .map_err(|e| SourceError::parse(url, format!("bad token realm `{}`: {e}", ch.realm)))?;
        {
            let mut q = turl.query_pairs_mut();
            if let Some(s) = &ch.service {
                q.append_pair("service", s);
            }
            q.append_pair("scope", &scope);
        }
        let tresp = self
            .client
            .get(turl.clone())
            .send()
            .map_err(|e| net(turl.as_str(), e))?;
        let status = tresp.status().as_u16();
        if status != 200 {
            return Err(SourceError::Status {
                url: turl.to_string(),
                what: format!("registry token for {repository}"),
                status,
            });
        }
        let body = tresp.bytes().map_err(|e| net(turl.as_str(), e))?;
        let doc: TokenDoc = serde_json::from_slice(&body)
            .map_err(|e| SourceError::parse(turl.as_str(), format!("bad token JSON: {e}")))?;
        let token = doc
            .token
            .or(doc.access_token)
            .filter(|t| !t.is_empty())
            .ok_or_else(|| SourceError::parse(turl.as_str(), "token response has no token"))?;
        self.tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(key, token.clone());
        Ok(token)
    }

    /// GET through the cache; on a 401 fetch a token from the challenge and ask again.
    fn get(
        &self,
        r: &ImageRef,
        url: &str,
        what: &str,
        accept: Option<&str>,
        digest: Option<&str>,
    ) -> Result<Vec<u8>, SourceError> {
        let mut req = Request::new(url, what);
        if let Some(a) = accept {
            req = req.accept(a);
        }
        if let Some(d) = digest {
            req = req.expect(d.trim_start_matches("sha256:"), None);
        }
        let base = self.base(r);
        let known = self
            .tokens
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get(&format!("{base} {}", r.repository))
            .map(|t| format!("Bearer {t}"));
        let first = match &known {
            Some(a) => self.http.get(&req.clone().auth(a)),
            None => self.http.get(&req),
        };
        match first {
            Err(SourceError::Status { status: 401, .. }) => {
                self.tokens
                    .lock()
                    .unwrap_or_else(|p| p.into_inner())
                    .remove(&format!("{base} {}", r.repository));
                let token = self.token(&base, &r.repository, url)?;
                let auth = format!("Bearer {token}");
                Ok(self.http.get(&req.auth(&auth))?.bytes)
            }
            other => Ok(other?.bytes),
        }
    }

    /// The manifest `reference` (tag or digest) of `r`; returns the body and its `sha256:` digest.
    fn manifest(
        &self,
        r: &ImageRef,
        reference: &str,
    ) -> Result<(ManifestDoc, String, String), SourceError> {
        let url = format!("{}/v2/{}/manifests/{reference}", self.base(r), r.repository);
        let what = format!("image manifest {}:{reference}", r.qualified());
        let expect = valid_digest(reference).then_some(reference);
        let bytes = self.get(r, &url, &what, Some(MANIFEST_ACCEPT), expect)?;
        let digest = format!("sha256:{}", crate::fsio::sha256_hex(&bytes));
        let doc = parse_manifest(&bytes, &url)?;
        Ok((doc, digest, url))
    }

    /// The tags the registry lists for `r`'s repository, page by page (`n`, `last`).
    pub fn tags(&self, r: &ImageRef) -> Result<Vec<String>, SourceError> {
        const PAGE: usize = 1000;
        let what = format!("tags of {}", r.qualified());
        let mut all: Vec<String> = Vec::new();
        // Bounded: a registry that ignores `last` would otherwise repeat one page forever.
        for _ in 0..100 {
            let mut url = format!("{}/v2/{}/tags/list?n={PAGE}", self.base(r), r.repository);
            if let Some(last) = all.last() {
                url.push_str(&format!("&last={last}"));
            }
            let bytes = self.get(r, &url, &what, None, None)?;
            let doc: TagList = serde_json::from_slice(&bytes)
                .map_err(|e| SourceError::parse(&url, format!("bad tag list JSON: {e}")))?;
            let page = doc.tags.unwrap_or_default();
            let full = page.len() >= PAGE;
            let before = all.len();
            all.extend(page.into_iter().filter(|t| valid_tag(t)));
            all.sort();
            all.dedup();
            if !full || all.len() == before {
                break;
            }
        }
        Ok(all)
    }

    /// Resolves `reference` of `r` to `arch`'s manifest digest and its image's creation time.
    fn resolve_at(
        &self,
        r: &ImageRef,
        reference: &str,
        arch: &str,
    ) -> Result<(String, String, Option<String>), SourceError> {
        let (doc, top_digest, url) = self.manifest(r, reference)?;
        let listed = platform_digest(&doc, arch, &url)?;
        let (arch_digest, manifest) = match &listed {
            Some(digest) => {
                let (m, _, _) = self.manifest(r, digest)?;
                (digest.clone(), m)
            }
            None => (top_digest.clone(), doc),
        };
        let config = config_digest(&manifest, &url)?;
        let curl = format!("{}/v2/{}/blobs/{}", self.base(r), r.repository, config);
        let what = format!("image config of {}:{reference}", r.qualified());
        let bytes = self.get(r, &curl, &what, None, Some(&config))?;
        let created = parse_config(&bytes, &curl, &url, arch, listed.is_some())?;
        Ok((arch_digest, top_digest, created))
    }

    /// The image `declared` (as a Dockerfile's `FROM` writes it) for `arch`, as of `cutoff`.
    pub fn pin(
        &self,
        declared: &str,
        arch: &str,
        cutoff: &Cutoff,
    ) -> Result<DockerPin, SourceError> {
        let r = ImageRef::parse(declared)?;
        let reference = r.reference().to_string();
        let (digest, list_digest, created) = self.resolve_at(&r, &reference, arch)?;
        let after = |c: &Option<String>| {
            c.as_deref()
                .and_then(date::parse_rfc3339)
                .is_some_and(|t| t > cutoff.0)
        };
        let pin = |resolved: &str, digest, list_digest, created, note| DockerPin {
            image: declared.to_string(),
            repository: r.qualified(),
            resolved: resolved.to_string(),
            arch: arch.to_string(),
            digest,
            list_digest,
            created,
            note,
            origins: Vec::new(),
        };
        if r.digest.is_some() {
            return Ok(pin(
                &reference,
                digest,
                list_digest,
                created,
                "pinned by digest".into(),
            ));
        }
        if !after(&created) {
            let note = match &created {
                Some(c) => format!("tag `{reference}`: image created {c}, at or before the cutoff"),
                None => format!("tag `{reference}`: image has no creation time; taken as it is"),
            };
            return Ok(pin(&reference, digest, list_digest, created, note));
        }
        // The tag moved after the cutoff: take the newest dated tag of the same name at or before it.
        let day = cutoff.0.format("%Y%m%d").to_string();
        let prefix = format!("{reference}-");
        let mut dated: Vec<String> = self
            .tags(&r)?
            .into_iter()
            .filter(|t| {
                t.strip_prefix(&prefix).is_some_and(|d| {
                    d.len() == 8 && d.bytes().all(|b| b.is_ascii_digit()) && *d <= *day
                })
            })
            .collect();
        dated.sort();
        let moved = created.clone().unwrap_or_default();
        for tag in dated.iter().rev() {
            let (d, l, c) = self.resolve_at(&r, tag, arch)?;
            if after(&c) {
                continue;
            }
            let note = format!(
                "tag `{reference}` moved after the cutoff (its image now was created {moved}); pinned the dated tag `{tag}`{}",
                c.as_deref()
                    .map(|c| format!(", created {c}"))
                    .unwrap_or_default()
            );
            return Ok(pin(tag, d, l, c, note));
        }
        Err(SourceError::Invalid(format!(
            "{declared}: tag `{reference}` of {} moved after the cutoff (its image was created {moved}) and no dated tag `{reference}-YYYYMMDD` at or before {day} has an image created by then",
            r.qualified()
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_normalise_like_the_docker_cli() {
        let r = ImageRef::parse("debian:bullseye").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.reference()),
            ("docker.io", "library/debian", "bullseye")
        );
        let r = ImageRef::parse("multiarch/debian-debootstrap:amd64-bullseye").unwrap();
        assert_eq!(r.repository, "multiarch/debian-debootstrap");
        let r = ImageRef::parse("localhost:5000/x/y").unwrap();
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.reference()),
            ("localhost:5000", "x/y", "latest")
        );
        let d = format!("sha256:{}", "a".repeat(64));
        let r = ImageRef::parse(&format!("ghcr.io/o/r:1@{d}")).unwrap();
        assert_eq!((r.reference(), r.tag.as_deref()), (d.as_str(), Some("1")));
        for bad in [
            "",
            "Debian:bullseye",
            "../etc:x",
            "a//b",
            "debian:bad tag",
            "debian@sha256:xyz",
            "debian:-x",
        ] {
            assert!(ImageRef::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn bearer_challenges_parse() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/debian:pull""#,
        )
        .unwrap();
        assert_eq!(c.realm, "https://auth.docker.io/token");
        assert_eq!(c.service.as_deref(), Some("registry.docker.io"));
        assert_eq!(c.scope.as_deref(), Some("repository:library/debian:pull"));
        assert!(parse_challenge(r#"Basic realm="x""#).is_none());
        assert!(parse_challenge("Bearer service=x").is_none());
    }

    proptest::proptest! {
        // Both parse network or tree input: any string gives an answer, never a panic.
        #[test]
        fn parsers_never_panic(s in "\\PC{0,80}") {
            let _ = ImageRef::parse(&s);
            let _ = parse_challenge(&s);
            let _ = parse_challenge(&format!("Bearer {s}"));
        }

        #[test]
        fn valid_references_keep_their_parts(
            name in "[a-z0-9]{1,8}(/[a-z0-9]{1,8}){0,2}",
            tag in "[A-Za-z0-9_][A-Za-z0-9_.-]{0,20}",
        ) {
            let r = ImageRef::parse(&format!("{name}:{tag}")).unwrap();
            proptest::prop_assert_eq!(r.tag.as_deref(), Some(tag.as_str()));
            proptest::prop_assert!(r.repository.ends_with(&name));
            proptest::prop_assert_eq!(r.registry.as_str(), "docker.io");
        }
    }

    #[test]
    fn debian_arches_map_to_oci_platforms() {
        assert_eq!(oci_platform("armhf"), ("arm", Some("v7")));
        assert_eq!(oci_platform("amd64"), ("amd64", None));
    }
}
