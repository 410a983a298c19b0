//! A line-preserving Jinja pre-processor for the templates sonic-buildimage
//! renders at build time (`Dockerfile.j2`, `sonic_debian_extension.j2`).
//!
//! Output has exactly as many lines as input, so every later origin stays
//! right. `{% if %}` conditions over known variables are decided; conditions
//! that cannot be decided keep every branch, with a diagnostic. `{{ x }}` is
//! substituted when `x` is known and left verbatim otherwise.

use super::text::Sink;
use std::collections::HashMap;

/// Something that knows the value of template variables (make exports, platform settings).
pub trait Vars {
    /// The value of `name`, if known.
    fn get(&self, name: &str) -> Option<String>;
}

impl Vars for HashMap<String, String> {
    fn get(&self, name: &str) -> Option<String> {
        HashMap::get(self, name).cloned()
    }
}

#[derive(Debug, Clone, Copy)]
enum Branch {
    /// Condition decided: `taken` says whether any branch so far was true.
    Known { taken: bool, active: bool },
    /// Condition could not be decided: all branches are kept.
    Unknown,
    /// A loop or macro body: kept once.
    Body,
}

struct Frame {
    parent_active: bool,
    branch: Branch,
    line: u32,
    is_if: bool,
}

/// Renders `text` as far as the variables allow.
pub fn render(text: &str, vars: &dyn Vars, sink: &mut Sink) -> String {
    let mut out = String::with_capacity(text.len());
    let mut local: HashMap<String, Option<String>> = HashMap::new();
    let mut stack: Vec<Frame> = Vec::new();
    let mut line: u32 = 1;
    let mut rest = text;
    let active = |stack: &Vec<Frame>| {
        stack.last().is_none_or(|f| {
            f.parent_active
                && match f.branch {
                    Branch::Known { active, .. } => active,
                    Branch::Unknown | Branch::Body => true,
                }
        })
    };
    let lookup = |local: &HashMap<String, Option<String>>, name: &str| -> Option<String> {
        match local.get(name) {
            Some(v) => v.clone(),
            None => vars.get(name),
        }
    };
    while !rest.is_empty() {
        let next = ["{{", "{%", "{#"]
            .iter()
            .filter_map(|m| rest.find(m).map(|i| (i, *m)))
            .min_by_key(|(i, _)| *i);
        let Some((start, marker)) = next else {
            if active(&stack) {
                out.push_str(rest);
            } else {
                push_newlines(&mut out, rest);
            }
            break;
        };
        let before = &rest[..start];
        if active(&stack) {
            out.push_str(before);
        } else {
            push_newlines(&mut out, before);
        }
        line += count_nl(before);
        let close = match marker {
            "{{" => "}}",
            "{%" => "%}",
            _ => "#}",
        };
        let after = &rest[start + 2..];
        let Some(end) = find_close(after, close) else {
            sink.warn(
                line,
                "unclosed Jinja tag; the rest of the file is kept verbatim",
                Some(&super::text::truncate(&rest[start..], 80)),
            );
            if active(&stack) {
                out.push_str(&rest[start..]);
            } else {
                push_newlines(&mut out, &rest[start..]);
            }
            break;
        };
        let tag = &rest[start..start + 2 + end + 2];
        let inner = after[..end].trim_matches(|c| c == '-' || c == '+').trim();
        rest = &rest[start + 2 + end + 2..];
        match marker {
            "{#" => push_newlines(&mut out, tag),
            "{{" => {
                if active(&stack) {
                    match simple_name(inner).and_then(|n| lookup(&local, n)) {
                        Some(v) => {
                            out.push_str(&v);
                            push_newlines(&mut out, tag);
                        }
                        None => out.push_str(tag),
                    }
                } else {
                    push_newlines(&mut out, tag);
                }
            }
            _ => {
                push_newlines(&mut out, tag);
                let (kw, arg) = inner
                    .split_once(char::is_whitespace)
                    .map(|(k, a)| (k, a.trim()))
                    .unwrap_or((inner, ""));
                match kw {
                    "if" => {
                        let pa = active(&stack);
                        let branch = match eval(arg, &|n| lookup(&local, n)) {
                            Some(b) => Branch::Known {
                                taken: b,
                                active: b,
                            },
                            None => {
                                if pa {
                                    sink.warn(line, "Jinja condition cannot be decided; every branch is crawled", Some(tag));
                                }
                                Branch::Unknown
                            }
                        };
                        stack.push(Frame {
                            parent_active: pa,
                            branch,
                            line,
                            is_if: true,
                        });
                    }
                    "elif" | "else" => match stack.last_mut() {
                        Some(f) if f.is_if => {
                            if let Branch::Known { taken, .. } = f.branch {
                                f.branch = if taken {
                                    Branch::Known {
                                        taken: true,
                                        active: false,
                                    }
                                } else if kw == "else" {
                                    Branch::Known {
                                        taken: true,
                                        active: true,
                                    }
                                } else {
                                    match eval(arg, &|n| lookup(&local, n)) {
                                        Some(b) => Branch::Known {
                                            taken: b,
                                            active: b,
                                        },
                                        None => {
                                            if f.parent_active {
                                                sink.warn(line, "Jinja condition cannot be decided; every branch is crawled", Some(tag));
                                            }
                                            Branch::Unknown
                                        }
                                    }
                                };
                            }
                        }
                        _ => sink.warn(
                            line,
                            format!("Jinja `{kw}` without a matching `if`"),
                            Some(tag),
                        ),
                    },
                    "endif" | "endfor" | "endmacro" | "endfilter" | "endblock" | "endcall" => {
                        let want_if = kw == "endif";
                        match stack.last() {
                            Some(f) if f.is_if == want_if => {
                                stack.pop();
                            }
                            _ => sink.warn(
                                line,
                                format!("Jinja `{kw}` without a matching opening tag"),
                                Some(tag),
                            ),
                        }
                    }
                    "for" | "macro" | "filter" | "block" | "call" => {
                        let pa = active(&stack);
                        if kw == "for" {
                            // Loop variables are unknown inside the body.
                            if let Some((vars_part, _)) = arg.split_once(" in ") {
                                for v in vars_part.split(',') {
                                    local.insert(v.trim().to_string(), None);
                                }
                            }
                        }
                        stack.push(Frame {
                            parent_active: pa,
                            branch: Branch::Body,
                            line,
                            is_if: false,
                        });
                    }
                    "set" => {
                        if active(&stack)
                            && let Some((name, value)) = arg.split_once('=')
                        {
                            let value = value.trim();
                            let v = string_literal(value)
                                .map(str::to_string)
                                .or_else(|| simple_name(value).and_then(|n| lookup(&local, n)));
                            local.insert(name.trim().to_string(), v);
                        }
                    }
                    "raw" => {
                        let end = rest
                            .find("endraw")
                            .and_then(|i| rest[..i].rfind("{%").map(|s| (s, i)));
                        match end {
                            Some((s, i)) => {
                                let body = &rest[..s];
                                if active(&stack) {
                                    out.push_str(body);
                                } else {
                                    push_newlines(&mut out, body);
                                }
                                line += count_nl(body);
                                let tail = &rest[i..];
                                let close = tail.find("%}").map(|c| c + 2).unwrap_or(tail.len());
                                push_newlines(&mut out, &rest[s..i + close]);
                                line += count_nl(&rest[s..i + close]);
                                rest = &rest[i + close..];
                            }
                            None => sink.warn(line, "Jinja `raw` without `endraw`", Some(tag)),
                        }
                    }
                    _ => {}
                }
            }
        }
        line += count_nl(tag);
    }
    for f in stack {
        sink.warn(f.line, "Jinja block is never closed", None);
    }
    out
}

