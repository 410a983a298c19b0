//! The demo world's build system: what `make` would do in the world's sonic-buildimage,
//! honouring a lock the way SONiC's version machinery plus sonic-lock's URL rewrites do.
//!
//! It really fetches every package, index and file from the world's servers, so a
//! vanished pool file is a real 404 and a moved branch is a real md5 mismatch; it
//! fails with the log lines real builds print, which triage then reads.

use super::lockfile::{BuildLock, Ecosystem, Pin};
use super::world;
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;

/// What the build needs to know about the world it builds in.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct BuildEnv {
    /// Base URL of the world's server.
    pub server: String,
    /// The world's URLs as written in its Makefiles.
    pub mirror: String,
    /// GitHub-shaped web origin.
    pub github: String,
    /// Git origin base.
    pub git: String,
}

/// A build failure: the message a real build prints last.
#[derive(Debug)]
pub struct Failure(pub String);

type Step<T> = Result<T, Failure>;

struct Ctx<'a> {
    env: &'a BuildEnv,
    lock: &'a BuildLock,
    http: reqwest::blocking::Client,
    log: &'a mut dyn Write,
}

impl Ctx<'_> {
    fn say(&mut self, line: &str) {
        // The log is best effort: a full disk must not change the verdict.
        let _ = writeln!(self.log, "{line}");
    }

    fn fetch(&mut self, url: &str) -> Result<Vec<u8>, u16> {
        let resp = self.http.get(url).send().map_err(|_| 0u16)?;
        let status = resp.status().as_u16();
        if status != 200 {
            return Err(status);
        }
        resp.bytes().map(|b| b.to_vec()).map_err(|_| 0)
    }

    fn pins(&self, eco: Ecosystem) -> impl Iterator<Item = &Pin> {
        self.lock.pins.iter().filter(move |p| p.ecosystem == eco)
    }

    fn pinned(&self, eco: Ecosystem, name: &str) -> Option<&Pin> {
        let norm = |s: &str| s.to_ascii_lowercase().replace('_', "-");
        self.pins(eco).find(|p| norm(&p.name) == norm(name))
    }

    /// The URL the build fetches instead of `declared`, when the lock rewrites it.
    fn rewrite(&self, declared: &str) -> String {
        self.lock
            .pins
            .iter()
            .find(|p| {
                p.declared_url.as_deref() == Some(declared)
                    || (p.name == declared && p.url.is_some())
            })
            .and_then(|p| p.url.clone())
            .unwrap_or_else(|| declared.to_string())
    }
}

/// Runs the world's build against `lock`; returns the exit code (0 pass, 1 fail).
pub fn run(env: &BuildEnv, lock: &BuildLock, log: &mut dyn Write) -> i32 {
    let http = match reqwest::blocking::Client::builder()
        .timeout(std::time::Duration::from_secs(30))
        .build()
    {
        Ok(c) => c,
        Err(e) => {
            let _ = writeln!(log, "cannot create HTTP client: {e}");
            return 125;
        }
    };
    let mut ctx = Ctx {
        env,
        lock,
        http,
        log,
    };
    match build(&mut ctx) {
        Ok(()) => {
            ctx.say("build succeeded: target/sonic-barefoot.bin");
            0
        }
        Err(Failure(msg)) => {
            ctx.say(&msg);
            ctx.say("make: *** [slave.mk] Error 1");
            1
        }
    }
}

fn build(ctx: &mut Ctx) -> Step<()> {
    let installed = apt(ctx)?;
    pip(ctx)?;
    dget(ctx)?;
    web(ctx)?;
    let teamd = git_clone(ctx)?;
    compile(ctx, "src/sonic-demo-swss/orch.c", world::ORCH_C, &installed)?;
    compile(ctx, "src/libteam/libteam/teamd/teamd.c", &teamd, &installed)?;
    Ok(())
}

struct Stanza {
    fields: BTreeMap<String, String>,
}

