//! The `layers` builder: proves the part of a lock that fails most often —
//! installing each image's pinned packages — for real and cheaply. Each image
//! of the candidate lock is built the way its Dockerfile would be, as
//! container layers: a base root filesystem of its suite (`mmdebstrap` from
//! the lock's archive, or a given image), then its apt transactions
//! (`apt-get install --no-install-recommends name=version ...` under apt
//! preferences that forbid anything the lock does not pin, checked with
//! `dpkg-query`), then its Python set with the image's own interpreter
//! (`pip install` under `PIP_CONSTRAINT`, `pip check`, `pip freeze --all`
//! compared with the lock). Layers are cached by content and shared by every
//! image and trial; independent images build in parallel.

pub mod cache;
pub mod check;
pub mod plan;
pub mod run;

use super::builder::{Builder, TrialError, TrialInput, TrialResult, Verdict};
use super::triage::Triage;
use crate::lock::Lock;
use crate::manifest::Manifest;
use cache::{KeyLocks, Tally, has_image, layer_image, layer_key};
use plan::{ImagePlan, PlanOptions, Step, StepKind};
use run::{Ended, Runner, STEP_CA_BUNDLE, STEP_DIR};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Settings of the layers builder.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayersConfig {
    /// `docker` or `podman`.
    pub runtime: String,
    /// Apt sources as `URL [SUITE...]`, suites with `{suite}` for the image's
    /// suite (default `{suite}`); the first also makes the base.
    pub apt_mirrors: Vec<String>,
    /// Keyring (armored or binary) that signs the mirrors' `InRelease`; the system's when unset.
    pub apt_keyring: Option<PathBuf>,
    /// Python index (`PIP_INDEX_URL`); pip's default when unset.
    pub pypi_index: Option<String>,
    /// An existing image to start every chain from instead of `mmdebstrap`.
    pub base: Option<String>,
    /// `mmdebstrap --variant` of the base (`minbase`, `essential`, ...).
    pub base_variant: String,
    /// `image -> parent` for `FROM` chains.
    pub parents: BTreeMap<String, String>,
    /// The crawl manifest: apt transactions in Dockerfile order, suites.
    pub manifest: Option<PathBuf>,
    /// Only this image (with its ancestors' layers).
    pub only: Option<String>,
    /// Images built at once.
    pub jobs: usize,
    /// Wall-clock limit of one trial.
    pub timeout: Option<Duration>,
    /// Host CA bundle for apt and pip in the step containers (and mmdebstrap).
    pub ca_bundle: Option<PathBuf>,
    /// The step containers' network (`host` for loopback mirrors); the runtime's default when unset.
    pub network_mode: Option<String>,
    /// Architecture of the images (pins for others are left out).
    pub arch: String,
}

impl LayersConfig {
    /// Defaults: docker, minbase, one job, amd64.
    pub fn new(apt_mirrors: Vec<String>) -> LayersConfig {
        LayersConfig {
            runtime: "docker".into(),
            apt_mirrors,
            apt_keyring: None,
            pypi_index: None,
            base: None,
            base_variant: "minbase".into(),
            parents: BTreeMap::new(),
            manifest: None,
            only: None,
            jobs: 1,
            timeout: None,
            ca_bundle: None,
            network_mode: None,
            arch: "amd64".into(),
        }
    }
}

/// Builds each image of a candidate as cached container layers.
#[derive(Debug)]
pub struct LayersBuilder {
    config: LayersConfig,
    manifest: Option<Manifest>,
    keyring: Option<Vec<u8>>,
    runner: Runner,
    locks: KeyLocks,
    triage: Triage,
}

fn start(message: String) -> TrialError {
    TrialError::Start {
        builder: "layers".into(),
        message,
    }
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TrialError + '_ {
    move |source| TrialError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Single-quotes a word for `sh`.
fn sh_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', "'\\''"))
}

/// The trial log, shared by the images building in parallel; each step's output goes in whole.
struct TrialLog(Mutex<std::fs::File>);

