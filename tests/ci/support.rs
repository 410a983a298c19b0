//! Runs the `ci/` pipeline templates locally: the YAML is parsed, the template's
//! inputs substituted (GitHub `${{ }}` expressions over `github`, `vars`, `env`
//! and `steps`; Azure `${{ parameters.x }}` and `$(Variable)` macros), every
//! step's condition evaluated the way the CI service does (an implicit
//! `success()` / `succeeded()`), and the shell steps executed in order with bash
//! in the workspace, with the services' step protocols (`$GITHUB_OUTPUT`,
//! `$GITHUB_PATH`, `$GITHUB_STEP_SUMMARY`, `##vso[task.setvariable]`,
//! `##vso[task.prependpath]`, `##vso[task.uploadsummary]`). Actions and tasks
//! that talk to the service (checkout, cache, artifact upload) are recorded.
#![allow(dead_code)]

use serde_yaml::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

/// A value of a CI expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Val {
    /// A string (every context value is one).
    Str(String),
    /// A boolean.
    Bool(bool),
    /// Missing.
    Null,
}

impl Val {
    fn truthy(&self) -> bool {
        match self {
            Val::Str(s) => !s.is_empty(),
            Val::Bool(b) => *b,
            Val::Null => false,
        }
    }
    fn text(&self) -> String {
        match self {
            Val::Str(s) => s.clone(),
            Val::Bool(b) => b.to_string(),
            Val::Null => String::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Ident(String),
    Str(String),
    Op(&'static str),
}

fn tokenize(s: &str) -> Vec<Tok> {
    let b: Vec<char> = s.chars().collect();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let c = b[i];
        if c.is_whitespace() {
            i += 1;
        } else if c == '\'' {
            let mut t = String::new();
            i += 1;
            while i < b.len() {
                if b[i] == '\'' {
                    if b.get(i + 1) == Some(&'\'') {
                        t.push('\'');
                        i += 2;
                        continue;
                    }
                    break;
                }
                t.push(b[i]);
                i += 1;
            }
            i += 1;
            out.push(Tok::Str(t));
        } else if c.is_alphanumeric() || c == '_' {
            let mut t = String::new();
            while i < b.len() && (b[i].is_alphanumeric() || "_.-".contains(b[i])) {
                t.push(b[i]);
                i += 1;
            }
            out.push(Tok::Ident(t));
        } else {
            let two: String = b[i..(i + 2).min(b.len())].iter().collect();
            let op = match two.as_str() {
                "||" => Some("||"),
                "&&" => Some("&&"),
                "==" => Some("=="),
                "!=" => Some("!="),
                _ => None,
            };
            if let Some(op) = op {
                out.push(Tok::Op(op));
                i += 2;
                continue;
            }
            let op = match c {
                '!' => "!",
                '(' => "(",
                ')' => ")",
                '[' => "[",
                ']' => "]",
                ',' => ",",
                _ => panic!("unexpected `{c}` in expression `{s}`"),
            };
            out.push(Tok::Op(op));
            i += 1;
        }
    }
    out
}

/// Context lookups and functions of one CI service.
pub trait Env {
    /// A dotted context path (`steps.x.outputs.rc`, `variables.X`).
    fn lookup(&self, path: &str) -> Val;
    /// A function call.
    fn call(&self, name: &str, args: &[Val]) -> Val;
}

struct Parser<'a> {
    toks: Vec<Tok>,
    pos: usize,
    env: &'a dyn Env,
}

impl Parser<'_> {
    fn peek(&self) -> Option<&Tok> {
        self.toks.get(self.pos)
    }
    fn eat(&mut self, op: &str) -> bool {
        if matches!(self.peek(), Some(Tok::Op(o)) if *o == op) {
            self.pos += 1;
            true
        } else {
            false
        }
    }
    fn or(&mut self) -> Val {
        let mut v = self.and();
        while self.eat("||") {
            let r = self.and();
            if !v.truthy() {
                v = r;
            }
        }
        v
    }
    fn and(&mut self) -> Val {
        let mut v = self.cmp();
        while self.eat("&&") {
            let r = self.cmp();
            if v.truthy() {
                v = r;
            }
        }
        v
    }
    fn cmp(&mut self) -> Val {
        let l = self.unary();
        if self.eat("==") {
            let r = self.unary();
            return Val::Bool(l.text().eq_ignore_ascii_case(&r.text()));
        }
        if self.eat("!=") {
            let r = self.unary();
            return Val::Bool(!l.text().eq_ignore_ascii_case(&r.text()));
        }
        l
    }
    fn unary(&mut self) -> Val {
        if self.eat("!") {
            return Val::Bool(!self.unary().truthy());
        }
        self.primary()
    }
    fn primary(&mut self) -> Val {
        let t = self.peek().cloned();
        self.pos += 1;
        match t {
            Some(Tok::Str(s)) => Val::Str(s),
            Some(Tok::Op("(")) => {
                let v = self.or();
                assert!(self.eat(")"), "missing )");
                v
            }
            Some(Tok::Ident(name)) => {
                if self.eat("(") {
                    let mut args = Vec::new();
                    if !self.eat(")") {
                        loop {
                            args.push(self.or());
                            if self.eat(")") {
                                break;
                            }
                            assert!(self.eat(","), "expected , in call of {name}");
                        }
                    }
                    return self.env.call(&name, &args);
                }
                let mut path = name;
                while self.eat("[") {
                    let key = self.or().text();
                    assert!(self.eat("]"), "missing ]");
                    path = format!("{path}.{key}");
                }
                match path.as_str() {
                    "true" => Val::Bool(true),
                    "false" => Val::Bool(false),
                    "null" => Val::Null,
                    _ => self.env.lookup(&path),
                }
            }
            other => panic!("unexpected token {other:?}"),
        }
    }
}

