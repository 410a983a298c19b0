//! Shell command lines, as found in Dockerfile `RUN`s, scripts, make recipes
//! and Jinja-rendered shell: apt-get/apt, pip, wget/curl, git clone (and the
//! checkout that follows), dget, `apt-get source`, `go get/install`.
//!
//! The tokenizer is deliberately small: words, quotes, `$VAR`/`${VAR}`
//! substitution from what the script itself assigned, and the operators that
//! separate commands. Each word keeps its physical line, so a package named on
//! the fifth line of a continued `RUN` gets that line as its origin.

use super::python;
use super::text::{Sink, attrs, has_unexpanded, is_commit_sha};
use crate::manifest::{Constraint, Context, Ecosystem};
use std::collections::{BTreeMap, HashMap};

/// A word of a command with the physical line it starts on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Word {
    /// Text after quote removal and known-variable substitution.
    pub text: String,
    /// 1-based physical line.
    pub line: u32,
}

/// State carried across the commands of one file.
#[derive(Debug, Default)]
pub struct ShellState {
    /// Variables assigned by the script (or by Dockerfile `ARG`/`ENV`).
    pub vars: HashMap<String, String>,
    /// Install transactions seen so far in this file.
    pub transactions: u32,
    /// Index into the sink of the last `git clone`, so a following checkout pins it.
    pub last_clone: Option<usize>,
    /// Dockerfile `RUN` index the commands belong to, if any.
    pub run: Option<u32>,
    /// apt sources and keys the file has added so far.
    pub apt: super::aptsources::AptState,
    /// SONiC's freeze of the image's versions (`collect_*version_files*`) has
    /// run: what the script removes after it is still in the recorded versions.
    pub frozen: bool,
}

/// Splits `text` (starting at physical line `line`) into simple commands.
#[allow(unused_assignments)]
pub fn commands(text: &str, line: u32, vars: &HashMap<String, String>) -> Vec<Vec<Word>> {
    let b = text.as_bytes();
    let mut out: Vec<Vec<Word>> = Vec::new();
    let mut cmd: Vec<Word> = Vec::new();
    let mut cur = String::new();
    let mut cur_line = line;
    let mut in_word = false;
    let mut ln = line;
    let mut i = 0;
    let mut heredoc: Option<String> = None;
    macro_rules! end_word {
        () => {
            if in_word {
                cmd.push(Word {
                    text: std::mem::take(&mut cur),
                    line: cur_line,
                });
                in_word = false;
            }
        };
    }
    macro_rules! end_cmd {
        () => {
            end_word!();
            if !cmd.is_empty() {
                out.push(std::mem::take(&mut cmd));
            }
        };
    }
    while i < b.len() {
        let c = b[i];
        match c {
            b'\\' if b.get(i + 1) == Some(&b'\n') => {
                ln += 1;
                i += 2;
                end_word!();
                continue;
            }
            b'\\' => {
                if !in_word {
                    in_word = true;
                    cur_line = ln;
                }
                if let Some(&n) = b.get(i + 1) {
                    let ch_len = utf8_len(n);
                    cur.push_str(&text[i + 1..(i + 1 + ch_len).min(b.len())]);
                    i += 1 + ch_len;
                } else {
                    i += 1;
                }
                continue;
            }
            b'\n' => {
                end_cmd!();
                ln += 1;
                i += 1;
                if let Some(delim) = heredoc.take() {
                    // Skip the here-document body: it is data, not commands.
                    while i < b.len() {
                        let end = text[i..].find('\n').map(|e| i + e).unwrap_or(b.len());
                        let l = text[i..end].trim();
                        i = (end + 1).min(b.len());
                        ln += 1;
                        if l == delim {
                            break;
                        }
                    }
                }
                continue;
            }
            b' ' | b'\t' | b'\r' => {
                end_word!();
                i += 1;
                continue;
            }
            b'#' if !in_word => {
                while i < b.len() && b[i] != b'\n' {
                    i += 1;
                }
                continue;
            }
            b';' | b'&' | b'|' | b'(' | b')' => {
                end_cmd!();
                i += 1;
                continue;
            }
            b'<' if b.get(i + 1) == Some(&b'<') && b.get(i + 2) != Some(&b'<') => {
                end_word!();
                let mut j = i + 2;
                if b.get(j) == Some(&b'-') {
                    j += 1;
                }
                while j < b.len() && b[j] == b' ' {
                    j += 1;
                }
                let s = j;
                while j < b.len() && !matches!(b[j], b' ' | b'\n' | b';' | b'&' | b'|') {
                    j += 1;
                }
                heredoc = Some(text[s..j].trim_matches(['\'', '"']).to_string());
                i = j;
                continue;
            }
            b'\'' => {
                if !in_word {
                    in_word = true;
                    cur_line = ln;
                }
                let s = i + 1;
                let e = text[s..].find('\'').map(|e| s + e).unwrap_or(b.len());
                ln += count_nl(&text[s..e]);
                cur.push_str(&text[s..e]);
                i = e + 1;
                continue;
            }
            b'"' => {
                if !in_word {
                    in_word = true;
                    cur_line = ln;
                }
                let mut j = i + 1;
                while j < b.len() && b[j] != b'"' {
                    if b[j] == b'\\'
                        && j + 1 < b.len()
                        && matches!(b[j + 1], b'"' | b'\\' | b'$' | b'`')
                    {
                        cur.push(b[j + 1] as char);
                        j += 2;
                        continue;
                    }
                    if b[j] == b'\\' && b.get(j + 1) == Some(&b'\n') {
                        ln += 1;
                        j += 2;
                        continue;
                    }
                    if b[j] == b'$' {
                        j = dollar(text, j, vars, &mut cur);
                        continue;
                    }
                    if b[j] == b'\n' {
                        ln += 1;
                    }
                    let l = utf8_len(b[j]);
                    cur.push_str(&text[j..(j + l).min(b.len())]);
                    j += l;
                }
                i = j + 1;
                continue;
            }
            b'$' => {
                if !in_word {
                    in_word = true;
                    cur_line = ln;
                }
                i = dollar(text, i, vars, &mut cur);
                continue;
            }
            b'`' => {
                if !in_word {
                    in_word = true;
                    cur_line = ln;
                }
                let e = text[i + 1..]
                    .find('`')
                    .map(|e| i + 1 + e)
                    .unwrap_or(b.len() - 1);
                cur.push_str(&text[i..=e.min(b.len() - 1)]);
                ln += count_nl(&text[i..=e.min(b.len() - 1)]);
                i = e + 1;
                continue;
            }
            _ => {
                if !in_word {
                    in_word = true;
                    cur_line = ln;
                }
                let l = utf8_len(c);
                cur.push_str(&text[i..(i + l).min(b.len())]);
                i += l;
            }
        }
    }
    end_cmd!();
    out
}

