//! Which files a make target reads, and what those files run in turn.
//!
//! `slave.mk` builds a target by its kind: `make -C $(SRC_PATH)` for
//! `SONIC_MAKE_DEBS`/`SONIC_MAKE_FILES`, `dpkg-buildpackage` in the source
//! directory for `SONIC_DPKG_DEBS` (which reads `debian/control` and runs
//! `debian/rules`, whose default build runs the directory's `Makefile` or
//! `setup.py`), `setup.py` for `SONIC_PYTHON_STDEB_DEBS` and
//! `SONIC_PYTHON_WHEELS`; a source directory that is a Go module has its
//! `go.mod` read by `go build`. A docker reads its `Dockerfile.j2`, whose
//! `FROM` names the image below it. From there, a script is read when a file
//! in scope runs or sources it (`./x.sh`, `bash x`, `. x`, `j2 x.j2`,
//! `pip install -r x`, `make -C d`, `include x`, `dpkg-buildpackage` after a
//! `pushd d`); a file that is only copied somewhere is not.

use super::shell;
use super::text::normalize_path;
use std::collections::{BTreeSet, HashMap};

/// How `slave.mk` builds a target.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Build {
    /// `make -C $(SRC_PATH)` (`SONIC_MAKE_DEBS`, `SONIC_MAKE_FILES`).
    Make,
    /// `dpkg-buildpackage` in `$(SRC_PATH)` (`SONIC_DPKG_DEBS`).
    Dpkg,
    /// `python setup.py ...` in `$(SRC_PATH)` (`SONIC_PYTHON_STDEB_DEBS`, `SONIC_PYTHON_WHEELS`).
    Python,
    /// A target in none of the lists: whichever entry file its source directory has.
    Unknown,
}

/// The make lists that say how a target is built.
pub const BUILD_LISTS: [(&str, Build); 5] = [
    ("SONIC_MAKE_DEBS", Build::Make),
    ("SONIC_MAKE_FILES", Build::Make),
    ("SONIC_DPKG_DEBS", Build::Dpkg),
    ("SONIC_PYTHON_STDEB_DEBS", Build::Python),
    ("SONIC_PYTHON_WHEELS", Build::Python),
];

/// A file that something reads, found in the tree.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Read {
    /// Tree path of the file read.
    pub path: String,
    /// Directory its commands run in (for a script, the caller's directory).
    pub cwd: String,
    /// How it is read (`runs (x.sh:12)`, `read by dpkg-buildpackage`).
    pub why: String,
    /// For a `debian/control` read by `dpkg-buildpackage`: the build profiles
    /// that run activates (`-P`, `--build-profiles=`, `DEB_BUILD_PROFILES=`).
    pub profiles: Option<BTreeSet<String>>,
}

/// The build profiles a `dpkg-buildpackage` run activates: `assignments` are
/// the `VAR=value` words before the command, `args` its arguments.
pub fn build_profiles(assignments: &[&str], args: &[&str]) -> BTreeSet<String> {
    let mut lists: Vec<&str> = assignments
        .iter()
        .filter_map(|a| a.strip_prefix("DEB_BUILD_PROFILES="))
        .collect();
    let mut k = 0;
    while k < args.len() {
        let a = args[k];
        if a == "-P" || a == "--build-profiles" {
            if let Some(v) = args.get(k + 1) {
                lists.push(v);
            }
            k += 1;
        } else if let Some(v) = a
            .strip_prefix("--build-profiles=")
            .or_else(|| a.strip_prefix("-P"))
        {
            lists.push(v);
        }
        k += 1;
    }
    lists
        .iter()
        .flat_map(|l| l.trim_matches(['"', '\'']).split([',', ' ']))
        .filter(|p| !p.is_empty() && !p.contains('$'))
        .map(str::to_string)
        .collect()
}