/// Finds the closing delimiter of a tag, skipping string literals (which may
/// themselves contain `%}`).
fn find_close(s: &str, close: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        match quote {
            Some(_) if b[i] == b'\\' => i += 1,
            Some(q) if b[i] == q => quote = None,
            Some(_) => {}
            None if b[i] == b'"' || b[i] == b'\'' => quote = Some(b[i]),
            None if b[i..].starts_with(close.as_bytes()) => return Some(i),
            None => {}
        }
        i += 1;
    }
    // An unbalanced quote: fall back to the first delimiter.
    s.find(close)
}

fn count_nl(s: &str) -> u32 {
    u32::try_from(s.bytes().filter(|&b| b == b'\n').count()).unwrap_or(u32::MAX)
}

fn push_newlines(out: &mut String, s: &str) {
    for _ in 0..count_nl(s) {
        out.push('\n');
    }
}

fn simple_name(s: &str) -> Option<&str> {
    let s = s.trim();
    (!s.is_empty()
        && s.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !s.starts_with(|c: char| c.is_ascii_digit()))
    .then_some(s)
}

fn string_literal(s: &str) -> Option<&str> {
    let s = s.trim();
    for q in ['"', '\''] {
        if s.len() >= 2 && s.starts_with(q) && s.ends_with(q) && !s[1..s.len() - 1].contains(q) {
            return Some(&s[1..s.len() - 1]);
        }
    }
    None
}

