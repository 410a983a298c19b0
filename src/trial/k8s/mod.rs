//! The `k8s` builder: each trial is a Kubernetes Job pinned to one eligible
//! node, the candidate reaches the pod as a ConfigMap, the pod's log streams
//! into the trial log and the container's exit code is read with the `git
//! bisect run` contract. A node lost under a build is not a verdict: the trial
//! is re-queued on another node (recorded in the journal as a re-queue) and
//! after K losses it is a skip. Ctrl-C deletes the Jobs this run created; Jobs
//! of a run that was killed are found by their run-id label and removed by
//! the next run.

pub mod cluster;
pub mod config;
pub mod follow;
pub mod preflight;
pub mod spec;

use super::builder::{Builder, Requeue, TrialError, TrialInput, TrialResult, Verdict};
use super::command::log_note;
use cluster::{Cluster, ClusterError, delete_quietly, describe_nodes};
pub use config::K8sConfig;
use follow::{Follow, Outcome};
use kube::api::{DeleteParams, ListParams, PostParams, PropagationPolicy};
use spec::{CANDIDATE_LABEL, JobRequest, MANAGED_BY, MANAGED_BY_LABEL, Placement, RUN_ID_LABEL};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

/// Runs each trial as a Job on the cluster.
pub struct K8sBuilder {
    config: K8sConfig,
    cluster: Cluster,
    run_id: String,
    excluded: BTreeSet<String>,
    in_flight: Mutex<HashMap<String, usize>>,
    sequence: AtomicU64,
    /// How many Jobs of killed runs were removed when this builder started.
    pub reaped: usize,
}

impl std::fmt::Debug for K8sBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("K8sBuilder")
            .field("run_id", &self.run_id)
            .finish()
    }
}

fn start_error(message: impl std::fmt::Display) -> TrialError {
    TrialError::Start {
        builder: "k8s".into(),
        message: message.to_string(),
    }
}

impl K8sBuilder {
    /// Connects, removes what killed runs left, reads the preflight's verdicts
    /// and registers this run; installs the Ctrl-C handler.
    pub fn new(config: K8sConfig) -> Result<K8sBuilder, ClusterError> {
        let _ = super::signal::install();
        let cluster = Cluster::connect(&config.connection)?;
        let mut reaped = 0;
        for id in cluster::dead_runs(&config.state_dir, &cluster.namespace) {
            let n = cluster.rt.block_on(cluster.delete_run(&id))?;
            if n > 0 {
                eprintln!("k8s: removed {n} Job(s) left by killed run {id}");
            }
            reaped += n;
            cluster::unregister_run(&config.state_dir, &id);
        }
        let excluded: BTreeSet<String> = if config.no_preflight {
            BTreeSet::new()
        } else {
            match cluster::read_exclusions(&config.state_dir)? {
                Some(list) => list.into_iter().map(|e| e.node).collect(),
                None => {
                    eprintln!(
                        "k8s: no preflight result in {}; run `sonic-lock preflight --builder k8s` \
                         to find nodes whose pods cannot reach out (or pass --no-preflight)",
                        config.state_dir.display()
                    );
                    BTreeSet::new()
                }
            }
        };
        let run_id = cluster::new_run_id();
        cluster::register_run(&config.state_dir, &run_id, &cluster.namespace)?;
        Ok(K8sBuilder {
            config,
            cluster,
            run_id,
            excluded,
            in_flight: Mutex::new(HashMap::new()),
            sequence: AtomicU64::new(0),
            reaped,
        })
    }

    /// This run's id (the value of the run-id label on its Jobs).
    pub fn run_id(&self) -> &str {
        &self.run_id
    }

    /// The cluster connection.
    pub fn cluster(&self) -> &Cluster {
        &self.cluster
    }