/// The files a target of kind `build` with source directory `src` reads first.
/// `exists` says whether the tree has a path.
pub fn entry_files(build: Build, src: &str, exists: &dyn Fn(&str) -> bool) -> Vec<Read> {
    let src = normalize_path(src);
    let at = |f: &str| {
        if src.is_empty() {
            f.to_string()
        } else {
            format!("{src}/{f}")
        }
    };
    let wanted: &[(&str, &str)] = match build {
        Build::Make => &[("Makefile", "make -C"), ("go.mod", "go build in")],
        Build::Dpkg => &[
            ("debian/control", "dpkg-buildpackage in"),
            ("debian/rules", "dpkg-buildpackage in"),
            ("autogen.sh", "run by slave.mk in"),
            ("Makefile", "dh_auto_build in"),
            ("setup.py", "dh_auto_build in"),
            ("pyproject.toml", "dh_auto_build in"),
            ("go.mod", "go build in"),
        ],
        Build::Python => &[
            ("setup.py", "python setup.py in"),
            ("pyproject.toml", "pip install . in"),
            ("go.mod", "go build in"),
        ],
        Build::Unknown => &[
            ("Makefile", "make -C"),
            ("debian/control", "dpkg-buildpackage in"),
            ("debian/rules", "dpkg-buildpackage in"),
            ("setup.py", "python setup.py in"),
            ("go.mod", "go build in"),
        ],
    };
    let mut out: Vec<Read> = wanted
        .iter()
        .map(|(f, why)| (at(f), why))
        .filter(|(p, _)| exists(p))
        .map(|(path, why)| Read {
            // slave.mk runs dpkg-buildpackage with no profile of its own.
            profiles: (path.ends_with("debian/control") && build == Build::Dpkg)
                .then(BTreeSet::new),
            path,
            cwd: src.clone(),
            why: format!("{why} {src}"),
        })
        .collect();
    // An unknown kind reads one of its entry points, not all of them.
    if build == Build::Unknown && out.len() > 1 {
        let first = out[0].path.rsplit('/').next().unwrap_or("").to_string();
        if first == "Makefile" {
            out.retain(|r| r.path.ends_with("/Makefile") || r.path.ends_with("go.mod"));
        }
    }
    out
}

/// The images a Dockerfile starts `FROM`, with their lines (Jinja suffixes
/// such as `-{{DOCKER_USERNAME}}` and the tag cut off).
pub fn from_images(text: &str) -> Vec<(String, u32)> {
    let mut out = Vec::new();
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start();
        let Some(rest) = t.strip_prefix("FROM ").or_else(|| t.strip_prefix("from ")) else {
            continue;
        };
        let Some(word) = rest.split_whitespace().find(|w| !w.starts_with("--")) else {
            continue;
        };
        let name = word.split("{{").next().unwrap_or(word);
        let name = name.split(':').next().unwrap_or(name).trim_end_matches('-');
        if !name.is_empty() {
            out.push((name.to_string(), u32::try_from(i + 1).unwrap_or(u32::MAX)));
        }
    }
    out
}

/// What a file runs, sources, includes or hands to a build tool, resolved to
/// tree paths. `text` starts at line `first` of `path` (1 for a whole file; a
/// recipe line's own number for one line of a rule); `cwd` is the directory its
/// commands start in.
pub fn references(
    path: &str,
    text: &str,
    first: u32,
    cwd: &str,
    exists: &dyn Fn(&str) -> bool,
) -> Vec<Read> {
    let name = path.rsplit('/').next().unwrap_or(path);
    let dir = path.rfind('/').map_or("", |i| &path[..i]);
    let mut out = Vec::new();
    if name == "setup.py" {
        requirement_literals(path, text, dir, exists, &mut out);
        return out;
    }
    if name.ends_with(".txt") {
        // `-r other.txt` inside a requirements file.
        for (i, l) in text.lines().enumerate() {
            let mut w = l.split_whitespace();
            if let (Some("-r" | "--requirement" | "-c" | "--constraint"), Some(f)) =
                (w.next(), w.next())
                && let Some(p) = resolve(f, dir, dir, exists)
            {
                out.push(Read {
                    path: p,
                    cwd: dir.to_string(),
                    why: format!("included by {path}:{}", i + 1),
                    ..Read::default()
                });
            }
        }
        return out;
    }
    let makefile = name == "Makefile"
        || name == "makefile"
        || name == "GNUmakefile"
        || name == "rules"
        || name.ends_with(".mk");
    let mut body = text.to_string();
    if makefile {
        includes(path, text, dir, exists, &mut out);
        // `$(MAKE)` is make; other make references stay unexpanded text.
        body = body.replace("$(MAKE)", "make").replace("${MAKE}", "make");
    }
    let mut st = Walk {
        path,
        dir,
        cwd: vec![cwd.to_string()],
        exists,
        out: &mut out,
    };
    for cmd in shell::commands(&body, first.max(1), &HashMap::new()) {
        st.command(&cmd);
    }
    out
}

/// `include x.mk` lines of a make file.
fn includes(path: &str, text: &str, dir: &str, exists: &dyn Fn(&str) -> bool, out: &mut Vec<Read>) {
    for (i, l) in text.lines().enumerate() {
        let t = l.trim_start();
        let rest = t
            .strip_prefix("include ")
            .or_else(|| t.strip_prefix("-include "))
            .or_else(|| t.strip_prefix("sinclude "));
        for f in rest.into_iter().flat_map(str::split_whitespace) {
            if let Some(p) = resolve(f, dir, dir, exists) {
                out.push(Read {
                    path: p,
                    cwd: dir.to_string(),
                    why: format!("included by {path}:{}", i + 1),
                    ..Read::default()
                });
            }
        }
    }
}

