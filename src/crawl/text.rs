//! Text helpers shared by the parsers: decoding blobs, joining continued
//! lines, and the per-file output collector.

use crate::manifest::{
    AptSource, Constraint, Context, Dependency, Diagnostic, Ecosystem, Origin, Severity,
};
use std::collections::BTreeMap;

/// Resolves `.` and `..` components of a tree-relative path (never above the root).
pub fn normalize_path(path: &str) -> String {
    let mut out: Vec<&str> = Vec::new();
    for c in path.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            _ => out.push(c),
        }
    }
    out.join("/")
}

/// True when the blob looks binary (a NUL byte in its first 8000 bytes, as git decides).
pub fn is_binary(bytes: &[u8]) -> bool {
    bytes.iter().take(8000).any(|&b| b == 0)
}

/// Decodes a blob as UTF-8; invalid sequences are replaced, and the caller is told.
pub fn decode(bytes: &[u8]) -> (std::borrow::Cow<'_, str>, bool) {
    // A UTF-8 byte order mark would otherwise stick to the first name.
    let bytes = bytes.strip_prefix(b"\xef\xbb\xbf").unwrap_or(bytes);
    match std::str::from_utf8(bytes) {
        Ok(s) => (std::borrow::Cow::Borrowed(s), true),
        Err(_) => (String::from_utf8_lossy(bytes), false),
    }
}

/// One logical line: physical lines joined at backslash-newline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogicalLine {
    /// 1-based number of the first physical line.
    pub line: u32,
    /// The joined text (continuation backslashes and newlines replaced by one space).
    pub text: String,
    /// True when the last physical line ended in a backslash at end of file.
    pub unterminated: bool,
}

/// Joins backslash continuations. `keep_comments_in_continuations` mirrors
/// the shell's behaviour of not treating `#` specially here; comments are the
/// parsers' business.
pub fn logical_lines(text: &str) -> Vec<LogicalLine> {
    let mut out = Vec::new();
    let mut cur: Option<LogicalLine> = None;
    for (i, raw) in text.split('\n').enumerate() {
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let lineno = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let trailing = raw.bytes().rev().take_while(|&b| b == b'\\').count();
        // An odd run of trailing backslashes continues the line; `\\` is an escaped backslash.
        let (body, cont) = if trailing % 2 == 1 {
            (&raw[..raw.len() - 1], true)
        } else {
            (raw, false)
        };
        let l = cur.get_or_insert_with(|| LogicalLine {
            line: lineno,
            text: String::new(),
            unterminated: false,
        });
        if !l.text.is_empty() {
            l.text.push(' ');
        }
        l.text.push_str(body);
        if !cont && let Some(done) = cur.take() {
            out.push(done);
        }
    }
    if let Some(mut l) = cur.take() {
        l.unterminated = true;
        out.push(l);
    }
    // A trailing newline produces one empty final line: drop it, but a
    // continuation that ran into it is still unterminated.
    if let Some(last) = out.last()
        && last.text.is_empty()
        && !last.unterminated
    {
        out.pop();
    }
    let body = text.strip_suffix('\n').unwrap_or(text);
    let body = body.strip_suffix('\r').unwrap_or(body);
    if body.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
        && let Some(last) = out.last_mut()
    {
        last.unterminated = true;
    }
    out
}

/// Collects what one file yields.
#[derive(Debug, Default)]
pub struct Sink {
    /// The file being parsed (tree-relative path).
    pub file: String,
    /// Dependencies found.
    pub deps: Vec<Dependency>,
    /// Diagnostics raised.
    pub diags: Vec<Diagnostic>,
    /// apt sources added.
    pub apt_sources: Vec<AptSource>,
}

impl Sink {
    /// A sink for `file`.
    pub fn new(file: &str) -> Sink {
        Sink {
            file: file.to_string(),
            deps: Vec::new(),
            diags: Vec::new(),
            apt_sources: Vec::new(),
        }
    }

    /// The origin `file:line` in this file.
    pub fn origin(&self, line: u32) -> Origin {
        Origin {
            file: self.file.clone(),
            line,
        }
    }

    /// Records a dependency; `pinned` is derived from the constraint.
    pub fn dep(
        &mut self,
        ecosystem: Ecosystem,
        name: &str,
        constraint: Constraint,
        line: u32,
        context: Context,
        attrs: BTreeMap<String, String>,
    ) {
        let pinned = constraint.is_pinned();
        self.deps.push(Dependency {
            ecosystem,
            name: name.to_string(),
            constraint,
            pinned,
            origin: self.origin(line),
            context,
            attrs,
        });
    }

    /// Records a warning with the raw text concerned.
    pub fn warn(&mut self, line: u32, message: impl Into<String>, text: Option<&str>) {
        self.diags.push(Diagnostic {
            severity: Severity::Warning,
            origin: self.origin(line),
            message: message.into(),
            text: text.map(|t| truncate(t.trim(), 400)),
        });
    }

    /// Records an error (something could not be read at all).
    pub fn error(&mut self, line: u32, message: impl Into<String>, text: Option<&str>) {
        self.diags.push(Diagnostic {
            severity: Severity::Error,
            origin: self.origin(line),
            message: message.into(),
            text: text.map(|t| truncate(t.trim(), 400)),
        });
    }
}

/// Cuts `s` to at most `max` bytes on a character boundary, marking the cut.
pub fn truncate(s: &str, max: usize) -> String {
    if s.len() <= max {
        return s.to_string();
    }
    let mut end = max;
    while !s.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &s[..end])
}

/// Builds an attribute map from pairs.
pub fn attrs<const N: usize>(pairs: [(&str, &str); N]) -> BTreeMap<String, String> {
    pairs
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

/// True when `s` still contains an unexpanded make, shell or Jinja reference.
pub fn has_unexpanded(s: &str) -> bool {
    s.contains('$') || s.contains("{{") || s.contains("{%") || s.contains('`')
}

/// True for a full or abbreviated git object id.
pub fn is_commit_sha(s: &str) -> bool {
    (7..=40).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn continuations_join_and_keep_first_line() {
        let l = logical_lines("a \\\n  b\nc\n");
        assert_eq!(l.len(), 2);
        assert_eq!(l[0].line, 1);
        assert_eq!(l[0].text, "a    b");
        assert_eq!(l[1].line, 3);
    }

    #[test]
    fn unterminated_continuation_is_flagged() {
        let l = logical_lines("x\ny \\");
        assert_eq!(l.len(), 2);
        assert!(l[1].unterminated);
        assert_eq!(l[1].line, 2);
    }

    #[test]
    fn binary_detection() {
        assert!(is_binary(b"ab\0c"));
        assert!(!is_binary(b"abc"));
    }
}