fn utf8_len(first: u8) -> usize {
    match first {
        0xF0..=0xFF => 4,
        0xE0..=0xEF => 3,
        0xC0..=0xDF => 2,
        _ => 1,
    }
}

fn count_nl(s: &str) -> u32 {
    u32::try_from(s.bytes().filter(|&b| b == b'\n').count()).unwrap_or(u32::MAX)
}

/// Expands a `$...` at `i`; unknown references are copied verbatim. Returns the next index.
fn dollar(text: &str, i: usize, vars: &HashMap<String, String>, out: &mut String) -> usize {
    let b = text.as_bytes();
    match b.get(i + 1) {
        Some(b'{') => {
            let Some(e) = text[i + 2..].find('}').map(|e| i + 2 + e) else {
                out.push_str(&text[i..]);
                return b.len();
            };
            let inner = &text[i + 2..e];
            let (name, default) = match inner.find(":-").or_else(|| inner.find('-')) {
                Some(p)
                    if inner[..p]
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || c == '_') =>
                {
                    let skip = if inner[p..].starts_with(":-") { 2 } else { 1 };
                    (&inner[..p], Some(&inner[p + skip..]))
                }
                _ => (inner, None),
            };
            match vars.get(name) {
                Some(v) if !v.is_empty() || default.is_none() => out.push_str(v),
                _ => match default {
                    Some(d) if !d.contains('$') => out.push_str(d),
                    _ => out.push_str(&text[i..=e]),
                },
            }
            e + 1
        }
        Some(b'(') => {
            // Command substitution: kept verbatim (its output is unknown here).
            let mut depth = 0;
            let mut j = i + 1;
            while j < b.len() {
                match b[j] {
                    b'(' => depth += 1,
                    b')' => {
                        depth -= 1;
                        if depth == 0 {
                            break;
                        }
                    }
                    _ => {}
                }
                j += 1;
            }
            let end = (j + 1).min(b.len());
            out.push_str(&text[i..end]);
            end
        }
        Some(c) if c.is_ascii_alphabetic() || *c == b'_' => {
            let mut j = i + 1;
            while j < b.len() && (b[j].is_ascii_alphanumeric() || b[j] == b'_') {
                j += 1;
            }
            match vars.get(&text[i + 1..j]) {
                Some(v) => out.push_str(v),
                None => out.push_str(&text[i..j]),
            }
            j
        }
        _ => {
            out.push('$');
            i + 1
        }
    }
}

/// Substitutes `$NAME` and `${NAME}` references that `vars` knows.
pub fn expand_vars(s: &str, vars: &HashMap<String, String>) -> String {
    let mut out = String::with_capacity(s.len());
    let mut i = 0;
    while i < s.len() {
        match s[i..].find('$') {
            Some(p) => {
                out.push_str(&s[i..i + p]);
                i = dollar(s, i + p, vars, &mut out);
            }
            None => {
                out.push_str(&s[i..]);
                break;
            }
        }
    }
    out
}

/// Scans shell text and records every dependency its commands declare. A
/// branch of `if`/`elif`/`else` whose test is decided by known variables
/// (`if [[ $CONFIGURED_ARCH == armhf ]]`) and does not hold is skipped; an
/// undecidable test keeps every branch.
pub fn scan(text: &str, line: u32, st: &mut ShellState, ctx: &Context, sink: &mut Sink) {
    let mut branches = Branches::default();
    for cmd in commands(text, line, &st.vars) {
        if let Some(rest) = branches.step(&cmd, &st.vars) {
            command(rest, st, ctx, sink);
        }
    }
}

/// One open `if ... fi`.
#[derive(Debug, Clone, Copy)]
struct Frame {
    /// Whether the current branch can run.
    active: bool,
    /// Whether an earlier branch is known to hold (so later ones cannot run).
    decided: bool,
}

/// The `if`/`elif`/`else`/`fi` nesting of a shell file.
#[derive(Debug, Default)]
struct Branches {
    frames: Vec<Frame>,
}