/// Evaluates one expression.
pub fn eval(expr: &str, env: &dyn Env) -> Val {
    let mut p = Parser {
        toks: tokenize(expr),
        pos: 0,
        env,
    };
    let v = p.or();
    assert_eq!(p.pos, p.toks.len(), "trailing tokens in `{expr}`");
    v
}

/// Replaces every `${{ expr }}` in `s`.
pub fn interpolate(s: &str, env: &dyn Env) -> String {
    let mut out = String::new();
    let mut rest = s;
    while let Some(i) = rest.find("${{") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 3..];
        let j = after.find("}}").expect("unterminated ${{");
        out.push_str(&eval(&after[..j], env).text());
        rest = &after[j + 2..];
    }
    out.push_str(rest);
    out
}

/// What one step did.
#[derive(Debug, Clone, PartialEq)]
pub enum StepRun {
    /// Its condition was false.
    Skipped,
    /// A shell step ran and exited with this code.
    Exited(i32),
    /// An action/task was recorded, not run.
    Recorded,
}

/// What a job run did.
#[derive(Debug, Default)]
pub struct JobRun {
    /// Each step's name and what it did, in order.
    pub steps: Vec<(String, StepRun)>,
    /// True when the job ended failed.
    pub failed: bool,
    /// Paths the job uploads as artifacts (resolved, as listed).
    pub artifacts: Vec<PathBuf>,
    /// Job summary (GitHub step summary; Azure uploaded summary files' content).
    pub summary: String,
    /// Everything the steps printed.
    pub log: String,
}

impl JobRun {
    /// What the step named `name` did.
    pub fn step(&self, name: &str) -> &StepRun {
        &self
            .steps
            .iter()
            .find(|(n, _)| n == name)
            .unwrap_or_else(|| panic!("no step `{name}` in {:?}", self.steps))
            .1
    }
}

