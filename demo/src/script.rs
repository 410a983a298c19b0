//! The demo's script: the real sonic-lock commands, in pipeline order, run by the
//! same binary against the generated world, each announced with what it does.
//!
//! Every step is an ordinary command line a user could type; the demo adds
//! nothing to the pipeline but the world its URLs point at.

use super::build::BuildEnv;
use super::create::World;
use super::world;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Errors running the demo's script.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// A file of the demo directory could not be written.
    #[error("{path}: {source}")]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A step's process could not be started.
    #[error("cannot run {exe}: {source}")]
    Spawn {
        /// The executable.
        exe: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The demo's build image could not be created.
    #[error("{runtime} import of the demo image failed: {message}")]
    Image {
        /// The container CLI.
        runtime: String,
        /// Its error output.
        message: String,
    },
    /// A step ended with an exit code it should not have.
    #[error("step `{step}` exited with {code} (expected {expected}); its output is above")]
    Step {
        /// The step's title.
        step: String,
        /// The exit code (-1 when killed by a signal).
        code: i32,
        /// The exit codes that were acceptable.
        expected: String,
    },
}

/// How the demo's trial builds run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BuilderChoice {
    /// The command builder: the world's build runs as a process on this machine.
    Command,
    /// The docker builder: the world's build runs in a container of this image, with host networking.
    Docker {
        /// The container image holding the sonic-lock binary.
        image: String,
        /// The container CLI (`docker` or `podman`).
        runtime: String,
    },
}

/// Where the demo keeps its inputs and outputs, relative to its directory.
pub mod paths {
    /// The generated world (git repositories, sonic-buildimage, submodule clones).
    pub const WORLD: &str = "world";
    /// The build environment the world's build reads.
    pub const WORLD_JSON: &str = "world.json";
    /// Platform definitions (`--platforms-dir`).
    pub const PLATFORMS: &str = "platforms";
    /// The download cache shared by every step.
    pub const CACHE: &str = "cache";
    /// The crawl stage's manifest.
    pub const MANIFEST: &str = "manifest.json";
    /// The index stage's universe.
    pub const UNIVERSE: &str = "universe.json";
    /// The index stage's report.
    pub const INDEX: &str = "index.json";
    /// The static solve's candidate lock.
    pub const CANDIDATE: &str = "candidate.lock";
    /// The proven lockfiles.
    pub const LOCKFILES: &str = "lockfiles";
    /// Trial inputs, logs and journal of the lock loop.
    pub const TRIALS: &str = "trials";
    /// The exported SONiC versions tree.
    pub const VERSIONS: &str = "files/build/versions";
    /// The URL rewrites the export asks for (and their sed script, `.sed`).
    pub const REWRITES: &str = "url-rewrites.txt";
    /// Tonight's nightly: the versions its unpinned build resolved.
    pub const NIGHTLY: &str = "nightly";
    /// The bisect report (Markdown, HTML, JSON).
    pub const REPORT: &str = "bisect-report";
    /// Bisect state (journal and trial logs).
    pub const BISECT_STATE: &str = "bisect-state";
}

/// One step of the script.
#[derive(Debug, Clone)]
pub struct Step {
    /// Short title (`crawl`, `lock`, ...).
    pub title: String,
    /// What the step shows, in a sentence or two.
    pub says: String,
    /// The sonic-lock arguments (after the program name).
    pub args: Vec<String>,
    /// Exit codes that mean the step did what it should.
    pub expect: Vec<i32>,
}

/// What one step did.
#[derive(Debug, Clone)]
pub struct StepResult {
    /// The step's title.
    pub title: String,
    /// Its exit code (-1 when killed by a signal).
    pub code: i32,
    /// Its standard output and error, interleaved as it wrote them.
    pub output: String,
}

/// Writes what the steps need besides the world: its build environment and the platform definition.
pub fn prepare(dir: &Path, w: &World) -> Result<(), ScriptError> {
    let env = BuildEnv {
        server: w.server.base().to_string(),
        mirror: w.urls.mirror.clone(),
        github: w.urls.github.clone(),
        git: w.urls.git.clone(),
    };
    let json = serde_json::to_vec_pretty(&env).map_err(|e| ScriptError::Io {
        path: dir.join(paths::WORLD_JSON),
        source: std::io::Error::other(e),
    })?;
    write(&dir.join(paths::WORLD_JSON), &json)?;
    write(
        &dir.join(paths::PLATFORMS)
            .join(format!("{}.toml", world::PLATFORM)),
        world::PLATFORM_TOML.as_bytes(),
    )
}