fn parse_packages(text: &str) -> Vec<Stanza> {
    text.split("\n\n")
        .filter(|s| !s.trim().is_empty())
        .map(|s| Stanza {
            fields: s
                .lines()
                .filter_map(|l| l.split_once(": "))
                .map(|(k, v)| (k.to_string(), v.trim().to_string()))
                .collect(),
        })
        .collect()
}

fn deb_newer(a: &str, b: &str) -> bool {
    match (
        a.parse::<debversion::Version>(),
        b.parse::<debversion::Version>(),
    ) {
        (Ok(a), Ok(b)) => a > b,
        _ => a > b,
    }
}

/// apt-get install, transaction by transaction, with the lock's pins as apt preferences.
fn apt(ctx: &mut Ctx) -> Step<BTreeMap<String, Vec<String>>> {
    let base = match ctx.lock.archives.iter().find(|a| a.name == "debian") {
        Some(a) => format!("{}/archive/debian/{}", ctx.env.server, a.snapshot),
        None => ctx.env.mirror.clone(),
    };
    ctx.say(&format!("Get: {base} bullseye InRelease"));
    let url = format!("{base}/dists/bullseye/main/binary-amd64/Packages");
    let text = ctx
        .fetch(&url)
        .map_err(|s| Failure(format!("E: Failed to fetch {url}  {s}  Not Found")))?;
    let index = parse_packages(&String::from_utf8_lossy(&text));
    let mut installed: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for tx in world::SLAVE_APT {
        ctx.say(&format!("+ apt-get install -y {}", tx.join(" ")));
        let mut queue: Vec<(String, Option<String>)> = tx
            .iter()
            .map(|r| match r.split_once('=') {
                Some((n, v)) => (n.to_string(), Some(v.to_string())),
                None => (r.to_string(), None),
            })
            .collect();
        let mut seen = BTreeSet::new();
        while let Some((name, exact)) = queue.pop() {
            if !seen.insert(name.clone()) || installed.contains_key(&name) {
                continue;
            }
            let pin = ctx.pinned(Ecosystem::Deb, &name).map(|p| p.version.clone());
            let want = exact.or(pin);
            let candidates: Vec<&Stanza> = index
                .iter()
                .filter(|s| s.fields.get("Package").map(String::as_str) == Some(name.as_str()))
                .collect();
            let chosen = match &want {
                Some(v) => candidates
                    .iter()
                    .find(|s| s.fields.get("Version") == Some(v))
                    .copied(),
                None => candidates.iter().copied().reduce(|a, b| {
                    if deb_newer(&b.fields["Version"], &a.fields["Version"]) {
                        b
                    } else {
                        a
                    }
                }),
            };
            let Some(st) = chosen else {
                return Err(Failure(match want {
                    Some(v) => format!("E: Version '{v}' for '{name}' was not found"),
                    None => format!("E: Unable to locate package {name}"),
                }));
            };
            let version = st.fields.get("Version").cloned().unwrap_or_default();
            let file = st.fields.get("Filename").cloned().unwrap_or_default();
            let deb_url = format!("{base}/{file}");
            let body = ctx
                .fetch(&deb_url)
                .map_err(|s| Failure(format!("E: Failed to fetch {deb_url}  {s}  Not Found")))?;
            ctx.say(&format!("Setting up {name} ({version}) ..."));
            let files = String::from_utf8_lossy(&body)
                .lines()
                .skip(1)
                .map(str::to_string)
                .collect();
            installed.insert(name.clone(), files);
            if let Some(deps) = st.fields.get("Depends") {
                for dep in deps.split(',') {
                    // The first alternative that the index knows, as apt does for simple cases.
                    let alts: Vec<&str> = dep
                        .split('|')
                        .map(|a| a.split_whitespace().next().unwrap_or(""))
                        .collect();
                    let pick = alts
                        .iter()
                        .find(|a| {
                            index
                                .iter()
                                .any(|s| s.fields.get("Package").map(String::as_str) == Some(**a))
                        })
                        .or(alts.first());
                    if let Some(p) = pick {
                        queue.push((p.to_string(), None));
                    }
                }
            }
        }
    }
    Ok(installed)
}

