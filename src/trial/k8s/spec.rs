//! The objects a trial creates: the candidate as a ConfigMap and the Job that
//! builds it, pinned to one node. Pure functions of the configuration, so the
//! wire shape is unit-tested without a cluster.

use super::config::{K8sConfig, WorkVolume};
use crate::trial::command::{ENV_CANDIDATE, ENV_LOCKFILE, ENV_VERSIONS_DIR, ENV_WORK_DIR};
use k8s_openapi::ByteString;
use k8s_openapi::api::batch::v1::{Job, JobSpec};
use k8s_openapi::api::core::v1::{
    Affinity, ConfigMap, ConfigMapVolumeSource, Container, EmptyDirVolumeSource, EnvVar,
    HostPathVolumeSource, KeyToPath, NodeAffinity, NodeSelector, NodeSelectorRequirement,
    NodeSelectorTerm, PersistentVolumeClaimVolumeSource, PodSpec, PodTemplateSpec,
    ResourceRequirements, Volume, VolumeMount,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use std::collections::BTreeMap;
use std::path::Path;

/// Label naming the tool that created an object.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY: &str = "sonic-lock";
/// Label carrying the id of the run that created an object (orphan removal finds them by it).
pub const RUN_ID_LABEL: &str = "sonic-lock.io/run-id";
/// Label carrying the first 16 hex digits of the candidate hash.
pub const CANDIDATE_LABEL: &str = "sonic-lock.io/candidate";
/// Label the Job controller puts on a Job's pods.
pub const JOB_NAME_LABEL: &str = "job-name";
/// Node label the preflight sets: `unfit` on nodes whose pods cannot reach a source.
pub const PREFLIGHT_LABEL: &str = "sonic-lock.io/preflight";
/// Where the candidate ConfigMap is mounted in the pod.
pub const POD_CANDIDATE_DIR: &str = "/sonic-lock/candidate";
/// The pod's work directory (the volume of `--work-volume`).
pub const POD_WORK_DIR: &str = "/sonic-lock/work";
/// Name of the build container.
pub const CONTAINER: &str = "build";

/// Reading the candidate from disk failed.
#[derive(Debug, thiserror::Error)]
#[error("{path}: {source}")]
pub struct CandidateError {
    /// The file or directory.
    pub path: std::path::PathBuf,
    /// Why.
    pub source: std::io::Error,
}

fn files_under(dir: &Path, out: &mut Vec<std::path::PathBuf>) -> Result<(), CandidateError> {
    let err = |source| CandidateError {
        path: dir.to_path_buf(),
        source,
    };
    let mut entries: Vec<_> = std::fs::read_dir(dir)
        .map_err(err)?
        .collect::<Result<_, _>>()
        .map_err(err)?;
    entries.sort_by_key(|e| e.file_name());
    for e in entries {
        let p = e.path();
        if p.is_dir() {
            files_under(&p, out)?;
        } else {
            out.push(p);
        }
    }
    Ok(())
}

/// The candidate (lockfile and versions tree) as a ConfigMap, with the volume
/// items that lay it out as `candidate.lock` and `versions/...` in the pod.
/// Keys are `f<n>` because a key cannot hold a `/`.
pub fn candidate_config_map(
    name: &str,
    labels: &BTreeMap<String, String>,
    lockfile: &Path,
    versions_dir: &Path,
) -> Result<(ConfigMap, Vec<KeyToPath>), CandidateError> {
    let mut files: Vec<(std::path::PathBuf, String)> = Vec::new();
    if lockfile.is_file() {
        files.push((lockfile.to_path_buf(), "candidate.lock".into()));
    }
    let mut tree = Vec::new();
    if versions_dir.is_dir() {
        files_under(versions_dir, &mut tree)?;
    }
    for f in tree {
        let rel = f.strip_prefix(versions_dir).unwrap_or(&f);
        files.push((f.clone(), format!("versions/{}", rel.display())));
    }
    let mut data = BTreeMap::new();
    let mut binary = BTreeMap::new();
    let mut items = Vec::new();
    for (i, (file, path)) in files.into_iter().enumerate() {
        let bytes = std::fs::read(&file).map_err(|source| CandidateError {
            path: file.clone(),
            source,
        })?;
        let key = format!("f{i}");
        match String::from_utf8(bytes) {
            Ok(text) => {
                data.insert(key.clone(), text);
            }
            Err(e) => {
                binary.insert(key.clone(), ByteString(e.into_bytes()));
            }
        }
        items.push(KeyToPath {
            key,
            path,
            mode: None,
        });
    }
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.into()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        data: Some(data),
        binary_data: (!binary.is_empty()).then_some(binary),
        ..Default::default()
    };
    Ok((cm, items))
}

