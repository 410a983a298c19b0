//! Guarded entry into `pep508_rs` for text from outside (a requirement line,
//! a `Requires-Dist`, a marker in a crawled file). pep508_rs 0.9 panics on
//! some odd text instead of failing: a multi-byte character in a marker
//! slices inside a character, `'x' ~= os_name` reaches an `unreachable!`
//! while it holds the global marker interner (poisoning it, so that every
//! later marker panics too), a huge minor in `python_version <= '3.N'`
//! overflows, and deep nesting recurses without bound. Those shapes are
//! refused here before the parser sees them; a panic that still escapes is
//! caught and reported as an error naming the origin.

use pep508_rs::{MarkerEnvironment, MarkerTree, Requirement, VerbatimUrl};
use std::str::FromStr;

/// Longest text handed to the parser (a requirement line or a marker).
const MAX_LEN: usize = 8 * 1024;
/// Deepest nesting of parentheses accepted in a marker.
const MAX_DEPTH: usize = 32;
/// Longest run of digits accepted (a version number part, in a marker).
const MAX_DIGITS: usize = 18;

/// Marker variables compared as PEP 440 versions.
const VERSION_KEYS: &[&str] = &[
    "python_version",
    "python_full_version",
    "implementation_version",
];

/// Why a text was refused before parsing; `marker` is its marker part.
fn refuse(text: &str, marker: &str) -> Option<String> {
    if text.len() > MAX_LEN {
        return Some(format!("longer than {MAX_LEN} bytes"));
    }
    if let Some(c) = text
        .chars()
        .find(|c| !c.is_ascii() || c.is_ascii_control() && *c != '\t')
    {
        return Some(format!("character {c:?} is not printable ASCII"));
    }
    let mut depth = 0usize;
    let mut digits = 0usize;
    for c in marker.chars() {
        match c {
            '(' | '[' => depth += 1,
            ')' | ']' => depth = depth.saturating_sub(1),
            _ => {}
        }
        if depth > MAX_DEPTH {
            return Some(format!("nested deeper than {MAX_DEPTH}"));
        }
        digits = if c.is_ascii_digit() { digits + 1 } else { 0 };
        if digits > MAX_DIGITS {
            return Some(format!("a number longer than {MAX_DIGITS} digits"));
        }
    }
    if tilde_on_strings(marker) {
        return Some("`~=` compares a string, not a version".to_string());
    }
    None
}

/// Tokens of a marker: quoted strings, words and operators.
fn tokens(m: &str) -> Vec<&str> {
    let mut out = Vec::new();
    let b = m.as_bytes();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        let start = i;
        if c == b'\'' || c == b'"' {
            i += 1;
            while i < b.len() && b[i] != c {
                i += 1;
            }
            i = (i + 1).min(b.len());
        } else if c.is_ascii_alphanumeric() || c == b'_' || c == b'.' {
            while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b'.') {
                i += 1;
            }
        } else if matches!(c, b'<' | b'=' | b'>' | b'~' | b'!') {
            while i < b.len() && matches!(b[i], b'<' | b'=' | b'>' | b'~' | b'!') {
                i += 1;
            }
        } else {
            i += 1;
            if c.is_ascii_whitespace() {
                continue;
            }
        }
        out.push(&m[start..i]);
    }
    out
}

/// Whether `~=` stands between a quoted string and a string variable
/// (`'x' ~= os_name`): the one shape of `~=` pep508_rs does not refuse or
/// ignore but panics on.
fn tilde_on_strings(m: &str) -> bool {
    let t = tokens(m);
    let quoted = |s: &str| s.starts_with(['\'', '"']);
    let string_var = |s: &str| {
        s.starts_with(|c: char| c.is_ascii_alphabetic() || c == '_')
            && !VERSION_KEYS.contains(&s)
            && !matches!(s, "extra" | "and" | "or" | "in" | "not")
    };
    t.windows(3)
        .any(|w| w[1] == "~=" && quoted(w[0]) && string_var(w[2]))
}

/// Runs a pep508_rs call, turning a panic into an error.
fn guarded<T>(f: impl FnOnce() -> Result<T, String>) -> Result<T, String> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f))
        .unwrap_or_else(|_| Err("the PEP 508 parser cannot read this text".to_string()))
}

/// Parses a PEP 508 requirement line; odd text is an error, never a panic.
pub fn requirement(text: &str) -> Result<Requirement<VerbatimUrl>, String> {
    // The marker starts at the first `;` (a URL before it is ended by a space).
    let m = text.split_once(';').map_or("", |(_, m)| m);
    if let Some(why) = refuse(text, m) {
        return Err(format!("refused `{}`: {why}", shown(text)));
    }
    guarded(|| Requirement::<VerbatimUrl>::from_str(text).map_err(|e| e.to_string()))
}

/// Parses a PEP 508 environment marker (`python_version < "3"`).
pub fn marker(text: &str) -> Result<MarkerTree, String> {
    if let Some(why) = refuse(text, text) {
        return Err(format!("refused marker `{}`: {why}", shown(text)));
    }
    guarded(|| MarkerTree::from_str(text).map_err(|e| e.to_string()))
}

/// Evaluates a parsed marker for an environment and a set of extras.
pub fn evaluate(
    m: &MarkerTree,
    env: &MarkerEnvironment,
    extras: &[pep508_rs::ExtraName],
) -> Result<bool, String> {
    guarded(|| Ok(m.evaluate(env, extras)))
}

/// At most 80 characters of `text`, for an error message.
fn shown(text: &str) -> String {
    let mut s: String = text.chars().take(80).collect();
    if s.len() < text.len() {
        s.push_str("...");
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes_that_panic_pep508_rs_are_refused_with_a_reason() {
        for (text, why) in [
            (
                "python_version >= \"3.7\" an\"d\u{e9} x",
                "not printable ASCII",
            ),
            ("'linux' ~= os_name", "`~=` compares a string"),
            (
                "python_version <= '3.18446744073709551615'",
                "longer than 18 digits",
            ),
            (
                &format!("{}python_version > '1'{}", "(".repeat(200), ")".repeat(200)),
                "nested deeper",
            ),
            (&"a".repeat(MAX_LEN + 1), "longer than"),
        ] {
            let e = marker(text).unwrap_err();
            assert!(e.contains(why), "{text}: {e}");
            assert!(requirement(&format!("x ; {text}")).is_err());
        }
    }

    #[test]
    fn ordinary_markers_and_requirements_still_parse() {
        let m = marker("python_version >= \"3.7\" and (sys_platform == 'linux' or extra == 'a')")
            .unwrap();
        let env = crate::universe::python::PythonEnv::linux_cpython("py3", "3.9.2").unwrap();
        assert!(evaluate(&m, &env.markers, &[]).unwrap());
        assert!(marker("python_version ~= '3.7'").is_ok());
        assert!(marker("'3.7' ~= python_version").is_ok());
        // What pep508_rs ignores with a warning is left to it.
        assert!(marker("os_name ~= 'x'").is_ok());
        assert!(marker("'x' ~= extra").is_ok());
        let r = requirement("zope.interface[a,b] >=4.0, <6 ; python_version < '4'").unwrap();
        assert_eq!(r.name.as_ref(), "zope-interface");
        assert!(requirement("foo ~= 1.0").is_ok());
    }
}