impl TrialLog {
    fn note(&self, text: &str) {
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        // Best effort: the verdict does not depend on the log's notes.
        let _ = writeln!(f, "sonic-lock: {text}");
    }

    fn append(&self, header: &str, path: &Path) {
        let body = std::fs::read(path).unwrap_or_default();
        let mut f = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let _ = writeln!(f, "=== {header} ===");
        let _ = f.write_all(&body);
        if !body.ends_with(b"\n") {
            let _ = writeln!(f);
        }
    }
}

/// How one image ended.
#[derive(Debug, Clone, PartialEq, Eq)]
enum ImageEnd {
    /// Every step passed: the key and image of its last layer.
    Passed(String, String),
    /// A step failed (or its parent did).
    Failed,
    /// The trial's time ran out.
    TimedOut,
}

/// What a trial shares between its images.
struct Trial<'a> {
    input: &'a TrialInput,
    log: TrialLog,
    tally: Mutex<Tally>,
    deadline: Option<Instant>,
}

impl Trial<'_> {
    fn left(&self) -> Option<Duration> {
        self.deadline.map(|d| {
            d.saturating_duration_since(Instant::now())
                .max(Duration::from_millis(1))
        })
    }

    fn count(&self, f: impl FnOnce(&mut Tally)) {
        f(&mut self.tally.lock().unwrap_or_else(|p| p.into_inner()));
    }
}

impl LayersBuilder {
    /// A builder for `config`: reads the manifest and keyring, checks the
    /// runtime, and removes step containers a killed run left behind.
    pub fn new(config: LayersConfig) -> Result<LayersBuilder, TrialError> {
        if config.apt_mirrors.is_empty() {
            return Err(start("no apt mirror: give --apt-mirror URL".into()));
        }
        let manifest = match &config.manifest {
            Some(p) => Some(Manifest::read(p).map_err(|e| start(e.to_string()))?),
            None => None,
        };
        let keyring = match &config.apt_keyring {
            Some(p) => Some(std::fs::read(p).map_err(io(p))?),
            None => None,
        };
        if let Some(ca) = &config.ca_bundle
            && !ca.is_file()
        {
            return Err(start(format!(
                "CA bundle {} is not a readable file",
                ca.display()
            )));
        }
        super::docker::probe(&config.runtime).map_err(|e| start(e.to_string()))?;
        let triage = Triage::builtin().map_err(|e| start(e.to_string()))?;
        let _ = super::signal::install();
        super::docker::reap_orphans(&config.runtime);
        let runner = Runner {
            runtime: config.runtime.clone(),
            network_mode: config.network_mode.clone(),
            ca_bundle: config.ca_bundle.clone(),
        };
        Ok(LayersBuilder {
            config,
            manifest,
            keyring,
            runner,
            locks: KeyLocks::default(),
            triage,
        })
    }

    /// `deb` lines for `suite`, signed by the configured keyring when there is one.
    fn sources(&self, suite: &str, signed_by: Option<&str>) -> Vec<String> {
        let mut out = Vec::new();
        for m in &self.config.apt_mirrors {
            let mut words = m.split_whitespace();
            let Some(url) = words.next() else { continue };
            let suites: Vec<String> = words.map(|s| s.replace("{suite}", suite)).collect();
            let suites = if suites.is_empty() {
                vec![suite.to_string()]
            } else {
                suites
            };
            for s in suites {
                let opt = signed_by
                    .map(|k| format!("[signed-by={k}] "))
                    .unwrap_or_default();
                out.push(format!("deb {opt}{url} {s} main"));
            }
        }
        out
    }