impl Branches {
    fn running(&self) -> bool {
        self.frames.iter().all(|f| f.active)
    }

    /// Follows the keywords of `cmd`; returns the command to handle, if it can run.
    fn step<'w>(&mut self, cmd: &'w [Word], vars: &HashMap<String, String>) -> Option<&'w [Word]> {
        let first = cmd.first()?.text.as_str();
        match first {
            "if" => {
                let holds = test_holds(&cmd[1..], vars);
                self.frames.push(Frame {
                    active: holds != Some(false),
                    decided: holds == Some(true),
                });
                None
            }
            "elif" => {
                let holds = test_holds(&cmd[1..], vars);
                if let Some(f) = self.frames.last_mut() {
                    f.active = !f.decided && holds != Some(false);
                    f.decided |= holds == Some(true);
                }
                None
            }
            "else" => {
                if let Some(f) = self.frames.last_mut() {
                    f.active = !f.decided;
                }
                self.running()
                    .then_some(&cmd[1..])
                    .filter(|r| !r.is_empty())
            }
            "fi" => {
                self.frames.pop();
                None
            }
            _ => self.running().then_some(cmd),
        }
    }
}

/// Whether a test command (`[[ a == b ]]`, `[ a != b ]`, `test a = b`, with
/// `!`) holds, when both sides are known text; `None` when it cannot be told.
fn test_holds(words: &[Word], vars: &HashMap<String, String>) -> Option<bool> {
    let mut w: Vec<String> = words.iter().map(|x| expand_vars(&x.text, vars)).collect();
    let negate = w.first().is_some_and(|x| x == "!");
    if negate {
        w.remove(0);
    }
    let inner: &[String] = match w.first().map(String::as_str) {
        Some("[[") if w.last().map(String::as_str) == Some("]]") => &w[1..w.len() - 1],
        Some("[") if w.last().map(String::as_str) == Some("]") => &w[1..w.len() - 1],
        Some("test") => &w[1..],
        _ => return None,
    };
    let [a, op, b] = inner else { return None };
    let known = |s: &str| !s.contains(['$', '`', '*', '?', '[']);
    if !known(a) || !known(b) {
        return None;
    }
    let same = a == b;
    let holds = match op.as_str() {
        "==" | "=" => same,
        "!=" => !same,
        _ => return None,
    };
    Some(holds != negate)
}

fn basename(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// Handles one simple command.
pub fn command(words: &[Word], st: &mut ShellState, ctx: &Context, sink: &mut Sink) {
    // References left by the tokenizer may name variables assigned by earlier commands.
    let expanded: Vec<Word> = words
        .iter()
        .map(|w| {
            if w.text.contains('$') {
                Word {
                    text: expand_vars(&w.text, &st.vars),
                    line: w.line,
                }
            } else {
                w.clone()
            }
        })
        .collect();
    let mut w = expanded.as_slice();
    // Leading assignments: alone they set variables; before a command they are its environment.
    let mut assigned = false;
    while let Some(first) = w.first() {
        if let Some((k, v)) = assignment(&first.text) {
            if w.len() == 1 {
                st.vars.insert(k.to_string(), v.to_string());
                assigned = true;
            }
            w = &w[1..];
        } else {
            break;
        }
    }
    if assigned || w.is_empty() {
        return;
    }
    // Wrappers that run the rest of the line as a command.
    loop {
        let Some(first) = w.first() else { return };
        match basename(&first.text) {
            "sudo" => {
                w = &w[1..];
                while let Some(f) = w.first() {
                    if assignment(&f.text).is_some() {
                        w = &w[1..];
                    } else if f.text == "-u" || f.text == "-g" {
                        w = w.get(2..).unwrap_or(&[]);
                    } else if f.text.starts_with('-') {
                        w = &w[1..];
                    } else {
                        break;
                    }
                }
            }
            "chroot" => {
                // `chroot DIR command ...`
                w = w.get(2..).unwrap_or(&[]);
            }
            "env" | "eatmydata" | "time" | "nohup" | "exec" | "then" | "do" | "else" | "!" => {
                w = &w[1..];
                while let Some(f) = w.first() {
                    if assignment(&f.text).is_some()
                        || (f.text.starts_with('-') && f.text.len() > 1)
                    {
                        w = &w[1..];
                    } else {
                        break;
                    }
                }
            }
            "export" | "ARG" | "ENV" => {
                for a in &w[1..] {
                    if let Some((k, v)) = assignment(&a.text) {
                        st.vars.insert(k.to_string(), v.to_string());
                    }
                }
                return;
            }
            _ => break,
        }
    }
    let Some(first) = w.first() else { return };
    let prog = basename(&first.text);
    super::aptsources::command(prog, w, &mut st.apt, sink);
    match prog {
        "apt-get" | "apt" | "aptitude" => apt(w, st, ctx, sink),
        "dget" => dget(w, ctx, sink),
        "dpkg" => dpkg_install(w, ctx, sink),
        "wget" | "curl" => download(w, ctx, sink),
        "git" => git(w, st, ctx, sink),
        "go" => go(w, ctx, sink),
        p if p.starts_with("collect_") && p.contains("version_files") => st.frozen = true,
        p if is_pip(p) => pip(w, 1, python_of(p), st, ctx, sink),
        p if p.starts_with("python")
            && w.get(1).map(|x| x.text.as_str()) == Some("-m")
            && w.get(2)
                .map(|x| x.text.as_str())
                .is_some_and(|m| m == "pip" || m == "pip3") =>
        {
            pip(w, 3, python_of(p), st, ctx, sink)
        }
        _ => {}
    }
}

/// `$SONIC_X_WHEEL_NAME`, `${FOO_WHEEL}`, `$(X)/$(Y_WHEEL)`: the tree's own wheels.
fn is_wheel_variable(t: &str) -> bool {
    t.starts_with('$') && (t.to_ascii_lowercase().contains("wheel") || t.contains(".whl"))
}

fn assignment(s: &str) -> Option<(&str, &str)> {
    let (k, v) = s.split_once('=')?;
    (!k.is_empty()
        && k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !k.starts_with(|c: char| c.is_ascii_digit()))
    .then_some((k, v))
}

fn is_pip(p: &str) -> bool {
    p == "pip"
        || p.strip_prefix("pip")
            .is_some_and(|r| r.chars().all(|c| c.is_ascii_digit() || c == '.'))
}

fn python_of(p: &str) -> Option<&'static str> {
    let digits = p.trim_start_matches("python").trim_start_matches("pip");
    if digits.starts_with('3') {
        Some("py3")
    } else if digits.starts_with('2') {
        Some("py2")
    } else {
        None
    }
}

