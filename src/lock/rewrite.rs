//! URL rewrites for what SONiC's version files cannot pin: `dget`/`wget` URLs
//! into Debian's pool (which lose old versions) move to the snapshot archive,
//! and GitHub `raw/<branch>/` or `releases/latest` URLs move to commit- or
//! tag-pinned ones. The rewrites come from pins carrying both `declared_url`
//! (as written in the build scripts) and `url` (what to fetch instead).

use super::lockfile::{Archive, Lock};
use std::collections::BTreeMap;

/// One textual URL replacement, with the pins and origins that need it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
pub struct Rewrite {
    /// URL as written in the build scripts.
    pub from: String,
    /// Immutable URL to fetch instead.
    pub to: String,
    /// Keys of the pins that asked for it.
    pub pins: Vec<String>,
    /// Manifest origins (`file:line`) where the URL is written.
    pub origins: Vec<String>,
}

/// Errors building rewrites.
#[derive(Debug, thiserror::Error)]
pub enum RewriteError {
    /// One URL would have to become two different ones; a textual rewrite cannot depend on context.
    #[error("`{from}` is rewritten both to `{to_a}` ({pin_a}) and to `{to_b}` ({pin_b})")]
    Conflict {
        /// The declared URL.
        from: String,
        /// First replacement.
        to_a: String,
        /// Pin asking for the first.
        pin_a: String,
        /// Second replacement.
        to_b: String,
        /// Pin asking for the second.
        pin_b: String,
    },
}

/// All rewrites the lock needs, sorted by declared URL.
pub fn rewrites(lock: &Lock) -> Result<Vec<Rewrite>, RewriteError> {
    let mut by_from: BTreeMap<String, Rewrite> = BTreeMap::new();
    for pin in &lock.pins {
        let (Some(from), Some(to)) = (&pin.declared_url, &pin.url) else {
            continue;
        };
        if from == to {
            continue;
        }
        let key = pin.key().to_string();
        let entry = by_from.entry(from.clone()).or_insert_with(|| Rewrite {
            from: from.clone(),
            to: to.clone(),
            pins: Vec::new(),
            origins: Vec::new(),
        });
        if &entry.to != to {
            return Err(RewriteError::Conflict {
                from: from.clone(),
                to_a: entry.to.clone(),
                pin_a: entry.pins.first().cloned().unwrap_or_default(),
                to_b: to.clone(),
                pin_b: key,
            });
        }
        entry.pins.push(key);
        entry.origins.extend(pin.why.iter().cloned());
    }
    let exact: Vec<Rewrite> = by_from
        .into_values()
        .map(|mut r| {
            r.pins.sort();
            r.pins.dedup();
            r.origins.sort();
            r.origins.dedup();
            r
        })
        .collect();
    let mut all = exact.clone();
    all.extend(directory_rewrites(&exact));
    Ok(all)
}

/// Directory rewrites implied by the exact ones: build scripts spell URLs with make
/// variables (`.../raw/dev/$(BFN_SAI)`), so the whole URL never appears literally,
/// but its directory does. A directory is rewritten when every pinned file in it
/// keeps its name and moves to the same new directory; otherwise only the exact
/// rewrites apply.
fn directory_rewrites(exact: &[Rewrite]) -> Vec<Rewrite> {
    fn split(url: &str) -> Option<(&str, &str)> {
        let i = url.rfind('/')?;
        Some((&url[..=i], &url[i + 1..]))
    }
    let mut dirs: BTreeMap<&str, Option<Rewrite>> = BTreeMap::new();
    for r in exact {
        let (Some((from_dir, from_file)), Some((to_dir, to_file))) = (split(&r.from), split(&r.to))
        else {
            continue;
        };
        // Only `scheme://host/...` directories: a bare host would rewrite too much.
        let deep = from_dir.matches('/').count() > 3;
        if from_file != to_file || from_file.is_empty() || from_dir == to_dir || !deep {
            continue;
        }
        let slot = dirs.entry(from_dir).or_insert_with(|| {
            Some(Rewrite {
                from: from_dir.to_string(),
                to: to_dir.to_string(),
                pins: Vec::new(),
                origins: Vec::new(),
            })
        });
        match slot {
            Some(d) if d.to == to_dir => {
                d.pins.extend(r.pins.iter().cloned());
                d.origins.extend(r.origins.iter().cloned());
            }
            // Two files of one directory go to different places: no directory rule.
            _ => *slot = None,
        }
    }
    dirs.into_values()
        .flatten()
        .map(|mut d| {
            d.pins.sort();
            d.pins.dedup();
            d.origins.sort();
            d.origins.dedup();
            d
        })
        .collect()
}

