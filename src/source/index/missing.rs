//! A dependency the index could not resolve, and why, as a structured cause
//! set where the miss is found: later stages decide on the cause (a gap in
//! the sources, a wheel the tree builds, a real miss), never on the wording
//! of the reason, which is for people.

use crate::manifest::{Constraint, Dependency, Ecosystem};
use crate::source::SourceError;
use serde::{Deserialize, Serialize};

/// Why a dependency has no version at the cutoff.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum MissingCause {
    /// The source (`https://github.com`) could not be reached at all.
    Unreachable {
        /// `scheme://host[:port]` of the source.
        origin: String,
    },
    /// PyPI answered that no such project exists (HTTP 404).
    NoSuchProject,
    /// No suite of the distribution the dependency names was indexed.
    NoSuiteIndexed {
        /// The distribution (`buster`), or `any distribution`.
        suite: String,
    },
    /// An apt repository the image adds could not be read, and no index read has the package.
    AddedSourceUnread,
    /// The sources answered, and nothing they had at the cutoff matches.
    NoVersionAtCutoff,
    /// The crawler left a variable or template in the name.
    NotExpanded,
    /// The source answered with an error (a status, a bad answer, offline).
    /// Also what an index report written before causes existed reads as.
    #[default]
    Error,
}

/// A dependency for which nothing existed at the cutoff (or that could not be checked).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Missing {
    /// Ecosystem.
    pub ecosystem: Ecosystem,
    /// Name as declared.
    pub name: String,
    /// Constraint as declared.
    pub constraint: Constraint,
    /// Where it was declared.
    pub origin: String,
    /// Why nothing matches, or the error met (for people).
    pub reason: String,
    /// Why, for the stages that decide on it.
    #[serde(default)]
    pub cause: MissingCause,
}

impl MissingCause {
    /// The cause an error met while asking for a dependency of `eco` stands for.
    pub fn of_error(eco: Ecosystem, e: &SourceError) -> MissingCause {
        if let Some(origin) = e.unreachable() {
            return MissingCause::Unreachable { origin };
        }
        match e {
            SourceError::NotFound {
                status: 404, what, ..
            } if eco == Ecosystem::Py && crate::source::pypi::is_project_request(what) => {
                MissingCause::NoSuchProject
            }
            _ => MissingCause::Error,
        }
    }
}

impl Missing {
    /// `d` reported as missing for `reason`, because of `cause`.
    pub fn new(d: &Dependency, reason: impl Into<String>, cause: MissingCause) -> Missing {
        Missing {
            ecosystem: d.ecosystem,
            name: d.name.clone(),
            constraint: d.constraint.clone(),
            origin: d.origin.to_string(),
            reason: reason.into(),
            cause,
        }
    }

    /// `d` reported as missing because of `e`.
    pub fn from_error(d: &Dependency, e: &SourceError) -> Missing {
        Missing::new(d, e.to_string(), MissingCause::of_error(d.ecosystem, e))
    }

    /// `d` reported as missing because the crawler left a template in it.
    pub fn not_expanded(d: &Dependency, reason: &str) -> Missing {
        Missing::new(d, reason, MissingCause::NotExpanded)
    }

    /// The source that could not be reached, when that is why.
    pub fn unreachable(&self) -> Option<&str> {
        match &self.cause {
            MissingCause::Unreachable { origin } => Some(origin),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{Context, Dependency, Origin};

    fn dep(eco: Ecosystem) -> Dependency {
        Dependency {
            ecosystem: eco,
            name: "x".into(),
            constraint: Constraint::None,
            pinned: false,
            origin: Origin {
                file: "f".into(),
                line: 1,
            },
            context: Context::default(),
            attrs: Default::default(),
        }
    }

    fn not_found(what: &str, status: u16) -> SourceError {
        SourceError::NotFound {
            url: "http://h/simple/x/".into(),
            what: what.into(),
            status,
        }
    }

    #[test]
    fn an_unreachable_source_is_named_by_its_origin() {
        let e = SourceError::Network {
            url: "https://github.com/a/b.git".into(),
            what: "git".into(),
            attempts: 1,
            message: "connection refused".into(),
        };
        let m = Missing::from_error(&dep(Ecosystem::Git), &e);
        assert_eq!(
            m.cause,
            MissingCause::Unreachable {
                origin: "https://github.com".into()
            }
        );
        assert_eq!(m.unreachable(), Some("https://github.com"));
    }

    #[test]
    fn only_pypi_saying_404_for_the_project_is_no_such_project() {
        let what = crate::source::pypi::project_request("x");
        let d = dep(Ecosystem::Py);
        assert_eq!(
            Missing::from_error(&d, &not_found(&what, 404)).cause,
            MissingCause::NoSuchProject
        );
        // 410, another request, another ecosystem: an error, not a verdict on the name.
        for (eco, what, status) in [
            (Ecosystem::Py, what.as_str(), 410),
            (Ecosystem::Py, "metadata of x-1.whl", 404),
            (Ecosystem::Go, what.as_str(), 404),
        ] {
            let m = Missing::from_error(&dep(eco), &not_found(what, status));
            assert_eq!(m.cause, MissingCause::Error, "{eco} {what} {status}");
        }
    }

    #[test]
    fn other_errors_are_errors() {
        let e = SourceError::Status {
            url: "http://h/x".into(),
            what: "x".into(),
            status: 500,
        };
        assert_eq!(
            Missing::from_error(&dep(Ecosystem::Py), &e).cause,
            MissingCause::Error
        );
    }

    #[test]
    fn a_report_written_before_causes_reads_as_an_error_and_causes_round_trip() {
        let old = r#"{"ecosystem":"deb","name":"x","constraint":{"kind":"none"},"origin":"f:1","reason":"r"}"#;
        let m: Missing = serde_json::from_str(old).unwrap();
        assert_eq!(m.cause, MissingCause::Error);
        for cause in [
            MissingCause::Unreachable {
                origin: "https://h".into(),
            },
            MissingCause::NoSuchProject,
            MissingCause::NoSuiteIndexed {
                suite: "buster".into(),
            },
            MissingCause::AddedSourceUnread,
            MissingCause::NoVersionAtCutoff,
            MissingCause::NotExpanded,
            MissingCause::Error,
        ] {
            let m = Missing::new(&dep(Ecosystem::Deb), "r", cause.clone());
            let back: Missing = serde_json::from_str(&serde_json::to_string(&m).unwrap()).unwrap();
            assert_eq!(back.cause, cause);
        }
    }
}