fn apt(w: &[Word], st: &mut ShellState, ctx: &Context, sink: &mut Sink) {
    const WITH_ARG: [&str; 8] = [
        "-o",
        "-t",
        "-c",
        "-a",
        "--target-release",
        "--default-release",
        "--host-architecture",
        "--option",
    ];
    let mut sub: Option<&str> = None;
    let mut release: Option<String> = None;
    let mut no_recommends = false;
    let mut autoremove = false;
    let mut args: Vec<&Word> = Vec::new();
    let mut i = 1;
    while i < w.len() {
        let t = w[i].text.as_str();
        if WITH_ARG.contains(&t) {
            if t == "-t" || t == "--target-release" || t == "--default-release" {
                release = w.get(i + 1).map(|x| x.text.clone());
            }
            i += 2;
            continue;
        }
        if let Some(r) = t
            .strip_prefix("--target-release=")
            .or_else(|| t.strip_prefix("--default-release="))
        {
            release = Some(r.to_string());
        } else if t == "--no-install-recommends" {
            no_recommends = true;
        } else if t == "--autoremove" || t == "--auto-remove" {
            autoremove = true;
        } else if t.starts_with('-')
            || t.starts_with('>')
            || t.starts_with('<')
            || t.starts_with("2>")
        {
            // Redirections such as `2>/dev/null` and flags carry no package.
        } else if sub.is_none() {
            sub = Some(t);
        } else {
            args.push(&w[i]);
        }
        i += 1;
    }
    let (eco, action) = match sub {
        Some("install" | "reinstall") => (Ecosystem::Deb, None),
        Some("remove" | "purge" | "autoremove") => (Ecosystem::Deb, Some("remove")),
        Some("source") => (Ecosystem::DebSrc, None),
        Some("build-dep") => (Ecosystem::DebSrc, Some("build-dep")),
        _ => return,
    };
    if sub == Some("autoremove") && !st.frozen {
        // What the removals before it left unneeded goes too: those of this
        // image in this file (SONiC purges and then autoremoves in one script).
        autoremove = true;
        for d in sink.deps.iter_mut().filter(|d| {
            d.ecosystem == Ecosystem::Deb
                && d.context.image == ctx.image
                && d.attrs.get("action").is_some_and(|a| a == "remove")
        }) {
            d.attrs.insert("autoremove".to_string(), "true".to_string());
        }
    }
    if args.is_empty() {
        return;
    }
    st.transactions += 1;
    for a in args {
        let t = a.text.as_str();
        if t.ends_with(".deb")
            || t.starts_with("./")
            || t.starts_with('/')
            || t.contains('*') && !t.contains('=')
        {
            continue; // local package files built by the tree itself
        }
        let mut at = BTreeMap::new();
        if let Some(r) = &release {
            at.insert("release".to_string(), r.clone());
        }
        if no_recommends {
            at.insert("no-install-recommends".to_string(), "true".to_string());
        }
        if let Some(a) = action {
            at.insert("action".to_string(), a.to_string());
            if autoremove {
                at.insert("autoremove".to_string(), "true".to_string());
            }
            if st.frozen {
                at.insert("after-freeze".to_string(), "true".to_string());
            }
        }
        if let Some(r) = st.run {
            at.insert("run".to_string(), r.to_string());
        }
        let (name_arch, version) = match t.split_once('=') {
            Some((n, v)) => (n, Some(v)),
            None => (t, None),
        };
        let (name_rel, arch) = match name_arch.split_once(':') {
            Some((n, a)) => (n, Some(a)),
            None => (name_arch, None),
        };
        let name = match name_rel.split_once('/') {
            Some((n, rel)) => {
                at.insert("release".to_string(), rel.to_string());
                n
            }
            None => name_rel,
        };
        let mut c = ctx.clone();
        c.transaction = Some(st.transactions);
        if let Some(a) = arch {
            c.arch = Some(a.to_string());
        }
        let constraint = match version {
            Some(v) if v.contains('*') => Constraint::Range(format!("= {v}")),
            Some(v) if !v.is_empty() => Constraint::Exact(v.to_string()),
            _ => Constraint::None,
        };
        if has_unexpanded(t) {
            sink.warn(
                a.line,
                "package name contains an unexpanded variable",
                Some(t),
            );
            at.insert("unexpanded".to_string(), "true".to_string());
        } else if !valid_deb_name(name) {
            sink.warn(a.line, "not a Debian package name", Some(t));
            continue;
        }
        sink.dep(eco, name, constraint, a.line, c, at);
    }
}

