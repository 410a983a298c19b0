//! The API paths the builder and kubectl use: discovery, list (as JSON or as a
//! server-side Table), get, create (validated by the k8s-openapi types), merge
//! patch, delete (with propagation to a Job's pods), watch and pod logs.

use super::State;
use super::http::{Reply, Request};
use super::store::{Kind, field};
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Event, Node, Pod};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

fn reply(status: u16, v: &Value) -> Reply {
    Reply::Full {
        status,
        content_type: "application/json",
        body: serde_json::to_vec(v).unwrap_or_default(),
    }
}

pub fn status(code: u16, reason: &str, message: &str) -> Reply {
    reply(
        code,
        &json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                "message": message, "reason": reason, "code": code}),
    )
}

fn discovery(state: &State, path: &str) -> Option<Value> {
    let res = |name: &str, kind: &str, namespaced: bool, verbs: &[&str]| json!({"name": name, "singularName": "", "namespaced": namespaced, "kind": kind, "verbs": verbs});
    let all = ["create", "delete", "get", "list", "patch", "watch"];
    Some(match path {
        "/version" => {
            json!({"major": "1", "minor": "35", "gitVersion": "v1.35.0-sonic-lock-emulator",
                              "platform": "linux/amd64", "goVersion": "go1.25", "compiler": "gc",
                              "gitCommit": "", "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z"})
        }
        "/api" => json!({"kind": "APIVersions", "versions": ["v1"],
                          "serverAddressByClientCIDRs": [{"clientCIDR": "0.0.0.0/0", "serverAddress": format!("127.0.0.1:{}", state.port())}]}),
        "/apis" => json!({"kind": "APIGroupList", "apiVersion": "v1", "groups": [
            {"name": "batch", "versions": [{"groupVersion": "batch/v1", "version": "v1"}],
             "preferredVersion": {"groupVersion": "batch/v1", "version": "v1"}}]}),
        "/api/v1" => json!({"kind": "APIResourceList", "groupVersion": "v1", "resources": [
            res("pods", "Pod", true, &all), res("pods/log", "Pod", true, &["get"]),
            res("nodes", "Node", false, &all), res("configmaps", "ConfigMap", true, &all),
            res("events", "Event", true, &all)]}),
        "/apis/batch/v1" => {
            json!({"kind": "APIResourceList", "groupVersion": "batch/v1", "resources": [
            res("jobs", "Job", true, &all)]})
        }
        _ => return None,
    })
}

/// `(kind, namespace, name, subresource)` of a resource path.
type Route = (Kind, Option<String>, Option<String>, Option<String>);

fn route(path: &str) -> Option<Route> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').collect();
    let rest = match segs.as_slice() {
        ["api", "v1", rest @ ..] => rest,
        ["apis", "batch", "v1", rest @ ..] => rest,
        _ => return None,
    };
    let (ns, rest) = match rest {
        ["namespaces", ns, rest @ ..] if !rest.is_empty() => (Some(ns.to_string()), rest),
        r => (None, r),
    };
    let (plural, name, sub) = match rest {
        [p] => (*p, None, None),
        [p, n] => (*p, Some(n.to_string()), None),
        [p, n, s] => (*p, Some(n.to_string()), Some(s.to_string())),
        _ => return None,
    };
    Some((Kind::from_plural(plural)?, ns, name, sub))
}

fn age(v: &Value) -> String {
    let Some(ts) = field(v, "metadata.creationTimestamp") else {
        return "<unknown>".into();
    };
    let Ok(t) = chrono::DateTime::parse_from_rfc3339(&ts) else {
        return "<unknown>".into();
    };
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0);
    format!("{}s", (now - t.timestamp()).max(0))
}

