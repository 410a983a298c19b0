//! A GNU make subset, enough to evaluate sonic-buildimage's `slave.mk`,
//! `rules/*.mk` and `platform/<p>/*.mk` the way the build does: recursive and
//! simple variables, `+=`/`?=`/`:=`, `define`, conditionals, `include` with
//! globs, `$(eval $(call ...))`, substitution references and the text
//! functions. `$(shell ...)` cannot be run and expands to nothing, with a
//! diagnostic; rules are kept (targets, prerequisites, recipe) for the
//! crawler to read, never executed.

use super::text::{Sink, decode, logical_lines};
use crate::manifest::Origin;
use std::collections::HashMap;

/// Where the make files come from: the crawled tree.
pub trait Files {
    /// The bytes of `path`, if the tree has it.
    fn read(&self, path: &str) -> Option<Vec<u8>>;
    /// Tree paths matching a glob pattern (`*` and `?` within one path component).
    fn glob(&self, pattern: &str) -> Vec<String>;
}

/// One variable.
#[derive(Debug, Clone)]
pub struct Var {
    /// Raw text for recursive variables, expanded text for simple ones.
    pub value: String,
    /// True for `=` / `define` variables (expanded at each use).
    pub recursive: bool,
    /// Set on the command line: file assignments do not override it.
    pub command_line: bool,
    /// Where it was last assigned.
    pub origin: Option<Origin>,
}

/// A rule as written: expanded targets, raw prerequisites and recipe lines.
#[derive(Debug, Clone)]
pub struct Rule {
    /// Targets after expansion.
    pub targets: String,
    /// Prerequisite text as written (secondary expansion is the caller's business).
    pub prereqs: String,
    /// Where the rule line is.
    pub origin: Origin,
    /// Recipe lines: 1-based line and raw text (without the leading tab).
    pub recipe: Vec<(u32, String)>,
}

/// The evaluated variable database and rules.
#[derive(Debug, Default, Clone)]
pub struct MakeDb {
    /// Variables by name.
    pub vars: HashMap<String, Var>,
    /// Rules in file order.
    pub rules: Vec<Rule>,
    /// Files included, in order.
    pub included: Vec<String>,
    /// Variables marked `export` (passed to recipes and the scripts they run).
    pub exported: std::collections::BTreeSet<String>,
}

impl MakeDb {
    /// Sets a command-line variable (like `make NAME=value`).
    pub fn set_command_line(&mut self, name: &str, value: &str) {
        self.vars.insert(
            name.to_string(),
            Var {
                value: value.to_string(),
                recursive: false,
                command_line: true,
                origin: None,
            },
        );
    }
}

/// Evaluates make text over a database, optionally layered on a read-only base
/// (the global database, when a package's own Makefile is read).
pub struct Evaluator<'a> {
    /// Read-only variables underneath (the global database).
    pub base: Option<&'a MakeDb>,
    /// The database being built.
    pub db: MakeDb,
    /// Keep undefined references verbatim instead of expanding them to nothing.
    pub keep_undefined: bool,
    /// Undefined variables and unrunnable `$(shell)` met by the last expansions.
    pub unknown: Vec<String>,
    /// Directory (tree-relative) make runs in; includes are relative to it.
    pub cwd: String,
    files: Option<&'a dyn Files>,
    depth: u32,
    /// Nested `expand` calls in progress; the outermost one resets `refs`.
    expanding: u32,
    /// References expanded since the outermost expansion began.
    refs: u64,
}

const MAX_DEPTH: u32 = 200;

/// References one outermost expansion may make. A variable that references
/// itself twice (`X = $(X) $(X)`) doubles the work at each level, which
/// [`MAX_DEPTH`] alone would let run for 2^200 steps; real make trees stay far below.
pub const MAX_REFS: u64 = 100_000;

/// Longest text one expansion builds (simple variables that double themselves).
const MAX_LEN: usize = 1 << 22;

/// The diagnostic of an expansion cut short by [`MAX_REFS`] or [`MAX_LEN`].
pub const BUDGET_EXCEEDED: &str = "(expansion budget exceeded: a variable that references itself, or text that doubles, cut short)";

#[derive(Clone, Copy)]
struct Cond {
    parent_active: bool,
    active: bool,
    taken: bool,
}

