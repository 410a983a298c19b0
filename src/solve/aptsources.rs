//! Which added apt repositories an image's apt sees: only those its own
//! Dockerfile or scripts add. An added repository's packages join its
//! distribution's apt view (so their Debian dependencies resolve there); every
//! other image is kept from them by one-pick nogoods, as if the line were
//! absent from its `sources.list.d`.

use super::Nogood;
use crate::manifest::Manifest;
use crate::universe::Universe;
use std::collections::{BTreeMap, BTreeSet};

/// Per image of `images`, the nogoods that hide the candidates of added
/// repositories the image does not add (candidates are told by their pool
/// URL, which lies under the repository's root).
pub fn hidden<'a>(
    u: &Universe,
    m: &Manifest,
    images: impl Iterator<Item = &'a String>,
) -> BTreeMap<String, Vec<Nogood>> {
    let mut adders: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for a in &m.apt_sources {
        adders
            .entry(a.url.as_str())
            .or_default()
            .insert(a.context.image.as_deref().unwrap_or("default"));
    }
    let mut out: BTreeMap<String, Vec<Nogood>> = BTreeMap::new();
    if adders.is_empty() {
        return out;
    }
    let mut from: BTreeMap<&str, Vec<Nogood>> = BTreeMap::new();
    for id in u.candidate_ids() {
        let c = u.candidate(id);
        let Some(url) = c.meta.url.as_deref() else {
            continue;
        };
        if let Some((root, _)) = adders
            .iter()
            .find(|(root, _)| url.strip_prefix(**root).is_some_and(|r| r.starts_with('/')))
        {
            from.entry(root).or_default().push(Nogood::new(
                vec![(u.key(c.package).clone(), c.version.clone())],
                format!("{root} is not an apt source of this image"),
            ));
        }
    }
    for image in images {
        let hide: Vec<Nogood> = from
            .iter()
            .filter(|(root, _)| !adders[*root].contains(image.as_str()))
            .flat_map(|(_, n)| n.iter().cloned())
            .collect();
        if !hide.is_empty() {
            out.insert(image.clone(), hide);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{AptSource, Context, Origin};
    use crate::universe::debian;

    #[test]
    fn only_the_image_that_adds_a_repository_sees_it() {
        let mut u = Universe::new();
        let deb = "Package: libx\nVersion: 1\nArchitecture: amd64\nFilename: pool/main/l/libx/libx_1_amd64.deb\n\n";
        let docker = "Package: containerd.io\nVersion: 1.5.11-1\nArchitecture: amd64\nFilename: pool/stable/c/containerd.io_1.5.11-1_amd64.deb\n\n";
        debian::load_packages(&mut u, deb.as_bytes(), "P", "bullseye/amd64").unwrap();
        u.absolutize_urls_since(0, "http://deb.example/debian");
        let first = u.candidate_count();
        debian::load_packages(&mut u, docker.as_bytes(), "D", "bullseye/amd64").unwrap();
        u.absolutize_urls_since(first, "https://download.example/linux/debian");
        let mut m = Manifest::new(
            "p".into(),
            "a".repeat(40),
            "2022-12-06".into(),
            vec![],
            vec![],
        );
        m.apt_sources.push(AptSource {
            url: "https://download.example/linux/debian".into(),
            suite: "bullseye".into(),
            components: vec!["stable".into()],
            arch: None,
            signed_by: None,
            keys: vec![],
            origin: Origin {
                file: "sonic-slave-bullseye/Dockerfile.j2".into(),
                line: 572,
            },
            context: Context {
                image: Some("sonic-slave-bullseye".into()),
                ..Context::default()
            },
        });
        let images = [
            "sonic-slave-bullseye".to_string(),
            "docker-base".to_string(),
        ];
        let h = hidden(&u, &m, images.iter());
        assert!(!h.contains_key("sonic-slave-bullseye"));
        let names: Vec<&str> = h["docker-base"]
            .iter()
            .map(|n| n.picks[0].0.name.as_str())
            .collect();
        assert_eq!(names, ["containerd.io"]);
    }
}
