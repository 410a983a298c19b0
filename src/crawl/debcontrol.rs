//! `debian/control` `Build-Depends`, `Build-Depends-Indep` and
//! `Build-Depends-Arch` of the source paragraph, one dependency per relation,
//! each with the line it is written on. Relations are parsed by `debian-control`.

use super::text::{Sink, attrs};
use crate::manifest::{Constraint, Context, Ecosystem};
use debian_control::lossy::Relation;
use debian_control::relations::VersionConstraint;

/// Parses the source paragraph of a `debian/control`.
pub fn parse(text: &str, ctx: &Context, sink: &mut Sink) {
    // Deb822: the first paragraph is the source one; fields may continue on
    // lines that start with whitespace; `#` lines are comments.
    let mut field: Option<(String, Vec<(u32, String)>)> = None;
    let mut fields: Vec<(String, Vec<(u32, String)>)> = Vec::new();
    let mut seen_any = false;
    for (i, raw) in text.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        if raw.starts_with('#') {
            continue;
        }
        if raw.trim().is_empty() {
            if seen_any {
                break;
            }
            continue;
        }
        seen_any = true;
        if raw.starts_with([' ', '\t']) {
            match field.as_mut() {
                Some((_, parts)) => parts.push((line, raw.trim().to_string())),
                None => sink.warn(line, "continuation line before any field", Some(raw)),
            }
            continue;
        }
        if let Some(f) = field.take() {
            fields.push(f);
        }
        match raw.split_once(':') {
            Some((k, v)) => {
                field = Some((k.trim().to_string(), vec![(line, v.trim().to_string())]))
            }
            None => sink.warn(line, "malformed control line", Some(raw)),
        }
    }
    if let Some(f) = field.take() {
        fields.push(f);
    }
    for (name, parts) in fields {
        let kind = match name.to_ascii_lowercase().as_str() {
            "build-depends" => "build-depends",
            "build-depends-indep" => "build-depends-indep",
            "build-depends-arch" => "build-depends-arch",
            _ => continue,
        };
        // Entries are comma-separated and may span lines: carry partial text over.
        let mut pending = String::new();
        let mut pending_line = 0;
        for (line, part) in &parts {
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
