//! Version ordering per ecosystem, behind one small trait so the search never
//! special-cases an ecosystem.

use crate::manifest::Ecosystem;
use std::cmp::Ordering;

/// Why a string is not a version of an ecosystem.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum VersionError {
    /// An empty Debian version.
    #[error("empty version")]
    Empty,
    /// A Debian epoch that is not a number.
    #[error("bad epoch in version `{0}`")]
    BadEpoch(String),
    /// A Debian upstream version that does not start with a digit.
    #[error("version `{0}` must start with a digit")]
    NoLeadingDigit(String),
    /// A character Debian versions do not allow.
    #[error("invalid character in version `{0}`")]
    BadCharacter(String),
    /// A Debian revision that is empty or holds a character it may not.
    #[error("invalid revision in version `{0}`")]
    BadRevision(String),
    /// Not a PEP 440 version.
    #[error("{0}")]
    Pep440(String),
    /// Not a semantic version.
    #[error("`{version}`: {message}")]
    Semver {
        /// The version.
        version: String,
        /// What `semver` says.
        message: String,
    },
    /// An identifier that is empty or holds white space.
    #[error("bad identifier `{0}`")]
    BadIdentifier(String),
}

/// How one ecosystem validates, orders and matches its version strings.
pub trait VersionScheme: Sync {
    /// Checks that `v` is a well-formed version of this ecosystem; the error says why not.
    fn validate(&self, v: &str) -> Result<(), VersionError>;
    /// The order of two versions, `None` when the ecosystem has no order (commits,
    /// digests, md5) or either is not a valid version.
    fn try_compare(&self, a: &str, b: &str) -> Option<Ordering>;
    /// Total order: [`VersionScheme::try_compare`], and the text where it has no answer.
    fn compare(&self, a: &str, b: &str) -> Ordering {
        self.try_compare(a, b).unwrap_or_else(|| a.cmp(b))
    }
    /// Whether `v` satisfies an ecosystem-specific specifier set (PEP 440 `>=1,<2`, semver `^1.2`).
    fn matches_specifiers(&self, v: &str, specifiers: &str) -> bool {
        let _ = (v, specifiers);
        false
    }
}

/// Returns the version scheme of an ecosystem.
pub fn scheme_for(eco: Ecosystem) -> &'static dyn VersionScheme {
    match eco {
        Ecosystem::Deb | Ecosystem::DebSrc => &DebianScheme,
        Ecosystem::Py => &Pep440Scheme,
        Ecosystem::Go => &SemverScheme,
        Ecosystem::Git | Ecosystem::Web | Ecosystem::Docker => &OpaqueScheme,
    }
}

/// Debian versions (`[epoch:]upstream[-revision]`), ordered like dpkg.
#[derive(Debug, Clone, Copy, Default)]
pub struct DebianScheme;

/// PEP 440 versions, ordered by `pep440_rs`.
#[derive(Debug, Clone, Copy, Default)]
pub struct Pep440Scheme;

/// Semantic versions (Go's `v1.2.3`, optionally with the leading `v`), ordered by `semver`.
#[derive(Debug, Clone, Copy, Default)]
pub struct SemverScheme;

/// Immutable identifiers (git SHAs, file hashes, image digests): only equality is meaningful.
#[derive(Debug, Clone, Copy, Default)]
pub struct OpaqueScheme;

/// Order value of one non-digit byte in dpkg's comparison: `~` sorts before
/// everything (even the end of the string), letters before other characters.
#[inline]
fn deb_order(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_digit() => 0,
        Some(c) if c.is_ascii_alphabetic() => c as i32,
        Some(c) => c as i32 + 256,
    }
}

/// dpkg's `verrevcmp` on one part (upstream or revision). Written by hand
/// rather than via `debversion::Version` because the full-index check compares
/// hundreds of thousands of versions and `debversion` parses with a regex and
/// allocates per comparison; the property test `deb_cmp_agrees_with_debversion`
/// checks that both agree.
fn verrevcmp(a: &[u8], b: &[u8]) -> Ordering {
    let (mut i, mut j) = (0usize, 0usize);
    while i < a.len() || j < b.len() {
        let mut first_diff = 0i32;
        while (i < a.len() && !a[i].is_ascii_digit()) || (j < b.len() && !b[j].is_ascii_digit()) {
            let ac = deb_order(a.get(i).copied());
            let bc = deb_order(b.get(j).copied());
            if ac != bc {
                return ac.cmp(&bc);
            }
            i += 1;
            j += 1;
        }
        while i < a.len() && a[i] == b'0' {
            i += 1;
        }
        while j < b.len() && b[j] == b'0' {
            j += 1;
        }
        while i < a.len() && a[i].is_ascii_digit() && j < b.len() && b[j].is_ascii_digit() {
            if first_diff == 0 {
                first_diff = a[i] as i32 - b[j] as i32;
            }
            i += 1;
            j += 1;
        }
        if i < a.len() && a[i].is_ascii_digit() {
            return Ordering::Greater;
        }
        if j < b.len() && b[j].is_ascii_digit() {
            return Ordering::Less;
        }
        if first_diff != 0 {
            return first_diff.cmp(&0);
        }
    }
    Ordering::Equal
}

