//! Go modules: `require` lines of `go.mod` (exact versions, by minimal
//! version selection), with the `go.sum` hash when the sibling file has one.

use super::text::Sink;
use crate::manifest::{Constraint, Context, Ecosystem};
use crate::universe::go::{GoReplace, parse_go_mod};
use std::collections::{BTreeMap, HashMap};

/// `module version` -> `h1:` hash of the module zip, from a `go.sum`.
pub fn sum_hashes(go_sum: &str) -> HashMap<(String, String), String> {
    let mut out = HashMap::new();
    for l in go_sum.lines() {
        let f: Vec<&str> = l.split_whitespace().collect();
        if f.len() == 3 && !f[1].ends_with("/go.mod") {
            out.insert((f[0].to_string(), f[1].to_string()), f[2].to_string());
        }
    }
    out
}

/// Parses a `go.mod`; `sums` comes from the sibling `go.sum`, if any.
pub fn parse(
    text: &str,
    sums: Option<&HashMap<(String, String), String>>,
    ctx: &Context,
    sink: &mut Sink,
) {
    let m = parse_go_mod(text);
    for (line, raw) in &m.malformed {
        sink.warn(*line, "malformed require line", Some(raw));
    }
    for r in &m.requires {
        let mut at = BTreeMap::new();
        if r.indirect {
            at.insert("indirect".to_string(), "true".to_string());
        }
        if let Some(h) = sums.and_then(|s| s.get(&(r.module.clone(), r.version.clone()))) {
            at.insert("go-sum".to_string(), h.clone());
        }
        sink.dep(
            Ecosystem::Go,
            &r.module,
            Constraint::Exact(r.version.clone()),
            r.line,
            ctx.clone(),
            at,
        );
    }
    for GoReplace { old, new, line } in m.replaces {
        let f: Vec<&str> = new.split_whitespace().collect();
        for d in sink
            .deps
            .iter_mut()
            .filter(|d| d.ecosystem == Ecosystem::Go && d.name == old)
        {
            d.attrs.insert("replaced-by".to_string(), new.clone());
            d.attrs.insert("replace-line".to_string(), line.to_string());
            if f.len() == 2 {
                d.constraint = Constraint::Exact(f[1].to_string());
            } else {
                // A local path replacement: the module comes from the tree itself.
                d.constraint = Constraint::None;
                d.pinned = false;
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_blocks_and_sums() {
        let m = "module x\n\ngo 1.15\n\nrequire (\n\tgithub.com/a/b v1.2.3\n\tgolang.org/x/net v0.0.0-2020 // indirect\n)\nrequire github.com/c/d v0.1.0\nreplace github.com/c/d => ../d\n";
        let sums =
            sum_hashes("github.com/a/b v1.2.3 h1:abc=\ngithub.com/a/b v1.2.3/go.mod h1:def=\n");
        let mut s = Sink::new("go.mod");
        parse(m, Some(&sums), &Context::default(), &mut s);
        assert_eq!(s.deps.len(), 3);
        assert_eq!(s.deps[0].origin.line, 6);
        assert_eq!(
            s.deps[0].attrs.get("go-sum").map(String::as_str),
            Some("h1:abc=")
        );
        assert_eq!(
            s.deps[1].attrs.get("indirect").map(String::as_str),
            Some("true")
        );
        assert!(!s.deps[2].pinned);
    }
}
