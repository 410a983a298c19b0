//! Partial reads (`Range`) and documents derived from fetched files, for
//! readers that need a few kilobytes out of a large file (a wheel's
//! `METADATA`): the parts are never cached, only what is derived from them,
//! and only once it is whole.

use super::{Fetched, Http};
use crate::source::SourceError;
use crate::source::cache::{KeyEntry, Lookup};
use std::io::Read;
use std::time::Duration;

/// A byte range to ask for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ByteRange {
    /// The last `n` bytes of the file.
    Suffix(u64),
    /// `len` bytes from `start`.
    Span {
        /// First byte.
        start: u64,
        /// Number of bytes (at least 1).
        len: u64,
    },
}

/// What a range request got.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ranged {
    /// 206: `bytes` from offset `start` of a file of `total` bytes.
    Part {
        /// Offset of the first byte.
        start: u64,
        /// Size of the whole file.
        total: u64,
        /// The bytes.
        bytes: Vec<u8>,
    },
    /// The server ignores `Range` (it answered 200); its body was not read.
    Ignored,
}

enum RangeAttempt {
    Done(Ranged),
    Retry {
        wait: Option<Duration>,
        message: String,
    },
}

impl ByteRange {
    fn header(self) -> Result<String, SourceError> {
        match self {
            ByteRange::Suffix(n) if n > 0 => Ok(format!("bytes=-{n}")),
            ByteRange::Span { start, len } if len > 0 => start
                .checked_add(len - 1)
                .map(|end| format!("bytes={start}-{end}"))
                .ok_or_else(|| SourceError::Invalid(format!("range {start}+{len} overflows"))),
            _ => Err(SourceError::Invalid("empty byte range".into())),
        }
    }
}

/// `bytes a-b/total` of a `Content-Range` header.
fn content_range(v: &str) -> Option<(u64, u64, u64)> {
    let (span, total) = v.trim().strip_prefix("bytes ")?.split_once('/')?;
    let (a, b) = span.split_once('-')?;
    let (a, b, total) = (a.parse().ok()?, b.parse().ok()?, total.parse().ok()?);
    (a <= b && b < total).then_some((a, b, total))
}

impl Http {
    /// GET of part of `url` (never cached), with the retries of [`Http::get`];
    /// the server must answer exactly the part asked for, or [`Ranged::Ignored`].
    pub fn get_range(
        &self,
        url: &str,
        what: &str,
        range: ByteRange,
    ) -> Result<Ranged, SourceError> {
        // A file known not to exist is answered as `get` answers it, offline too.
        if let Some(gone) = self.known_not_found(url, url, what) {
            return Err(gone);
        }
        if self.cfg.offline {
            return Err(SourceError::Offline {
                url: url.to_string(),
                what: what.to_string(),
                cache: self.cache.root().to_path_buf(),
            });
        }
        let header = range.header()?;
        let mut attempts = 0u32;
        loop {
            attempts += 1;
            let outcome = {
                let _slot = self.acquire(url);
                self.bump(|s| s.requests += 1);
                match self.range_attempt(url, what, &header, range) {
                    Err(e) => return Err(self.remember_not_found(url, e)),
                    Ok(o) => o,
                }
            };
            match outcome {
                RangeAttempt::Done(r) => return Ok(r),
                RangeAttempt::Retry { wait, message } => {
                    if attempts > self.cfg.retries {
                        return Err(SourceError::Network {
                            url: url.to_string(),
                            what: what.to_string(),
                            attempts,
                            message,
                        });
                    }
                    self.bump(|s| s.retries += 1);
                    std::thread::sleep(self.delay(attempts, wait, url));
                }
            }
        }
    }