    /// The base layer of `suite`: the given image, or `mmdebstrap` of the suite.
    fn base(&self, trial: &Trial<'_>, suite: &str) -> Result<Option<(String, String)>, TrialError> {
        let rt = &self.config.runtime;
        if let Some(img) = &self.config.base {
            let id = cache::image_id(rt, img)
                .ok_or_else(|| start(format!("base image {img} is not in {rt}")))?;
            return Ok(Some((layer_key("base-image", &[id]), img.clone())));
        }
        let sources = self.sources(suite, None);
        let mut parts = vec![
            "mmdebstrap".to_string(),
            self.config.base_variant.clone(),
            suite.to_string(),
        ];
        parts.extend(sources.iter().cloned());
        if let Some(k) = &self.keyring {
            parts.push(crate::fsio::sha256_hex(k));
        }
        let key = layer_key("base", &parts);
        let image = layer_image(rt, &key);
        let lock = self.locks.of(&key);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        if has_image(rt, &image) {
            trial
                .log
                .note(&format!("base {suite}: cache hit ({})", &key[..12]));
            trial.count(|t| t.hits += 1);
            return Ok(Some((key, image)));
        }
        let work = trial.input.work_dir.join(format!("base-{suite}"));
        let log = work.join("mmdebstrap.log");
        std::fs::create_dir_all(&work).map_err(io(&work))?;
        let ok = run::mmdebstrap_base(
            rt,
            &self.config.base_variant,
            suite,
            &sources,
            self.config.apt_keyring.as_deref(),
            self.config.ca_bundle.as_deref(),
            &image,
            &work,
            &log,
            trial.left(),
        )?;
        trial.log.append(&format!("base {suite}: mmdebstrap"), &log);
        if ok {
            trial.count(|t| t.built += 1);
            trial
                .log
                .note(&format!("base {suite}: built ({})", &key[..12]));
            Ok(Some((key, image)))
        } else {
            trial.count(|t| t.failed += 1);
            trial.log.note(&format!("base {suite}: mmdebstrap failed"));
            Ok(None)
        }
    }

    /// The files and script of one step (name -> text); the script is `script.sh`.
    fn step_files(
        &self,
        img: &ImagePlan,
        step: &Step,
    ) -> Result<BTreeMap<String, String>, TrialError> {
        let mut files = BTreeMap::new();
        let mut script = String::from("set -e\nS=");
        script.push_str(STEP_DIR);
        script.push('\n');
        let mut apt_opts = String::new();
        if self.config.ca_bundle.is_some() {
            for v in [
                "SSL_CERT_FILE",
                "REQUESTS_CA_BUNDLE",
                "PIP_CERT",
                "CURL_CA_BUNDLE",
            ] {
                script.push_str(&format!("export {v}={STEP_CA_BUNDLE}\n"));
            }
            apt_opts = format!(" -o Acquire::https::CAInfo={STEP_CA_BUNDLE}");
        }
        let install: Vec<String> = step
            .install
            .iter()
            .map(|(n, v)| {
                sh_quote(&format!(
                    "{n}={}{v}",
                    if step.kind == StepKind::Pip { "=" } else { "" }
                ))
            })
            .collect();
        match step.kind {
            StepKind::Apt => {
                let signed = self
                    .keyring
                    .as_ref()
                    .map(|_| "/etc/apt/keyrings/sonic-lock.asc");
                let mut sources = self.sources(&img.suite, signed).join("\n");
                sources.push('\n');
                files.insert("sources.list".into(), sources);
                let mut pins = img.deb_allowed.clone();
                pins.extend(img.deb_required.clone());
                let mut prefs = crate::lock::apt_prefs::render_stanzas(
                    &pins,
                    crate::lock::apt_prefs::PIN_PRIORITY,
                )
                .map_err(|e| start(format!("image {}: {e}", img.name)))?;
                // Anything the lock does not pin may not be installed.
                prefs.push_str("\nPackage: *\nPin: release *\nPin-Priority: -1\n");
                files.insert("preferences".into(), prefs);
                if let Some(k) = &self.keyring {
                    files.insert(
                        "keyring.asc".into(),
                        String::from_utf8_lossy(k).into_owned(),
                    );
                    script.push_str("mkdir -p /etc/apt/keyrings\ncp $S/keyring.asc /etc/apt/keyrings/sonic-lock.asc\n");
                }
                script.push_str(
                    "dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' > $S/out/before.txt\n\
                     rm -f /etc/apt/sources.list.d/*\n\
                     cp $S/sources.list /etc/apt/sources.list\n\
                     cp $S/preferences /etc/apt/preferences.d/sonic-lock\n\
                     export DEBIAN_FRONTEND=noninteractive\n",
                );
                script.push_str(&format!("apt-get{apt_opts} update\n"));
                let mut install = install;
                for (n, v) in &step.stand_ins {
                    script.push_str(&stand_in_deb(n, v, &apt_opts));
                    install.push(sh_quote(&format!("{STEP_DIR}/stand-in/{n}.deb")));
                }
                // The lock's version is the one wanted, also below what the
                // base holds (a base made from today's mirror, or the tree's
                // FIPS rebuild of an older openssl), as `dpkg -i` takes it.
                script.push_str(&format!(
                    "apt-get{apt_opts} install -y --allow-downgrades --no-install-recommends {}\n",
                    install.join(" ")
                ));
                script.push_str(
                    "apt-get clean\nrm -rf /var/lib/apt/lists/*\n\
                     dpkg-query -W -f '${Package} ${Version} ${db:Status-Abbrev}\\n' > $S/out/after.txt\n",
                );
            }
            StepKind::Pip => {
                let mut constraints = String::new();
                for (n, v) in &img.py_required {
                    constraints.push_str(&format!("{n}=={v}\n"));
                }
                files.insert("constraints.txt".into(), constraints);
                script.push_str(
                    "export PIP_CONSTRAINT=$S/constraints.txt PIP_BREAK_SYSTEM_PACKAGES=1 \
                     PIP_DISABLE_PIP_VERSION_CHECK=1 PIP_NO_CACHE_DIR=1 PIP_NO_INPUT=1\n",
                );
                if let Some(url) = &self.config.pypi_index {
                    script.push_str(&format!("export PIP_INDEX_URL={}\n", sh_quote(url)));
                    if let Some(host) = url
                        .strip_prefix("http://")
                        .and_then(|r| r.split(['/', ':']).next())
                    {
                        script.push_str(&format!("export PIP_TRUSTED_HOST={}\n", sh_quote(host)));
                    }
                }
                script.push_str(&format!(
                    "python3 -m pip freeze --all > $S/out/before.txt\n\
                     python3 -m pip install {}\n\
                     python3 -m pip check\n\
                     python3 -m pip freeze --all > $S/out/after.txt\n",
                    install.join(" ")
                ));
            }
        }
        files.insert("script.sh".into(), script);
        Ok(files)
    }