/// The server-side printing kubectl asks for.
fn table(kind: Kind, items: &[Value], rv: u64) -> Value {
    let col = |n: &str| json!({"name": n, "type": "string", "format": if n == "Name" {"name"} else {""}, "description": "", "priority": 0});
    let (cols, rows): (Vec<&str>, Vec<Vec<String>>) = match kind {
        Kind::Job => (
            vec!["Name", "Completions", "Duration", "Age"],
            items
                .iter()
                .map(|j| {
                    let done = field(j, "status.succeeded").unwrap_or_else(|| "0".into());
                    vec![
                        field(j, "metadata.name").unwrap_or_default(),
                        format!("{done}/1"),
                        "-".into(),
                        age(j),
                    ]
                })
                .collect(),
        ),
        Kind::Pod => (
            vec!["Name", "Ready", "Status", "Restarts", "Age", "Node"],
            items
                .iter()
                .map(|p| {
                    let phase = field(p, "status.phase").unwrap_or_else(|| "Pending".into());
                    let ready = if phase == "Running" { "1/1" } else { "0/1" };
                    vec![
                        field(p, "metadata.name").unwrap_or_default(),
                        ready.into(),
                        phase,
                        "0".into(),
                        age(p),
                        field(p, "spec.nodeName").unwrap_or_else(|| "<none>".into()),
                    ]
                })
                .collect(),
        ),
        _ => (
            vec!["Name", "Age"],
            items
                .iter()
                .map(|v| vec![field(v, "metadata.name").unwrap_or_default(), age(v)])
                .collect(),
        ),
    };
    json!({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "metadata": {"resourceVersion": rv.to_string()},
           "columnDefinitions": cols.iter().map(|c| col(c)).collect::<Vec<_>>(),
           "rows": rows.iter().zip(items).map(|(cells, obj)| json!({"cells": cells, "object": {
               "kind": "PartialObjectMetadata", "apiVersion": "meta.k8s.io/v1", "metadata": obj["metadata"].clone()}})).collect::<Vec<_>>()})
}

/// Parses a body as the kind's k8s-openapi type and back: the wire check of every create.
fn validate(kind: Kind, body: &[u8]) -> Result<Value, String> {
    fn typed<T: serde::de::DeserializeOwned + serde::Serialize>(b: &[u8]) -> Result<Value, String> {
        let t: T = serde_json::from_slice(b).map_err(|e| e.to_string())?;
        serde_json::to_value(t).map_err(|e| e.to_string())
    }
    match kind {
        Kind::Job => typed::<Job>(body),
        Kind::Pod => typed::<Pod>(body),
        Kind::Node => typed::<Node>(body),
        Kind::ConfigMap => typed::<ConfigMap>(body),
        Kind::Event => typed::<Event>(body),
    }
}

fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = json!({});
            }
            for (k, v) in p {
                if v.is_null() {
                    if let Some(o) = target.as_object_mut() {
                        o.remove(k);
                    }
                } else {
                    merge(&mut target[k.as_str()], v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

pub fn handle(state: &Arc<State>, req: Request) -> Reply {
    state
        .requests
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .push(format!("{} {}", req.method, req.path));
    if req.method == "GET"
        && let Some(v) = discovery(state, &req.path)
    {
        return reply(200, &v);
    }
    let Some((kind, ns, name, sub)) = route(&req.path) else {
        return status(
            404,
            "NotFound",
            &format!(
                "the server could not find the requested resource ({})",
                req.path
            ),
        );
    };
    let ns_s = ns.clone().unwrap_or_default();
    let store = &state.store;
    match (req.method.as_str(), name, sub.as_deref()) {
        ("GET", Some(name), Some("log")) => {
            state.log(&ns_s, &name, req.param("follow") == Some("true"))
        }
        ("GET", None, None) if matches!(req.param("watch"), Some("true" | "1")) => {
            watch(state, kind, ns, &req)
        }
        ("GET", None, None) => {
            let (items, rv) = store.list(
                kind,
                ns.as_deref(),
                req.param("labelSelector"),
                req.param("fieldSelector"),
            );
            if req.header("accept").contains("as=Table") {
                return reply(200, &table(kind, &items, rv));
            }
            reply(
                200,
                &json!({"kind": format!("{}List", kind.name()), "apiVersion": kind.api_version(),
                                "metadata": {"resourceVersion": rv.to_string()}, "items": items}),
            )
        }
        ("GET", Some(name), None) => match store.get(kind, &ns_s, &name) {
            Some(v) => reply(200, &v),
            None => status(
                404,
                "NotFound",
                &format!("{} \"{name}\" not found", kind.name().to_lowercase()),
            ),
        },
        ("POST", None, None) => {
            let obj = match validate(kind, &req.body) {
                Ok(v) => v,
                Err(e) => return status(400, "BadRequest", &e),
            };
            match store.create(kind, &ns_s, obj) {
                Ok(v) => reply(201, &v),
                Err(e) => status(409, "AlreadyExists", &e),
            }
        }
        ("PATCH", Some(name), None) => {
            let Ok(patch) = serde_json::from_slice::<Value>(&req.body) else {
                return status(400, "BadRequest", "patch is not JSON");
            };
            match store.update(kind, &ns_s, &name, |v| merge(v, &patch)) {
                Some(v) => reply(200, &v),
                None => status(
                    404,
                    "NotFound",
                    &format!("{} \"{name}\" not found", kind.name().to_lowercase()),
                ),
            }
        }
        ("DELETE", Some(name), None) => {
            let opts: Value = serde_json::from_slice(&req.body).unwrap_or(json!({}));
            let propagation = field(&opts, "propagationPolicy")
                .or_else(|| req.param("propagationPolicy").map(str::to_string))
                .unwrap_or_else(|| {
                    if kind == Kind::Job {
                        "Orphan".into()
                    } else {
                        "Background".into()
                    }
                });
            match state.delete(kind, &ns_s, &name, propagation != "Orphan") {
                Some(v) => reply(200, &v),
                None => status(
                    404,
                    "NotFound",
                    &format!("{} \"{name}\" not found", kind.name().to_lowercase()),
                ),
            }
        }
        _ => status(
            405,
            "MethodNotAllowed",
            &format!("{} {} is not emulated", req.method, req.path),
        ),
    }
}

/// A watch: ADDED for what exists when no version is given, then the
/// changes, ending (on the wire) after `timeoutSeconds`.
fn watch(state: &Arc<State>, kind: Kind, ns: Option<String>, req: &Request) -> Reply {
    let labels = req.param("labelSelector").map(str::to_string);
    let fields = req.param("fieldSelector").map(str::to_string);
    let timeout = req
        .param("timeoutSeconds")
        .and_then(|t| t.parse::<u64>().ok())
        .unwrap_or(300)
        .min(300);
    let until = Instant::now() + Duration::from_secs(timeout);
    let from: u64 = req
        .param("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let mut pending: Vec<Value> = Vec::new();
    let mut rv = from;
    if from == 0 {
        let (items, now) =
            state
                .store
                .list(kind, ns.as_deref(), labels.as_deref(), fields.as_deref());
        pending = items
            .into_iter()
            .map(|o| json!({"type": "ADDED", "object": o}))
            .collect();
        rv = now;
    }
    let state = state.clone();
    let next = move || -> Option<Vec<u8>> {
        loop {
            if let Some(ev) = (!pending.is_empty()).then(|| pending.remove(0)) {
                let mut line = serde_json::to_vec(&ev).unwrap_or_default();
                line.push(b'\n');
                return Some(line);
            }
            if state.stopped() || Instant::now() >= until {
                return None;
            }
            let (changes, last) = state.store.changes_after(
                kind,
                rv,
                until.min(Instant::now() + Duration::from_millis(200)),
            );
            for c in changes {
                if ns.as_deref().is_none_or(|n| n == c.ns)
                    && super::store::matches(&c.object, labels.as_deref(), fields.as_deref())
                {
                    pending.push(json!({"type": c.type_, "object": c.object}));
                }
            }
            rv = last;
        }
    };
    Reply::Stream {
        content_type: "application/json",
        next: Box::new(next),
    }
}
