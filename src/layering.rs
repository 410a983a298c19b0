//! The crate's layering, checked: every file of a stage names (`crate::x`)
//! only stages on a lower floor, never a peer or a higher one, so the import
//! graph between stages has no circle and no arrow that runs back up. The
//! table is the one `docs/architecture.md` ("Layering") draws.

use std::path::{Path, PathBuf};

/// Stages from the bottom up; stages on one floor are peers.
const FLOORS: &[&[&str]] = &[
    &["date", "fsio"],
    &["manifest", "platform"],
    &["universe"],
    &["crawl", "source", "lock"],
    &["solve"],
    &["trial"],
    &["bisect"],
    &["pipeline"],
];

fn floor(stage: &str) -> Option<usize> {
    FLOORS.iter().position(|f| f.contains(&stage))
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            rust_files(&p, out);
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
}

/// The stage a file of `src/` belongs to (`src/solve/python.rs` -> `solve`).
fn stage_of(src: &Path, file: &Path) -> Option<String> {
    let rel = file.strip_prefix(src).ok()?;
    let first = rel.components().next()?.as_os_str().to_str()?;
    Some(first.trim_end_matches(".rs").to_string())
}

/// Every `crate::<stage>` a text names.
fn named_stages(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = text;
    while let Some(i) = rest.find("crate::") {
        let after = &rest[i + "crate::".len()..];
        let name: String = after
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '_')
            .collect();
        // `sonic_lock_crate::` or `$crate::` are not this crate's paths.
        let before = rest[..i].chars().next_back();
        if !name.is_empty()
            && !matches!(before, Some(c) if c.is_ascii_alphanumeric() || c == '_' || c == '$')
        {
            out.push(name);
        }
        rest = after;
    }
    out
}

#[test]
fn stages_only_name_lower_floors() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    rust_files(&src, &mut files);
    files.sort();
    let mut wrong = Vec::new();
    let mut seen = 0;
    for f in &files {
        let Some(stage) = stage_of(&src, f) else {
            continue;
        };
        // The binary's front end and the crate root sit above every stage.
        let Some(mine) = floor(&stage) else {
            assert!(
                ["main", "lib", "cli", "layering"].contains(&stage.as_str()),
                "{}: stage `{stage}` is missing from the layering table",
                f.display()
            );
            continue;
        };
        seen += 1;
        let text = std::fs::read_to_string(f).unwrap_or_default();
        for other in named_stages(&text) {
            if other == stage {
                continue;
            }
            match floor(&other) {
                Some(theirs) if theirs < mine => {}
                _ => wrong.push(format!("{}: {stage} names crate::{other}", f.display())),
            }
        }
    }
    assert!(
        seen > 50,
        "only {seen} stage files found under {}",
        src.display()
    );
    assert!(
        wrong.is_empty(),
        "imports against the layering:\n{}",
        wrong.join("\n")
    );
}

#[test]
fn named_stages_reads_paths_not_lookalikes() {
    assert_eq!(
        named_stages("use crate::solve::Nogood; x = $crate::y; my_crate::z; crate::lock::Pin"),
        vec!["solve".to_string(), "lock".to_string()]
    );
}
