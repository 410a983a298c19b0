//! The images as SONiC builds them: each image's `FROM` parent (or the Debian
//! base a root image starts from), the tree's own debs and wheels it installs,
//! and what those bring in. A built deb's `Depends` join the transactions of
//! the image that installs it (`install_debian_packages` runs `dpkg -i` then
//! `apt-get -f install`); a built wheel's `install_requires` join the pip
//! problem of the images that install it, not the slave's own, which gets what
//! building needs: `setup_requires`, PEP 517 build requirements,
//! `tests_require` when the build runs the wheel's tests, and per building
//! target (`build-run`) the `install_requires` its recipe's `pip install .`
//! leaves in the slave.

use super::debcontrol;
use super::make::{Evaluator, MakeDb, words};
use super::python;
use super::scope::Scope;
use super::text::{Sink, attrs};
use super::tree::Tree;
use crate::manifest::images::{BaseKind, BuiltPackage, ImageGraph, ImageNode};
use crate::manifest::{Constraint, Context, Dependency, Diagnostic, Ecosystem, Origin, Severity};
use std::collections::{BTreeMap, BTreeSet};

/// The host image's name in contexts and locks.
pub const HOST_IMAGE: &str = "host-image";

/// Reads files of the crawled tree.
pub trait ReadFile {
    /// The text of `path`, or `None` when the tree has no such file.
    fn read(&self, path: &str) -> Option<String>;
    /// Tree paths matching a glob (`*` within one component), sorted.
    fn glob(&self, pattern: &str) -> Vec<String>;
}

/// A tree and its opened repositories.
pub struct TreeReader<'a> {
    /// The tree.
    pub tree: &'a Tree,
    /// Its repositories, as `Tree::open_all` gives them.
    pub handles: &'a [Option<git2::Repository>],
}

impl ReadFile for TreeReader<'_> {
    fn read(&self, path: &str) -> Option<String> {
        let e = self.tree.get(path)?;
        let bytes = Tree::read_with(self.handles, e).ok()?;
        Some(super::text::decode(&bytes).0.into_owned())
    }

    fn glob(&self, pattern: &str) -> Vec<String> {
        self.tree.glob(pattern)
    }
}

/// What [`compute`] found: the graph, and the manifest entries it adds.
#[derive(Debug, Default)]
pub struct Images {
    /// Every image by name.
    pub graph: ImageGraph,
    /// Built debs' Depends, dbg images' packages, PEP 517 build requirements.
    pub deps: Vec<Dependency>,
    /// What could not be read.
    pub diags: Vec<Diagnostic>,
}

/// A wheel an image installs: its `setup.py` and interpreter.
struct Wheel {
    setup: String,
    python: String,
}

struct Ctx<'a, 'r> {
    db: &'a MakeDb,
    ev: Evaluator<'a>,
    files: &'r dyn ReadFile,
    out: Images,
}

impl Ctx<'_, '_> {
    fn value(&mut self, name: &str) -> String {
        self.ev.value(name).trim().to_string()
    }

