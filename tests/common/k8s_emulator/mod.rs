//! A loopback emulation of the part of the Kubernetes API that the k8s
//! builder uses (Jobs, Pods, pod logs, Nodes, watch, Events, ConfigMaps),
//! speaking the real wire format (objects checked against the k8s-openapi
//! types), with a scheduler and kubelets that run each pod's command as a
//! local process. Faults: a node lost under a build, a node that stops
//! reporting, a node whose pods have no egress.
#![allow(dead_code)]

mod api;
mod cluster;
mod http;
mod store;

use cluster::{Proc, Track};
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
pub use store::Kind;

/// Shared state of the API server and the controllers.
pub struct State {
    pub store: store::Store,
    pub requests: Mutex<Vec<String>>,
    port: AtomicU16,
    stop: Arc<AtomicBool>,
    dir: PathBuf,
    procs: Mutex<HashMap<(String, String), Proc>>,
    tracks: Mutex<HashMap<String, Track>>,
    no_egress: Mutex<HashSet<String>>,
    blackhole_port: u16,
}

impl State {
    fn port(&self) -> u16 {
        self.port.load(Ordering::SeqCst)
    }

    fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    fn proc_done(&self, ns: &str, name: &str) -> bool {
        self.procs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&(ns.to_string(), name.to_string()))
            .is_none_or(|p| p.exit.is_some())
    }

    /// A pod's log; with `follow`, streamed until its process has ended and all of it was sent.
    fn log(self: &Arc<Self>, ns: &str, name: &str, follow: bool) -> http::Reply {
        if self.store.get(Kind::Pod, ns, name).is_none() {
            return api::status(404, "NotFound", &format!("pods \"{name}\" not found"));
        }
        let path = self.log_path(ns, name);
        if !path.exists() {
            return api::status(
                400,
                "BadRequest",
                &format!("container \"build\" in pod \"{name}\" is waiting to start"),
            );
        }
        if !follow {
            return http::Reply::Full {
                status: 200,
                content_type: "text/plain",
                body: std::fs::read(&path).unwrap_or_default(),
            };
        }
        let state = self.clone();
        let (ns, name) = (ns.to_string(), name.to_string());
        let mut sent = 0usize;
        let next = move || -> Option<Vec<u8>> {
            loop {
                // Read "done" before the file: output written before the exit is never missed.
                let done = state.proc_done(&ns, &name) || state.stopped();
                let bytes = std::fs::read(&path).unwrap_or_default();
                if bytes.len() > sent {
                    let chunk = bytes[sent..].to_vec();
                    sent = bytes.len();
                    return Some(chunk);
                }
                if done {
                    return None;
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        };
        http::Reply::Stream {
            content_type: "text/plain",
            next: Box::new(next),
        }
    }
}

/// A node of the emulated cluster.
#[derive(Debug, Clone, Default)]
pub struct NodeSpec {
    pub name: String,
    pub labels: Vec<(String, String)>,
    /// `(key, value, effect)`.
    pub taints: Vec<(String, String, String)>,
    /// Its pods cannot reach out (hostNetwork pods can).
    pub no_egress: bool,
}

impl NodeSpec {
    pub fn new(name: &str) -> NodeSpec {
        NodeSpec {
            name: name.into(),
            ..Default::default()
        }
    }
    pub fn label(mut self, k: &str, v: &str) -> NodeSpec {
        self.labels.push((k.into(), v.into()));
        self
    }
    pub fn no_egress(mut self) -> NodeSpec {
        self.no_egress = true;
        self
    }
}

/// The running emulation; stops (and kills its processes) when dropped.
pub struct Emulator {
    pub state: Arc<State>,
    _dir: tempfile::TempDir,
}

/// Namespace of the kubeconfig the emulator writes.
pub const NAMESPACE: &str = "trials";

impl Emulator {
    pub fn start(nodes: &[NodeSpec]) -> Emulator {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("logs")).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        // Accepts and holds every connection without a byte of reply.
        let blackhole = TcpListener::bind("127.0.0.1:0").unwrap();
        let blackhole_port = blackhole.local_addr().unwrap().port();
        {
            let stop = stop.clone();
            std::thread::spawn(move || {
                let mut held = Vec::new();
                for s in blackhole.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    held.extend(s.ok());
                }
            });
        }
        let state = Arc::new(State {
            store: store::Store::default(),
            requests: Mutex::new(Vec::new()),
            port: AtomicU16::new(0),
            stop: stop.clone(),
            dir: dir.path().to_path_buf(),
            procs: Mutex::new(HashMap::new()),
            tracks: Mutex::new(HashMap::new()),
            no_egress: Mutex::new(HashSet::new()),
            blackhole_port,
        });
        for n in nodes {
            state.store.create(Kind::Node, "", node_object(n)).unwrap();
            if n.no_egress {
                state.no_egress.lock().unwrap().insert(n.name.clone());
            }
        }
        let s = state.clone();
        let port = http::start(stop.clone(), Arc::new(move |req| api::handle(&s, req)));
        state.port.store(port, Ordering::SeqCst);
        let s = state.clone();
        std::thread::spawn(move || {
            while !s.stopped() {
                s.tick();
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        Emulator { state, _dir: dir }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.state.port())
    }

    /// A kubeconfig pointing at the emulator (namespace [`NAMESPACE`]).
    pub fn write_kubeconfig(&self, path: &Path) {
        let text = format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: emulator\n  cluster:\n    server: {}\nusers:\n- name: tester\n  user:\n    token: emulator-token\ncontexts:\n- name: emulator\n  context:\n    cluster: emulator\n    user: tester\n    namespace: {NAMESPACE}\ncurrent-context: emulator\n",
            self.url()
        );
        std::fs::write(path, text).unwrap();
    }

    pub fn list(&self, kind: Kind) -> Vec<Value> {
        self.state.store.list(kind, None, None, None).0
    }

    pub fn lose_node(&self, node: &str) {
        self.state.lose_node(node);
    }

    pub fn partition_node(&self, node: &str) {
        self.state.partition_node(node);
    }

    /// Waits until `f` holds (panics after `secs`).
    pub fn wait_for(&self, secs: u64, what: &str, f: impl Fn(&Emulator) -> bool) {
        let until = Instant::now() + Duration::from_secs(secs);
        while !f(self) {
            assert!(Instant::now() < until, "timed out waiting for {what}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Names of the running pods and their nodes.
    pub fn running_pods(&self) -> Vec<(String, String)> {
        self.list(Kind::Pod)
            .iter()
            .filter(|p| p["status"]["phase"] == "Running")
            .map(|p| {
                (
                    p["metadata"]["name"].as_str().unwrap_or("").to_string(),
                    p["spec"]["nodeName"].as_str().unwrap_or("").to_string(),
                )
            })
            .collect()
    }

    /// Label of a node.
    pub fn node_label(&self, node: &str, key: &str) -> Option<String> {
        self.state
            .store
            .get(Kind::Node, "", node)
            .and_then(|n| n["metadata"]["labels"][key].as_str().map(str::to_string))
    }
}

impl Drop for Emulator {
    fn drop(&mut self) {
        self.state.stop.store(true, Ordering::SeqCst);
        let keys: Vec<(String, String)> = self
            .state
            .procs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .keys()
            .cloned()
            .collect();
        for (ns, name) in keys {
            self.state.kill(&ns, &name);
        }
    }
}

fn node_object(n: &NodeSpec) -> Value {
    let mut labels: serde_json::Map<String, Value> = n
        .labels
        .iter()
        .map(|(k, v)| (k.clone(), json!(v)))
        .collect();
    labels.insert("kubernetes.io/hostname".into(), json!(n.name));
    labels.insert("kubernetes.io/os".into(), json!("linux"));
    let taints: Vec<Value> = n
        .taints
        .iter()
        .map(|(k, v, e)| json!({"key": k, "value": v, "effect": e}))
        .collect();
    json!({"metadata": {"name": n.name, "labels": labels},
           "spec": {"taints": taints},
           "status": {"conditions": [{"type": "Ready", "status": "True", "reason": "KubeletReady",
                                      "message": "kubelet is posting ready status", "lastHeartbeatTime": store::now_rfc3339(),
                                      "lastTransitionTime": store::now_rfc3339()}],
                      "addresses": [{"type": "InternalIP", "address": "10.0.0.1"}, {"type": "Hostname", "address": n.name}],
                      "capacity": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                      "allocatable": {"cpu": "2", "memory": "4Gi", "pods": "110"},
                      "nodeInfo": {"machineID": "", "systemUUID": "", "bootID": "", "kernelVersion": "6.1.0",
                                   "osImage": "Debian GNU/Linux 12 (bookworm)", "containerRuntimeVersion": "emulated://1",
                                   "kubeletVersion": "v1.35.0", "kubeProxyVersion": "v1.35.0",
                                   "operatingSystem": "linux", "architecture": "amd64"}}})
}
