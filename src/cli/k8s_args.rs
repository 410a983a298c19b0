//! Options of `--builder k8s` (and of `preflight --builder k8s`): the
//! connection, what the pods run and where.

use anyhow::bail;
use sonic_lock::trial::k8s::K8sConfig;
use sonic_lock::trial::k8s::config::{
    Connection, OptionError, WorkVolume, parse_label, parse_toleration,
};
use std::path::PathBuf;
use std::time::Duration;

fn toleration(s: &str) -> Result<k8s_openapi::api::core::v1::Toleration, OptionError> {
    parse_toleration(s)
}

fn affinity(s: &str) -> Result<(String, Vec<String>), OptionError> {
    let (k, v) = parse_label(s)?;
    Ok((k, v.split(',').map(str::to_string).collect()))
}

/// Kubernetes options, flattened into the builder options.
#[derive(Debug, Clone, clap::Args)]
pub struct K8sArgs {
    /// Kubeconfig file (k8s builder; default $KUBECONFIG or ~/.kube/config).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Kubeconfig context (k8s builder).
    #[arg(long)]
    pub context: Option<String>,
    /// Namespace of the trial Jobs (k8s builder; default: the context's).
    #[arg(long)]
    pub namespace: Option<String>,
    /// Use the pod's service account instead of a kubeconfig (k8s builder run inside the cluster).
    #[arg(long)]
    pub in_cluster: bool,
    /// CPU request of a trial pod, e.g. 4 (k8s builder).
    #[arg(long)]
    pub cpu_request: Option<String>,
    /// CPU limit of a trial pod (k8s builder).
    #[arg(long)]
    pub cpu_limit: Option<String>,
    /// Memory request of a trial pod, e.g. 16Gi (k8s builder).
    #[arg(long)]
    pub memory_request: Option<String>,
    /// Memory limit of a trial pod (k8s builder).
    #[arg(long)]
    pub memory_limit: Option<String>,
    /// Node label KEY=VALUE the nodes must carry, e.g. r2lab/node=true (repeatable).
    #[arg(long = "node-selector", value_parser = parse_label)]
    pub node_selector: Vec<(String, String)>,
    /// Required node affinity KEY=V1[,V2...]: the label takes one of the values (repeatable).
    #[arg(long = "node-affinity", value_parser = affinity)]
    pub node_affinity: Vec<(String, Vec<String>)>,
    /// Toleration KEY[=VALUE][:EFFECT] of the trial pods (repeatable).
    #[arg(long = "toleration", value_parser = toleration)]
    pub tolerations: Vec<k8s_openapi::api::core::v1::Toleration>,
    /// Service account of the trial pods.
    #[arg(long)]
    pub service_account: Option<String>,
    /// Volume of the pod's work directory: emptydir, pvc:CLAIM or hostpath:/DIR.
    #[arg(long, default_value = "emptydir")]
    pub work_volume: WorkVolume,
    /// Leave finished Jobs for this many seconds (ttlSecondsAfterFinished) instead of deleting them.
    #[arg(long)]
    pub ttl_after_finished: Option<i32>,
    /// Node losses after which a trial is a skip (exit 125) rather than re-queued.
    #[arg(long, default_value_t = 3)]
    pub max_node_losses: usize,
    /// Longest single watch request; the builder lists again after it (30s, 5m).
    #[arg(long, value_parser = super::builder_args::parse_duration, default_value = "30s")]
    pub watch_timeout: Duration,
    /// Where the preflight's exclusion list and the registry of runs live.
    #[arg(long, default_value = ".sonic-lock/k8s")]
    pub k8s_state_dir: PathBuf,
    /// Run on every eligible node, ignoring the preflight's verdicts.
    #[arg(long)]
    pub no_preflight: bool,
    /// Run on nodes the preflight found unfit with hostNetwork: true instead of avoiding them.
    #[arg(long)]
    pub host_network_fallback: bool,
}

impl K8sArgs {
    /// The options set that only the k8s builder reads.
    pub fn given(&self) -> Option<&'static str> {
        [
            ("--kubeconfig", self.kubeconfig.is_some()),
            ("--context", self.context.is_some()),
            ("--namespace", self.namespace.is_some()),
            ("--in-cluster", self.in_cluster),
            ("--cpu-request", self.cpu_request.is_some()),
            ("--cpu-limit", self.cpu_limit.is_some()),
            ("--memory-request", self.memory_request.is_some()),
            ("--memory-limit", self.memory_limit.is_some()),
            ("--node-selector", !self.node_selector.is_empty()),
            ("--node-affinity", !self.node_affinity.is_empty()),
            ("--toleration", !self.tolerations.is_empty()),
            ("--service-account", self.service_account.is_some()),
            ("--ttl-after-finished", self.ttl_after_finished.is_some()),
            ("--no-preflight", self.no_preflight),
            ("--host-network-fallback", self.host_network_fallback),
        ]
        .into_iter()
        .find(|(_, set)| *set)
        .map(|(n, _)| n)
    }

    /// The connection alone (the preflight needs no build command).
    pub fn connection(&self) -> Connection {
        Connection {
            kubeconfig: self.kubeconfig.clone(),
            context: self.context.clone(),
            namespace: self.namespace.clone(),
            in_cluster: self.in_cluster,
        }
    }

    /// The builder's configuration for `image` and `argv`.
    pub fn config(
        &self,
        timeout: Option<Duration>,
        env: &[(String, String)],
        image: &str,
        argv: Vec<String>,
    ) -> anyhow::Result<K8sConfig> {
        if self.max_node_losses == 0 {
            bail!("--max-node-losses must be at least 1");
        }
        let mut c = K8sConfig::new(image, argv);
        c.connection = self.connection();
        c.cpu_request = self.cpu_request.clone();
        c.cpu_limit = self.cpu_limit.clone();
        c.memory_request = self.memory_request.clone();
        c.memory_limit = self.memory_limit.clone();
        c.node_selector = self.node_selector.clone();
        c.node_affinity = self.node_affinity.clone();
        c.tolerations = self.tolerations.clone();
        c.service_account = self.service_account.clone();
        c.work_volume = self.work_volume.clone();
        c.timeout = timeout;
        c.ttl_after_finished = self.ttl_after_finished;
        c.env = env.to_vec();
        c.max_node_losses = self.max_node_losses;
        c.watch_timeout = self.watch_timeout;
        c.state_dir = self.k8s_state_dir.clone();
        c.no_preflight = self.no_preflight;
        c.host_network_fallback = self.host_network_fallback;
        Ok(c)
    }
}