fn write(path: &Path, bytes: &[u8]) -> Result<(), ScriptError> {
    crate::fsio::write_atomic(path, bytes).map_err(|e| ScriptError::Io {
        path: path.to_path_buf(),
        source: std::io::Error::other(e.to_string()),
    })
}

fn s(x: &str) -> String {
    x.to_string()
}

/// The `--builder` arguments and build command of every building step.
pub fn builder_args(dir: &Path, exe: &Path, choice: &BuilderChoice) -> Vec<String> {
    let world_json = dir.join(paths::WORLD_JSON).display().to_string();
    match choice {
        BuilderChoice::Command => vec![
            s("--builder"),
            s("command"),
            s("--"),
            exe.display().to_string(),
            s("demo"),
            s("build"),
            s("--world"),
            world_json,
        ],
        BuilderChoice::Docker { image, runtime } => {
            let mut a = vec![
                s("--builder"),
                s("docker"),
                s("--container-runtime"),
                runtime.clone(),
                s("--image"),
                image.clone(),
                // The world's servers listen on the host's loopback.
                s("--network-mode"),
                s("host"),
                s("--timeout"),
                s("5m"),
            ];
            // The image is empty: the binary runs with the host's loader and libraries.
            let mut mounts: Vec<String> = RUNTIME_DIRS
                .iter()
                .filter(|d| Path::new(d).exists())
                .map(|d| format!("{d}:{d}:ro"))
                .collect();
            mounts.push(format!("{}:{CONTAINER_EXE}:ro", exe.display()));
            mounts.push(format!("{world_json}:{CONTAINER_WORLD}:ro"));
            // The world's git origin is read through its file:// URLs.
            let git = dir.join(paths::WORLD).join("git").display().to_string();
            mounts.push(format!("{git}:{git}:ro"));
            for m in mounts {
                a.extend([s("--mount"), m]);
            }
            a.extend([
                s("--"),
                s(CONTAINER_EXE),
                s("demo"),
                s("build"),
                s("--world"),
                s(CONTAINER_WORLD),
            ]);
            a
        }
    }
}

/// Host directories holding the dynamic loader and the libraries the binary links.
const RUNTIME_DIRS: [&str; 4] = ["/lib", "/lib64", "/usr/lib", "/usr/lib64"];
/// Where the binary is mounted in the demo's build container.
const CONTAINER_EXE: &str = "/sonic-lock/bin/sonic-lock";
/// Where the world description is mounted in the demo's build container.
const CONTAINER_WORLD: &str = "/sonic-lock/world.json";
/// The demo's build image: an empty root file system (everything it runs is mounted).
pub const DEMO_IMAGE: &str = "sonic-lock-demo/empty:1";

/// The `host:port` a world URL (`http://127.0.0.1:8080/...`) is served at.
pub fn host_port(base: &str) -> Option<String> {
    let rest = base.split_once("://").map_or(base, |(_, r)| r);
    let authority = rest.split('/').next().filter(|a| !a.is_empty())?;
    if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        Some(authority.to_string())
    } else {
        Some(format!("{authority}:80"))
    }
}

/// The container CLI's arguments that run `sonic-lock demo reach` in the demo's
/// build container (host networking, as the builds have) against `base`.
pub fn reach_args(image: &str, exe: &Path, base: &str) -> Vec<String> {
    let mut a = vec![s("run"), s("--rm"), s("--network"), s("host")];
    for d in RUNTIME_DIRS.iter().filter(|d| Path::new(d).exists()) {
        a.extend([s("-v"), format!("{d}:{d}:ro")]);
    }
    a.extend([
        s("-v"),
        format!("{}:{CONTAINER_EXE}:ro", exe.display()),
        s(image),
        s(CONTAINER_EXE),
        s("demo"),
        s("reach"),
        host_port(base).unwrap_or_else(|| base.to_string()),
    ]);
    a
}

