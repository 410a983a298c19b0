//! Fuzzing of every parser that reads outside input, on stable Rust (see
//! `harness.rs`): 1 s per target by default, longer with
//! `SONIC_LOCK_FUZZ_SECS`. A target calls the parser the product calls on that
//! input and must neither panic nor hang, whatever it returns.

mod harness;

use harness::fuzz;
use sonic_lock::crawl::text::Sink;
use sonic_lock::crawl::{debcontrol, dockerfile, gitmodules, gomod, jinja, make, python, shell};
use sonic_lock::manifest::{Context, Manifest};
use std::collections::{BTreeSet, HashMap};

fn text(b: &[u8]) -> std::borrow::Cow<'_, str> {
    String::from_utf8_lossy(b)
}

/// Splits an input into parts at NUL bytes (one input feeding several answers).
fn parts(b: &[u8], n: usize) -> Vec<&[u8]> {
    let mut v: Vec<&[u8]> = b.splitn(n, |c| *c == 0).collect();
    v.resize(n, &[]);
    v
}

macro_rules! targets {
    ($($name:ident, $tokens:expr, $f:expr;)*) => {
        $(
            #[test]
            fn $name() {
                let s = fuzz(stringify!($name), $tokens, $f);
                assert!(s.execs as usize >= s.corpus);
            }
        )*
    };
}