fn valid_deb_name(n: &str) -> bool {
    n.len() >= 2
        && n.starts_with(|c: char| c.is_ascii_lowercase() || c.is_ascii_digit())
        && n.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "+-.".contains(c))
}

/// `dpkg -i DIR/NAME_VERSION_ARCH.deb` (the version often a glob): a deb
/// the build made, installed whole. `apt-get install -f` then brings in its
/// Depends; its control is not at hand, so the entry asks the solve for the
/// Depends of the archive's package of that name (`field=archive-depends`).
fn dpkg_install(w: &[Word], ctx: &Context, sink: &mut Sink) {
    let Some(i) = w
        .iter()
        .position(|a| a.text == "-i" || a.text == "--install")
    else {
        return;
    };
    for a in w[i + 1..].iter().filter(|a| !a.text.starts_with('-')) {
        let file = basename(&a.text);
        let Some(stem) = file.strip_suffix(".deb") else {
            continue;
        };
        // Only a Debian file name (`NAME_VERSION_ARCH.deb`) names the package:
        // `wget -O golang-go.deb` saves `golang-1.15-go` under another name.
        let (name, version) = stem.split_once('_').unwrap_or(("", ""));
        if !valid_deb_name(name) {
            sink.warn(
                a.line,
                "dpkg -i of a file not named NAME_VERSION_ARCH.deb: its package and so its Depends are not known",
                Some(&a.text),
            );
            continue;
        }
        let constraint = match version.split('_').next() {
            Some(v)
                if !v.contains(['*', '?', '[', '$'])
                    && v.parse::<debversion::Version>().is_ok() =>
            {
                Constraint::Exact(v.to_string())
            }
            _ => Constraint::None,
        };
        let at = attrs([("field", "archive-depends"), ("installed-by", file)]);
        sink.dep(Ecosystem::Deb, name, constraint, a.line, ctx.clone(), at);
    }
}

fn dget(w: &[Word], ctx: &Context, sink: &mut Sink) {
    for a in w[1..].iter().filter(|a| !a.text.starts_with('-')) {
        let url = a.text.as_str();
        let file = basename(url.split(['?', '#']).next().unwrap_or(url));
        let stem = file.trim_end_matches(".dsc");
        let mut at = attrs([("url", url)]);
        match stem.split_once('_') {
            Some((name, ver)) if !has_unexpanded(stem) => {
                // The URL names one exact source version, but it may vanish.
                sink.dep(
                    Ecosystem::DebSrc,
                    name,
                    Constraint::Exact(ver.to_string()),
                    a.line,
                    ctx.clone(),
                    at,
                );
            }
            _ => {
                at.insert("unexpanded".to_string(), "true".to_string());
                sink.warn(a.line, "dget URL cannot be fully expanded", Some(url));
                sink.dep(
                    Ecosystem::DebSrc,
                    url,
                    Constraint::None,
                    a.line,
                    ctx.clone(),
                    at,
                );
            }
        }
    }
}

/// Classifies a download URL: moving (`latest`, a branch in a raw URL) or plain.
pub fn url_constraint(url: &str) -> Constraint {
    if url.contains("/releases/latest") || url.contains("/latest/") || url.ends_with("/latest") {
        return Constraint::Ref("latest".to_string());
    }
    for marker in ["/raw/", "/blob/", "raw.githubusercontent.com/"] {
        if let Some(i) = url.find(marker) {
            let tail = &url[i + marker.len()..];
            let parts: Vec<&str> = tail.split('/').collect();
            let reff = if marker.starts_with("raw.") {
                parts.get(2)
            } else {
                parts.first()
            };
            if let Some(r) = reff
                && !(r.len() == 40 && is_commit_sha(r))
            {
                return Constraint::Ref((*r).to_string());
            }
        }
    }
    Constraint::None
}

/// Records a web download.
pub fn record_url(
    url: &str,
    line: u32,
    ctx: &Context,
    extra: BTreeMap<String, String>,
    sink: &mut Sink,
) {
    let mut at = extra;
    if has_unexpanded(url) {
        sink.warn(line, "download URL cannot be fully expanded", Some(url));
        at.insert("unexpanded".to_string(), "true".to_string());
    }
    sink.dep(
        Ecosystem::Web,
        url,
        url_constraint(url),
        line,
        ctx.clone(),
        at,
    );
}

fn download(w: &[Word], ctx: &Context, sink: &mut Sink) {
    const WITH_ARG: [&str; 20] = [
        "-O",
        "-o",
        "-P",
        "-H",
        "--header",
        "--output",
        "--output-document",
        "-T",
        "--timeout",
        "--retry",
        "--retry-delay",
        "--max-time",
        "-m",
        "-u",
        "--user",
        "-A",
        "--user-agent",
        "-d",
        "--data",
        "-w",
    ];
    let mut i = 1;
    while i < w.len() {
        let t = w[i].text.as_str();
        if WITH_ARG.contains(&t) {
            i += 2;
            continue;
        }
        if t.contains("://") && !t.starts_with('-') {
            let url = t.trim_end_matches(['\'', '"']);
            let file = url.split(['?', '#']).next().unwrap_or(url);
            if file.ends_with(".dsc") && !has_unexpanded(file) {
                // A Debian source package fetched file by file: the .dsc names it and its version.
                let words = [
                    w[0].clone(),
                    Word {
                        text: url.to_string(),
                        line: w[i].line,
                    },
                ];
                dget(&words, ctx, sink);
            } else if url.starts_with("http") || url.starts_with("ftp") || has_unexpanded(url) {
                record_url(url, w[i].line, ctx, BTreeMap::new(), sink);
            }
        }
        i += 1;
    }
}

