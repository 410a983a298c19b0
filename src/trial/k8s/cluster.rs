//! The connection to the cluster (a tokio runtime owned by the builder, so the
//! rest of the crate stays synchronous), the nodes a trial may run on, the
//! preflight's exclusion list, and the registry of runs that finds the Jobs
//! of a run that was killed before it could clean up.

use super::config::{Connection, K8sConfig};
use super::spec::{MANAGED_BY, MANAGED_BY_LABEL, PREFLIGHT_LABEL, RUN_ID_LABEL};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Node, Pod};
use kube::api::{Api, DeleteParams, ListParams, PropagationPolicy};
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// Why the cluster cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The runtime could not be built.
    #[error("tokio runtime: {0}")]
    Runtime(std::io::Error),
    /// The kubeconfig or in-cluster configuration is unusable.
    #[error("{0}")]
    Config(String),
    /// The API server refused or failed a request.
    #[error("Kubernetes API: {0}")]
    Api(#[from] kube::Error),
    /// A state file could not be read or written.
    #[error("{path}: {source}")]
    State {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

/// A client, its runtime and namespace.
pub struct Cluster {
    /// The runtime every request runs on.
    pub rt: tokio::runtime::Runtime,
    /// The API client.
    pub client: kube::Client,
    /// The namespace of Jobs, pods and ConfigMaps.
    pub namespace: String,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Cluster")
            .field("namespace", &self.namespace)
            .finish()
    }
}

async fn client_config(c: &Connection) -> Result<kube::Config, ClusterError> {
    let err = |e: &dyn std::fmt::Display| ClusterError::Config(e.to_string());
    if c.in_cluster {
        let mut cfg = kube::Config::incluster().map_err(|e| err(&e))?;
        if let Some(ns) = &c.namespace {
            cfg.default_namespace = ns.clone();
        }
        return Ok(cfg);
    }
    let options = kube::config::KubeConfigOptions {
        context: c.context.clone(),
        ..Default::default()
    };
    let mut cfg = match &c.kubeconfig {
        Some(path) => {
            let kc = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?;
            kube::Config::from_custom_kubeconfig(kc, &options)
                .await
                .map_err(|e| ClusterError::Config(format!("{}: {e}", path.display())))?
        }
        None => kube::Config::from_kubeconfig(&options)
            .await
            .map_err(|e| err(&e))?,
    };
    if let Some(ns) = &c.namespace {
        cfg.default_namespace = ns.clone();
    }
    Ok(cfg)
}

impl Cluster {
    /// Connects (without a request yet) as `c` says.
    pub fn connect(c: &Connection) -> Result<Cluster, ClusterError> {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .map_err(ClusterError::Runtime)?;
        let (client, namespace) = rt.block_on(async {
            let cfg = client_config(c).await?;
            let ns = cfg.default_namespace.clone();
            let client =
                kube::Client::try_from(cfg).map_err(|e| ClusterError::Config(e.to_string()))?;
            Ok::<_, ClusterError>((client, ns))
        })?;
        Ok(Cluster {
            rt,
            client,
            namespace,
        })
    }

    /// The namespaced Job API.
    pub fn jobs(&self) -> Api<Job> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The namespaced Pod API.
    pub fn pods(&self) -> Api<Pod> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The namespaced ConfigMap API.
    pub fn config_maps(&self) -> Api<ConfigMap> {
        Api::namespaced(self.client.clone(), &self.namespace)
    }

    /// The Node API.
    pub fn nodes(&self) -> Api<Node> {
        Api::all(self.client.clone())
    }

    /// Deletes every Job (with its pods) and ConfigMap labelled with `run_id`;
    /// returns how many Jobs were deleted.
    pub async fn delete_run(&self, run_id: &str) -> Result<usize, kube::Error> {
        let lp = ListParams::default().labels(&format!("{RUN_ID_LABEL}={run_id}"));
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        let jobs = self.jobs().list(&lp).await?;
        for j in &jobs.items {
            if let Some(name) = &j.metadata.name {
                delete_quietly(self.jobs().delete(name, &dp).await)?;
            }
        }
        for cm in self.config_maps().list(&lp).await?.items {
            if let Some(name) = &cm.metadata.name {
                delete_quietly(self.config_maps().delete(name, &dp).await)?;
            }
        }
        Ok(jobs.items.len())
    }
}

/// A delete whose object is already gone succeeded.
pub fn delete_quietly<T>(r: Result<T, kube::Error>) -> Result<(), kube::Error> {
    match r {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(()),
        Err(e) => Err(e),
    }
}

/// What the builder needs to know of a node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// Its name.
    pub name: String,
    /// `Ready` is `True`.
    pub ready: bool,
    /// Why it may not take trials (not ready, cordoned, a taint not tolerated, a missing label).
    pub unfit: Option<String>,
    /// The preflight's label on it, if any.
    pub preflight: Option<String>,
}

/// Whether a node is Ready.
pub fn node_ready(n: &Node) -> bool {
    n.status
        .as_ref()
        .and_then(|s| s.conditions.as_ref())
        .is_some_and(|cs| cs.iter().any(|c| c.type_ == "Ready" && c.status == "True"))
}

