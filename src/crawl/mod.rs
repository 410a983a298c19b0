//! The crawl stage: reads a sonic-buildimage tree at one commit through git2
//! (no checkout), evaluates its make rules, scopes it to a platform, and runs
//! one parser per file kind in parallel, producing a [`Manifest`].
//!
//! Files: `tree` (git access, submodules), `make` (make evaluation), `scope`
//! (what the platform builds), `reads` (which files a target reads and what
//! they run), `provenance` (why a file is crawled), `names` (names apt
//! would refuse), `jinja`, `dockerfile`, `shell`, `python`
//! (pip, requirements, setup.py), `debcontrol`, `gomod`, `gitmodules`, `text`,
//! `aptsources` (apt repositories the scripts add).

pub mod aptconf;
pub mod aptsources;
pub mod debcontrol;
pub mod dockerfile;
pub mod gitmodules;
pub mod gomod;
pub mod images;
pub mod jinja;
pub mod make;
pub mod makework;
pub mod names;
pub mod provenance;
pub mod python;
pub mod reads;
pub mod scope;
pub mod shell;
pub mod text;
pub mod tree;

use crate::manifest::make_vars::MakeVars;
use crate::manifest::{
    Constraint, Context, Dependency, Diagnostic, Ecosystem, Manifest, Origin, Severity,
};
use crate::platform::Platform;
use make::{Evaluator, MakeDb};
use provenance::Provenance;
use rayon::prelude::*;
use scope::Scope;
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use text::Sink;
use tree::Tree;

/// Errors that stop a crawl (everything else becomes a diagnostic).
#[derive(Debug, thiserror::Error)]
pub enum CrawlError {
    /// The repository, revision or a cache directory could not be used.
    #[error(transparent)]
    Tree(#[from] tree::TreeError),
    /// The worker threads could not be started.
    #[error("cannot start worker threads: {0}")]
    Pool(String),
}

/// What to crawl.
#[derive(Debug, Clone)]
pub struct CrawlOptions {
    /// Path of a local repository (bare or not) or a URL to clone into the cache.
    pub repo: String,
    /// The revision to read.
    pub rev: String,
    /// The platform; with `all` it only supplies make variables.
    pub platform: Option<Platform>,
    /// Crawl the whole tree instead of the platform's scope.
    pub all: bool,
    /// Directory of local submodule clones.
    pub submodules: Option<PathBuf>,
    /// Clone submodules that are not found locally into the cache.
    pub clone_submodules: bool,
    /// Cache directory (URL clones).
    pub cache_dir: PathBuf,
    /// Make variables given on the command line (`make NAME=VALUE`): they
    /// override the platform's and the tree's assignments.
    pub make_vars: MakeVars,
}

/// The state of one submodule after the crawl.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubmoduleStatus {
    /// Path in the superproject.
    pub path: String,
    /// Commit recorded by the gitlink.
    pub commit: String,
    /// Whether its files were crawled.
    pub crawled: bool,
    /// Why not, when not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// The crawl's result: the manifest plus what was in scope.
#[derive(Debug, Clone, Serialize)]
pub struct CrawlOutput {
    /// The manifest.
    pub manifest: Manifest,
    /// Slave containers (suites) the build needs.
    pub slaves: Vec<String>,
    /// Make targets in scope (empty for `--all`).
    pub targets: Vec<String>,
    /// Files parsed.
    pub files_parsed: usize,
    /// Submodules in scope, crawled or not.
    pub submodules: Vec<SubmoduleStatus>,
    /// Every file in the platform's scope and the chain of targets that brings
    /// it in (empty for `--all`).
    pub provenance: BTreeMap<String, Provenance>,
}

/// The file kinds the crawler parses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `Dockerfile`, `Dockerfile.j2`, ...
    Dockerfile,
    /// A Jinja-templated shell script (`sonic_debian_extension.j2`, `*.sh.j2`).
    ShellTemplate,
    /// A shell script.
    Shell,
    /// A file without extension that may be a script (decided by its `#!` line).
    MaybeScript,
    /// A package's own Makefile (recipes are shell).
    Makefile,
    /// `setup.py`.
    SetupPy,
    /// `requirements*.txt`.
    Requirements,
    /// `debian/control`.
    Control,
    /// `go.mod`.
    GoMod,
}