fn git(w: &[Word], st: &mut ShellState, ctx: &Context, sink: &mut Sink) {
    // Skip global options such as `-C dir` and `-c k=v`.
    let mut i = 1;
    while i < w.len() && w[i].text.starts_with('-') {
        i += if w[i].text == "-C" || w[i].text == "-c" {
            2
        } else {
            1
        };
    }
    let Some(sub) = w.get(i) else { return };
    match sub.text.as_str() {
        "clone" => {
            let mut branch: Option<String> = None;
            let mut url: Option<&Word> = None;
            let mut j = i + 1;
            while j < w.len() {
                let t = w[j].text.as_str();
                match t {
                    "-b" | "--branch" => {
                        branch = w.get(j + 1).map(|x| x.text.clone());
                        j += 2;
                        continue;
                    }
                    "--depth" | "-o" | "--origin" | "--reference" | "-c" | "--config" | "-j"
                    | "--jobs" => {
                        j += 2;
                        continue;
                    }
                    _ if t.starts_with("--branch=") => {
                        branch = Some(t["--branch=".len()..].to_string())
                    }
                    _ if t.starts_with('-') => {}
                    _ if url.is_none() => url = Some(&w[j]),
                    _ => {}
                }
                j += 1;
            }
            let Some(u) = url else { return };
            let mut at = BTreeMap::new();
            if has_unexpanded(&u.text) {
                sink.warn(u.line, "git URL cannot be fully expanded", Some(&u.text));
                at.insert("unexpanded".to_string(), "true".to_string());
            }
            let constraint = match branch {
                Some(b) if b.len() == 40 && is_commit_sha(&b) => Constraint::Exact(b),
                Some(b) => Constraint::Ref(b),
                None => Constraint::Ref("HEAD".to_string()),
            };
            sink.dep(Ecosystem::Git, &u.text, constraint, u.line, ctx.clone(), at);
            st.last_clone = Some(sink.deps.len() - 1);
        }
        "checkout" | "reset" => {
            // `git checkout -b NAME -f SHA`: the new branch name is not the target.
            let mut rest: Vec<&str> = Vec::new();
            let mut j = i + 1;
            while j < w.len() {
                let t = w[j].text.as_str();
                if matches!(t, "-b" | "-B" | "--orphan") {
                    j += 2;
                    continue;
                }
                if !t.starts_with('-') {
                    rest.push(t);
                }
                j += 1;
            }
            let target = rest
                .iter()
                .find(|t| t.len() == 40 && is_commit_sha(t))
                .or(rest.first())
                .copied();
            if let (Some(t), Some(idx)) = (target, st.last_clone)
                && let Some(d) = sink.deps.get_mut(idx)
            {
                d.constraint = if t.len() == 40 && is_commit_sha(t) {
                    Constraint::Exact(t.to_string())
                } else {
                    Constraint::Ref(t.to_string())
                };
                d.pinned = d.constraint.is_pinned();
                d.attrs
                    .insert("checkout-line".to_string(), w[i].line.to_string());
            }
        }
        _ => {}
    }
}

fn go(w: &[Word], ctx: &Context, sink: &mut Sink) {
    let Some(sub) = w.get(1) else { return };
    if sub.text != "get" && sub.text != "install" {
        return;
    }
    for a in w[2..].iter().filter(|a| !a.text.starts_with('-')) {
        if a.text.starts_with('.') || !a.text.contains('.') {
            continue; // local packages
        }
        let (m, v) = match a.text.split_once('@') {
            Some((m, v)) => (m, Some(v)),
            None => (a.text.as_str(), None),
        };
        let c = match v {
            Some("latest") | None => Constraint::Ref("latest".to_string()),
            Some(v) if v.starts_with('v') => Constraint::Exact(v.to_string()),
            Some(v) => Constraint::Ref(v.to_string()),
        };
        sink.dep(Ecosystem::Go, m, c, a.line, ctx.clone(), BTreeMap::new());
    }
}

