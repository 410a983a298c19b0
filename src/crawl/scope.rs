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
//!
//! The walk records why each target is in scope ([`Graph`]); once the
//! submodules are attached, [`Scope::resolve`] turns targets into the files
//! they read ([`super::reads`]), each with its chain back to the image.

use super::make::{self, Evaluator, words};
use super::provenance::{Graph, Link, Provenance};
use super::reads::{self, Build, Read};
use super::text::decode;
use crate::manifest::{Context, Origin};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet, VecDeque};

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
    /// Why each target is in scope.
    pub graph: Graph,
    /// Files the build starts from: entry files of targets, docker files,
    /// image scripts and slave Dockerfiles (before existence checks).
    pub entries: Vec<Entry>,
    /// Every file in scope after [`Scope::resolve`]: its contexts and its chain.
    pub files: BTreeMap<String, (BTreeSet<Context>, Provenance)>,
    /// The build profiles active for each `debian/control` that
    /// `dpkg-buildpackage` reads: those every run of it activates (a cross
    /// build's `-Pcross,nocheck` beside the native run's `-Pa` leaves `a`).
    pub profiles: BTreeMap<String, BTreeSet<String>>,
}

/// Something the build reads first, before following what it runs.
#[derive(Debug, Clone)]
pub enum Entry {
    /// A target built from a source directory.
    Source {
        /// The make target.
        target: String,
        /// How `slave.mk` builds it.
        build: Build,
        /// Its `_SRC_PATH`.
        src: String,
        /// The slave it builds in.
        ctx: Context,
    },
    /// A docker built from its directory.
    Docker {
        /// The make target (`docker-x.gz`).
        target: String,
        /// Its `_PATH`.
        dir: String,
        /// The image context.
        ctx: Context,
    },
    /// A file read directly, with its chain.
    File {
        /// Tree path.
        path: String,
        /// Directory its commands start in.
        cwd: String,
        /// Build context.
        ctx: Context,
        /// The chain, the file first.
        chain: Vec<Link>,
    },
    /// Recipe lines of a rule (the installer's), scanned for what they run.
    Recipe {
        /// File of the rule (`slave.mk`), for origins.
        file: String,
        /// Recipe lines (expanded) with their line numbers.
        lines: Vec<(u32, String)>,
        /// Build context.
        ctx: Context,
        /// The chain of the rule's target.
        chain: Vec<Link>,
    },
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

/// Files every image build runs, whether or not the installer's recipe names them.
const HOST_SCRIPTS: [&str; 2] = [
    "build_debian.sh",
    "files/build_templates/sonic_debian_extension.j2",
];

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
    // The parts of the tree every image build runs: slave container, image
    // scripts, templates (for submodule selection; files come from `entries`).
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
        for list in ["DOCKERS", "DBG_DOCKERS"] {
            let v = ev.value(&format!("SONIC_{}_{list}", s.to_ascii_uppercase()));
            for d in words(&v) {
                docker_suite.insert(d.to_string(), s.clone());
            }
        }
    }
    // `docker-x-dbg.gz` (`%-$(DBG_IMAGE_MARK).gz`) is built FROM `docker-x.gz`.
    let dbg_suffix = format!("-{}.gz", dbg_mark(ev));
    let mut build_of: HashMap<String, Build> = HashMap::new();
    for (list, b) in reads::BUILD_LISTS {
        let v = ev.value(list);
        for w in words(&v) {
            build_of.entry(w.to_string()).or_insert(b);
        }
    }
    let root = image_target
        .rsplit('/')
        .next()
        .unwrap_or(image_target)
        .to_string();
    scope.graph = Graph::new(&root);
    let root_chain = scope.graph.chain(&root);
    // (target, suite, parent, how the parent names it)
    let mut work: VecDeque<(String, String, String, String)> = VecDeque::new();
    work.push_back((root.clone(), primary.clone(), root.clone(), String::new()));
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
            let mut recipe: Vec<(u32, String)> = Vec::new();
            for (n, line) in &r.recipe {
                let l = line.trim_start().trim_start_matches(['@', '-', '+']);
                // `export name="value"` lines of the recipe: the environment of build_debian.sh.
                if let Some((k, v)) = l.strip_prefix("export ").and_then(|a| a.split_once('=')) {
                    let k = k.trim();
                    if !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        let v = ev.expand(v.trim());
                        scope
                            .image_env
                            .insert(k.to_string(), v.trim().trim_matches('"').to_string());
                    }
                }
                recipe.push((*n, ev.expand(l).replace('\n', " ")));
            }
            ev.db.vars.remove("*");
            if let Some(s) = saved {
                ev.db.vars.insert("*".to_string(), s);
            }
            scope.entries.push(Entry::Recipe {
                file: r.origin.file.clone(),
                lines: recipe,
                ctx: image_ctx.clone(),
                chain: root_chain.clone(),
            });
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
                    let mut chain = vec![Link {
                        node: w.to_string(),
                        why: format!(
                            "prerequisite of {root} ({}:{})",
                            r.origin.file, r.origin.line
                        ),
                    }];
                    chain.extend(root_chain.iter().cloned());
                    scope.entries.push(Entry::File {
                        path: w.to_string(),
                        cwd: String::new(),
                        ctx: image_ctx.clone(),
                        chain,
                    });
                }
                work.push_back((
                    name.to_string(),
                    primary.clone(),
                    root.clone(),
                    "prerequisite of".to_string(),
                ));
            }
        }
    }
    for p in HOST_SCRIPTS {
        let mut chain = vec![Link {
            node: p.to_string(),
            why: format!("image build script of {root}"),
        }];
        chain.extend(root_chain.iter().cloned());
        scope.entries.push(Entry::File {
            path: p.to_string(),
            cwd: String::new(),
            ctx: image_ctx.clone(),
            chain,
        });
    }
    let mut seen: BTreeSet<(String, String)> = BTreeSet::new();
    while let Some((t, suite, parent, how)) = work.pop_front() {
        let suite = docker_suite.get(&t).cloned().unwrap_or(suite);
        if !seen.insert((t.clone(), suite.clone())) {
            continue;
        }
        scope.graph.add(&t, &parent, &how);
        scope
            .targets
            .entry(t.clone())
            .or_default()
            .insert(suite.clone());
        scope.slaves.insert(suite.clone());
        // Every target named by `var` is in scope because `t` names it.
        let mut follow = |var: &str, how: String| {
            for w in words(&ev.value(var)) {
                work.push_back((w.to_string(), suite.clone(), t.clone(), how.clone()));
            }
        };
        for attr in FOLLOW {
            follow(&format!("{t}_{attr}"), format!("_{attr} of"));
        }
        // A debug image loads its docker and installs the docker's `_DBG_DEPENDS`.
        if let Some(stem) = t.strip_suffix(&dbg_suffix) {
            let main = format!("{stem}.gz");
            follow(
                &format!("{main}_DBG_DEPENDS"),
                format!("_DBG_DEPENDS of {main} for"),
            );
            work.push_back((main, suite.clone(), t.clone(), "loaded to build".into()));
        }
        let src = ev.value(&format!("{t}_SRC_PATH"));
        if !src.trim().is_empty() {
            scope.add(&src, slave_ctx(&suite));
            scope.entries.push(Entry::Source {
                target: t.clone(),
                build: build_of.get(&t).copied().unwrap_or(Build::Unknown),
                src: src.trim().to_string(),
                ctx: slave_ctx(&suite),
            });
        }
        // A docker's directory; other targets' `_PATH` (copied files) build nothing.
        let path = ev.value(&format!("{t}_PATH"));
        if !path.trim().is_empty() && t.ends_with(".gz") {
            let p = path.trim().trim_end_matches('/');
            let image = p.rsplit('/').next().unwrap_or(p).to_string();
            let ctx = Context {
                image: Some(image),
                suite: Some(suite.clone()),
                ..Context::default()
            };
            scope.add(p, ctx.clone());
            scope.entries.push(Entry::Docker {
                target: t.clone(),
                dir: p.to_string(),
                ctx,
            });
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
        let dir = format!("sonic-slave-{s}");
        scope.add(&dir, slave_ctx(&s));
        for f in ["Dockerfile.j2", "Dockerfile.user.j2"] {
            let mut chain = vec![Link {
                node: format!("{dir}/{f}"),
                why: format!("build container of the {s} targets of {root}"),
            }];
            chain.extend(root_chain.iter().cloned());
            scope.entries.push(Entry::File {
                path: format!("{dir}/{f}"),
                cwd: dir.clone(),
                ctx: slave_ctx(&s),
                chain,
            });
        }
    }
    scope
}