    /// `$(call expand,LIST,ATTR)`: the list and, transitively, each entry's `<entry>_<ATTR>`.
    fn expand(&mut self, list: &str, attr: &str) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        let mut work: Vec<String> = words(list).map(str::to_string).collect();
        work.reverse();
        let mut seen = BTreeSet::new();
        while let Some(w) = work.pop() {
            if !seen.insert(w.clone()) {
                continue;
            }
            let more = self.value(&format!("{w}_{attr}"));
            let mut m: Vec<String> = words(&more).map(str::to_string).collect();
            m.reverse();
            out.push(w);
            work.extend(m);
        }
        out
    }

    fn warn(&mut self, origin: Origin, message: String) {
        self.out.diags.push(Diagnostic {
            severity: Severity::Warning,
            origin,
            message,
            text: None,
        });
    }

    /// The first `FROM` of an image's Dockerfile: the reference and its line.
    fn dockerfile_from(&self, dir: &str) -> Option<(String, String, u32)> {
        ["Dockerfile.j2", "Dockerfile"].iter().find_map(|name| {
            let file = format!("{dir}/{name}");
            let raw = self.files.read(&file)?;
            // Rendered as the build renders it: `{% if CONFIGURED_ARCH == "armhf" %}` picks the FROM.
            let mut sink = Sink::new(&file);
            let text = match name.ends_with(".j2") {
                true => super::jinja::render(&raw, &super::DbVars { db: self.db }, &mut sink),
                false => raw,
            };
            text.lines().enumerate().find_map(|(i, l)| {
                let rest = l.trim_start();
                let args = rest
                    .get(..5)
                    .filter(|k| k.eq_ignore_ascii_case("FROM "))
                    .map(|_| &rest[5..])?;
                // `{{ prefix }}debian:bullseye`: templates go before words are split.
                let args = strip_templates(args);
                let r = args.split_whitespace().find(|w| !w.starts_with("--"))?;
                Some((file.clone(), r.to_string(), u32::try_from(i + 1).ok()?))
            })
        })
    }

    /// The image's parent when the tree builds it, else its external base.
    fn place(&mut self, image: &str, dir: &str, local: &BTreeSet<String>, fallback: Option<&str>) {
        let from = self.dockerfile_from(dir);
        let text = ["Dockerfile.j2", "Dockerfile"]
            .iter()
            .find_map(|n| self.files.read(&format!("{dir}/{n}")));
        let node = self.out.graph.entry(image.to_string()).or_default();
        if let Some(t) = text {
            set_apt_options(node, &t, dir, self.files);
        }
        match from {
            Some((_, r, _)) => {
                let stem = image_stem(&r);
                if local.contains(&stem) {
                    node.parent = Some(stem);
                } else {
                    node.base = Some(BaseKind::Minbase);
                    node.from = Some(strip_templates(&r));
                }
            }
            None => match fallback {
                Some(p) => node.parent = Some(p.to_string()),
                None => node.base = Some(BaseKind::Minbase),
            },
        }
    }
}

/// `{{ prefix }}debian:bullseye` -> `debian:bullseye`.
fn strip_templates(r: &str) -> String {
    let mut out = String::new();
    let mut rest = r;
    while let Some(i) = rest.find("{{") {
        out.push_str(&rest[..i]);
        match rest[i..].find("}}") {
            Some(j) => rest = &rest[i + j + 2..],
            None => {
                rest = "";
            }
        }
    }
    out.push_str(rest);
    out
}

/// `docker-config-engine-bullseye-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}` -> `docker-config-engine-bullseye`.
fn image_stem(r: &str) -> String {
    let name = r.split("-{{").next().unwrap_or(r);
    let name = strip_templates(name);
    let name = name.split(['@', ':']).next().unwrap_or(&name).to_string();
    let name = name.rsplit('/').next().unwrap_or(&name);
    name.trim_end_matches('-').to_string()
}

/// A built package's Debian name: the deb file name up to its first `_`.
fn deb_package(target: &str) -> &str {
    target.split('_').next().unwrap_or(target)
}

