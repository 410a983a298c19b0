//! apt repositories that scripts and Dockerfiles add: `add-apt-repository
//! "deb ..."`, `echo "deb ..." > /etc/apt/sources.list.d/x.list` (or `>>
//! /etc/apt/sources.list`, or `| tee ...`), and the keys fetched for them
//! (`curl URL | apt-key add -`, a key saved into `trusted.gpg.d` or
//! `/usr/share/keyrings`, `gpg --dearmor -o FILE`). Each source keeps its
//! `file:line`; `$(lsb_release -cs)` is expanded per build context, the
//! suite of the image the line runs in.

use super::shell::Word;
use super::text::Sink;
use crate::manifest::{AptSource, Context};
use std::collections::HashMap;

/// What one file's commands have said so far about keys and pending lines.
#[derive(Debug, Default, Clone)]
pub struct AptState {
    /// The last URL fetched by curl/wget, and the file it was written to (`-o`).
    last_fetch: Option<(String, Option<String>)>,
    /// File base name -> key URL it was fetched from.
    fetched: HashMap<String, String>,
    /// Keys put into apt's trust so far, in order, with the keyring file when known.
    keys: Vec<(String, Option<String>)>,
    /// An `echo "deb ..."` whose output a following `tee` may write.
    echo: Option<(String, u32)>,
}

fn base(s: &str) -> &str {
    s.rsplit('/').next().unwrap_or(s)
}

/// True for a path apt reads sources from.
fn is_sources_path(p: &str) -> bool {
    p.contains("sources.list")
}

/// True for a path apt (or `signed-by`) reads keys from.
fn is_key_path(p: &str) -> bool {
    p.contains("trusted.gpg") || p.contains("/keyrings/")
}

/// Sees one simple command (program name `prog`, words after wrappers).
pub fn command(prog: &str, w: &[Word], st: &mut AptState, sink: &mut Sink) {
    let echo = st.echo.take();
    match prog {
        "curl" | "wget" => fetch(w, st),
        "apt-key" if w.iter().any(|x| x.text == "add") => {
            let file = w.last().map(|x| x.text.as_str()).unwrap_or("-");
            let url = if file == "-" {
                st.last_fetch.as_ref().map(|(u, _)| u.clone())
            } else {
                st.fetched.get(base(file)).cloned()
            };
            if let Some(u) = url {
                st.keys.push((u, None));
            }
        }
        "gpg" => {
            // `curl URL | gpg --dearmor -o /usr/share/keyrings/x.gpg`
            let out = w
                .windows(2)
                .find(|p| p[0].text == "-o" || p[0].text == "--output")
                .map(|p| p[1].text.clone());
            if let (Some(out), Some((u, _))) = (out, &st.last_fetch) {
                st.fetched.insert(base(&out).to_string(), u.clone());
                if is_key_path(&out) {
                    st.keys.push((u.clone(), Some(out)));
                }
            }
        }
        "mv" | "cp" | "install" => {
            let args: Vec<&str> = w[1..]
                .iter()
                .map(|x| x.text.as_str())
                .filter(|t| !t.starts_with('-'))
                .collect();
            if let [srcs @ .., dest] = args.as_slice()
                && is_key_path(dest)
            {
                for s in srcs {
                    if let Some(u) = st.fetched.get(base(s)) {
                        st.keys
                            .push((u.clone(), Some(format!("{dest}/{}", base(s)))));
                    }
                }
            }
        }
        "add-apt-repository" => {
            if let Some(line) = w[1..].iter().find(|x| !x.text.starts_with('-')) {
                // The command's line, where the build log shows it.
                record(&line.text, w[0].line, st, sink);
            }
        }
        "echo" | "printf" => {
            let words: Vec<&Word> = w[1..]
                .iter()
                .filter(|x| !x.text.starts_with('-') || x.text == "-")
                .collect();
            let Some(first) = words.first() else { return };
            let mut text = Vec::new();
            let mut target = None;
            let mut it = words.iter();
            while let Some(x) = it.next() {
                let t = x.text.as_str();
                if t == ">" || t == ">>" {
                    target = it.next().map(|x| x.text.clone());
                } else if let Some(p) = t.strip_prefix(">>").or_else(|| t.strip_prefix('>')) {
                    target = Some(p.to_string());
                } else {
                    text.push(t);
                }
            }
            let text = text.join(" ");
            if !text.trim_start().starts_with("deb ") {
                return;
            }
            match target {
                Some(t) if is_sources_path(&t) => record(&text, first.line, st, sink),
                Some(_) => {}
                None => st.echo = Some((text, first.line)),
            }
        }
        "tee" => {
            if let Some((text, line)) = echo
                && w[1..].iter().any(|x| is_sources_path(&x.text))
            {
                record(&text, line, st, sink);
            }
        }
        _ => {}
    }
}