    /// Compares the step's recorded package sets with the lock.
    fn check(&self, img: &ImagePlan, step: &Step, out: &Path) -> Vec<String> {
        let read = |n: &str| std::fs::read_to_string(out.join(n)).unwrap_or_default();
        match step.kind {
            StepKind::Apt => {
                let (before, after) = (
                    check::parse_dpkg(&read("before.txt")),
                    check::parse_dpkg(&read("after.txt")),
                );
                if after.is_empty() {
                    return vec!["dpkg-query recorded nothing after the step".into()];
                }
                apt_findings(img, step, &before, &after).problems
            }
            StepKind::Pip => {
                let (before, after) = (
                    check::parse_freeze(&read("before.txt")),
                    check::parse_freeze(&read("after.txt")),
                );
                if after.is_empty() {
                    return vec!["pip freeze recorded nothing after the step".into()];
                }
                check::compare(
                    "py",
                    &before,
                    &after,
                    &img.py_required,
                    &BTreeMap::new(),
                    true,
                )
                .problems
            }
        }
    }

    /// Builds one step on `parent` (key, image): the new layer, or `None` when it failed.
    fn step(
        &self,
        trial: &Trial<'_>,
        img: &ImagePlan,
        n: usize,
        step: &Step,
        parent: &(String, String),
    ) -> Result<Result<(String, String), bool>, TrialError> {
        let files = self.step_files(img, step)?;
        let mut parts: Vec<String> = vec![
            format!("{:?}", step.kind),
            format!("last_apt={}", step.last_apt),
        ];
        parts.extend(files.iter().map(|(k, v)| format!("{k}\n{v}")));
        // What the step's check compares with: an apt layer does not depend on
        // the Python pins, so changing one rebuilds only the pip layers.
        let checked = match step.kind {
            StepKind::Apt => [
                ("required", &img.deb_required),
                ("allowed", &img.deb_allowed),
            ],
            StepKind::Pip => [("py", &img.py_required), ("py", &img.py_required)],
        };
        for (what, m) in checked {
            parts.push(format!("{what}:{m:?}"));
        }
        let key = layer_key(&parent.0, &parts);
        let image = layer_image(&self.config.runtime, &key);
        let name = format!("{}: step {}", img.name, step.label);
        let lock = self.locks.of(&key);
        let _held = lock.lock().unwrap_or_else(|p| p.into_inner());
        if has_image(&self.config.runtime, &image) {
            trial
                .log
                .note(&format!("{name}: cache hit ({})", &key[..12]));
            trial.count(|t| t.hits += 1);
            return Ok(Ok((key, image)));
        }
        // An apt layer of the same commands on the same parent, made under
        // other pins, still proves this step when every package it holds is
        // what these pins say: the preferences name every pin of the image,
        // so without this a pin change would rebuild the image's earlier
        // layers too.
        let step_key = (step.kind == StepKind::Apt).then(|| {
            let unpinned: Vec<String> = files
                .iter()
                .filter(|(k, _)| k.as_str() != "preferences")
                .map(|(k, v)| format!("{k}\n{v}"))
                .chain([format!("last_apt={}", step.last_apt)])
                .collect();
            layer_key(&parent.0, &unpinned)
        });
        if let Some(sk) = &step_key
            && let Some(found) = self.reusable(img, step, sk)
        {
            trial.log.note(&format!(
                "{name}: cache hit ({}), made under other pins that agree on every package it holds",
                &found.0[..12]
            ));
            trial.count(|t| t.hits += 1);
            return Ok(Ok(found));
        }
        let dir = trial.input.work_dir.join(&img.name).join(format!("{n}"));
        super::pool::fresh_dir(&dir.join("out"))?;
        for (f, text) in &files {
            let p = dir.join(f);
            crate::fsio::write_atomic(&p, text.as_bytes()).map_err(io(&p))?;
        }
        let log = dir.join("step.log");
        let started = Instant::now();
        let (ended, container) = self.runner.run_step(
            &parent.1,
            &key,
            &trial.input.candidate_hash,
            &dir,
            &log,
            trial.left(),
        )?;
        trial.log.append(&name, &log);
        let secs = started.elapsed().as_secs_f64();
        match ended {
            Ended::TimedOut => {
                trial
                    .log
                    .note(&format!("{name}: timed out after {secs:.1}s"));
                trial.count(|t| t.failed += 1);
                return Ok(Err(true));
            }
            Ended::Exited(code) if code != 0 => {
                trial
                    .log
                    .note(&format!("{name}: failed (exit {code}) after {secs:.1}s"));
                self.note_triage(trial, &name, &log);
                trial.count(|t| t.failed += 1);
                return Ok(Err(false));
            }
            Ended::Exited(_) => {}
        }
        let problems = self.check(img, step, &dir.join("out"));
        if !problems.is_empty() {
            self.runner.discard(&container);
            for p in &problems {
                trial.log.note(p);
            }
            trial.log.note(&format!(
                "{name}: failed: {} package(s) differ from the lock",
                problems.len()
            ));
            trial.count(|t| t.failed += 1);
            return Ok(Err(false));
        }
        // A committed image keeps its parent's labels: a layer that is not
        // an apt step's clears them, or it would pass for its parent's step.
        let mut labels = vec![
            (cache::STEP_LABEL, String::new()),
            (cache::BEFORE_LABEL, String::new()),
            (cache::AFTER_LABEL, String::new()),
            (cache::STEP_LAYER_LABEL, String::new()),
        ];
        if let Some(sk) = step_key {
            labels.clear();
            let read = |n: &str| {
                check::parse_dpkg(
                    &std::fs::read_to_string(dir.join("out").join(n)).unwrap_or_default(),
                )
            };
            labels.push((cache::STEP_LABEL, sk));
            labels.push((cache::BEFORE_LABEL, cache::set_label(&read("before.txt"))));
            labels.push((cache::AFTER_LABEL, cache::set_label(&read("after.txt"))));
            labels.push((cache::STEP_LAYER_LABEL, key.clone()));
        }
        self.runner.commit(&container, &image, &key, &labels)?;
        trial.log.note(&format!(
            "{name}: passed in {secs:.1}s, cached as {}",
            &key[..12]
        ));
        trial.count(|t| t.built += 1);
        Ok(Ok((key, image)))
    }

