//! The k8s builder and `sonic-lock preflight --builder k8s` against the
//! loopback API emulation: pass, fail, skip, timeout, node loss and re-queue,
//! a node whose pods have no egress, Ctrl-C cleanup, orphans of a killed run;
//! and the emulator's wire compatibility with Debian's kubectl.

use crate::common::{sh, skip, sonic_lock, trial_input};
use crate::k8s_emulator::{Emulator, Kind, NodeSpec};
use sonic_lock::trial::builder::{Builder, Verdict};
use sonic_lock::trial::k8s::{K8sBuilder, K8sConfig};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

fn cluster(nodes: &[&str]) -> Emulator {
    let specs: Vec<NodeSpec> = nodes
        .iter()
        .map(|n| NodeSpec::new(n).label("r2lab/node", "true"))
        .collect();
    Emulator::start(&specs)
}

fn config(emu: &Emulator, dir: &Path, argv: Vec<String>) -> K8sConfig {
    let kc = dir.join("kubeconfig");
    emu.write_kubeconfig(&kc);
    let mut c = K8sConfig::new("debian:bookworm", argv);
    c.connection.kubeconfig = Some(kc);
    c.node_selector = vec![("r2lab/node".into(), "true".into())];
    c.state_dir = dir.join("state");
    c.no_preflight = true;
    c.watch_timeout = Duration::from_secs(1);
    c
}

fn no_trial_objects(emu: &Emulator) -> bool {
    emu.list(Kind::Job).is_empty()
        && emu.list(Kind::Pod).is_empty()
        && emu.list(Kind::ConfigMap).is_empty()
}

#[test]
fn pass_fail_skip_and_log() {
    let emu = cluster(&["n1", "n2"]);
    let d = tempfile::tempdir().unwrap();
    let script = "cat \"$SONIC_LOCK_VERSIONS_DIR/default/versions-deb\"; test -f \"$SONIC_LOCK_LOCKFILE\" || exit 3; \
                  echo building in $(pwd); exit $(cat \"$SONIC_LOCK_WORK_DIR\"/../../code 2>/dev/null || echo $CODE)";
    for (code, verdict) in [
        ("0", Verdict::Pass),
        ("1", Verdict::Fail),
        ("125", Verdict::Skip),
    ] {
        let mut c = config(&emu, d.path(), sh(script));
        c.env = vec![("CODE".into(), code.into())];
        let b = K8sBuilder::new(c).unwrap();
        let input = trial_input(
            &d.path().join(format!("ws{code}")),
            &format!("cand{code}"),
            &b.identity(),
        );
        let r = b.run(&input).unwrap();
        assert_eq!(
            r.verdict,
            verdict,
            "exit {code}: {}",
            std::fs::read_to_string(&r.log).unwrap()
        );
        assert_eq!(r.exit_code, Some(code.parse().unwrap()));
        let log = std::fs::read_to_string(&r.log).unwrap();
        assert!(
            log.contains("libfoo==1.0-1") && log.contains("building in"),
            "{log}"
        );
        assert!(r.requeues.is_empty());
    }
    emu.wait_for(10, "jobs deleted", no_trial_objects);
}

#[test]
fn timeout_is_a_failure() {
    let emu = cluster(&["n1"]);
    let d = tempfile::tempdir().unwrap();
    let mut c = config(&emu, d.path(), sh("sleep 30"));
    c.timeout = Some(Duration::from_secs(1));
    let b = K8sBuilder::new(c).unwrap();
    let input = trial_input(d.path(), "slow", &b.identity());
    let r = b.run(&input).unwrap();
    assert!(r.timed_out, "{r:?}");
    assert_eq!(r.verdict, Verdict::Fail);
    assert!(r.duration < Duration::from_secs(20), "{r:?}");
}

