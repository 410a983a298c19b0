//! The lock stage of the loop: an assignment of versions to pin keys becomes a
//! candidate lockfile (a template lock with the assigned versions) and its
//! SONiC versions tree; failure triage maps back to pin keys.

use super::builder::{TrialError, TrialInput};
use super::learn::{Assignment, Stage};
use super::triage::{Implicated, normalize_py};
use crate::lock::{Lock, Pin, PinKey};
use crate::manifest::Ecosystem;
use std::collections::BTreeMap;

/// Materialises assignments over [`PinKey`]s on top of a template lock.
#[derive(Debug, Clone)]
pub struct LockStage {
    template: Lock,
    /// Which package owns a file (header, library), e.g. from a Debian `Contents` index.
    owners: BTreeMap<String, Vec<String>>,
}

impl LockStage {
    /// A stage whose candidates are `template` with versions replaced (and pins added) per assignment.
    pub fn new(template: Lock) -> LockStage {
        LockStage {
            template,
            owners: BTreeMap::new(),
        }
    }

    /// Adds file-to-package ownership (`usr/include/sai.h` -> `libsai-dev`) for attributing
    /// missing headers and libraries; keys are matched on their path suffix.
    pub fn with_owners(mut self, owners: BTreeMap<String, Vec<String>>) -> LockStage {
        self.owners = owners;
        self
    }

    /// The assignment a lock already makes (every pin's key and version).
    pub fn assignment_of(lock: &Lock) -> Assignment<PinKey> {
        lock.pins
            .iter()
            .map(|p| (p.key(), p.version.clone()))
            .collect()
    }

    /// The candidate lock for `a`: the template's pins with `a`'s versions; pins
    /// the assignment does not mention are dropped, new keys are added bare.
    pub fn lock_for(&self, a: &Assignment<PinKey>) -> Lock {
        let mut lock = self.template.clone();
        let by_key: BTreeMap<PinKey, &Pin> =
            self.template.pins.iter().map(|p| (p.key(), p)).collect();
        lock.pins = a
            .iter()
            .map(|(k, v)| {
                let mut p = match by_key.get(k) {
                    Some(p) => (*p).clone(),
                    None => {
                        let mut p = Pin::new(k.ecosystem, &k.name, v);
                        p.image = k.image.clone();
                        p.suite = k.suite.clone();
                        p.arch = k.arch.clone();
                        p.python = k.python.clone();
                        p
                    }
                };
                if &p.version != v {
                    // Provenance of the template's version does not describe another version.
                    p.version = v.clone();
                    p.url = None;
                    p.declared_url = None;
                    p.sha256 = None;
                    p.md5 = if k.ecosystem == Ecosystem::Web {
                        Some(v.clone())
                    } else {
                        None
                    };
                    p.first_seen = None;
                }
                p
            })
            .collect();
        lock.trials.clear();
        lock.normalize();
        lock
    }
}

fn name_matches(eco: Ecosystem, key_name: &str, name: &str) -> bool {
    match eco {
        Ecosystem::Py => normalize_py(key_name) == normalize_py(name),
        Ecosystem::Deb | Ecosystem::DebSrc => {
            // apt prints `name:arch` in places.
            key_name == name || name.split(':').next() == Some(key_name)
        }
        Ecosystem::Go | Ecosystem::Git | Ecosystem::Web | Ecosystem::Docker => key_name == name,
    }
}

impl Stage<PinKey> for LockStage {
    fn candidate_hash(&self, a: &Assignment<PinKey>) -> String {
        self.lock_for(a).candidate_hash()
    }