/// Decides a file's kind from its path alone.
pub fn kind_of(path: &str) -> Option<Kind> {
    let name = path.rsplit('/').next().unwrap_or(path);
    if name == "Dockerfile" || name.starts_with("Dockerfile.") || name.ends_with(".Dockerfile") {
        return Some(Kind::Dockerfile);
    }
    // Shell templates: `*.sh.j2`, and extension-less templates of the image
    // build such as `sonic_debian_extension.j2` (not `init_cfg.json.j2`).
    if name.ends_with(".sh.j2")
        || (path.contains("build_templates/")
            && name.ends_with(".j2")
            && !name[..name.len() - 3].contains('.'))
    {
        return Some(Kind::ShellTemplate);
    }
    if name.ends_with(".sh") || name.ends_with(".bash") {
        return Some(Kind::Shell);
    }
    if !path.contains('/') && (name.starts_with("Makefile") || name.ends_with(".mk")) {
        // The top-level build orchestration: evaluated as the make database, not as a package.
        return None;
    }
    if name == "Makefile" || name == "makefile" || name == "GNUmakefile" {
        return Some(Kind::Makefile);
    }
    if name.ends_with(".mk") && !path.starts_with("rules/") && !path.starts_with("platform/") {
        return Some(Kind::Makefile);
    }
    if name == "setup.py" {
        return Some(Kind::SetupPy);
    }
    if name.ends_with(".txt") && name.contains("requirements") {
        return Some(Kind::Requirements);
    }
    if path.ends_with("debian/control") {
        return Some(Kind::Control);
    }
    if name == "go.mod" {
        return Some(Kind::GoMod);
    }
    if !name.contains('.') && !path.contains("/debian/") && !path.contains("/test") {
        return Some(Kind::MaybeScript);
    }
    None
}

/// Template variables: the make database's values. An upper-case name the
/// build does not define is an empty environment variable at render time; a
/// lower-case one is supplied per docker at build time and stays unknown.
pub(crate) struct DbVars<'a> {
    pub(crate) db: &'a MakeDb,
}

impl jinja::Vars for DbVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        if self.db.vars.contains_key(name) {
            let mut e = Evaluator::new(Some(self.db), None);
            return Some(e.value(name).trim().to_string());
        }
        name.chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            .then(String::new)
    }
}

/// The image build's environment first (exported make variables and the
/// installer recipe's exports), then the make database.
struct HostVars<'a> {
    env: &'a HashMap<String, String>,
    db: DbVars<'a>,
}

impl jinja::Vars for HostVars<'_> {
    fn get(&self, name: &str) -> Option<String> {
        self.env.get(name).cloned().or_else(|| self.db.get(name))
    }
}

/// What every parser may consult.
struct Env<'a> {
    db: &'a MakeDb,
    local_images: BTreeSet<String>,
    /// Environment of the host-image scripts (`build_debian.sh`, `sonic_debian_extension.j2`).
    host_env: HashMap<String, String>,
}

fn default_make_vars() -> BTreeMap<String, String> {
    [
        ("CONFIGURED_ARCH", "amd64"),
        ("PLATFORM_ARCH", "amd64"),
        ("BLDENV", "bullseye"),
        ("CONFIGURED_PLATFORM", "generic"),
        ("PLATFORM", "generic"),
        ("NOBUSTER", "0"),
    ]
    .into_iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect()
}

