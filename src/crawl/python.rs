//! Python declarations: PEP 508 requirement strings (shared by pip command
//! lines), `requirements*.txt`, and `setup.py` `install_requires`.

use super::text::{Sink, has_unexpanded, is_commit_sha, logical_lines};
use crate::manifest::{Constraint, Context, Ecosystem};
use crate::universe::python::{BadPyName, PyName};
use pep508_rs::VersionOrUrl;
use pep508_rs::pep440_rs::Operator;
use std::collections::BTreeMap;

/// A requirement understood well enough to record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PyReq {
    /// Normalised distribution name.
    pub name: String,
    /// Version constraint.
    pub constraint: Constraint,
    /// Extras, markers and URL, when given.
    pub attrs: BTreeMap<String, String>,
}

/// A requirement pip would not read, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BadRequirement(pub String);

/// Classifies one requirement as pip would read it (`name`, `name==1.0`,
/// `name>=1,<2`, `name[x]; marker`, `git+URL@ref#egg=name`, `name @ URL`,
/// a wheel URL). `Ok(None)` for local paths (the project's own packages).
pub fn requirement(spec: &str) -> Result<Option<PyReq>, BadRequirement> {
    let spec = spec.trim();
    if spec.is_empty() {
        return Ok(None);
    }
    if let Some(url) = vcs_url(spec) {
        return vcs_requirement(url)
            .map(Some)
            .map_err(|e| BadRequirement(format!("{e} (from `{url}`)")));
    }
    if spec.starts_with("http://") || spec.starts_with("https://") {
        return archive_url(spec)
            .map(Some)
            .map_err(|e| BadRequirement(format!("{e} (from `{spec}`)")));
    }
    if is_local_path(spec) {
        return Ok(None);
    }
    // PEP 508 names start and end with a letter or digit. Checked here first:
    // pep508_rs panics on some malformed names (`a-:`) instead of failing.
    let name: String = spec
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        .collect();
    if !name.starts_with(|c: char| c.is_ascii_alphanumeric())
        || !name.ends_with(|c: char| c.is_ascii_alphanumeric())
    {
        return Err(BadRequirement(format!(
            "`{spec}` does not start with a valid distribution name"
        )));
    }
    let req = crate::universe::python::parse_pep508(spec).map_err(|msg| {
        BadRequirement(
            msg.lines()
                .next()
                .unwrap_or("invalid requirement")
                .to_string(),
        )
    })?;
    let mut attrs = BTreeMap::new();
    if !req.extras.is_empty() {
        let ex: Vec<String> = req.extras.iter().map(ToString::to_string).collect();
        attrs.insert("extras".to_string(), ex.join(","));
    }
    if let Some(m) = req.marker.try_to_string() {
        attrs.insert("markers".to_string(), m);
    }
    let constraint = match &req.version_or_url {
        None => Constraint::None,
        Some(VersionOrUrl::VersionSpecifier(specs)) => {
            if specs.is_empty() {
                Constraint::None
            } else if specs.len() == 1
                && matches!(specs[0].operator(), Operator::Equal | Operator::ExactEqual)
            {
                Constraint::Exact(specs[0].version().to_string())
            } else {
                Constraint::Range(specs.to_string())
            }
        }
        Some(VersionOrUrl::Url(u)) => {
            let text = u.to_string();
            attrs.insert("url".to_string(), text.clone());
            url_constraint(&text)
        }
    };
    Ok(Some(PyReq {
        name: req.name.to_string(),
        constraint,
        attrs,
    }))
}

fn vcs_url(spec: &str) -> Option<&str> {
    let s = spec.trim_start_matches("-e ").trim();
    ["git+", "hg+", "svn+", "bzr+"]
        .iter()
        .any(|p| s.starts_with(p))
        .then_some(s)
}

fn url_constraint(url: &str) -> Constraint {
    let path = url.split('#').next().unwrap_or(url);
    let after_host = path.split_once("://").map(|(_, r)| r).unwrap_or(path);
    match after_host.rsplit_once('@') {
        Some((_, r)) if !r.contains('/') && is_commit_sha(r) && r.len() == 40 => {
            Constraint::Exact(r.to_string())
        }
        Some((_, r)) if !r.contains('/') => Constraint::Ref(r.to_string()),
        _ if path.ends_with(".whl") || path.ends_with(".tar.gz") || path.ends_with(".zip") => {
            Constraint::None
        }
        _ => Constraint::Ref("HEAD".to_string()),
    }
}