const STANZA: &[&str] = &[
    "Package: ",
    "Version: ",
    "Architecture: ",
    "Depends: ",
    "Pre-Depends: ",
    "Conflicts: ",
    "Breaks: ",
    "Provides: ",
    "Multi-Arch: ",
    "Source: ",
    "Binary: ",
    "Build-Depends: ",
    "Filename: ",
    "SHA256: ",
    "Size: ",
    "Essential: yes",
    "libc6",
    " (>= 2.31)",
    " (<< 1:2~)",
    " | ",
    ", ",
    ":any",
    " [amd64]",
    " <!nocheck>",
    "all",
    "amd64",
    "same",
    "foreign",
    "\n ",
    "\n\n",
    "1:2.3-4+deb11u1",
    "\u{feff}",
    "\t",
];
const RELEASE: &[&str] = &[
    "Origin: Debian",
    "Suite: bullseye",
    "Codename: bullseye",
    "Date: Sat, 10 Sep 2022 10:18:02 UTC",
    "Valid-Until: ",
    "Architectures: amd64 arm64",
    "Components: main",
    "SHA256:",
    "MD5Sum:",
    "Acquire-By-Hash: yes",
    "\n ",
    " 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    " 1234 main/binary-amd64/Packages.xz",
    "-----BEGIN PGP SIGNED MESSAGE-----",
    "Hash: SHA512",
    "-----BEGIN PGP SIGNATURE-----",
    "-----END PGP SIGNATURE-----",
    "- -",
    "\n\n",
];
const VERSIONS: &[&str] = &[
    "==",
    "===",
    "libc6",
    "1:2.31-13+deb11u5",
    "pyyaml",
    "zope.interface",
    "zope-interface",
    "6.0",
    "https://github.com/x/y.git",
    "0123456789abcdef0123456789abcdef01234567",
    "amd64:debian:bullseye",
    "sha256:",
    "debian",
    "20221206T000000Z",
    "\n",
    "\r\n",
    " ",
    "-",
    "\u{feff}",
    "*",
    "../",
];
const TOML: &[&str] = &[
    "version = 1\n",
    "platform = \"x\"\n",
    "commit = \"",
    "cutoff = \"2022-12-06\"\n",
    "tool = \"t\"\n",
    "[[pin]]\n",
    "[[archive]]\n",
    "[[trial]]\n",
    "[[gap]]\n",
    "ecosystem = \"deb\"\n",
    "ecosystem = \"py\"\n",
    "name = \"",
    "version = \"",
    "image = \"",
    "suite = \"",
    "arch = \"",
    "\"\n",
    "snapshot = \"20221206T000000Z\"\n",
    "= [",
    "]",
    "{",
    "}",
    "\"\"\"",
    "'",
    "#",
];
const JSON: &[&str] = &[
    "{",
    "}",
    "[",
    "]",
    ",",
    ":",
    "\"",
    "null",
    "true",
    "false",
    "0",
    "-1",
    "1e400",
    "18446744073709551616",
    "\"schema_version\"",
    "\"dependencies\"",
    "\"ecosystem\"",
    "\"deb\"",
    "\"py\"",
    "\"name\"",
    "\"constraint\"",
    "\"kind\"",
    "\"exact\"",
    "\"value\"",
    "\"origin\"",
    "\"file\"",
    "\"line\"",
    "\"packages\"",
    "\"candidates\"",
    "\"package\"",
    "\"version\"",
    "\"depends\"",
    "\"files\"",
    "\"filename\"",
    "\"url\"",
    "\"hashes\"",
    "\"upload-time\"",
    "\"releases\"",
    "\"schemaVersion\"",
    "\"manifests\"",
    "\"platform\"",
    "\"architecture\"",
    "\"os\"",
    "\"digest\"",
    "\"config\"",
    "\"created\"",
    "\"Version\"",
    "\"Time\"",
    "\\u0000",
    "\\ud800",
    "2022-12-06T00:00:00Z",
];
const MAKE: &[&str] = &[
    "$(",
    ")",
    "${",
    "}",
    "$$",
    "$@",
    "X",
    " = ",
    " := ",
    " += ",
    " ?= ",
    "define X\n",
    "endef\n",
    "ifeq (",
    ",",
    "endif\n",
    "else\n",
    "ifdef X\n",
    "include ",
    "$(eval ",
    "$(call X,",
    "$(foreach v,",
    "$(subst ",
    "$(patsubst %,",
    "$(shell ",
    "$(X)",
    "$(X) $(X)",
    "\\\n",
    "\t",
    "export ",
    "%:",
    "#",
];
const ARCHIVE: &[&str] = &[
    "PK\x03\x04",
    "PK\x01\x02",
    "PK\x05\x06",
    "\u{0}\u{0}\u{0}\u{0}",
    "\u{7f}\u{7f}\u{7f}\u{7f}",
    "x-1.dist-info/METADATA",
    "x-1/PKG-INFO",
    "ustar\u{0}00",
    "Metadata-Version: 2.2\n",
    "Dynamic: Requires-Dist\n",
];
const SHELL: &[&str] = &[
    "apt-get install -y ",
    "pip3 install ",
    "git clone ",
    "wget ",
    "curl -fsSL ",
    "dget ",
    "RUN ",
    "FROM ",
    "ADD ",
    "COPY ",
    "ARG ",
    "ENV ",
    "{{ ",
    " }}",
    "{% if x %}",
    "{% endif %}",
    "{% for x in y %}",
    "{% endfor %}",
    "{#",
    "#}",
    "&& ",
    "|| ",
    "; ",
    "'",
    "\"",
    "\\\n",
    "$(",
    ")",
    "${X:-y}",
    "`",
    "=1.0",
    "==2.0",
    ">=3",
    "git checkout -f ",
    " -b ",
    "https://h/x.git",
    "-r requirements.txt",
    "--hash=sha256:",
    "install_requires=[",
    "]",
    "setup(",
    "'a>=1'",
    "module x\n",
    "require (\n",
    "\tgolang.org/x/y v1.2.3\n",
    ")\n",
    "replace ",
    " => ",
    "[submodule \"x\"]\n",
    "\tpath = ",
    "\turl = ",
    "\tbranch = ",
    "Build-Depends: ",
    "\n",
];
const CACHE: &[&str] = &[
    "sonic-lock-cache-export 2\n",
    "sonic-lock-cache-export 1\n",
    "blob ",
    "key ",
    "git ",
    "end 1 1 1\n",
    "git/0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef.git/",
    "{\"key\":\"http://h/x\",\"final_url\":\"http://h/x\",\"sha256\":\"",
    "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
    " 18446744073709551615",
    " 1099511627776",
    " 5\n",
    "\n",
    "../",
    "x.git",
];

fn crawl_sink() -> (Context, Sink) {
    (Context::default(), Sink::new("f"))
}