/// The first attempt marks a file and hangs; the test takes its node away;
/// the second attempt (on the other node) sees the mark and passes.
fn node_loss(partition: bool) {
    let emu = cluster(&["n1", "n2"]);
    let d = tempfile::tempdir().unwrap();
    let mark = d.path().join("mark");
    let script = format!(
        "if [ -e {m} ]; then echo second attempt; exit 0; fi; touch {m}; sleep 60",
        m = mark.display()
    );
    let b = K8sBuilder::new(config(&emu, d.path(), sh(&script))).unwrap();
    let input = trial_input(d.path(), "lost", &b.identity());
    std::thread::scope(|s| {
        let (tx, rx) = std::sync::mpsc::channel();
        let (b, input) = (&b, &input);
        s.spawn(move || tx.send(b.run(input)));
        emu.wait_for(20, "first attempt running", |e| {
            mark.exists() && !e.running_pods().is_empty()
        });
        let (_, node) = emu.running_pods().pop().unwrap();
        if partition {
            emu.partition_node(&node);
        } else {
            emu.lose_node(&node);
        }
        let Ok(r) = rx.recv_timeout(Duration::from_secs(30)) else {
            let reqs = emu.state.requests.lock().unwrap().clone();
            let pods: Vec<String> = emu
                .list(Kind::Pod)
                .iter()
                .map(|p| {
                    format!(
                        "{} {} {}",
                        p["metadata"]["name"], p["spec"]["nodeName"], p["status"]["phase"]
                    )
                })
                .collect();
            panic!(
                "no verdict 30s after the node loss (partition: {partition})\nlast requests:\n{}\npods: {pods:?}\nlog: {}",
                reqs[reqs.len().saturating_sub(30)..].join("\n"),
                std::fs::read_to_string(&input.log).unwrap_or_default()
            );
        };
        let r = r.unwrap();
        assert_eq!(
            r.verdict,
            Verdict::Pass,
            "{}",
            std::fs::read_to_string(&r.log).unwrap()
        );
        assert_eq!(r.requeues.len(), 1);
        assert_eq!(r.requeues[0].node, node);
        let log = std::fs::read_to_string(&r.log).unwrap();
        assert!(
            log.contains("re-queued") && log.contains("second attempt"),
            "{log}"
        );
    });
}

#[test]
fn node_loss_requeues_elsewhere() {
    node_loss(false);
}

#[test]
fn node_loss_requeue_is_deterministic() {
    // The watch path (pod deleted) and the re-list path (node stops reporting,
    // pod left Running) both, several times: a stalled watch would hang here.
    for _ in 0..3 {
        node_loss(false);
        node_loss(true);
    }
}

#[test]
fn k_losses_are_a_skip() {
    let emu = cluster(&["n1", "n2"]);
    let d = tempfile::tempdir().unwrap();
    let mut c = config(&emu, d.path(), sh("sleep 60"));
    c.max_node_losses = 2;
    let b = K8sBuilder::new(c).unwrap();
    let input = trial_input(d.path(), "unlucky", &b.identity());
    std::thread::scope(|s| {
        let t = s.spawn(|| b.run(&input));
        for _ in 0..2 {
            emu.wait_for(20, "an attempt running", |e| !e.running_pods().is_empty());
            let (_, node) = emu.running_pods().pop().unwrap();
            emu.lose_node(&node);
        }
        let r = t.join().unwrap().unwrap();
        assert_eq!(r.verdict, Verdict::Skip);
        assert_eq!(r.requeues.len(), 2);
    });
}

fn kubeconfig_args(emu: &Emulator, dir: &Path) -> Vec<String> {
    let kc = dir.join("kubeconfig");
    emu.write_kubeconfig(&kc);
    vec![
        "--kubeconfig".into(),
        kc.display().to_string(),
        "--node-selector".into(),
        "r2lab/node=true".into(),
        "--k8s-state-dir".into(),
        dir.join("state").display().to_string(),
    ]
}

fn versions(dir: &Path) {
    std::fs::create_dir_all(dir.join("v/default")).unwrap();
    std::fs::write(dir.join("v/default/versions-py3"), "lxml==4.9.1\n").unwrap();
}

