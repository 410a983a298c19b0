//! Settings of the Kubernetes builder and the parsers of their command-line spellings.

use k8s_openapi::api::core::v1::Toleration;
use std::path::PathBuf;
use std::time::Duration;

/// The volume holding the pod's work directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WorkVolume {
    /// A fresh `emptyDir` per pod.
    EmptyDir,
    /// A PersistentVolumeClaim; each Job works in its own sub-path.
    Pvc(String),
    /// A directory of the node.
    HostPath(String),
}

/// A spelling of an option that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{value}`: {expected}")]
pub struct OptionError {
    /// What was given.
    pub value: String,
    /// What was expected.
    pub expected: &'static str,
}

impl std::str::FromStr for WorkVolume {
    type Err = OptionError;

    /// Parses `emptydir`, `pvc:CLAIM` or `hostpath:/DIR`.
    fn from_str(s: &str) -> Result<WorkVolume, OptionError> {
        let err = || OptionError {
            value: s.into(),
            expected: "expected emptydir, pvc:CLAIM or hostpath:/ABSOLUTE/DIR",
        };
        match s.split_once(':') {
            None if s.eq_ignore_ascii_case("emptydir") => Ok(WorkVolume::EmptyDir),
            Some(("pvc", c)) if !c.is_empty() => Ok(WorkVolume::Pvc(c.into())),
            Some(("hostpath", p)) if p.starts_with('/') => Ok(WorkVolume::HostPath(p.into())),
            _ => Err(err()),
        }
    }
}

/// Parses a toleration: `KEY[=VALUE][:EFFECT]` (no value: operator `Exists`;
/// no effect: every effect).
pub fn parse_toleration(s: &str) -> Result<Toleration, OptionError> {
    let (kv, effect) = match s.rsplit_once(':') {
        Some((kv, e)) => (kv, Some(e)),
        None => (s, None),
    };
    if let Some(e) = effect
        && !["NoSchedule", "PreferNoSchedule", "NoExecute"].contains(&e)
    {
        return Err(OptionError {
            value: s.into(),
            expected: "effect must be NoSchedule, PreferNoSchedule or NoExecute",
        });
    }
    let (key, value) = match kv.split_once('=') {
        Some((k, v)) => (k, Some(v.to_string())),
        None => (kv, None),
    };
    if key.is_empty() {
        return Err(OptionError {
            value: s.into(),
            expected: "expected KEY[=VALUE][:EFFECT]",
        });
    }
    Ok(Toleration {
        key: Some(key.into()),
        operator: Some(if value.is_some() { "Equal" } else { "Exists" }.into()),
        value,
        effect: effect.map(str::to_string),
        toleration_seconds: None,
    })
}

/// Parses `KEY=VALUE` (a node selector) or `KEY=V1,V2` (a node affinity term).
pub fn parse_label(s: &str) -> Result<(String, String), OptionError> {
    match s.split_once('=') {
        Some((k, v)) if !k.is_empty() => Ok((k.into(), v.into())),
        _ => Err(OptionError {
            value: s.into(),
            expected: "expected KEY=VALUE",
        }),
    }
}

/// How to reach the API server.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Connection {
    /// A kubeconfig file; `$KUBECONFIG` or `~/.kube/config` when unset.
    pub kubeconfig: Option<PathBuf>,
    /// The kubeconfig context; its current context when unset.
    pub context: Option<String>,
    /// The namespace; the context's (or `default`) when unset.
    pub namespace: Option<String>,
    /// Use the pod's service account instead of a kubeconfig.
    pub in_cluster: bool,
}

/// Settings of the Kubernetes builder.
#[derive(Debug, Clone, PartialEq)]
pub struct K8sConfig {
    /// How to reach the cluster.
    pub connection: Connection,
    /// The build image.
    pub image: String,
    /// The build command (the container's `command`).
    pub argv: Vec<String>,
    /// CPU request, e.g. `4`.
    pub cpu_request: Option<String>,
    /// CPU limit.
    pub cpu_limit: Option<String>,
    /// Memory request, e.g. `16Gi`.
    pub memory_request: Option<String>,
    /// Memory limit.
    pub memory_limit: Option<String>,
    /// Node labels the nodes must carry (`r2lab/node=true`).
    pub node_selector: Vec<(String, String)>,
    /// Required node affinity: label key and the values it may take.
    pub node_affinity: Vec<(String, Vec<String>)>,
    /// Tolerations of the pods.
    pub tolerations: Vec<Toleration>,
    /// Service account of the pods.
    pub service_account: Option<String>,
    /// The work directory's volume.
    pub work_volume: WorkVolume,
    /// Wall-clock limit of a trial (`activeDeadlineSeconds`).
    pub timeout: Option<Duration>,
    /// `ttlSecondsAfterFinished`: a finished Job is left for the TTL controller
    /// (to be looked at) instead of being deleted at once.
    pub ttl_after_finished: Option<i32>,
    /// Extra environment of the build.
    pub env: Vec<(String, String)>,
    /// Node losses after which a trial is a skip.
    pub max_node_losses: usize,
    /// How long one watch request may last before the builder lists again.
    pub watch_timeout: Duration,
    /// Where the preflight's exclusion list and the run registry live.
    pub state_dir: PathBuf,
    /// Ignore the preflight's verdicts.
    pub no_preflight: bool,
    /// Run on nodes the preflight found unfit, with `hostNetwork: true`.
    pub host_network_fallback: bool,
}

impl K8sConfig {
    /// Running `argv` in `image` with the default connection and no constraints.
    pub fn new(image: &str, argv: Vec<String>) -> K8sConfig {
        K8sConfig {
            connection: Connection::default(),
            image: image.into(),
            argv,
            cpu_request: None,
            cpu_limit: None,
            memory_request: None,
            memory_limit: None,
            node_selector: Vec::new(),
            node_affinity: Vec::new(),
            tolerations: Vec::new(),
            service_account: None,
            work_volume: WorkVolume::EmptyDir,
            timeout: None,
            ttl_after_finished: None,
            env: Vec::new(),
            max_node_losses: 3,
            watch_timeout: Duration::from_secs(30),
            state_dir: PathBuf::from(".sonic-lock/k8s"),
            no_preflight: false,
            host_network_fallback: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_parse() {
        assert_eq!("emptydir".parse::<WorkVolume>(), Ok(WorkVolume::EmptyDir));
        assert_eq!(
            "pvc:cache".parse::<WorkVolume>(),
            Ok(WorkVolume::Pvc("cache".into()))
        );
        assert!("hostpath:rel".parse::<WorkVolume>().is_err());
        let t = parse_toleration("r2lab/node=true:NoSchedule").unwrap();
        assert_eq!(t.operator.as_deref(), Some("Equal"));
        assert_eq!(t.effect.as_deref(), Some("NoSchedule"));
        let t = parse_toleration("dedicated").unwrap();
        assert_eq!(t.operator.as_deref(), Some("Exists"));
        assert!(parse_toleration("k:Sometimes").is_err());
        assert!(parse_label("=x").is_err());
    }
}
