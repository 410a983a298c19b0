//! Errors of the source stage; each names the URL or file concerned and what was expected.

use std::path::PathBuf;

/// Why fetching, verifying or reading a source failed.
#[derive(Debug, thiserror::Error)]
pub enum SourceError {
    /// The network request failed after all retries (connection, timeout, truncated body).
    #[error("{url}: {message} (fetching {what}, after {attempts} attempt(s))")]
    Network {
        /// The URL.
        url: String,
        /// What was being fetched.
        what: String,
        /// How many attempts were made.
        attempts: u32,
        /// The last error.
        message: String,
    },
    /// The server answered with an unexpected HTTP status.
    #[error("{url}: HTTP {status} (expected 200 for {what})")]
    Status {
        /// The URL.
        url: String,
        /// What was being fetched.
        what: String,
        /// The HTTP status.
        status: u16,
    },
    /// The server says the resource does not exist (404/410).
    #[error("{url}: not found (HTTP {status}) while fetching {what}")]
    NotFound {
        /// The URL.
        url: String,
        /// What was being fetched.
        what: String,
        /// 404 or 410.
        status: u16,
    },
    /// The content does not have the hash (or size) a trusted index promised.
    #[error("{url}: {what} does not match: expected {expected}, got {got}; nothing was cached")]
    HashMismatch {
        /// The URL.
        url: String,
        /// What was being fetched.
        what: String,
        /// What the trusted index says.
        expected: String,
        /// What arrived.
        got: String,
    },
    /// `--offline` was given and the cache does not hold this response.
    #[error("offline: {url} ({what}) is not in the cache {cache}")]
    Offline {
        /// The URL.
        url: String,
        /// What was being fetched.
        what: String,
        /// The cache directory searched.
        cache: PathBuf,
    },
    /// `--offline` was given and the cached copy failed its hash check (it was removed).
    #[error(
        "offline: the cached copy of {url} ({what}) was corrupt (blob {blob} did not match its hash) and was removed; run without --offline to fetch it again"
    )]
    OfflineCorrupt {
        /// The URL.
        url: String,
        /// What was being fetched.
        what: String,
        /// The removed blob file.
        blob: PathBuf,
    },
    /// A fetched or cached document is malformed.
    #[error("{location}: {message}")]
    Parse {
        /// URL or file, with a line number when known (`url:12`).
        location: String,
        /// What is wrong.
        message: String,
    },
    /// A signature could not be verified.
    #[error("{location}: signature check failed: {message}")]
    Signature {
        /// The signed file's URL.
        location: String,
        /// Why.
        message: String,
    },
    /// A local file or directory could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A git operation failed.
    #[error("{url}: git: {message}")]
    Git {
        /// The repository URL.
        url: String,
        /// What git said.
        message: String,
    },
    /// The universe rejected what a source delivered (names the index file and line).
    #[error(transparent)]
    Universe(#[from] crate::universe::UniverseError),
    /// A Python project name that is not a PEP 508 name.
    #[error(transparent)]
    PyName(#[from] crate::universe::python::BadPyName),
    /// No source of a Python release's core metadata had it: why, and each source tried.
    #[error("{what}: {reason} (tried: {})", tried.join("; "))]
    NoMetadata {
        /// The release (`name==version`).
        what: String,
        /// The reason that decides (an sdist that computes its requirements, or none had any).
        reason: String,
        /// Each source tried (its URL) and why it had nothing.
        tried: Vec<String>,
    },
    /// The request itself is invalid (a hostile name, an unknown suite, a bad date).
    #[error("{0}")]
    Invalid(String),
}

impl SourceError {
    /// An I/O error on `path`.
    pub fn io(path: impl Into<PathBuf>, source: std::io::Error) -> SourceError {
        SourceError::Io {
            path: path.into(),
            source,
        }
    }

    /// A parse error at `location`.
    pub fn parse(location: impl Into<String>, message: impl Into<String>) -> SourceError {
        SourceError::Parse {
            location: location.into(),
            message: message.into(),
        }
    }

    /// The scheme and host (`https://github.com`) of a source that could not be
    /// reached at all (no connection, no DNS answer, no reply), as opposed to
    /// one that answered with an error.
    pub fn unreachable(&self) -> Option<String> {
        match self {
            SourceError::Network { url, .. } => Some(origin_of(url)),
            _ => None,
        }
    }

    /// True when the resource does not exist at the server.
    pub fn is_not_found(&self) -> bool {
        matches!(self, SourceError::NotFound { .. })
    }
}

/// `scheme://host[:port]` of a URL, or the URL itself when it does not parse.
pub fn origin_of(url: &str) -> String {
    match reqwest::Url::parse(url) {
        Ok(u) => match (u.host_str(), u.port()) {
            (Some(h), Some(p)) => format!("{}://{h}:{p}", u.scheme()),
            (Some(h), None) => format!("{}://{h}", u.scheme()),
            _ => url.to_string(),
        },
        Err(_) => url.to_string(),
    }
}