    fn materialize(&self, a: &Assignment<PinKey>, input: &TrialInput) -> Result<(), TrialError> {
        let lock = self.lock_for(a);
        lock.write(&input.lockfile).map_err(|e| TrialError::Io {
            path: input.lockfile.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        crate::lock::split::export(&lock, &Default::default(), &input.versions_dir).map_err(
            |e| TrialError::Io {
                path: input.versions_dir.clone(),
                source: std::io::Error::other(e.to_string()),
            },
        )?;
        Ok(())
    }

    fn implicated_keys(&self, a: &Assignment<PinKey>, imp: &Implicated) -> Vec<PinKey> {
        let eco: Option<Ecosystem> = imp.ecosystem.parse().ok();
        let mut out = Vec::new();
        for (k, v) in a {
            if eco.is_some_and(|e| e != k.ecosystem) && imp.ecosystem != "any" {
                continue;
            }
            let hit = match (&imp.name, &imp.version, &imp.file) {
                (Some(n), _, _) => name_matches(k.ecosystem, &k.name, n),
                // A git revision without its repository, or an image digest without
                // the tag it was pinned for: the pin at that revision or digest.
                (None, Some(rev), _) => {
                    (k.ecosystem == Ecosystem::Git && v.starts_with(rev.as_str()))
                        || (k.ecosystem == Ecosystem::Docker && v == rev)
                }
                (None, None, Some(f)) => {
                    let base = f.rsplit('/').next().unwrap_or(f);
                    // A web pin whose URL ends in the file, or the owner of a header/library.
                    (k.ecosystem == Ecosystem::Web && k.name.ends_with(&format!("/{base}")))
                        || self
                            .owners
                            .iter()
                            .filter(|(path, _)| path.ends_with(f.trim_start_matches('/')))
                            .any(|(_, pkgs)| pkgs.iter().any(|p| p == &k.name))
                }
                (None, None, None) => false,
            };
            if hit {
                out.push(k.clone());
            }
        }
        out
    }
}

/// Parses a Debian `Contents-<arch>` index (`path   section/pkg,section/pkg2`) into file owners.
pub fn parse_contents(text: &str) -> BTreeMap<String, Vec<String>> {
    let mut out: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for line in text.lines() {
        let Some((path, pkgs)) = line.trim_end().rsplit_once(char::is_whitespace) else {
            continue;
        };
        let path = path.trim_end();
        if path.is_empty() || path == "FILE" {
            continue;
        }
        let owners = pkgs
            .split(',')
            .map(|q| q.rsplit('/').next().unwrap_or(q).to_string())
            .collect();
        out.insert(path.to_string(), owners);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template() -> Lock {
        let mut l = Lock::new("wedge100bf-32x", &"a".repeat(40), "2022-12-06");
        let mut p = Pin::new(Ecosystem::Deb, "libfoo", "1.0-1");
        p.suite = Some("bullseye".into());
        l.upsert(p);
        let mut p = Pin::new(Ecosystem::Py, "PyYAML", "5.4.1");
        p.python = Some("py3".into());
        l.upsert(p);
        l.upsert(Pin::new(
            Ecosystem::Git,
            "https://github.com/jpirko/libteam.git",
            "c7237377a5c4c7aad8bb1ebf2bea0de0d45c7e54",
        ));
        let mut p = Pin::new(
            Ecosystem::Docker,
            "debian:bullseye",
            &format!("sha256:{}", "d".repeat(64)),
        );
        p.arch = Some("amd64".into());
        l.upsert(p);
        l.normalize();
        l
    }

    #[test]
    fn assignments_become_locks_and_exports() {
        let s = LockStage::new(template());
        let mut a = LockStage::assignment_of(&template());
        assert_eq!(s.candidate_hash(&a), template().candidate_hash());
        let k = a.keys().find(|k| k.name == "libfoo").unwrap().clone();
        a.insert(k, "1.0-2".into());
        let lock = s.lock_for(&a);
        assert_ne!(lock.candidate_hash(), template().candidate_hash());
        let d = tempfile::tempdir().unwrap();
        let input = crate::trial::pool::Workspace::new(d.path())
            .input("c", "b")
            .unwrap();
        s.materialize(&a, &input).unwrap();
        assert_eq!(Lock::read(&input.lockfile).unwrap(), lock);
        let files: Vec<_> = walk(&input.versions_dir);
        assert!(!files.is_empty());
        let all: String = files
            .iter()
            .map(|f| std::fs::read_to_string(f).unwrap())
            .collect();
        assert!(all.contains("libfoo==1.0-2"), "{all}");
    }

    fn walk(d: &std::path::Path) -> Vec<std::path::PathBuf> {
        let mut out = Vec::new();
        for e in std::fs::read_dir(d).unwrap().flatten() {
            if e.file_type().unwrap().is_dir() {
                out.extend(walk(&e.path()));
            } else {
                out.push(e.path());
            }
        }
        out
    }

    #[test]
    fn triage_names_map_to_pin_keys() {
        let s = LockStage::new(template())
            .with_owners(parse_contents("usr/include/foo/foo.h    libdevel/libfoo\n"));
        let a = LockStage::assignment_of(&template());
        let imp =
            |eco: &str, name: Option<&str>, version: Option<&str>, file: Option<&str>| Implicated {
                ecosystem: eco.into(),
                name: name.map(Into::into),
                version: version.map(Into::into),
                file: file.map(Into::into),
            };
        let names = |i: Implicated| -> Vec<String> {
            s.implicated_keys(&a, &i)
                .into_iter()
                .map(|k| k.name)
                .collect()
        };
        assert_eq!(names(imp("py", Some("pyyaml"), None, None)), ["PyYAML"]);
        assert_eq!(
            names(imp("deb", Some("libfoo:amd64"), None, None)),
            ["libfoo"]
        );
        assert!(names(imp("py", Some("libfoo"), None, None)).is_empty());
        assert_eq!(
            names(imp("git", None, Some("c7237377a5c4"), None)),
            ["https://github.com/jpirko/libteam.git"]
        );
        assert_eq!(names(imp("deb", None, None, Some("foo/foo.h"))), ["libfoo"]);
        assert_eq!(names(imp("any", Some("libfoo"), None, None)), ["libfoo"]);
        let digest = format!("sha256:{}", "d".repeat(64));
        assert_eq!(
            names(imp("docker", None, Some(&digest), None)),
            ["debian:bullseye"]
        );
        assert!(names(imp("docker", None, Some("sha256:00"), None)).is_empty());
    }
}
