//! Dockerfiles (after Jinja rendering): `FROM` base images, `ARG`/`ENV`
//! values, and `RUN` instructions handed to the shell scanner, one apt/pip
//! transaction per install command, numbered in file order.

use super::shell::{self, ShellState};
use super::text::{Sink, attrs, has_unexpanded};
use crate::manifest::{Constraint, Context, Ecosystem};
use std::collections::{BTreeMap, BTreeSet};

/// Parses a rendered Dockerfile. `local_images` are images the tree builds
/// itself (`docker-config-engine-bullseye`, ...), which are not external dependencies.
pub fn parse(text: &str, ctx: &Context, local_images: &BTreeSet<String>, sink: &mut Sink) {
    let mut st = ShellState::default();
    let mut stages: BTreeSet<String> = BTreeSet::new();
    let mut runs = 0u32;
    let lines: Vec<&str> = text.split('\n').collect();
    let mut i = 0;
    while i < lines.len() {
        let first = lines[i].trim_end_matches('\r');
        let start_line = u32::try_from(i + 1).unwrap_or(u32::MAX);
        let t = first.trim_start();
        if t.is_empty() || t.starts_with('#') {
            i += 1;
            continue;
        }
        // Gather continuation lines; comment lines inside are dropped but counted.
        let mut body = String::from(first);
        let mut j = i;
        let mut continued = ends_continued(first);
        while continued && j + 1 < lines.len() {
            j += 1;
            let l = lines[j].trim_end_matches('\r');
            if l.trim_start().starts_with('#') || l.trim().is_empty() {
                // Docker drops comment and empty lines inside a continued
                // instruction; an escaped newline keeps the line count.
                body.push_str("\n\\");
                continue;
            }
            body.push('\n');
            body.push_str(l);
            continued = ends_continued(l);
        }
        if continued {
            sink.warn(
                start_line,
                "instruction continues past the end of the file",
                Some(first),
            );
        }
        i = j + 1;
        let (kw, rest) = t.split_once(char::is_whitespace).unwrap_or((t, ""));
        let kw_len = first.len() - t.len() + kw.len();
        let args = &body[kw_len.min(body.len())..];
        match kw.to_ascii_uppercase().as_str() {
            "FROM" => from(
                args.trim(),
                start_line,
                ctx,
                local_images,
                &mut stages,
                &st,
                sink,
            ),
            "ARG" | "ENV" => {
                let words = shell::commands(args, start_line, &st.vars);
                let flat: Vec<&str> = words.iter().flatten().map(|w| w.text.as_str()).collect();
                if kw.eq_ignore_ascii_case("ENV") && flat.len() >= 2 && !flat[0].contains('=') {
                    st.vars.insert(flat[0].to_string(), flat[1..].join(" "));
                } else {
                    for w in flat {
                        match w.split_once('=') {
                            Some((k, v)) => {
                                st.vars.insert(k.to_string(), v.to_string());
                            }
                            None => {
                                st.vars.entry(w.to_string()).or_default();
                            }
                        }
                    }
                }
                let _ = rest;
            }
            "RUN" => {
                runs += 1;
                st.run = Some(runs);
                let a = args.trim_start();
                // Exec form is a JSON array of words; anything else (even `[ -f x ] && ...`) is shell.
                let exec = a
                    .starts_with('[')
                    .then(|| serde_json::from_str::<Vec<String>>(a.trim()).ok())
                    .flatten();
                if let Some(v) = exec {
                    let words: Vec<shell::Word> = v
                        .into_iter()
                        .map(|text| shell::Word {
                            text,
                            line: start_line,
                        })
                        .collect();
                    shell::command(&words, &mut st, ctx, sink);
                } else {
                    // Skip `--mount=...` style flags.
                    let mut a = a;
                    while a.starts_with("--") {
                        a = a
                            .split_once(char::is_whitespace)
                            .map(|(_, r)| r.trim_start())
                            .unwrap_or("");
                    }
                    let offset = u32::try_from(args[..args.len() - a.len()].matches('\n').count())
                        .unwrap_or(0);
                    shell::scan(a, start_line + offset, &mut st, ctx, sink);
                }
                st.run = None;
            }
            "ADD" => {
                let words = shell::commands(args, start_line, &st.vars);
                for w in words.iter().flatten() {
                    if w.text.starts_with("http://") || w.text.starts_with("https://") {
                        shell::record_url(&w.text, w.line, ctx, attrs([("via", "ADD")]), sink);
                    }
                }
            }
            _ => {}
        }
    }
}

