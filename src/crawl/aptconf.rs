//! apt's configuration an image carries: whether its `apt-get install`s
//! bring in Recommends, and what its `apt-get autoremove` keeps. apt installs
//! Recommends by default; SONiC's docker base images and host image copy an
//! `apt.conf.d` file that turns them off
//! (`COPY ["no_install_recommend_suggest", "/etc/apt/apt.conf.d"]`,
//! `sudo cp files/apt/apt.conf.d/{81norecommends,...} $FILESYSTEM_ROOT/etc/apt/apt.conf.d/`),
//! and the build slaves do not. The host image's `81norecommends` also sets
//! `APT::AutoRemove::RecommendsImportant` and `SuggestsImportant` off, so
//! its autoremove follows only `Depends`.

use super::images::ReadFile;

/// apt's option that decides whether installs bring in Recommends.
pub const INSTALL_RECOMMENDS: &str = "APT::Install-Recommends";
/// apt's option that makes autoremove keep what installed packages recommend.
pub const RECOMMENDS_IMPORTANT: &str = "APT::AutoRemove::RecommendsImportant";
/// apt's option that makes autoremove keep what installed packages suggest.
pub const SUGGESTS_IMPORTANT: &str = "APT::AutoRemove::SuggestsImportant";

/// Whether apt configuration `text` sets `APT::Install-Recommends` off.
pub fn sets_recommends_off(text: &str) -> bool {
    sets_off(text, INSTALL_RECOMMENDS)
}

/// Whether apt configuration `text` sets the boolean `option` off (option
/// names are case-insensitive in apt).
pub fn sets_off(text: &str, option: &str) -> bool {
    let option = option.to_ascii_lowercase();
    text.lines().any(|l| {
        let l = l.trim();
        if l.starts_with("//") || l.starts_with('#') {
            return false;
        }
        let lower = l.to_ascii_lowercase();
        let Some(rest) = lower.find(&option).map(|i| &lower[i + option.len()..]) else {
            return false;
        };
        let value = rest
            .trim_start_matches([' ', '\t', '"', '\''])
            .trim_start_matches(['=', ' ', '"', '\'']);
        value.starts_with("false") || value.starts_with('0') || value.starts_with("no")
    })
}

/// Whether the lines of `text` (a Dockerfile or an image build script, whose
/// relative paths resolve against `dir` or the tree root) turn Recommends off
/// in the image: a copy into `apt.conf.d` of a tree file that sets them off,
/// or a line writing the setting there itself (`echo 'APT::Install-Recommends
/// "false";' > /etc/apt/apt.conf.d/x`).
pub fn recommends_off(text: &str, dir: &str, files: &dyn ReadFile) -> bool {
    option_off(text, dir, files, INSTALL_RECOMMENDS)
}

/// Whether the lines of `text` set apt's boolean `option` off in the image,
/// as [`recommends_off`] reads them.
pub fn option_off(text: &str, dir: &str, files: &dyn ReadFile, option: &str) -> bool {
    text.lines().any(|l| {
        if !l.contains("apt.conf.d") {
            return false;
        }
        if sets_off(l, option) {
            return true;
        }
        copied_files(l).iter().any(|f| {
            let candidates = [format!("{dir}/{f}"), f.clone()];
            candidates
                .iter()
                .filter_map(|p| files.read(p))
                .any(|t| sets_off(&t, option))
        })
    })
}

/// The tree paths a `COPY`/`ADD`/`cp` line names before its destination,
/// with `{a,b}` brace lists expanded.
fn copied_files(line: &str) -> Vec<String> {
    let words: Vec<&str> = line
        .split(|c: char| c.is_whitespace() || c == ',' && !line.contains('{'))
        .map(|w| w.trim_matches(['[', ']', '"', '\'', ',']))
        .filter(|w| !w.is_empty())
        .collect();
    let mut out = Vec::new();
    for w in words {
        if w.contains("apt.conf.d") && w.ends_with('/') || w.starts_with('$') || w.starts_with('-')
        {
            continue;
        }
        brace_expand(w, &mut out);
    }
    out
}

/// The most words one brace expansion yields.
const MAX_EXPANSION: usize = 1024;