/// pip3 install of the slave's requirements, on Python 3.9, with the lock's pins as constraints.
fn pip(ctx: &mut Ctx) -> Step<()> {
    let python: pep440_rs::Version = world::SLAVE_PYTHON
        .parse()
        .map_err(|_| Failure("bad python version".into()))?;
    let mut chosen: BTreeMap<String, (String, Vec<String>)> = BTreeMap::new();
    for req in world::SLAVE_PIP {
        ctx.say(&format!("+ pip3 install {req}"));
        let req: pep508_rs::Requirement = req
            .parse()
            .map_err(|e| Failure(format!("ERROR: Invalid requirement: '{req}': {e}")))?;
        let name = req.name.to_string();
        let specs = match &req.version_or_url {
            Some(pep508_rs::VersionOrUrl::VersionSpecifier(s)) => s.clone(),
            _ => pep440_rs::VersionSpecifiers::empty(),
        };
        let url = format!("{}/simple/{name}/", ctx.env.server);
        let page = ctx.fetch(&url).map_err(|s| {
            Failure(format!(
                "ERROR: Could not find a version that satisfies the requirement {name} (HTTP {s})"
            ))
        })?;
        let page: serde_json::Value = serde_json::from_slice(&page)
            .map_err(|_| Failure(format!("ERROR: malformed index page {url}")))?;
        let pin = ctx.pinned(Ecosystem::Py, &name).map(|p| p.version.clone());
        let mut best: Option<(pep440_rs::Version, String)> = None;
        for f in page["files"].as_array().into_iter().flatten() {
            let fname = f["filename"].as_str().unwrap_or_default();
            let Some(v) = fname
                .strip_suffix(".tar.gz")
                .unwrap_or(fname)
                .split('-')
                .nth(1)
                .and_then(|v| v.parse::<pep440_rs::Version>().ok())
            else {
                continue;
            };
            if !specs.contains(&v)
                || pin
                    .as_ref()
                    .is_some_and(|p| p.parse::<pep440_rs::Version>().ok().as_ref() != Some(&v))
            {
                continue;
            }
            if best.as_ref().is_none_or(|(b, _)| v > *b) {
                best = Some((v, f["url"].as_str().unwrap_or_default().to_string()));
            }
        }
        let Some((version, file_url)) = best else {
            return Err(Failure(format!(
                "ERROR: Could not find a version that satisfies the requirement {name}{specs}\nERROR: No matching distribution found for {name}"
            )));
        };
        let file_name = file_url.rsplit('/').next().unwrap_or_default().to_string();
        ctx.say(&format!("Collecting {name}"));
        ctx.say(&format!("  Downloading {file_name}"));
        let meta = if file_url.ends_with(".tar.gz") {
            // An sdist: its metadata exists only once pip has built it.
            let sdist = ctx
                .fetch(&file_url)
                .map_err(|s| Failure(format!("ERROR: HTTP error {s} while getting {file_url}")))?;
            ctx.say("  Preparing metadata (setup.py) ... done");
            let text = String::from_utf8_lossy(&sdist).to_string();
            text.split_once("PKG-INFO:\n")
                .map(|(_, m)| m.to_string())
                .unwrap_or_default()
        } else {
            let meta = ctx.fetch(&format!("{file_url}.metadata")).map_err(|s| {
                Failure(format!(
                    "ERROR: HTTP error {s} while getting {file_url}.metadata"
                ))
            })?;
            String::from_utf8_lossy(&meta).to_string()
        };
        if let Some(rp) = meta
            .lines()
            .find_map(|l| l.strip_prefix("Requires-Python: "))
        {
            let spec: pep440_rs::VersionSpecifiers = rp
                .parse()
                .map_err(|_| Failure(format!("bad Requires-Python {rp}")))?;
            if !spec.contains(&python) {
                return Err(Failure(format!(
                    "ERROR: Package '{name}' requires a different Python: {} not in '{rp}'",
                    world::SLAVE_PYTHON
                )));
            }
        }
        let deps: Vec<String> = meta
            .lines()
            .filter_map(|l| l.strip_prefix("Requires-Dist: "))
            .map(str::to_string)
            .collect();
        ctx.say(&format!("Successfully installed {name}-{version}"));
        chosen.insert(name, (version.to_string(), deps));
    }
    // pip's resolver: every installed distribution's requirements must hold.
    for (name, (version, deps)) in &chosen {
        for dep in deps {
            let Ok(req) = dep.parse::<pep508_rs::Requirement>() else {
                continue;
            };
            let Some(pep508_rs::VersionOrUrl::VersionSpecifier(specs)) = &req.version_or_url else {
                continue;
            };
            if let Some((have, _)) = chosen.get(&req.name.to_string()) {
                let ok = have
                    .parse::<pep440_rs::Version>()
                    .map(|v| specs.contains(&v))
                    .unwrap_or(false);
                if !ok {
                    return Err(Failure(format!(
                        "ERROR: Cannot install {name}=={version} because these package versions have conflicting dependencies.\n\
                         The conflict is caused by:\n    {name} {version} depends on {dep}\n    The user requested {}=={have}\n\
                         ERROR: ResolutionImpossible",
                        req.name
                    )));
                }
            }
        }
    }
    Ok(())
}

