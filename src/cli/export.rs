//! `sonic-lock export`: writes a lock in a format the SONiC build (or apt, or pip) consumes.

use super::{Global, Status, print_json};
use anyhow::Context as _;
use sonic_lock::lock::split::{self, ImageGraph, SplitOptions};
use sonic_lock::lock::{Lock, apt_prefs, pip_constraints, rewrite, sonic_versions};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// Output formats of `export`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// A `files/build/versions/` tree (default/, dockers/, build/, host-image/, host-base-image/).
    SonicVersions,
    /// Apt preferences stanzas per image, suite and architecture.
    AptPreferences,
    /// pip constraints files per image, for `PIP_CONSTRAINT`.
    PipConstraints,
    /// The lock as JSON (`lock.json`).
    Json,
    /// Each module's effective set, as `versions_manager.py generate` yields it:
    /// `<module>/<dist>-<arch>/versions-<type>`, and `modules.txt` listing them.
    Effective,
}

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// The lockfile to export.
    #[arg(long)]
    pub lock: PathBuf,
    /// What to write.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Output directory (for `sonic-versions`: the directory that becomes `files/build/versions/`).
    #[arg(long)]
    pub out: PathBuf,
    /// Image parents, one `image parent` a line (`FROM` chains): an image's files
    /// leave out what it inherits unchanged from its parent. SONiC's own
    /// `build-sonic-slave-<dist>` on `sonic-slave-<dist>` and `host-image` on
    /// `host-base-image` are always applied.
    #[arg(long, value_name = "FILE")]
    pub parents: Option<PathBuf>,
    /// Write every pin in the image the lock puts it in, leaving nothing out.
    #[arg(long, conflicts_with = "parents")]
    pub no_split: bool,
    /// Architectures the effective sets are checked and written for.
    #[arg(long = "arch", default_value = "amd64")]
    pub archs: Vec<String>,
    /// Also write the URL rewrites SONiC cannot pin itself: the list to this file and a sed script to `<file>.sed`.
    #[arg(long)]
    pub rewrite_urls: Option<PathBuf>,
}

#[derive(serde::Serialize)]
struct Report {
    format: &'static str,
    out: String,
    files: Vec<String>,
    pins: usize,
    not_representable: Vec<String>,
    removed: Vec<String>,
    inherited: usize,
    restated: usize,
    transient: usize,
    rewrites: usize,
}

/// Runs `export`.
pub fn run(args: ExportArgs, global: &Global) -> anyhow::Result<Status> {
    let lock = Lock::read(&args.lock)?;
    let rewrites = rewrite::rewrites(&lock)
        .with_context(|| format!("{}: URL rewrites", args.lock.display()))?;
    let opts = SplitOptions {
        graph: match &args.parents {
            Some(p) => ImageGraph::read(p)?,
            None => ImageGraph::new(),
        },
        no_split: args.no_split,
        archs: args.archs.clone(),
    };
    let (format, summary) = match args.format {
        Format::SonicVersions => ("sonic-versions", split::export(&lock, &opts, &args.out)?),
        Format::Effective => {
            let (tree, summary, modules) = split::split_tree(&lock, &opts)?;
            let files = split::effective_files(&tree, &modules, &args.archs);
            let written = sonic_versions::write_files(&args.out, &files)?;
            (
                "effective",
                sonic_versions::ExportSummary {
                    files: written,
                    ..summary
                },
            )
        }
        Format::AptPreferences => (
            "apt-preferences",
            write(&args.out, apt_prefs::render(&lock)?)?,
        ),
        Format::PipConstraints => (
            "pip-constraints",
            write(&args.out, pip_constraints::render(&lock)?)?,
        ),
        Format::Json => {
            let mut l = lock.clone();
            l.normalize();
            let mut text = serde_json::to_string_pretty(&l)?;
            text.push('\n');
            let mut files = BTreeMap::new();
            files.insert(PathBuf::from("lock.json"), text);
            ("json", write(&args.out, files)?)
        }
    };
    if let Some(path) = &args.rewrite_urls {
        sonic_lock::fsio::write_atomic(path, rewrite::render_list(&rewrites).as_bytes())
            .with_context(|| format!("writing {}", path.display()))?;
        let mut sed = path.clone().into_os_string();
        sed.push(".sed");
        let sed = PathBuf::from(sed);
        sonic_lock::fsio::write_atomic(&sed, rewrite::render_sed(&rewrites).as_bytes())
            .with_context(|| format!("writing {}", sed.display()))?;
    } else if !rewrites.is_empty() {
        eprintln!(
            "warning: {} URL rewrites are needed for the build to fetch the pinned files; pass --rewrite-urls FILE",
            rewrites.len()
        );
    }
    let report = Report {
        format,
        out: args.out.display().to_string(),
        files: summary.files,
        pins: summary.pins,
        not_representable: summary.not_representable,
        removed: summary.removed,
        inherited: summary.inherited,
        restated: summary.restated,
        transient: summary.transient,
        rewrites: rewrites.len(),
    };
    if global.json {
        print_json(&report)?;
    } else {
        println!(
            "wrote {} files ({} pins) to {} as {}",
            report.files.len(),
            report.pins,
            report.out,
            report.format
        );
        if report.inherited > 0 {
            println!(
                "left out {} pins images inherit unchanged from their parents",
                report.inherited
            );
        }
        if report.restated > 0 {
            println!(
                "restated {} pins at a narrower scope so that SONiC's merge yields them",
                report.restated
            );
        }
        if report.transient > 0 {
            println!(
                "left out {} pins images install while they are built and remove before their end",
                report.transient
            );
        }
        if !report.removed.is_empty() {
            println!("removed {} stale version files", report.removed.len());
        }
        if !report.not_representable.is_empty() {
            println!(
                "{} pins have no SONiC version file (deb-src, go); they are enforced by URL rewrites or go.sum:",
                report.not_representable.len()
            );
            for p in &report.not_representable {
                println!("  {p}");
            }
        }
        if report.rewrites > 0 {
            println!("{} URL rewrites", report.rewrites);
        }
    }
    Ok(Status::Ok)
}

fn write(
    out: &std::path::Path,
    files: BTreeMap<PathBuf, String>,
) -> anyhow::Result<sonic_versions::ExportSummary> {
    let written = sonic_versions::write_files(out, &files)?;
    Ok(sonic_versions::ExportSummary {
        pins: 0,
        files: written,
        ..Default::default()
    })
}