/// Bash's brace expansion of `word`, nested lists included
/// (`a/{b,c-{d,e}}` is `a/b a/c-d a/c-e`); a word without a balanced list is
/// itself.
fn brace_expand(word: &str, out: &mut Vec<String>) {
    // A line of lists multiplies out; no apt.conf.d copy names this many files.
    if out.len() >= MAX_EXPANSION {
        return;
    }
    let Some(open) = word.find('{') else {
        out.push(word.to_string());
        return;
    };
    let (mut depth, mut close, mut commas) = (0usize, None, Vec::new());
    for (i, c) in word[open..].char_indices().map(|(i, c)| (i + open, c)) {
        match c {
            '{' => depth += 1,
            '}' => {
                depth -= 1;
                if depth == 0 {
                    close = Some(i);
                    break;
                }
            }
            ',' if depth == 1 => commas.push(i),
            _ => {}
        }
    }
    let Some(close) = close.filter(|_| !commas.is_empty()) else {
        out.push(word.to_string());
        return;
    };
    let (head, tail) = (&word[..open], &word[close + 1..]);
    let mut start = open + 1;
    for end in commas.into_iter().chain([close]) {
        brace_expand(&format!("{head}{}{tail}", &word[start..end]), out);
        start = end + 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeMap;

    struct Tree(BTreeMap<String, String>);
    impl ReadFile for Tree {
        fn read(&self, path: &str) -> Option<String> {
            self.0.get(path).cloned()
        }

        fn glob(&self, pattern: &str) -> Vec<String> {
            let matching = |p: &&String| crate::crawl::tree::glob_match(pattern, p);
            self.0.keys().filter(matching).cloned().collect()
        }
    }

    #[test]
    fn settings_and_copies_that_turn_recommends_off() {
        assert!(sets_recommends_off("APT::Install-Recommends \"false\";\n"));
        assert!(sets_recommends_off("APT::Install-Recommends \"0\";"));
        assert!(sets_off(
            "Apt::AutoRemove::SuggestsImportant \"false\";",
            SUGGESTS_IMPORTANT
        ));
        assert!(!sets_off(
            "APT::AutoRemove::SuggestsImportant \"false\";",
            RECOMMENDS_IMPORTANT
        ));
        assert!(!sets_recommends_off("APT::Install-Recommends \"true\";"));
        assert!(!sets_recommends_off(
            "// APT::Install-Recommends \"false\";"
        ));
        let t = Tree(
            [
                (
                    "dockers/base/no_install_recommend_suggest",
                    "# no\nAPT::Install-Recommends \"false\";\n",
                ),
                (
                    "files/apt/apt.conf.d/81norecommends",
                    "APT::Install-Recommends \"false\";\nAPT::AutoRemove::RecommendsImportant \"false\";\n",
                ),
                ("files/apt/apt.conf.d/apt-clean", "DPkg::Post-Invoke {};\n"),
            ]
            .into_iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect(),
        );
        let docker =
            "FROM debian\nCOPY [\"no_install_recommend_suggest\", \"/etc/apt/apt.conf.d\"]\n";
        assert!(recommends_off(docker, "dockers/base", &t));
        // As build_debian.sh writes it, with a nested list.
        let host = "sudo cp files/apt/apt.conf.d/{81norecommends,apt-{clean,no-languages},no-check-valid-until} $FILESYSTEM_ROOT/etc/apt/apt.conf.d/\n";
        assert!(recommends_off(host, "", &t));
        assert!(option_off(host, "", &t, RECOMMENDS_IMPORTANT));
        assert!(!option_off(
            docker,
            "dockers/base",
            &t,
            RECOMMENDS_IMPORTANT
        ));
        let other = "sudo cp files/apt/apt.conf.d/apt-clean $FILESYSTEM_ROOT/etc/apt/apt.conf.d/\n";
        assert!(!recommends_off(other, "", &t));
        let inline = "RUN echo 'APT::Install-Recommends \"0\";' > /etc/apt/apt.conf.d/99x\n";
        assert!(recommends_off(inline, "d", &t));
        assert!(!recommends_off(
            "FROM debian\nRUN apt-get install -y x\n",
            "d",
            &t
        ));
    }

    #[test]
    fn nested_brace_lists_expand_as_bash_does() {
        let mut out = Vec::new();
        brace_expand("d/{a,b-{c,e},f}.x", &mut out);
        assert_eq!(out, ["d/a.x", "d/b-c.x", "d/b-e.x", "d/f.x"]);
        let mut out = Vec::new();
        brace_expand("d/{a}/{b", &mut out);
        assert_eq!(out, ["d/{a}/{b"]);
        let mut out = Vec::new();
        brace_expand(&"{a,b}".repeat(40), &mut out);
        assert_eq!(out.len(), MAX_EXPANSION);
    }
}
