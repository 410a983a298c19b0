//! What `pip freeze` lists in an image beyond what pip installed: the Python
//! distributions its Debian packages put in `dist-packages` (`python3-yaml`
//! -> `pyyaml==5.3.1`). SONiC's `versions-py3` files are that freeze, so the
//! lock pins them too, in the image that installs the Debian package, as `py`
//! pins marked `dependents = ["deb:<package>"]`
//! ([`Pin::installed_by_apt`](crate::lock::Pin::installed_by_apt)): apt
//! installs them, pip never does.
//!
//! An image's freeze is what its final apt state installs, less every name
//! its pip state holds (pip's own install shadows apt's), for each Python
//! flavour the image has pip for; an image's pins are its freeze less what
//! its `FROM` parent's freeze already lists at the same version, as SONiC's
//! split leaves inherited lines out.

use super::images::ManifestSolve;
use super::python::flavour;
use crate::lock::lockfile::{APT_DEPENDENT, canonical_name};
use crate::lock::{Lock, Pin};
use crate::manifest::Ecosystem;
use crate::universe::python::apt::{AptPython, PyDist};
use std::collections::{BTreeMap, BTreeSet};

/// One image's freeze of apt-installed distributions: (flavour, canonical
/// name) -> the distribution and the Debian package that installs it.
type Freeze = BTreeMap<(String, String), (PyDist, String)>;

/// The Debian package that provides each flavour's pip.
const PIP_PACKAGES: [(&str, &str); 2] = [("py3", "python3-pip"), ("py2", "python-pip")];

/// The `py` pins `pip freeze` adds to each image of a solve for what its
/// Debian packages install, per [`AptPython`], leaving out names `lock`
/// already pins in that image (pip's own install); and notes on versions that
/// had to be derived.
pub fn apt_python_pins(
    solved: &ManifestSolve,
    apt: &AptPython,
    lock: &Lock,
) -> (Vec<Pin>, Vec<String>) {
    let mut derived = BTreeSet::new();
    let mut freezes: BTreeMap<&str, Freeze> = BTreeMap::new();
    for (image, r) in &solved.deb {
        let Some(state) = r.as_ref().ok().and_then(|s| s.last()) else {
            continue;
        };
        let picks = &state.installed.picks;
        let pip_picks: BTreeSet<(String, String)> = solved
            .py
            .get(image)
            .and_then(|r| r.as_ref().ok())
            .map(|o| {
                o.picks
                    .keys()
                    .map(|k| {
                        (
                            flavour(&k.domain).to_string(),
                            canonical_name(Ecosystem::Py, &k.name),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default();
        let has_pip = |fl: &str| {
            pip_picks.iter().any(|(f, _)| f == fl)
                || PIP_PACKAGES
                    .iter()
                    .any(|(f, pkg)| *f == fl && picks.keys().any(|k| k.name == *pkg))
        };
        let mut freeze = Freeze::new();
        for (k, v) in picks.iter().filter(|(k, _)| k.ecosystem == Ecosystem::Deb) {
            let dist = k.domain.split('/').next().unwrap_or(&k.domain);
            let Some(f) = apt.lookup(dist, &k.name, v) else {
                continue;
            };
            if let Some(why) = f.derived {
                derived.insert(why);
            }
            for d in f.dists {
                let key = (d.python.clone(), canonical_name(Ecosystem::Py, &d.name));
                if pip_picks.contains(&key) || !has_pip(&d.python) {
                    continue;
                }
                freeze.insert(key, (d, k.name.clone()));
            }
        }
        freezes.insert(image, freeze);
    }
    let pinned: BTreeSet<(Option<&str>, &str, String)> = lock
        .pins
        .iter()
        .filter(|p| p.ecosystem == Ecosystem::Py)
        .map(|p| {
            (
                p.image.as_deref(),
                p.python.as_deref().unwrap_or("py3"),
                canonical_name(Ecosystem::Py, &p.name),
            )
        })
        .collect();
    let empty = Freeze::new();
    let mut pins = Vec::new();
    for (image, freeze) in &freezes {
        let parent = solved
            .parents
            .get(*image)
            .and_then(|p| freezes.get(p.as_str()))
            .unwrap_or(&empty);
        for (key, (d, package)) in freeze {
            if parent
                .get(key)
                .is_some_and(|(pd, _)| pd.version == d.version)
                || pinned.contains(&(Some(*image), key.0.as_str(), key.1.clone()))
            {
                continue;
            }
            let mut pin = Pin::new(Ecosystem::Py, &d.name, &d.version);
            pin.image = Some(image.to_string());
            pin.python = Some(d.python.clone());
            pin.dependents = vec![format!("{APT_DEPENDENT}{package}")];
            pins.push(pin);
        }
    }
    let mut notes = Vec::new();
    if !derived.is_empty() {
        let list: Vec<String> = derived.into_iter().collect();
        notes.push(format!(
            "Python distributions installed by {} Debian package version(s) not in a Contents index: {}",
            list.len(),
            list.join("; ")
        ));
    }
    (pins, notes)
}