/// `slave.mk`'s mark of debug images (`DBG_IMAGE_MARK = dbg`).
pub fn dbg_mark(ev: &mut Evaluator<'_>) -> String {
    let m = ev.value("DBG_IMAGE_MARK");
    match m.trim() {
        "" => "dbg".to_string(),
        m => m.to_string(),
    }
}

/// A file waiting to be read, with what reads it.
struct Pending {
    path: String,
    cwd: String,
    ctx: Context,
    chain: Vec<Link>,
    profiles: Option<BTreeSet<String>>,
}

impl Scope {
    /// Turns the entries into the files in scope, following what each file
    /// runs; `image_dirs` maps an image the tree builds to its directory, so a
    /// `FROM` of one brings in its Dockerfile.
    pub fn resolve(&mut self, files: &dyn make::Files, image_dirs: &BTreeMap<String, String>) {
        let mut cache: HashMap<String, Option<String>> = HashMap::new();
        let mut text_of = |p: &str| -> Option<String> {
            cache
                .entry(p.to_string())
                .or_insert_with(|| files.read(p).map(|b| decode(&b).0.into_owned()))
                .clone()
        };
        let exists = |p: &str| files.read(p).is_some();
        let mut queue: VecDeque<Pending> = VecDeque::new();
        let with = |r: Read, chain: &[Link], ctx: &Context| {
            let mut c = vec![Link {
                node: r.path.clone(),
                why: r.why,
            }];
            c.extend(chain.iter().cloned());
            Pending {
                path: r.path,
                cwd: r.cwd,
                ctx: ctx.clone(),
                chain: c,
                profiles: r.profiles,
            }
        };
        for e in &self.entries {
            match e {
                Entry::Source {
                    target,
                    build,
                    src,
                    ctx,
                } => {
                    let chain = self.graph.chain(target);
                    for r in reads::entry_files(*build, src, &exists) {
                        queue.push_back(with(r, &chain, ctx));
                    }
                }
                Entry::Docker { target, dir, ctx } => {
                    let chain = self.graph.chain(target);
                    if let Some(f) = dockerfile_in(dir, &exists) {
                        let r = Read {
                            path: f,
                            cwd: dir.clone(),
                            why: format!("docker build of {target}"),
                            profiles: None,
                        };
                        queue.push_back(with(r, &chain, ctx));
                    }
                }
                Entry::File {
                    path,
                    cwd,
                    ctx,
                    chain,
                } => {
                    if exists(path) {
                        queue.push_back(Pending {
                            path: path.clone(),
                            cwd: cwd.clone(),
                            ctx: ctx.clone(),
                            chain: chain.clone(),
                            profiles: None,
                        });
                    }
                }
                Entry::Recipe {
                    file,
                    lines,
                    ctx,
                    chain,
                } => {
                    // One line at a time: an odd quote in one expanded line
                    // must not swallow the lines after it.
                    for (n, l) in lines {
                        for r in reads::references(file, l, *n, "", &exists) {
                            queue.push_back(with(r, chain, ctx));
                        }
                    }
                }
            }
        }
        let mut seen: HashSet<(String, Context)> = HashSet::new();
        while let Some(p) = queue.pop_front() {
            if let Some(active) = &p.profiles {
                self.profiles
                    .entry(p.path.clone())
                    .and_modify(|have| have.retain(|x| active.contains(x)))
                    .or_insert_with(|| active.clone());
            }
            if !seen.insert((p.path.clone(), p.ctx.clone())) {
                continue;
            }
            let entry = self.files.entry(p.path.clone()).or_insert_with(|| {
                (
                    BTreeSet::new(),
                    Provenance {
                        crawled: false,
                        chain: p.chain.clone(),
                    },
                )
            });
            entry.0.insert(p.ctx.clone());
            let Some(text) = text_of(&p.path) else {
                continue;
            };
            if super::kind_of(&p.path) == Some(super::Kind::Dockerfile) {
                for (image, line) in reads::from_images(&text) {
                    let Some(dir) = image_dirs.get(&image) else {
                        continue;
                    };
                    let Some(f) = dockerfile_in(dir, &exists) else {
                        continue;
                    };
                    if f == p.path {
                        continue;
                    }
                    let ctx = Context {
                        image: Some(image.clone()),
                        ..p.ctx.clone()
                    };
                    let r = Read {
                        path: f,
                        cwd: dir.clone(),
                        why: format!("FROM of {}:{line}", p.path),
                        profiles: None,
                    };
                    queue.push_back(with(r, &p.chain, &ctx));
                }
                continue;
            }
            for r in reads::references(&p.path, &text, 1, &p.cwd, &exists) {
                queue.push_back(with(r, &p.chain, &p.ctx));
            }
        }
    }
}

/// The Dockerfile of an image directory (`Dockerfile.j2`, else `Dockerfile`).
fn dockerfile_in(dir: &str, exists: &dyn Fn(&str) -> bool) -> Option<String> {
    ["Dockerfile.j2", "Dockerfile"]
        .into_iter()
        .map(|f| format!("{dir}/{f}"))
        .find(|p| exists(p))
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