/// Where one Job runs and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Placement {
    /// The node the pod is pinned to (through required node affinity on `metadata.name`).
    pub node: Option<String>,
    /// Run in the node's network namespace (`--host-network-fallback` on an unfit node).
    pub host_network: bool,
}

fn quantities(cpu: &Option<String>, memory: &Option<String>) -> Option<BTreeMap<String, Quantity>> {
    let mut m = BTreeMap::new();
    if let Some(c) = cpu {
        m.insert("cpu".to_string(), Quantity(c.clone()));
    }
    if let Some(mem) = memory {
        m.insert("memory".to_string(), Quantity(mem.clone()));
    }
    (!m.is_empty()).then_some(m)
}

fn affinity(config: &K8sConfig, placement: &Placement) -> Option<Affinity> {
    let match_expressions: Vec<NodeSelectorRequirement> = config
        .node_affinity
        .iter()
        .map(|(key, values)| NodeSelectorRequirement {
            key: key.clone(),
            operator: "In".into(),
            values: Some(values.clone()),
        })
        .collect();
    let match_fields: Vec<NodeSelectorRequirement> = placement
        .node
        .iter()
        .map(|n| NodeSelectorRequirement {
            key: "metadata.name".into(),
            operator: "In".into(),
            values: Some(vec![n.clone()]),
        })
        .collect();
    if match_expressions.is_empty() && match_fields.is_empty() {
        return None;
    }
    Some(Affinity {
        node_affinity: Some(NodeAffinity {
            required_during_scheduling_ignored_during_execution: Some(NodeSelector {
                node_selector_terms: vec![NodeSelectorTerm {
                    match_expressions: (!match_expressions.is_empty()).then_some(match_expressions),
                    match_fields: (!match_fields.is_empty()).then_some(match_fields),
                }],
            }),
            ..Default::default()
        }),
        ..Default::default()
    })
}

/// What one Job runs: its command, environment and the candidate volume.
pub struct JobRequest<'a> {
    /// Job (and ConfigMap) name.
    pub name: &'a str,
    /// Labels for the Job and its pods.
    pub labels: &'a BTreeMap<String, String>,
    /// The command of the container.
    pub argv: &'a [String],
    /// Environment of the container (besides the candidate variables).
    pub env: Vec<(String, String)>,
    /// The candidate ConfigMap and its items; `None` for a probe.
    pub candidate: Option<(&'a str, Vec<KeyToPath>)>,
    /// Where it runs.
    pub placement: &'a Placement,
}