fn fetch(w: &[Word], st: &mut AptState) {
    let mut url = None;
    let mut out = None;
    let mut i = 1;
    while i < w.len() {
        let t = w[i].text.as_str();
        if matches!(t, "-o" | "-O" | "--output" | "--output-document") {
            out = w.get(i + 1).map(|x| x.text.clone());
            i += 2;
            continue;
        }
        if t.contains("://") && !t.starts_with('-') {
            url = Some(t.to_string());
        }
        i += 1;
    }
    let Some(url) = url else { return };
    if let Some(o) = &out {
        st.fetched.insert(base(o).to_string(), url.clone());
        if is_key_path(o) {
            st.keys.push((url.clone(), Some(o.clone())));
        }
    }
    st.last_fetch = Some((url, out));
}

/// The parts of a one-line-style `deb` line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DebLine {
    /// Repository root, without a trailing `/`.
    pub url: String,
    /// Distribution.
    pub suite: String,
    /// Components.
    pub components: Vec<String>,
    /// `[arch=...]`.
    pub arch: Option<String>,
    /// `[signed-by=...]`.
    pub signed_by: Option<String>,
}

/// Parses `deb [opts] URL SUITE COMPONENT...`; `None` for anything else
/// (`deb-src` lines, `ppa:` shorthands, lines without a suite).
pub fn parse_deb_line(text: &str) -> Option<DebLine> {
    let rest = text.trim().strip_prefix("deb")?;
    if !rest.starts_with(char::is_whitespace) {
        return None;
    }
    let mut rest = rest.trim_start();
    let mut arch = None;
    let mut signed_by = None;
    if let Some(r) = rest.strip_prefix('[') {
        let end = r.find(']')?;
        for opt in r[..end].split_whitespace() {
            match opt.split_once('=') {
                Some(("arch", v)) => arch = Some(v.to_string()),
                Some(("signed-by", v)) => signed_by = Some(v.to_string()),
                _ => {}
            }
        }
        rest = &r[end + 1..];
    }
    let words = words(rest);
    let mut words = words.into_iter();
    let url = words.next()?.trim_end_matches('/').to_string();
    let suite = words.next()?;
    let components: Vec<String> = words.collect();
    Some(DebLine {
        url,
        suite,
        components,
        arch,
        signed_by,
    })
}