fn str_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn run_bash(
    script: &str,
    args: &[&str],
    cwd: &Path,
    env: &BTreeMap<String, String>,
    scratch: &Path,
    n: usize,
) -> (i32, String) {
    let file = scratch.join(format!("step-{n}.sh"));
    std::fs::write(&file, script).unwrap();
    let out = Command::new("bash")
        .args(args)
        .arg(&file)
        .current_dir(cwd)
        .env_clear()
        .envs(env)
        .output()
        .unwrap();
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

/// The environment every step starts from: this process's, minus anything CI-ish.
fn base_env(path_prefix: &[PathBuf]) -> BTreeMap<String, String> {
    let mut env: BTreeMap<String, String> = std::env::vars()
        .filter(|(k, _)| {
            !k.starts_with("GITHUB_") && !k.starts_with("SONIC_LOCK") && !k.starts_with("RUNNER_")
        })
        .collect();
    let mut path: Vec<String> = path_prefix
        .iter()
        .map(|p| p.display().to_string())
        .collect();
    path.push(env.get("PATH").cloned().unwrap_or_default());
    env.insert("PATH".into(), path.join(":"));
    env
}

// ---------------------------------------------------------------- GitHub Actions

/// Inputs of a GitHub Actions run.
pub struct GithubRun<'a> {
    /// The workflow file.
    pub workflow: &'a Path,
    /// `github.workspace` (a checkout of the repository the workflow lives in).
    pub workspace: &'a Path,
    /// Scratch directory (`runner.temp`, step scripts, protocol files).
    pub scratch: &'a Path,
    /// `vars.*` (repository variables).
    pub vars: BTreeMap<String, String>,
    /// `github.event.inputs.*`.
    pub inputs: BTreeMap<String, String>,
    /// Directory holding the `sonic-lock` binary, put on PATH in place of the install step.
    pub bin_dir: PathBuf,
}

struct GhCtx<'a> {
    run: &'a GithubRun<'a>,
    env: BTreeMap<String, String>,
    outputs: BTreeMap<String, BTreeMap<String, String>>,
    failed: bool,
}

impl Env for GhCtx<'_> {
    fn lookup(&self, path: &str) -> Val {
        let parts: Vec<&str> = path.split('.').collect();
        let found = match parts.as_slice() {
            ["github", "workspace"] => Some(self.run.workspace.display().to_string()),
            ["github", "run_id"] => Some("1001".into()),
            ["github", "run_number"] => Some("7".into()),
            ["github", "event", "inputs", k] => self.run.inputs.get(*k).cloned(),
            ["runner", "temp"] => Some(self.run.scratch.display().to_string()),
            ["vars", k] => self.run.vars.get(*k).cloned(),
            ["env", k] => self.env.get(*k).cloned(),
            ["steps", id, "outputs", k] => self.outputs.get(*id).and_then(|o| o.get(*k)).cloned(),
            _ => panic!("unknown context `{path}`"),
        };
        found.map(Val::Str).unwrap_or(Val::Null)
    }

    fn call(&self, name: &str, args: &[Val]) -> Val {
        match name {
            "always" => Val::Bool(true),
            "success" => Val::Bool(!self.failed),
            "failure" => Val::Bool(self.failed),
            "cancelled" => Val::Bool(false),
            "hashFiles" => {
                let p = self.run.workspace.join(args[0].text());
                Val::Str(if p.is_file() {
                    format!("{:x}", std::fs::read(&p).unwrap().len())
                } else {
                    String::new()
                })
            }
            _ => panic!("unknown function {name}"),
        }
    }
}

fn has_status_fn(expr: &str) -> bool {
    ["always()", "success()", "failure()", "cancelled()"]
        .iter()
        .any(|f| expr.contains(f))
}

fn strip_braces(expr: &str) -> &str {
    let t = expr.trim();
    t.strip_prefix("${{")
        .and_then(|x| x.strip_suffix("}}"))
        .unwrap_or(t)
}