/// The dget URL of `src/isc-dhcp/Makefile`, with `rules/isc-dhcp.mk`'s version variables expanded.
fn isc_dhcp_dsc_url(env: &BuildEnv) -> String {
    format!("{}/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc", env.mirror)
}

/// dget of the isc-dhcp source package (src/isc-dhcp/Makefile).
fn dget(ctx: &mut Ctx) -> Step<()> {
    let url = ctx.rewrite(&isc_dhcp_dsc_url(ctx.env));
    ctx.say(&format!("+ dget {url}"));
    let dsc = ctx
        .fetch(&url)
        .map_err(|s| Failure(format!("dget: curl {url} failed (HTTP {s})")))?;
    let dir = url
        .rsplit_once('/')
        .map(|(d, _)| d.to_string())
        .unwrap_or_default();
    for line in String::from_utf8_lossy(&dsc)
        .lines()
        .filter(|l| l.starts_with(' '))
    {
        let parts: Vec<&str> = line.split_whitespace().collect();
        if let [sha, _, name] = parts[..] {
            let f = format!("{dir}/{name}");
            let body = ctx
                .fetch(&f)
                .map_err(|s| Failure(format!("dget: curl {f} failed (HTTP {s})")))?;
            if crate::fsio::sha256_hex(&body) != sha {
                return Err(Failure(format!("dget: sha256sum mismatch for {name}")));
            }
        }
    }
    Ok(())
}

/// SONIC_ONLINE_DEBS downloads, checked against the web pins' md5 as SONiC's web version control does.
fn web(ctx: &mut Ctx) -> Step<()> {
    let files = [
        "bfnsdk_20221130_sai_1.11.0_deb11.deb",
        "bfnplatform_20221101_deb11.deb",
    ];
    for f in files {
        let declared = format!(
            "{}/barefootnetworks/sonic-release-pkgs/raw/dev/{f}",
            ctx.env.github
        );
        let url = ctx.rewrite(&declared);
        ctx.say(&format!("+ wget {url}"));
        let body = ctx
            .fetch(&url)
            .map_err(|s| Failure(format!("wget: {url}: ERROR {s}: Not Found.")))?;
        let md5 = crate::fsio::md5_hex(&body);
        let expected = ctx
            .pins(Ecosystem::Web)
            .find(|p| p.name == declared || p.declared_url.as_deref() == Some(declared.as_str()))
            .map(|p| p.md5.clone().unwrap_or_else(|| p.version.clone()));
        if let Some(want) = expected
            && want != md5
        {
            return Err(Failure(format!(
                "Failed to verify url {url}, expected md5 {want}, got {md5}"
            )));
        }
    }
    Ok(())
}

