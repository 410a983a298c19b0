//! The preflight: on every eligible node, a small pod checks DNS and HTTPS
//! reachability of each source the lock needs, once from the pod network and
//! once from the node's own network (`hostNetwork: true`), so a node whose
//! pods lose their replies (the SYN-ACK rewritten towards the pod address and
//! never delivered) is told apart from a node that cannot reach out at all.
//! The same probe runs in a container for `--builder docker`.

use super::cluster::{Cluster, Excluded, describe_nodes};
use super::config::K8sConfig;
use super::follow::{Follow, Outcome};
use super::spec::{
    self, JobRequest, MANAGED_BY, MANAGED_BY_LABEL, PREFLIGHT_LABEL, Placement, RUN_ID_LABEL,
};
use crate::lock::Lock;
use crate::manifest::Ecosystem;
use kube::api::{ListParams, Patch, PatchParams, PostParams};
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

/// The failure mode of a node that reaches a host while its pods do not.
pub const EGRESS_LOST: &str = "pod egress lost on this node: replies to the pod address do not come back; check the NAT/masquerade rules of the node's network";

/// The probe: for each URL of `$SONIC_LOCK_PROBE_URLS`, one line
/// `sonic-lock-probe URL dns=ok|fail https=ok|fail`. Any HTTP answer (even an
/// error status) is reachability; curl, else wget, must be in the image.
pub const PROBE_SCRIPT: &str = r#"t="${SONIC_LOCK_PROBE_TIMEOUT:-10}"
for u in $SONIC_LOCK_PROBE_URLS; do
  h="${u#*://}"; h="${h%%/*}"; h="${h%%:*}"
  if getent hosts "$h" >/dev/null 2>&1 || nslookup "$h" >/dev/null 2>&1; then d=ok; else d=fail; fi
  if command -v curl >/dev/null 2>&1; then
    if curl -s -o /dev/null --max-time "$t" "$u"; then c=ok; else c=fail; fi
  else
    wget -q -O /dev/null -T "$t" "$u"; r=$?
    if [ "$r" = 0 ] || [ "$r" = 8 ]; then c=ok; else c=fail; fi
  fi
  echo "sonic-lock-probe $u dns=$d https=$c"
done
"#;

/// The probe's argv.
pub fn probe_argv() -> Vec<String> {
    vec!["/bin/sh".into(), "-c".into(), PROBE_SCRIPT.into()]
}

/// What the preflight checks and how.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProbeConfig {
    /// The URLs to reach.
    pub urls: Vec<String>,
    /// Seconds one check may take.
    pub timeout_secs: u32,
    /// Also probe from the node's network (needs pods with `hostNetwork`).
    pub host_network: bool,
    /// Label each node with the verdict (needs `patch` on nodes).
    pub label_nodes: bool,
}

/// One destination checked from one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Check {
    /// The URL.
    pub url: String,
    /// Its host name resolved.
    pub dns: bool,
    /// An HTTP(S) answer came back.
    pub https: bool,
}

/// The probes of one node (or of the local container runtime).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeProbe {
    /// The node.
    pub node: String,
    /// From the pod network; `Err` when the probe did not run.
    pub pod: Result<Vec<Check>, String>,
    /// From the node's network, when probed.
    pub host: Option<Result<Vec<Check>, String>>,
    /// What is wrong, in words; empty for a fit node.
    pub problems: Vec<String>,
}

/// The preflight's findings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Report {
    /// The destinations, in column order.
    pub urls: Vec<String>,
    /// One row per node.
    pub rows: Vec<NodeProbe>,
}

/// Parses the probe's output lines.
pub fn parse_probe(output: &str) -> Vec<Check> {
    output
        .lines()
        .filter_map(|l| {
            let mut f = l.split_whitespace();
            (f.next()? == "sonic-lock-probe").then_some(())?;
            let url = f.next()?.to_string();
            let dns = f.next()? == "dns=ok";
            let https = f.next()? == "https=ok";
            Some(Check { url, dns, https })
        })
        .collect()
}