/// The `--rewrite-urls` list: one `<declared-url> <replacement-url>` per line
/// (URLs hold no whitespace), preceded by `#` comments naming the origins.
pub fn render_list(rewrites: &[Rewrite]) -> String {
    let mut out = String::from("# sonic-lock URL rewrites: <declared URL> <immutable URL>\n");
    for r in rewrites {
        if !r.origins.is_empty() {
            out.push_str(&format!("# {}\n", r.origins.join(" ")));
        }
        out.push_str(&format!("{} {}\n", r.from, r.to));
    }
    out
}

fn sed_pattern(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '\\' | '.' | '[' | ']' | '*' | '^' | '$' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn sed_replacement(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if matches!(c, '\\' | '&' | '|') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// A `sed -f` script applying the rewrites literally to the build scripts
/// (`sed -i -f rewrite.sed rules/*.mk src/*/Makefile ...`).
pub fn render_sed(rewrites: &[Rewrite]) -> String {
    let mut out = String::from("# sonic-lock URL rewrites, for sed -i -f\n");
    for r in rewrites {
        out.push_str(&format!(
            "s|{}|{}|g\n",
            sed_pattern(&r.from),
            sed_replacement(&r.to)
        ));
    }
    out
}

/// Hosts and path prefixes of Debian archive mirrors, and the archive name each serves.
const DEBIAN_MIRRORS: [(&str, &str); 8] = [
    ("deb.debian.org/debian/", "debian"),
    ("ftp.debian.org/debian/", "debian"),
    ("httpredir.debian.org/debian/", "debian"),
    ("ftp.us.debian.org/debian/", "debian"),
    ("archive.debian.org/debian/", "debian-archive"),
    ("deb.debian.org/debian-security/", "debian-security"),
    ("security.debian.org/debian-security/", "debian-security"),
    ("security.debian.org/", "debian-security"),
];

/// The snapshot.debian.org URL of a Debian pool file, at the lock's snapshot of its archive:
/// `http://deb.debian.org/debian/pool/main/i/isc-dhcp/x.dsc` →
/// `https://snapshot.debian.org/archive/debian/<ts>/pool/main/i/isc-dhcp/x.dsc`.
/// `None` when the URL is not a pool URL of a known mirror or the archive has no snapshot.
pub fn snapshot_pool_url(declared: &str, archives: &[Archive]) -> Option<String> {
    let rest = declared
        .strip_prefix("http://")
        .or_else(|| declared.strip_prefix("https://"))?;
    for (prefix, archive) in DEBIAN_MIRRORS {
        let Some(path) = rest.strip_prefix(prefix) else {
            continue;
        };
        if !path.starts_with("pool/") {
            return None;
        }
        let a = archives.iter().find(|a| a.name == archive)?;
        let base = a.url.clone().unwrap_or_else(|| {
            format!(
                "https://snapshot.debian.org/archive/{archive}/{}/",
                a.snapshot
            )
        });
        let sep = if base.ends_with('/') { "" } else { "/" };
        return Some(format!("{base}{sep}{path}"));
    }
    None
}

/// A GitHub URL that follows a branch (`https://github.com/o/r/raw/<branch>/path`,
/// `https://raw.githubusercontent.com/o/r/<branch>/path`) pinned to `commit`.
/// `None` when the URL is not such a URL or already names a full commit.
pub fn github_at_commit(url: &str, commit: &str) -> Option<String> {
    if commit.len() != 40 || !commit.chars().all(|c| c.is_ascii_hexdigit()) {
        return None;
    }
    let is_sha = |s: &str| s.len() == 40 && s.chars().all(|c| c.is_ascii_hexdigit());
    if let Some(rest) = url.strip_prefix("https://github.com/") {
        let parts: Vec<&str> = rest.splitn(5, '/').collect();
        if parts.len() == 5 && (parts[2] == "raw" || parts[2] == "blob") && !is_sha(parts[3]) {
            return Some(format!(
                "https://github.com/{}/{}/raw/{commit}/{}",
                parts[0], parts[1], parts[4]
            ));
        }
        return None;
    }
    if let Some(rest) = url.strip_prefix("https://raw.githubusercontent.com/") {
        let parts: Vec<&str> = rest.splitn(4, '/').collect();
        if parts.len() == 4 && !is_sha(parts[2]) {
            return Some(format!(
                "https://raw.githubusercontent.com/{}/{}/{commit}/{}",
                parts[0], parts[1], parts[3]
            ));
        }
    }
    None
}

/// A GitHub `releases/latest/download/<file>` URL pinned to release `tag`.
pub fn github_release_at_tag(url: &str, tag: &str) -> Option<String> {
    let rest = url.strip_prefix("https://github.com/")?;
    let (repo, file) = rest.split_once("/releases/latest/download/")?;
    if tag.is_empty() || tag.contains(char::is_whitespace) || repo.matches('/').count() != 1 {
        return None;
    }
    Some(format!(
        "https://github.com/{repo}/releases/download/{tag}/{file}"
    ))
}

#[cfg(test)]
mod directory_tests {
    use super::*;
    use crate::lock::Pin;
    use crate::manifest::Ecosystem;

    fn moved(from: &str, to: &str) -> Pin {
        let mut p = Pin::new(Ecosystem::Web, to, "md5");
        p.url = Some(to.into());
        p.declared_url = Some(from.into());
        p
    }

    #[test]
    fn a_directory_moves_only_when_all_its_pinned_files_agree() {
        let mut l = Lock::new("p", &"a".repeat(40), "2022-12-06");
        let gh = "https://github.com/o/r/raw";
        l.upsert(moved(
            &format!("{gh}/dev/a.deb"),
            &format!("{gh}/1111/a.deb"),
        ));
        l.upsert(moved(
            &format!("{gh}/dev/b.deb"),
            &format!("{gh}/1111/b.deb"),
        ));
        let pool = "http://deb.debian.org/debian/pool/main/x/x";
        let snap = "https://snapshot.debian.org/archive/debian";
        l.upsert(moved(
            &format!("{pool}/x_1.dsc"),
            &format!("{snap}/2022/pool/main/x/x/x_1.dsc"),
        ));
        l.upsert(moved(
            &format!("{pool}/x_2.dsc"),
            &format!("{snap}/2023/pool/main/x/x/x_2.dsc"),
        ));
        // A renamed file says nothing about its directory.
        l.upsert(moved(
            "https://e.org/d/e/latest.tgz",
            "https://e.org/d/e/v1.tgz",
        ));
        let dirs: Vec<(String, String)> = rewrites(&l)
            .unwrap()
            .into_iter()
            .filter(|r| r.from.ends_with('/'))
            .map(|r| (r.from, r.to))
            .collect();
        assert_eq!(
            dirs,
            vec![(format!("{gh}/dev/"), format!("{gh}/1111/"))],
            "the pool directory's files went to two snapshots"
        );
    }
}