/// Splits a Debian version into (epoch, upstream, revision).
fn deb_split(v: &str) -> (u64, &str, &str) {
    let (epoch, rest) = match v.find(':') {
        Some(p) if v[..p].bytes().all(|c| c.is_ascii_digit()) && p > 0 => {
            (v[..p].parse::<u64>().unwrap_or(u64::MAX), &v[p + 1..])
        }
        _ => (0, v),
    };
    match rest.rfind('-') {
        Some(p) => (epoch, &rest[..p], &rest[p + 1..]),
        None => (epoch, rest, ""),
    }
}

/// Compares two Debian version strings the way dpkg does.
pub fn deb_compare(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (ea, ua, ra) = deb_split(a);
    let (eb, ub, rb) = deb_split(b);
    ea.cmp(&eb)
        .then_with(|| verrevcmp(ua.as_bytes(), ub.as_bytes()))
        .then_with(|| verrevcmp(ra.as_bytes(), rb.as_bytes()))
}

/// Checks the syntax of a Debian version (Debian Policy 5.6.12), without allocating.
pub fn deb_validate(v: &str) -> Result<(), VersionError> {
    if v.is_empty() {
        return Err(VersionError::Empty);
    }
    let (rest, has_epoch) = match v.find(':') {
        Some(p) => {
            let e = &v[..p];
            if e.is_empty() || !e.bytes().all(|c| c.is_ascii_digit()) {
                return Err(VersionError::BadEpoch(v.to_string()));
            }
            (&v[p + 1..], true)
        }
        None => (v, false),
    };
    let _ = has_epoch;
    let (up, rev) = match rest.rfind('-') {
        Some(p) => (&rest[..p], Some(&rest[p + 1..])),
        None => (rest, None),
    };
    if up.is_empty() || !up.as_bytes()[0].is_ascii_digit() {
        return Err(VersionError::NoLeadingDigit(v.to_string()));
    }
    let ok_up = |c: u8| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'~' | b'-' | b':');
    if !up.bytes().all(ok_up) {
        return Err(VersionError::BadCharacter(v.to_string()));
    }
    if let Some(r) = rev
        && (r.is_empty()
            || !r
                .bytes()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'~')))
    {
        return Err(VersionError::BadRevision(v.to_string()));
    }
    Ok(())
}

impl VersionScheme for DebianScheme {
    fn validate(&self, v: &str) -> Result<(), VersionError> {
        deb_validate(v)
    }
    fn try_compare(&self, a: &str, b: &str) -> Option<Ordering> {
        (deb_validate(a).is_ok() && deb_validate(b).is_ok()).then(|| deb_compare(a, b))
    }
    // dpkg's algorithm orders any two strings; the search compares without validating.
    fn compare(&self, a: &str, b: &str) -> Ordering {
        deb_compare(a, b)
    }
}

impl VersionScheme for Pep440Scheme {
    fn validate(&self, v: &str) -> Result<(), VersionError> {
        v.parse::<pep440_rs::Version>()
            .map(|_| ())
            .map_err(|e| VersionError::Pep440(e.to_string()))
    }
    fn try_compare(&self, a: &str, b: &str) -> Option<Ordering> {
        let a = a.parse::<pep440_rs::Version>().ok()?;
        let b = b.parse::<pep440_rs::Version>().ok()?;
        Some(a.cmp(&b))
    }
    fn matches_specifiers(&self, v: &str, specifiers: &str) -> bool {
        let Ok(ver) = v.parse::<pep440_rs::Version>() else {
            return false;
        };
        match specifiers.parse::<pep440_rs::VersionSpecifiers>() {
            Ok(spec) => spec.contains(&ver),
            Err(_) => false,
        }
    }
}

fn semver_parse(v: &str) -> Result<semver::Version, VersionError> {
    let t = v.strip_prefix('v').unwrap_or(v);
    semver::Version::parse(t).map_err(|e| VersionError::Semver {
        version: v.to_string(),
        message: e.to_string(),
    })
}

