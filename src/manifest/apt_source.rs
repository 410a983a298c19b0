//! An apt repository that a Dockerfile or script adds to an image
//! (`add-apt-repository`, a `deb ...` line written to `sources.list.d`), with
//! the keys the same file fetches for it, so the index can read it like
//! Debian's own suites.

use super::{Context, Origin};
use serde::{Deserialize, Serialize};

/// One `deb` line an image's build adds, expanded as far as the crawl could.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct AptSource {
    /// Repository root (`https://download.docker.com/linux/debian`), without a trailing `/`.
    pub url: String,
    /// The distribution under `dists/` (`bullseye`, `stable`, `kubernetes-xenial`).
    pub suite: String,
    /// Components (`stable`, `main`).
    pub components: Vec<String>,
    /// `[arch=...]` when the line restricts architectures.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arch: Option<String>,
    /// `[signed-by=...]` keyring file, when given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
    /// URLs of the keys the same file fetches into apt's trust (`curl URL | apt-key add -`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub keys: Vec<String>,
    /// Where the line was written.
    pub origin: Origin,
    /// The image (and suite) whose apt sees it.
    #[serde(default)]
    pub context: Context,
}

impl AptSource {
    /// A name for reports: `url suite components`.
    pub fn label(&self) -> String {
        format!("{} {} {}", self.url, self.suite, self.components.join(" "))
    }

    /// What makes the line unusable as written: an empty part, or text the
    /// crawl could not expand (`$(...)`, `{{ }}`, a shell variable).
    pub fn unexpanded(&self) -> Option<&str> {
        let bad = |s: &str| s.is_empty() || s.contains('$') || s.contains("{{") || s.contains('`');
        [self.url.as_str(), self.suite.as_str()]
            .into_iter()
            .chain(self.components.iter().map(String::as_str))
            .chain(self.arch.as_deref())
            .find(|s| bad(s))
    }

    /// Checks the parts that become URLs: an `http(s)` root and path-safe
    /// suite and component names.
    pub fn validate(&self) -> Result<(), String> {
        if !(self.url.starts_with("http://") || self.url.starts_with("https://"))
            || self
                .url
                .chars()
                .any(|c| c.is_whitespace() || c.is_control())
        {
            return Err(format!(
                "apt source `{}` is not an http(s) URL",
                self.url.escape_debug()
            ));
        }
        let safe = |s: &str| {
            s.split('/').all(|c| !c.is_empty() && c != "." && c != "..")
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.+~/".contains(&b))
        };
        if self.unexpanded().is_none()
            && (!safe(&self.suite) || self.components.iter().any(|c| !safe(c)))
        {
            return Err(format!(
                "apt source {}: suite or component is not a path name",
                self.label().escape_debug()
            ));
        }
        Ok(())
    }
}