/// Runs the workflow's only job.
pub fn run_github(run: &GithubRun<'_>) -> JobRun {
    let doc: Value = serde_yaml::from_str(&std::fs::read_to_string(run.workflow).unwrap()).unwrap();
    let mut ctx = GhCtx {
        run,
        env: BTreeMap::new(),
        outputs: BTreeMap::new(),
        failed: false,
    };
    if let Some(Value::Mapping(m)) = doc.get("env") {
        for (k, v) in m {
            let v = interpolate(&str_of(v).unwrap(), &ctx);
            ctx.env.insert(str_of(k).unwrap(), v);
        }
    }
    let jobs = doc["jobs"].as_mapping().unwrap();
    assert_eq!(jobs.len(), 1, "one job");
    let job = jobs.values().next().unwrap();
    let mut result = JobRun::default();
    let mut path_prefix = vec![run.bin_dir.clone()];
    let files = |name: &str| run.scratch.join(name);
    for (n, step) in job["steps"].as_sequence().unwrap().iter().enumerate() {
        let name = step
            .get("name")
            .and_then(str_of)
            .or_else(|| step.get("uses").and_then(str_of))
            .unwrap();
        let cond = step.get("if").and_then(str_of);
        let go = match cond {
            None => !ctx.failed,
            Some(c) => {
                let e = strip_braces(&c).to_string();
                let e = if has_status_fn(&e) {
                    e
                } else {
                    format!("success() && ({e})")
                };
                eval(&e, &ctx).truthy()
            }
        };
        if !go {
            result.steps.push((name, StepRun::Skipped));
            continue;
        }
        if let Some(uses) = step.get("uses").and_then(str_of) {
            if uses.starts_with("actions/upload-artifact") {
                let paths = interpolate(&str_of(&step["with"]["path"]).unwrap(), &ctx);
                for p in paths.lines().map(str::trim).filter(|p| !p.is_empty()) {
                    result.artifacts.push(run.workspace.join(p));
                }
            } else {
                assert!(
                    uses.starts_with("actions/checkout") || uses.starts_with("actions/cache"),
                    "unknown action {uses}"
                );
            }
            result.steps.push((name, StepRun::Recorded));
            continue;
        }
        let script = interpolate(&str_of(&step["run"]).unwrap(), &ctx);
        if script.trim_start().starts_with("cargo install") {
            // The binary under test stands in for the install (already on PATH).
            result.steps.push((name, StepRun::Recorded));
            continue;
        }
        for f in ["output", "path", "summary", "env"] {
            std::fs::write(files(f), "").unwrap();
        }
        let mut env = base_env(&path_prefix);
        env.extend(ctx.env.clone());
        if let Some(Value::Mapping(m)) = step.get("env") {
            for (k, v) in m {
                env.insert(str_of(k).unwrap(), interpolate(&str_of(v).unwrap(), &ctx));
            }
        }
        for (k, f) in [
            ("GITHUB_OUTPUT", "output"),
            ("GITHUB_PATH", "path"),
            ("GITHUB_STEP_SUMMARY", "summary"),
            ("GITHUB_ENV", "env"),
        ] {
            env.insert(k.into(), files(f).display().to_string());
        }
        env.insert("RUNNER_TEMP".into(), run.scratch.display().to_string());
        env.insert(
            "GITHUB_WORKSPACE".into(),
            run.workspace.display().to_string(),
        );
        // GitHub's default shell for `run` on Linux.
        let (code, text) = run_bash(
            &script,
            &["--noprofile", "--norc", "-e"],
            run.workspace,
            &env,
            run.scratch,
            n,
        );
        result
            .log
            .push_str(&format!("== {name} (exit {code})\n{text}"));
        let read = |f: &str| std::fs::read_to_string(files(f)).unwrap_or_default();
        if let Some(id) = step.get("id").and_then(str_of) {
            let outs: BTreeMap<String, String> = read("output")
                .lines()
                .filter_map(|l| l.split_once('='))
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect();
            ctx.outputs.insert(id, outs);
        }
        for p in read("path").lines().filter(|l| !l.is_empty()) {
            path_prefix.insert(0, PathBuf::from(p));
        }
        result.summary.push_str(&read("summary"));
        if code != 0 && step.get("continue-on-error").is_none() {
            ctx.failed = true;
        }
        result.steps.push((name, StepRun::Exited(code)));
    }
    result.failed = ctx.failed;
    result
}

// ---------------------------------------------------------------- Azure Pipelines

