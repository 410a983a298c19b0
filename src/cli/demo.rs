//! `sonic-lock demo`: the whole pipeline on a generated world, offline, in a minute.
//!
//! It creates a sonic-buildimage-shaped repository and loopback servers for its
//! Debian snapshots, PyPI and git/web origins, then runs the real commands
//! (cutoff, crawl, index, solve, lock with trial builds, export, a nightly's
//! versions, diff, bisect) with this same binary, printing each one.

use super::{Global, Status};
use anyhow::{Context, bail};
use sonic_lock::lock::Lock;
use sonic_lock::trial::command::ENV_LOCKFILE;
use sonic_lock::trial::docker::probe;
use sonic_lock_demo::build::{self as world_build, BuildEnv};
use sonic_lock_demo::create::World;
use sonic_lock_demo::lockfile::BuildLock;
use sonic_lock_demo::script::{self, BuilderChoice, paths};
use sonic_lock_demo::world;
use std::io::Write;
use std::path::{Path, PathBuf};

/// Arguments of `sonic-lock demo`.
#[derive(Debug, clap::Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct DemoArgs {
    /// Internal steps of the demo world.
    #[command(subcommand)]
    pub action: Option<DemoAction>,
    /// Keep the world and every artifact in DIR (created if absent; must be empty)
    /// instead of a temporary directory that is removed at the end.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
    /// Builder of the trial builds: a container (docker, else podman) when one works, else processes.
    #[arg(long, value_enum, default_value_t = DemoBuilder::Auto)]
    pub builder: DemoBuilder,
}

/// Which builder the demo's trial builds use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoBuilder {
    /// A container when docker or podman works here, the command builder otherwise.
    Auto,
    /// The command builder.
    Command,
    /// The docker builder with docker, else podman (fails when neither works).
    Docker,
}

/// Internal subcommands of the demo.
#[derive(Debug, clap::Subcommand)]
pub enum DemoAction {
    /// The demo world's build system: builds the candidate in $SONIC_LOCK_LOCKFILE.
    #[command(hide = true)]
    Build {
        /// The world description written by `sonic-lock demo`.
        #[arg(long)]
        world: PathBuf,
    },
    /// Connects to HOST:PORT (run in the build container: does it reach the world?).
    #[command(hide = true)]
    Reach {
        /// The world's server address.
        addr: String,
    },
}

/// Runs `sonic-lock demo`.
pub fn run(args: DemoArgs, global: &Global) -> anyhow::Result<Status> {
    match args.action {
        Some(DemoAction::Build { world }) => return build(&world),
        Some(DemoAction::Reach { addr }) => return reach(&addr),
        None => {}
    }
    let exe = std::env::current_exe().context("cannot locate the sonic-lock binary")?;
    let (tmp, dir) = match &args.keep {
        Some(d) => {
            std::fs::create_dir_all(d).with_context(|| format!("creating {}", d.display()))?;
            if std::fs::read_dir(d)
                .with_context(|| format!("reading {}", d.display()))?
                .next()
                .is_some()
            {
                bail!("--keep {}: the directory is not empty", d.display());
            }
            (None, d.canonicalize()?)
        }
        None => {
            let t = tempfile::Builder::new()
                .prefix("sonic-lock-demo")
                .tempdir()?;
            let p = t.path().to_path_buf();
            (Some(t), p)
        }
    };
    // With --json the narration goes to stderr and stdout carries only the result.
    let mut out: Box<dyn Write> = if global.json {
        Box::new(std::io::stderr())
    } else {
        Box::new(std::io::stdout())
    };
    writeln!(
        out,
        "sonic-lock demo: a generated sonic-buildimage whose Barefoot platform was last updated on 2022-12-06,\n\
         with Debian snapshots, PyPI and git/web origins served on loopback; things moved after the cutoff.\n\
         Working in {}",
        dir.display()
    )?;
    let w = World::create(&dir.join(paths::WORLD))?;
    script::prepare(&dir, &w)?;
    let choice = choose_builder(args.builder, &mut out)?;
    // Host networking shares the daemon's network, not necessarily the demo's.
    let choice = match &choice {
        BuilderChoice::Docker { image, runtime } => {
            let reach = script::container_reaches(runtime, image, &exe, w.server.base());
            let (choice, note) = script::after_reach_check(
                choice.clone(),
                reach,
                args.builder == DemoBuilder::Docker,
            )
            .map_err(|why| anyhow::anyhow!("{why}"))?;
            if let Some(note) = note {
                writeln!(out, "{note}")?;
            }
            choice
        }
        BuilderChoice::Command => choice,
    };
    writeln!(
        out,
        "World served at {}; trial builds use the {} builder.",
        w.server.base(),
        match &choice {
            BuilderChoice::Command => "command".to_string(),
            BuilderChoice::Docker { runtime, .. } => format!("docker ({runtime})"),
        }
    )?;
    for step in script::steps(&dir, &w, &exe, &choice) {
        if let Err(e) = script::run_step(&exe, &dir, &step, &mut out) {
            // Keep what the failing step left behind: its logs are the point now.
            if let Some(t) = tmp {
                let _ = t.keep();
            }
            return Err(anyhow::Error::new(e).context(format!(
                "the demo stopped; everything it wrote is kept in {}",
                dir.display()
            )));
        }
    }
    summary(&dir, global, &mut out)?;
    match tmp {
        Some(t) => {
            writeln!(
                out,
                "\n(removing {}; run with --keep DIR to look around)",
                dir.display()
            )?;
            drop(t);
        }
        None => writeln!(out, "\nEverything is in {}.", dir.display())?,
    }
    Ok(Status::Ok)
}