fn vcs_requirement(url: &str) -> Result<PyReq, BadPyName> {
    let egg = url
        .split_once('#')
        .and_then(|(_, frag)| frag.split('&').find_map(|kv| kv.strip_prefix("egg=")));
    let path = url.split('#').next().unwrap_or(url);
    let no_ref = match path.split_once("://") {
        Some((scheme, rest)) => match rest.rsplit_once('@') {
            Some((r, tail)) if !tail.contains('/') => format!("{scheme}://{r}"),
            _ => path.to_string(),
        },
        None => path.to_string(),
    };
    let name = egg.map(str::to_string).unwrap_or_else(|| {
        no_ref
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or(&no_ref)
            .trim_end_matches(".git")
            .to_string()
    });
    let mut attrs = BTreeMap::new();
    attrs.insert("url".to_string(), url.to_string());
    Ok(PyReq {
        name: PyName::new(&name)?.into(),
        constraint: url_constraint(url),
        attrs,
    })
}

fn archive_url(url: &str) -> Result<PyReq, BadPyName> {
    let file = url.split(['#', '?']).next().unwrap_or(url);
    let file = file.rsplit('/').next().unwrap_or(file);
    let mut attrs = BTreeMap::new();
    attrs.insert("url".to_string(), url.to_string());
    // Wheel names are `name-version-...`; sdists `name-version.tar.gz`.
    let stem = file
        .trim_end_matches(".whl")
        .trim_end_matches(".tar.gz")
        .trim_end_matches(".zip");
    let mut parts = stem.splitn(3, '-');
    let name = parts.next().unwrap_or(stem);
    let constraint = match parts.next() {
        Some(v) if v.starts_with(|c: char| c.is_ascii_digit()) => Constraint::Exact(v.to_string()),
        _ => Constraint::None,
    };
    Ok(PyReq {
        name: PyName::new(name)?.into(),
        constraint,
        attrs,
    })
}

/// True for what pip treats as a path: the project's own wheels and source trees.
pub fn is_local_path(spec: &str) -> bool {
    spec.starts_with('.')
        || spec.starts_with('/')
        || spec.starts_with('~')
        || spec.starts_with("file:")
        || spec.ends_with(".whl")
        || spec.ends_with(".tar.gz")
        || spec.ends_with(".zip")
        || (spec.contains('/') && !spec.contains("://") && !spec.contains(" @ "))
}

/// Records one requirement string found at `line`, with a diagnostic for what cannot be read.
pub fn record(
    sink: &mut Sink,
    spec: &str,
    line: u32,
    context: &Context,
    extra: &BTreeMap<String, String>,
) {
    if has_unexpanded(spec) {
        sink.warn(
            line,
            "requirement contains an unexpanded variable",
            Some(spec),
        );
        let mut a = extra.clone();
        a.insert("unexpanded".to_string(), "true".to_string());
        sink.dep(
            Ecosystem::Py,
            spec,
            Constraint::None,
            line,
            context.clone(),
            a,
        );
        return;
    }
    match requirement(spec) {
        Ok(Some(r)) => {
            let mut a = extra.clone();
            a.extend(r.attrs);
            sink.dep(
                Ecosystem::Py,
                &r.name,
                r.constraint,
                line,
                context.clone(),
                a,
            );
        }
        Ok(None) => {}
        Err(e) => sink.warn(
            line,
            format!("unparsable Python requirement: {e}"),
            Some(spec),
        ),
    }
}