/// Decides a condition: `a == "x"`, `a != 'y'`, `a`, `not c`, `c and c`, `c or c`,
/// `a is defined`, `a in ["x", "y"]`, parentheses. `None` when it cannot.
fn eval(expr: &str, get: &dyn Fn(&str) -> Option<String>) -> Option<bool> {
    let e = expr.trim();
    if let Some(inner) = e.strip_prefix('(').and_then(|x| x.strip_suffix(')'))
        && balanced(inner)
    {
        return eval(inner, get);
    }
    for op in [" or ", " and "] {
        if let Some(i) = find_top(e, op) {
            let (l, r) = (eval(&e[..i], get), eval(&e[i + op.len()..], get));
            return match (op, l, r) {
                (" or ", Some(true), _) | (" or ", _, Some(true)) => Some(true),
                (" or ", Some(false), Some(false)) => Some(false),
                (" and ", Some(false), _) | (" and ", _, Some(false)) => Some(false),
                (" and ", Some(true), Some(true)) => Some(true),
                _ => None,
            };
        }
    }
    if let Some(rest) = e.strip_prefix("not ") {
        return eval(rest, get).map(|b| !b);
    }
    if let Some(name) = e.strip_suffix(" is defined") {
        return simple_name(name).and_then(|n| get(n).map(|_| true));
    }
    if let Some(name) = e.strip_suffix(" is not defined") {
        return simple_name(name).and_then(|n| get(n).map(|_| false));
    }
    for op in ["==", "!="] {
        if let Some(i) = find_top(e, op) {
            let l = value(&e[..i], get)?;
            let r = value(&e[i + 2..], get)?;
            return Some((l == r) == (op == "=="));
        }
    }
    if let Some(i) = find_top(e, " in ") {
        let l = value(&e[..i], get)?;
        let list = e[i + 4..]
            .trim()
            .strip_prefix(['[', '('])?
            .strip_suffix([']', ')'])?;
        let mut found = false;
        for item in list.split(',') {
            if string_literal(item)? == l {
                found = true;
            }
        }
        return Some(found);
    }
    let v = value(e, get)?;
    Some(!v.is_empty() && v != "n" && !v.eq_ignore_ascii_case("false"))
}

fn value(s: &str, get: &dyn Fn(&str) -> Option<String>) -> Option<String> {
    let s = s.trim();
    string_literal(s)
        .map(str::to_string)
        .or_else(|| simple_name(s).and_then(get))
}

fn balanced(s: &str) -> bool {
    let mut depth = 0i32;
    for c in s.chars() {
        match c {
            '(' => depth += 1,
            ')' => {
                depth -= 1;
                if depth < 0 {
                    return false;
                }
            }
            _ => {}
        }
    }
    depth == 0
}

/// Finds `op` outside parentheses and quotes.
fn find_top(s: &str, op: &str) -> Option<usize> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut quote: Option<u8> = None;
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                b'"' | b'\'' => quote = Some(c),
                b'(' | b'[' => depth += 1,
                b')' | b']' => depth -= 1,
                _ if depth == 0 && b[i..].starts_with(op.as_bytes()) => return Some(i),
                _ => {}
            },
        }
        i += 1;
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn vars() -> HashMap<String, String> {
        [("CONFIGURED_ARCH", "amd64"), ("prefix", "")]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn decides_known_conditions_and_keeps_lines() {
        let t = "{% if CONFIGURED_ARCH == \"armhf\" %}\nFROM arm\n{% elif CONFIGURED_ARCH == \"amd64\" %}\nFROM {{ prefix }}debian:bullseye\n{% endif %}\nX\n";
        let mut s = Sink::new("f");
        let out = render(t, &vars(), &mut s);
        assert_eq!(out.lines().count(), t.lines().count());
        assert!(!out.contains("FROM arm"));
        assert!(out.contains("FROM debian:bullseye"));
        assert!(s.diags.is_empty());
    }

    #[test]
    fn unknown_conditions_keep_all_branches_with_diagnostic() {
        let t = "{% if FOO == 'y' %}\nA\n{% else %}\nB\n{% endif %}\n";
        let mut s = Sink::new("f");
        let out = render(t, &vars(), &mut s);
        assert!(out.contains('A') && out.contains('B'));
        assert_eq!(s.diags.len(), 1);
        assert_eq!(s.diags[0].origin.line, 1);
    }

    #[test]
    fn unknown_expressions_stay_verbatim() {
        let mut s = Sink::new("f");
        let out = render("pip install {{ whl }}\n{# c\n #}\nz", &vars(), &mut s);
        assert_eq!(out, "pip install {{ whl }}\n\n\nz");
    }
}