/// The closing lines: the lock, what the trial builds taught, the export and the bisect verdict.
fn summary(dir: &Path, global: &Global, out: &mut dyn Write) -> anyhow::Result<()> {
    let lock_path = dir
        .join(paths::LOCKFILES)
        .join(format!("{}.lock", world::PLATFORM));
    let lock = Lock::read(&lock_path)?;
    let report_path = dir.join(paths::REPORT).join("report.json");
    let report: serde_json::Value = serde_json::from_slice(
        &std::fs::read(&report_path).with_context(|| report_path.display().to_string())?,
    )
    .with_context(|| report_path.display().to_string())?;
    if global.json {
        return super::print_json(&serde_json::json!({
            "dir": dir,
            "lockfile": lock_path,
            "pins": lock.pins.len(),
            "learned": lock.trials.iter().filter_map(|t| t.detail.clone()).collect::<Vec<_>>(),
            "versions": dir.join(paths::VERSIONS),
            "bisect": report,
        }));
    }
    writeln!(out, "\n== result")?;
    writeln!(
        out,
        "lock: {} ({} pins, proven by a passing build)",
        lock_path.display(),
        lock.pins.len()
    )?;
    for t in &lock.trials {
        if let Some(d) = &t.detail {
            writeln!(out, "  learned from a failed trial build: {d}")?;
        }
    }
    writeln!(
        out,
        "SONiC versions tree: {} (copy into sonic-buildimage's files/build/versions/)",
        dir.join(paths::VERSIONS).display()
    )?;
    writeln!(
        out,
        "bisect report: {} (report.md, report.html, report.json)",
        dir.join(paths::REPORT).display()
    )?;
    let changes = report["changes"].as_array().cloned().unwrap_or_default();
    let sets = report["outcome"]["culprit_sets"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    for set in sets {
        let named: Vec<String> = set["changes"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|i| i.as_u64())
            .filter_map(|i| changes.get(usize::try_from(i).ok()?))
            .filter_map(|c| c["summary"].as_str().map(str::to_string))
            .collect();
        writeln!(
            out,
            "  tonight's build broke on: {}",
            named.join(" together with ")
        )?;
    }
    Ok(())
}

/// The demo's builder: docker when asked or when it works here, else the command builder.
fn choose_builder(kind: DemoBuilder, out: &mut dyn Write) -> anyhow::Result<BuilderChoice> {
    // The docker CLI first, then podman (the docker builder drives both).
    let docker = || -> anyhow::Result<BuilderChoice> {
        let mut why = Vec::new();
        for runtime in ["docker", "podman"] {
            match probe(runtime) {
                Ok(()) => {
                    return Ok(BuilderChoice::Docker {
                        image: script::ensure_image(runtime)?,
                        runtime: runtime.to_string(),
                    });
                }
                Err(e) => why.push(format!("{runtime}: {e}")),
            }
        }
        bail!("no container runtime is usable here ({})", why.join("; "))
    };
    match kind {
        DemoBuilder::Command => Ok(BuilderChoice::Command),
        DemoBuilder::Docker => docker(),
        DemoBuilder::Auto => match docker() {
            Ok(c) => Ok(c),
            Err(e) => {
                writeln!(out, "({e:#}; trial builds run as processes instead)")?;
                Ok(BuilderChoice::Command)
            }
        },
    }
}

/// `sonic-lock demo reach`: succeeds when a connection to `addr` opens within seconds.
fn reach(addr: &str) -> anyhow::Result<Status> {
    use std::net::ToSocketAddrs;
    let timeout = std::time::Duration::from_secs(3);
    let mut last = None;
    for a in addr
        .to_socket_addrs()
        .with_context(|| format!("cannot resolve {addr}"))?
    {
        match std::net::TcpStream::connect_timeout(&a, timeout) {
            Ok(_) => return Ok(Status::Ok),
            Err(e) => last = Some(e),
        }
    }
    match last {
        Some(e) => Err(anyhow::Error::new(e).context(format!("cannot connect to {addr}"))),
        None => bail!("{addr} names no address"),
    }
}

/// `sonic-lock demo build`: the world's build of the candidate lock named by the environment.
fn build(world_json: &Path) -> anyhow::Result<Status> {
    let env: BuildEnv = serde_json::from_slice(
        &std::fs::read(world_json).with_context(|| world_json.display().to_string())?,
    )
    .with_context(|| world_json.display().to_string())?;
    let Some(lockfile) = std::env::var_os(ENV_LOCKFILE) else {
        bail!("{ENV_LOCKFILE} is not set: the demo build runs as a sonic-lock builder");
    };
    let lock = BuildLock::read(Path::new(&lockfile))?;
    let mut log = std::io::stdout();
    let code = world_build::run(&env, &lock, &mut log);
    Ok(match u8::try_from(code) {
        Ok(0) => Status::Ok,
        Ok(c) => Status::Code(c),
        Err(_) => Status::Code(1),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reach_says_whether_the_address_answers() {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = l.local_addr().unwrap().to_string();
        assert!(matches!(reach(&addr), Ok(Status::Ok)));
        drop(l);
        assert!(reach(&addr).is_err());
        assert!(reach("no port").is_err());
    }
}