/// The Job of one trial (or probe): one pod, never restarted, never retried by
/// the Job controller (a re-queue is this builder's decision, on another node).
pub fn job(config: &K8sConfig, req: JobRequest<'_>) -> Job {
    let mut env: Vec<EnvVar> = Vec::new();
    let mut mounts = vec![VolumeMount {
        name: "work".into(),
        mount_path: POD_WORK_DIR.into(),
        sub_path: matches!(config.work_volume, WorkVolume::Pvc(_)).then(|| req.name.to_string()),
        ..Default::default()
    }];
    let work = match &config.work_volume {
        WorkVolume::EmptyDir => Volume {
            name: "work".into(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
        WorkVolume::Pvc(claim) => Volume {
            name: "work".into(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.clone(),
                read_only: None,
            }),
            ..Default::default()
        },
        WorkVolume::HostPath(path) => Volume {
            name: "work".into(),
            host_path: Some(HostPathVolumeSource {
                path: path.clone(),
                type_: Some("DirectoryOrCreate".into()),
            }),
            ..Default::default()
        },
    };
    let mut volumes = vec![work];
    let mut var = |k: &str, v: String| {
        env.push(EnvVar {
            name: k.into(),
            value: Some(v),
            value_from: None,
        })
    };
    var(ENV_WORK_DIR, POD_WORK_DIR.into());
    if let Some((cm, items)) = req.candidate {
        if let Some(hash) = req.labels.get(CANDIDATE_LABEL) {
            var(ENV_CANDIDATE, hash.clone());
        }
        var(ENV_LOCKFILE, format!("{POD_CANDIDATE_DIR}/candidate.lock"));
        var(ENV_VERSIONS_DIR, format!("{POD_CANDIDATE_DIR}/versions"));
        mounts.push(VolumeMount {
            name: "candidate".into(),
            mount_path: POD_CANDIDATE_DIR.into(),
            read_only: Some(true),
            ..Default::default()
        });
        volumes.push(Volume {
            name: "candidate".into(),
            config_map: Some(ConfigMapVolumeSource {
                name: cm.into(),
                items: Some(items),
                ..Default::default()
            }),
            ..Default::default()
        });
    }
    for (k, v) in config.env.iter().chain(req.env.iter()) {
        var(k, v.clone());
    }
    let resources = ResourceRequirements {
        requests: quantities(&config.cpu_request, &config.memory_request),
        limits: quantities(&config.cpu_limit, &config.memory_limit),
        ..Default::default()
    };
    let node_selector: BTreeMap<String, String> = config.node_selector.iter().cloned().collect();
    let pod = PodSpec {
        restart_policy: Some("Never".into()),
        service_account_name: config.service_account.clone(),
        node_selector: (!node_selector.is_empty()).then_some(node_selector),
        affinity: affinity(config, req.placement),
        tolerations: (!config.tolerations.is_empty()).then(|| config.tolerations.clone()),
        host_network: req.placement.host_network.then_some(true),
        dns_policy: req
            .placement
            .host_network
            .then(|| "ClusterFirstWithHostNet".to_string()),
        containers: vec![Container {
            name: CONTAINER.into(),
            image: Some(config.image.clone()),
            command: Some(req.argv.to_vec()),
            working_dir: Some(POD_WORK_DIR.into()),
            env: Some(env),
            resources: Some(resources),
            volume_mounts: Some(mounts),
            ..Default::default()
        }],
        volumes: Some(volumes),
        ..Default::default()
    };
    Job {
        metadata: ObjectMeta {
            name: Some(req.name.into()),
            labels: Some(req.labels.clone()),
            ..Default::default()
        },
        spec: Some(JobSpec {
            backoff_limit: Some(0),
            active_deadline_seconds: config.timeout.map(|t| {
                i64::try_from(t.as_secs() + u64::from(t.subsec_nanos() > 0))
                    .unwrap_or(i64::MAX)
                    .max(1)
            }),
            ttl_seconds_after_finished: config.ttl_after_finished,
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(req.labels.clone()),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn job_pins_node_and_carries_the_candidate() {
        let d = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(d.path().join("v/default")).unwrap();
        std::fs::write(d.path().join("v/default/versions-py3"), "lxml==4.9.1\n").unwrap();
        std::fs::write(d.path().join("c.lock"), "x").unwrap();
        let labels = BTreeMap::from([(CANDIDATE_LABEL.to_string(), "abc".to_string())]);
        let (cm, items) =
            candidate_config_map("cm", &labels, &d.path().join("c.lock"), &d.path().join("v"))
                .unwrap();
        assert_eq!(items[0].path, "candidate.lock");
        assert_eq!(items[1].path, "versions/default/versions-py3");
        assert_eq!(cm.data.unwrap()["f1"], "lxml==4.9.1\n");
        let mut config = K8sConfig::new("img", vec!["make".into()]);
        config.timeout = Some(std::time::Duration::from_millis(1500));
        config.node_selector = vec![("r2lab/node".into(), "true".into())];
        let placement = Placement {
            node: Some("n1".into()),
            host_network: true,
        };
        let j = job(
            &config,
            JobRequest {
                name: "j",
                labels: &labels,
                argv: &config.argv,
                env: vec![],
                candidate: Some(("cm", items)),
                placement: &placement,
            },
        );
        let v = serde_json::to_value(&j).unwrap();
        assert_eq!(v["spec"]["activeDeadlineSeconds"], 2);
        assert_eq!(v["spec"]["backoffLimit"], 0);
        let pod = &v["spec"]["template"]["spec"];
        assert_eq!(pod["hostNetwork"], true);
        assert_eq!(pod["nodeSelector"]["r2lab/node"], "true");
        assert_eq!(
            pod["affinity"]["nodeAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"]["nodeSelectorTerms"]
                [0]["matchFields"][0]["values"][0],
            "n1"
        );
        assert_eq!(pod["volumes"][1]["configMap"]["name"], "cm");
    }
}