fn pip(
    w: &[Word],
    start: usize,
    py: Option<&str>,
    st: &mut ShellState,
    ctx: &Context,
    sink: &mut Sink,
) {
    const WITH_ARG: [&str; 30] = [
        "-i",
        "--index-url",
        "--extra-index-url",
        "-f",
        "--find-links",
        "--trusted-host",
        "-t",
        "--target",
        "--prefix",
        "--root",
        "--src",
        "--platform",
        "--python-version",
        "--implementation",
        "--abi",
        "--global-option",
        "--install-option",
        "--upgrade-strategy",
        "--progress-bar",
        "--cache-dir",
        "--log",
        "--proxy",
        "--timeout",
        "--retries",
        "--no-binary",
        "--only-binary",
        "-d",
        "--dest",
        "--build",
        "--exists-action",
    ];
    let Some(sub) = w.get(start) else { return };
    let action = match sub.text.as_str() {
        "install" | "download" | "wheel" => None,
        "uninstall" => Some("remove"),
        _ => return,
    };
    st.transactions += 1;
    let mut c = ctx.clone();
    c.transaction = Some(st.transactions);
    c.python = py.map(str::to_string).or(c.python);
    let mut base = BTreeMap::new();
    if let Some(a) = action {
        base.insert("action".to_string(), a.to_string());
    }
    if let Some(r) = st.run {
        base.insert("run".to_string(), r.to_string());
    }
    if py.is_none() {
        base.insert("pip".to_string(), basename(&w[0].text).to_string());
    }
    // `--upgrade` replaces what is installed (a Debian package's distribution
    // included) with the newest release, where a plain install keeps it.
    if action.is_none()
        && w[start + 1..]
            .iter()
            .any(|a| a.text == "-U" || a.text == "--upgrade")
    {
        base.insert("upgrade".to_string(), "y".to_string());
    }
    let mut i = start + 1;
    while i < w.len() {
        let t = w[i].text.as_str();
        if WITH_ARG.contains(&t) {
            i += 2;
            continue;
        }
        match t {
            "-r" | "--requirement" | "-c" | "--constraint" => {
                if let Some(f) = w.get(i + 1) {
                    let mut a = base.clone();
                    a.insert("requirements-file".to_string(), f.text.clone());
                    // The file itself is crawled where it lives; here we only note the reference.
                    if has_unexpanded(&f.text) {
                        sink.warn(
                            f.line,
                            "requirements file path cannot be expanded",
                            Some(&f.text),
                        );
                    }
                }
                i += 2;
                continue;
            }
            "-e" | "--editable" => {
                if let Some(f) = w.get(i + 1) {
                    python::record(sink, &f.text, f.line, &c, &base);
                }
                i += 2;
                continue;
            }
            _ if t.starts_with('-') || t.starts_with('>') || t.starts_with("2>") => {}
            _ => {
                if is_wheel_variable(t) {
                    sink.warn(w[i].line, "pip installs a wheel named by a variable (built by this tree); not recorded as a dependency", Some(t));
                } else if python::is_local_path(t) && !has_unexpanded(t) {
                    // A wheel or tree built from this repository: its own install_requires are crawled from setup.py.
                } else {
                    python::record(sink, t, w[i].line, &c, &base);
                }
            }
        }
        i += 1;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Scans `text` as the shell file `f` in a fresh state (shared by the crawl's tests).
    pub(crate) fn run(text: &str) -> Sink {
        let mut s = Sink::new("f");
        let mut st = ShellState::default();
        scan(text, 1, &mut st, &Context::default(), &mut s);
        s
    }

    #[test]
    fn apt_transactions_versions_arch_and_lines() {
        let s = run(
            "apt-get update && apt-get install -y --no-install-recommends \\\n  libmnl0=1.0.4-2 \\\n  libboost1.74-dev:$arch\napt-get purge -y gcc\n",
        );
        assert_eq!(s.deps.len(), 3);
        assert_eq!(s.deps[0].name, "libmnl0");
        assert!(s.deps[0].pinned);
        assert_eq!(s.deps[0].origin.line, 2);
        assert_eq!(s.deps[1].context.arch.as_deref(), Some("$arch"));
        assert_eq!(s.deps[1].origin.line, 3);
        assert_eq!(s.deps[2].context.transaction, Some(2));
        assert_eq!(
            s.deps[2].attrs.get("action").map(String::as_str),
            Some("remove")
        );
    }

    #[test]
    fn autoremove_marks_the_removals_before_it() {
        let s = run(
            "apt-get purge -y python3-dev build-essential\napt-get remove --auto-remove -y gcc\napt-get install -y vim\napt-get clean && apt-get autoremove -y\napt-get purge -y late\nsudo scripts/collect_host_image_version_files.sh amd64\napt-get -y remove gcc\napt-get -y autoremove\n",
        );
        let marks: Vec<_> = s
            .deps
            .iter()
            .map(|d| {
                (
                    d.name.as_str(),
                    d.attrs.get("action").map(String::as_str),
                    d.attrs.contains_key("autoremove"),
                )
            })
            .collect();
        assert_eq!(
            marks,
            [
                ("python3-dev", Some("remove"), true),
                ("build-essential", Some("remove"), true),
                ("gcc", Some("remove"), true),
                ("vim", None, false),
                ("late", Some("remove"), false),
                ("gcc", Some("remove"), false),
            ]
        );
        // A removal after SONiC's freeze is recorded as such and does not count.
        assert!(s.deps[5].attrs.contains_key("after-freeze"));
        assert!(!s.deps[4].attrs.contains_key("after-freeze"));
    }

    #[test]
    fn branches_decided_by_known_variables() {
        let mut s = Sink::new("f");
        let mut st = ShellState::default();
        st.vars.insert("CONFIGURED_ARCH".into(), "amd64".into());
        let text = "if [[ $CONFIGURED_ARCH == armhf ]]; then\n  pip3 install cryptography==3.3.1\nelif [ \"$CONFIGURED_ARCH\" = amd64 ]; then\n  pip3 install onamd64\nelse\n  pip3 install never\nfi\nif [ $UNKNOWN != y ]; then pip3 install maybe; else pip3 install maybe2; fi\nif ! test $CONFIGURED_ARCH = armhf\nthen\n  if [[ x == y ]]; then pip3 install nested; fi\n  pip3 install notarm\nfi\npip3 install after\n";
        scan(text, 1, &mut st, &Context::default(), &mut s);
        let got: Vec<_> = s.deps.iter().map(|d| d.name.as_str()).collect();
        assert_eq!(got, ["onamd64", "maybe", "maybe2", "notarm", "after"]);
    }

    #[test]
    fn pip_forms() {
        let s = run(
            "pip3 install pytest-runner==5.2 nnpy 'lxml>=4' git+https://github.com/a/b.git@abc ./x.whl\npython2 -m pip install six\n",
        );
        let got: Vec<_> = s
            .deps
            .iter()
            .map(|d| (d.name.as_str(), d.pinned, d.context.python.as_deref()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("pytest-runner", true, Some("py3")),
                ("nnpy", false, Some("py3")),
                ("lxml", false, Some("py3")),
                ("b", false, Some("py3")),
                ("six", false, Some("py2")),
            ]
        );
        let s = run(
            "pip3 install --upgrade pip\npip3 install -U --upgrade-strategy eager x\npip3 install y\n",
        );
        let up: Vec<_> = s
            .deps
            .iter()
            .map(|d| (d.name.as_str(), d.attrs.get("upgrade").map(String::as_str)))
            .collect();
        assert_eq!(up, vec![("pip", Some("y")), ("x", Some("y")), ("y", None)]);
    }

    #[test]
    fn git_clone_then_checkout_pins() {
        let s = run(
            "git clone https://github.com/jpirko/libteam.git\npushd libteam\ngit checkout -f c7237377a7d7cb1e5e1cbca9d8e6ef4b5c0b38c8\n",
        );
        assert_eq!(s.deps.len(), 1);
        assert!(s.deps[0].pinned);
        let s = run(
            "git clone https://github.com/jpirko/libteam.git\ngit checkout -b teamd -f c7237377a7d7cb1e5e1cbca9d8e6ef4b5c0b38c8\n",
        );
        assert_eq!(
            s.deps[0].constraint,
            Constraint::Exact("c7237377a7d7cb1e5e1cbca9d8e6ef4b5c0b38c8".into())
        );
        let s = run("git clone --depth 1 -b frr/8.2 https://x/frr.git\n");
        assert_eq!(s.deps[0].constraint, Constraint::Ref("frr/8.2".into()));
    }

    #[test]
    fn dpkg_install_asks_for_the_archive_depends_of_each_deb() {
        let s = run(
            "sudo dpkg --root=$R -i $debs_path/initramfs-tools-core_*.deb || apt-get -y install -f\n\
             dpkg -i /tmp/xy_1.2-3_amd64.deb /tmp/linux-image-5.10-*_amd64.deb\n\
             dpkg -i /tmp/$(odd)_1_amd64.deb golang-go.deb\n\
             dpkg -l\n",
        );
        let got: Vec<(&str, &Constraint, u32)> = s
            .deps
            .iter()
            .filter(|d| d.is_archive_depends())
            .map(|d| (d.name.as_str(), &d.constraint, d.origin.line))
            .collect();
        assert_eq!(
            got,
            vec![
                ("initramfs-tools-core", &Constraint::None, 1),
                ("xy", &Constraint::Exact("1.2-3".into()), 2),
            ]
        );
        let x = s.deps.iter().find(|d| d.name == "xy");
        assert_eq!(
            x.and_then(|d| d.attrs.get("installed-by"))
                .map(String::as_str),
            Some("xy_1.2-3_amd64.deb")
        );
        assert_eq!(
            s.diags.len(),
            3,
            "the glob name, the unexpanded one and the renamed file are named: {:?}",
            s.diags
        );
    }

    #[test]
    fn downloads_and_dget() {
        let s = run(
            "V=1.2\nwget -O /tmp/x https://github.com/o/r/releases/latest/download/x\ncurl -fsSL \"https://example.org/x-${V}.tgz\" | tar x\ndget http://deb.debian.org/debian/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc\n",
        );
        assert_eq!(s.deps.len(), 3);
        assert_eq!(s.deps[0].constraint, Constraint::Ref("latest".into()));
        assert_eq!(s.deps[1].name, "https://example.org/x-1.2.tgz");
        assert_eq!(s.deps[2].name, "isc-dhcp");
        assert_eq!(s.deps[2].constraint, Constraint::Exact("4.4.1-2.3".into()));
        let s = run(
            "wget -O r.dsc -N \"http://http.debian.net/debian/pool/main/r/redis/redis_5.0.3-3~bpo9+2.dsc\"\n",
        );
        assert_eq!(
            (s.deps[0].ecosystem, s.deps[0].name.as_str()),
            (Ecosystem::DebSrc, "redis")
        );
        assert!(s.deps[0].pinned);
    }

    #[test]
    fn unknown_variables_are_kept_with_a_diagnostic() {
        let s = run("apt-get install -y $PKGS\n");
        assert_eq!(s.deps.len(), 1);
        assert_eq!(s.diags.len(), 1);
        assert_eq!(s.deps[0].name, "$PKGS");
    }

    #[test]
    fn heredoc_bodies_are_not_commands() {
        let s = run("cat <<EOF > f\napt-get install nope\nEOF\napt-get install yes\n");
        assert_eq!(s.deps.len(), 1);
        assert_eq!(s.deps[0].name, "yes");
        assert_eq!(s.deps[0].origin.line, 4);
    }
}
