//! Builder options shared by every subcommand that builds (lock, bisect, trial):
//! `--builder command -- ARGV`, `--builder docker --image IMG [...] -- ARGV`,
//! `--builder sonic --sonic-checkout DIR --target TARGET`.

use anyhow::{Context, bail};
use sonic_lock::trial::builder::Builder;
use sonic_lock::trial::command::CommandBuilder;
use sonic_lock::trial::docker::{DockerBuilder, DockerConfig, Mount};
use sonic_lock::trial::k8s::K8sBuilder;
use sonic_lock::trial::sonic::{SonicBuilder, SonicConfig};
use std::path::PathBuf;
use std::time::Duration;

/// Which builder judges a candidate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum BuilderKind {
    /// Run ARGV on this machine.
    Command,
    /// Run ARGV in a container of --image.
    Docker,
    /// Build a make target of a sonic-buildimage checkout with the candidate's version files.
    Sonic,
    /// Install each image's pins for real, as cached container layers (apt, then pip).
    Layers,
    /// Run ARGV in a Job of --image on a Kubernetes cluster.
    K8s,
}

/// Builder options, flattened into each building subcommand.
#[derive(Debug, Clone, clap::Args)]
pub struct BuilderArgs {
    /// Builder that judges candidates; without one, nothing is built.
    #[arg(long, value_enum)]
    pub builder: Option<BuilderKind>,
    /// Container image (docker builder).
    #[arg(long)]
    pub image: Option<String>,
    /// Container CLI: docker, podman or a path to either.
    #[arg(long, default_value = "docker")]
    pub container_runtime: String,
    /// Host CA bundle to mount in the container and trust (for an intercepting proxy).
    #[arg(long)]
    pub ca_bundle: Option<PathBuf>,
    /// Give the container network access (off by default).
    #[arg(long)]
    pub network: bool,
    /// The container's network, e.g. `host` to reach services on the host's loopback (implies --network).
    #[arg(long, value_name = "MODE")]
    pub network_mode: Option<String>,
    /// CPU limit of the container (docker --cpus).
    #[arg(long)]
    pub cpus: Option<String>,
    /// Memory limit of the container (docker --memory), e.g. 8g.
    #[arg(long)]
    pub memory: Option<String>,
    /// Wall-clock limit per trial: 90, 90s, 30m or 2h; a timed-out trial fails.
    #[arg(long, value_parser = parse_duration)]
    pub timeout: Option<Duration>,
    /// Extra bind mount HOST:CONTAINER[:ro|:rw] (docker builder; repeatable).
    #[arg(long = "mount")]
    pub mounts: Vec<Mount>,
    /// Resource limit NAME=SOFT:HARD for the container, e.g. nofile=1024:1024
    /// (docker builder; repeatable). Without it podman gets the host's open-file
    /// and process limits, which a root podman without CAP_SYS_RESOURCE needs.
    #[arg(long = "ulimit")]
    pub ulimits: Vec<String>,
    /// Extra environment variable KEY=VALUE for the build (repeatable).
    #[arg(long = "env", value_parser = parse_env)]
    pub env: Vec<(String, String)>,
    /// sonic-buildimage checkout (sonic builder).
    #[arg(long)]
    pub sonic_checkout: Option<PathBuf>,
    /// Make target (sonic builder), e.g. target/sonic-barefoot.bin or target/debs/bullseye/libnl3_3.5.0-1_amd64.deb.
    #[arg(long)]
    pub target: Option<String>,
    /// Extra make argument for the sonic builder, e.g. PLATFORM=barefoot (repeatable).
    #[arg(long = "make-arg")]
    pub make_args: Vec<String>,
    /// URL rewrite FROM=TO applied to the checkout before a sonic build (repeatable).
    #[arg(long = "url-rewrite", value_parser = parse_env)]
    pub url_rewrites: Vec<(String, String)>,
    /// Trials to run at once.
    #[arg(long, default_value_t = 1)]
    pub jobs: usize,
    /// Options of the layers builder.
    #[command(flatten)]
    pub layers: super::layers_args::LayersArgs,
    /// Kubernetes options (k8s builder).
    #[command(flatten)]
    pub k8s: super::k8s_args::K8sArgs,
    /// The build command (command and docker builders), after `--`.
    #[arg(last = true)]
    pub argv: Vec<String>,
}

/// Parses `90`, `90s`, `30m`, `2h` (fractions allowed).
pub fn parse_duration(s: &str) -> Result<Duration, String> {
    let (num, unit) = match s.char_indices().find(|(_, c)| c.is_ascii_alphabetic()) {
        Some((i, _)) => (&s[..i], &s[i..]),
        None => (s, "s"),
    };
    let n: f64 = num
        .trim()
        .parse()
        .map_err(|_| format!("`{s}`: expected a duration like 90s, 30m or 2h"))?;
    let factor = match unit {
        "ms" => 0.001,
        "s" => 1.0,
        "m" => 60.0,
        "h" => 3600.0,
        _ => return Err(format!("`{s}`: unknown unit `{unit}` (ms, s, m, h)")),
    };
    Duration::try_from_secs_f64(n * factor)
        .ok()
        .filter(|d| !d.is_zero())
        .ok_or_else(|| format!("`{s}`: duration must be positive"))
}

/// Parses `KEY=VALUE`.
pub fn parse_env(s: &str) -> Result<(String, String), String> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.to_string(), v.to_string())),
        _ => Err(format!("`{s}`: expected KEY=VALUE")),
    }
}