/// The image graph of a scoped crawl, and the dependencies it implies.
/// `deps` (the parsers' results) is rewritten in place: `install_requires` of
/// a wheel move from the slave that builds it to the images that install it.
pub fn compute(
    db: &MakeDb,
    scope: &Scope,
    files: &dyn ReadFile,
    deps: &mut Vec<Dependency>,
) -> Images {
    let mut c = Ctx {
        db,
        ev: Evaluator::new(Some(db), None),
        files,
        out: Images::default(),
    };
    let primary = scope
        .contexts("build_debian.sh")
        .and_then(|s| s.into_iter().find_map(|c| c.suite))
        .unwrap_or_else(|| "bullseye".to_string());
    // Image name -> (make target, suite).
    let mut dockers: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (t, suites) in &scope.targets {
        let Some(stem) = t.strip_suffix(".gz") else {
            continue;
        };
        let main = stem.strip_suffix("-dbg").map(|s| format!("{s}.gz"));
        let path = c.value(&format!("{}_PATH", main.as_deref().unwrap_or(t)));
        let dir = path.trim_end_matches('/');
        let Some(base_image) = dir.rsplit('/').next().filter(|d| !d.is_empty()) else {
            continue;
        };
        let image = match &main {
            Some(_) => format!("{base_image}-dbg"),
            None => base_image.to_string(),
        };
        let suite = suites.iter().next().cloned().unwrap_or(primary.clone());
        dockers.insert(image, (t.clone(), suite));
    }
    let local: BTreeSet<String> = dockers.keys().cloned().collect();
    let mut wheels: BTreeMap<String, Vec<(String, Wheel)>> = BTreeMap::new();
    let mut built_debs: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (image, (t, suite)) in &dockers {
        let mut debs;
        if let Some(main) = t.strip_suffix("-dbg.gz").map(|s| format!("{s}.gz")) {
            let node = c.out.graph.entry(image.clone()).or_default();
            node.parent = image.strip_suffix("-dbg").map(str::to_string);
            let list = c.value(&format!("{main}_DBG_DEPENDS"));
            debs = c.expand(&list, "RDEPENDS");
            // The dbg image's own apt packages (`_DBG_IMAGE_PACKAGES`).
            let var = format!("{main}_DBG_IMAGE_PACKAGES");
            let origin = c.ev.var(&var).and_then(|v| v.origin.clone());
            let pkgs = c.value(&var);
            let origin = origin.unwrap_or(Origin {
                file: "rules".into(),
                line: 0,
            });
            let mut s = Sink::new(&origin.file);
            for p in words(&pkgs) {
                s.dep(
                    Ecosystem::Deb,
                    p,
                    crate::manifest::Constraint::None,
                    origin.line,
                    context(image, suite, None),
                    attrs([("via", "_DBG_IMAGE_PACKAGES")]),
                );
            }
            c.out.deps.append(&mut s.deps);
        } else {
            let dir = c.value(&format!("{t}_PATH"));
            let fallback = words(&c.value(&format!("{t}_LOAD_DOCKERS")))
                .next()
                .and_then(|d| d.strip_suffix(".gz"))
                .map(str::to_string);
            c.place(
                image,
                dir.trim_end_matches('/'),
                &local,
                fallback.as_deref(),
            );
            let list = c.value(&format!("{t}_DEPENDS"));
            debs = c.expand(&list, "RDEPENDS");
            let py_debs = c.value(&format!("{t}_PYTHON_DEBS"));
            debs.extend(words(&py_debs).map(str::to_string));
            let whls = c.value(&format!("{t}_PYTHON_WHEELS"));
            let list: Vec<String> = words(&whls).map(str::to_string).collect();
            for w in list {
                let wheel = wheel_of(&mut c, &w);
                wheels.entry(image.clone()).or_default().push((w, wheel));
            }
        }
        c.out.graph.entry(image.clone()).or_default().suite = Some(suite.clone());
        built_debs.insert(image.clone(), debs);
    }
    for s in &scope.slaves {
        let image = format!("sonic-slave-{s}");
        c.place(&image, &image, &local, None);
        c.out.graph.entry(image).or_default().suite = Some(s.clone());
    }
    // The host image: debootstrap, then the installer's debs and wheels.
    {
        let text = c.files.read("build_debian.sh");
        let node = c.out.graph.entry(HOST_IMAGE.to_string()).or_default();
        node.base = Some(BaseKind::Debootstrap);
        if let Some(t) = text {
            set_apt_options(node, &t, "", c.files);
        }
        node.suite = Some(primary.clone());
        let mut debs = Vec::new();
        // `lazy_installer_debs` are installed at first boot, on their device only.
        for k in ["installer_debs", "python_swss_debs"] {
            for w in scope
                .image_env
                .get(k)
                .map(|v| words(v))
                .into_iter()
                .flatten()
            {
                let file = w.rsplit('/').next().unwrap_or(w);
                if file.ends_with(".deb") && !debs.iter().any(|d| d == file) {
                    debs.push(file.to_string());
                }
            }
        }
        built_debs.insert(HOST_IMAGE.to_string(), debs);
        let host_wheels: Vec<String> = scope
            .image_env
            .iter()
            .filter(|(k, _)| k.ends_with("_wheel_path"))
            .flat_map(|(_, v)| words(v).map(str::to_string).collect::<Vec<_>>())
            .filter_map(|w| w.rsplit('/').next().map(str::to_string))
            .filter(|w| w.ends_with(".whl"))
            .collect();
        for w in host_wheels {
            let wheel = wheel_of(&mut c, &w);
            wheels
                .entry(HOST_IMAGE.to_string())
                .or_default()
                .push((w, wheel));
        }
    }
    debs_depends(&mut c, &built_debs, scope);
    for (image, list) in &wheels {
        let node = c.out.graph.entry(image.clone()).or_default();
        for (target, w) in list {
            node.wheels.push(BuiltPackage {
                target: target.clone(),
                source: Some(w.setup.clone()),
            });
        }
    }
    move_wheel_requirements(&mut c, &wheels, deps, scope);
    c.out
}