/// Whether the container builds reach the world at `base`: one tiny container
/// connecting to it (a container runtime in another network namespace than the
/// demo's cannot, even with host networking). `Err` says why not.
pub fn container_reaches(runtime: &str, image: &str, exe: &Path, base: &str) -> Result<(), String> {
    let o = Command::new(runtime)
        .args(reach_args(image, exe, base))
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {runtime}: {e}"))?;
    if o.status.success() {
        return Ok(());
    }
    let err = String::from_utf8_lossy(&o.stderr);
    let last = err
        .lines()
        .rev()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("");
    Err(format!(
        "a {runtime} container cannot reach {base}: {}",
        last.trim()
    ))
}

/// The builder to use once the container check is in: a container that cannot
/// reach the world falls back to the command builder with a note, unless the
/// container builder was asked for by name (then the check's failure is the error).
pub fn after_reach_check(
    choice: BuilderChoice,
    reach: Result<(), String>,
    asked_for_containers: bool,
) -> Result<(BuilderChoice, Option<String>), String> {
    match (choice, reach) {
        (BuilderChoice::Docker { .. }, Err(why)) if asked_for_containers => Err(why),
        (BuilderChoice::Docker { .. }, Err(why)) => Ok((
            BuilderChoice::Command,
            Some(format!("({why}; trial builds run as processes instead)")),
        )),
        (choice, _) => Ok((choice, None)),
    }
}

/// Makes sure the demo's (empty) build image exists, importing it if needed.
pub fn ensure_image(runtime: &str) -> Result<String, ScriptError> {
    let have = Command::new(runtime)
        .args(["image", "inspect", DEMO_IMAGE])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
    if have.is_ok_and(|s| s.success()) {
        return Ok(DEMO_IMAGE.to_string());
    }
    let mut child = Command::new(runtime)
        .args(["import", "-", DEMO_IMAGE])
        .stdin(Stdio::piped())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|source| ScriptError::Spawn {
            exe: PathBuf::from(runtime),
            source,
        })?;
    if let Some(mut stdin) = child.stdin.take() {
        // An empty tar archive: two zero blocks.
        let _ = stdin.write_all(&[0u8; 1024]);
    }
    let o = child
        .wait_with_output()
        .map_err(|source| ScriptError::Spawn {
            exe: PathBuf::from(runtime),
            source,
        })?;
    if !o.status.success() {
        return Err(ScriptError::Image {
            runtime: runtime.to_string(),
            message: String::from_utf8_lossy(&o.stderr).trim().to_string(),
        });
    }
    Ok(DEMO_IMAGE.to_string())
}