/// Requirements files a `setup.py` opens (`open('requirements.txt')`).
fn requirement_literals(
    path: &str,
    text: &str,
    dir: &str,
    exists: &dyn Fn(&str) -> bool,
    out: &mut Vec<Read>,
) {
    for (i, l) in text.lines().enumerate() {
        if l.trim_start().starts_with('#') {
            continue;
        }
        for piece in l.split(['\'', '"']) {
            if piece.contains("requirements")
                && piece.ends_with(".txt")
                && !piece.contains(char::is_whitespace)
                && let Some(p) = resolve(piece, dir, dir, exists)
            {
                out.push(Read {
                    path: p,
                    cwd: dir.to_string(),
                    why: format!("opened by {path}:{}", i + 1),
                    ..Read::default()
                });
            }
        }
    }
}

/// Resolves a word naming a file: against the commands' directory, the file's
/// own directory, then the tree root. Words with unexpanded text are not paths.
fn resolve(word: &str, cwd: &str, dir: &str, exists: &dyn Fn(&str) -> bool) -> Option<String> {
    let w = word
        .trim_matches(['"', '\''])
        .trim_start_matches("$(pwd)/")
        .trim_start_matches("$PWD/")
        .trim_start_matches("${PWD}/");
    if w.is_empty()
        || w.starts_with('/')
        || w.contains('$')
        || w.contains("{{")
        || w.contains('*')
        || w.contains('`')
    {
        return None;
    }
    let join = |base: &str| {
        if base.is_empty() {
            normalize_path(w)
        } else {
            normalize_path(&format!("{base}/{w}"))
        }
    };
    [join(cwd), join(dir), normalize_path(w)]
        .into_iter()
        .find(|p| !p.is_empty() && exists(p))
}

/// The walk over one file's commands, with the directory stack `pushd`/`cd` change.
struct Walk<'a> {
    path: &'a str,
    dir: &'a str,
    cwd: Vec<String>,
    exists: &'a dyn Fn(&str) -> bool,
    out: &'a mut Vec<Read>,
}

/// Words that run the command after them.
const PREFIXES: [&str; 7] = [
    "sudo", "env", "exec", "time", "nohup", "fakeroot", "command",
];