fn ends_continued(l: &str) -> bool {
    let l = l.trim_end_matches('\r');
    l.bytes().rev().take_while(|&b| b == b'\\').count() % 2 == 1
}

fn from(
    args: &str,
    line: u32,
    ctx: &Context,
    local_images: &BTreeSet<String>,
    stages: &mut BTreeSet<String>,
    st: &ShellState,
    sink: &mut Sink,
) {
    let words: Vec<String> = shell::commands(args, line, &st.vars)
        .into_iter()
        .flatten()
        .map(|w| w.text)
        .filter(|w| !w.starts_with("--"))
        .collect();
    let Some(image) = words.first() else {
        sink.warn(line, "FROM without an image", None);
        return;
    };
    if words.len() >= 3 && words[1].eq_ignore_ascii_case("as") {
        stages.insert(words[2].clone());
    }
    if stages.contains(image) && !(words.len() >= 3 && &words[2] == image) {
        return; // a build stage of this same file
    }
    let (repo, digest) = match image.split_once('@') {
        Some((r, d)) => (r, Some(d)),
        None => (image.as_str(), None),
    };
    let (name, tag) = match repo.rsplit_once(':') {
        Some((n, t)) if !t.contains('/') => (n, Some(t)),
        _ => (repo, None),
    };
    let short = name.rsplit('/').next().unwrap_or(name);
    let short_stem = short
        .split("-{{")
        .next()
        .unwrap_or(short)
        .trim_end_matches('-');
    if local_images.contains(short_stem) || local_images.contains(short) {
        return; // built by this tree
    }
    let mut at = BTreeMap::new();
    if has_unexpanded(image) {
        sink.warn(
            line,
            "base image reference cannot be fully expanded",
            Some(image),
        );
        at.insert("unexpanded".to_string(), "true".to_string());
    }
    let constraint = match (digest, tag) {
        (Some(d), _) => Constraint::Exact(d.to_string()),
        (None, Some(t)) => Constraint::Ref(t.to_string()),
        (None, None) => Constraint::Ref("latest".to_string()),
    };
    sink.dep(Ecosystem::Docker, name, constraint, line, ctx.clone(), at);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn from_run_and_transactions() {
        let t = "FROM debian:bullseye AS base\nARG arch=amd64\n# c\nRUN apt-get update && apt-get install -y \\\n# inner comment\n   gcc \\\n   libfoo:$arch\nRUN pip3 install six\nFROM base\nFROM docker-config-engine-bullseye-{{DOCKER_USERNAME}}:{{DOCKER_USERTAG}}\n";
        let mut s = Sink::new("Dockerfile");
        let local: BTreeSet<String> = ["docker-config-engine-bullseye".to_string()].into();
        parse(t, &Context::default(), &local, &mut s);
        let got: Vec<_> = s
            .deps
            .iter()
            .map(|d| {
                (
                    d.ecosystem,
                    d.name.as_str(),
                    d.origin.line,
                    d.context.transaction,
                )
            })
            .collect();
        assert_eq!(
            got,
            vec![
                (Ecosystem::Docker, "debian", 1, None),
                (Ecosystem::Deb, "gcc", 6, Some(1)),
                (Ecosystem::Deb, "libfoo", 7, Some(1)),
                (Ecosystem::Py, "six", 8, Some(2)),
            ]
        );
        assert_eq!(s.deps[2].context.arch.as_deref(), Some("amd64"));
    }
}