/// git clone of libteam (src/libteam/Makefile), reset to the lock's commit if pinned.
fn git_clone(ctx: &mut Ctx) -> Step<String> {
    let url = format!("{}/jpirko/libteam.git", ctx.env.git);
    ctx.say(&format!("+ git clone {url}"));
    let path = url.strip_prefix("file://").unwrap_or(&url).to_string();
    let repo = git2::Repository::open(&path).map_err(|e| {
        Failure(format!(
            "fatal: repository '{url}' not found: {}",
            e.message()
        ))
    })?;
    let commit = match ctx.pinned(Ecosystem::Git, &url).map(|p| p.version.clone()) {
        Some(sha) => {
            ctx.say(&format!("+ git reset --hard {sha}"));
            git2::Oid::from_str(&sha)
                .and_then(|o| repo.find_commit(o))
                .map_err(|_| Failure(format!("fatal: Could not parse object '{sha}'.")))?
        }
        None => repo
            .find_branch("master", git2::BranchType::Local)
            .and_then(|b| b.get().peel_to_commit())
            .map_err(|e| Failure(format!("fatal: {}", e.message())))?,
    };
    let tree = commit
        .tree()
        .map_err(|e| Failure(format!("fatal: {}", e.message())))?;
    let entry = tree
        .get_path(std::path::Path::new("teamd/teamd.c"))
        .map_err(|_| Failure("make: *** No rule to make target 'teamd/teamd.c'".into()))?;
    let blob = repo
        .find_blob(entry.id())
        .map_err(|e| Failure(format!("fatal: {}", e.message())))?;
    Ok(String::from_utf8_lossy(blob.content()).to_string())
}