impl BuilderArgs {
    /// The configured builder, or `None` when `--builder` was not given.
    pub fn build(&self) -> anyhow::Result<Option<Box<dyn Builder>>> {
        let Some(kind) = self.builder else {
            if !self.argv.is_empty() {
                bail!("a build command was given after `--` but no --builder");
            }
            return Ok(None);
        };
        if self.jobs == 0 {
            bail!("--jobs must be at least 1");
        }
        let docker_only = [
            ("--image", self.image.is_some()),
            ("--ca-bundle", self.ca_bundle.is_some()),
            ("--network", self.network),
            ("--network-mode", self.network_mode.is_some()),
            ("--cpus", self.cpus.is_some()),
            ("--memory", self.memory.is_some()),
            ("--mount", !self.mounts.is_empty()),
            ("--ulimit", !self.ulimits.is_empty()),
        ];
        let sonic_only = [
            ("--sonic-checkout", self.sonic_checkout.is_some()),
            ("--target", self.target.is_some()),
            ("--make-arg", !self.make_args.is_empty()),
            ("--url-rewrite", !self.url_rewrites.is_empty()),
        ];
        let refuse = |opts: &[(&str, bool)], kind: &str| -> anyhow::Result<()> {
            if let Some((name, _)) = opts.iter().find(|(_, set)| *set) {
                bail!("{name} does not apply to --builder {kind}");
            }
            Ok(())
        };
        if kind != BuilderKind::Layers {
            self.layers.refuse(&format!("{kind:?}").to_lowercase())?;
        }
        if kind != BuilderKind::K8s
            && let Some(name) = self.k8s.given()
        {
            bail!("{name} applies to --builder k8s only");
        }
        let b: Box<dyn Builder> = match kind {
            BuilderKind::Layers => Box::new(self.layers.build(self)?),
            BuilderKind::K8s => {
                refuse(&docker_only[1..], "k8s")?;
                refuse(&sonic_only, "k8s")?;
                let image = self.image.clone().context("--builder k8s needs --image")?;
                if self.argv.is_empty() {
                    bail!("--builder k8s needs the build command after `--`");
                }
                let config = self
                    .k8s
                    .config(self.timeout, &self.env, &image, self.argv.clone())?;
                Box::new(K8sBuilder::new(config).context("--builder k8s")?)
            }
            BuilderKind::Command => {
                refuse(&docker_only, "command")?;
                refuse(&sonic_only, "command")?;
                if self.argv.is_empty() {
                    bail!("--builder command needs the build command after `--`");
                }
                let mut b = CommandBuilder::new(self.argv.clone()).with_timeout(self.timeout);
                for (k, v) in &self.env {
                    b = b.with_env(k, v);
                }
                Box::new(b)
            }
            BuilderKind::Docker => {
                refuse(&sonic_only, "docker")?;
                let image = self
                    .image
                    .clone()
                    .context("--builder docker needs --image")?;
                if self.argv.is_empty() {
                    bail!("--builder docker needs the build command after `--`");
                }
                let mut c = DockerConfig::new(&image, self.argv.clone());
                c.runtime = self.container_runtime.clone();
                c.ca_bundle = self.ca_bundle.clone();
                c.network = self.network || self.network_mode.is_some();
                c.network_mode = self.network_mode.clone();
                c.cpus = self.cpus.clone();
                c.memory = self.memory.clone();
                c.timeout = self.timeout;
                c.mounts = self.mounts.clone();
                c.env = self.env.clone();
                for u in &self.ulimits {
                    let ok = u.split_once('=').is_some_and(|(name, v)| {
                        !name.is_empty()
                            && name.bytes().all(|b| b.is_ascii_lowercase())
                            && !v.is_empty()
                            && v.split(':').all(|n| n == "-1" || n.parse::<u64>().is_ok())
                    });
                    if !ok {
                        bail!("--ulimit `{u}`: expected NAME=SOFT[:HARD], e.g. nofile=1024:1024");
                    }
                }
                c.ulimits = self.ulimits.clone();
                Box::new(DockerBuilder::new(c))
            }
            BuilderKind::Sonic => {
                refuse(&docker_only[..1], "sonic")?;
                if !self.argv.is_empty() {
                    bail!("--builder sonic runs make itself; drop the command after `--`");
                }
                let checkout = self
                    .sonic_checkout
                    .clone()
                    .context("--builder sonic needs --sonic-checkout DIR")?;
                let target = self
                    .target
                    .clone()
                    .context("--builder sonic needs --target TARGET")?;
                let mut c = SonicConfig::new(&checkout, &target);
                c.make_args = self.make_args.clone();
                c.url_rewrites = self.url_rewrites.clone();
                c.timeout = self.timeout;
                c.env = self.env.clone();
                Box::new(
                    SonicBuilder::new(c)
                        .with_context(|| format!("sonic checkout {}", checkout.display()))?,
                )
            }
        };
        Ok(Some(b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_parse() {
        assert_eq!(parse_duration("90").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("30m").unwrap(), Duration::from_secs(1800));
        assert_eq!(parse_duration("1.5h").unwrap(), Duration::from_secs(5400));
        assert!(parse_duration("0").is_err());
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("x").is_err());
    }

    #[test]
    fn env_parses() {
        assert_eq!(parse_env("A=b=c").unwrap(), ("A".into(), "b=c".into()));
        assert!(parse_env("=x").is_err());
        assert!(parse_env("x").is_err());
    }
}