/// Parses a pip requirements file.
pub fn requirements_txt(text: &str, context: &Context, sink: &mut Sink) {
    for l in logical_lines(text) {
        if l.unterminated {
            sink.warn(
                l.line,
                "line continuation runs into end of file",
                Some(&l.text),
            );
        }
        // A `#` starts a comment only at line start or after whitespace.
        let mut body = l.text.as_str();
        if let Some(i) = body
            .find(" #")
            .or_else(|| body.starts_with('#').then_some(0))
        {
            body = &body[..i];
        }
        let body = body.trim();
        if body.is_empty() {
            continue;
        }
        let mut extra = BTreeMap::new();
        let mut spec = body;
        if let Some(i) = spec.find(" --hash") {
            extra.insert("hash".to_string(), spec[i..].trim().to_string());
            spec = spec[..i].trim();
        }
        if spec.starts_with('-') {
            let (opt, arg) = spec.split_once([' ', '=']).unwrap_or((spec, ""));
            match opt {
                "-e" | "--editable" => record(sink, arg.trim(), l.line, context, &extra),
                "-r" | "--requirement" | "-c" | "--constraint" => {
                    extra.insert("includes".to_string(), arg.trim().to_string());
                }
                _ => {}
            }
            continue;
        }
        let mut deps_before = sink.deps.len();
        record(sink, spec, l.line, context, &extra);
        // A hash fixes the artifact even without `==`.
        if extra.contains_key("hash") {
            while deps_before < sink.deps.len() {
                sink.deps[deps_before].pinned = true;
                deps_before += 1;
            }
        }
    }
}

/// Extracts `install_requires`, `setup_requires` and `tests_require` from a
/// `setup.py`: list literals given inline or through a variable assigned a
/// list literal earlier in the file.
pub fn setup_py(text: &str, context: &Context, sink: &mut Sink) {
    let lists = list_assignments(text);
    for key in ["install_requires", "setup_requires", "tests_require"] {
        let mut from = 0;
        while let Some(i) = text[from..].find(key) {
            let at = from + i;
            from = at + key.len();
            let rest = text[from..].trim_start();
            let Some(rest) = rest.strip_prefix('=') else {
                continue;
            };
            if rest.starts_with('=') {
                continue;
            }
            // Only the keyword argument of setup(); list variables are resolved below.
            let line_start = text[..at].rfind('\n').map(|p| p + 1).unwrap_or(0);
            if text[line_start..at].trim().is_empty() && !is_keyword_context(text, at) {
                continue;
            }
            let rest_t = rest.trim_start();
            let value_at = text.len() - rest_t.len();
            let mut ctx = context.clone();
            let mut extra = BTreeMap::new();
            extra.insert("setup".to_string(), key.to_string());
            if key == "tests_require" {
                extra.insert("scope".to_string(), "test".to_string());
            }
            if rest_t.starts_with('[') {
                for (s, off) in strings_in_list(text, value_at) {
                    record(sink, &s, line_of(text, off), &ctx, &extra);
                }
            } else {
                let ident: String = rest_t
                    .chars()
                    .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
                    .collect();
                match lists.get(&ident) {
                    Some(items) if !ident.is_empty() => {
                        for (s, off) in items {
                            record(sink, s, line_of(text, *off), &ctx, &extra);
                        }
                    }
                    _ => sink.warn(
                        line_of(text, at),
                        format!("{key} is not a list literal; its requirements cannot be read"),
                        Some(rest_t.lines().next().unwrap_or("")),
                    ),
                }
            }
            ctx.python = None;
        }
    }
}

fn is_keyword_context(text: &str, at: usize) -> bool {
    // Inside `setup(` the keyword is preceded (possibly lines earlier) by `(` or `,`.
    text[..at].trim_end().ends_with([',', '('])
}

fn line_of(text: &str, off: usize) -> u32 {
    u32::try_from(text[..off].bytes().filter(|&b| b == b'\n').count() + 1).unwrap_or(u32::MAX)
}

/// `NAME = [ 'a', "b" ]` assignments at any indentation.
fn list_assignments(text: &str) -> BTreeMap<String, Vec<(String, usize)>> {
    let mut out = BTreeMap::new();
    let mut off = 0;
    for line in text.split_inclusive('\n') {
        let t = line.trim_start();
        if let Some((name, rest)) = t.split_once('=') {
            let name = name.trim();
            let rest_t = rest.trim_start();
            if !name.is_empty()
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
                && rest_t.starts_with('[')
                && !rest.starts_with('=')
            {
                let at = off + (line.len() - rest_t.len());
                out.insert(name.to_string(), strings_in_list(text, at));
            }
        }
        off += line.len();
    }
    out
}