impl<'a> Evaluator<'a> {
    /// A fresh evaluator; `files` resolves includes.
    pub fn new(base: Option<&'a MakeDb>, files: Option<&'a dyn Files>) -> Evaluator<'a> {
        Evaluator {
            base,
            db: MakeDb::default(),
            keep_undefined: false,
            unknown: Vec::new(),
            cwd: String::new(),
            files,
            depth: 0,
            expanding: 0,
            refs: 0,
        }
    }

    /// Looks a variable up in the layer, then in the base.
    pub fn var(&self, name: &str) -> Option<&Var> {
        self.db
            .vars
            .get(name)
            .or_else(|| self.base.and_then(|b| b.vars.get(name)))
    }

    /// The fully expanded value of a variable (empty when undefined).
    pub fn value(&mut self, name: &str) -> String {
        let keep = self.keep_undefined;
        self.keep_undefined = false;
        let v = self.expand(&format!("$({name})"));
        self.keep_undefined = keep;
        v
    }

    /// Reads and evaluates a make file from the tree.
    pub fn include(&mut self, path: &str, sink: &mut Sink) -> bool {
        let Some(files) = self.files else {
            return false;
        };
        let Some(bytes) = files.read(path) else {
            return false;
        };
        let (text, utf8) = decode(&bytes);
        let mut s = Sink::new(path);
        if !utf8 {
            s.warn(
                1,
                "file is not valid UTF-8; invalid bytes were replaced",
                None,
            );
        }
        self.db.included.push(path.to_string());
        self.eval_text(&text, &mut s);
        sink.diags.append(&mut s.diags);
        true
    }

    /// Evaluates make text; diagnostics go to `sink` (whose file names the origin).
    pub fn eval_text(&mut self, text: &str, sink: &mut Sink) {
        let mut conds: Vec<Cond> = Vec::new();
        let mut define: Option<(String, String, Vec<String>, u32)> = None;
        let mut define_nest = 0;
        let mut in_rule = false;
        let lines = logical_lines(text);
        for l in &lines {
            let line = l.line;
            if l.unterminated {
                sink.warn(
                    line,
                    "line continuation runs into end of file",
                    Some(&l.text),
                );
            }
            if let Some((name, op, body, start)) = define.as_mut() {
                let t = l.text.trim();
                if t.starts_with("define ") || t == "define" {
                    define_nest += 1;
                } else if t == "endef" || t.starts_with("endef ") {
                    if define_nest == 0 {
                        let value = body.join("\n");
                        let (n, o, st) = (name.clone(), op.clone(), *start);
                        define = None;
                        if conds.last().is_none_or(|c| c.active) {
                            self.assign(&n, &o, &value, true, false, sink, st);
                        }
                        continue;
                    }
                    define_nest -= 1;
                }
                body.push(l.text.clone());
                continue;
            }
            if l.text.starts_with('\t') && in_rule {
                if conds.last().is_none_or(|c| c.active)
                    && let Some(r) = self.db.rules.last_mut()
                {
                    r.recipe.push((line, l.text[1..].to_string()));
                }
                continue;
            }
            let text = strip_comment(&l.text);
            let t = text.trim();
            if t.is_empty() {
                continue;
            }
            let (kw, rest) = split_word(t);
            let active = conds.last().is_none_or(|c| c.active);
            match kw {
                "ifeq" | "ifneq" | "ifdef" | "ifndef" => {
                    let v = if active {
                        self.condition(kw, rest, sink, line)
                    } else {
                        false
                    };
                    conds.push(Cond {
                        parent_active: active,
                        active: active && v,
                        taken: v,
                    });
                    continue;
                }
                "else" => {
                    let Some(c) = conds.last_mut() else {
                        sink.warn(line, "`else` without a conditional", Some(t));
                        continue;
                    };
                    let c = *c;
                    let (kw2, rest2) = split_word(rest);
                    let next = if c.taken {
                        Cond { active: false, ..c }
                    } else if matches!(kw2, "ifeq" | "ifneq" | "ifdef" | "ifndef") {
                        let v = c.parent_active && self.condition(kw2, rest2, sink, line);
                        Cond {
                            active: c.parent_active && v,
                            taken: v,
                            ..c
                        }
                    } else {
                        Cond {
                            active: c.parent_active,
                            taken: true,
                            ..c
                        }
                    };
                    if let Some(last) = conds.last_mut() {
                        *last = next;
                    }
                    continue;
                }
                "endif" => {
                    if conds.pop().is_none() {
                        sink.warn(line, "`endif` without a conditional", Some(t));
                    }
                    continue;
                }
                _ => {}
            }
            if !active {
                if kw == "define" {
                    define = Some((String::new(), String::new(), Vec::new(), line));
                    // Inactive define: consumed and dropped at endef.
                    if let Some(d) = define.as_mut() {
                        d.0 = String::from("\u{0}inactive");
                    }
                }
                continue;
            }
            match kw {
                "define" => {
                    let (name, op) = define_header(rest);
                    let name = self.expand(name).trim().to_string();
                    define = Some((name, op.to_string(), Vec::new(), line));
                    define_nest = 0;
                    in_rule = false;
                    continue;
                }
                "include" | "-include" | "sinclude" => {
                    let optional = kw != "include";
                    let words = self.expand(rest);
                    for w in words.split_whitespace() {
                        let joined = if self.cwd.is_empty() || w.starts_with('/') {
                            w.to_string()
                        } else {
                            format!("{}/{w}", self.cwd)
                        };
                        let w = super::text::normalize_path(&joined);
                        let w = w.as_str();
                        let paths = if w.contains(['*', '?', '[']) {
                            self.files.map(|f| f.glob(w)).unwrap_or_default()
                        } else {
                            vec![w.to_string()]
                        };
                        if paths.is_empty() && !optional {
                            sink.warn(
                                line,
                                format!("include pattern `{w}` matches no file"),
                                Some(t),
                            );
                        }
                        for p in paths {
                            if self.depth > 50 {
                                sink.warn(line, "include nesting too deep", Some(t));
                                break;
                            }
                            self.depth += 1;
                            let found = self.include(&p, sink);
                            self.depth -= 1;
                            if !found && !optional {
                                sink.warn(
                                    line,
                                    format!("included file `{p}` is not in the tree"),
                                    Some(t),
                                );
                            }
                        }
                    }
                    in_rule = false;
                    continue;
                }
                "vpath" | "unexport" | ".PHONY" => continue,
                _ => {}
            }
            // Prefixes of assignments.
            let mut body = t;
            let mut is_override = false;
            let mut is_export = false;
            loop {
                let (k, r) = split_word(body);
                match k {
                    "override" => is_override = true,
                    "export" => is_export = true,
                    "private" => {}
                    _ => break,
                }
                body = r;
            }
            match classify(body) {
                Line::Assign { lhs, op, rhs } => {
                    let name = self.expand(lhs).trim().to_string();
                    if is_export {
                        self.db.exported.insert(name.clone());
                    }
                    if name.is_empty() {
                        sink.warn(line, "assignment to an empty variable name", Some(t));
                    } else {
                        self.assign(&name, op, rhs, false, is_override, sink, line);
                    }
                    in_rule = false;
                }
                Line::Rule { targets, prereqs } => {
                    if is_export {
                        continue; // `export A: B` is not meaningful
                    }
                    let targets = self.expand(targets);
                    self.db.rules.push(Rule {
                        targets,
                        prereqs: prereqs.to_string(),
                        origin: sink.origin(line),
                        recipe: Vec::new(),
                    });
                    in_rule = true;
                }
                Line::Other => {
                    if is_export {
                        // `export A B`: names only.
                        let names = self.expand(body);
                        self.db.exported.extend(words(&names).map(str::to_string));
                        continue;
                    }
                    // A bare function call such as `$(eval $(call ...))`.
                    self.unknown.clear();
                    let out = self.expand(body);
                    self.report_unknown(sink, line, t);
                    if !out.trim().is_empty() && !body.starts_with('$') {
                        sink.warn(line, "make line not understood", Some(t));
                    }
                }
            }
        }
        if define.is_some() {
            sink.warn(
                lines.last().map_or(1, |l| l.line),
                "`define` without `endef`",
                None,
            );
        }
        for c in conds {
            let _ = c;
            sink.warn(
                lines.last().map_or(1, |l| l.line),
                "conditional without `endif`",
                None,
            );
        }
    }

    fn report_unknown(&mut self, sink: &mut Sink, line: u32, text: &str) {
        for u in std::mem::take(&mut self.unknown) {
            if u == BUDGET_EXCEEDED {
                sink.warn(line, u, Some(text));
            } else if u.starts_with("$(shell") {
                sink.warn(
                    line,
                    format!(
                        "cannot run `{}`; it expands to nothing",
                        super::text::truncate(&u, 80)
                    ),
                    Some(text),
                );
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn assign(
        &mut self,
        name: &str,
        op: &str,
        rhs: &str,
        is_define: bool,
        is_override: bool,
        sink: &mut Sink,
        line: u32,
    ) {
        if name.starts_with('\u{0}') {
            return;
        }
        if let Some(v) = self.var(name)
            && v.command_line
            && !is_override
        {
            return;
        }
        let origin = Some(sink.origin(line));
        let rhs = if is_define { rhs } else { rhs.trim_start() };
        match op {
            "=" | "" => {
                self.db.vars.insert(
                    name.to_string(),
                    Var {
                        value: rhs.to_string(),
                        recursive: true,
                        command_line: false,
                        origin,
                    },
                );
            }
            ":=" | "::=" | ":::=" => {
                self.unknown.clear();
                let v = self.expand(rhs);
                self.report_unknown(sink, line, rhs);
                self.db.vars.insert(
                    name.to_string(),
                    Var {
                        value: v,
                        recursive: false,
                        command_line: false,
                        origin,
                    },
                );
            }
            "?=" => {
                if self.var(name).is_none() {
                    self.db.vars.insert(
                        name.to_string(),
                        Var {
                            value: rhs.to_string(),
                            recursive: true,
                            command_line: false,
                            origin,
                        },
                    );
                }
            }
            "+=" => {
                let existing = self.var(name).cloned();
                match existing {
                    Some(v) if v.recursive => {
                        let value = if v.value.is_empty() {
                            rhs.to_string()
                        } else {
                            format!("{} {rhs}", v.value)
                        };
                        self.db
                            .vars
                            .insert(name.to_string(), Var { value, origin, ..v });
                    }
                    Some(v) => {
                        let add = self.expand(rhs);
                        let value = if v.value.is_empty() {
                            add
                        } else {
                            format!("{} {add}", v.value)
                        };
                        self.db
                            .vars
                            .insert(name.to_string(), Var { value, origin, ..v });
                    }
                    None => {
                        self.db.vars.insert(
                            name.to_string(),
                            Var {
                                value: rhs.to_string(),
                                recursive: true,
                                command_line: false,
                                origin,
                            },
                        );
                    }
                }
            }
            "!=" => {
                sink.warn(
                    line,
                    "cannot run a `!=` shell assignment; the variable is left empty",
                    Some(rhs),
                );
                self.db.vars.insert(
                    name.to_string(),
                    Var {
                        value: String::new(),
                        recursive: false,
                        command_line: false,
                        origin,
                    },
                );
            }
            _ => sink.warn(
                line,
                format!("unknown assignment operator `{op}`"),
                Some(rhs),
            ),
        }
    }

    fn condition(&mut self, kw: &str, rest: &str, sink: &mut Sink, line: u32) -> bool {
        let keep = self.keep_undefined;
        self.keep_undefined = false;
        self.unknown.clear();
        let r = match kw {
            "ifdef" | "ifndef" => {
                let name = self.expand(rest).trim().to_string();
                let defined = self.var(&name).is_some_and(|v| !v.value.is_empty());
                defined == (kw == "ifdef")
            }
            _ => match cond_args(rest) {
                Some((a, b)) => {
                    let a = self.expand(&a);
                    let b = self.expand(&b);
                    (a.trim() == b.trim()) == (kw == "ifeq")
                }
                None => {
                    sink.warn(line, "malformed conditional", Some(rest));
                    false
                }
            },
        };
        self.report_unknown(sink, line, rest);
        self.keep_undefined = keep;
        r
    }

    /// Expands make text.
    pub fn expand(&mut self, text: &str) -> String {
        if !text.contains('$') {
            return text.to_string();
        }
        if self.depth > MAX_DEPTH {
            self.unknown.push("(recursion too deep)".to_string());
            return String::new();
        }
        if self.expanding == 0 {
            self.refs = 0;
        }
        if self.refs > MAX_REFS {
            return String::new();
        }
        self.depth += 1;
        self.expanding += 1;
        let mut out = String::with_capacity(text.len());
        let b = text.as_bytes();
        let mut i = 0;
        while i < b.len() {
            if self.refs > MAX_REFS || out.len() > MAX_LEN {
                if !self.unknown.iter().any(|u| u == BUDGET_EXCEEDED) {
                    self.unknown.push(BUDGET_EXCEEDED.to_string());
                }
                self.refs = MAX_REFS + 1;
                break;
            }
            if b[i] != b'$' {
                let next = text[i..].find('$').map_or(b.len(), |p| i + p);
                out.push_str(&text[i..next]);
                i = next;
                continue;
            }
            match b.get(i + 1) {
                None => {
                    out.push('$');
                    i += 1;
                }
                Some(b'$') => {
                    out.push('$');
                    i += 2;
                }
                Some(&open @ (b'(' | b'{')) => {
                    let close = if open == b'(' { b')' } else { b'}' };
                    let Some(end) = matching(b, i + 1, open, close) else {
                        out.push_str(&text[i..]);
                        break;
                    };
                    let inner = &text[i + 2..end];
                    let raw = &text[i..=end];
                    self.refs += 1;
                    let v = self.reference(inner, raw);
                    out.push_str(&v);
                    i = end + 1;
                }
                Some(_) => {
                    // One character names the variable; it may take several bytes.
                    let c = text[i + 1..].chars().next().unwrap_or('$');
                    let end = i + 1 + c.len_utf8();
                    let name = c.to_string();
                    if self.var(&name).is_some() {
                        self.refs += 1;
                        let v = self.lookup(&name, &text[i..end]);
                        out.push_str(&v);
                    } else {
                        // Automatic variables (`$@`, `$*`, `$<`) belong to the recipe: kept.
                        out.push_str(&text[i..end]);
                    }
                    i = end;
                }
            }
        }
        self.depth -= 1;
        self.expanding -= 1;
        out
    }

    fn lookup(&mut self, name: &str, raw: &str) -> String {
        match self.var(name).cloned() {
            Some(v) if v.recursive => self.expand(&v.value),
            Some(v) => v.value,
            None => {
                if matches!(name, "@" | "<" | "*" | "^" | "?" | "+" | "|" | "%") {
                    return raw.to_string();
                }
                self.unknown.push(name.to_string());
                if self.keep_undefined {
                    raw.to_string()
                } else {
                    String::new()
                }
            }
        }
    }

    fn reference(&mut self, inner: &str, raw: &str) -> String {
        let (fname, args) = split_fn(inner);
        if let Some(f) = fname {
            return self.function(f, args, raw);
        }
        // Substitution reference `$(VAR:a=b)`.
        if let Some(colon) = top_level_find(inner, b':')
            && let Some(eq) = inner[colon..].find('=')
        {
            let name = self.expand(&inner[..colon]);
            let from = self.expand(&inner[colon + 1..colon + eq]);
            let to = self.expand(&inner[colon + eq + 1..]);
            let v = self.lookup(name.trim(), raw);
            let (pf, pt) = if from.contains('%') {
                (from, to)
            } else {
                (format!("%{from}"), format!("%{to}"))
            };
            return words(&v)
                .map(|w| patsubst_word(&pf, &pt, w))
                .collect::<Vec<_>>()
                .join(" ");
        }
        let name = self.expand(inner);
        self.lookup(name.trim(), raw)
    }

    fn function(&mut self, f: &str, args: &str, raw: &str) -> String {
        let arity = match f {
            "subst" | "patsubst" => 3,
            "word" | "filter" | "filter-out" | "findstring" | "addsuffix" | "addprefix"
            | "join" | "if" => {
                if f == "if" {
                    3
                } else {
                    2
                }
            }
            "foreach" => 3,
            "wordlist" => 3,
            "call" | "or" | "and" => usize::MAX,
            _ => 1,
        };
        let a = split_args(args, arity);
        let arg = |i: usize| a.get(i).map_or("", |s| s.as_str());
        match f {
            "subst" => {
                let (from, to, text) = (
                    self.expand(arg(0)),
                    self.expand(arg(1)),
                    self.expand(arg(2)),
                );
                if from.is_empty() {
                    text
                } else {
                    text.replace(&from, &to)
                }
            }
            "patsubst" => {
                let (p, r, text) = (
                    self.expand(arg(0)),
                    self.expand(arg(1)),
                    self.expand(arg(2)),
                );
                words(&text)
                    .map(|w| patsubst_word(p.trim(), r.trim(), w))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            "strip" => words(&self.expand(arg(0))).collect::<Vec<_>>().join(" "),
            "findstring" => {
                let (n, h) = (self.expand(arg(0)), self.expand(arg(1)));
                if h.contains(&n) { n } else { String::new() }
            }
            "filter" | "filter-out" => {
                let pats = self.expand(arg(0));
                let text = self.expand(arg(1));
                let pats: Vec<&str> = words(&pats).collect();
                words(&text)
                    .filter(|w| pats.iter().any(|p| pattern_match(p, w)) == (f == "filter"))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            "sort" => {
                let t = self.expand(arg(0));
                let mut v: Vec<&str> = words(&t).collect();
                v.sort_unstable();
                v.dedup();
                v.join(" ")
            }
            "word" => {
                let n: usize = self.expand(arg(0)).trim().parse().unwrap_or(0);
                let t = self.expand(arg(1));
                words(&t)
                    .nth(n.saturating_sub(1))
                    .filter(|_| n > 0)
                    .unwrap_or("")
                    .to_string()
            }
            "wordlist" => {
                let s: usize = self.expand(arg(0)).trim().parse().unwrap_or(1);
                let e: usize = self.expand(arg(1)).trim().parse().unwrap_or(0);
                let t = self.expand(arg(2));
                words(&t)
                    .skip(s.saturating_sub(1))
                    .take((e + 1).saturating_sub(s))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            "words" => words(&self.expand(arg(0))).count().to_string(),
            "firstword" => words(&self.expand(arg(0))).next().unwrap_or("").to_string(),
            "lastword" => words(&self.expand(arg(0))).last().unwrap_or("").to_string(),
            "dir" => words(&self.expand(arg(0)))
                .map(|w| match w.rfind('/') {
                    Some(p) => w[..=p].to_string(),
                    None => "./".to_string(),
                })
                .collect::<Vec<_>>()
                .join(" "),
            "notdir" => words(&self.expand(arg(0)))
                .map(|w| w.rsplit('/').next().unwrap_or(w))
                .collect::<Vec<_>>()
                .join(" "),
            "suffix" => words(&self.expand(arg(0)))
                .filter_map(|w| {
                    let base = w.rsplit('/').next().unwrap_or(w);
                    base.rfind('.').map(|p| base[p..].to_string())
                })
                .collect::<Vec<_>>()
                .join(" "),
            "basename" => words(&self.expand(arg(0)))
                .map(|w| {
                    let slash = w.rfind('/').map_or(0, |p| p + 1);
                    match w[slash..].rfind('.') {
                        Some(p) => w[..slash + p].to_string(),
                        None => w.to_string(),
                    }
                })
                .collect::<Vec<_>>()
                .join(" "),
            "addsuffix" | "addprefix" => {
                let x = self.expand(arg(0));
                let t = self.expand(arg(1));
                words(&t)
                    .map(|w| {
                        if f == "addsuffix" {
                            format!("{w}{}", x.trim())
                        } else {
                            format!("{}{w}", x.trim())
                        }
                    })
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            "join" => {
                let (l, r) = (self.expand(arg(0)), self.expand(arg(1)));
                let (l, r): (Vec<&str>, Vec<&str>) = (words(&l).collect(), words(&r).collect());
                (0..l.len().max(r.len()))
                    .map(|i| format!("{}{}", l.get(i).unwrap_or(&""), r.get(i).unwrap_or(&"")))
                    .collect::<Vec<_>>()
                    .join(" ")
            }
            "foreach" => {
                let var = self.expand(arg(0)).trim().to_string();
                let list = self.expand(arg(1));
                let body = arg(2).to_string();
                let saved = self.db.vars.remove(&var);
                let mut out = Vec::new();
                for w in words(&list).map(str::to_string).collect::<Vec<_>>() {
                    self.db.vars.insert(
                        var.clone(),
                        Var {
                            value: w,
                            recursive: false,
                            command_line: false,
                            origin: None,
                        },
                    );
                    out.push(self.expand(&body));
                }
                self.db.vars.remove(&var);
                if let Some(s) = saved {
                    self.db.vars.insert(var, s);
                }
                out.join(" ")
            }
            "if" => {
                let c = self.expand(arg(0));
                if !c.trim().is_empty() {
                    self.expand(arg(1))
                } else {
                    self.expand(arg(2))
                }
            }
            "or" => {
                for x in &a {
                    let v = self.expand(x);
                    if !v.trim().is_empty() {
                        return v;
                    }
                }
                String::new()
            }
            "and" => {
                let mut last = String::new();
                for x in &a {
                    last = self.expand(x);
                    if last.trim().is_empty() {
                        return String::new();
                    }
                }
                last
            }
            "call" => {
                let name = self.expand(arg(0)).trim().to_string();
                let params: Vec<String> = a.iter().skip(1).map(|x| self.expand(x)).collect();
                let mut saved = Vec::new();
                for (i, p) in params.iter().enumerate() {
                    let k = (i + 1).to_string();
                    saved.push((k.clone(), self.db.vars.remove(&k)));
                    self.db.vars.insert(
                        k,
                        Var {
                            value: p.clone(),
                            recursive: false,
                            command_line: false,
                            origin: None,
                        },
                    );
                }
                // Unset higher-numbered parameters of an enclosing call.
                for i in params.len() + 1..=9 {
                    let k = i.to_string();
                    saved.push((k.clone(), self.db.vars.remove(&k)));
                }
                let body = self.var(&name).map(|v| v.value.clone());
                let out = match body {
                    Some(b) => self.expand(&b),
                    None => {
                        self.unknown.push(name.clone());
                        String::new()
                    }
                };
                for (k, v) in saved {
                    self.db.vars.remove(&k);
                    if let Some(v) = v {
                        self.db.vars.insert(k, v);
                    }
                }
                out
            }
            "value" => {
                let n = self.expand(arg(0));
                self.var(n.trim())
                    .map(|v| v.value.clone())
                    .unwrap_or_default()
            }
            "eval" => {
                let t = self.expand(arg(0));
                let mut s = Sink::new("(eval)");
                self.eval_text(&t, &mut s);
                String::new()
            }
            "origin" => {
                let n = self.expand(arg(0));
                match self.var(n.trim()) {
                    None => "undefined",
                    Some(v) if v.command_line => "command line",
                    Some(_) => "file",
                }
                .to_string()
            }
            "flavor" => {
                let n = self.expand(arg(0));
                match self.var(n.trim()) {
                    None => "undefined",
                    Some(v) if v.recursive => "recursive",
                    Some(_) => "simple",
                }
                .to_string()
            }
            "wildcard" => {
                let t = self.expand(arg(0));
                let mut out = Vec::new();
                for w in words(&t) {
                    if let Some(files) = self.files {
                        out.extend(files.glob(w.trim_start_matches("./")));
                    }
                }
                out.join(" ")
            }
            "abspath" | "realpath" => self.expand(arg(0)),
            "info" | "warning" | "error" => String::new(),
            "shell" => {
                self.unknown.push(raw.to_string());
                if self.keep_undefined {
                    raw.to_string()
                } else {
                    String::new()
                }
            }
            _ => {
                self.unknown.push(raw.to_string());
                String::new()
            }
        }
    }
}

/// Words of a make value.
pub fn words(s: &str) -> impl Iterator<Item = &str> {
    s.split_ascii_whitespace()
}

fn patsubst_word(pat: &str, rep: &str, w: &str) -> String {
    match pat.split_once('%') {
        Some((pre, suf)) => {
            if w.len() >= pre.len() + suf.len() && w.starts_with(pre) && w.ends_with(suf) {
                let stem = &w[pre.len()..w.len() - suf.len()];
                rep.replacen('%', stem, 1)
            } else {
                w.to_string()
            }
        }
        None => {
            if w == pat {
                rep.to_string()
            } else {
                w.to_string()
            }
        }
    }
}

fn pattern_match(p: &str, w: &str) -> bool {
    match p.split_once('%') {
        Some((pre, suf)) => {
            w.len() >= pre.len() + suf.len() && w.starts_with(pre) && w.ends_with(suf)
        }
        None => p == w,
    }
}

fn matching(b: &[u8], open_at: usize, open: u8, close: u8) -> Option<usize> {
    let mut depth = 0;
    for (j, &c) in b.iter().enumerate().skip(open_at) {
        if c == open {
            depth += 1;
        } else if c == close {
            depth -= 1;
            if depth == 0 {
                return Some(j);
            }
        }
    }
    None
}

const FUNCTIONS: [&str; 36] = [
    "subst",
    "patsubst",
    "strip",
    "findstring",
    "filter",
    "filter-out",
    "sort",
    "word",
    "wordlist",
    "words",
    "firstword",
    "lastword",
    "dir",
    "notdir",
    "suffix",
    "basename",
    "addsuffix",
    "addprefix",
    "join",
    "foreach",
    "if",
    "or",
    "and",
    "call",
    "value",
    "eval",
    "origin",
    "flavor",
    "wildcard",
    "abspath",
    "realpath",
    "info",
    "warning",
    "error",
    "shell",
    "file",
];

fn split_fn(inner: &str) -> (Option<&str>, &str) {
    let end = inner.find([' ', '\t']).unwrap_or(inner.len());
    let name = &inner[..end];
    if end < inner.len() && FUNCTIONS.contains(&name) {
        (Some(name), inner[end..].trim_start_matches([' ', '\t']))
    } else {
        (None, inner)
    }
}

/// Splits function arguments on top-level commas, at most `n` pieces.
fn split_args(s: &str, n: usize) -> Vec<String> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut depth = 0i32;
    let mut start = 0;
    for (i, &c) in b.iter().enumerate() {
        match c {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth -= 1,
            b',' if depth == 0 && out.len() + 1 < n => {
                out.push(s[start..i].to_string());
                start = i + 1;
            }
            _ => {}
        }
    }
    out.push(s[start..].to_string());
    out
}

fn top_level_find(s: &str, needle: u8) -> Option<usize> {
    let mut depth = 0i32;
    for (i, &c) in s.as_bytes().iter().enumerate() {
        match c {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth -= 1,
            c if c == needle && depth == 0 => return Some(i),
            b' ' if depth == 0 => return None,
            _ => {}
        }
    }
    None
}

fn strip_comment(s: &str) -> String {
    let b = s.as_bytes();
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'#' {
            return s[..i].to_string();
        }
        i += 1;
    }
    s.to_string()
}

fn split_word(s: &str) -> (&str, &str) {
    let s = s.trim_start();
    match s.find([' ', '\t']) {
        Some(i) => (&s[..i], s[i..].trim_start()),
        None => (s, ""),
    }
}

fn define_header(rest: &str) -> (&str, &str) {
    let r = rest.trim();
    for op in ["::=", ":=", "+=", "?=", "="] {
        if let Some(n) = r.strip_suffix(op) {
            return (n.trim(), op);
        }
    }
    (r, "=")
}

fn cond_args(rest: &str) -> Option<(String, String)> {
    let r = rest.trim();
    if let Some(inner) = r.strip_prefix('(').and_then(|x| x.strip_suffix(')')) {
        let a = split_args(inner, 2);
        if a.len() == 2 {
            return Some((a[0].clone(), a[1].clone()));
        }
        return None;
    }
    // "a" "b" or 'a' 'b'
    let mut parts = Vec::new();
    let mut it = r.chars().peekable();
    while let Some(&c) = it.peek() {
        if c == '"' || c == '\'' {
            it.next();
            let s: String = it.by_ref().take_while(|&x| x != c).collect();
            parts.push(s);
        } else {
            it.next();
        }
    }
    (parts.len() == 2).then(|| (parts[0].clone(), parts[1].clone()))
}

enum Line<'s> {
    Assign {
        lhs: &'s str,
        op: &'s str,
        rhs: &'s str,
    },
    Rule {
        targets: &'s str,
        prereqs: &'s str,
    },
    Other,
}

fn classify(s: &str) -> Line<'_> {
    let b = s.as_bytes();
    let mut depth = 0i32;
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'(' | b'{' => depth += 1,
            b')' | b'}' => depth -= 1,
            b'=' if depth == 0 => {
                let (start, op) = match i.checked_sub(1).map(|p| b[p]) {
                    Some(b'+') => (i - 1, "+="),
                    Some(b'?') => (i - 1, "?="),
                    Some(b'!') => (i - 1, "!="),
                    _ => (i, "="),
                };
                return Line::Assign {
                    lhs: &s[..start],
                    op,
                    rhs: &s[i + 1..],
                };
            }
            b':' if depth == 0 => {
                let rest = &s[i..];
                for op in [":::=", "::=", ":="] {
                    if rest.starts_with(op) {
                        return Line::Assign {
                            lhs: &s[..i],
                            op,
                            rhs: &s[i + op.len()..],
                        };
                    }
                }
                let after = s[i + 1..].trim_start_matches(':');
                return Line::Rule {
                    targets: &s[..i],
                    prereqs: after,
                };
            }
            _ => {}
        }
        i += 1;
    }
    Line::Other
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eval(text: &str) -> (MakeDb, Sink) {
        let mut e = Evaluator::new(None, None);
        let mut s = Sink::new("x.mk");
        e.eval_text(text, &mut s);
        (e.db, s)
    }

    fn get(db: &MakeDb, name: &str) -> String {
        let mut e = Evaluator::new(Some(db), None);
        e.value(name)
    }

    #[test]
    fn assignments_and_flavours() {
        let (db, _) = eval(
            "A = 1\nB = $(A)\nC := $(A)\nA = 2\nB += x\nD ?= d\nD ?= e\nISC_VERSION_FULL = ${A}-2.3\n",
        );
        assert_eq!(get(&db, "B"), "2 x");
        assert_eq!(get(&db, "C"), "1");
        assert_eq!(get(&db, "D"), "d");
        assert_eq!(get(&db, "ISC_VERSION_FULL"), "2-2.3");
    }

    #[test]
    fn computed_names_and_eval_call() {
        let t = "define add_derived\n$(2)_MAIN_DEB = $(1)\n$(1)_DERIVED += $(2)\nendef\nX = x.deb\nY = y.deb\n$(X)_URL = \"https://h/raw/dev/$(X)\"\n$(eval $(call add_derived,$(X),$(Y)))\n";
        let (db, s) = eval(t);
        assert!(s.diags.is_empty(), "{:?}", s.diags);
        assert_eq!(get(&db, "x.deb_URL"), "\"https://h/raw/dev/x.deb\"");
        assert_eq!(get(&db, "y.deb_MAIN_DEB"), "x.deb");
        assert_eq!(get(&db, "x.deb_DERIVED"), "y.deb");
    }

    #[test]
    fn conditionals_and_command_line() {
        let mut e = Evaluator::new(None, None);
        e.db.set_command_line("NOBUSTER", "0");
        let mut s = Sink::new("x.mk");
        e.eval_text("NOBUSTER = 1\nifeq ($(NOBUSTER),0)\nA = yes\nelse ifeq ($(NOBUSTER),1)\nA = no\nelse\nA = never\nendif\nifneq \"$(Q)\" \"\"\nB = 1\nendif\n", &mut s);
        assert_eq!(e.value("A"), "yes");
        assert_eq!(e.value("B"), "");
    }

    #[test]
    fn functions() {
        let (db, _) = eval(
            "L = a.gz b-dbg.gz c.gz\nF = $(filter-out %-dbg.gz,$(L))\nP = $(patsubst %.gz,%,$(L))\nS = $(subst .,_,$(L))\nR = $(L:.gz=.tar)\nN = $(notdir src/x/y.c)\nW = $(foreach v,$(F),[$(v)])\nSH = $(shell date)\n",
        );
        assert_eq!(get(&db, "F"), "a.gz c.gz");
        assert_eq!(get(&db, "P"), "a b-dbg c");
        assert_eq!(get(&db, "S"), "a_gz b-dbg_gz c_gz");
        assert_eq!(get(&db, "R"), "a.tar b-dbg.tar c.tar");
        assert_eq!(get(&db, "N"), "y.c");
        assert_eq!(get(&db, "W"), "[a.gz] [c.gz]");
        assert_eq!(get(&db, "SH"), "");
    }

    #[test]
    fn rules_and_recipes() {
        let (db, _) = eval(
            "MAIN = x\n$(addprefix $(DEST)/, $(MAIN)): $(DEST)/% :\n\twget https://h/$(V).tgz\nifeq ($(A),y)\n\tnever\nelse\n\tdget http://d/x_1.dsc\nendif\n",
        );
        assert_eq!(db.rules.len(), 1);
        let r: Vec<_> = db.rules[0]
            .recipe
            .iter()
            .map(|(l, t)| (*l, t.as_str()))
            .collect();
        assert_eq!(
            r,
            vec![(3, "wget https://h/$(V).tgz"), (7, "dget http://d/x_1.dsc")]
        );
    }

    #[test]
    fn runaway_recursion_is_bounded() {
        let (db, _) = eval("A = $(B)\nB = $(A)\n");
        assert_eq!(get(&db, "A"), "");
    }

    #[test]
    fn self_doubling_references_stop_at_the_budget_with_a_warning() {
        let start = std::time::Instant::now();
        // 2^200 references without a budget.
        let (db, s) = eval("X = $(X) $(X)\n$(X)\nY := y\nY := $(Y)$(Y)\nY := $(Y)$(Y)\n");
        let mut e = Evaluator::new(Some(&db), None);
        let _ = e.expand("$(X)");
        assert!(
            e.unknown.iter().any(|u| u == BUDGET_EXCEEDED),
            "{:?}",
            e.unknown
        );
        assert!(
            s.diags
                .iter()
                .any(|d| d.message.contains("expansion budget")),
            "{:?}",
            s.diags
        );
        assert_eq!(get(&db, "Y"), "yyyy");
        // Simple variables that double themselves stop growing too.
        let (db, _) = eval(&format!("Z := z\n{}", "Z := $(Z)$(Z)\n".repeat(40)));
        assert!(get(&db, "Z").len() <= 4 * MAX_LEN);
        assert!(start.elapsed() < std::time::Duration::from_secs(20));
    }
}
#[cfg(test)]
mod include_tests {
    use super::*;
    struct F;
    impl Files for F {
        fn read(&self, path: &str) -> Option<Vec<u8>> {
            match path {
                "a.mk" => Some(b"X = 1\ninclude $(D)/b.mk\n".to_vec()),
                "d/b.mk" => Some(b"Y = 2\n".to_vec()),
                _ => None,
            }
        }
        fn glob(&self, _: &str) -> Vec<String> {
            vec![]
        }
    }
    #[test]
    fn includes() {
        let f = F;
        let mut e = Evaluator::new(None, Some(&f));
        e.db.set_command_line("D", "d");
        let mut s = Sink::new("top");
        assert!(e.include("a.mk", &mut s));
        assert!(s.diags.is_empty(), "{:?}", s.diags);
        assert_eq!(e.value("Y"), "2");
    }
}