/// The nodes, each with why it may not take this configuration's pods.
pub fn describe_nodes(nodes: &[Node], config: &K8sConfig) -> Vec<NodeInfo> {
    let mut out: Vec<NodeInfo> = nodes
        .iter()
        .filter_map(|n| {
            let name = n.metadata.name.clone()?;
            let labels = n.metadata.labels.clone().unwrap_or_default();
            let ready = node_ready(n);
            let spec = n.spec.clone().unwrap_or_default();
            let missing = config
                .node_selector
                .iter()
                .find(|(k, v)| labels.get(k) != Some(v))
                .map(|(k, v)| format!("lacks label {k}={v}"))
                .or_else(|| {
                    config
                        .node_affinity
                        .iter()
                        .find(|(k, vs)| !labels.get(k).is_some_and(|v| vs.contains(v)))
                        .map(|(k, vs)| format!("lacks label {k} in ({})", vs.join(",")))
                });
            let untolerated = spec.taints.iter().flatten().find(|t| {
                (t.effect == "NoSchedule" || t.effect == "NoExecute")
                    && !config.tolerations.iter().any(|tol| {
                        tol.key.as_deref().is_none_or(|k| k == t.key)
                            && tol.effect.as_deref().is_none_or(|e| e == t.effect)
                            && (tol.operator.as_deref() == Some("Exists") || tol.value == t.value)
                    })
            });
            let unfit = if !ready {
                Some("not Ready".to_string())
            } else if spec.unschedulable == Some(true) {
                Some("cordoned".to_string())
            } else if let Some(t) = untolerated {
                Some(format!("taint {}:{} not tolerated", t.key, t.effect))
            } else {
                missing
            };
            Some(NodeInfo {
                name,
                ready,
                unfit,
                preflight: labels.get(PREFLIGHT_LABEL).cloned(),
            })
        })
        .collect();
    out.sort_by(|a, b| a.name.cmp(&b.name));
    out
}

/// A node the preflight found unfit, as written to the exclusion list.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Excluded {
    /// The node.
    pub node: String,
    /// The failure mode, in words.
    pub reason: String,
}

/// The preflight's exclusion list in the state directory.
pub fn exclusion_file(state_dir: &Path) -> PathBuf {
    state_dir.join("excluded-nodes.json")
}

/// Reads the exclusion list; none yet is an empty list.
pub fn read_exclusions(state_dir: &Path) -> Result<Option<Vec<Excluded>>, ClusterError> {
    let path = exclusion_file(state_dir);
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(source) => return Err(ClusterError::State { path, source }),
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| ClusterError::State {
            path,
            source: std::io::Error::new(std::io::ErrorKind::InvalidData, e),
        })
}

/// Writes the exclusion list atomically.
pub fn write_exclusions(state_dir: &Path, list: &[Excluded]) -> Result<(), ClusterError> {
    let path = exclusion_file(state_dir);
    let io = |source| ClusterError::State {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(state_dir).map_err(io)?;
    let mut json = serde_json::to_vec_pretty(list)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    json.push(b'\n');
    crate::fsio::write_atomic(&path, &json).map_err(io)
}

/// A run's entry in the registry: the process that owns its Jobs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct RunEntry {
    host: String,
    pid: u32,
    namespace: String,
}

fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// A new run id: short, a valid label value and DNS label, unique per process start.
pub fn new_run_id() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!("{nanos}-{}-{}", std::process::id(), host_name());
    crate::fsio::sha256_hex(seed.as_bytes())[..10].to_string()
}

/// Records `run_id` as owned by this process.
pub fn register_run(state_dir: &Path, run_id: &str, namespace: &str) -> Result<(), ClusterError> {
    let dir = state_dir.join("runs");
    let path = dir.join(run_id);
    let io = |source| ClusterError::State {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(&dir).map_err(io)?;
    let entry = RunEntry {
        host: host_name(),
        pid: std::process::id(),
        namespace: namespace.into(),
    };
    let json = serde_json::to_vec(&entry)
        .map_err(|e| io(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))?;
    crate::fsio::write_atomic(&path, &json).map_err(io)
}

/// Forgets `run_id` (its Jobs are gone).
pub fn unregister_run(state_dir: &Path, run_id: &str) {
    let _ = std::fs::remove_file(state_dir.join("runs").join(run_id));
}

/// Runs of this state directory whose process on this host is gone, in `namespace`.
pub fn dead_runs(state_dir: &Path, namespace: &str) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(state_dir.join("runs")) else {
        return Vec::new();
    };
    let me = host_name();
    let mut out: Vec<String> = entries
        .flatten()
        .filter_map(|e| {
            let id = e.file_name().to_str()?.to_string();
            let text = std::fs::read_to_string(e.path()).ok()?;
            let entry: RunEntry = serde_json::from_str(&text).ok()?;
            let dead = entry.host == me
                && entry.namespace == namespace
                && entry.pid != std::process::id()
                && !Path::new(&format!("/proc/{}", entry.pid)).exists();
            dead.then_some(id)
        })
        .collect();
    out.sort();
    out
}

/// The label selector of everything this tool created.
pub fn managed_selector() -> String {
    format!("{MANAGED_BY_LABEL}={MANAGED_BY}")
}
