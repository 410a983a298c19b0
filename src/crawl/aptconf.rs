//! apt's configuration an image carries: whether its `apt-get install`s
//! bring in Recommends. apt installs them by default; SONiC's docker base
//! images and host image copy an `apt.conf.d` file that turns them off
//! (`COPY ["no_install_recommend_suggest", "/etc/apt/apt.conf.d"]`,
//! `sudo cp files/apt/apt.conf.d/{81norecommends,...} $FILESYSTEM_ROOT/etc/apt/apt.conf.d/`),
//! and the build slaves do not.

use super::images::ReadFile;

/// Whether apt configuration `text` sets `APT::Install-Recommends` off.
pub fn sets_recommends_off(text: &str) -> bool {
    text.lines().any(|l| {
        let l = l.trim();
        if l.starts_with("//") || l.starts_with('#') {
            return false;
        }
        let Some(rest) = l
            .find("APT::Install-Recommends")
            .map(|i| &l[i + "APT::Install-Recommends".len()..])
        else {
            return false;
        };
        let value = rest
            .trim_start_matches([' ', '\t', '"', '\''])
            .trim_start_matches(['=', ' ', '"', '\''])
            .to_ascii_lowercase();
        value.starts_with("false") || value.starts_with('0') || value.starts_with("no")
    })
}

/// Whether the lines of `text` (a Dockerfile or an image build script, whose
/// relative paths resolve against `dir` or the tree root) turn Recommends off
/// in the image: a copy into `apt.conf.d` of a tree file that sets them off,
/// or a line writing the setting there itself (`echo 'APT::Install-Recommends
/// "false";' > /etc/apt/apt.conf.d/x`).
pub fn recommends_off(text: &str, dir: &str, files: &dyn ReadFile) -> bool {
    text.lines().any(|l| {
        if !l.contains("apt.conf.d") {
            return false;
        }
        if sets_recommends_off(l) {
            return true;
        }
        copied_files(l).iter().any(|f| {
            let candidates = [format!("{dir}/{f}"), f.clone()];
            candidates
                .iter()
                .filter_map(|p| files.read(p))
                .any(|t| sets_recommends_off(&t))
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
        match (w.find('{'), w.find('}')) {
            (Some(a), Some(b)) if a < b => {
                let (head, tail) = (&w[..a], &w[b + 1..]);
                for alt in w[a + 1..b].split(',') {
                    out.push(format!("{head}{alt}{tail}"));
                }
            }
            _ => out.push(w.to_string()),
        }
    }
    out
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
    }

    #[test]
    fn settings_and_copies_that_turn_recommends_off() {
        assert!(sets_recommends_off("APT::Install-Recommends \"false\";\n"));
        assert!(sets_recommends_off("APT::Install-Recommends \"0\";"));
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
                    "APT::Install-Recommends \"false\";\n",
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
        let host = "sudo cp files/apt/apt.conf.d/{81norecommends,apt-clean} $FILESYSTEM_ROOT/etc/apt/apt.conf.d/\n";
        assert!(recommends_off(host, "", &t));
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
}