impl VersionScheme for SemverScheme {
    fn validate(&self, v: &str) -> Result<(), VersionError> {
        semver_parse(v).map(|_| ())
    }
    // Precedence first (Go ignores build metadata), then the build metadata so that
    // the order stays total (`v2.0.0` before `v2.0.0+incompatible`).
    fn try_compare(&self, a: &str, b: &str) -> Option<Ordering> {
        Some(semver_parse(a).ok()?.cmp(&semver_parse(b).ok()?))
    }
    fn matches_specifiers(&self, v: &str, specifiers: &str) -> bool {
        let (Ok(ver), Ok(req)) = (semver_parse(v), semver::VersionReq::parse(specifiers)) else {
            return false;
        };
        req.matches(&ver)
    }
}

impl VersionScheme for OpaqueScheme {
    fn validate(&self, v: &str) -> Result<(), VersionError> {
        if v.is_empty() || v.chars().any(char::is_whitespace) {
            return Err(VersionError::BadIdentifier(v.to_string()));
        }
        Ok(())
    }
    fn try_compare(&self, _: &str, _: &str) -> Option<Ordering> {
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn dpkg_examples() {
        assert_eq!(deb_compare("1.0", "1.0-0"), Ordering::Equal);
        assert_eq!(deb_compare("1.0~rc1", "1.0"), Ordering::Less);
        assert_eq!(deb_compare("1:0.1", "2.0"), Ordering::Greater);
        assert_eq!(deb_compare("2.31-13+deb11u5", "2.31-13"), Ordering::Greater);
        assert_eq!(deb_compare("1.0a", "1.0+"), Ordering::Less);
        assert_eq!(deb_compare("1.01", "1.1"), Ordering::Equal);
        assert!(deb_validate("2:1.2.3-4+b1").is_ok());
        assert!(deb_validate("abc").is_err());
        assert!(deb_validate("1.0 x").is_err());
        assert!(deb_validate("").is_err());
    }

    #[test]
    fn each_ecosystem_orders_its_own_versions() {
        let c = |e: Ecosystem, a: &str, b: &str| scheme_for(e).try_compare(a, b);
        assert_eq!(c(Ecosystem::Deb, "1.0~rc1", "1.0"), Some(Ordering::Less));
        assert_eq!(
            c(Ecosystem::DebSrc, "1:0.1", "2.0"),
            Some(Ordering::Greater)
        );
        assert_eq!(c(Ecosystem::Deb, "abc", "1.0"), None);
        assert_eq!(c(Ecosystem::Py, "1.10", "1.9"), Some(Ordering::Greater));
        assert_eq!(c(Ecosystem::Py, "2.0rc1", "2.0"), Some(Ordering::Less));
        assert_eq!(
            c(Ecosystem::Go, "v1.10.0", "v1.9.0"),
            Some(Ordering::Greater)
        );
        assert_eq!(
            c(Ecosystem::Go, "v2.0.0", "v2.0.0+incompatible"),
            Some(Ordering::Less)
        );
        assert_eq!(c(Ecosystem::Go, "master", "v1.0.0"), None);
        for e in [Ecosystem::Git, Ecosystem::Web, Ecosystem::Docker] {
            assert_eq!(c(e, "a", "b"), None, "{e:?} has no order");
            assert_eq!(scheme_for(e).compare("a", "b"), Ordering::Less);
        }
        assert_eq!(
            scheme_for(Ecosystem::Deb)
                .validate("x1")
                .unwrap_err()
                .to_string(),
            "version `x1` must start with a digit"
        );
    }

    fn version_strategy() -> impl Strategy<Value = String> {
        (
            proptest::option::of(0u32..3),
            "[0-9][0-9a-z.+~]{0,6}",
            proptest::option::of("[0-9a-z+.~]{1,4}"),
        )
            .prop_map(|(e, u, r)| {
                let mut s = String::new();
                if let Some(e) = e {
                    s.push_str(&format!("{e}:"));
                }
                s.push_str(&u);
                if let Some(r) = r {
                    s.push('-');
                    s.push_str(&r);
                }
                s
            })
    }

    proptest! {
        #[test]
        fn deb_cmp_agrees_with_debversion(a in version_strategy(), b in version_strategy()) {
            let (Ok(x), Ok(y)) = (a.parse::<debversion::Version>(), b.parse::<debversion::Version>()) else {
                return Ok(());
            };
            prop_assert_eq!(deb_compare(&a, &b), x.cmp(&y), "{} vs {}", a, b);
        }
    }
}
