//! The `sonic` builder: a recipe for a real sonic-buildimage checkout. It
//! installs the candidate as `files/build/versions/`, applies URL rewrites,
//! runs `make SONIC_VERSION_CONTROL_COMPONENTS=all ... TARGET` (the build runs
//! in SONiC's own slave containers), hands pip a `PIP_CONSTRAINT` file (plain
//! `-c` does not reach PEP 517 build isolation), and afterwards turns the
//! version machinery's silent fallbacks into failures: a deb or py pin that the
//! build did not honour, a `git reset --hard <pin>` that failed, and "version
//! not specified" warnings.

use super::builder::{Builder, TrialError, TrialInput, TrialResult, Verdict};
use super::command::{ENV_CANDIDATE, ENV_LOCKFILE, ENV_VERSIONS_DIR, log_note, supervise};
use super::pool::fresh_dir;
use super::triage::Triage;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Duration;

/// Where the constraint file is written, relative to the checkout (the slave mounts the checkout at `/sonic`).
pub const PIP_CONSTRAINT_PATH: &str = "target/sonic-lock/pip-constraint.txt";

/// Settings of the sonic builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SonicConfig {
    /// The sonic-buildimage checkout (modified in place during a trial; rewrites are undone after).
    pub checkout: PathBuf,
    /// The make target, e.g. `target/sonic-barefoot.bin` or a single deb/wheel/docker target.
    pub target: String,
    /// Extra make arguments (`PLATFORM=barefoot`, `NOBUSTER=1`, ...).
    pub make_args: Vec<String>,
    /// Exact-string URL rewrites applied to build files and version files.
    pub url_rewrites: Vec<(String, String)>,
    /// Wall-clock limit of one trial.
    pub timeout: Option<Duration>,
    /// Extra environment for make.
    pub env: Vec<(String, String)>,
    /// The make program.
    pub make: String,
    /// The container CLI the SONiC build uses (for cleanup after a kill).
    pub runtime: String,
}

impl SonicConfig {
    /// Building `target` in `checkout` with defaults.
    pub fn new(checkout: &Path, target: &str) -> SonicConfig {
        SonicConfig {
            checkout: checkout.to_path_buf(),
            target: target.to_string(),
            make_args: Vec::new(),
            url_rewrites: Vec::new(),
            timeout: None,
            env: Vec::new(),
            make: "make".into(),
            runtime: "docker".into(),
        }
    }
}

/// Builds a make target of a sonic-buildimage checkout; one trial at a time per checkout.
#[derive(Debug)]
pub struct SonicBuilder {
    config: SonicConfig,
    busy: Mutex<()>,
    triage: Triage,
}

/// Directories (relative to the checkout) whose build files may carry download URLs.
const REWRITE_ROOTS: [&str; 6] = [
    "rules",
    "platform",
    "dockers",
    "files/build_templates",
    "files/image_config",
    "installer",
];

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrialError + '_ {
    move |source| TrialError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Parses a SONiC version file: `key==value` lines, split on the last `==`.
pub fn parse_version_file(text: &str) -> BTreeMap<String, String> {
    text.lines()
        .filter_map(|l| {
            let l = l.trim();
            let (k, v) = l.rsplit_once("==")?;
            (!k.is_empty() && !v.is_empty()).then(|| (k.to_string(), v.to_string()))
        })
        .collect()
}

/// The ecosystem of a SONiC version file by its name (`versions-deb-bullseye-amd64` -> `deb`).
pub fn version_file_ecosystem(file_name: &str) -> Option<&'static str> {
    let rest = file_name.strip_prefix("versions-")?;
    let kind = rest.split('-').next()?;
    Some(match kind {
        "deb" => "deb",
        "py2" | "py3" => "py",
        "git" => "git",
        "web" => "web",
        "docker" => "docker",
        "mirror" => "mirror",
        _ => return None,
    })
}

/// Every regular file under `root`, as paths relative to it, sorted.
fn walk(root: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![PathBuf::new()];
    while let Some(rel) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(root.join(&rel)) else {
            continue;
        };
        for e in rd.flatten() {
            let Ok(ft) = e.file_type() else { continue };
            let r = rel.join(e.file_name());
            if ft.is_dir() {
                stack.push(r);
            } else if ft.is_file() {
                out.push(r);
            }
        }
    }
    out.sort();
    out
}