fn context(image: &str, suite: &str, python: Option<&str>) -> Context {
    Context {
        image: Some(image.to_string()),
        suite: Some(suite.to_string()),
        python: python.map(str::to_string),
        ..Context::default()
    }
}

fn wheel_of(c: &mut Ctx<'_, '_>, target: &str) -> Wheel {
    let src = c.value(&format!("{target}_SRC_PATH"));
    let version = c.value(&format!("{target}_PYTHON_VERSION"));
    let python = match version.as_str() {
        "2" => "py2",
        "3" => "py3",
        _ if target.contains("-py2") => "py2",
        _ => "py3",
    };
    Wheel {
        setup: format!("{}/setup.py", src.trim_end_matches('/')),
        python: python.to_string(),
    }
}

/// The `debian/control` a built deb comes from: its own source path, or its main deb's.
fn control_of(c: &mut Ctx<'_, '_>, target: &str) -> Option<String> {
    let mut t = target.to_string();
    for _ in 0..4 {
        let src = c.value(&format!("{t}_SRC_PATH"));
        if !src.is_empty() {
            return Some(format!("{}/debian/control", src.trim_end_matches('/')));
        }
        let main = c.value(&format!("{t}_MAIN_DEB"));
        if main.is_empty() || main == t {
            return None;
        }
        t = main;
    }
    None
}

/// A source path whose `debian/` is one directory down (`src/sonic-frr`,
/// whose Makefile runs `dpkg-buildpackage` in the `frr` submodule): the
/// `<src>/*/debian/control` with a paragraph that builds `package`.
fn nested_control(files: &dyn ReadFile, control: &str, package: &str) -> Option<String> {
    let src = control.strip_suffix("/debian/control")?;
    files
        .glob(&format!("{src}/*/debian/control"))
        .into_iter()
        .find(|p| {
            files
                .read(p)
                .is_some_and(|t| debcontrol::builds(&t, package))
        })
}