#[test]
fn preflight_names_egress_loss_and_the_builder_avoids_the_node() {
    let emu = Emulator::start(&[
        NodeSpec::new("good").label("r2lab/node", "true"),
        NodeSpec::new("natted")
            .label("r2lab/node", "true")
            .no_egress(),
    ]);
    if Command::new("curl").arg("--version").output().is_err() {
        return skip::skip_or_fail("curl is not installed (the probe needs curl or wget)");
    }
    let origin = crate::common::loopback::serve(|_, _| crate::common::loopback::ok("ok"));
    let d = tempfile::tempdir().unwrap();
    let mut args: Vec<String> = vec![
        "preflight".into(),
        "--builder".into(),
        "k8s".into(),
        "--image".into(),
        "curl".into(),
        "--dest".into(),
        origin.url("/simple/"),
        "--probe-timeout".into(),
        "2".into(),
        "--label-nodes".into(),
    ];
    args.extend(kubeconfig_args(&emu, d.path()));
    let o = sonic_lock().args(&args).output().unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert_eq!(o.status.code(), Some(1), "{}", crate::common::text(&o));
    assert!(out.contains("pod egress lost on this node"), "{out}");
    let good = out.lines().find(|l| l.starts_with("good")).unwrap();
    let natted = out.lines().find(|l| l.starts_with("natted ")).unwrap();
    assert!(good.contains("ok/ok") && good.ends_with("fit"), "{out}");
    assert!(
        natted.contains("FAIL/ok") && natted.ends_with("UNFIT"),
        "{out}"
    );
    assert_eq!(
        emu.node_label("natted", "sonic-lock.io/preflight")
            .as_deref(),
        Some("unfit")
    );
    let excluded = std::fs::read_to_string(d.path().join("state/excluded-nodes.json")).unwrap();
    assert!(
        excluded.contains("natted") && !excluded.contains("\"good\""),
        "{excluded}"
    );
    // Four trials at once: every one lands on the fit node.
    versions(d.path());
    let mut args: Vec<String> = vec![
        "--quiet".into(),
        "trial".into(),
        "--versions".into(),
        "v".into(),
        "--workspace".into(),
        "ws".into(),
        "--builder".into(),
        "k8s".into(),
        "--image".into(),
        "img".into(),
    ];
    args.extend(kubeconfig_args(&emu, d.path()));
    args.extend([
        "--".into(),
        "/bin/sh".into(),
        "-c".into(),
        "echo ran".into(),
    ]);
    let o = sonic_lock()
        .current_dir(d.path())
        .args(&args)
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", crate::common::text(&o));
    let log = std::fs::read_dir(d.path().join("ws"))
        .unwrap()
        .flatten()
        .flat_map(|e| std::fs::read_dir(e.path()).into_iter().flatten().flatten())
        .filter(|e| e.file_name().to_string_lossy().ends_with(".log"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect::<String>();
    assert!(
        log.contains("on node good") && !log.contains("natted"),
        "{log}"
    );
}

fn spawn_trial(emu: &Emulator, d: &Path, tag: &str) -> std::process::Child {
    versions(d);
    let mut args: Vec<String> = vec![
        "--quiet".into(),
        "trial".into(),
        "--versions".into(),
        "v".into(),
        "--workspace".into(),
        format!("ws-{tag}"),
        "--builder".into(),
        "k8s".into(),
        "--image".into(),
        "img".into(),
        "--no-preflight".into(),
    ];
    args.extend(kubeconfig_args(emu, d));
    args.extend([
        "--".into(),
        "/bin/sh".into(),
        "-c".into(),
        format!("echo {tag}; sleep 60"),
    ]);
    sonic_lock()
        .current_dir(d)
        .args(&args)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

#[test]
fn ctrl_c_deletes_the_jobs() {
    let emu = cluster(&["n1"]);
    let d = tempfile::tempdir().unwrap();
    let mut child = spawn_trial(&emu, d.path(), "interrupted");
    emu.wait_for(30, "the pod running", |e| !e.running_pods().is_empty());
    // SAFETY: signalling the child this test started.
    unsafe {
        libc::kill(child.id() as i32, libc::SIGINT);
    }
    let status = child.wait().unwrap();
    assert!(!status.success());
    emu.wait_for(10, "Jobs, pods and ConfigMaps deleted", no_trial_objects);
}

#[test]
fn orphans_of_a_killed_run_are_removed() {
    let emu = cluster(&["n1", "n2"]);
    let d = tempfile::tempdir().unwrap();
    let mut child = spawn_trial(&emu, d.path(), "killed");
    emu.wait_for(30, "the pod running", |e| !e.running_pods().is_empty());
    child.kill().unwrap();
    child.wait().unwrap();
    assert_eq!(
        emu.list(Kind::Job).len(),
        1,
        "the killed run's Job is still there"
    );
    let mut c = config(&emu, d.path(), sh("true"));
    c.state_dir = d.path().join("state");
    let b = K8sBuilder::new(c).unwrap();
    assert_eq!(b.reaped, 1);
    emu.wait_for(10, "the orphan removed", no_trial_objects);
}

/// Debian's `kubernetes-client`: `$SONIC_LOCK_KUBECTL`, else `kubectl` on PATH.
fn kubectl() -> Option<String> {
    let k = std::env::var("SONIC_LOCK_KUBECTL").unwrap_or_else(|_| "kubectl".into());
    Command::new(&k)
        .args(["version", "--client"])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|_| k)
}

#[test]
#[cfg_attr(
    not(ci),
    ignore = "needs Debian's kubectl (kubernetes-client); runs under CI"
)]
fn kubectl_lists_and_describes_jobs_and_pods() {
    let Some(kubectl) = kubectl() else {
        return skip::skip_or_fail(
            "kubectl (Debian's kubernetes-client) is not installed; set SONIC_LOCK_KUBECTL",
        );
    };
    let emu = cluster(&["n1"]);
    let d = tempfile::tempdir().unwrap();
    let mut c = config(&emu, d.path(), sh("echo hello; sleep 60"));
    c.ttl_after_finished = Some(600);
    let b = K8sBuilder::new(c).unwrap();
    let input = trial_input(d.path(), "seen", &b.identity());
    std::thread::scope(|s| {
        let t = s.spawn(|| b.run(&input));
        emu.wait_for(20, "the pod running", |e| !e.running_pods().is_empty());
        let (pod, _) = emu.running_pods().pop().unwrap();
        let job = emu.list(Kind::Job)[0]["metadata"]["name"]
            .as_str()
            .unwrap()
            .to_string();
        let kc = d.path().join("kubeconfig");
        let run = |args: &[&str]| {
            let o = Command::new(&kubectl)
                .arg("--kubeconfig")
                .arg(&kc)
                .args(args)
                .output()
                .unwrap();
            assert!(
                o.status.success(),
                "kubectl {args:?}: {}",
                crate::common::text(&o)
            );
            String::from_utf8_lossy(&o.stdout).into_owned()
        };
        let jobs = run(&["get", "jobs"]);
        assert!(jobs.contains(&job), "{jobs}");
        let pods = run(&["get", "pods", "-o", "wide"]);
        assert!(pods.contains(&pod) && pods.contains("Running"), "{pods}");
        let dj = run(&["describe", "job", &job]);
        assert!(dj.contains(&job) && dj.contains("SuccessfulCreate"), "{dj}");
        let dp = run(&["describe", "pod", &pod]);
        assert!(dp.contains("n1") && dp.contains("Scheduled"), "{dp}");
        let logs = run(&["logs", &pod]);
        assert!(logs.contains("hello"), "{logs}");
        emu.lose_node("n1");
        let _ = t.join();
    });
}