    /// A layer made by an apt step of key `step_key` under other pins whose
    /// packages pass this step's check under `img`'s pins: (its key, its image).
    fn reusable(&self, img: &ImagePlan, step: &Step, step_key: &str) -> Option<(String, String)> {
        let rt = &self.config.runtime;
        cache::layers_of_step(rt, step_key)
            .into_iter()
            .find_map(|labels| {
                let key = labels.get(cache::KEY_LABEL)?;
                // Made by that step itself, not a later layer inheriting its labels.
                if labels.get(cache::STEP_LAYER_LABEL) != Some(key) {
                    return None;
                }
                let before = cache::parse_set_label(labels.get(cache::BEFORE_LABEL)?);
                let after = cache::parse_set_label(labels.get(cache::AFTER_LABEL)?);
                let clean =
                    !after.is_empty() && apt_findings(img, step, &before, &after).is_clean();
                let image = layer_image(rt, key);
                (clean && has_image(rt, &image)).then(|| (key.clone(), image))
            })
    }

    /// Names, in the trial log, the pins a failed step's output implicates.
    fn note_triage(&self, trial: &Trial<'_>, name: &str, log: &Path) {
        let Ok(report) = self.triage.scan_file(log) else {
            return;
        };
        let sigs: Vec<&str> = report
            .matches
            .iter()
            .map(|m| m.signature.as_str())
            .collect();
        let pins: Vec<String> = report
            .implicated()
            .iter()
            .filter_map(|i| {
                let n = i.name.as_deref().or(i.file.as_deref())?;
                Some(format!(
                    "{} {n}{}",
                    i.ecosystem,
                    i.version
                        .as_deref()
                        .map(|v| format!(" {v}"))
                        .unwrap_or_default()
                ))
            })
            .collect();
        if !sigs.is_empty() {
            trial.log.note(&format!(
                "{name}: triage: {} -> {}",
                sigs.join(", "),
                if pins.is_empty() {
                    "no pin named".into()
                } else {
                    pins.join(", ")
                }
            ));
        }
    }

