//! `sonic-lock preflight --builder k8s|docker`: can each build node reach every
//! source the lock needs? Prints a table node x destination, names the failure
//! modes, writes the exclusion list the k8s builder reads (and labels the
//! nodes with `--label-nodes`), and exits 1 when a node is unfit.

use super::k8s_args::K8sArgs;
use super::{Global, Status, print_json};
use anyhow::{Context, bail};
use sonic_lock::lock::Lock;
use sonic_lock::trial::k8s::cluster::{Cluster, write_exclusions};
use sonic_lock::trial::k8s::preflight::{ProbeConfig, destinations, run_docker, run_k8s};
use std::path::PathBuf;

/// Where the probes run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ProbeBuilder {
    /// A pod on every eligible node of the cluster.
    K8s,
    /// A container of the local docker (or podman).
    Docker,
}

/// Arguments of `sonic-lock preflight`.
#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// Where trial builds will run.
    #[arg(long, value_enum)]
    pub builder: ProbeBuilder,
    /// The lock whose sources are checked.
    #[arg(long)]
    pub lock: Option<PathBuf>,
    /// An extra URL to reach (repeatable), e.g. https://github.com/.
    #[arg(long = "dest")]
    pub dests: Vec<String>,
    /// Probe image: a shell plus curl or wget.
    #[arg(long)]
    pub image: String,
    /// Seconds one check may take.
    #[arg(long, default_value_t = 10)]
    pub probe_timeout: u32,
    /// Do not probe from the node's own network (hostNetwork pods not allowed).
    #[arg(long)]
    pub no_host_network: bool,
    /// Label each node sonic-lock.io/preflight=fit|unfit (needs patch on nodes).
    #[arg(long)]
    pub label_nodes: bool,
    /// Container CLI for --builder docker.
    #[arg(long, default_value = "docker")]
    pub container_runtime: String,
    /// Cluster options (--builder k8s).
    #[command(flatten)]
    pub k8s: K8sArgs,
}

/// Runs `sonic-lock preflight`.
pub fn run(args: PreflightArgs, global: &Global) -> anyhow::Result<Status> {
    let mut urls = Vec::new();
    if let Some(path) = &args.lock {
        let lock = Lock::read(path).with_context(|| format!("{}", path.display()))?;
        urls.extend(destinations(&lock));
    }
    urls.extend(args.dests.iter().cloned());
    urls.sort();
    urls.dedup();
    if urls.is_empty() {
        bail!("nothing to check: give --lock FILE or --dest URL");
    }
    let probe = ProbeConfig {
        urls,
        timeout_secs: args.probe_timeout,
        host_network: !args.no_host_network,
        label_nodes: args.label_nodes,
    };
    let report = match args.builder {
        ProbeBuilder::Docker => {
            if let Some(name) = args.k8s.given() {
                bail!("{name} applies to --builder k8s only");
            }
            run_docker(&args.container_runtime, &args.image, &probe)
        }
        ProbeBuilder::K8s => {
            let _ = sonic_lock::trial::signal::install();
            let config = args.k8s.config(None, &[], &args.image, Vec::new())?;
            let cluster = Cluster::connect(&config.connection).context("--builder k8s")?;
            let report = run_k8s(&cluster, &config, &probe)?;
            write_exclusions(&config.state_dir, &report.exclusions())?;
            report
        }
    };
    if global.json {
        print_json(&report)?;
    } else {
        print!("{}", report.table());
        if report.rows.is_empty() {
            println!("no eligible node (check --node-selector, taints and Ready nodes)");
        }
    }
    Ok(if report.all_fit() && !report.rows.is_empty() {
        Status::Ok
    } else {
        Status::Found
    })
}