/// "Compiles" a C file: every `#include <x>` must be shipped by an installed package.
fn compile(
    ctx: &mut Ctx,
    file: &str,
    source: &str,
    installed: &BTreeMap<String, Vec<String>>,
) -> Step<()> {
    ctx.say(&format!("gcc -c {file}"));
    for (i, line) in source.lines().enumerate() {
        if let Some(h) = line
            .strip_prefix("#include <")
            .and_then(|l| l.strip_suffix('>'))
        {
            let want = format!("usr/include/{h}");
            if !installed.values().flatten().any(|f| *f == want) {
                return Err(Failure(format!(
                    "{file}:{}:10: fatal error: {h}: No such file or directory\ncompilation terminated.",
                    i + 1
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::create::World;
    use crate::lockfile::Archive;

    fn env(w: &World) -> BuildEnv {
        BuildEnv {
            server: w.server.base().to_string(),
            mirror: w.urls.mirror.clone(),
            github: w.urls.github.clone(),
            git: w.urls.git.clone(),
        }
    }

    fn build_log(w: &World, lock: &BuildLock) -> (i32, String) {
        let mut log = Vec::new();
        let code = run(&env(w), lock, &mut log);
        (code, String::from_utf8(log).unwrap())
    }

    #[test]
    fn unpinned_build_today_fails_like_real_builds() {
        let dir = tempfile::tempdir().unwrap();
        let w = World::create(dir.path()).unwrap();
        let (code, log) = build_log(&w, &BuildLock::new());
        assert_eq!(code, 1);
        assert!(
            log.contains(
                "ERROR: Package 'pyfoo' requires a different Python: 3.9.2 not in '>=3.10'"
            ),
            "{log}"
        );
    }

    #[test]
    fn each_world_failure_is_fixed_by_its_pin() {
        let dir = tempfile::tempdir().unwrap();
        let w = World::create(dir.path()).unwrap();
        let mut lock = BuildLock::new();
        lock.archives.push(Archive {
            name: "debian".into(),
            snapshot: "20221205T000000Z".into(),
        });
        let py = |n: &str, v: &str| Pin::new(Ecosystem::Py, n, v);
        lock.pins.push(py("pyfoo", "1.1"));
        let (_, log) = build_log(&w, &lock);
        assert!(log.contains("pybar 3.2 depends on pyfoo>=2.0"), "{log}");
        lock.pins.push(py("pybar", "3.1"));
        let (_, log) = build_log(&w, &lock);
        assert!(log.contains("dget: curl"), "{log}");
        let declared = isc_dhcp_dsc_url(&env(&w));
        let mut dsc = Pin::new(Ecosystem::DebSrc, "isc-dhcp", "4.4.1-2.3");
        dsc.declared_url = Some(declared);
        dsc.url = Some(format!(
            "{}/archive/debian/20221205T000000Z/pool/main/i/isc-dhcp/isc-dhcp_4.4.1-2.3.dsc",
            w.server.base()
        ));
        lock.pins.push(dsc);
        let (_, log) = build_log(&w, &lock);
        assert!(
            log.contains("fatal error: foo/foo.h: No such file or directory"),
            "{log}"
        );
        lock.pins
            .push(Pin::new(Ecosystem::Deb, "libfoo-dev", "1.2-1"));
        lock.pins.push(Pin::new(Ecosystem::Deb, "libfoo1", "1.2-1"));
        let (_, log) = build_log(&w, &lock);
        assert!(
            log.contains("fatal error: foo-2/foo.h"),
            "libteam's moved branch: {log}"
        );
        let libteam = format!("{}/jpirko/libteam.git", w.urls.git);
        let repo = git2::Repository::open(dir.path().join("git/jpirko/libteam.git")).unwrap();
        let mut walk = repo.revwalk().unwrap();
        walk.push_head().unwrap();
        let at_cutoff = walk
            .map(|o| repo.find_commit(o.unwrap()).unwrap())
            .find(|c| c.time().seconds() <= world::CUTOFF_TIME)
            .unwrap();
        lock.pins.push(Pin::new(
            Ecosystem::Git,
            &libteam,
            &at_cutoff.id().to_string(),
        ));
        let (code, log) = build_log(&w, &lock);
        assert_eq!(code, 0, "{log}");
        // The vendor branch moved: a web pin with the md5 seen at the cutoff now fails.
        let sdk = format!(
            "{}/barefootnetworks/sonic-release-pkgs/raw/dev/bfnsdk_20221130_sai_1.11.0_deb11.deb",
            w.urls.github
        );
        let mut web = Pin::new(
            Ecosystem::Web,
            &sdk,
            &crate::fsio::md5_hex(
                b"demo vendor deb bfnsdk_20221130_sai_1.11.0_deb11.deb build 1\n",
            ),
        );
        lock.pins.push(web.clone());
        let (_, log) = build_log(&w, &lock);
        assert!(log.contains("Failed to verify url"), "{log}");
        let pkgs = git2::Repository::open(
            dir.path()
                .join("git/barefootnetworks/sonic-release-pkgs.git"),
        )
        .unwrap();
        let mut walk = pkgs.revwalk().unwrap();
        walk.push_head().unwrap();
        let sha = walk
            .map(|o| pkgs.find_commit(o.unwrap()).unwrap())
            .find(|c| c.time().seconds() <= world::CUTOFF_TIME)
            .unwrap()
            .id();
        lock.pins.pop();
        web.declared_url = Some(sdk.clone());
        web.url = Some(sdk.replace("/raw/dev/", &format!("/raw/{sha}/")));
        lock.pins.push(web);
        let (code, log) = build_log(&w, &lock);
        assert_eq!(code, 0, "{log}");
    }
}
