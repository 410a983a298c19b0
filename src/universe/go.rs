//! Go modules: the `require` and `replace` directives of a go.mod, read the
//! same way from a source tree (the crawler) and from a module proxy (the
//! sources, for minimal version selection over the module graph).

/// One `require` of a go.mod.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoRequire {
    /// Module path.
    pub module: String,
    /// The version required (minimal version selection takes the greatest).
    pub version: String,
    /// 1-based line number.
    pub line: u32,
    /// Marked `// indirect`.
    pub indirect: bool,
}

/// One `replace old => new`; `new` is `path version` or a local directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GoReplace {
    /// The module replaced (its version, if given, is not kept).
    pub old: String,
    /// The replacement as written.
    pub new: String,
    /// 1-based line number.
    pub line: u32,
}

/// The directives of a go.mod that locking needs, in file order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GoMod {
    /// `require` lines.
    pub requires: Vec<GoRequire>,
    /// `replace` lines.
    pub replaces: Vec<GoReplace>,
    /// `require` lines without a module and a version: line number and raw text.
    pub malformed: Vec<(u32, String)>,
}

/// Reads the `require` and `replace` directives (single lines and blocks) of a go.mod.
pub fn parse_go_mod(text: &str) -> GoMod {
    let mut out = GoMod::default();
    let mut block: Option<String> = None;
    for (i, raw) in text.lines().enumerate() {
        let line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let (code, comment) = match raw.split_once("//") {
            Some((c, m)) => (c.trim(), m.trim()),
            None => (raw.trim(), ""),
        };
        if code.is_empty() {
            continue;
        }
        if code == ")" {
            block = None;
            continue;
        }
        let (verb, rest) = match &block {
            Some(b) => (b.as_str(), code),
            None => match code.split_once(char::is_whitespace) {
                Some((v, r)) => (v, r.trim()),
                None => (code, ""),
            },
        };
        if block.is_none() && rest == "(" {
            block = Some(verb.to_string());
            continue;
        }
        match verb {
            "require" => {
                let f: Vec<&str> = rest.split_whitespace().collect();
                if f.len() < 2 {
                    out.malformed.push((line, raw.to_string()));
                    continue;
                }
                out.requires.push(GoRequire {
                    module: f[0].to_string(),
                    version: f[1].to_string(),
                    line,
                    indirect: comment.contains("indirect"),
                });
            }
            "replace" => {
                if let Some((old, new)) = rest.split_once("=>") {
                    out.replaces.push(GoReplace {
                        old: old.split_whitespace().next().unwrap_or("").to_string(),
                        new: new.trim().to_string(),
                        line,
                    });
                }
            }
            _ => {}
        }
    }
    out
}

impl GoMod {
    /// The `module version` pairs required and not replaced: a dependency's
    /// replace directives do not apply to the main module, so its replaced
    /// requirements are left out of the module graph.
    pub fn unreplaced_requires(&self) -> Vec<(String, String)> {
        self.requires
            .iter()
            .filter(|r| !self.replaces.iter().any(|p| p.old == r.module))
            .map(|r| (r.module.clone(), r.version.clone()))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requires_blocks_replaces_and_malformed_lines() {
        let m = "module x\n\nrequire (\n\tgithub.com/a/b v1.2.3\n\tgolang.org/x/net v0.1.0 // indirect\n\tbroken\n)\nrequire github.com/c/d v0.1.0\nreplace github.com/c/d => ../d\n";
        let g = parse_go_mod(m);
        assert_eq!(g.requires.len(), 3);
        assert_eq!(g.requires[0].line, 4);
        assert!(g.requires[1].indirect);
        assert_eq!(g.malformed, vec![(6, "\tbroken".to_string())]);
        assert_eq!(g.replaces[0].old, "github.com/c/d");
        assert_eq!(
            g.unreplaced_requires(),
            vec![
                ("github.com/a/b".to_string(), "v1.2.3".to_string()),
                ("golang.org/x/net".to_string(), "v0.1.0".to_string())
            ]
        );
    }
}