targets! {
    packages_stanzas, STANZA, |b| {
        let mut u = sonic_lock::universe::Universe::new();
        let _ = sonic_lock::universe::debian::load_packages(&mut u, b, "Packages", "bullseye/amd64");
    };
    sources_stanzas, STANZA, |b| {
        use sonic_lock::source::debian::archive::IndexKind;
        let _ = sonic_lock::source::suitecache::scan_names(b, IndexKind::Sources);
        let _ = sonic_lock::source::suitecache::scan_names(b, IndexKind::Packages);
    };
    relation_fields, STANZA, |b| {
        let mut u = sonic_lock::universe::Universe::new();
        let _ = sonic_lock::universe::debian::parse_requirements(&mut u, "bullseye/amd64", &text(b), "f:1");
    };
    release_files, RELEASE, |b| {
        let _ = sonic_lock::source::debian::release::Release::parse(&text(b), "Release");
    };
    inrelease_files, RELEASE, |b| {
        let _ = sonic_lock::source::debian::release::open_inrelease(b, "InRelease", None);
    };
    sonic_versions_files, VERSIONS, |b| {
        let t = text(b);
        for ctype in ["deb", "py2", "py3", "git", "web", "docker", "mirror"] {
            let _ = sonic_lock::lock::sonic_versions::parse_file(&t, "versions", ctype);
        }
        for line in t.lines() {
            let _ = sonic_lock::lock::sonic_versions::parse_file_name(line);
        }
    };
    lock_toml, TOML, |b| {
        if let Ok(l) = sonic_lock::lock::Lock::from_toml_str(&text(b), "x.lock") {
            // What loads must export (or be refused) without a panic.
            let _ = sonic_lock::lock::sonic_versions::lock_to_tree(&l);
            let _ = sonic_lock::lock::apt_prefs::render(&l);
            let _ = sonic_lock::lock::pip_constraints::render(&l);
        }
    };
    manifest_json, JSON, |b| {
        let _ = Manifest::from_json_str(&text(b), "m.json");
    };
    universe_json, JSON, |b| {
        let _ = sonic_lock::universe::Universe::from_json_slice(b, std::path::Path::new("u.json"));
    };
    cache_export_format, CACHE, |b| {
        let Ok(dir) = tempfile::tempdir() else { return };
        let file = dir.path().join("export");
        if std::fs::write(&file, b).is_err() {
            return;
        }
        if let Ok(c) = sonic_lock::source::cache::Cache::open(&dir.path().join("c")) {
            let _ = c.import(&file);
        }
    };
    makefiles, MAKE, |b| {
        let (_, mut s) = crawl_sink();
        let mut e = make::Evaluator::new(None, None);
        e.eval_text(&text(b), &mut s);
        e.keep_undefined = true;
        let _ = e.expand(&text(b));
    };
    shell_scripts, SHELL, |b| {
        let (ctx, mut s) = crawl_sink();
        let mut st = shell::ShellState::default();
        shell::scan(&text(b), 1, &mut st, &ctx, &mut s);
    };
    dockerfiles, SHELL, |b| {
        let (ctx, mut s) = crawl_sink();
        dockerfile::parse(&text(b), &ctx, &BTreeSet::new(), &mut s);
    };
    jinja_templates, SHELL, |b| {
        let (_, mut s) = crawl_sink();
        let vars: HashMap<String, String> = [("x".to_string(), "1".to_string())].into();
        let _ = jinja::render(&text(b), &vars, &mut s);
    };
    setup_py, SHELL, |b| {
        let (ctx, mut s) = crawl_sink();
        python::setup_py(&text(b), &ctx, &mut s);
    };
    requirements_txt, SHELL, |b| {
        let (ctx, mut s) = crawl_sink();
        python::requirements_txt(&text(b), &ctx, &mut s);
        for line in text(b).lines() {
            let _ = python::requirement(line);
        }
    };
    go_mod_and_sum, SHELL, |b| {
        let (ctx, mut s) = crawl_sink();
        let p = parts(b, 2);
        let sums = gomod::sum_hashes(&text(p[1]));
        gomod::parse(&text(p[0]), Some(&sums), &ctx, &mut s);
    };
    debian_control, STANZA, |b| {
        let (ctx, mut s) = crawl_sink();
        debcontrol::parse(&text(b), &ctx, &mut s);
    };
    gitmodules_files, SHELL, |b| {
        let (_, mut s) = crawl_sink();
        let _ = gitmodules::parse(&text(b), &mut s);
    };
    pypi_pep691, JSON, |b| {
        let _ = sonic_lock::source::pypi::parse_simple(b, "http://h/simple/x/", "http://h/simple/x/", "x");
    };
    pypi_json, JSON, |b| {
        let _ = sonic_lock::source::pypi::parse_legacy(b, "http://h/pypi/x/json", "x");
    };
    pypi_core_metadata, SHELL, |b| {
        let _ = sonic_lock::source::pypi::parse_core_metadata(b, "METADATA");
    };
    registry_manifests, JSON, |b| {
        use sonic_lock::source::docker;
        let p = parts(b, 2);
        if let Ok(doc) = docker::parse_manifest(p[0], "http://r/v2/x/manifests/t") {
            let listed = docker::platform_digest(&doc, "amd64", "u");
            let _ = docker::config_digest(&doc, "u");
            let _ = docker::parse_config(p[1], "c", "u", "arm64", matches!(listed, Ok(Some(_))));
        }
        let _ = docker::ImageRef::parse(&text(p[0]));
        let _ = docker::parse_challenge(&text(p[1]));
    };
    dist_archives, ARCHIVE, |b| {
        use sonic_lock::source::distfile;
        let wheel = |n: &str| n.ends_with(".dist-info/METADATA");
        let pkg_info = |n: &str| n.ends_with("/PKG-INFO");
        let _ = distfile::zip_member_in(b, &wheel, "u");
        for name in ["x.tar.gz", "x.tar", "x.zip"] {
            if let Ok(m) = distfile::sdist_member(name, b, &pkg_info, "u") {
                let _ = sonic_lock::source::pypi::meta::pkg_info_is_static(&m.bytes);
            }
        }
    };
    go_proxy_answers, JSON, |b| {
        let _ = sonic_lock::source::go::parse_list(b, "http://p/x/@v/list");
        let _ = sonic_lock::source::go::parse_info(b, "http://p/x/@v/v1.info");
    };
    pep508_markers, PEP, |b| {
        use sonic_lock::universe::pep508;
        let env = sonic_lock::solve::python::env_for_domain("py3").expect("py3 is known");
        let t = text(b);
        if let Ok(m) = pep508::marker(&t) {
            let _ = pep508::evaluate(&m, &env.markers, &[]);
            let _ = m.try_to_string();
        }
        if let Ok(r) = pep508::requirement(&format!("x ; {t}")) {
            let _ = pep508::evaluate(&r.marker, &env.markers, &[]);
        }
        // A marker that panicked inside pep508_rs would poison its interner:
        // an ordinary one must still work after any input.
        let ok = pep508::marker("python_version >= '3'").expect("an ordinary marker parses");
        assert_eq!(pep508::evaluate(&ok, &env.markers, &[]), Ok(true));
    };
    pep440_versions_and_names, PEP, |b| {
        use sonic_lock::universe::scheme_for;
        use sonic_lock::manifest::Ecosystem;
        let p = parts(b, 2);
        let (a, s) = (text(p[0]), text(p[1]));
        let py = scheme_for(Ecosystem::Py);
        let _ = py.validate(&a);
        let _ = py.try_compare(&a, &s);
        let _ = py.matches_specifiers(&a, &s);
        let _ = sonic_lock::solve::python::valid_specifiers(&s);
        let _ = sonic_lock::universe::python::PyName::new(&a);
        let _ = sonic_lock::universe::python::debian_to_pep440(&a);
        let _ = sonic_lock::source::pypi::version_from_filename(&s, &a);
    };
}

const PEP: &[&str] = &[
    "python_version",
    "python_full_version",
    "platform_machine",
    "sys_platform",
    "extra",
    "implementation_name",
    "os_name",
    " == ",
    " != ",
    " < ",
    " <= ",
    " >= ",
    " ~= ",
    " === ",
    " in ",
    " not in ",
    " and ",
    " or ",
    "(",
    ")",
    "'",
    "\"",
    "3.7",
    "2.7",
    "'linux'",
    "'x86_64'",
    "1.0",
    "1!2.0",
    ".post1",
    ".dev0",
    "a1",
    "rc2",
    "+local.7",
    ".*",
    "18446744073709551616",
    "99999999999999999999999999999",
    ",",
    ";",
    "[",
    "]",
    "@",
    "é",
    "\u{feff}",
    "\u{0301}",
    "zope.interface",
    "a-",
    "-",
    "_",
    ".",
    "v",
    "\t",
];
