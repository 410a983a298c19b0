//! `debian/control` `Build-Depends`, `Build-Depends-Indep` and
//! `Build-Depends-Arch` of the source paragraph, one dependency per relation,
//! each with the line it is written on. Relations are parsed by `debian-control`.

use super::text::{Sink, attrs};
use crate::manifest::{Constraint, Context, Ecosystem};
use debian_control::lossy::Relation;
use debian_control::relations::VersionConstraint;

/// A paragraph's fields: name, then each line of its value with its line number.
type Fields = Vec<(String, Vec<(u32, String)>)>;

/// The paragraphs of a deb822 file: fields may continue on lines that start
/// with whitespace; `#` lines are comments.
fn paragraphs(text: &str, sink: &mut Sink) -> Vec<Fields> {
    let mut out: Vec<Fields> = Vec::new();
    let mut fields: Fields = Vec::new();
    let mut field: Option<(String, Vec<(u32, String)>)> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if raw.starts_with('#') {
            continue;
        }
        if raw.trim().is_empty() {
            fields.extend(field.take());
            if !fields.is_empty() {
                out.push(std::mem::take(&mut fields));
            }
            continue;
        }
        if raw.starts_with([' ', '\t']) {
            match field.as_mut() {
                Some((_, parts)) => parts.push((line, raw.trim().to_string())),
                None => sink.warn(line, "continuation line before any field", Some(raw)),
            }
            continue;
        }
        fields.extend(field.take());
        match raw.split_once(':') {
            Some((k, v)) => {
                field = Some((k.trim().to_string(), vec![(line, v.trim().to_string())]))
            }
            None => sink.warn(line, "malformed control line", Some(raw)),
        }
    }
    fields.extend(field.take());
    if !fields.is_empty() {
        out.push(fields);
    }
    out
}

/// Parses the source paragraph of a `debian/control`.
pub fn parse(text: &str, ctx: &Context, sink: &mut Sink) {
    let Some(fields) = paragraphs(text, sink).into_iter().next() else {
        return;
    };
    for (name, parts) in fields {
        let kind = match name.to_ascii_lowercase().as_str() {
            "build-depends" => "build-depends",
            "build-depends-indep" => "build-depends-indep",
            "build-depends-arch" => "build-depends-arch",
            _ => continue,
        };
        relations(&parts, kind, ctx, sink);
    }
}

/// The `Pre-Depends` and `Depends` of the binary package `package` of a
/// `debian/control`, one dependency per relation, as `apt-get -f install`
/// pulls them in after `dpkg -i`; `false` when no paragraph builds `package`.
/// Relations on `built` packages (the tree's own) are left out.
pub fn binary_depends(
    text: &str,
    package: &str,
    built: &std::collections::BTreeSet<String>,
    ctx: &Context,
    sink: &mut Sink,
) -> bool {
    let mut found = false;
    for fields in paragraphs(text, sink).into_iter().skip(1) {
        let is_it = fields.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("package") && v.first().is_some_and(|(_, p)| p == package)
        });
        if !is_it {
            continue;
        }
        found = true;
        for (name, parts) in &fields {
            let kind = match name.to_ascii_lowercase().as_str() {
                "pre-depends" => "pre-depends",
                "depends" => "depends",
                _ => continue,
            };
            let mut s = Sink::new(&sink.file);
            relations(parts, kind, ctx, &mut s);
            sink.diags.append(&mut s.diags);
            // An alternative the tree builds is satisfied by the tree: the whole relation is.
            let tree_built: std::collections::BTreeSet<(u32, String)> = s
                .deps
                .iter()
                .filter(|d| built.contains(&d.name))
                .map(|d| (d.origin.line, alternatives_of(d)))
                .collect();
            sink.deps.extend(
                s.deps
                    .into_iter()
                    .filter(|d| !tree_built.contains(&(d.origin.line, alternatives_of(d)))),
            );
        }
    }
    found
}

/// Whether the binary package `package` of a `debian/control` gets
/// `${shlibs:Depends}` filled in: it names it, and it is built per
/// architecture (`Architecture: all` holds no ELF objects).
pub fn takes_shlibs(text: &str, package: &str) -> bool {
    binary_paragraph(text, package).is_some_and(|fields| {
        let value = |name: &'static str| {
            fields
                .iter()
                .filter(move |(k, _)| k.eq_ignore_ascii_case(name))
                .flat_map(|(_, v)| v.iter().map(|(_, t)| t.as_str()))
        };
        value("Depends")
            .chain(value("Pre-Depends"))
            .any(|t| t.contains("${shlibs:Depends}"))
            && !value("Architecture")
                .next()
                .is_some_and(|a| a.split_whitespace().all(|a| a == "all"))
    })
}

/// Whether some binary paragraph of a `debian/control` builds `package`.
pub fn builds(text: &str, package: &str) -> bool {
    binary_paragraph(text, package).is_some()
}

