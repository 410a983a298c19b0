//! The one HTTP layer every source uses: a blocking reqwest client with
//! bounded parallelism per host, retries with exponential backoff and jitter,
//! `Retry-After` honoured on 429/503, per-read timeouts (a stalled body fails
//! instead of hanging), resumable downloads (`Range`), verification against an
//! expected hash before anything enters the cache, and `--offline`.

use super::SourceError;
use super::cache::{Cache, KeyEntry, Lookup, sha256_file};
use std::collections::HashMap;
use std::hash::{BuildHasher, Hasher};
use std::io::{Read, Write};
use std::path::Path;
use std::sync::{Condvar, Mutex};
use std::time::Duration;

mod range;
pub use range::{ByteRange, Ranged};

/// Network behaviour; the defaults are polite to snapshot.debian.org.
#[derive(Debug, Clone)]
pub struct HttpConfig {
    /// Requests in flight at once to one host.
    pub max_per_host: usize,
    /// Retries after the first attempt for transient failures.
    pub retries: u32,
    /// First backoff delay; doubled on each retry, with jitter.
    pub base_delay: Duration,
    /// Longest single wait (backoff or `Retry-After`).
    pub max_delay: Duration,
    /// Connect timeout.
    pub connect_timeout: Duration,
    /// Timeout for each read (headers, and each body chunk).
    pub read_timeout: Duration,
    /// Use only the cache; a miss is an error naming the URL.
    pub offline: bool,
    /// Ignore cached responses to mutable URLs (indexes, APIs) and fetch again.
    pub refresh: bool,
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_per_host: 4,
            retries: 5,
            base_delay: Duration::from_millis(500),
            max_delay: Duration::from_secs(120),
            connect_timeout: Duration::from_secs(20),
            read_timeout: Duration::from_secs(60),
            offline: false,
            refresh: false,
        }
    }
}

/// What the caller knows about the body before fetching it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expected {
    /// SHA-256 from a trusted index (a Release file, a PyPI hash).
    pub sha256: String,
    /// Size in bytes, when the index gives it.
    pub size: Option<u64>,
}

/// One GET request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    /// The URL.
    pub url: &'a str,
    /// What is being fetched, in words, for error messages (`bullseye InRelease`).
    pub what: &'a str,
    /// `Accept` header, part of the cache key.
    pub accept: Option<&'a str>,
    /// The expected hash; a mismatch is an error and nothing is cached.
    pub expect: Option<Expected>,
    /// `Authorization` header (a registry's bearer token); not part of the cache key.
    pub auth: Option<&'a str>,
}

impl<'a> Request<'a> {
    /// A plain GET of `url`, described as `what`.
    pub fn new(url: &'a str, what: &'a str) -> Request<'a> {
        Request {
            url,
            what,
            accept: None,
            expect: None,
            auth: None,
        }
    }

    /// Sets the `Authorization` header (sent on network requests only; cached answers need none).
    pub fn auth(mut self, value: &'a str) -> Self {
        self.auth = Some(value);
        self
    }

    /// Sets the `Accept` header.
    pub fn accept(mut self, accept: &'a str) -> Self {
        self.accept = Some(accept);
        self
    }

    /// Requires the body to hash to `sha256` (and be `size` bytes).
    pub fn expect(mut self, sha256: &str, size: Option<u64>) -> Self {
        self.expect = Some(Expected {
            sha256: sha256.to_string(),
            size,
        });
        self
    }

    fn cache_key(&self) -> String {
        match self.accept {
            Some(a) => format!("{}\naccept: {a}", self.url),
            None => self.url.to_string(),
        }
    }
}

/// A fetched body.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The URL asked for.
    pub url: String,
    /// The URL the body came from after redirects (snapshot timestamps resolve this way).
    pub final_url: String,
    /// SHA-256 of the body.
    pub sha256: String,
    /// The body.
    pub bytes: Vec<u8>,
    /// True when served from the cache without touching the network.
    pub from_cache: bool,
}

/// Counters for the report.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct HttpStats {
    /// Requests that reached the network.
    pub requests: usize,
    /// Responses served from the cache.
    pub cache_hits: usize,
    /// Retries after transient failures.
    pub retries: usize,
    /// Bytes downloaded.
    pub bytes: u64,
}

/// The HTTP client plus cache.
pub struct Http {
    client: reqwest::blocking::Client,
    cfg: HttpConfig,
    cache: Cache,
    hosts: Mutex<HashMap<String, usize>>,
    freed: Condvar,
    stats: Mutex<HttpStats>,
}

