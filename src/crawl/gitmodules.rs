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
            "path" => cur.path = v,
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

#[cfg(test)]
mod tests {
    use super::*;

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