impl Walk<'_> {
    fn here(&self) -> String {
        self.cwd.last().cloned().unwrap_or_default()
    }

    fn push(&mut self, word: &str, line: u32, how: &str) {
        let here = self.here();
        if let Some(p) = resolve(word, &here, self.dir, self.exists)
            && p != self.path
        {
            self.out.push(Read {
                path: p,
                cwd: here,
                why: format!("{how} at {}:{line}", self.path),
                ..Read::default()
            });
        }
    }

    fn push_in(
        &mut self,
        dir: &str,
        files: &[&str],
        line: u32,
        how: &str,
        profiles: Option<&BTreeSet<String>>,
    ) {
        for f in files {
            let w = if dir.is_empty() {
                (*f).to_string()
            } else {
                format!("{dir}/{f}")
            };
            let here = self.here();
            if let Some(p) = resolve(&w, &here, self.dir, self.exists) {
                let cwd = p.rfind('/').map_or("", |i| &p[..i]).to_string();
                let cwd = cwd.strip_suffix("/debian").unwrap_or(&cwd).to_string();
                let profiles = profiles.filter(|_| p.ends_with("debian/control")).cloned();
                self.out.push(Read {
                    path: p,
                    cwd,
                    why: format!("{how} at {}:{line}", self.path),
                    profiles,
                });
            }
        }
    }

    fn command(&mut self, words: &[shell::Word]) {
        let mut i = 0;
        while i < words.len() {
            let t = words[i].text.as_str();
            let assignment = t.split_once('=').is_some_and(|(k, _)| {
                !k.is_empty() && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
            });
            if assignment
                || PREFIXES.contains(&t)
                || (i > 0 && t.starts_with('-') && PREFIXES.contains(&words[i - 1].text.as_str()))
            {
                i += 1;
            } else {
                break;
            }
        }
        let Some(first) = words.get(i) else {
            return;
        };
        let line = first.line;
        let rest: Vec<&str> = words[i + 1..].iter().map(|w| w.text.as_str()).collect();
        let arg = |skip_opts: bool| {
            rest.iter()
                .find(|w| !(skip_opts && w.starts_with('-')))
                .copied()
        };
        let cmd = first.text.rsplit('/').next().unwrap_or(&first.text);
        match cmd {
            // Commands run inside the image being built name its paths, not the tree's.
            "chroot" => {}
            "bash" | "sh" | "source" | "." => {
                if let Some(a) = arg(true) {
                    let how = if matches!(cmd, "source" | ".") {
                        "sourced"
                    } else {
                        "run"
                    };
                    self.push(a, line, how);
                }
            }
            "j2" => {
                if let Some(a) = rest.iter().find(|w| w.ends_with(".j2")) {
                    self.push(a, line, "rendered");
                }
            }
            "pip" | "pip2" | "pip3" => self.requirement_args(&rest, line),
            "python" | "python2" | "python3" => {
                if rest.first() == Some(&"-m") && rest.get(1).is_some_and(|m| m.starts_with("pip"))
                {
                    self.requirement_args(&rest[2..], line);
                } else if let Some(a) = arg(true)
                    && a.ends_with(".py")
                {
                    self.push(a, line, "run");
                }
            }
            "dpkg-buildpackage" | "debuild" => {
                let assignments: Vec<&str> = words[..i].iter().map(|w| w.text.as_str()).collect();
                let profiles = build_profiles(&assignments, &rest);
                self.push_in(
                    "",
                    &["debian/control", "debian/rules"],
                    line,
                    "read by dpkg-buildpackage",
                    Some(&profiles),
                );
            }
            "go" if rest
                .first()
                .is_some_and(|s| matches!(*s, "build" | "install" | "mod" | "test")) =>
            {
                self.push_in("", &["go.mod"], line, "read by go", None);
            }
            "make" => {
                let mut k = 0;
                while k < rest.len() {
                    match rest[k] {
                        "-C" if k + 1 < rest.len() => {
                            let d = rest[k + 1].to_string();
                            self.push_in(&d, &["Makefile"], line, "make -C", None);
                            k += 1;
                        }
                        "-f" if k + 1 < rest.len() => {
                            let f = rest[k + 1].to_string();
                            self.push(&f, line, "make -f");
                            k += 1;
                        }
                        _ => {}
                    }
                    k += 1;
                }
            }
            "pushd" | "cd" => {
                let here = self.here();
                match arg(true) {
                    Some(d) if !d.contains('$') && !d.starts_with('/') => {
                        let next = if here.is_empty() {
                            normalize_path(d)
                        } else {
                            normalize_path(&format!("{here}/{d}"))
                        };
                        if cmd == "pushd" {
                            self.cwd.push(next);
                        } else if let Some(top) = self.cwd.last_mut() {
                            *top = next;
                        }
                    }
                    // An unknown directory: nothing found there can be resolved.
                    _ => {
                        let unknown = "\u{0}unknown".to_string();
                        if cmd == "pushd" {
                            self.cwd.push(unknown);
                        } else if let Some(top) = self.cwd.last_mut() {
                            *top = unknown;
                        }
                    }
                }
            }
            "popd" if self.cwd.len() > 1 => {
                self.cwd.pop();
            }
            _ if first.text.contains('/') => {
                let w = first.text.clone();
                self.push(&w, line, "run");
            }
            _ => {}
        }
    }

    fn requirement_args(&mut self, rest: &[&str], line: u32) {
        for (k, w) in rest.iter().enumerate() {
            if matches!(*w, "-r" | "--requirement" | "-c" | "--constraint")
                && let Some(f) = rest.get(k + 1)
            {
                self.push(f, line, "pip install -r");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tree<'a>(files: &'a [&'a str]) -> impl Fn(&str) -> bool + 'a {
        move |p: &str| files.contains(&p)
    }

    #[test]
    fn entry_files_follow_the_build_kind() {
        let t = tree(&[
            "s/Makefile",
            "s/debian/control",
            "s/debian/rules",
            "s/setup.py",
            "s/go.mod",
            "s/ci/x.sh",
        ]);
        let paths = |b| -> Vec<String> {
            entry_files(b, "s", &t)
                .into_iter()
                .map(|r| r.path)
                .collect()
        };
        assert_eq!(paths(Build::Make), ["s/Makefile", "s/go.mod"]);
        assert_eq!(
            paths(Build::Dpkg),
            [
                "s/debian/control",
                "s/debian/rules",
                "s/Makefile",
                "s/setup.py",
                "s/go.mod"
            ]
        );
        assert_eq!(paths(Build::Python), ["s/setup.py", "s/go.mod"]);
        assert_eq!(paths(Build::Unknown), ["s/Makefile", "s/go.mod"]);
    }

    #[test]
    fn scripts_run_or_sourced_are_read_copied_ones_are_not() {
        let t = tree(&[
            "functions.sh",
            "scripts/a.sh",
            "scripts/b.sh",
            "files/x.j2",
            "files/copied.sh",
            "src/p/frr/debian/control",
            "src/p/frr/debian/rules",
            "src/p/req.txt",
            "src/p/sub/Makefile",
            "src/p/local.sh",
        ]);
        let text = "#!/bin/bash\n. functions.sh\nTARGET_PATH=x scripts/a.sh arg\nsudo bash scripts/b.sh\nj2 -f env files/x.j2 > out\nsudo cp files/copied.sh /fs\nsudo chroot $FS scripts/a.sh\n";
        let r = references("build.sh", text, 1, "", &t);
        let got: Vec<(&str, &str)> = r
            .iter()
            .map(|x| (x.path.as_str(), x.why.as_str()))
            .collect();
        assert_eq!(
            got,
            [
                ("functions.sh", "sourced at build.sh:2"),
                ("scripts/a.sh", "run at build.sh:3"),
                ("scripts/b.sh", "run at build.sh:4"),
                ("files/x.j2", "rendered at build.sh:5"),
            ]
        );
        let mk = "include other.mk\nall:\n\tpushd ./frr\n\tdpkg-buildpackage -b\n\tpopd\n\tpip3 install -r req.txt\n\t$(MAKE) -C sub\n\t./local.sh\n\tdpkg-buildpackage\n";
        let r = references("src/p/Makefile", mk, 1, "src/p", &t);
        let got: Vec<&str> = r.iter().map(|x| x.path.as_str()).collect();
        assert_eq!(
            got,
            [
                "src/p/frr/debian/control",
                "src/p/frr/debian/rules",
                "src/p/req.txt",
                "src/p/sub/Makefile",
                "src/p/local.sh"
            ]
        );
        assert_eq!(r[0].cwd, "src/p/frr");
    }

    #[test]
    fn dpkg_buildpackage_profiles_reach_the_control_it_reads() {
        assert_eq!(
            build_profiles(&["DEB_BUILD_PROFILES=nopython2"], &["-b", "-Pa,b", "-us"]),
            ["a", "b", "nopython2"].map(String::from).into()
        );
        assert_eq!(
            build_profiles(&[], &["--build-profiles=x", "-P", "y", "-P$(P)"]),
            ["x", "y"].map(String::from).into()
        );
        let t = tree(&["s/frr/debian/control", "s/frr/debian/rules"]);
        let mk = "all:
	pushd ./frr
ifeq ($(CROSS), y)
	dpkg-buildpackage -b -Ppkg.frr.nortrlib -a$(ARCH) -Pcross,nocheck
else
	dpkg-buildpackage -b -Ppkg.frr.nortrlib
endif
";
        let r = references("s/Makefile", mk, 1, "s", &t);
        let control: Vec<_> = r
            .iter()
            .filter(|x| x.path == "s/frr/debian/control")
            .map(|x| x.profiles.clone().unwrap_or_default())
            .collect();
        assert_eq!(control.len(), 2);
        assert!(control[0].contains("cross") && control[0].contains("pkg.frr.nortrlib"));
        assert_eq!(control[1], ["pkg.frr.nortrlib".to_string()].into());
        assert!(
            r.iter()
                .all(|x| x.path.ends_with("control") || x.profiles.is_none())
        );
        let plain = entry_files(Build::Dpkg, "s/frr", &t);
        assert_eq!(plain[0].profiles, Some(BTreeSet::new()));
        assert_eq!(plain[1].profiles, None);
    }

    #[test]
    fn from_lines_name_the_base_image() {
        let d = "{% set prefix = X %}\nFROM {{ prefix }}debian:bullseye\nFROM docker-config-engine-bullseye-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}\nFROM --platform=x base AS b\n";
        let f = from_images(d);
        assert_eq!(f[0], ("docker-config-engine-bullseye".to_string(), 3));
        assert_eq!(f[1].0, "base");
        assert_eq!(f.len(), 2);
    }

    #[test]
    fn setup_py_opens_its_requirements() {
        let t = tree(&["p/requirements.txt", "p/test-requirements.txt"]);
        let r = references(
            "p/setup.py",
            "with open('requirements.txt') as f:\n    reqs = f.read()\n# open('test-requirements.txt')\n",
            1,
            "p",
            &t,
        );
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].path, "p/requirements.txt");
    }
}