/// Inputs of an Azure Pipelines run.
pub struct AzureRun<'a> {
    /// The pipeline file.
    pub pipeline: &'a Path,
    /// `Build.SourcesDirectory` (a checkout of the repository the pipeline lives in).
    pub sources: &'a Path,
    /// `Pipeline.Workspace`.
    pub pipeline_workspace: &'a Path,
    /// Scratch directory (`Agent.TempDirectory`, step scripts).
    pub scratch: &'a Path,
    /// Queue-time parameter values (the rest take their defaults).
    pub parameters: BTreeMap<String, String>,
    /// Directory holding the `sonic-lock` binary, put on PATH in place of the install step.
    pub bin_dir: PathBuf,
}

struct AzCtx {
    vars: BTreeMap<String, String>,
    failed: bool,
}

impl AzCtx {
    fn get(&self, name: &str) -> Option<&String> {
        self.vars
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v)
    }

    /// `$(Name)` macros of defined variables, expanded until none is left; others stay.
    fn expand(&self, s: &str) -> String {
        let mut cur = s.to_string();
        for _ in 0..10 {
            let mut out = String::new();
            let mut rest = cur.as_str();
            while let Some(i) = rest.find("$(") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 2..];
                let end = after.find(')');
                let name = end.map(|e| &after[..e]);
                match name {
                    Some(nm)
                        if !nm.is_empty()
                            && nm
                                .chars()
                                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '.')
                            && self.get(nm).is_some() =>
                    {
                        out.push_str(self.get(nm).unwrap());
                        rest = &after[end.unwrap() + 1..];
                    }
                    _ => {
                        out.push_str("$(");
                        rest = after;
                    }
                }
            }
            out.push_str(rest);
            if out == cur {
                break;
            }
            cur = out;
        }
        cur
    }
}

impl Env for AzCtx {
    fn lookup(&self, path: &str) -> Val {
        match path.strip_prefix("variables.") {
            Some(k) => self.get(k).cloned().map(Val::Str).unwrap_or(Val::Null),
            None => panic!("unknown context `{path}`"),
        }
    }

    fn call(&self, name: &str, args: &[Val]) -> Val {
        let eq = |a: &Val, b: &Val| a.text().eq_ignore_ascii_case(&b.text());
        match name {
            "always" => Val::Bool(true),
            "succeeded" => Val::Bool(!self.failed),
            "failed" => Val::Bool(self.failed),
            "and" => Val::Bool(args.iter().all(Val::truthy)),
            "or" => Val::Bool(args.iter().any(Val::truthy)),
            "not" => Val::Bool(!args[0].truthy()),
            "eq" => Val::Bool(eq(&args[0], &args[1])),
            "ne" => Val::Bool(!eq(&args[0], &args[1])),
            _ => panic!("unknown function {name}"),
        }
    }
}

/// Replaces `${{ parameters.x }}` everywhere (template expansion happens before the run).
fn expand_parameters(v: &mut Value, params: &BTreeMap<String, String>) {
    match v {
        Value::String(s) => {
            let mut out = String::new();
            let mut rest = s.as_str();
            while let Some(i) = rest.find("${{") {
                out.push_str(&rest[..i]);
                let after = &rest[i + 3..];
                let j = after.find("}}").unwrap();
                let expr = after[..j].trim();
                let name = expr
                    .strip_prefix("parameters.")
                    .unwrap_or_else(|| panic!("unsupported template expression `{expr}`"));
                out.push_str(&params[name]);
                rest = &after[j + 2..];
            }
            out.push_str(rest);
            *s = out;
        }
        Value::Sequence(xs) => xs.iter_mut().for_each(|x| expand_parameters(x, params)),
        Value::Mapping(m) => m.iter_mut().for_each(|(_, x)| expand_parameters(x, params)),
        _ => {}
    }
}

