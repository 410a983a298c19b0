//! Following one Job's pod to its end: list, then watch from the list's
//! resource version with a server-side timeout, then list again, so a watch
//! that stalls or ends (a kept-alive connection dropped, a 410 Gone) never
//! stalls the trial. Each pass also reads the pod's node, because a node that
//! vanished may leave its pod `Running` for minutes. The pod's log streams
//! into the trial log as it runs.

use super::cluster::{Cluster, node_ready};
use super::spec::{CONTAINER, JOB_NAME_LABEL};
use futures::{AsyncBufReadExt, StreamExt};
use k8s_openapi::api::core::v1::Pod;
use kube::api::{ListParams, LogParams, WatchEvent, WatchParams};
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// How a pod ended, as far as the trial is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The build container exited with `code` on `node`.
    Exited {
        /// The node.
        node: String,
        /// The exit code.
        code: i32,
    },
    /// The machine was lost under the pod: not a verdict on the candidate.
    Lost {
        /// The node (empty when the pod was never scheduled).
        node: String,
        /// What happened.
        reason: String,
    },
    /// `activeDeadlineSeconds` (or the builder's own backstop) ran out.
    DeadlineExceeded,
    /// The pod can never start (image cannot be pulled, bad configuration).
    Broken(String),
    /// Ctrl-C.
    Interrupted,
}

/// Pod `status.reason` values that mean the node, not the build, ended the pod.
const LOSS_REASONS: [&str; 6] = [
    "Evicted",
    "NodeLost",
    "Preempting",
    "Shutdown",
    "Terminated",
    "NodeShutdown",
];

/// Container waiting reasons that never resolve by waiting.
const BROKEN_REASONS: [&str; 5] = [
    "ErrImagePull",
    "ImagePullBackOff",
    "InvalidImageName",
    "CreateContainerConfigError",
    "CreateContainerError",
];

/// What one look at the pod says, or `None` to keep waiting.
pub fn classify(p: &Pod) -> Option<Outcome> {
    let node = p
        .spec
        .as_ref()
        .and_then(|s| s.node_name.clone())
        .unwrap_or_default();
    let status = p.status.clone().unwrap_or_default();
    if let Some(c) = status
        .conditions
        .iter()
        .flatten()
        .find(|c| c.type_ == "DisruptionTarget" && c.status == "True")
    {
        return Some(Outcome::Lost {
            node,
            reason: format!(
                "DisruptionTarget: {}",
                c.reason.clone().unwrap_or_else(|| "pod disrupted".into())
            ),
        });
    }
    let reason = status.reason.clone().unwrap_or_default();
    if reason == "DeadlineExceeded" {
        return Some(Outcome::DeadlineExceeded);
    }
    if LOSS_REASONS.contains(&reason.as_str()) {
        return Some(Outcome::Lost {
            node,
            reason: format!("pod {reason}"),
        });
    }
    let container = status
        .container_statuses
        .iter()
        .flatten()
        .find(|c| c.name == CONTAINER);
    let state = container.and_then(|c| c.state.clone()).unwrap_or_default();
    if let Some(t) = &state.terminated
        && matches!(status.phase.as_deref(), Some("Succeeded" | "Failed"))
    {
        return Some(Outcome::Exited {
            node,
            code: t.exit_code,
        });
    }
    if let Some(w) = &state.waiting
        && let Some(r) = &w.reason
        && BROKEN_REASONS.contains(&r.as_str())
    {
        return Some(Outcome::Broken(format!(
            "{r}: {}",
            w.message.clone().unwrap_or_default()
        )));
    }
    if matches!(status.phase.as_deref(), Some("Failed")) {
        return Some(Outcome::Lost {
            node,
            reason: format!("pod failed before its container ran ({reason})"),
        });
    }
    None
}

fn pod_node(p: &Pod) -> Option<String> {
    p.spec.as_ref().and_then(|s| s.node_name.clone())
}

fn started(p: &Pod) -> bool {
    matches!(
        p.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Running" | "Succeeded" | "Failed")
    )
}