/// The steps, in pipeline order, for a world created under `dir/world`.
pub fn steps(dir: &Path, w: &World, exe: &Path, choice: &BuilderChoice) -> Vec<Step> {
    let base = w.server.base().to_string();
    let platform = [
        s("--platform"),
        s(world::PLATFORM),
        s("--platforms-dir"),
        s(paths::PLATFORMS),
    ];
    let repo = [
        s("--sonic-repo"),
        format!("{}/sonic-buildimage", paths::WORLD),
        s("--submodules"),
        format!("{}/submodules", paths::WORLD),
    ];
    let sources = [
        // The world's archive has one suite (no -updates, -security or -backports)
        // and an unsigned Release, so it is read without verification, as reported.
        s("--suite"),
        s("bullseye"),
        s("--snapshot-url"),
        base.clone(),
        s("--allow-unsigned"),
        s("--pypi-url"),
        base.clone(),
        s("--docker-registry"),
        base.clone(),
        s("--github-url"),
        w.urls.github.clone(),
        s("--github-git"),
        format!("{}/{{owner}}/{{repo}}.git", w.urls.git),
        s("--cache"),
        s(paths::CACHE),
        s("--retries"),
        s("1"),
    ];
    let contents = [
        s("--contents"),
        format!(
            "{base}/archive/debian/{}/dists/bullseye/main/Contents-amd64.gz",
            world::SNAPSHOTS[1]
        ),
    ];
    let builder = builder_args(dir, exe, choice);
    let cat = |parts: &[&[String]]| parts.concat();
    let lockfile = format!("{}/{}.lock", paths::LOCKFILES, world::PLATFORM);
    let nightly = format!("{}/{}.lock", paths::NIGHTLY, world::PLATFORM);
    vec![
        Step {
            title: s("cutoff"),
            says: s(
                "Find the commit where the platform was last supported: the last one touching its SDK files.",
            ),
            args: cat(&[&[s("cutoff")], &platform, &repo[..2]]),
            expect: vec![0],
        },
        Step {
            title: s("crawl"),
            says: s(
                "Read the tree at the cutoff (and its submodule) and list every dependency its Dockerfiles, Makefiles and setup.py leave unpinned.",
            ),
            args: cat(&[
                &[s("crawl")],
                &platform,
                &repo,
                &[s("-o"), s(paths::MANIFEST)],
            ]),
            expect: vec![0],
        },
        Step {
            title: s("index"),
            says: s(
                "Resolve what each dependency was on the cutoff date: the Debian snapshot, PyPI upload times, git history, the vendor's raw/dev downloads.",
            ),
            args: cat(&[
                &[s("index")],
                &platform[..2],
                &[
                    s("--manifest"),
                    s(paths::MANIFEST),
                    s("--universe"),
                    s(paths::UNIVERSE),
                    s("--out"),
                    s(paths::INDEX),
                ],
                &sources,
            ]),
            expect: vec![0],
        },
        Step {
            title: s("solve"),
            says: s(
                "Choose one version of everything so that every declared constraint holds, preferring what existed at the cutoff.",
            ),
            args: vec![
                s("solve"),
                s("--universe"),
                s(paths::UNIVERSE),
                s("--manifest"),
                s(paths::MANIFEST),
                s("--lock-out"),
                s(paths::CANDIDATE),
            ],
            expect: vec![0],
        },
        Step {
            title: s("lock"),
            says: s(
                "The main job in one command: crawl, index and solve again (from the cache), then prove the candidate by trial builds. Each failure is triaged to the pins that caused it and learned as a clause; the search proposes again until a build passes.",
            ),
            args: cat(&[
                &[s("lock")],
                &platform,
                &repo,
                &sources,
                &[
                    s("--lockfiles"),
                    s(paths::LOCKFILES),
                    s("--workspace"),
                    s(paths::TRIALS),
                ],
                &contents,
                &builder,
            ]),
            expect: vec![0],
        },
        Step {
            title: s("export"),
            says: s(
                "Write the proven lock as the files/build/versions/ tree that SONiC's build enforces (SONIC_VERSION_CONTROL_COMPONENTS=all).",
            ),
            args: vec![
                s("export"),
                s("--lock"),
                lockfile.clone(),
                s("--format"),
                s("sonic-versions"),
                s("--out"),
                s(paths::VERSIONS),
                s("--rewrite-urls"),
                s(paths::REWRITES),
            ],
            expect: vec![0],
        },
        Step {
            title: s("nightly"),
            says: format!(
                "Tonight's nightly build left its dependencies unpinned and took what existed on {}: the versions it used.",
                world::NIGHTLY_DATE
            ),
            args: cat(&[
                &[s("lock")],
                &platform,
                &repo,
                &[
                    s("--date"),
                    s(world::NIGHTLY_DATE),
                    s("--lockfiles"),
                    s(paths::NIGHTLY),
                    s("--workspace"),
                    format!("{}/trials", paths::NIGHTLY),
                ],
                &sources,
            ]),
            expect: vec![0],
        },
        Step {
            title: s("diff"),
            says: s("What moved between the proven lock and tonight's versions."),
            args: vec![s("diff"), lockfile.clone(), nightly.clone()],
            expect: vec![1],
        },
        Step {
            title: s("bisect"),
            says: s(
                "Tonight's build fails; find the smallest set of dependency changes that explains it, with as few builds as possible.",
            ),
            args: cat(&[
                &[
                    s("bisect"),
                    s("--good"),
                    lockfile,
                    s("--bad"),
                    nightly,
                    s("--report"),
                    s(paths::REPORT),
                    s("--state-dir"),
                    s(paths::BISECT_STATE),
                ],
                &builder,
            ]),
            expect: vec![0],
        },
    ]
}

