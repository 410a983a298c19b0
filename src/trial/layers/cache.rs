//! Layers cached by content: a layer's key is its parent's key plus the exact
//! pins and commands of its step, and the layer itself is an image tagged
//! with the key, so every image and every trial that asks for the same layer
//! gets it from the container runtime's own store. Only layers whose step
//! passed every check are committed: a failed layer is never cached.

use std::collections::BTreeMap;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};

/// The repository layer images are committed to (`sonic-lock-layer:<key>`).
pub const LAYER_REPOSITORY: &str = "sonic-lock-layer";
/// Label on every layer image, with its full key.
pub const KEY_LABEL: &str = "sonic-lock.layer-key";
/// Label on an apt layer: the key of its step without the pins (parent, commands, files but the preferences).
pub const STEP_LABEL: &str = "sonic-lock.step-key";
/// Label on an apt layer: its own key again. Its children inherit its
/// labels but not this value's match with their own key.
pub const STEP_LAYER_LABEL: &str = "sonic-lock.step-layer";
/// Labels on an apt layer: the packages before and after its step (`name=version,...`).
pub const BEFORE_LABEL: &str = "sonic-lock.before";
/// See [`BEFORE_LABEL`].
pub const AFTER_LABEL: &str = "sonic-lock.after";

/// A package set as one label value: `name=version` joined by commas
/// (neither appears in a Debian name or version).
pub fn set_label(set: &BTreeMap<String, String>) -> String {
    set.iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// The package set of a [`set_label`] value.
pub fn parse_set_label(text: &str) -> BTreeMap<String, String> {
    text.split(',')
        .filter_map(|e| e.split_once('='))
        .map(|(n, v)| (n.to_string(), v.to_string()))
        .collect()
}

/// The layer images made by a step of key `step` (whatever the pins were),
/// with their labels.
pub fn layers_of_step(runtime: &str, step: &str) -> Vec<BTreeMap<String, String>> {
    let listed = Command::new(runtime)
        .args([
            "images",
            "--filter",
            &format!("label={STEP_LABEL}={step}"),
            "--format",
            "{{.ID}}",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    let Ok(listed) = listed else {
        return Vec::new();
    };
    let mut ids: Vec<String> = String::from_utf8_lossy(&listed.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .filter(|l| !l.is_empty())
        .collect();
    ids.sort();
    ids.dedup();
    ids.iter()
        .filter_map(|id| {
            let out = Command::new(runtime)
                .args([
                    "image",
                    "inspect",
                    "--format",
                    "{{json .Config.Labels}}",
                    id,
                ])
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()?;
            serde_json::from_slice::<BTreeMap<String, String>>(&out.stdout).ok()
        })
        .collect()
}

/// The key of a layer: SHA-256 over the parent's key and every part of the step, length-prefixed.
pub fn layer_key(parent: &str, parts: &[String]) -> String {
    let mut text = Vec::new();
    for p in std::iter::once(parent).chain(parts.iter().map(String::as_str)) {
        text.extend_from_slice(format!("{}:", p.len()).as_bytes());
        text.extend_from_slice(p.as_bytes());
    }
    crate::fsio::sha256_hex(&text)
}

/// The image reference a layer with `key` is stored as.
pub fn layer_image(runtime: &str, key: &str) -> String {
    // Podman qualifies local names with `localhost/`; saying so avoids registry searches.
    let prefix = if super::super::docker::is_podman(runtime) {
        "localhost/"
    } else {
        ""
    };
    format!("{prefix}{LAYER_REPOSITORY}:{}", &key[..32.min(key.len())])
}

/// True when the runtime holds `image`.
pub fn has_image(runtime: &str, image: &str) -> bool {
    Command::new(runtime)
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// The content id of an image (`sha256:...`), for keys that start from a given base image.
pub fn image_id(runtime: &str, image: &str) -> Option<String> {
    let out = Command::new(runtime)
        .args(["image", "inspect", "--format", "{{.Id}}", image])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
        .filter(|s| !s.is_empty())
}

/// One lock per layer key, so two images (or trials) of one run that need
/// the same layer build it once and the second finds it cached.
#[derive(Debug, Default)]
pub struct KeyLocks(Mutex<BTreeMap<String, Arc<Mutex<()>>>>);

impl KeyLocks {
    /// The lock of `key`.
    pub fn of(&self, key: &str) -> Arc<Mutex<()>> {
        let mut m = self.0.lock().unwrap_or_else(|p| p.into_inner());
        m.entry(key.to_string()).or_default().clone()
    }
}

/// Cache use of one trial.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Tally {
    /// Layers found cached.
    pub hits: usize,
    /// Layers built (and committed).
    pub built: usize,
    /// Steps that failed (never cached).
    pub failed: usize,
}

impl std::fmt::Display for Tally {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "layers: {} cache hits, {} built, {} failed",
            self.hits, self.built, self.failed
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_change_with_parent_and_every_part() {
        let k = layer_key("p", &["a".into(), "b".into()]);
        assert_eq!(k, layer_key("p", &["a".into(), "b".into()]));
        assert_ne!(k, layer_key("q", &["a".into(), "b".into()]));
        assert_ne!(k, layer_key("p", &["ab".into()]));
        assert_ne!(k, layer_key("p", &["a".into(), "c".into()]));
        assert_eq!(
            layer_image("docker", &k),
            format!("sonic-lock-layer:{}", &k[..32])
        );
        assert!(layer_image("podman", &k).starts_with("localhost/"));
    }
}