    /// Builds one image on `parent`'s last layer (its base when `None`).
    fn image(
        &self,
        trial: &Trial<'_>,
        img: &ImagePlan,
        parent: Option<&(String, String)>,
    ) -> Result<ImageEnd, TrialError> {
        for n in &img.notes {
            trial.log.note(&format!("{}: {n}", img.name));
        }
        let mut layer = match parent {
            Some(p) => p.clone(),
            None => match self.base(trial, &img.suite)? {
                Some(b) => b,
                None => return Ok(ImageEnd::Failed),
            },
        };
        for (n, step) in img.steps.iter().enumerate() {
            match self.step(trial, img, n + 1, step, &layer)? {
                Ok(l) => layer = l,
                Err(true) => return Ok(ImageEnd::TimedOut),
                Err(false) => return Ok(ImageEnd::Failed),
            }
        }
        Ok(ImageEnd::Passed(layer.0, layer.1))
    }
}

/// An apt step's package sets (`before`, `after`) against the image's Debian pins.
fn apt_findings(
    img: &ImagePlan,
    step: &Step,
    before: &BTreeMap<String, String>,
    after: &BTreeMap<String, String>,
) -> check::Findings {
    check::compare(
        "deb",
        before,
        after,
        &img.deb_required,
        &img.deb_allowed,
        step.last_apt,
    )
}