/// String literals inside the bracketed list starting at `start`, with their offsets;
/// comments are skipped.
fn strings_in_list(text: &str, start: usize) -> Vec<(String, usize)> {
    let b = text.as_bytes();
    let mut out = Vec::new();
    let mut i = start;
    let mut depth = 0i32;
    while i < b.len() {
        match b[i] {
            b'[' | b'(' | b'{' => depth += 1,
            b']' | b')' | b'}' => {
                depth -= 1;
                if depth <= 0 {
                    break;
                }
            }
            b'#' => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            q @ (b'"' | b'\'') => {
                let s = i + 1;
                let mut j = s;
                while j < b.len() && b[j] != q && b[j] != b'\n' {
                    if b[j] == b'\\' {
                        j += 1;
                    }
                    j += 1;
                }
                if j <= b.len() {
                    out.push((text[s..j.min(b.len())].to_string(), s));
                }
                i = j + 1;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_requirements() {
        let r = requirement("PyYAML==5.4.1").unwrap().unwrap();
        assert_eq!(r.name, "pyyaml");
        assert_eq!(r.constraint, Constraint::Exact("5.4.1".into()));
        let r = requirement("lxml>=4.6, <5").unwrap().unwrap();
        assert!(matches!(r.constraint, Constraint::Range(_)));
        let r = requirement("nnpy").unwrap().unwrap();
        assert_eq!(r.constraint, Constraint::None);
        let r = requirement(
            "git+https://github.com/x/Foo_Bar.git@0123456789012345678901234567890123456789",
        )
        .unwrap()
        .unwrap();
        assert_eq!(r.name, "foo-bar");
        assert!(r.constraint.is_pinned());
        assert!(
            requirement("./dist/x-1.0-py3-none-any.whl")
                .unwrap()
                .is_none()
        );
        assert!(requirement("==1.0").is_err());
        assert!(requirement("a-:").is_err());
    }

    #[test]
    fn names_are_validated_at_the_crawl() {
        let name = |s: &str| requirement(s).unwrap().unwrap().name;
        assert_eq!(name("zope.interface==5.4"), "zope-interface");
        assert_eq!(name("zope-interface==5.4"), "zope-interface");
        assert_eq!(
            name("git+https://github.com/x/y.git@v1#egg=zope.interface"),
            "zope-interface"
        );
        // A pip option glued to its value is not a requirement of a project `-ihttps`.
        assert!(requirement("-ihttps://evil/").is_err());
        // Non-ASCII letters are not a PEP 508 name: an error here, not a key made up downstream.
        let e = requirement("git+https://github.com/x/y.git@v1#egg=na\u{ef}ve").unwrap_err();
        assert!(e.0.contains("bad Python project name `na\u{ef}ve`"), "{e}");
        assert!(requirement("https://example.org/files/caf\u{e9}-1.0.tar.gz").is_err());
        assert!(requirement("naïve==1.0").is_err());
    }

    #[test]
    fn setup_py_lists_and_variables() {
        let t = "deps = [\n  'a==1',\n  # 'c'\n  \"b>=2\",\n]\nsetup(\n  name='x',\n  install_requires=deps,\n  setup_requires=['pytest-runner'],\n)\n";
        let mut s = Sink::new("setup.py");
        setup_py(t, &Context::default(), &mut s);
        let names: Vec<_> = s
            .deps
            .iter()
            .map(|d| (d.name.as_str(), d.origin.line))
            .collect();
        assert_eq!(names, vec![("a", 2), ("b", 4), ("pytest-runner", 9)]);
    }

    #[test]
    fn requirements_file_options_and_hashes() {
        let t = "-r base.txt\nrequests==2.28.1 \\\n    --hash=sha256:abc\nsix # comment\n";
        let mut s = Sink::new("requirements.txt");
        requirements_txt(t, &Context::default(), &mut s);
        assert_eq!(s.deps.len(), 2);
        assert_eq!(s.deps[1].name, "six");
        assert_eq!(s.deps[1].origin.line, 4);
    }
}