/// Shell-quotes one argument for display.
fn quote(a: &str) -> String {
    if !a.is_empty()
        && a.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_./:=@%+,{}".contains(&b))
    {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// Runs one step with `exe` in `dir`, printing its command line and its output indented.
pub fn run_step(
    exe: &Path,
    dir: &Path,
    step: &Step,
    out: &mut dyn Write,
) -> Result<StepResult, ScriptError> {
    let shown: Vec<String> = step.args.iter().map(|a| quote(a)).collect();
    // Printing is best effort: a closed stdout must not change what the demo does.
    let _ = writeln!(out, "\n== {}: {}", step.title, step.says);
    let _ = writeln!(out, "$ sonic-lock {}", shown.join(" "));
    let _ = out.flush();
    let spawn_err = |source| ScriptError::Spawn {
        exe: exe.to_path_buf(),
        source,
    };
    // One pipe for both streams, shown line by line as the step runs: its progress
    // (stderr) and its results (stdout) in the order it wrote them.
    let (reader, writer) = std::io::pipe().map_err(spawn_err)?;
    let mut cmd = Command::new(exe);
    cmd.args(&step.args)
        .current_dir(dir)
        .env_remove("SONIC_LOCK_CACHE")
        .stdin(Stdio::null())
        .stdout(writer.try_clone().map_err(spawn_err)?)
        .stderr(writer);
    let mut child = cmd.spawn().map_err(spawn_err)?;
    // The command holds the pipe's write ends; the read below ends when the child's do.
    drop(cmd);
    let mut output = String::new();
    let mut lines = std::io::BufReader::new(reader);
    let mut buf = Vec::new();
    loop {
        buf.clear();
        match std::io::BufRead::read_until(&mut lines, b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                let line = String::from_utf8_lossy(&buf);
                let _ = writeln!(out, "   {}", line.trim_end_matches(['\n', '\r']));
                let _ = out.flush();
                output.push_str(&line);
            }
        }
    }
    let status = child.wait().map_err(spawn_err)?;
    let code = status.code().unwrap_or(-1);
    let result = StepResult {
        title: step.title.clone(),
        code,
        output,
    };
    if !step.expect.contains(&code) {
        return Err(ScriptError::Step {
            step: step.title.clone(),
            code,
            expected: step
                .expect
                .iter()
                .map(|c| c.to_string())
                .collect::<Vec<_>>()
                .join(" or "),
        });
    }
    Ok(result)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn world_urls_give_the_address_to_reach() {
        assert_eq!(
            host_port("http://127.0.0.1:8080/debian").as_deref(),
            Some("127.0.0.1:8080")
        );
        assert_eq!(
            host_port("http://localhost").as_deref(),
            Some("localhost:80")
        );
        assert_eq!(host_port("http:///x"), None);
        let a = reach_args("img", Path::new("/bin/x"), "http://127.0.0.1:9/y");
        assert_eq!(a[..4], ["run", "--rm", "--network", "host"]);
        assert_eq!(
            a[a.len() - 5..],
            ["img", CONTAINER_EXE, "demo", "reach", "127.0.0.1:9"]
        );
    }

    #[test]
    fn a_container_that_cannot_reach_the_world_falls_back_to_processes() {
        let docker = BuilderChoice::Docker {
            image: "i".into(),
            runtime: "docker".into(),
        };
        let (c, note) = after_reach_check(docker.clone(), Err("no route".into()), false).unwrap();
        assert_eq!(c, BuilderChoice::Command);
        assert!(note.unwrap().contains("no route"));
        assert_eq!(
            after_reach_check(docker.clone(), Ok(()), false).unwrap(),
            (docker.clone(), None)
        );
        assert_eq!(
            after_reach_check(docker, Err("no route".into()), true).unwrap_err(),
            "no route"
        );
        assert_eq!(
            after_reach_check(BuilderChoice::Command, Err("x".into()), false).unwrap(),
            (BuilderChoice::Command, None)
        );
    }

    #[test]
    fn shown_commands_quote_what_a_shell_would_split() {
        assert_eq!(quote("--platform"), "--platform");
        assert_eq!(quote("http://127.0.0.1:80/x"), "http://127.0.0.1:80/x");
        assert_eq!(quote("a b"), "'a b'");
        assert_eq!(quote("it's"), r"'it'\''s'");
        assert_eq!(quote(""), "''");
    }
}
