//! The control plane and the nodes, emulated: a Job controller (one pod per
//! Job, `backoffLimit`, `activeDeadlineSeconds`, `ttlSecondsAfterFinished`), a
//! scheduler (node selector, required node affinity, taints) and a kubelet per
//! node that runs the pod's command as a local process. A pod sees its mounts
//! under a per-pod root directory: environment values and the working
//! directory that name a mount path are rewritten to it. A node without pod
//! egress gives its pods (not `hostNetwork` ones) proxies that swallow every
//! connection: the request leaves, the reply never comes back.

use super::State;
use super::store::{Kind, field, now_rfc3339};
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashSet};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running pod's process.
pub struct Proc {
    pub child: Child,
    pub exit: Option<i32>,
}

/// Per-Job bookkeeping of the controller (the real one keeps it in finalizers).
#[derive(Default)]
pub struct Track {
    pub counted: HashSet<String>,
    pub succeeded: i64,
    pub failed: i64,
    pub started: Option<Instant>,
    pub finished: Option<Instant>,
}

fn ready(node: &Value) -> bool {
    node.pointer("/status/conditions")
        .and_then(Value::as_array)
        .is_some_and(|cs| {
            cs.iter()
                .any(|c| c["type"] == "Ready" && c["status"] == "True")
        })
}

fn terminal(pod: &Value) -> bool {
    matches!(
        field(pod, "status.phase").as_deref(),
        Some("Succeeded" | "Failed")
    )
}

pub fn event(
    state: &State,
    involved: &Value,
    reason: &str,
    message: &str,
    type_: &str,
    component: &str,
) {
    let ns = field(involved, "metadata.namespace").unwrap_or_else(|| "default".into());
    let now = now_rfc3339();
    let n = {
        let mut g = state.store.lock();
        g.uid += 1;
        g.uid
    };
    let _ = state.store.create(
        Kind::Event,
        &ns,
        json!({"metadata": {"name": format!("{}.{n:x}", field(involved, "metadata.name").unwrap_or_default())},
               "involvedObject": {"kind": involved["kind"], "namespace": ns, "name": involved["metadata"]["name"],
                                  "uid": involved["metadata"]["uid"], "apiVersion": involved["apiVersion"]},
               "reason": reason, "message": message, "type": type_, "count": 1,
               "source": {"component": component}, "firstTimestamp": now, "lastTimestamp": now,
               "reportingComponent": component, "reportingInstance": ""}),
    );
}

impl State {
    /// Kills a pod's process (its whole process group) and reaps it.
    pub fn kill(&self, ns: &str, name: &str) -> bool {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        let Some(p) = procs.get_mut(&(ns.to_string(), name.to_string())) else {
            return false;
        };
        if p.exit.is_none() {
            let pid = p.child.id() as i32;
            // SAFETY: signalling a process group this emulator started.
            unsafe {
                libc::kill(-pid, libc::SIGKILL);
            }
            let _ = p.child.wait();
            p.exit = Some(137);
        }
        true
    }