/// URL rewrites a candidate lockfile asks for: every pin fetched from `url` instead
/// of its `declared_url`, then the directories those moves imply (URLs that build
/// scripts spell with make variables), as `sonic-lock export --rewrite-urls` lists them.
pub fn lock_rewrites(lockfile: &Path) -> Vec<(String, String)> {
    let Ok(lock) = crate::lock::Lock::read(lockfile) else {
        return Vec::new();
    };
    match crate::lock::rewrite::rewrites(&lock) {
        Ok(rw) => rw.into_iter().map(|r| (r.from, r.to)).collect(),
        // Conflicting moves of one URL: only the pins' own URLs, each exactly.
        Err(_) => {
            let mut out: Vec<(String, String)> = lock
                .pins
                .iter()
                .filter_map(|p| Some((p.declared_url.clone()?, p.url.clone()?)))
                .collect();
            out.sort();
            out.dedup();
            out
        }
    }
}

fn rewrite(text: &str, rewrites: &[(String, String)]) -> String {
    let mut s = text.to_string();
    for (from, to) in rewrites {
        if !from.is_empty() {
            s = s.replace(from.as_str(), to);
        }
    }
    s
}

/// Restores files changed by URL rewrites when dropped, whatever the trial's outcome.
struct Restore(Vec<(PathBuf, Vec<u8>)>);

impl Drop for Restore {
    fn drop(&mut self) {
        for (path, bytes) in &self.0 {
            // Best effort in a destructor; a failure leaves the rewritten (still valid) file.
            let _ = crate::fsio::write_atomic(path, bytes);
        }
    }
}

impl SonicBuilder {
    /// A builder for `config`; checks that the checkout looks like sonic-buildimage.
    pub fn new(config: SonicConfig) -> Result<SonicBuilder, TrialError> {
        for needed in ["Makefile.work", "files/build"] {
            let p = config.checkout.join(needed);
            if !p.exists() {
                return Err(TrialError::Start {
                    builder: format!("sonic: {}", config.checkout.display()),
                    message: format!(
                        "{} is missing: not a sonic-buildimage checkout",
                        p.display()
                    ),
                });
            }
        }
        let triage = Triage::builtin().map_err(|e| TrialError::Start {
            builder: "sonic".into(),
            message: e.to_string(),
        })?;
        let _ = super::signal::install();
        Ok(SonicBuilder {
            config,
            busy: Mutex::new(()),
            triage,
        })
    }

    /// Copies the candidate's versions tree into `files/build/versions`, rewritten.
    fn install_versions(
        &self,
        input: &TrialInput,
        rewrites: &[(String, String)],
    ) -> Result<(), TrialError> {
        let dst = self.config.checkout.join("files/build/versions");
        fresh_dir(&dst)?;
        for rel in walk(&input.versions_dir) {
            let src = input.versions_dir.join(&rel);
            let bytes = std::fs::read(&src).map_err(io(&src))?;
            let bytes = match String::from_utf8(bytes) {
                Ok(t) => rewrite(&t, rewrites).into_bytes(),
                Err(e) => e.into_bytes(),
            };
            let out = dst.join(&rel);
            crate::fsio::write_atomic(&out, &bytes).map_err(io(&out))?;
        }
        Ok(())
    }

    /// Writes the pip constraint file from every py version file; a name pinned
    /// to two versions in different contexts is left out (pip would refuse both).
    fn write_constraints(&self, input: &TrialInput) -> Result<Vec<String>, TrialError> {
        let mut pins: BTreeMap<String, Option<String>> = BTreeMap::new();
        for rel in walk(&input.versions_dir) {
            let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
            if version_file_ecosystem(name) != Some("py") || !name.starts_with("versions-py3") {
                continue;
            }
            let p = input.versions_dir.join(&rel);
            let text = std::fs::read_to_string(&p).map_err(io(&p))?;
            for (k, v) in parse_version_file(&text) {
                let e = pins.entry(k).or_insert_with(|| Some(v.clone()));
                if e.as_deref() != Some(v.as_str()) {
                    *e = None;
                }
            }
        }
        let mut text = String::new();
        let mut dropped = Vec::new();
        for (k, v) in &pins {
            match v {
                Some(v) => text.push_str(&format!("{k}=={v}\n")),
                None => dropped.push(k.clone()),
            }
        }
        let out = self.config.checkout.join(PIP_CONSTRAINT_PATH);
        crate::fsio::write_atomic(&out, text.as_bytes()).map_err(io(&out))?;
        Ok(dropped)
    }