/// Crawls a tree; `progress(done, total)` is called as files are parsed.
pub fn crawl(
    opts: &CrawlOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<CrawlOutput, CrawlError> {
    // Make expansion recurses as deeply as the build's own functions do
    // (`$(call expand,...)` over dependency chains): run on threads with
    // room for it rather than the default 2 MiB.
    let pool = rayon::ThreadPoolBuilder::new()
        .stack_size(256 << 20)
        .build()
        .map_err(|e| CrawlError::Pool(e.to_string()))?;
    pool.install(|| crawl_in_pool(opts, progress))
}

fn crawl_in_pool(
    opts: &CrawlOptions,
    progress: &(dyn Fn(u64, u64) + Sync),
) -> Result<CrawlOutput, CrawlError> {
    let repo_dir = tree::open_or_clone(&opts.repo, &opts.cache_dir)?;
    let (commit, secs, _) = tree::resolve(&repo_dir, &opts.rev)?;
    let mut t = Tree::load(&repo_dir, commit)?;
    let mut diags: Vec<Diagnostic> = Vec::new();

    // Make evaluation, as slave.mk does it.
    let mut vars = opts
        .platform
        .as_ref()
        .map(|p| p.make.clone())
        .filter(|m| !m.is_empty())
        .unwrap_or_else(default_make_vars);
    let (db, mut scope) = {
        let handles = t.open_all();
        let files = tree::TreeFiles {
            tree: &t,
            handles: &handles,
        };
        // The user's `make NAME=VALUE`, as `Makefile.work` hands it to `slave.mk`.
        vars.extend(makework::slave_vars(&opts.make_vars, &files));
        let mut ev = Evaluator::new(None, Some(&files));
        for (k, v) in &vars {
            ev.db.set_command_line(k, v);
        }
        let mut sink = Sink::new("slave.mk");
        if t.get("slave.mk").is_some() {
            ev.include("slave.mk", &mut sink);
        } else {
            for f in ["rules/config", "rules/functions"] {
                ev.include(f, &mut sink);
            }
            for f in t.glob("rules/*.mk") {
                ev.include(&f, &mut sink);
            }
        }
        diags.append(&mut sink.diags);
        let scope = match (&opts.platform, opts.all) {
            (Some(p), false) => {
                let mut dirs: Vec<String> = p.device_dir.iter().cloned().collect();
                dirs.extend(p.platform_module_dir.iter().cloned());
                Some(scope::compute(&mut ev, &p.image_target, &p.suites, &dirs))
            }
            _ => None,
        };
        (ev.db, scope)
    };

    // Submodules: the root's declarations, and nested ones in the
    // `.gitmodules` of the submodule that encloses them.
    let mut gm_sink = Sink::new(".gitmodules");
    let root_modules = match t.get(".gitmodules") {
        Some(e) => match t.read(e) {
            Ok(b) => gitmodules::parse(&text::decode(&b).0, &mut gm_sink),
            Err(m) => {
                gm_sink.error(1, format!("cannot read: {m}"), None);
                Vec::new()
            }
        },
        None => Vec::new(),
    };
    let decls: HashMap<String, gitmodules::Submodule> = root_modules
        .iter()
        .map(|s| (s.path.clone(), s.clone()))
        .collect();
    let find_decl = |tree: &Tree, path: &str| -> (String, Option<gitmodules::Submodule>) {
        let enclosing: Vec<&str> = tree
            .gitlinks
            .iter()
            .filter(|g| g.resolved.is_some())
            .map(|g| g.path.as_str())
            .collect();
        let (file, rel) = gitmodules::declared_in(path, &enclosing);
        if file == ".gitmodules" {
            let d = decls.get(path).cloned();
            return (file, d);
        }
        let d = tree
            .get(&file)
            .and_then(|e| tree.read(e).ok())
            .and_then(|b| {
                let mut s = Sink::new(&file);
                gitmodules::parse(&text::decode(&b).0, &mut s)
                    .into_iter()
                    .find(|m| m.path == rel)
            });
        (file, d)
    };
    let nested_decl = |tree: &Tree, path: &str| -> Option<(String, String)> {
        find_decl(tree, path).1.map(|m| (m.name, m.url))
    };
    let wanted = |p: &str| scope.as_ref().is_none_or(|s| s.touches(p));
    let clone_cache = opts.clone_submodules.then_some(opts.cache_dir.as_path());
    t.attach_submodules(
        opts.submodules.as_deref(),
        clone_cache,
        &nested_decl,
        &wanted,
    );

    let mut deps: Vec<Dependency> = Vec::new();
    let mut submodules = Vec::new();
    for link in &t.gitlinks {
        if !wanted(&link.path) {
            continue;
        }
        let (gm_file, decl) = find_decl(&t, &link.path);
        let decl = decl.as_ref();
        let (file, line) = match decl {
            Some(d) => (gm_file.clone(), d.line),
            None => (link.path.clone(), 0),
        };
        let origin = Origin {
            file: file.clone(),
            line,
        };
        let ctxs = contexts_for(&scope, &link.path);
        match decl {
            Some(d) => {
                for c in &ctxs {
                    let mut attrs = BTreeMap::new();
                    attrs.insert("path".to_string(), d.path.clone());
                    attrs.insert("submodule".to_string(), d.name.clone());
                    if let Some(b) = &d.branch {
                        attrs.insert("branch".to_string(), b.clone());
                    }
                    deps.push(Dependency {
                        ecosystem: Ecosystem::Git,
                        name: d.url.clone(),
                        constraint: Constraint::Exact(link.commit.to_string()),
                        pinned: true,
                        origin: origin.clone(),
                        context: c.clone(),
                        attrs,
                    });
                }
            }
            None => diags.push(Diagnostic {
                severity: Severity::Warning,
                origin: origin.clone(),
                message: format!(
                    "gitlink {} at {} is not declared in {gm_file}",
                    link.path, link.commit
                ),
                text: None,
            }),
        }
        if let Some(reason) = &link.missing {
            diags.push(Diagnostic {
                severity: Severity::Error,
                origin: origin.clone(),
                message: format!(
                    "submodule {} at {} could not be read ({reason}); its files were not crawled",
                    link.path, link.commit
                ),
                text: decl.map(|d| d.url.clone()),
            });
        }
        submodules.push(SubmoduleStatus {
            path: link.path.clone(),
            commit: link.commit.to_string(),
            crawled: link.resolved.is_some(),
            reason: link.missing.clone(),
        });
    }
    diags.append(&mut gm_sink.diags);

    // Images the tree builds itself are not external base images.
    let mut image_dirs: BTreeMap<String, String> = BTreeMap::new();
    for f in &t.files {
        let parts: Vec<&str> = f.path.split('/').collect();
        match parts.as_slice() {
            ["dockers", d, _, ..] | ["platform", _, d, _, ..] | [d, _, ..]
                if d.starts_with("docker-")
                    || (parts.len() == 2 && d.starts_with("sonic-slave-")) =>
            {
                let dir = f.path[..f.path.len() - parts[parts.len() - 1].len() - 1].to_string();
                let dir = match dir.find(*d) {
                    Some(i) => dir[..i + d.len()].to_string(),
                    None => dir,
                };
                image_dirs.entry((*d).to_string()).or_insert(dir);
            }
            _ => {}
        }
    }
    let local_images: BTreeSet<String> = image_dirs.keys().cloned().collect();
    if let Some(s) = scope.as_mut() {
        let handles = t.open_all();
        let files = tree::TreeFiles {
            tree: &t,
            handles: &handles,
        };
        s.resolve(&files, &image_dirs);
    }
    let mut host_env: HashMap<String, String> = HashMap::new();
    {
        let mut e = Evaluator::new(Some(&db), None);
        for name in &db.exported {
            let v = e.value(name);
            host_env.insert(name.clone(), v.trim().to_string());
        }
    }
    if let Some(s) = &scope {
        host_env.extend(s.image_env.iter().map(|(k, v)| (k.clone(), v.clone())));
    }
    let env = Env {
        db: &db,
        local_images,
        host_env,
    };

    // Select files with their contexts: what the build reads, or everything with --all.
    let mut jobs: Vec<(&tree::FileEntry, Kind, Vec<Context>)> = Vec::new();
    let mut provenance: BTreeMap<String, Provenance> = BTreeMap::new();
    match scope.as_mut() {
        Some(s) => {
            for (path, (ctxs, prov)) in &mut s.files {
                if let (Some(kind), Some(e)) = (kind_of(path), t.get(path)) {
                    prov.crawled = true;
                    jobs.push((e, kind, ctxs.iter().cloned().collect()));
                }
                provenance.insert(path.clone(), prov.clone());
            }
        }
        None => {
            for f in &t.files {
                if let Some(kind) = kind_of(&f.path) {
                    jobs.push((f, kind, vec![scope::context_for_all(&f.path)]));
                }
            }
        }
    }
    let total = jobs.len() as u64;
    let done = AtomicU64::new(0);
    let results: Vec<Sink> = jobs
        .par_iter()
        .map_init(
            || t.open_all(),
            |handles, (e, kind, ctxs)| {
                let mut sink = Sink::new(&e.path);
                match Tree::read_with(handles, e) {
                    Ok(bytes) => {
                        // A bug in a parser (or a crate it uses) must not lose the
                        // whole crawl: the file is reported and the rest goes on.
                        let mut inner = Sink::new(&e.path);
                        let ok = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                            parse_file(*kind, &e.path, &bytes, ctxs, &env, &t, handles, &mut inner)
                        }));
                        match ok {
                            Ok(()) => sink = inner,
                            Err(_) => sink.error(
                                1,
                                "internal error while parsing this file; it was skipped",
                                None,
                            ),
                        }
                    }
                    Err(m) => sink.error(1, format!("cannot read blob: {m}"), None),
                }
                let n = done.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_multiple_of(64) || n == total {
                    progress(n, total);
                }
                sink
            },
        )
        .collect();
    let files_parsed = results.len();
    let mut apt_sources = Vec::new();
    for mut s in results {
        deps.append(&mut s.deps);
        diags.append(&mut s.diags);
        apt_sources.append(&mut s.apt_sources);
    }

    // Downloads declared in make rules (`$(X)_URL`, SONIC_ONLINE_DEBS/FILES).
    let urls = match &scope {
        Some(s) => s.urls.clone(),
        None => all_urls(&db),
    };
    for (target, url, origin, ctx) in urls {
        let origin = origin.unwrap_or(Origin {
            file: "rules".to_string(),
            line: 0,
        });
        let mut s = Sink::new(&origin.file);
        shell::record_url(
            &url,
            origin.line,
            &ctx,
            text::attrs([("target", target.as_str()), ("via", "_URL")]),
            &mut s,
        );
        deps.append(&mut s.deps);
        diags.append(&mut s.diags);
    }

    // A build dependency under a `<profile>` restriction holds or not by the
    // profiles the dpkg-buildpackage run that reads its control activates.
    if let Some(s) = &scope {
        for d in &mut deps {
            if let Some(active) = s.profiles.get(&d.origin.file) {
                let list: Vec<&str> = active.iter().map(String::as_str).collect();
                d.attrs.insert("build_profiles".to_string(), list.join(" "));
            }
        }
    }

    // The images as SONiC builds them (FROM chains, built debs and wheels).
    let graph = scope.as_ref().map(|s| {
        let handles = t.open_all();
        let reader = images::TreeReader {
            tree: &t,
            handles: &handles,
        };
        let mut found = images::compute(&db, s, &reader, &mut deps);
        deps.append(&mut found.deps);
        diags.append(&mut found.diags);
        found.graph
    });
    names::drop_bad_debian_names(&mut deps, &mut diags);
    let mut manifest = Manifest::new(
        match (&opts.platform, opts.all) {
            (Some(p), false) => p.name.clone(),
            _ => "all".to_string(),
        },
        commit.to_string(),
        crate::date::rfc3339_secs(secs),
        deps,
        diags,
    );
    manifest.images = graph.unwrap_or_default();
    manifest.set_make_vars(opts.make_vars.clone());
    manifest.apt_sources = apt_sources;
    manifest.normalize();
    Ok(CrawlOutput {
        manifest,
        slaves: scope
            .as_ref()
            .map(|s| s.slaves.iter().cloned().collect())
            .unwrap_or_default(),
        targets: scope
            .as_ref()
            .map(|s| s.targets.keys().cloned().collect())
            .unwrap_or_default(),
        files_parsed,
        submodules,
        provenance,
    })
}

