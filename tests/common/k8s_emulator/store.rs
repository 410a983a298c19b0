//! The emulator's object store: every object as the JSON the API serves, one
//! global resource version, and the history of changes that watches replay.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::{Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// The kinds the emulator serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Job,
    Pod,
    Node,
    ConfigMap,
    Event,
}

impl Kind {
    pub fn from_plural(p: &str) -> Option<Kind> {
        Some(match p {
            "jobs" => Kind::Job,
            "pods" => Kind::Pod,
            "nodes" => Kind::Node,
            "configmaps" => Kind::ConfigMap,
            "events" => Kind::Event,
            _ => return None,
        })
    }
    pub fn name(self) -> &'static str {
        match self {
            Kind::Job => "Job",
            Kind::Pod => "Pod",
            Kind::Node => "Node",
            Kind::ConfigMap => "ConfigMap",
            Kind::Event => "Event",
        }
    }
    pub fn api_version(self) -> &'static str {
        match self {
            Kind::Job => "batch/v1",
            _ => "v1",
        }
    }
}

/// One change, as a watch sends it.
#[derive(Debug, Clone)]
pub struct Change {
    pub rv: u64,
    pub kind: Kind,
    pub ns: String,
    pub type_: &'static str,
    pub object: Value,
}

#[derive(Default)]
pub struct Inner {
    pub rv: u64,
    pub uid: u64,
    pub objects: BTreeMap<(Kind, String, String), Value>,
    pub changes: Vec<Change>,
}

/// The store, shared by the API handlers and the controllers.
#[derive(Default)]
pub struct Store {
    inner: Mutex<Inner>,
    changed: Condvar,
}

pub fn now_rfc3339() -> String {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    chrono::DateTime::from_timestamp(secs as i64, 0)
        .map(|d| d.to_rfc3339_opts(chrono::SecondsFormat::Secs, true))
        .unwrap_or_default()
}

/// `a.b.c` of a JSON value, as a string.
pub fn field(v: &Value, path: &str) -> Option<String> {
    let mut cur = v;
    for p in path.split('.') {
        cur = cur.get(p)?;
    }
    match cur {
        Value::String(s) => Some(s.clone()),
        Value::Null => None,
        other => Some(other.to_string()),
    }
}

/// Does `v` match a label selector (`a=b,c!=d,e,!f`) and a field selector (`x.y=z`)?
pub fn matches(v: &Value, labels: Option<&str>, fields: Option<&str>) -> bool {
    let lbl = |k: &str| {
        v.pointer(&format!(
            "/metadata/labels/{}",
            k.replace('~', "~0").replace('/', "~1")
        ))
        .and_then(Value::as_str)
        .map(str::to_string)
    };
    let ok_labels = labels
        .unwrap_or("")
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .all(|t| {
            let t = t.trim();
            if let Some((k, val)) = t.split_once("!=") {
                lbl(k).as_deref() != Some(val)
            } else if let Some((k, val)) = t.split_once("==").or_else(|| t.split_once('=')) {
                lbl(k).as_deref() == Some(val)
            } else if let Some(k) = t.strip_prefix('!') {
                lbl(k).is_none()
            } else {
                lbl(t).is_some()
            }
        });
    let ok_fields = fields
        .unwrap_or("")
        .split(',')
        .filter(|t| !t.trim().is_empty())
        .all(|t| {
            if let Some((k, val)) = t.split_once("!=") {
                field(v, k).as_deref() != Some(val)
            } else if let Some((k, val)) = t.split_once("==").or_else(|| t.split_once('=')) {
                field(v, k).unwrap_or_default() == val
            } else {
                true
            }
        });
    ok_labels && ok_fields
}

impl Store {
    pub fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    fn record(&self, g: &mut Inner, kind: Kind, ns: &str, type_: &'static str, object: Value) {
        g.changes.push(Change {
            rv: g.rv,
            kind,
            ns: ns.into(),
            type_,
            object,
        });
        self.changed.notify_all();
    }