    /// Applies URL rewrites to build files; returns the originals for restoring.
    fn apply_rewrites(&self, rewrites: &[(String, String)]) -> Result<Restore, TrialError> {
        let mut restore = Restore(Vec::new());
        if rewrites.is_empty() {
            return Ok(restore);
        }
        let root = &self.config.checkout;
        let mut files: Vec<PathBuf> = Vec::new();
        for r in REWRITE_ROOTS {
            files.extend(
                walk(&root.join(r))
                    .into_iter()
                    .map(|p| Path::new(r).join(p)),
            );
        }
        // The per-package Makefiles directly under src/ (not the submodules' trees).
        if let Ok(rd) = std::fs::read_dir(root.join("src")) {
            for e in rd.flatten() {
                let mk = Path::new("src").join(e.file_name()).join("Makefile");
                if root.join(&mk).is_file() {
                    files.push(mk);
                }
            }
        }
        for e in std::fs::read_dir(root).map_err(io(root))?.flatten() {
            let n = e.file_name();
            let n = n.to_string_lossy();
            if n.starts_with("sonic-slave-") {
                let d = Path::new(n.as_ref()).to_path_buf();
                files.extend(walk(&root.join(&d)).into_iter().map(|p| d.join(p)));
            } else if n.ends_with(".sh") || n.ends_with(".mk") || n == "slave.mk" {
                files.push(PathBuf::from(n.as_ref()));
            }
        }
        for rel in files {
            let p = root.join(&rel);
            let Ok(meta) = std::fs::metadata(&p) else {
                continue;
            };
            if meta.len() > 4 << 20 {
                continue;
            }
            let bytes = std::fs::read(&p).map_err(io(&p))?;
            let Ok(text) = std::str::from_utf8(&bytes) else {
                continue;
            };
            let new = rewrite(text, rewrites);
            if new != text {
                restore.0.push((p.clone(), bytes.clone()));
                crate::fsio::write_atomic(&p, new.as_bytes()).map_err(io(&p))?;
                // Keep the mode (scripts must stay executable).
                let _ = std::fs::set_permissions(&p, meta.permissions());
            }
        }
        Ok(restore)
    }

    /// Notes for every silent fallback the build's recorded versions reveal.
    fn check_recorded(&self, input: &TrialInput, rewrites: &[(String, String)]) -> Vec<String> {
        let recorded_root = self.config.checkout.join("target/versions");
        let mut notes = Vec::new();
        for rel in walk(&input.versions_dir) {
            let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let Some(eco) = version_file_ecosystem(name) else {
                continue;
            };
            let Ok(pinned) = std::fs::read_to_string(input.versions_dir.join(&rel)) else {
                continue;
            };
            let Ok(used) = std::fs::read_to_string(recorded_root.join(&rel)) else {
                continue;
            };
            let pinned = parse_version_file(&rewrite(&pinned, rewrites));
            let used = parse_version_file(&used);
            for (k, v) in &pinned {
                if let Some(u) = used.get(k)
                    && u != v
                {
                    notes.push(format!(
                        "pin not honoured: {eco} {k} pinned {v} but the build used {u} ({})",
                        rel.display()
                    ));
                }
            }
        }
        for rel in walk(&recorded_root) {
            // docker_version_control.sh builds FROM the moving tag, and only says so here.
            if rel.file_name().and_then(|n| n.to_str()) == Some("versions-docker.log") {
                let text = std::fs::read_to_string(recorded_root.join(&rel)).unwrap_or_default();
                for line in text.lines() {
                    if let Some(image) = line.trim().strip_suffix(" sha256 value is unknown") {
                        notes.push(format!(
                            "docker base image not pinned: {image} (versions-docker.log: {})",
                            line.trim()
                        ));
                    }
                }
                continue;
            }
            if rel.file_name().and_then(|n| n.to_str()) != Some("versions-git.log") {
                continue;
            }
            let Ok(text) = std::fs::read_to_string(recorded_root.join(&rel)) else {
                continue;
            };
            for line in text.lines() {
                let l = line.trim();
                if !(l.starts_with("fatal:") || l.starts_with("error:")) {
                    continue;
                }
                let sha = l
                    .split(|c: char| !c.is_ascii_hexdigit())
                    .find(|w| (7..=40).contains(&w.len()))
                    .unwrap_or("unknown");
                notes.push(format!("git reset to pin failed: {sha} ({l})"));
            }
        }
        notes
    }
}