/// Each image's built debs, with their `Depends` in one transaction of the image.
fn debs_depends(c: &mut Ctx<'_, '_>, built_debs: &BTreeMap<String, Vec<String>>, scope: &Scope) {
    let mut built: BTreeSet<String> = scope
        .targets
        .keys()
        .filter(|t| t.ends_with(".deb"))
        .map(|t| deb_package(t).to_string())
        .collect();
    built.extend(
        built_debs
            .values()
            .flatten()
            .map(|t| deb_package(t).to_string()),
    );
    let mut unread: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for (image, debs) in built_debs {
        let suite = c
            .out
            .graph
            .get(image)
            .and_then(|n| n.suite.clone())
            .unwrap_or_default();
        for target in debs {
            let pkg = deb_package(target);
            let mut control = control_of(c, target);
            if let Some(path) = &control
                && c.files.read(path).is_none()
            {
                control = nested_control(c.files, path, pkg).or(control);
            }
            let text = control.as_deref().and_then(|p| c.files.read(p));
            let source = match (&control, text) {
                (Some(path), Some(text)) => {
                    let mut s = Sink::new(path);
                    let mut ctx = context(image, &suite, None);
                    ctx.transaction = Some(0);
                    if debcontrol::binary_depends(&text, pkg, &built, &ctx, &mut s) {
                        for mut d in s.deps {
                            d.attrs.insert("installed-by".into(), target.clone());
                            c.out.deps.push(d);
                        }
                        // What dpkg-shlibdeps adds is not in the control: the
                        // archive's build of the same package says it.
                        if debcontrol::takes_shlibs(&text, pkg)
                            && let Some(mut d) = archive_twin(c, target, image, &suite)
                        {
                            d.attrs.insert("only".into(), "libraries".into());
                            c.out.deps.push(d);
                        }
                        c.out.diags.append(&mut s.diags);
                        Some(path.clone())
                    } else if pkg.ends_with("-dbgsym") {
                        // debhelper makes it from the package it strips, its only Depends.
                        Some(path.clone())
                    } else {
                        c.warn(
                            Origin {
                                file: path.clone(),
                                line: 1,
                            },
                            format!(
                                "{image} installs {target}, but no paragraph of this file builds {pkg}: its Depends are not known"
                            ),
                        );
                        None
                    }
                }
                _ => {
                    unread
                        .entry(target.clone())
                        .or_default()
                        .push(image.clone());
                    if let Some(d) = archive_twin(c, target, image, &suite) {
                        c.out.deps.push(d);
                    }
                    None
                }
            };
            let node = c.out.graph.entry(image.clone()).or_default();
            node.debs.push(BuiltPackage {
                target: target.clone(),
                source,
            });
        }
    }
    // Downloaded sources and online debs: their control is not in the tree.
    for (target, images) in unread {
        let origin = target_origin(c, &target);
        c.warn(
            origin,
            format!(
                "{target} is installed into {} but its debian/control is not in the tree: its Depends are taken from the archive's binary package of that name (at its version when the archive has it), when there is one",
                images.join(", ")
            ),
        );
    }
}

/// Where a deb target is declared: its `_SRC_PATH` (a built one) or `_URL`
/// (one downloaded) assignment, or its main deb's when a `$(eval)` derived
/// it (`add_derived_package`); else `rules`.
fn target_origin(c: &mut Ctx<'_, '_>, target: &str) -> Origin {
    let mut t = target.to_string();
    for _ in 0..4 {
        let found = ["_SRC_PATH", "_URL"].iter().find_map(|s| {
            c.ev.var(&format!("{t}{s}"))
                .and_then(|v| v.origin.clone())
                .filter(|o| o.line > 0 && o.file != "(eval)")
        });
        if let Some(o) = found {
            return o;
        }
        let main = c.value(&format!("{t}_MAIN_DEB"));
        if main.is_empty() || main == t {
            break;
        }
        t = main;
    }
    Origin {
        file: "rules".into(),
        line: 0,
    }
}

/// A tree-built deb whose `debian/control` the tree does not hold is, for
/// nearly every such target, a Debian source package rebuilt with a patch
/// (`dget` of the same version: `libsnmp40_5.9+dfsg-4+deb11u1`,
/// `iptables_1.8.7-1`): the archive's binary package of the same name says
/// what it depends on. The entry asks the solve for that package's Depends
/// (`field=archive-depends`, the version from the target's file name), not
/// for the package itself, which the tree builds. `-dbgsym` packages depend
/// only on the package they strip and are left out. A deb whose control is
/// in the tree but whose Depends take `${shlibs:Depends}` gets an entry
/// marked `only=libraries`: the archive's build shows which shared libraries
/// the same program links.
fn archive_twin(c: &mut Ctx<'_, '_>, target: &str, image: &str, suite: &str) -> Option<Dependency> {
    let name = deb_package(target);
    let version = target
        .trim_end_matches(".deb")
        .split('_')
        .nth(1)
        .filter(|v| !v.is_empty());
    if name.ends_with("-dbgsym") || crate::manifest::check_name(Ecosystem::Deb, name).is_err() {
        return None;
    }
    let mut ctx = context(image, suite, None);
    ctx.transaction = Some(0);
    let constraint = match version {
        Some(v) if v.parse::<debversion::Version>().is_ok() => Constraint::Exact(v.to_string()),
        _ => Constraint::None,
    };
    Some(Dependency {
        ecosystem: Ecosystem::Deb,
        name: name.to_string(),
        pinned: false,
        constraint,
        origin: target_origin(c, target),
        context: ctx,
        attrs: attrs([("field", "archive-depends"), ("installed-by", target)]),
    })
}