    fn range_attempt(
        &self,
        url: &str,
        what: &str,
        header: &str,
        range: ByteRange,
    ) -> Result<RangeAttempt, SourceError> {
        // Identity encoding: offsets are of the file as stored, not of a compressed stream.
        let sent = self
            .client
            .get(url)
            .header(reqwest::header::RANGE, header)
            .header(reqwest::header::ACCEPT_ENCODING, "identity")
            .send();
        let resp = match sent {
            Ok(r) => r,
            Err(e) => {
                return Ok(RangeAttempt::Retry {
                    wait: None,
                    message: super::describe(&e),
                });
            }
        };
        let status = resp.status().as_u16();
        match status {
            206 => {}
            200 => return Ok(RangeAttempt::Done(Ranged::Ignored)),
            404 | 410 => {
                return Err(SourceError::NotFound {
                    url: url.to_string(),
                    what: what.to_string(),
                    status,
                });
            }
            408 | 429 | 500..=599 => {
                let wait = resp
                    .headers()
                    .get(reqwest::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(super::parse_retry_after);
                return Ok(RangeAttempt::Retry {
                    wait,
                    message: format!("HTTP {status}"),
                });
            }
            _ => {
                return Err(SourceError::Status {
                    url: url.to_string(),
                    what: what.to_string(),
                    status,
                });
            }
        }
        let bad = |m: String| SourceError::parse(url, format!("{what}: {m}"));
        let cr = resp
            .headers()
            .get(reqwest::header::CONTENT_RANGE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let (a, b, total) = content_range(&cr)
            .ok_or_else(|| bad(format!("206 with an unreadable Content-Range `{cr}`")))?;
        let fits = match range {
            ByteRange::Suffix(n) => b + 1 == total && b - a < n,
            ByteRange::Span { start, len } => a == start && b - a < len,
        };
        if !fits {
            return Err(bad(format!("asked for {header}, got {cr}")));
        }
        let want = b - a + 1;
        let mut bytes = Vec::new();
        // One byte more than announced is enough to tell a server that sends too much.
        if let Err(e) = resp.take(want + 1).read_to_end(&mut bytes) {
            return Ok(RangeAttempt::Retry {
                wait: None,
                message: format!("body interrupted after {} bytes: {e}", bytes.len()),
            });
        }
        self.bump(|s| s.bytes += bytes.len() as u64);
        match (bytes.len() as u64).cmp(&want) {
            std::cmp::Ordering::Greater => Err(bad(format!("more than the {want} bytes of {cr}"))),
            std::cmp::Ordering::Less => Ok(RangeAttempt::Retry {
                wait: None,
                message: format!("truncated part: {} of {want} bytes", bytes.len()),
            }),
            std::cmp::Ordering::Equal => Ok(RangeAttempt::Done(Ranged::Part {
                start: a,
                total,
                bytes,
            })),
        }
    }

    /// A document derived from the immutable file at `url` (its member
    /// `member`), cached like a fetched body under its own key: served from
    /// the cache when there, else made by `make` (which returns the bytes and
    /// a description of where they came from, kept as the final URL) and
    /// stored only once made whole. A failure stores nothing.
    pub fn derived(
        &self,
        url: &str,
        member: &str,
        make: impl FnOnce() -> Result<(Vec<u8>, String), SourceError>,
    ) -> Result<Fetched, SourceError> {
        let key = format!("{url}\nmember: {member}");
        if let Some(e) = self.cache.get_key(&key)
            && e.status == 200
            && let Lookup::Hit(bytes) = self.cache.lookup(&e.sha256, &key)?
        {
            self.bump(|s| s.cache_hits += 1);
            return Ok(Fetched {
                url: url.to_string(),
                final_url: e.final_url,
                sha256: e.sha256,
                bytes,
                from_cache: true,
            });
        }
        let (bytes, from) = make()?;
        let sha = self.cache.put(&bytes)?;
        self.cache.put_key(&KeyEntry {
            key,
            final_url: from.clone(),
            sha256: sha.clone(),
            size: bytes.len() as u64,
            status: 200,
        })?;
        Ok(Fetched {
            url: url.to_string(),
            final_url: from,
            sha256: sha,
            bytes,
            from_cache: false,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_range_forms() {
        assert_eq!(content_range("bytes 0-9/10"), Some((0, 9, 10)));
        assert_eq!(content_range("bytes 5-4/10"), None);
        assert_eq!(content_range("bytes 0-10/10"), None);
        assert_eq!(content_range("bytes */10"), None);
        assert_eq!(
            ByteRange::Span { start: 3, len: 2 }
                .header()
                .ok()
                .as_deref(),
            Some("bytes=3-4")
        );
        assert!(ByteRange::Suffix(0).header().is_err());
    }
}