/// What a follow needs.
pub struct Follow<'a> {
    /// The cluster.
    pub cluster: &'a Cluster,
    /// The Job's name.
    pub job: &'a str,
    /// The trial log the pod's log is appended to.
    pub log: &'a Path,
    /// Longest single watch request.
    pub watch_timeout: Duration,
    /// When `activeDeadlineSeconds` runs out at the earliest (measured from
    /// before the Job was created): a pod lost after it was ended by the deadline.
    pub job_deadline: Option<Instant>,
    /// The builder's own backstop for `activeDeadlineSeconds`.
    pub deadline: Option<Instant>,
    /// Polled for Ctrl-C.
    pub interrupted: fn() -> bool,
}

fn append(log: &Path, bytes: &[u8]) {
    // The log helps a human; the verdict comes from the exit code.
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(log)
    {
        let _ = f.write_all(bytes);
    }
}

struct Pass {
    pod: Option<(String, Option<String>)>,
    log_task: Option<tokio::task::JoinHandle<()>>,
}

impl Follow<'_> {
    fn stop(&self) -> Option<Outcome> {
        if (self.interrupted)() {
            return Some(Outcome::Interrupted);
        }
        if self.deadline.is_some_and(|d| Instant::now() >= d) {
            return Some(Outcome::DeadlineExceeded);
        }
        None
    }

    fn start_log(&self, pass: &mut Pass, p: &Pod) {
        let Some(name) = p.metadata.name.clone() else {
            return;
        };
        if pass.log_task.is_some() || !started(p) {
            return;
        }
        let pods = self.cluster.pods();
        let log = self.log.to_path_buf();
        pass.log_task = Some(tokio::spawn(async move {
            let lp = LogParams {
                follow: true,
                container: Some(CONTAINER.into()),
                ..Default::default()
            };
            let Ok(stream) = pods.log_stream(&name, &lp).await else {
                return;
            };
            let mut lines = stream.lines();
            while let Some(Ok(line)) = lines.next().await {
                append(&log, format!("{line}\n").as_bytes());
            }
        }));
    }

    /// Looks at one state of the pod.
    fn look(&self, pass: &mut Pass, p: &Pod) -> Option<Outcome> {
        let name = p.metadata.name.clone().unwrap_or_default();
        // Another pod of the Job: the Job controller replaced ours, which is gone.
        if let Some((seen, node)) = &pass.pod
            && *seen != name
        {
            return Some(Outcome::Lost {
                node: node.clone().unwrap_or_default(),
                reason: format!("pod {seen} deleted and replaced"),
            });
        }
        pass.pod = Some((name, pod_node(p)));
        self.start_log(pass, p);
        classify(p)
    }

    async fn finish_log(&self, pass: &mut Pass) {
        if let Some(task) = pass.log_task.take()
            && tokio::time::timeout(Duration::from_secs(10), task)
                .await
                .is_ok()
        {
            return;
        }
        // Never streamed (the pod ended between two looks) or the stream hung: read it whole.
        if let Some((name, _)) = &pass.pod {
            let lp = LogParams {
                container: Some(CONTAINER.into()),
                ..Default::default()
            };
            if let Ok(text) = self.cluster.pods().logs(name, &lp).await {
                append(self.log, text.as_bytes());
            }
        }
    }

    /// Follows the Job's pod until it ends.
    pub async fn run(&self) -> Result<Outcome, kube::Error> {
        let mut pass = Pass {
            pod: None,
            log_task: None,
        };
        let mut out = self.follow(&mut pass).await;
        // The Job controller deletes the pods of a Job past its deadline,
        // possibly before it writes the Job's condition.
        if matches!(out, Ok(Outcome::Lost { .. }))
            && self.job_deadline.is_some_and(|d| Instant::now() >= d)
        {
            out = Ok(Outcome::DeadlineExceeded);
        }
        match &out {
            Ok(Outcome::Exited { .. }) => self.finish_log(&mut pass).await,
            _ => {
                if let Some(t) = pass.log_task.take() {
                    t.abort();
                }
            }
        }
        out
    }

    async fn follow(&self, pass: &mut Pass) -> Result<Outcome, kube::Error> {
        let pods = self.cluster.pods();
        let selector = format!("{JOB_NAME_LABEL}={}", self.job);
        let lp = ListParams::default().labels(&selector);
        loop {
            if let Some(o) = self.stop() {
                return Ok(o);
            }
            let list = pods.list(&lp).await?;
            let rv = list.metadata.resource_version.clone().unwrap_or_default();
            let ours = pass.pod.as_ref().map(|(n, _)| n.clone());
            let mine = match &ours {
                Some(n) => list
                    .items
                    .iter()
                    .find(|p| p.metadata.name.as_ref() == Some(n))
                    .or(list.items.first()),
                None => list.items.first(),
            };
            match mine {
                Some(p) => {
                    if let Some(o) = self.look(pass, p) {
                        return Ok(o);
                    }
                }
                None => {
                    if let Some((_, node)) = &pass.pod {
                        return Ok(Outcome::Lost {
                            node: node.clone().unwrap_or_default(),
                            reason: "pod deleted".into(),
                        });
                    }
                }
            }
            if let Some(o) = self.check_job_and_node(pass).await? {
                return Ok(o);
            }
            let secs = u32::try_from(self.watch_timeout.as_secs().max(1)).unwrap_or(u32::MAX);
            let wp = WatchParams::default().labels(&selector).timeout(secs);
            let stream = pods.watch(&wp, &rv).await?;
            futures::pin_mut!(stream);
            let mut tick = tokio::time::interval(Duration::from_millis(200));
            // The server ends the watch after `secs`; the client gives it a little more.
            let give_up = tokio::time::sleep(self.watch_timeout + Duration::from_secs(5));
            tokio::pin!(give_up);
            loop {
                tokio::select! {
                    ev = stream.next() => match ev {
                        Some(Ok(WatchEvent::Added(p) | WatchEvent::Modified(p))) => {
                            if let Some(o) = self.look(pass, &p) {
                                return Ok(o);
                            }
                        }
                        Some(Ok(WatchEvent::Deleted(p))) => {
                            return Ok(Outcome::Lost {
                                node: pod_node(&p).unwrap_or_default(),
                                reason: "pod deleted".into(),
                            });
                        }
                        Some(Ok(WatchEvent::Bookmark(_))) => {}
                        // 410 Gone, a decode error or the end of the watch: list again.
                        Some(Ok(WatchEvent::Error(_)) | Err(_)) | None => break,
                    },
                    _ = tick.tick() => {
                        if self.stop().is_some() {
                            break;
                        }
                    }
                    _ = &mut give_up => break,
                }
            }
        }
    }

    async fn check_job_and_node(&self, pass: &Pass) -> Result<Option<Outcome>, kube::Error> {
        match self.cluster.jobs().get_opt(self.job).await? {
            None => {
                return Ok(Some(Outcome::Lost {
                    node: pass.pod.clone().and_then(|p| p.1).unwrap_or_default(),
                    reason: "Job deleted by someone else".into(),
                }));
            }
            Some(j) => {
                let deadline = j
                    .status
                    .and_then(|s| s.conditions)
                    .unwrap_or_default()
                    .iter()
                    .any(|c| c.status == "True" && c.reason.as_deref() == Some("DeadlineExceeded"));
                if deadline {
                    return Ok(Some(Outcome::DeadlineExceeded));
                }
            }
        }
        let Some(node) = pass.pod.clone().and_then(|p| p.1) else {
            return Ok(None);
        };
        Ok(match self.cluster.nodes().get_opt(&node).await? {
            None => Some(Outcome::Lost {
                node: node.clone(),
                reason: format!("node {node} disappeared"),
            }),
            Some(n) if !node_ready(&n) => Some(Outcome::Lost {
                node: node.clone(),
                reason: format!("node {node} NotReady"),
            }),
            Some(_) => None,
        })
    }
}