/// A wheel's `install_requires` go to the images that install it and, tagged
/// `build-run` with each wheel target whose build pip-installs them, to that
/// target's slave (those of a `setup.py` neither installed nor built as a
/// wheel stay where they were); the slave keeps what building it needs. `tests_require` counts for the slave
/// when the build runs the wheel's tests (`<wheel>_TEST` is not `n` and
/// `BUILD_SKIP_TEST` is not `y`); PEP 517 `build-system.requires` always does.
fn move_wheel_requirements(
    c: &mut Ctx<'_, '_>,
    wheels: &BTreeMap<String, Vec<(String, Wheel)>>,
    deps: &mut Vec<Dependency>,
    scope: &Scope,
) {
    // setup.py -> the images installing it, with their suite and interpreter.
    let mut installers: BTreeMap<&str, BTreeSet<(String, String, String)>> = BTreeMap::new();
    for (image, list) in wheels {
        let suite = c
            .out
            .graph
            .get(image)
            .and_then(|n| n.suite.clone())
            .unwrap_or_default();
        for (_, w) in list {
            installers.entry(w.setup.as_str()).or_default().insert((
                image.clone(),
                suite.clone(),
                w.python.clone(),
            ));
        }
    }
    let builders = wheel_builders(c, scope);
    let skip_tests = c.value("BUILD_SKIP_TEST") == "y";
    // setup.py of wheel targets the build tests.
    let mut tested: BTreeMap<String, String> = BTreeMap::new();
    let mut pep517: BTreeMap<String, (String, String)> = BTreeMap::new();
    for (t, suites) in &scope.targets {
        if !t.ends_with(".whl") {
            continue;
        }
        let w = wheel_of(c, t);
        let suite = suites.iter().next().cloned().unwrap_or_default();
        if !skip_tests && c.value(&format!("{t}_TEST")) != "n" {
            tested.insert(w.setup.clone(), t.clone());
        }
        let dir = w.setup.trim_end_matches("setup.py").to_string();
        pep517.insert(format!("{dir}pyproject.toml"), (suite, w.python));
    }
    let old = std::mem::take(deps);
    for mut d in old {
        let setup = d.attrs.get("setup").map(String::as_str);
        let in_slave = d
            .context
            .image
            .as_deref()
            .is_some_and(|i| i.starts_with("sonic-slave-"));
        if d.ecosystem != Ecosystem::Py || !in_slave || setup.is_none() {
            deps.push(d);
            continue;
        }
        match setup {
            Some("install_requires") => {
                let to = installers.get(d.origin.file.as_str());
                let by = builders.get(d.origin.file.as_str());
                for (image, suite, py) in to.into_iter().flatten() {
                    let mut moved = d.clone();
                    moved.context = context(image, suite, Some(py));
                    deps.push(moved);
                }
                // The build's `pip install .` (and its `_DEPENDS` wheels'
                // installs) leave them in the slave: per building target.
                for (target, suite, py) in by.into_iter().flatten() {
                    let mut built = d.clone();
                    if !suite.is_empty() {
                        built.context = context(&format!("sonic-slave-{suite}"), suite, Some(py));
                    }
                    built.attrs.insert("build-run".into(), target.clone());
                    deps.push(built);
                }
                // Neither installed nor built as a wheel (a package built some
                // other way): the slave keeps it.
                if to.is_none() && by.is_none() {
                    deps.push(d);
                }
            }
            Some("tests_require") => {
                if let Some(t) = tested.get(&d.origin.file) {
                    d.attrs.insert("tests-run".into(), t.clone());
                }
                deps.push(d);
            }
            _ => deps.push(d),
        }
    }
    for (file, (suite, py)) in pep517 {
        let Some(text) = c.files.read(&file) else {
            continue;
        };
        let mut s = Sink::new(&file);
        build_system_requires(
            &text,
            &context(&format!("sonic-slave-{suite}"), &suite, Some(&py)),
            &mut s,
        );
        c.out.deps.append(&mut s.deps);
        c.out.diags.append(&mut s.diags);
    }
    deps.sort_by(|a, b| (&a.origin, &a.name, &a.context).cmp(&(&b.origin, &b.name, &b.context)));
    deps.dedup();
}

