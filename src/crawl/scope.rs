//! Platform scoping: which parts of the tree the platform's image actually
//! builds, read from the evaluated make database the way `slave.mk` reads it.
//!
//! Starting from the image target (an installer's static-pattern rule in
//! `slave.mk`, expanded a second time with its stem, or a plain target), the
//! closure follows every dependency-bearing attribute (`_DEPENDS`,
//! `_RDEPENDS`, `_INSTALLS`, `_LAZY_INSTALLS`, `_DOCKERS`, `_LOAD_DOCKERS`,
//! `_PYTHON_WHEELS`, `_MAIN_DEB`, ...). A docker listed in
//! `SONIC_<SUITE>_DOCKERS` is built, with everything under it, in that
//! suite's slave container.

use super::make::{Evaluator, words};
use crate::manifest::{Context, Origin};
use std::collections::{BTreeMap, BTreeSet};

/// Attributes whose values name further targets.
pub const FOLLOW: [&str; 14] = [
    "DEPENDS",
    "RDEPENDS",
    "INSTALLS",
    "LAZY_INSTALLS",
    "LAZY_BUILD_INSTALLS",
    "DOCKERS",
    "FILES",
    "LOAD_DOCKERS",
    "PYTHON_WHEELS",
    "WHEEL_DEPENDS",
    "DEBS_DEPENDS",
    "PYTHON_DEBS",
    "MAIN_DEB",
    "EXTRA_DEBS",
];

/// What the platform builds.
#[derive(Debug, Clone, Default)]
pub struct Scope {
    /// Directory or file prefixes in scope, with the build contexts they apply in.
    pub paths: BTreeMap<String, BTreeSet<Context>>,
    /// Targets built, with the suites they are built for.
    pub targets: BTreeMap<String, BTreeSet<String>>,
    /// Slave containers needed (suites).
    pub slaves: BTreeSet<String>,
    /// Variables the image recipe exports to `build_debian.sh` and the templates it renders.
    pub image_env: BTreeMap<String, String>,
    /// Downloads declared with `_URL` for targets in scope: (target, url, origin, context).
    pub urls: Vec<(String, String, Option<Origin>, Context)>,
}

fn slave_ctx(suite: &str) -> Context {
    Context {
        image: Some(format!("sonic-slave-{suite}")),
        suite: Some(suite.to_string()),
        ..Context::default()
    }
}

impl Scope {
    fn add(&mut self, path: &str, ctx: Context) {
        let p = path
            .trim()
            .trim_start_matches("./")
            .trim_end_matches('/')
            .to_string();
        if !p.is_empty() {
            self.paths.entry(p).or_default().insert(ctx);
        }
    }

    /// The contexts a tree path is crawled in: the union over every scoped
    /// prefix of it (a file can serve several builds); `None` if out of scope.
    pub fn contexts(&self, path: &str) -> Option<BTreeSet<Context>> {
        let mut out: BTreeSet<Context> = BTreeSet::new();
        let mut p = path;
        loop {
            if let Some(c) = self.paths.get(p) {
                out.extend(c.iter().cloned());
            }
            match p.rfind('/') {
                Some(i) => p = &p[..i],
                None => break,
            }
        }
        (!out.is_empty()).then_some(out)
    }

    /// True when `path` (a directory such as a submodule) is, or contains, something in scope.
    pub fn touches(&self, path: &str) -> bool {
        self.contexts(path).is_some()
            || self
                .paths
                .range(format!("{path}/")..)
                .next()
                .is_some_and(|(k, _)| k.starts_with(&format!("{path}/")))
    }
}