fn contexts_for(scope: &Option<Scope>, path: &str) -> Vec<Context> {
    match scope {
        Some(s) => match s.contexts(path) {
            Some(c) => c.into_iter().collect(),
            // A submodule containing scoped paths: use the contexts below it.
            None => {
                let prefix = format!("{path}/");
                let mut out: BTreeSet<Context> = BTreeSet::new();
                for (k, v) in s.paths.range(prefix.clone()..) {
                    if !k.starts_with(&prefix) {
                        break;
                    }
                    out.extend(v.iter().cloned());
                }
                out.into_iter().collect()
            }
        },
        None => vec![scope::context_for_all(path)],
    }
}

fn all_urls(db: &MakeDb) -> Vec<(String, String, Option<Origin>, Context)> {
    let mut out = Vec::new();
    let mut names: Vec<&String> = db
        .vars
        .keys()
        .filter(|k| k.ends_with("_URL") && k.len() > 4)
        .collect();
    names.sort();
    for k in names {
        let target = &k[..k.len() - 4];
        // Only target attributes (`<file>_URL`), not settings like `PACKAGE_URL_PREFIX`.
        if !target.contains('.') {
            continue;
        }
        let mut e = Evaluator::new(Some(db), None);
        let v = e.value(k);
        let v = v.trim().trim_matches('"').trim_matches('\'');
        if v.is_empty() {
            continue;
        }
        let origin = db.vars.get(k).and_then(|x| x.origin.clone());
        out.push((
            target.to_string(),
            v.to_string(),
            origin,
            Context {
                image: Some("sonic-slave".to_string()),
                ..Context::default()
            },
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn parse_file(
    kind: Kind,
    path: &str,
    bytes: &[u8],
    ctxs: &[Context],
    env: &Env<'_>,
    t: &Tree,
    handles: &[Option<git2::Repository>],
    sink: &mut Sink,
) {
    if kind == Kind::MaybeScript {
        let is_script = bytes.starts_with(b"#!") && {
            let first = bytes.split(|&b| b == b'\n').next().unwrap_or(b"");
            let first = String::from_utf8_lossy(first);
            first.contains("sh") && !first.contains("python") && !first.contains("perl")
        };
        if !is_script {
            return;
        }
    }
    if text::is_binary(bytes) {
        sink.warn(
            1,
            format!("binary file where a {kind:?} was expected; skipped"),
            None,
        );
        return;
    }
    let (text, utf8) = text::decode(bytes);
    if !utf8 {
        sink.warn(
            1,
            "file is not valid UTF-8; invalid bytes were replaced with U+FFFD",
            None,
        );
    }
    // Parse once in a neutral context, then place the result in each build context.
    let base = Context::default();
    let host = ctxs
        .iter()
        .any(|c| c.image.as_deref() == Some("host-image"));
    let empty = HashMap::new();
    let shell_env = if host { &env.host_env } else { &empty };
    let host_vars = HostVars {
        env: shell_env,
        db: DbVars { db: env.db },
    };
    let mut s = Sink::new(path);
    match kind {
        Kind::Dockerfile => {
            let rendered = if path.ends_with(".j2") {
                jinja::render(&text, &DbVars { db: env.db }, &mut s)
            } else {
                text.to_string()
            };
            dockerfile::parse(&rendered, &base, &env.local_images, &mut s);
        }
        Kind::ShellTemplate => {
            let rendered = jinja::render(&text, &host_vars, &mut s);
            shell_file(&rendered, shell_env, &base, &mut s);
        }
        Kind::Shell | Kind::MaybeScript => shell_file(&text, shell_env, &base, &mut s),
        Kind::Makefile => {
            let files = tree::TreeFiles { tree: t, handles };
            let dir = path.rfind('/').map_or("", |i| &path[..i]);
            makefile(&text, env.db, &files, dir, &base, &mut s);
        }
        Kind::SetupPy => python::setup_py(&text, &base, &mut s),
        Kind::Requirements => python::requirements_txt(&text, &base, &mut s),
        Kind::Control => debcontrol::parse(&text, &base, &mut s),
        Kind::GoMod => {
            let sum_path = format!("{}go.sum", &path[..path.len() - "go.mod".len()]);
            let sums = t
                .get(&sum_path)
                .and_then(|e| Tree::read_with(handles, e).ok())
                .map(|b| gomod::sum_hashes(&String::from_utf8_lossy(&b)));
            gomod::parse(&text, sums.as_ref(), &base, &mut s);
        }
    }
    sink.diags.append(&mut s.diags);
    for c in ctxs {
        for a in &s.apt_sources {
            sink.apt_sources.push(aptsources::place(a, c));
        }
        for d in &s.deps {
            let mut d = d.clone();
            d.context.image = d.context.image.or_else(|| c.image.clone());
            d.context.suite = d.context.suite.or_else(|| c.suite.clone());
            d.context.arch = d.context.arch.or_else(|| c.arch.clone());
            d.context.python = d.context.python.or_else(|| c.python.clone());
            sink.deps.push(d);
        }
    }
}

fn shell_file(text: &str, env: &HashMap<String, String>, ctx: &Context, sink: &mut Sink) {
    let mut st = shell::ShellState {
        vars: env.clone(),
        ..shell::ShellState::default()
    };
    for l in text::logical_lines(text) {
        if l.unterminated {
            sink.warn(
                l.line,
                "line continuation runs into end of file",
                Some(&l.text),
            );
        }
    }
    shell::scan(text, 1, &mut st, ctx, sink);
}

/// A package Makefile: evaluated over the global variables; each recipe line
/// is expanded (unknown variables kept verbatim) and scanned as shell.
fn makefile(
    text: &str,
    db: &MakeDb,
    files: &dyn make::Files,
    dir: &str,
    ctx: &Context,
    sink: &mut Sink,
) {
    let mut ev = Evaluator::new(Some(db), Some(files));
    ev.cwd = dir.to_string();
    ev.eval_text(text, sink);
    ev.keep_undefined = true;
    let rules = ev.db.rules.clone();
    let mut st = shell::ShellState::default();
    for r in &rules {
        for (line, raw) in &r.recipe {
            let body = raw.trim_start().trim_start_matches(['@', '-', '+']);
            ev.unknown.clear();
            let expanded = ev.expand(body);
            shell::scan(&expanded, *line, &mut st, ctx, sink);
        }
    }
}