enum Attempt {
    Done {
        final_url: String,
    },
    Retry {
        wait: Option<Duration>,
        message: String,
    },
}

struct HostSlot<'a> {
    http: &'a Http,
    host: String,
}

impl Drop for HostSlot<'_> {
    fn drop(&mut self) {
        let mut hosts = self.http.hosts.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = hosts.get_mut(&self.host) {
            *n = n.saturating_sub(1);
        }
        self.http.freed.notify_all();
    }
}

impl Http {
    /// Builds the client over `cache`.
    pub fn new(cfg: HttpConfig, cache: Cache) -> Result<Http, SourceError> {
        let client = reqwest::blocking::Client::builder()
            .user_agent(concat!("sonic-lock/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(cfg.connect_timeout)
            .timeout(cfg.read_timeout)
            .redirect(reqwest::redirect::Policy::limited(10))
            .build()
            .map_err(|e| SourceError::Invalid(format!("cannot build HTTP client: {e}")))?;
        Ok(Http {
            client,
            cfg,
            cache,
            hosts: Mutex::new(HashMap::new()),
            freed: Condvar::new(),
            stats: Mutex::new(HttpStats::default()),
        })
    }

    /// The cache underneath.
    pub fn cache(&self) -> &Cache {
        &self.cache
    }

    /// The configuration.
    pub fn config(&self) -> &HttpConfig {
        &self.cfg
    }

    /// Counters so far.
    pub fn stats(&self) -> HttpStats {
        *self.stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn bump(&self, f: impl FnOnce(&mut HttpStats)) {
        f(&mut self.stats.lock().unwrap_or_else(|p| p.into_inner()));
    }

    fn acquire(&self, url: &str) -> HostSlot<'_> {
        let host = reqwest::Url::parse(url)
            .ok()
            .and_then(|u| {
                u.host_str()
                    .map(|h| format!("{h}:{}", u.port_or_known_default().unwrap_or(0)))
            })
            .unwrap_or_default();
        let mut hosts = self.hosts.lock().unwrap_or_else(|p| p.into_inner());
        while hosts.get(&host).copied().unwrap_or(0) >= self.cfg.max_per_host.max(1) {
            hosts = self.freed.wait(hosts).unwrap_or_else(|p| p.into_inner());
        }
        *hosts.entry(host.clone()).or_insert(0) += 1;
        HostSlot { http: self, host }
    }

    /// GET with cache, retries and verification.
    pub fn get(&self, req: &Request<'_>) -> Result<Fetched, SourceError> {
        // A corrupt cached copy is removed by the lookup; offline it is reported as such, not as a miss.
        let mut corrupt = None;
        if let Some(exp) = &req.expect {
            match self.cache.lookup(&exp.sha256, req.url)? {
                Lookup::Hit(bytes) => {
                    self.bump(|s| s.cache_hits += 1);
                    return Ok(Fetched {
                        url: req.url.to_string(),
                        final_url: req.url.to_string(),
                        sha256: exp.sha256.clone(),
                        bytes,
                        from_cache: true,
                    });
                }
                Lookup::Corrupt(p) => corrupt = Some(p),
                Lookup::Missing => {}
            }
        }
        let key = req.cache_key();
        if (!self.cfg.refresh || self.cfg.offline)
            && let Some(e) = self.cache.get_key(&key)
        {
            if let Some(gone) = self.known_not_found(&key, req.url, req.what) {
                return Err(gone);
            }
            let found = match self.cache.lookup(&e.sha256, req.url)? {
                Lookup::Hit(bytes) => Some(bytes),
                Lookup::Corrupt(p) => {
                    corrupt = Some(p);
                    None
                }
                Lookup::Missing => None,
            };
            if let Some(bytes) = found
                && req.expect.as_ref().is_none_or(|x| x.sha256 == e.sha256)
            {
                self.bump(|s| s.cache_hits += 1);
                return Ok(Fetched {
                    url: req.url.to_string(),
                    final_url: e.final_url,
                    sha256: e.sha256,
                    bytes,
                    from_cache: true,
                });
            }
        }
        if self.cfg.offline {
            if let Some(blob) = corrupt {
                return Err(SourceError::OfflineCorrupt {
                    url: req.url.to_string(),
                    what: req.what.to_string(),
                    blob,
                });
            }
            return Err(SourceError::Offline {
                url: req.url.to_string(),
                what: req.what.to_string(),
                cache: self.cache.root().to_path_buf(),
            });
        }
        let partial = self.cache.partial_path(&key);
        let mut attempts = 0u32;
        let final_url = loop {
            attempts += 1;
            let outcome = {
                let _slot = self.acquire(req.url);
                self.bump(|s| s.requests += 1);
                self.attempt(req, &partial)
            };
            let outcome = match outcome {
                Err(e @ SourceError::NotFound { .. }) => {
                    return Err(self.remember_not_found(&key, e));
                }
                other => other?,
            };
            match outcome {
                Attempt::Done { final_url } => break final_url,
                Attempt::Retry { wait, message } => {
                    if attempts > self.cfg.retries {
                        return Err(SourceError::Network {
                            url: req.url.to_string(),
                            what: req.what.to_string(),
                            attempts,
                            message,
                        });
                    }
                    self.bump(|s| s.retries += 1);
                    std::thread::sleep(self.delay(attempts, wait, req.url));
                }
            }
        };
        let (sha, size) = sha256_file(&partial)?;
        if let Some(exp) = &req.expect {
            let size_ok = exp.size.is_none_or(|s| s == size);
            if sha != exp.sha256 || !size_ok {
                let _ = std::fs::remove_file(&partial);
                return Err(SourceError::HashMismatch {
                    url: req.url.to_string(),
                    what: format!("{} (SHA-256, size)", req.what),
                    expected: format!(
                        "{} ({} bytes)",
                        exp.sha256,
                        exp.size
                            .map(|s| s.to_string())
                            .unwrap_or_else(|| "?".into())
                    ),
                    got: format!("{sha} ({size} bytes)"),
                });
            }
        }
        let bytes = std::fs::read(&partial).map_err(|e| SourceError::io(&partial, e))?;
        self.cache.put_verified(&bytes, &sha, req.url)?;
        self.cache.put_key(&KeyEntry {
            key,
            final_url: final_url.clone(),
            sha256: sha.clone(),
            size,
            status: 200,
        })?;
        let _ = std::fs::remove_file(&partial);
        Ok(Fetched {
            url: req.url.to_string(),
            final_url,
            sha256: sha,
            bytes,
            from_cache: false,
        })
    }

    /// Remembers that `key` does not exist (when `e` says so), so that offline
    /// runs take the same fallbacks as online ones; returns `e`, or the error
    /// that kept it from being remembered.
    fn remember_not_found(&self, key: &str, e: SourceError) -> SourceError {
        let SourceError::NotFound { url, status, .. } = &e else {
            return e;
        };
        let stored = self.cache.put(b"").and_then(|sha| {
            self.cache.put_key(&KeyEntry {
                key: key.to_string(),
                final_url: url.clone(),
                sha256: sha,
                size: 0,
                status: *status,
            })
        });
        match stored {
            Ok(()) => e,
            Err(io) => io,
        }
    }

    /// A remembered 404/410 for `key`, as the error [`Http::get`] gives.
    fn known_not_found(&self, key: &str, url: &str, what: &str) -> Option<SourceError> {
        let e = self.cache.get_key(key)?;
        matches!(e.status, 404 | 410).then(|| {
            self.bump(|s| s.cache_hits += 1);
            SourceError::NotFound {
                url: url.to_string(),
                what: what.to_string(),
                status: e.status,
            }
        })
    }

    /// Like [`Http::get`], but a 404/410 is `Ok(None)`.
    pub fn get_opt(&self, req: &Request<'_>) -> Result<Option<Fetched>, SourceError> {
        match self.get(req) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn delay(&self, attempt: u32, hint: Option<Duration>, url: &str) -> Duration {
        let exp = self
            .cfg
            .base_delay
            .saturating_mul(1u32 << attempt.saturating_sub(1).min(16));
        // Full jitter on half the delay, so parallel clients do not retry in lock step.
        let mut h = std::collections::hash_map::RandomState::new().build_hasher();
        h.write(url.as_bytes());
        let frac = (h.finish() % 1000) as u32;
        let jittered = exp / 2 + (exp / 2) * frac / 1000;
        let d = match hint {
            Some(h) => h.max(jittered),
            None => jittered,
        };
        d.min(self.cfg.max_delay)
    }

    fn attempt(&self, req: &Request<'_>, partial: &Path) -> Result<Attempt, SourceError> {
        let have = std::fs::metadata(partial).map(|m| m.len()).unwrap_or(0);
        let mut rb = self.client.get(req.url);
        if let Some(a) = req.accept {
            rb = rb.header(reqwest::header::ACCEPT, a);
        }
        if let Some(a) = req.auth {
            rb = rb.header(reqwest::header::AUTHORIZATION, a);
        }
        if have > 0 {
            rb = rb.header(reqwest::header::RANGE, format!("bytes={have}-"));
        }
        let mut resp = match rb.send() {
            Ok(r) => r,
            Err(e) => {
                return Ok(Attempt::Retry {
                    wait: None,
                    message: describe(&e),
                });
            }
        };
        let status = resp.status().as_u16();
        let final_url = resp.url().to_string();
        let retry_after = resp
            .headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_retry_after);
        let append = match status {
            200 => false,
            206 => {
                let start = resp
                    .headers()
                    .get(reqwest::header::CONTENT_RANGE)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("bytes "))
                    .and_then(|v| v.split('-').next())
                    .and_then(|v| v.parse::<u64>().ok());
                if start != Some(have) {
                    let _ = std::fs::remove_file(partial);
                    return Ok(Attempt::Retry {
                        wait: Some(Duration::ZERO),
                        message: "server resumed at the wrong offset".into(),
                    });
                }
                true
            }
            416 => {
                let _ = std::fs::remove_file(partial);
                return Ok(Attempt::Retry {
                    wait: Some(Duration::ZERO),
                    message: "range not satisfiable; restarting".into(),
                });
            }
            404 | 410 => {
                return Err(SourceError::NotFound {
                    url: req.url.to_string(),
                    what: req.what.to_string(),
                    status,
                });
            }
            408 | 429 | 500..=599 => {
                return Ok(Attempt::Retry {
                    wait: retry_after,
                    message: format!("HTTP {status}"),
                });
            }
            _ => {
                return Err(SourceError::Status {
                    url: req.url.to_string(),
                    what: req.what.to_string(),
                    status,
                });
            }
        };
        let expected_total = resp
            .content_length()
            .map(|n| if append { n + have } else { n });
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(partial)
            .map_err(|e| SourceError::io(partial, e))?;
        let mut buf = vec![0u8; 1 << 16];
        let mut got = if append { have } else { 0 };
        loop {
            match resp.read(&mut buf) {
                Ok(0) => break,
                Ok(k) => {
                    f.write_all(&buf[..k])
                        .map_err(|e| SourceError::io(partial, e))?;
                    got += k as u64;
                    self.bump(|s| s.bytes += k as u64);
                    if let Some(exp) = &req.expect
                        && exp.size.is_some_and(|s| got > s)
                    {
                        let _ = std::fs::remove_file(partial);
                        return Err(SourceError::HashMismatch {
                            url: req.url.to_string(),
                            what: format!("{} (size)", req.what),
                            expected: format!("{} bytes", exp.size.unwrap_or(0)),
                            got: format!("more than {got} bytes"),
                        });
                    }
                }
                Err(e) => {
                    let _ = f.flush();
                    return Ok(Attempt::Retry {
                        wait: None,
                        message: format!("body interrupted after {got} bytes: {e}"),
                    });
                }
            }
        }
        f.flush().map_err(|e| SourceError::io(partial, e))?;
        if let Some(total) = expected_total
            && got != total
        {
            return Ok(Attempt::Retry {
                wait: None,
                message: format!("truncated body: {got} of {total} bytes"),
            });
        }
        Ok(Attempt::Done { final_url })
    }
}

fn describe(e: &reqwest::Error) -> String {
    let mut s = e.to_string();
    let mut src = std::error::Error::source(e);
    while let Some(c) = src {
        s.push_str(": ");
        s.push_str(&c.to_string());
        src = c.source();
    }
    s
}

/// Parses `Retry-After`: delta seconds or an HTTP date.
pub fn parse_retry_after(v: &str) -> Option<Duration> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let t = chrono::DateTime::parse_from_rfc2822(v).ok()?;
    let now = crate::date::now();
    let secs = (t.with_timezone(&chrono::Utc) - now).num_seconds();
    Some(Duration::from_secs(secs.max(0) as u64))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retry_after_forms() {
        assert_eq!(parse_retry_after("3"), Some(Duration::from_secs(3)));
        assert_eq!(
            parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(parse_retry_after("soon"), None);
    }
}