    fn labels(&self, candidate: &str) -> BTreeMap<String, String> {
        BTreeMap::from([
            (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
            (RUN_ID_LABEL.to_string(), self.run_id.clone()),
            (
                CANDIDATE_LABEL.to_string(),
                candidate.chars().take(16).collect(),
            ),
        ])
    }

    /// The node for the next attempt: eligible, not lost by this trial, the
    /// fewest of this run's trials on it; `None` when no node is left.
    async fn place(&self, lost: &[String]) -> Result<Option<Placement>, TrialError> {
        let nodes = self
            .cluster
            .nodes()
            .list(&ListParams::default())
            .await
            .map_err(start_error)?;
        let infos = describe_nodes(&nodes.items, &self.config);
        let in_flight = self
            .in_flight
            .lock()
            .map_err(|_| start_error("lock poisoned"))?;
        let candidates = infos.iter().filter_map(|n| {
            if n.unfit.is_some() || lost.contains(&n.name) {
                return None;
            }
            let unfit = !self.config.no_preflight
                && (self.excluded.contains(&n.name) || n.preflight.as_deref() == Some("unfit"));
            match (unfit, self.config.host_network_fallback) {
                (true, false) => None,
                (unfit, _) => Some((n.name.clone(), unfit)),
            }
        });
        Ok(candidates
            .min_by_key(|(name, _)| (in_flight.get(name).copied().unwrap_or(0), name.clone()))
            .map(|(name, unfit)| Placement {
                node: Some(name),
                host_network: unfit,
            }))
    }

    fn count(&self, node: &str, delta: isize) {
        if let Ok(mut m) = self.in_flight.lock() {
            let e = m.entry(node.to_string()).or_insert(0);
            *e = e.saturating_add_signed(delta);
        }
    }

    async fn delete_job(&self, name: &str, keep: bool) {
        if keep {
            return;
        }
        let dp = DeleteParams {
            propagation_policy: Some(PropagationPolicy::Background),
            ..Default::default()
        };
        let _ = delete_quietly(self.cluster.jobs().delete(name, &dp).await);
    }

    async fn run_async(&self, input: &TrialInput) -> Result<TrialResult, TrialError> {
        let start = Instant::now();
        let seq = self.sequence.fetch_add(1, Ordering::SeqCst);
        let labels = self.labels(&input.candidate_hash);
        let cm_name = format!("sl-{}-{seq}", self.run_id);
        let (cm, items) =
            spec::candidate_config_map(&cm_name, &labels, &input.lockfile, &input.versions_dir)
                .map_err(|e| TrialError::Io {
                    path: e.path,
                    source: e.source,
                })?;
        self.cluster
            .config_maps()
            .create(&PostParams::default(), &cm)
            .await
            .map_err(|e| start_error(format!("ConfigMap {cm_name}: {e}")))?;
        let mut requeues: Vec<Requeue> = Vec::new();
        let mut lost: Vec<String> = Vec::new();
        let result = loop {
            let Some(placement) = self.place(&lost).await? else {
                if requeues.is_empty() {
                    self.delete_config_map(&cm_name).await;
                    return Err(start_error(
                        "no eligible node (check --node-selector, taints, Ready nodes and the preflight's exclusions)",
                    ));
                }
                log_note(
                    &input.log,
                    "no node left to re-queue on: the trial is a skip",
                );
                break self.result(Verdict::Skip, None, start, input, false, requeues);
            };
            let node = placement.node.clone().unwrap_or_default();
            let name = format!("sl-{}-{seq}-{}", self.run_id, requeues.len());
            let job = spec::job(
                &self.config,
                JobRequest {
                    name: &name,
                    labels: &labels,
                    argv: &self.config.argv,
                    env: Vec::new(),
                    candidate: Some((&cm_name, items.clone())),
                    placement: &placement,
                },
            );
            let created = Instant::now();
            if let Err(e) = self
                .cluster
                .jobs()
                .create(&PostParams::default(), &job)
                .await
            {
                self.delete_config_map(&cm_name).await;
                return Err(start_error(format!("Job {name}: {e}")));
            }
            log_note(
                &input.log,
                &format!(
                    "Job {name} on node {node}{}",
                    if placement.host_network {
                        " (hostNetwork)"
                    } else {
                        ""
                    }
                ),
            );
            self.count(&node, 1);
            let follow = Follow {
                cluster: &self.cluster,
                job: &name,
                log: &input.log,
                watch_timeout: self.config.watch_timeout,
                job_deadline: self.config.timeout.map(|t| created + t),
                deadline: self
                    .config
                    .timeout
                    .map(|t| Instant::now() + t + 2 * self.config.watch_timeout),
                interrupted: super::signal::interrupted,
            };
            let outcome = follow.run().await;
            self.count(&node, -1);
            let keep = self.config.ttl_after_finished.is_some();
            match outcome {
                Ok(Outcome::Exited { code, .. }) => {
                    self.delete_job(&name, keep).await;
                    let verdict = Verdict::from_exit_code(code);
                    break self.result(verdict, Some(code), start, input, false, requeues);
                }
                Ok(Outcome::DeadlineExceeded) => {
                    self.delete_job(&name, false).await;
                    log_note(&input.log, "timed out (activeDeadlineSeconds)");
                    break self.result(Verdict::Fail, None, start, input, true, requeues);
                }
                Ok(Outcome::Lost { node: at, reason }) => {
                    self.delete_job(&name, false).await;
                    let at = if at.is_empty() { node.clone() } else { at };
                    log_note(
                        &input.log,
                        &format!("lost on node {at}: {reason}; re-queued on another node"),
                    );
                    lost.push(at.clone());
                    requeues.push(Requeue { node: at, reason });
                    if requeues.len() >= self.config.max_node_losses {
                        log_note(
                            &input.log,
                            &format!("{} node losses: the trial is a skip", requeues.len()),
                        );
                        break self.result(Verdict::Skip, None, start, input, false, requeues);
                    }
                }
                Ok(Outcome::Interrupted) => {
                    self.delete_job(&name, false).await;
                    self.delete_config_map(&cm_name).await;
                    return Err(TrialError::Interrupted);
                }
                Ok(Outcome::Broken(why)) => {
                    self.delete_job(&name, false).await;
                    self.delete_config_map(&cm_name).await;
                    return Err(start_error(format!("Job {name}: {why}")));
                }
                Err(e) => {
                    self.delete_job(&name, false).await;
                    self.delete_config_map(&cm_name).await;
                    return Err(start_error(format!("Job {name}: {e}")));
                }
            }
        };
        self.delete_config_map(&cm_name).await;
        Ok(result)
    }

    async fn delete_config_map(&self, name: &str) {
        let _ = delete_quietly(
            self.cluster
                .config_maps()
                .delete(name, &DeleteParams::default())
                .await,
        );
    }

    fn result(
        &self,
        verdict: Verdict,
        exit_code: Option<i32>,
        start: Instant,
        input: &TrialInput,
        timed_out: bool,
        requeues: Vec<Requeue>,
    ) -> TrialResult {
        TrialResult {
            verdict,
            exit_code,
            duration: start.elapsed(),
            log: input.log.clone(),
            timed_out,
            requeues,
        }
    }
}

impl Builder for K8sBuilder {
    fn describe(&self) -> String {
        format!("k8s: {} {}", self.config.image, self.config.argv.join(" "))
    }

    fn identity(&self) -> String {
        // Where it runs does not change the verdict; what runs does.
        format!(
            "k8s:{}",
            serde_json::to_string(&(&self.config.image, &self.config.argv, &self.config.env))
                .unwrap_or_default()
        )
    }

    fn run(&self, input: &TrialInput) -> Result<TrialResult, TrialError> {
        if super::signal::interrupted() {
            return Err(TrialError::Interrupted);
        }
        std::fs::write(&input.log, b"").map_err(|source| TrialError::Io {
            path: input.log.clone(),
            source,
        })?;
        self.cluster.rt.block_on(self.run_async(input))
    }
}

impl Drop for K8sBuilder {
    fn drop(&mut self) {
        // Finished Jobs kept for their TTL are the TTL controller's; anything
        // else of this run (an interrupted trial's Job) goes now.
        let swept = if self.config.ttl_after_finished.is_none() || super::signal::interrupted() {
            self.cluster
                .rt
                .block_on(self.cluster.delete_run(&self.run_id))
                .is_ok()
        } else {
            true
        };
        if swept {
            cluster::unregister_run(&self.config.state_dir, &self.run_id);
        }
    }
}