/// Shell lines that build `$S/stand-in/NAME.deb`, standing in for a deb the
/// tree builds at `version`: the archive's package of that name repacked
/// with that version when the suite has one (the tree rebuilds Debian's
/// `openssl`, whose files `ca-certificates`' postinst runs), else an empty
/// package of that name and version.
fn stand_in_deb(name: &str, version: &str, apt_opts: &str) -> String {
    let n = sh_quote(name);
    let control = format!(
        "Package: {name}\nVersion: {version}\nArchitecture: all\nMaintainer: sonic-lock <nobody@localhost>\n\
         Description: stands in for the deb the tree builds\n"
    );
    format!(
        "mkdir -p $S/stand-in && cd $S/stand-in\n\
         if apt-get{apt_opts} download -o Dir::Etc::Preferences=/dev/null \
         -o Dir::Etc::PreferencesParts=/nonexistent {n} 2>/dev/null; then\n\
         \x20 echo {repacked}\n\
         \x20 dpkg-deb -R {n}_*.deb {n} && rm -f {n}_*.deb\n\
         \x20 awk -v v={v} {awk} {n}/DEBIAN/control {n}/DEBIAN/control > {n}.control\n\
         \x20 mv {n}.control {n}/DEBIAN/control\n\
         else\n\
         \x20 echo {empty}\n\
         \x20 mkdir -p {n}/DEBIAN && printf %s {c} > {n}/DEBIAN/control\n\
         fi\n\
         dpkg-deb --build {n} {n}.deb\ncd /\n",
        v = sh_quote(version),
        c = sh_quote(&control),
        awk = sh_quote(REPACK_AWK),
        repacked = sh_quote(&format!(
            "stand-in {name} {version}: the archive's package repacked"
        )),
        empty = sh_quote(&format!("stand-in {name} {version}: an empty package")),
    )
}

/// Sets a repacked control's `Version` to `v` and moves its exact relations
/// on the archive's version (`libssl-dev` on `libssl1.1 (= 1.1.1w-0+deb11u8)`)
/// to `v`, as the tree's rebuild of the whole source has them. Reads the
/// control twice: first for the archive's version.
const REPACK_AWK: &str = r#"
function swap(s, a, b,    i, out) {
    out = ""
    while (a != "" && (i = index(s, a)) > 0) {
        out = out substr(s, 1, i - 1) b
        s = substr(s, i + length(a))
    }
    return out s
}
NR == FNR { if ($1 == "Version:") old = $2; next }
$1 == "Version:" { print "Version: " v; next }
{ print swap($0, "(= " old ")", "(= " v ")") }
"#;

impl Builder for LayersBuilder {
    fn describe(&self) -> String {
        let c = &self.config;
        let mut s = format!("layers: {} apt {}", c.runtime, c.apt_mirrors.join(", "));
        if let Some(b) = &c.base {
            s.push_str(&format!(" base {b}"));
        } else {
            s.push_str(&format!(" base mmdebstrap {}", c.base_variant));
        }
        if let Some(p) = &c.pypi_index {
            s.push_str(&format!(" pypi {p}"));
        }
        for (i, p) in &c.parents {
            s.push_str(&format!(" {i}={p}"));
        }
        if let Some(o) = &c.only {
            s.push_str(&format!(" image {o}"));
        }
        if let Some(m) = &c.network_mode {
            s.push_str(&format!(" network {m}"));
        }
        if c.ca_bundle.is_some() {
            s.push_str(" ca-bundle");
        }
        if let Some(t) = c.timeout {
            s.push_str(&format!(" timeout {}s", t.as_secs_f64()));
        }
        s
    }

    fn identity(&self) -> String {
        let mut text = self.describe();
        if let Some(k) = &self.keyring {
            text.push_str(&crate::fsio::sha256_hex(k));
        }
        if let Some(m) = &self.manifest {
            text.push_str(&format!("{:?}", m.dependencies));
        }
        format!("layers sha256:{}", crate::fsio::sha256_hex(text.as_bytes()))
    }