    /// Creates an object: fills uid, resourceVersion, timestamps, kind.
    pub fn create(&self, kind: Kind, ns: &str, mut obj: Value) -> Result<Value, String> {
        let mut g = self.lock();
        let name = match field(&obj, "metadata.name") {
            Some(n) => n,
            None => {
                let prefix =
                    field(&obj, "metadata.generateName").ok_or("name or generateName required")?;
                g.uid += 1;
                format!("{prefix}{:05x}", g.uid)
            }
        };
        let key = (kind, ns.to_string(), name.clone());
        if g.objects.contains_key(&key) {
            return Err(format!("{} \"{name}\" already exists", kind.name()));
        }
        g.rv += 1;
        g.uid += 1;
        obj["kind"] = json!(kind.name());
        obj["apiVersion"] = json!(kind.api_version());
        let m = &mut obj["metadata"];
        m["name"] = json!(name);
        if kind != Kind::Node {
            m["namespace"] = json!(ns);
        }
        m["uid"] = json!(format!("00000000-0000-4000-8000-{:012x}", g.uid));
        m["resourceVersion"] = json!(g.rv.to_string());
        m["creationTimestamp"] = json!(now_rfc3339());
        g.objects.insert(key, obj.clone());
        let rv = g.rv;
        let _ = rv;
        self.record(&mut g, kind, ns, "ADDED", obj.clone());
        Ok(obj)
    }

    pub fn get(&self, kind: Kind, ns: &str, name: &str) -> Option<Value> {
        self.lock()
            .objects
            .get(&(kind, ns.to_string(), name.to_string()))
            .cloned()
    }

    /// Matching objects and the current resource version.
    pub fn list(
        &self,
        kind: Kind,
        ns: Option<&str>,
        labels: Option<&str>,
        fields: Option<&str>,
    ) -> (Vec<Value>, u64) {
        let g = self.lock();
        let items = g
            .objects
            .iter()
            .filter(|((k, n, _), v)| {
                *k == kind && ns.is_none_or(|ns| ns == n) && matches(v, labels, fields)
            })
            .map(|(_, v)| v.clone())
            .collect();
        (items, g.rv)
    }

    /// Changes an object in place; `None` when it does not exist.
    pub fn update(
        &self,
        kind: Kind,
        ns: &str,
        name: &str,
        f: impl FnOnce(&mut Value),
    ) -> Option<Value> {
        let mut g = self.lock();
        let key = (kind, ns.to_string(), name.to_string());
        let mut obj = g.objects.get(&key)?.clone();
        let before = obj.clone();
        f(&mut obj);
        if obj == before {
            return Some(obj);
        }
        g.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(g.rv.to_string());
        g.objects.insert(key, obj.clone());
        self.record(&mut g, kind, ns, "MODIFIED", obj.clone());
        Some(obj)
    }

    pub fn delete(&self, kind: Kind, ns: &str, name: &str) -> Option<Value> {
        let mut g = self.lock();
        let mut obj = g
            .objects
            .remove(&(kind, ns.to_string(), name.to_string()))?;
        g.rv += 1;
        obj["metadata"]["resourceVersion"] = json!(g.rv.to_string());
        self.record(&mut g, kind, ns, "DELETED", obj.clone());
        Some(obj)
    }

    /// Changes after `rv` of `kind`, waiting until there is one or `until`.
    pub fn changes_after(&self, kind: Kind, rv: u64, until: Instant) -> (Vec<Change>, u64) {
        let mut g = self.lock();
        loop {
            let found: Vec<Change> = g
                .changes
                .iter()
                .filter(|c| c.rv > rv && c.kind == kind)
                .cloned()
                .collect();
            let last = g.rv;
            if !found.is_empty() {
                return (found, last);
            }
            let now = Instant::now();
            if now >= until {
                return (Vec::new(), last);
            }
            let wait = (until - now).min(Duration::from_millis(100));
            g = self
                .changed
                .wait_timeout(g, wait)
                .map(|r| r.0)
                .unwrap_or_else(|e| e.into_inner().0);
        }
    }
}