/// The binary paragraph of a `debian/control` that builds `package`.
fn binary_paragraph(text: &str, package: &str) -> Option<Fields> {
    let mut sink = Sink::new("");
    paragraphs(text, &mut sink)
        .into_iter()
        .skip(1)
        .find(|fields| {
            fields.iter().any(|(k, v)| {
                k.eq_ignore_ascii_case("package") && v.first().is_some_and(|(_, p)| p == package)
            })
        })
}

/// The relations of a comma-separated relation text (a `Sources` stanza's
/// build dependencies, for `apt-get build-dep`), one dependency per
/// alternative as [`parse`] reads a control's, each tagged `field` and
/// placed at `origin`; and what could not be read.
pub fn relation_text(
    text: &str,
    field: &str,
    ctx: &Context,
    origin: &crate::manifest::Origin,
) -> (
    Vec<crate::manifest::Dependency>,
    Vec<crate::manifest::Diagnostic>,
) {
    let mut sink = Sink::new(&origin.file);
    relations(&[(origin.line, text.to_string())], field, ctx, &mut sink);
    (sink.deps, sink.diags)
}

fn alternatives_of(d: &crate::manifest::Dependency) -> String {
    d.attrs
        .get("alternatives")
        .cloned()
        .unwrap_or_else(|| d.name.clone())
}

/// A relation field's comma-separated entries, which may span lines.
fn relations(parts: &[(u32, String)], kind: &str, ctx: &Context, sink: &mut Sink) {
    let mut pending = String::new();
    let mut pending_line = 0;
    for (line, part) in parts {
        for piece in part.split_inclusive(',') {
            if pending.trim().is_empty() {
                pending_line = *line;
            }
            pending.push(' ');
            pending.push_str(piece);
            if piece.ends_with(',') {
                entry(
                    pending.trim().trim_end_matches(','),
                    pending_line,
                    kind,
                    ctx,
                    sink,
                );
                pending.clear();
            }
        }
    }
    if !pending.trim().is_empty() {
        entry(pending.trim(), pending_line, kind, ctx, sink);
    }
}

fn entry(text: &str, line: u32, field: &str, ctx: &Context, sink: &mut Sink) {
    let text = text.trim();
    if text.is_empty() {
        return;
    }
    let alts: Vec<&str> = text.split('|').map(str::trim).collect();
    for alt in &alts {
        if alt.starts_with("${") {
            continue; // substitution variables are filled at build time, not dependencies
        }
        match alt.parse::<Relation>() {
            Ok(r) => {
                let mut at = attrs([("field", field)]);
                if alts.len() > 1 {
                    at.insert("alternatives".to_string(), text.to_string());
                }
                if let Some(a) = &r.architectures {
                    at.insert("architectures".to_string(), a.join(" "));
                }
                if !r.profiles.is_empty() {
                    at.insert("profiles".to_string(), format!("{:?}", r.profiles));
                }
                let constraint = match &r.version {
                    None => Constraint::None,
                    Some((VersionConstraint::Equal, v)) => Constraint::Exact(v.to_string()),
                    Some((op, v)) => Constraint::Range(format!("{} {v}", op_str(op))),
                };
                let mut c = ctx.clone();
                if let Some(a) = &r.archqual {
                    c.arch = Some(a.clone());
                }
                sink.dep(Ecosystem::Deb, &r.name, constraint, line, c, at);
            }
            Err(e) => sink.warn(line, format!("unparsable build dependency: {e}"), Some(alt)),
        }
    }
}

fn op_str(op: &VersionConstraint) -> &'static str {
    match op {
        VersionConstraint::LessThan => "<<",
        VersionConstraint::LessThanEqual => "<=",
        VersionConstraint::Equal => "=",
        VersionConstraint::GreaterThan => ">>",
        VersionConstraint::GreaterThanEqual => ">=",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn binaries_that_take_shlibs() {
        let t = "Source: x\n\nPackage: x\nArchitecture: any\nDepends: ${shlibs:Depends},\n ${misc:Depends}\n\n\
                 Package: x-data\nArchitecture: all\nDepends: ${shlibs:Depends}\n\n\
                 Package: x-tools\nArchitecture: any\nDepends: x (= ${binary:Version})\n";
        assert!(takes_shlibs(t, "x"));
        assert!(!takes_shlibs(t, "x-data"), "arch all");
        assert!(!takes_shlibs(t, "x-tools"), "not named");
        assert!(!takes_shlibs(t, "y"), "not built here");
    }

    #[test]
    fn build_depends_with_lines_ranges_and_alternatives() {
        let t = "Source: x\nBuild-Depends: debhelper (>= 9.0.0),\n  python3,\n  libfoo-dev [amd64] | libbar-dev,\n  ${misc:Depends}\nStandards-Version: 4\n\nPackage: x\nDepends: nope\n";
        let mut s = Sink::new("debian/control");
        parse(t, &Context::default(), &mut s);
        let got: Vec<_> = s
            .deps
            .iter()
            .map(|d| (d.name.as_str(), d.origin.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("debhelper", 2),
                ("python3", 3),
                ("libfoo-dev", 4),
                ("libbar-dev", 4)
            ]
        );
        assert_eq!(s.deps[0].constraint, Constraint::Range(">= 9.0.0".into()));
    }
}