/// `setup.py` -> the wheel targets whose build pip-installs it in their
/// slave, with the target's suite and the wheel's interpreter: a target's
/// recipe runs `pip install .` after its `_DEPENDS` wheels' `-install`
/// targets ran `pip install <wheel>`, and every one of those installs pulls
/// the `install_requires` into the slave.
fn wheel_builders(
    c: &mut Ctx<'_, '_>,
    scope: &Scope,
) -> BTreeMap<String, BTreeSet<(String, String, String)>> {
    let mut out: BTreeMap<String, BTreeSet<(String, String, String)>> = BTreeMap::new();
    for (t, suites) in &scope.targets {
        if !t.ends_with(".whl") {
            continue;
        }
        let list = c.value(&format!("{t}_DEPENDS"));
        let mut installed = vec![t.clone()];
        installed.extend(
            c.expand(&list, "DEPENDS")
                .into_iter()
                .filter(|w| w.ends_with(".whl")),
        );
        // Each slave that builds the target (a buster docker's wheels are
        // built again in the buster slave).
        let suites: Vec<String> = match suites.is_empty() {
            true => vec![String::new()],
            false => suites.iter().cloned().collect(),
        };
        for w in installed {
            let wheel = wheel_of(c, &w);
            for suite in &suites {
                out.entry(wheel.setup.clone()).or_default().insert((
                    t.clone(),
                    suite.clone(),
                    wheel.python.clone(),
                ));
            }
        }
    }
    out
}

/// A `pyproject.toml`'s `[build-system] requires`, each at its line.
pub fn build_system_requires(text: &str, ctx: &Context, sink: &mut Sink) {
    let doc: toml::Value = match toml::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            sink.warn(1, format!("unparsable pyproject.toml: {e}"), None);
            return;
        }
    };
    let Some(reqs) = doc
        .get("build-system")
        .and_then(|b| b.get("requires"))
        .and_then(|r| r.as_array())
    else {
        return;
    };
    let extra = attrs([("setup", "build-system")]);
    for r in reqs.iter().filter_map(|r| r.as_str()) {
        let line = text
            .lines()
            .position(|l| l.contains(&format!("\"{r}\"")) || l.contains(&format!("'{r}'")))
            .map_or(1, |i| u32::try_from(i + 1).unwrap_or(u32::MAX));
        python::record(sink, r, line, ctx, &extra);
    }
}

/// The apt options that `text` (an image's Dockerfile or build script) turns
/// off in its image: Recommends on install, and what autoremove keeps.
fn set_apt_options(node: &mut ImageNode, text: &str, dir: &str, files: &dyn ReadFile) {
    use super::aptconf::{
        INSTALL_RECOMMENDS, RECOMMENDS_IMPORTANT, SUGGESTS_IMPORTANT, option_off,
    };
    let off = |option| option_off(text, dir, files, option).then_some(false);
    node.install_recommends = off(INSTALL_RECOMMENDS).or(node.install_recommends);
    node.autoremove_recommends = off(RECOMMENDS_IMPORTANT).or(node.autoremove_recommends);
    node.autoremove_suggests = off(SUGGESTS_IMPORTANT).or(node.autoremove_suggests);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn image_references_lose_their_templates() {
        assert_eq!(
            image_stem("docker-config-engine-bullseye-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}"),
            "docker-config-engine-bullseye"
        );
        assert_eq!(
            strip_templates("{{ prefix }}debian:bullseye"),
            "debian:bullseye"
        );
        assert_eq!(image_stem("{{ prefix }}debian:bullseye"), "debian");
        assert_eq!(
            deb_package("libswsscommon_1.0.0_amd64.deb"),
            "libswsscommon"
        );
    }
}