/// Whitespace-separated words, a `$(...)` command substitution kept whole.
fn words(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut depth = 0u32;
    let mut prev = ' ';
    for c in s.chars() {
        match c {
            '(' if prev == '$' || depth > 0 => depth += 1,
            ')' if depth > 0 => depth -= 1,
            _ => {}
        }
        if c.is_whitespace() && depth == 0 {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
        } else {
            cur.push(c);
        }
        prev = c;
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

fn record(text: &str, line: u32, st: &AptState, sink: &mut Sink) {
    let text = text.replace("\\n", "\n");
    for l in text.lines().filter(|l| !l.trim().is_empty()) {
        let Some(d) = parse_deb_line(l) else {
            sink.warn(
                line,
                "apt source line not understood (only `deb [opts] URL SUITE COMPONENT...` is read); not indexed",
                Some(l),
            );
            continue;
        };
        // A `signed-by` keyring names its key; otherwise apt trusts every key added so far.
        let keys: Vec<String> = match &d.signed_by {
            Some(f) => st
                .keys
                .iter()
                .filter(|(_, file)| file.as_deref().is_some_and(|k| base(k) == base(f)))
                .map(|(u, _)| u.clone())
                .collect(),
            None => st.keys.iter().map(|(u, _)| u.clone()).collect(),
        };
        let mut keys = keys;
        keys.dedup();
        sink.apt_sources.push(AptSource {
            url: d.url,
            suite: d.suite,
            components: d.components,
            arch: d.arch,
            signed_by: d.signed_by,
            keys,
            origin: sink.origin(line),
            context: Context::default(),
        });
    }
}

/// `src` placed in build context `ctx`: the context's image, suite and
/// architecture, and `$(lsb_release -cs)` expanded to the image's suite.
pub fn place(src: &AptSource, ctx: &Context) -> AptSource {
    let mut a = src.clone();
    a.context = Context {
        image: ctx.image.clone(),
        suite: ctx.suite.clone(),
        arch: ctx.arch.clone(),
        ..Context::default()
    };
    if let Some(suite) = &ctx.suite {
        let dist = crate::universe::suite::dist_of(suite);
        // `$(lsb_release -cs)`, `-sc`, `-s -c`, `--codename --short`: the codename.
        while let Some(i) = a.suite.find("$(lsb_release")
            && let Some(j) = a.suite[i..].find(')')
        {
            a.suite.replace_range(i..i + j + 1, dist);
        }
        a.suite = a.suite.replace("`lsb_release -cs`", dist);
    }
    a
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crawl::shell::tests::run;

    #[test]
    fn deb_lines_with_options() {
        let d = parse_deb_line(
            "deb [arch=amd64 signed-by=/usr/share/keyrings/d.gpg] https://x/linux/debian/ bullseye stable",
        )
        .unwrap();
        assert_eq!(d.url, "https://x/linux/debian");
        assert_eq!(
            (d.suite.as_str(), d.components),
            ("bullseye", vec!["stable".to_string()])
        );
        assert_eq!(d.arch.as_deref(), Some("amd64"));
        assert_eq!(d.signed_by.as_deref(), Some("/usr/share/keyrings/d.gpg"));
        assert!(parse_deb_line("deb-src http://x y z").is_none());
        assert!(parse_deb_line("ppa:foo/bar").is_none());
    }

    #[test]
    fn add_apt_repository_with_key_piped_to_apt_key() {
        let s = run(
            "curl -fsSL https://download.docker.com/linux/debian/gpg | sudo apt-key add -\n\
             add-apt-repository \\\n  \"deb [arch=amd64] https://download.docker.com/linux/debian \\\n  $(lsb_release -cs) \\\n  stable\"\n",
        );
        assert_eq!(s.apt_sources.len(), 1, "{:?}", s.diags);
        let a = &s.apt_sources[0];
        assert_eq!(a.url, "https://download.docker.com/linux/debian");
        assert_eq!(a.suite, "$(lsb_release -cs)");
        assert_eq!(
            a.keys,
            vec!["https://download.docker.com/linux/debian/gpg".to_string()]
        );
        assert_eq!(a.origin.line, 2);
        let placed = place(
            a,
            &Context {
                image: Some("sonic-slave-bullseye".into()),
                suite: Some("bullseye".into()),
                ..Context::default()
            },
        );
        assert_eq!(placed.suite, "bullseye");
        let other = AptSource {
            suite: "$(lsb_release -s -c)".into(),
            ..a.clone()
        };
        let ctx = Context {
            suite: Some("buster".into()),
            ..Context::default()
        };
        assert_eq!(place(&other, &ctx).suite, "buster");
        assert!(placed.unexpanded().is_none());
    }

    #[test]
    fn echo_into_sources_list_and_tee_and_keyring_files() {
        let s = run(
            "sudo chroot $R curl -o /tmp/docker.asc -fsSL https://k.example/gpg\n\
             sudo chroot $R mv /tmp/docker.asc /etc/apt/trusted.gpg.d/\n\
             echo \"deb http://ftp.debian.org/debian buster-backports main\" >> /etc/apt/sources.list\n\
             echo \"deb [arch=amd64] https://packages.example/repos/x bullseye main\" | sudo tee $R/etc/apt/sources.list.d/x.list\n\
             echo 'deb http://not.example/ a b' > /tmp/other\n",
        );
        let got: Vec<(&str, u32, usize)> = s
            .apt_sources
            .iter()
            .map(|a| (a.url.as_str(), a.origin.line, a.keys.len()))
            .collect();
        assert_eq!(
            got,
            vec![
                ("http://ftp.debian.org/debian", 3, 1),
                ("https://packages.example/repos/x", 4, 1)
            ]
        );
        assert_eq!(
            s.apt_sources[0].keys,
            vec!["https://k.example/gpg".to_string()]
        );
    }

    #[test]
    fn signed_by_takes_only_its_own_keyring() {
        let s = run("curl -fsSL https://a.example/key | apt-key add -\n\
             curl -fsSL https://b.example/key | gpg --dearmor -o /usr/share/keyrings/b.gpg\n\
             echo \"deb [signed-by=/usr/share/keyrings/b.gpg] https://b.example/apt stable main\" > /etc/apt/sources.list.d/b.list\n");
        assert_eq!(
            s.apt_sources[0].keys,
            vec!["https://b.example/key".to_string()]
        );
    }
}
#[cfg(test)]
mod dockerfile_tests {
    use crate::crawl::text::Sink;
    use crate::manifest::Context;

    #[test]
    fn a_dockerfile_run_adds_a_repository() {
        let text = "FROM debian:bullseye\nRUN curl -fsSL https://download.docker.com/linux/debian/gpg | sudo apt-key add -\nRUN add-apt-repository \\\n           \"deb [arch=amd64] https://download.docker.com/linux/debian \\\n           $(lsb_release -cs) \\\n           stable\"\nRUN apt-get update\nRUN echo \"deb http://ftp.debian.org/debian buster-backports main\" >> /etc/apt/sources.list\n";
        let mut s = Sink::new("sonic-slave-bullseye/Dockerfile.j2");
        crate::crawl::dockerfile::parse(text, &Context::default(), &Default::default(), &mut s);
        assert_eq!(s.apt_sources.len(), 2, "{:?}", s.diags);
        assert_eq!(s.apt_sources[0].origin.line, 3);
        assert_eq!(s.apt_sources[1].origin.line, 8);
        assert_eq!(s.apt_sources[0].keys.len(), 1);
    }
}