/// Removes containers that bind-mount `dir` (SONiC's slave containers for this checkout).
fn remove_containers_mounting(runtime: &str, dir: &Path) {
    let Ok(out) = Command::new(runtime)
        .args(["ps", "-a", "-q", "--filter"])
        .arg(format!("volume={}", dir.display()))
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output()
    else {
        return;
    };
    for id in String::from_utf8_lossy(&out.stdout).split_whitespace() {
        let _ = Command::new(runtime)
            .args(["rm", "-f", id])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

impl Builder for SonicBuilder {
    fn describe(&self) -> String {
        let c = &self.config;
        let mut s = format!("sonic: {} make", c.checkout.display());
        for a in &c.make_args {
            s.push(' ');
            s.push_str(a);
        }
        s.push(' ');
        s.push_str(&c.target);
        for (f, t) in &c.url_rewrites {
            s.push_str(&format!(" (rewrite {f} -> {t})"));
        }
        if let Some(t) = c.timeout {
            s.push_str(&format!(" (timeout {}s)", t.as_secs_f64()));
        }
        s
    }

    fn identity(&self) -> String {
        let c = &self.config;
        // The checkout's commit is what the build runs; without git (or outside a
        // repository) the description alone identifies it.
        let head = Command::new("git")
            .arg("-C")
            .arg(&c.checkout)
            .args(["rev-parse", "HEAD"])
            .stdin(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map_or_else(
                || "unknown".to_string(),
                |o| String::from_utf8_lossy(&o.stdout).trim().to_string(),
            );
        format!(
            "sonic head {head} target {} sha256:{}",
            c.target,
            crate::fsio::sha256_hex(self.describe().as_bytes())
        )
    }

    fn run(&self, input: &TrialInput) -> Result<TrialResult, TrialError> {
        let _busy = self.busy.lock().unwrap_or_else(|p| p.into_inner());
        if super::signal::interrupted() {
            return Err(TrialError::Interrupted);
        }
        let c = &self.config;
        let mut rewrites = c.url_rewrites.clone();
        rewrites.extend(lock_rewrites(&input.lockfile));
        self.install_versions(input, &rewrites)?;
        let dropped = self.write_constraints(input)?;
        let restore = self.apply_rewrites(&rewrites)?;
        let recorded = c.checkout.join("target/versions");
        fresh_dir(&recorded)?;
        let constraint_in_slave = format!("/sonic/{PIP_CONSTRAINT_PATH}");
        let mut cmd = Command::new(&c.make);
        cmd.current_dir(&c.checkout)
            .args(&c.make_args)
            .arg("SONIC_VERSION_CONTROL_COMPONENTS=all")
            .arg(format!(
                "SONIC_BUILDER_EXTRA_CMDLINE=-e PIP_CONSTRAINT={constraint_in_slave}"
            ))
            .arg(&c.target)
            .env("SONIC_VERSION_CONTROL_COMPONENTS", "all")
            .env("PIP_CONSTRAINT", c.checkout.join(PIP_CONSTRAINT_PATH))
            .env(ENV_VERSIONS_DIR, &input.versions_dir)
            .env(ENV_LOCKFILE, &input.lockfile)
            .env(ENV_CANDIDATE, &input.candidate_hash);
        for (k, v) in &c.env {
            cmd.env(k, v);
        }
        let checkout = c.checkout.clone();
        let runtime = c.runtime.clone();
        let run = supervise(cmd, &input.log, c.timeout, &self.describe(), None, &|| {
            remove_containers_mounting(&runtime, &checkout)
        });
        drop(restore);
        let run = run?;
        for d in &dropped {
            log_note(
                &input.log,
                &format!(
                    "{d} is pinned to different versions in different contexts; left out of PIP_CONSTRAINT"
                ),
            );
        }
        let mut result = run.into_result(input.log.clone());
        if result.timed_out {
            return Ok(result);
        }
        let notes = self.check_recorded(input, &rewrites);
        for n in &notes {
            log_note(&input.log, n);
        }
        let fallbacks = self
            .triage
            .scan_file(&input.log)
            .map(|r| r.matches.iter().filter(|m| m.fallback).count())
            .unwrap_or(0);
        if result.verdict == Verdict::Pass && (fallbacks > 0 || !notes.is_empty()) {
            log_note(
                &input.log,
                "the build passed but the version machinery fell back silently; judged a failure",
            );
            result.verdict = Verdict::Fail;
        }
        Ok(result)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn version_files_parse_on_the_last_separator() {
        let m = parse_version_file("a==1\nhttps://x/y.git==abc\nweird==x==2\n\nnoise\n");
        assert_eq!(m.get("weird==x").map(String::as_str), Some("2"));
        assert_eq!(m.get("https://x/y.git").map(String::as_str), Some("abc"));
        assert_eq!(m.len(), 3);
        assert_eq!(
            version_file_ecosystem("versions-deb-bullseye-amd64"),
            Some("deb")
        );
        assert_eq!(version_file_ecosystem("versions-py3-all-armhf"), Some("py"));
        assert_eq!(version_file_ecosystem("versions-git"), Some("git"));
        assert_eq!(version_file_ecosystem("README"), None);
    }

    #[test]
    fn rejects_a_directory_that_is_not_a_checkout() {
        let d = tempfile::tempdir().unwrap();
        let e = SonicBuilder::new(SonicConfig::new(d.path(), "target/x")).unwrap_err();
        assert!(e.to_string().contains("Makefile.work"), "{e}");
    }
}