fn host_of(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// What is wrong with a node, from its two sets of checks.
pub fn diagnose(
    urls: &[String],
    pod: &Result<Vec<Check>, String>,
    host: &Option<Result<Vec<Check>, String>>,
) -> Vec<String> {
    let pod = match pod {
        Ok(c) => c,
        Err(e) => return vec![format!("probe did not run: {e}")],
    };
    let host = match host {
        Some(Ok(c)) => Some(c),
        _ => None,
    };
    let find = |checks: &[Check], url: &str| checks.iter().find(|c| c.url == url).cloned();
    let mut out = Vec::new();
    let mut egress_lost = false;
    for url in urls {
        let h = host_of(url);
        let Some(p) = find(pod, url) else {
            out.push(format!("{h}: no answer from the probe"));
            continue;
        };
        let n = host.and_then(|hc| find(hc, url));
        match (p.dns, p.https, n.as_ref().map(|c| (c.dns, c.https))) {
            (true, true, _) => {}
            (false, _, Some((true, _))) => out.push(format!(
                "{h}: DNS fails from pods but not from the node (cluster DNS)"
            )),
            (_, false, Some((_, true))) => {
                egress_lost = true;
                out.push(format!(
                    "{h}: unreachable from pods, reachable from the node"
                ));
            }
            (_, _, Some(_)) => out.push(format!("{h}: the node itself cannot reach it")),
            (d, _, None) => out.push(format!(
                "{h}: unreachable from pods{}",
                if d { "" } else { " (DNS fails)" }
            )),
        }
    }
    if egress_lost {
        out.insert(0, EGRESS_LOST.to_string());
    }
    out
}

impl Report {
    /// True when every node is fit.
    pub fn all_fit(&self) -> bool {
        self.rows.iter().all(|r| r.problems.is_empty())
    }

    /// The unfit nodes, for the exclusion list.
    pub fn exclusions(&self) -> Vec<Excluded> {
        self.rows
            .iter()
            .filter(|r| !r.problems.is_empty())
            .map(|r| Excluded {
                node: r.node.clone(),
                reason: r.problems.join("; "),
            })
            .collect()
    }

    /// The table node x destination: `ok`, `dns` or `FAIL`, as `pod/host`.
    pub fn table(&self) -> String {
        let cell = |checks: &Result<Vec<Check>, String>, url: &str| match checks {
            Err(_) => "-".to_string(),
            Ok(cs) => match cs.iter().find(|c| c.url == url) {
                Some(c) if c.dns && c.https => "ok".into(),
                Some(c) if !c.dns => "dns".into(),
                Some(_) => "FAIL".into(),
                None => "?".into(),
            },
        };
        let mut rows: Vec<Vec<String>> = vec![
            std::iter::once("node".to_string())
                .chain(self.urls.iter().map(|u| host_of(u).to_string()))
                .chain(std::iter::once("verdict".to_string()))
                .collect(),
        ];
        for r in &self.rows {
            let mut row = vec![r.node.clone()];
            for u in &self.urls {
                let p = cell(&r.pod, u);
                row.push(match &r.host {
                    Some(h) => format!("{p}/{}", cell(h, u)),
                    None => p,
                });
            }
            row.push(
                if r.problems.is_empty() {
                    "fit"
                } else {
                    "UNFIT"
                }
                .into(),
            );
            rows.push(row);
        }
        let widths: Vec<usize> = (0..rows[0].len())
            .map(|i| rows.iter().map(|r| r[i].len()).max().unwrap_or(0))
            .collect();
        let mut out = String::new();
        for r in &rows {
            let line: Vec<String> = r
                .iter()
                .zip(&widths)
                .map(|(c, w)| format!("{c:<w$}"))
                .collect();
            out.push_str(line.join("  ").trim_end());
            out.push('\n');
        }
        if self.rows.iter().any(|r| r.host.is_some()) {
            out.push_str("(cells: from the pod network / from the node's network)\n");
        }
        for r in self.rows.iter().filter(|r| !r.problems.is_empty()) {
            for p in &r.problems {
                out.push_str(&format!("{}: {p}\n", r.node));
            }
        }
        out
    }
}

/// The origin (`scheme://host[:port]/`) of a URL.
fn origin(url: &str) -> Option<String> {
    let (scheme, rest) = url.split_once("://")?;
    let host = rest.split('/').next().filter(|h| !h.is_empty())?;
    Some(format!("{scheme}://{host}/"))
}

/// The sources a lock needs: each archive and pinned URL's origin, and the
/// public service of each ecosystem pinned without a URL.
pub fn destinations(lock: &Lock) -> Vec<String> {
    let mut out = std::collections::BTreeSet::new();
    for a in &lock.archives {
        if let Some(o) = a.url.as_deref().and_then(origin) {
            out.insert(o);
        }
    }
    for p in &lock.pins {
        if let Some(o) = p.url.as_deref().and_then(origin) {
            out.insert(o);
            continue;
        }
        let default = match p.ecosystem {
            Ecosystem::Deb | Ecosystem::DebSrc if lock.archives.iter().all(|a| a.url.is_none()) => {
                "https://snapshot.debian.org/"
            }
            Ecosystem::Deb | Ecosystem::DebSrc => continue,
            Ecosystem::Py => "https://pypi.org/simple/",
            Ecosystem::Go => "https://proxy.golang.org/",
            Ecosystem::Git | Ecosystem::Web => "https://github.com/",
            Ecosystem::Docker => "https://registry-1.docker.io/v2/",
        };
        out.insert(default.to_string());
    }
    out.into_iter().collect()
}

async fn probe_node(
    cluster: &Cluster,
    config: &K8sConfig,
    probe: &ProbeConfig,
    run_id: &str,
    node: &str,
    host_network: bool,
    log_dir: &Path,
) -> Result<Vec<Check>, String> {
    let kind = if host_network { "host" } else { "pod" };
    let name = format!("sl-{run_id}-probe-{}-{kind}", short(node));
    let labels = BTreeMap::from([
        (MANAGED_BY_LABEL.to_string(), MANAGED_BY.to_string()),
        (RUN_ID_LABEL.to_string(), run_id.to_string()),
    ]);
    let placement = Placement {
        node: Some(node.into()),
        host_network,
    };
    let mut cfg = config.clone();
    cfg.timeout = None;
    let argv = probe_argv();
    let job = spec::job(
        &cfg,
        JobRequest {
            name: &name,
            labels: &labels,
            argv: &argv,
            env: vec![
                ("SONIC_LOCK_PROBE_URLS".into(), probe.urls.join(" ")),
                (
                    "SONIC_LOCK_PROBE_TIMEOUT".into(),
                    probe.timeout_secs.to_string(),
                ),
            ],
            candidate: None,
            placement: &placement,
        },
    );
    cluster
        .jobs()
        .create(&PostParams::default(), &job)
        .await
        .map_err(|e| e.to_string())?;
    let log = log_dir.join(format!("{node}-{kind}.log"));
    let _ = std::fs::write(&log, b"");
    let budget = Duration::from_secs(
        u64::from(probe.timeout_secs) * 2 * (probe.urls.len() as u64 + 1) + 120,
    );
    let out = Follow {
        cluster,
        job: &name,
        log: &log,
        watch_timeout: config.watch_timeout,
        job_deadline: None,
        deadline: Some(Instant::now() + budget),
        interrupted: crate::trial::signal::interrupted,
    }
    .run()
    .await;
    let _ = super::cluster::delete_quietly(
        cluster
            .jobs()
            .delete(
                &name,
                &kube::api::DeleteParams {
                    propagation_policy: Some(kube::api::PropagationPolicy::Background),
                    ..Default::default()
                },
            )
            .await,
    );
    match out {
        Ok(Outcome::Exited { code: 0, .. }) => Ok(parse_probe(
            &std::fs::read_to_string(&log).unwrap_or_default(),
        )),
        Ok(Outcome::Exited { code, .. }) => Err(format!(
            "probe pod exited with {code} (see {})",
            log.display()
        )),
        Ok(other) => Err(format!("{other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

/// A node name cut to fit in a Job name.
fn short(node: &str) -> String {
    let clean: String = node
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_lowercase()
            } else {
                '-'
            }
        })
        .collect();
    let hash = &crate::fsio::sha256_hex(node.as_bytes())[..6];
    format!(
        "{}-{hash}",
        clean.chars().take(20).collect::<String>().trim_matches('-')
    )
}

/// Runs the probes on every eligible node of the cluster (in parallel), labels
/// the nodes when asked, and returns the report.
pub fn run_k8s(
    cluster: &Cluster,
    config: &K8sConfig,
    probe: &ProbeConfig,
) -> Result<Report, super::cluster::ClusterError> {
    let run_id = super::cluster::new_run_id();
    super::cluster::register_run(&config.state_dir, &run_id, &cluster.namespace)?;
    let log_dir = config.state_dir.join("preflight");
    std::fs::create_dir_all(&log_dir).map_err(|source| super::cluster::ClusterError::State {
        path: log_dir.clone(),
        source,
    })?;
    let report = cluster.rt.block_on(async {
        let nodes = cluster.nodes().list(&ListParams::default()).await?;
        let eligible: Vec<String> = describe_nodes(&nodes.items, config)
            .into_iter()
            .filter(|n| n.unfit.is_none())
            .map(|n| n.name)
            .collect();
        let probes = eligible.iter().map(|node| {
            let log_dir = log_dir.clone();
            let run_id = run_id.clone();
            async move {
                let pod = probe_node(cluster, config, probe, &run_id, node, false, &log_dir);
                let host = async {
                    if probe.host_network {
                        Some(
                            probe_node(cluster, config, probe, &run_id, node, true, &log_dir).await,
                        )
                    } else {
                        None
                    }
                };
                let (pod, host) = tokio::join!(pod, host);
                let problems = diagnose(&probe.urls, &pod, &host);
                NodeProbe {
                    node: node.clone(),
                    pod,
                    host,
                    problems,
                }
            }
        });
        let rows = futures::future::join_all(probes).await;
        if probe.label_nodes {
            for r in &rows {
                let value = if r.problems.is_empty() {
                    "fit"
                } else {
                    "unfit"
                };
                let patch = serde_json::json!({"metadata": {"labels": {PREFLIGHT_LABEL: value}}});
                cluster
                    .nodes()
                    .patch(&r.node, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
        }
        let _ = cluster.delete_run(&run_id).await;
        Ok::<_, kube::Error>(Report {
            urls: probe.urls.clone(),
            rows,
        })
    });
    super::cluster::unregister_run(&config.state_dir, &run_id);
    Ok(report?)
}

/// Runs the probe in a container of `image` with `runtime` (docker or podman),
/// on its default network and, when asked, on the host's.
pub fn run_docker(runtime: &str, image: &str, probe: &ProbeConfig) -> Report {
    let once = |host: bool| -> Result<Vec<Check>, String> {
        let mut cmd = std::process::Command::new(runtime);
        cmd.args(["run", "--rm"]);
        if host {
            cmd.args(["--network", "host"]);
        }
        cmd.args([
            "-e",
            &format!("SONIC_LOCK_PROBE_URLS={}", probe.urls.join(" ")),
        ])
        .args([
            "-e",
            &format!("SONIC_LOCK_PROBE_TIMEOUT={}", probe.timeout_secs),
        ])
        .arg(image)
        .args(probe_argv())
        .stdin(std::process::Stdio::null());
        let out = cmd.output().map_err(|e| format!("{runtime}: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "{runtime} run: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            ));
        }
        Ok(parse_probe(&String::from_utf8_lossy(&out.stdout)))
    };
    let pod = once(false);
    let host = probe.host_network.then(|| once(true));
    let problems = diagnose(&probe.urls, &pod, &host);
    Report {
        urls: probe.urls.clone(),
        rows: vec![NodeProbe {
            node: format!("{runtime} (this machine)"),
            pod,
            host,
            problems,
        }],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn egress_lost_is_named() {
        let urls = vec![
            "https://github.com/".to_string(),
            "https://pypi.org/simple/".to_string(),
        ];
        let pod = Ok(parse_probe(
            "sonic-lock-probe https://github.com/ dns=ok https=fail\nsonic-lock-probe https://pypi.org/simple/ dns=ok https=ok\n",
        ));
        let host = Some(Ok(parse_probe(
            "sonic-lock-probe https://github.com/ dns=ok https=ok\nsonic-lock-probe https://pypi.org/simple/ dns=ok https=ok\n",
        )));
        let problems = diagnose(&urls, &pod, &host);
        assert_eq!(problems[0], EGRESS_LOST);
        let report = Report {
            urls,
            rows: vec![NodeProbe {
                node: "n1".into(),
                pod,
                host,
                problems,
            }],
        };
        assert!(!report.all_fit());
        let t = report.table();
        assert!(t.contains("n1    FAIL/ok     ok/ok"), "{t}");
        assert_eq!(report.exclusions()[0].node, "n1");
    }

    #[test]
    fn origins_of_a_lock() {
        assert_eq!(
            origin("http://127.0.0.1:8080/x/y").as_deref(),
            Some("http://127.0.0.1:8080/")
        );
        assert_eq!(origin("nope"), None);
    }
}
