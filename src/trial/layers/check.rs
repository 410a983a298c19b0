//! After a step: what the image holds compared with the lock. Every finding is
//! a line for the trial log; pins installed at another version are phrased as
//! the triage table's `sonic-lock-pin-not-honoured` signature, so the learn
//! loop blames the pin.

use super::plan::normalize_py;
use std::collections::BTreeMap;

/// `dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\n'` output:
/// installed packages (`ii`, or half-configured states counted as present).
pub fn parse_dpkg(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            let (name, version, status) = (f.next()?, f.next()?, f.next().unwrap_or("ii"));
            // `rc`: removed, configuration left; `un`: not installed.
            (!status.starts_with('r') && !status.starts_with('u')).then(|| {
                let name = name.split(':').next().unwrap_or(name);
                (name.to_string(), version.to_string())
            })
        })
        .collect()
}

/// `pip freeze --all` output: `name==version` lines, names normalised;
/// editable and URL lines (`name @ url`) keep their name with the URL as version.
pub fn parse_freeze(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            if l.is_empty() || l.starts_with('#') || l.starts_with('-') {
                return None;
            }
            let (n, v) = l.split_once("==").or_else(|| l.split_once(" @ "))?;
            Some((normalize_py(n.trim()), v.trim().to_string()))
        })
        .collect()
}

/// What one step left against the lock.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Findings {
    /// Problems, one log line each (without the `sonic-lock: ` prefix).
    pub problems: Vec<String>,
}

impl Findings {
    /// True when nothing is wrong.
    pub fn is_clean(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Compares an installed set with the pins: `eco` names the ecosystem in the
/// messages, `before` is the set the step started from (what it did not
/// install is not its doing), `required` must all be present when `complete`,
/// `allowed` are checked only when present.
pub fn compare(
    eco: &str,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
    required: &BTreeMap<String, String>,
    allowed: &BTreeMap<String, String>,
    complete: bool,
) -> Findings {
    let mut f = Findings::default();
    for (name, want) in required {
        match after.get(name) {
            Some(have) if have == want => {}
            Some(have) => f.problems.push(format!(
                "pin not honoured: {eco} {name} pinned {want} but the build used {have}"
            )),
            None if complete => f.problems.push(format!(
                "pin not honoured: {eco} {name} pinned {want} but the build used none (not installed)"
            )),
            None => {}
        }
    }
    for (name, have) in after {
        if required.contains_key(name) {
            continue;
        }
        match allowed.get(name) {
            Some(want) if want != have => f.problems.push(format!(
                "pin not honoured: {eco} {name} pinned {want} but the build used {have}"
            )),
            Some(_) => {}
            None if before.get(name) != Some(have) => f.problems.push(format!(
                "not in the lock: {eco} {name} {have} was installed by this step"
            )),
            None => {}
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn outputs_parse() {
        let d = parse_dpkg("libc6:amd64 2.36-9 ii \ngone 1.0 rc \nhalf 2 iU\n");
        assert_eq!(d, m(&[("libc6", "2.36-9"), ("half", "2")]));
        let p = parse_freeze("PyYAML==6.0\n-e git+x#egg=y\nfoo @ file:///x\n\n");
        assert_eq!(p, m(&[("pyyaml", "6.0"), ("foo", "file:///x")]));
    }

    #[test]
    fn findings_name_wrong_missing_and_unnamed_packages() {
        let before = m(&[("base", "1"), ("old", "1")]);
        let after = m(&[
            ("base", "1"),
            ("old", "2"),
            ("a", "1"),
            ("b", "3"),
            ("d", "5"),
        ]);
        let required = m(&[("a", "1"), ("b", "2"), ("c", "1")]);
        let allowed = m(&[("d", "4")]);
        let f = compare("deb", &before, &after, &required, &allowed, true);
        assert_eq!(
            f.problems,
            [
                "pin not honoured: deb b pinned 2 but the build used 3",
                "pin not honoured: deb c pinned 1 but the build used none (not installed)",
                "pin not honoured: deb d pinned 4 but the build used 5",
                "not in the lock: deb old 2 was installed by this step",
            ]
        );
        let f = compare("deb", &before, &after, &required, &allowed, false);
        assert_eq!(f.problems.len(), 3);
        assert!(compare("py", &after, &after, &m(&[]), &m(&[]), true).is_clean());
    }
}