/// Runs the pipeline's only job.
pub fn run_azure(run: &AzureRun<'_>) -> JobRun {
    let mut doc: Value =
        serde_yaml::from_str(&std::fs::read_to_string(run.pipeline).unwrap()).unwrap();
    let mut params = BTreeMap::new();
    for p in doc["parameters"].as_sequence().unwrap() {
        let name = str_of(&p["name"]).unwrap();
        let value = run
            .parameters
            .get(&name)
            .cloned()
            .or_else(|| str_of(&p["default"]))
            .unwrap();
        params.insert(name, value);
    }
    expand_parameters(&mut doc, &params);
    let mut ctx = AzCtx {
        vars: BTreeMap::from([
            (
                "Build.SourcesDirectory".into(),
                run.sources.display().to_string(),
            ),
            (
                "Pipeline.Workspace".into(),
                run.pipeline_workspace.display().to_string(),
            ),
            (
                "Agent.TempDirectory".into(),
                run.scratch.display().to_string(),
            ),
            ("Build.BuildId".into(), "1001".into()),
            ("Build.SourceBranchName".into(), "master".into()),
        ]),
        failed: false,
    };
    if let Some(Value::Mapping(m)) = doc.get("variables") {
        for (k, v) in m {
            ctx.vars.insert(str_of(k).unwrap(), str_of(v).unwrap());
        }
    }
    let jobs = doc["jobs"].as_sequence().unwrap();
    assert_eq!(jobs.len(), 1, "one job");
    let mut result = JobRun::default();
    let mut path_prefix = vec![run.bin_dir.clone()];
    for (n, step) in jobs[0]["steps"].as_sequence().unwrap().iter().enumerate() {
        let name = step
            .get("displayName")
            .and_then(str_of)
            .or_else(|| step.get("checkout").map(|_| "checkout".into()))
            .unwrap();
        let cond = step
            .get("condition")
            .and_then(str_of)
            .unwrap_or_else(|| "succeeded()".into());
        if !eval(&cond, &ctx).truthy() {
            result.steps.push((name, StepRun::Skipped));
            continue;
        }
        if step.get("checkout").is_some() {
            result.steps.push((name, StepRun::Recorded));
            continue;
        }
        if let Some(task) = step.get("task").and_then(str_of) {
            if task.starts_with("PublishPipelineArtifact") {
                let p = ctx.expand(&str_of(&step["inputs"]["targetPath"]).unwrap());
                result.artifacts.push(PathBuf::from(p));
            } else {
                assert!(task.starts_with("Cache@"), "unknown task {task}");
            }
            result.steps.push((name, StepRun::Recorded));
            continue;
        }
        let script = ctx.expand(&str_of(&step["script"]).unwrap());
        if script.trim_start().starts_with("cargo install") {
            result.steps.push((name, StepRun::Recorded));
            continue;
        }
        let mut env = base_env(&path_prefix);
        // Azure exposes every variable to scripts: upper case, `.` -> `_`.
        for (k, v) in &ctx.vars {
            env.insert(k.to_uppercase().replace('.', "_"), ctx.expand(v));
        }
        let (code, text) = run_bash(
            &script,
            &["--noprofile", "--norc"],
            run.sources,
            &env,
            run.scratch,
            n,
        );
        result
            .log
            .push_str(&format!("== {name} (exit {code})\n{text}"));
        for line in text.lines() {
            if let Some(rest) = line.strip_prefix("##vso[task.setvariable variable=") {
                if let Some((k, v)) = rest.split_once(']') {
                    ctx.vars.insert(k.to_string(), v.to_string());
                }
            } else if let Some(p) = line.strip_prefix("##vso[task.prependpath]") {
                path_prefix.insert(0, PathBuf::from(p));
            } else if let Some(p) = line.strip_prefix("##vso[task.uploadsummary]") {
                result
                    .summary
                    .push_str(&std::fs::read_to_string(p).unwrap_or_default());
            }
        }
        let tolerated = step
            .get("continueOnError")
            .and_then(Value::as_bool)
            .unwrap_or(false);
        if code != 0 && !tolerated {
            ctx.failed = true;
        }
        result.steps.push((name, StepRun::Exited(code)));
    }
    result.failed = ctx.failed;
    result
}