    /// Deletes an object; a pod's process is killed, a Job's pods go with it when `cascade`.
    pub fn delete(&self, kind: Kind, ns: &str, name: &str, cascade: bool) -> Option<Value> {
        if kind == Kind::Pod {
            self.kill(ns, name);
            self.procs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(ns.to_string(), name.to_string()));
        }
        let obj = self.store.delete(kind, ns, name)?;
        if kind == Kind::Job && cascade {
            let uid = field(&obj, "metadata.uid").unwrap_or_default();
            let (pods, _) = self.store.list(
                Kind::Pod,
                Some(ns),
                Some(&format!("batch.kubernetes.io/controller-uid={uid}")),
                None,
            );
            for p in pods {
                if let Some(pn) = field(&p, "metadata.name") {
                    self.delete(Kind::Pod, ns, &pn, false);
                }
            }
        }
        Some(obj)
    }

    /// The node vanishes (re-imaged without draining): its processes die and
    /// the pod garbage collector marks its pods `DisruptionTarget` and deletes them.
    pub fn lose_node(&self, node: &str) {
        let (pods, _) = self.store.list(
            Kind::Pod,
            None,
            None,
            Some(&format!("spec.nodeName={node}")),
        );
        self.store.delete(Kind::Node, "", node);
        for p in pods {
            let ns = field(&p, "metadata.namespace").unwrap_or_default();
            let name = field(&p, "metadata.name").unwrap_or_default();
            self.kill(&ns, &name);
            self.procs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(ns.clone(), name.clone()));
            if !terminal(&p) {
                self.store.update(Kind::Pod, &ns, &name, |v| {
                    v["status"]["phase"] = json!("Failed");
                    let mut cs = v["status"]["conditions"].as_array().cloned().unwrap_or_default();
                    cs.push(json!({"type": "DisruptionTarget", "status": "True", "reason": "DeletionByPodGC",
                                    "message": "PodGC: node no longer exists", "lastTransitionTime": now_rfc3339()}));
                    v["status"]["conditions"] = json!(cs);
                });
            }
            self.store.delete(Kind::Pod, &ns, &name);
        }
    }

    /// The node stops reporting (Ready becomes Unknown): its processes die
    /// with it, and nobody updates its pods, which stay `Running`.
    pub fn partition_node(&self, node: &str) {
        let (pods, _) = self.store.list(
            Kind::Pod,
            None,
            None,
            Some(&format!("spec.nodeName={node}")),
        );
        for p in pods {
            let ns = field(&p, "metadata.namespace").unwrap_or_default();
            let name = field(&p, "metadata.name").unwrap_or_default();
            self.kill(&ns, &name);
            self.procs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .remove(&(ns, name));
        }
        self.store.update(Kind::Node, "", node, |v| {
            v["status"]["conditions"] = json!([{"type": "Ready", "status": "Unknown", "reason": "NodeStatusUnknown",
                                                 "message": "Kubelet stopped posting node status.", "lastTransitionTime": now_rfc3339()}]);
        });
    }

    /// One round of every controller.
    pub fn tick(&self) {
        self.jobs();
        self.schedule();
        self.kubelet();
    }

    fn jobs(&self) {
        let (jobs, _) = self.store.list(Kind::Job, None, None, None);
        for job in jobs {
            let ns = field(&job, "metadata.namespace").unwrap_or_default();
            let name = field(&job, "metadata.name").unwrap_or_default();
            let uid = field(&job, "metadata.uid").unwrap_or_default();
            let sel = format!("batch.kubernetes.io/controller-uid={uid}");
            let (pods, _) = self.store.list(Kind::Pod, Some(&ns), Some(&sel), None);
            let mut tracks = self.tracks.lock().unwrap_or_else(|e| e.into_inner());
            let t = tracks.entry(uid.clone()).or_default();
            let started = *t.started.get_or_insert_with(Instant::now);
            if let Some(done) = t.finished {
                let ttl = job
                    .pointer("/spec/ttlSecondsAfterFinished")
                    .and_then(Value::as_u64);
                if ttl.is_some_and(|s| done.elapsed() >= Duration::from_secs(s)) {
                    drop(tracks);
                    self.delete(Kind::Job, &ns, &name, true);
                }
                continue;
            }
            for p in pods.iter().filter(|p| terminal(p)) {
                let pn = field(p, "metadata.name").unwrap_or_default();
                if t.counted.insert(pn) {
                    if field(p, "status.phase").as_deref() == Some("Succeeded") {
                        t.succeeded += 1;
                    } else {
                        t.failed += 1;
                    }
                }
            }
            let active: Vec<&Value> = pods.iter().filter(|p| !terminal(p)).collect();
            let backoff = job
                .pointer("/spec/backoffLimit")
                .and_then(Value::as_i64)
                .unwrap_or(6);
            let deadline = job
                .pointer("/spec/activeDeadlineSeconds")
                .and_then(Value::as_u64);
            let (condition, reason) = if t.succeeded > 0 {
                (Some("Complete"), "Completed")
            } else if deadline.is_some_and(|d| started.elapsed() >= Duration::from_secs(d)) {
                (Some("Failed"), "DeadlineExceeded")
            } else if t.failed > backoff {
                (Some("Failed"), "BackoffLimitExceeded")
            } else {
                (None, "")
            };
            let (succeeded, failed) = (t.succeeded, t.failed);
            if condition.is_some() {
                t.finished = Some(Instant::now());
            }
            drop(tracks);
            if reason == "DeadlineExceeded" {
                for p in &active {
                    let pn = field(p, "metadata.name").unwrap_or_default();
                    event(
                        self,
                        &job,
                        "SuccessfulDelete",
                        &format!("Deleted pod: {pn}"),
                        "Normal",
                        "job-controller",
                    );
                    self.delete(Kind::Pod, &ns, &pn, false);
                }
                event(
                    self,
                    &job,
                    "DeadlineExceeded",
                    "Job was active longer than specified deadline",
                    "Warning",
                    "job-controller",
                );
            } else if condition.is_none() && active.is_empty() {
                self.create_pod(&job, &ns, &name, &uid);
            }
            let now = now_rfc3339();
            let active_n = if condition.is_some() {
                0
            } else {
                active.len().max(1)
            };
            self.store.update(Kind::Job, &ns, &name, |v| {
                v["spec"]["selector"] =
                    json!({"matchLabels": {"batch.kubernetes.io/controller-uid": uid}});
                let s = &mut v["status"];
                if s.get("startTime").is_none() {
                    s["startTime"] = json!(now);
                }
                s["active"] = json!(active_n);
                s["succeeded"] = json!(succeeded);
                s["failed"] = json!(failed);
                if let Some(c) = condition {
                    s["conditions"] = json!([{"type": c, "status": "True", "reason": reason,
                                              "lastProbeTime": now, "lastTransitionTime": now}]);
                    if c == "Complete" {
                        s["completionTime"] = json!(now);
                    }
                }
            });
        }
    }

    fn create_pod(&self, job: &Value, ns: &str, name: &str, uid: &str) {
        let tmpl = job.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let mut labels: BTreeMap<String, Value> = tmpl
            .pointer("/metadata/labels")
            .and_then(Value::as_object)
            .map(|m| m.clone().into_iter().collect())
            .unwrap_or_default();
        for (k, v) in [
            ("job-name", name),
            ("batch.kubernetes.io/job-name", name),
            ("controller-uid", uid),
            ("batch.kubernetes.io/controller-uid", uid),
        ] {
            labels.insert(k.into(), json!(v));
        }
        let pod = json!({"metadata": {"generateName": format!("{name}-"), "labels": labels,
                          "ownerReferences": [{"apiVersion": "batch/v1", "kind": "Job", "name": name, "uid": uid,
                                               "controller": true, "blockOwnerDeletion": true}]},
                         "spec": tmpl["spec"], "status": {"phase": "Pending", "qosClass": "BestEffort"}});
        if let Ok(p) = self.store.create(Kind::Pod, ns, pod) {
            let pn = field(&p, "metadata.name").unwrap_or_default();
            event(
                self,
                job,
                "SuccessfulCreate",
                &format!("Created pod: {pn}"),
                "Normal",
                "job-controller",
            );
        }
    }

    fn fits(pod: &Value, node: &Value) -> bool {
        let labels = node
            .pointer("/metadata/labels")
            .cloned()
            .unwrap_or(json!({}));
        let name = field(node, "metadata.name").unwrap_or_default();
        let sel_ok = pod
            .pointer("/spec/nodeSelector")
            .and_then(Value::as_object)
            .is_none_or(|m| m.iter().all(|(k, v)| labels.get(k) == Some(v)));
        let req_ok = |r: &Value, actual: Option<String>| {
            let values: Vec<String> = r["values"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|v| v.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            match r["operator"].as_str().unwrap_or("") {
                "In" => actual.is_some_and(|a| values.contains(&a)),
                "NotIn" => actual.is_none_or(|a| !values.contains(&a)),
                "Exists" => actual.is_some(),
                "DoesNotExist" => actual.is_none(),
                _ => false,
            }
        };
        let terms = pod.pointer("/spec/affinity/nodeAffinity/requiredDuringSchedulingIgnoredDuringExecution/nodeSelectorTerms");
        let aff_ok = terms.and_then(Value::as_array).is_none_or(|ts| {
            ts.iter().any(|t| {
                t["matchExpressions"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .all(|r| {
                        req_ok(
                            r,
                            r["key"]
                                .as_str()
                                .and_then(|k| labels.get(k))
                                .and_then(Value::as_str)
                                .map(str::to_string),
                        )
                    })
                    && t["matchFields"]
                        .as_array()
                        .into_iter()
                        .flatten()
                        .all(|r| req_ok(r, (r["key"] == "metadata.name").then(|| name.clone())))
            })
        });
        let tols = pod
            .pointer("/spec/tolerations")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let taints_ok = node
            .pointer("/spec/taints")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .all(|t| {
                t["effect"] == "PreferNoSchedule"
                    || tols.iter().any(|tol| {
                        (tol["key"].is_null() || tol["key"] == t["key"])
                            && (tol["effect"].is_null() || tol["effect"] == t["effect"])
                            && (tol["operator"] == "Exists" || tol["value"] == t["value"])
                    })
            });
        let schedulable = node.pointer("/spec/unschedulable") != Some(&json!(true));
        sel_ok && aff_ok && taints_ok && schedulable && ready(node)
    }

    fn schedule(&self) {
        let (pods, _) = self
            .store
            .list(Kind::Pod, None, None, Some("spec.nodeName="));
        if pods.is_empty() {
            return;
        }
        let (nodes, _) = self.store.list(Kind::Node, None, None, None);
        let (all, _) = self.store.list(Kind::Pod, None, None, None);
        for pod in pods.iter().filter(|p| !terminal(p)) {
            let ns = field(pod, "metadata.namespace").unwrap_or_default();
            let name = field(pod, "metadata.name").unwrap_or_default();
            let load = |n: &str| {
                all.iter()
                    .filter(|p| field(p, "spec.nodeName").as_deref() == Some(n) && !terminal(p))
                    .count()
            };
            let best = nodes
                .iter()
                .filter(|n| Self::fits(pod, n))
                .filter_map(|n| field(n, "metadata.name"))
                .min_by_key(|n| (load(n), n.clone()));
            match best {
                Some(node) => {
                    let now = now_rfc3339();
                    if let Some(p) = self.store.update(Kind::Pod, &ns, &name, |v| {
                        v["spec"]["nodeName"] = json!(node);
                        v["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "True", "lastTransitionTime": now}]);
                    }) {
                        event(self, &p, "Scheduled", &format!("Successfully assigned {ns}/{name} to {node}"), "Normal", "default-scheduler");
                    }
                }
                None => {
                    let already =
                        pod.pointer("/status/conditions/0/reason") == Some(&json!("Unschedulable"));
                    if !already && let Some(p) = self.store.update(Kind::Pod, &ns, &name, |v| {
                        v["status"]["conditions"] = json!([{"type": "PodScheduled", "status": "False", "reason": "Unschedulable",
                            "message": format!("0/{} nodes are available", nodes.len()), "lastTransitionTime": now_rfc3339()}]);
                    }) {
                        event(self, &p, "FailedScheduling", &format!("0/{} nodes are available", nodes.len()), "Warning", "default-scheduler");
                    }
                }
            }
        }
    }

    fn kubelet(&self) {
        let (pods, _) = self.store.list(Kind::Pod, None, None, None);
        for pod in pods {
            let Some(node_name) = field(&pod, "spec.nodeName") else {
                continue;
            };
            let Some(node) = self.store.get(Kind::Node, "", &node_name) else {
                continue;
            };
            if !ready(&node) {
                continue;
            }
            let ns = field(&pod, "metadata.namespace").unwrap_or_default();
            let name = field(&pod, "metadata.name").unwrap_or_default();
            let key = (ns.clone(), name.clone());
            let phase = field(&pod, "status.phase").unwrap_or_default();
            let known = self
                .procs
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .contains_key(&key);
            if phase == "Pending" && !known {
                self.start(&pod, &node, &ns, &name);
                continue;
            }
            if phase != "Running" {
                continue;
            }
            let exited = {
                let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
                match procs.get_mut(&key) {
                    Some(p) if p.exit.is_none() => match p.child.try_wait() {
                        Ok(Some(st)) => {
                            use std::os::unix::process::ExitStatusExt;
                            let code = st.code().unwrap_or_else(|| 128 + st.signal().unwrap_or(9));
                            p.exit = Some(code);
                            Some(code)
                        }
                        _ => None,
                    },
                    _ => None,
                }
            };
            if let Some(code) = exited {
                let now = now_rfc3339();
                let started = field(&pod, "status.startTime").unwrap_or_else(|| now.clone());
                let image = field(&pod, "spec.containers.0.image").unwrap_or_default();
                let cname = pod
                    .pointer("/spec/containers/0/name")
                    .cloned()
                    .unwrap_or(json!("build"));
                if let Some(p) = self.store.update(Kind::Pod, &ns, &name, |v| {
                    v["status"]["phase"] = json!(if code == 0 { "Succeeded" } else { "Failed" });
                    v["status"]["containerStatuses"] = json!([{"name": cname, "ready": false, "restartCount": 0,
                        "image": image, "imageID": "", "containerID": format!("emulated://{name}"), "started": false,
                        "state": {"terminated": {"exitCode": code, "reason": if code == 0 {"Completed"} else {"Error"},
                                                 "startedAt": started, "finishedAt": now}}}]);
                }) {
                    let _ = p;
                }
            }
        }
    }

    fn start(&self, pod: &Value, node: &Value, ns: &str, name: &str) {
        let root = self.dir.join("pods").join(format!("{ns}_{name}"));
        let host_network = pod.pointer("/spec/hostNetwork") == Some(&json!(true));
        let c = pod
            .pointer("/spec/containers/0")
            .cloned()
            .unwrap_or(json!({}));
        // Mount path -> directory on this machine.
        let mut mounts: Vec<(String, PathBuf)> = Vec::new();
        let volumes = pod
            .pointer("/spec/volumes")
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        for m in c["volumeMounts"].as_array().into_iter().flatten() {
            let mp = m["mountPath"].as_str().unwrap_or("/").to_string();
            let Some(vol) = volumes.iter().find(|v| v["name"] == m["name"]) else {
                continue;
            };
            let dir = if let Some(hp) = vol.pointer("/hostPath/path").and_then(Value::as_str) {
                PathBuf::from(hp)
            } else {
                root.join(mp.trim_start_matches('/'))
            };
            let _ = std::fs::create_dir_all(&dir);
            if let Some(cm_name) = vol.pointer("/configMap/name").and_then(Value::as_str) {
                let Some(cm) = self.store.get(Kind::ConfigMap, ns, cm_name) else {
                    event(
                        self,
                        pod,
                        "FailedMount",
                        &format!("configmap \"{cm_name}\" not found"),
                        "Warning",
                        "kubelet",
                    );
                    return;
                };
                for it in vol
                    .pointer("/configMap/items")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let key = it["key"].as_str().unwrap_or("");
                    let path = dir.join(it["path"].as_str().unwrap_or(key));
                    let text = cm
                        .pointer(&format!("/data/{key}"))
                        .and_then(Value::as_str)
                        .unwrap_or("");
                    if let Some(parent) = path.parent() {
                        let _ = std::fs::create_dir_all(parent);
                    }
                    let _ = std::fs::write(&path, text);
                }
            }
            mounts.push((mp, dir));
        }
        let map = |s: &str| -> String {
            for (mp, dir) in &mounts {
                if s == mp || s.starts_with(&format!("{mp}/")) {
                    return format!("{}{}", dir.display(), &s[mp.len()..]);
                }
            }
            s.to_string()
        };
        let argv: Vec<String> = c["command"]
            .as_array()
            .into_iter()
            .flatten()
            .chain(c["args"].as_array().into_iter().flatten())
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let Some((prog, args)) = argv.split_first() else {
            return;
        };
        let log = self.log_path(ns, name);
        let Ok(out) = std::fs::File::create(&log) else {
            return;
        };
        let Ok(err) = out.try_clone() else { return };
        let mut cmd = Command::new(prog);
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .process_group(0);
        for e in c["env"].as_array().into_iter().flatten() {
            if let (Some(k), Some(v)) = (e["name"].as_str(), e["value"].as_str()) {
                cmd.env(k, map(v));
            }
        }
        let wd = map(c["workingDir"].as_str().unwrap_or("/"));
        let _ = std::fs::create_dir_all(&wd);
        cmd.current_dir(&wd);
        let node_name = field(node, "metadata.name").unwrap_or_default();
        let no_egress = self
            .no_egress
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .contains(&node_name);
        if no_egress && !host_network {
            let proxy = format!("http://127.0.0.1:{}", self.blackhole_port);
            for k in [
                "http_proxy",
                "https_proxy",
                "HTTP_PROXY",
                "HTTPS_PROXY",
                "ALL_PROXY",
                "all_proxy",
            ] {
                cmd.env(k, &proxy);
            }
        }
        let now = now_rfc3339();
        match cmd.spawn() {
            Ok(child) => {
                self.procs.lock().unwrap_or_else(|e| e.into_inner()).insert(
                    (ns.to_string(), name.to_string()),
                    Proc { child, exit: None },
                );
                let cname = c["name"].clone();
                let image = c["image"].clone();
                let ip = if host_network {
                    "10.0.0.1".to_string()
                } else {
                    format!("10.244.0.{}", (name.len() % 250) + 2)
                };
                if let Some(p) = self.store.update(Kind::Pod, ns, name, |v| {
                    v["status"]["phase"] = json!("Running");
                    v["status"]["startTime"] = json!(now);
                    v["status"]["podIP"] = json!(ip);
                    v["status"]["hostIP"] = json!("10.0.0.1");
                    v["status"]["containerStatuses"] = json!([{"name": cname, "ready": true, "restartCount": 0,
                        "image": image, "imageID": "", "containerID": format!("emulated://{name}"), "started": true,
                        "state": {"running": {"startedAt": now}}}]);
                }) {
                    event(self, &p, "Started", "Started container build", "Normal", "kubelet");
                }
            }
            Err(e) => {
                let cname = c["name"].clone();
                self.store.update(Kind::Pod, ns, name, |v| {
                    v["status"]["containerStatuses"] = json!([{"name": cname, "ready": false, "restartCount": 0,
                        "image": "", "imageID": "", "state": {"waiting": {"reason": "CreateContainerError", "message": e.to_string()}}}]);
                });
            }
        }
    }

    pub fn log_path(&self, ns: &str, name: &str) -> PathBuf {
        self.dir.join("logs").join(format!("{ns}_{name}.log"))
    }
}
