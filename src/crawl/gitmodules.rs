//! `.gitmodules`: submodule name, path, URL and `branch =`.

use super::text::Sink;

/// One submodule declaration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Submodule {
    /// The section name.
    pub name: String,
    /// Path inside the superproject.
    pub path: String,
    /// Clone URL.
    pub url: String,
    /// The branch it tracks (`branch =`), if declared.
    pub branch: Option<String>,
    /// 1-based line of the section header.
    pub line: u32,
}

/// Parses `.gitmodules` (git-config syntax, the subset git writes).
pub fn parse(text: &str, sink: &mut Sink) -> Vec<Submodule> {
    let mut out: Vec<Submodule> = Vec::new();
    for (i, raw) in text.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let t = raw.trim();
        if t.is_empty() || t.starts_with('#') || t.starts_with(';') {
            continue;
        }
        if let Some(h) = t.strip_prefix('[') {
            let h = h.trim_end_matches(']').trim();
            match h.strip_prefix("submodule") {
                Some(n) => out.push(Submodule {
                    name: n.trim().trim_matches('"').to_string(),
                    path: String::new(),
                    url: String::new(),
                    branch: None,
                    line,
                }),
                None => sink.warn(line, "unexpected section in .gitmodules", Some(t)),
            }
            continue;
        }
        let Some((k, v)) = t.split_once('=') else {
            sink.warn(line, "malformed .gitmodules line", Some(t));
            continue;
        };
        let Some(cur) = out.last_mut() else {
            sink.warn(line, "key outside a [submodule] section", Some(t));
            continue;
        };
        let v = v.trim().trim_matches('"').to_string();
        match k.trim() {
            "path" => cur.path = clean(&v),
            "url" => cur.url = v,
            "branch" => cur.branch = Some(v),
            _ => {}
        }
    }
    out.retain(|s| {
        if s.path.is_empty() || s.url.is_empty() {
            sink.warn(
                s.line,
                format!("submodule `{}` lacks a path or url", s.name),
                None,
            );
            false
        } else {
            true
        }
    });
    out
}

/// A declared path as git reads it (`./a/b/` is `a/b`).
fn clean(p: &str) -> String {
    super::text::normalize_path(p)
}

/// Where the submodule at `path` is declared: the `.gitmodules` file (a tree
/// path) and the path as written there. A submodule of the superproject is
/// declared in the root `.gitmodules`; a nested one in the `.gitmodules` of
/// the innermost submodule enclosing it (`enclosing` lists the submodule
/// paths whose trees were read), with its path relative to that submodule.
pub fn declared_in(path: &str, enclosing: &[&str]) -> (String, String) {
    let parent = enclosing
        .iter()
        .filter(|e| {
            path.len() > e.len() + 1 && path.starts_with(*e) && path.as_bytes()[e.len()] == b'/'
        })
        .max_by_key(|e| e.len());
    match parent {
        Some(e) => (format!("{e}/.gitmodules"), path[e.len() + 1..].to_string()),
        None => (".gitmodules".to_string(), path.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_submodules_are_declared_by_the_innermost_enclosing_one() {
        let subs = [
            "src/sonic-sairedis",
            "src/sonic-sairedis/SAI",
            "src/sonic-sairedis/SAIX",
        ];
        assert_eq!(
            declared_in("src/sonic-sairedis/SAI/bm/behavioral-model", &subs),
            (
                "src/sonic-sairedis/SAI/.gitmodules".to_string(),
                "bm/behavioral-model".to_string()
            )
        );
        assert_eq!(
            declared_in("src/sonic-sairedis", &subs),
            (".gitmodules".to_string(), "src/sonic-sairedis".to_string())
        );
        let mut s = Sink::new("x");
        let m = parse(
            "[submodule \"bm\"]\n path = ./bm/behavioral-model/\n url = u\n",
            &mut s,
        );
        assert_eq!(m[0].path, "bm/behavioral-model");
    }

    #[test]
    fn parses_sections_with_branch() {
        let t = "[submodule \"src/sonic-frr/frr\"]\n\tpath = src/sonic-frr/frr\n\turl = https://github.com/sonic-net/sonic-frr.git\n\tbranch = frr/8.2\n[submodule \"x\"]\n  path = x\n";
        let mut s = Sink::new(".gitmodules");
        let m = parse(t, &mut s);
        assert_eq!(m.len(), 1);
        assert_eq!(m[0].branch.as_deref(), Some("frr/8.2"));
        assert_eq!(s.diags.len(), 1);
    }
}