/// Computes the scope of `image_target` (e.g. `target/sonic-barefoot.bin`).
pub fn compute(
    ev: &mut Evaluator<'_>,
    image_target: &str,
    suites: &[String],
    device_dirs: &[String],
) -> Scope {
    let mut scope = Scope::default();
    let primary = suites
        .first()
        .cloned()
        .unwrap_or_else(|| "bullseye".to_string());
    let image_ctx = Context {
        image: Some("host-image".to_string()),
        suite: Some(primary.clone()),
        ..Context::default()
    };
    // The parts of the tree every image build runs: slave container, image scripts, templates.
    for p in [
        "build_debian.sh",
        "build_image.sh",
        "build_docker.sh",
        "functions.sh",
        "get_docker-base.sh",
        "onie-image.conf",
        "Makefile",
        "Makefile.work",
        "slave.mk",
        "files",
        "scripts",
        "installer",
        ".gitmodules",
    ] {
        scope.add(p, image_ctx.clone());
    }
    for d in device_dirs {
        scope.add(d, image_ctx.clone());
    }
    // Suite-specific docker lists (`SONIC_BUSTER_DOCKERS`), for the secondary suites.
    let mut docker_suite: BTreeMap<String, String> = BTreeMap::new();
    for s in suites.iter().skip(1) {
        let v = ev.value(&format!("SONIC_{}_DOCKERS", s.to_ascii_uppercase()));
        for d in words(&v) {
            docker_suite.insert(d.to_string(), s.clone());
        }
    }
    let root = image_target
        .rsplit('/')
        .next()
        .unwrap_or(image_target)
        .to_string();
    let mut work: Vec<(String, String)> = vec![(root.clone(), primary.clone())];
    // An installer: the prerequisites of its static-pattern rule, second expansion with the stem.
    let installers = ev.value("SONIC_INSTALLERS");
    if words(&installers).any(|w| w == root) {
        let target_path = ev.value("TARGET_PATH");
        let rules: Vec<_> = ev
            .db
            .rules
            .iter()
            .chain(ev.base.map(|b| b.rules.iter()).into_iter().flatten())
            .cloned()
            .collect();
        for r in rules {
            if !words(&r.targets).any(|t| t == format!("{target_path}/{root}")) {
                continue;
            }
            // A static pattern rule `targets : pattern : prerequisites`.
            let prereqs = match r.prereqs.split_once(':') {
                Some((pat, p)) if pat.contains('%') => p,
                _ => r.prereqs.as_str(),
            };
            let first = ev.expand(prereqs);
            let saved = ev.db.vars.remove("*");
            ev.db.set_command_line("*", &root);
            let second = ev.expand(&first);
            // `export name="value"` lines of the recipe: the environment of build_debian.sh.
            for (_, line) in &r.recipe {
                let l = line.trim_start().trim_start_matches(['@', '-', '+']);
                if let Some((k, v)) = l.strip_prefix("export ").and_then(|a| a.split_once('=')) {
                    let k = k.trim();
                    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        let v = ev.expand(v.trim());
                        scope
                            .image_env
                            .insert(k.to_string(), v.trim().trim_matches('"').to_string());
                    }
                }
            }
            ev.db.vars.remove("*");
            if let Some(s) = saved {
                ev.db.vars.insert("*".to_string(), s);
            }
            for w in words(&second) {
                let name = w.rsplit('/').next().unwrap_or(w);
                let name = name
                    .strip_suffix("-install")
                    .or_else(|| name.strip_suffix("-load"))
                    .unwrap_or(name);
                if name.starts_with('.') || name.contains('$') {
                    continue;
                }
                if !w.starts_with(&format!("{target_path}/")) {
                    // A file of the tree the rule reads directly.
                    scope.add(w, image_ctx.clone());
                }
                work.push((name.to_string(), primary.clone()));
            }
        }
    }
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    while let Some((t, suite)) = work.pop() {
        let suite = docker_suite.get(&t).cloned().unwrap_or(suite);
        if !seen.insert((t.clone(), suite.clone())) {
            continue;
        }
        scope
            .targets
            .entry(t.clone())
            .or_default()
            .insert(suite.clone());
        scope.slaves.insert(suite.clone());
        for attr in FOLLOW {
            let v = ev.value(&format!("{t}_{attr}"));
            for w in words(&v) {
                work.push((w.to_string(), suite.clone()));
            }
        }
        let src = ev.value(&format!("{t}_SRC_PATH"));
        if !src.trim().is_empty() {
            scope.add(&src, slave_ctx(&suite));
        }
        // A docker's directory; other targets' `_PATH` (copied files) build nothing.
        let path = ev.value(&format!("{t}_PATH"));
        if !path.trim().is_empty() && t.ends_with(".gz") {
            let p = path.trim().trim_end_matches('/');
            let image = p.rsplit('/').next().unwrap_or(p).to_string();
            scope.add(
                p,
                Context {
                    image: Some(image),
                    suite: Some(suite.clone()),
                    ..Context::default()
                },
            );
        }
        let url = ev.value(&format!("{t}_URL"));
        let url = url.trim().trim_matches('"').trim_matches('\'');
        if !url.is_empty() {
            let origin = ev.var(&format!("{t}_URL")).and_then(|v| v.origin.clone());
            scope
                .urls
                .push((t.clone(), url.to_string(), origin, slave_ctx(&suite)));
        }
    }
    for s in scope.slaves.clone() {
        scope.add(&format!("sonic-slave-{s}"), slave_ctx(&s));
    }
    scope
}

/// Contexts for `--all`: guessed from where a file lives.
pub fn context_for_all(path: &str) -> Context {
    let suite_in = |s: &str| {
        ["bullseye", "buster", "stretch", "jessie", "bookworm"]
            .into_iter()
            .find(|d| s.contains(d))
            .map(str::to_string)
    };
    let parts: Vec<&str> = path.split('/').collect();
    match parts.as_slice() {
        [slave, ..] if slave.starts_with("sonic-slave-") => Context {
            image: Some((*slave).to_string()),
            suite: suite_in(slave),
            ..Context::default()
        },
        ["dockers", d, ..] | ["platform", _, d, ..]
            if d.starts_with("docker-") && parts.len() > 2 =>
        {
            Context {
                image: Some((*d).to_string()),
                suite: suite_in(d),
                ..Context::default()
            }
        }
        ["src", ..] | ["platform", ..] => Context {
            image: Some("sonic-slave".to_string()),
            ..Context::default()
        },
        _ => Context {
            image: Some("host-image".to_string()),
            ..Context::default()
        },
    }
}