    fn run(&self, input: &TrialInput) -> Result<TrialResult, TrialError> {
        if super::signal::interrupted() {
            return Err(TrialError::Interrupted);
        }
        let started = Instant::now();
        let lock = Lock::read(&input.lockfile).map_err(|e| TrialError::Io {
            path: input.lockfile.clone(),
            source: std::io::Error::other(e.to_string()),
        })?;
        let opts = PlanOptions {
            parents: self.config.parents.clone(),
            only: self.config.only.clone(),
            arch: self.config.arch.clone(),
        };
        let plans = plan::plan(&lock, self.manifest.as_ref(), &opts)
            .map_err(|e| start(format!("{}: {e}", input.lockfile.display())))?;
        if let Some(dir) = input.log.parent() {
            std::fs::create_dir_all(dir).map_err(io(dir))?;
        }
        let file = std::fs::File::create(&input.log).map_err(io(&input.log))?;
        let trial = Trial {
            input,
            log: TrialLog(Mutex::new(file)),
            tally: Mutex::new(Tally::default()),
            deadline: self.config.timeout.map(|t| started + t),
        };
        trial
            .log
            .note(&format!("{}; {} image(s)", self.describe(), plans.len()));
        let ends: Mutex<BTreeMap<String, ImageEnd>> = Mutex::new(BTreeMap::new());
        let error: Mutex<Option<TrialError>> = Mutex::new(None);
        // Waves: an image builds once its parent has; images of one wave are independent.
        let mut left: Vec<&ImagePlan> = plans.iter().collect();
        while !left.is_empty() {
            let done: Vec<String> = ends
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .keys()
                .cloned()
                .collect();
            let (ready, later): (Vec<&ImagePlan>, Vec<&ImagePlan>) =
                left.into_iter().partition(|p| {
                    p.parent
                        .as_ref()
                        .is_none_or(|q| done.contains(q) || !plans.iter().any(|x| &x.name == q))
                });
            left = later;
            if ready.is_empty() {
                break;
            }
            for chunk in ready.chunks(self.config.jobs.max(1)) {
                std::thread::scope(|s| {
                    for img in chunk {
                        let (trial, ends, error) = (&trial, &ends, &error);
                        s.spawn(move || {
                            let parent_end = img.parent.as_ref().and_then(|p| {
                                ends.lock()
                                    .unwrap_or_else(|e| e.into_inner())
                                    .get(p)
                                    .cloned()
                            });
                            let end = match parent_end {
                                Some(ImageEnd::Passed(k, i)) => {
                                    self.image(trial, img, Some(&(k, i)))
                                }
                                Some(_) => {
                                    trial.log.note(&format!(
                                        "{}: not built: its parent failed",
                                        img.name
                                    ));
                                    Ok(ImageEnd::Failed)
                                }
                                None => self.image(trial, img, None),
                            };
                            let end = end.unwrap_or_else(|e| {
                                *error.lock().unwrap_or_else(|p| p.into_inner()) = Some(e);
                                ImageEnd::Failed
                            });
                            ends.lock()
                                .unwrap_or_else(|p| p.into_inner())
                                .insert(img.name.clone(), end);
                        });
                    }
                });
                if let Some(e) = error.lock().unwrap_or_else(|p| p.into_inner()).take() {
                    return Err(e);
                }
            }
        }
        let ends = ends.into_inner().unwrap_or_else(|p| p.into_inner());
        for (img, end) in &ends {
            let what = match end {
                ImageEnd::Passed(k, _) => format!("passed (last layer {})", &k[..12]),
                ImageEnd::Failed => "failed".into(),
                ImageEnd::TimedOut => "timed out".into(),
            };
            trial.log.note(&format!("image {img}: {what}"));
        }
        let tally = *trial.tally.lock().unwrap_or_else(|p| p.into_inner());
        trial.log.note(&tally.to_string());
        let timed_out = ends.values().any(|e| *e == ImageEnd::TimedOut);
        let pass = ends.values().all(|e| matches!(e, ImageEnd::Passed(..)));
        Ok(TrialResult {
            verdict: if pass { Verdict::Pass } else { Verdict::Fail },
            exit_code: if timed_out {
                None
            } else {
                Some(i32::from(!pass))
            },
            duration: started.elapsed(),
            log: input.log.clone(),
            timed_out,
            requeues: Vec::new(),
        })
    }
}
